// Compile-time checks on the tier engine: what must and must not compile.
#include <chrono>
#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include <tollgate/core/clock.hpp>
#include <tollgate/core/money.hpp>
#include <tollgate/tiers/autobilling.hpp>
#include <tollgate/tiers/book.hpp>
#include <tollgate/tiers/observer.hpp>
#include <tollgate/tiers/promotion.hpp>
#include <tollgate/tiers/tier_table.hpp>

namespace {
using namespace tollgate;
using tp = manual_clock::time_point;

// The null observer hears every event and is free.
static_assert(TierObserver<null_tier_observer, tp>);
static_assert(std::is_empty_v<null_tier_observer>);
struct deaf_to_alerts {
  void on(const basic_promotion_event<tp>&) {}
};
static_assert(!TierObserver<deaf_to_alerts, tp>, "an observer must take every event");

// A gateway answers a payment_result; one that answers bool does not qualify.
struct gateway {
  payment_result charge(const payment_request&) { return {}; }
};
struct yes_no_gateway {
  bool charge(const payment_request&) { return true; }
};
static_assert(PaymentGateway<gateway>);
static_assert(!PaymentGateway<yes_no_gateway>);

// What autobilling needs of a ledger, and a ledger that cannot say its spend room.
struct recharge_ledger {
  credits available(std::string_view) { return {}; }
  limit<usd> spend_room(std::string_view) { return {}; }
  credit_price price(std::string_view) { return {}; }
  result<void> buy(std::string_view, const usd&, std::string_view) { return {}; }
};
struct no_cap_ledger {
  credits available(std::string_view) { return {}; }
  credit_price price(std::string_view) { return {}; }
  result<void> buy(std::string_view, const usd&, std::string_view) { return {}; }
};
static_assert(RechargeLedger<recharge_ledger>);
static_assert(!RechargeLedger<no_cap_ledger>);

// The table's criteria are a criteria source; a plain function of the wrong shape is not.
static_assert(CriteriaSource<table_criteria>);
static_assert(CriteriaSource<account_criteria>);
static_assert(!CriteriaSource<int (*)(std::size_t)>);

// A limit is a maximum or unlimited, never a bare number by accident.
static_assert(!std::is_convertible_v<std::uint64_t, job_limit>, "job_limit(n) is explicit");
static_assert(!std::is_convertible_v<usd, spend_cap>, "spend_cap(d) is explicit");
static_assert(std::is_default_constructible_v<job_limit>);  // unlimited

// Engines hold per-account state and a lock: one object in one place.
static_assert(!std::is_copy_constructible_v<basic_tier_book<manual_clock>>);
static_assert(!std::is_copy_constructible_v<basic_autobiller<gateway, recharge_ledger, manual_clock>>);
}  // namespace
