// The LimiterBackend suite (../limits/backend_suite.hpp) on the Redis
// backend with caller time, then what only the Redis backend does: duplicates
// recognised after a lost reply, leases that expire and start queued tasks,
// the key layout and its hash tags, NOSCRIPT, the URL, and the 53-bit bounds
// of its token buckets. Needs TOLLGATE_REDIS_URL (scripts/test.sh starts a
// server and sets it).
#include <catch2/catch.hpp>

#include <tuple>

#include "../limits/backend_fixtures.hpp"

using backend_fixtures = std::tuple<tollgate_test::redis_fixture>;

#include "../limits/backend_suite.hpp"

static_assert(tollgate::LimiterBackend<tollgate::redis::basic_backend<tollgate::manual_clock>>);
