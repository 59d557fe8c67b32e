// Helpers shared by the tier tests: time on the manual clock, a recording
// observer, a fake payment gateway (with declines, timeouts and a record of
// every charge it made, once per key), and the RechargeLedger that wires the
// autobilling engine to tollgate::basic_ledger and a tier book the way the
// gate will.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <tollgate/core/clock.hpp>
#include <tollgate/ledger/ledger.hpp>
#include <tollgate/tiers/autobilling.hpp>
#include <tollgate/tiers/book.hpp>
#include <tollgate/tiers/observer.hpp>

namespace tiers_test {

using namespace std::chrono_literals;
using clock_type = tollgate::manual_clock;
using time_point = clock_type::time_point;
using tollgate::usd;
using tollgate::credits;

inline usd dollars(const char* s) { return *usd::parse(s); }
inline credits cr(const char* s) { return *credits::parse(s); }

/// 2026-11-01 00:00:00 UTC on the manual clock (whose epoch is 1970's).
inline time_point start() { return time_point(std::chrono::sys_days(std::chrono::year{2026} / 11 / 1).time_since_epoch()); }

/// The seed of randomized tests: fixed, or TOLLGATE_TEST_SEED.
inline std::uint64_t seed(std::uint64_t fallback = 0x7134'2026ULL) {
  if (const char* s = std::getenv("TOLLGATE_TEST_SEED"); s != nullptr && *s != '\0') return std::strtoull(s, nullptr, 0);
  return fallback;
}

/// Remembers every event, in order, as text and by kind. Thread-safe.
struct recorder {
  struct log {
    std::mutex m;
    std::vector<std::string> lines;
    std::vector<tollgate::basic_promotion_event<time_point>> promotions;  // account views dangle: use lines
    int alerts = 0, low = 0, disabled = 0, shadow = 0;
  };
  std::shared_ptr<log> l = std::make_shared<log>();

  void on(const tollgate::basic_promotion_event<time_point>& e) {
    std::lock_guard lk(l->m);
    l->lines.push_back(fmt::format("promotion {} {}->{} {}", e.account, e.from.value, e.to.value, to_string(e.cause)));
  }
  void on(const tollgate::basic_spend_alert_event<time_point>& e) {
    std::lock_guard lk(l->m);
    ++l->alerts;
    l->lines.push_back(fmt::format("spend {} {}% ${} of ${}", e.account, e.percent, e.spent.to_string(), e.cap.to_string()));
  }
  void on(const tollgate::basic_low_balance_event<time_point>& e) {
    std::lock_guard lk(l->m);
    ++l->low;
    l->lines.push_back(fmt::format("low {} {} < {}", e.account, e.available.to_string(), e.threshold.to_string()));
  }
  void on(const tollgate::basic_autobilling_disabled_event<time_point>& e) {
    std::lock_guard lk(l->m);
    ++l->disabled;
    l->lines.push_back(fmt::format("autobilling off {} after {}: {}", e.account, e.failures, e.last_error));
  }
  void on(const tollgate::basic_shadow_decision_event<time_point>& e) {
    std::lock_guard lk(l->m);
    ++l->shadow;
    l->lines.push_back(fmt::format("shadow {} {} {} enforced={} shadow={}", e.account, e.subject, e.limit,
                                   e.enforced_allows, e.shadow_allows));
  }
  std::vector<std::string> lines() const {
    std::lock_guard lk(l->m);
    return l->lines;
  }
};
static_assert(tollgate::TierObserver<recorder, time_point>);

/**
 * A payment provider with idempotency keys: the first call with a key decides
 * (per the script: succeed, decline, or time out), later calls with the key
 * replay that outcome; a timed-out key that is retried charges (or not) per
 * `timeout_then`. Counts charges made and calls in flight at once per account.
 */
struct fake_gateway {
  struct record {
    std::string account;
    usd amount;
    tollgate::payment_status status;
  };
  std::mutex m;
  std::vector<tollgate::payment_status> script;  // outcomes of first calls, in order; then succeed
  tollgate::payment_status timeout_then = tollgate::payment_status::succeeded;
  std::map<std::string, record> by_key;
  std::vector<std::string> calls;  // every call's key
  std::atomic<int> in_flight{0}, max_in_flight{0};
  std::atomic<int> spin{0};        // iterations to linger in a call (widens races)
  int charged = 0;                 // customers actually charged (once per key)

  tollgate::payment_result charge(const tollgate::payment_request& r) {
    const int now = ++in_flight;
    for (int m2 = max_in_flight.load(); now > m2 && !max_in_flight.compare_exchange_weak(m2, now);) {}
    for (int i = 0; i < spin.load(); ++i) std::this_thread::yield();
    tollgate::payment_result out = decide(r);
    --in_flight;
    return out;
  }

  tollgate::payment_result decide(const tollgate::payment_request& r) {
    std::lock_guard lk(m);
    calls.emplace_back(r.key);
    auto it = by_key.find(std::string(r.key));
    if (it != by_key.end()) {
      if (it->second.account != r.account || it->second.amount != r.amount)
        return {tollgate::payment_status::declined, "idempotency key reused with another request"};
      if (it->second.status == tollgate::payment_status::unknown) {
        it->second.status = timeout_then;
        if (timeout_then == tollgate::payment_status::succeeded) ++charged;
      }
      return {it->second.status, "replayed"};
    }
    tollgate::payment_status s = tollgate::payment_status::succeeded;
    if (!script.empty()) {
      s = script.front();
      script.erase(script.begin());
    }
    by_key.emplace(std::string(r.key), record{std::string(r.account), r.amount, s});
    if (s == tollgate::payment_status::succeeded) ++charged;
    return {s, s == tollgate::payment_status::declined ? "card declined" : s == tollgate::payment_status::unknown
                                                                             ? "gateway timeout"
                                                                             : "ok"};
  }
};
static_assert(tollgate::PaymentGateway<fake_gateway>);

using ledger_type = tollgate::basic_ledger<tollgate::ledger_traits<clock_type, tollgate::memory_storage>>;
using book_type = tollgate::basic_tier_book<clock_type, tollgate::multi_thread, recorder>;

/// The purchases of `account` in the spend window ending at `now`, from the
/// ledger's statement (what the restructured ledger will keep as an aggregate).
inline std::vector<tollgate::basic_spend_entry<time_point>> window_of(const ledger_type& l, std::string_view account,
                                                                      time_point now) {
  std::vector<tollgate::basic_spend_entry<time_point>> out;
  const auto from = now - tollgate::spend_window + std::chrono::nanoseconds(1);
  const auto entries = l.statement(account, from, now + std::chrono::nanoseconds(1));
  for (const auto& e : *entries)
    if (e.kind == tollgate::entry_kind::purchase) out.push_back({e.at, e.paid});
  return out;
}

/// The RechargeLedger of the tests: basic_ledger for credits, the book for the spend cap.
struct ledger_bridge {
  ledger_type& ledger;
  book_type& book;
  std::atomic<int> buys{0};
  bool fail_buys = false;

  credits available(std::string_view a) { return ledger.balance(a)->available; }
  tollgate::limit<usd> spend_room(std::string_view a) {
    const time_point now = ledger.clock().now();
    const auto w = window_of(ledger, a, now);
    return tollgate::spend_room<time_point>(w, book.spend_cap_of(a, now).enforced, now).room;
  }
  tollgate::credit_price price(std::string_view) { return tollgate::credit_price{}; }
  tollgate::result<void> buy(std::string_view a, const usd& d, std::string_view key) {
    if (fail_buys) return tollgate::result<void>(tollgate::errc::storage_failure, "disk full");
    ++buys;
    auto r = ledger.purchase(a, d, key);
    if (!r) return r.error();
    const auto b = *ledger.balance(a);
    const time_point now = ledger.clock().now();
    book.after_purchase(a, b.purchased_usd, b.first_purchase, window_of(ledger, a, now), now);
    return {};
  }
};
static_assert(tollgate::RechargeLedger<ledger_bridge>);

}  // namespace tiers_test
