// tollgate: prepaid-credit billing and rate limiting for generative-media APIs.
// The umbrella header: everything except the optional adapters (json/, redis/,
// postgres/), which need libraries beyond Boost, fmt and utfcpp.
#pragma once

#include "version.hpp"

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/money.hpp"
#include "core/sync.hpp"
#include "core/units.hpp"

// pricing/
#include "pricing/usage.hpp"
#include "pricing/quote.hpp"
#include "pricing/rates.hpp"
#include "pricing/catalog.hpp"
#include "pricing/runway.hpp"
// ledger/
#include "ledger/ledger.hpp"
// limits/
#include "limits/decision.hpp"
#include "limits/token_bucket.hpp"
#include "limits/rolling_window.hpp"
#include "limits/concurrency_pool.hpp"
#include "limits/keyed.hpp"
// tiers/
#include "tiers/tier_table.hpp"
#include "tiers/runway.hpp"
#include "tiers/observer.hpp"
#include "tiers/promotion.hpp"
#include "tiers/schedule.hpp"
#include "tiers/spend_cap.hpp"
#include "tiers/overrides.hpp"
#include "tiers/book.hpp"
#include "tiers/autobilling.hpp"
#include "tiers/codec.hpp"
#include "tiers/throughput.hpp"
#include "tiers/purchase_path.hpp"
// the gate and its reports
#include "gate.hpp"
#include "report.hpp"
// the budget planner (pricing/ and tiers/ together)
#include "planner.hpp"
