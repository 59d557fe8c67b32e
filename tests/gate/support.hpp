// Helpers shared by the gate tests: the manual clock at a fixed start, a
// recording observer (every event as a line of text, counted by kind), a
// payment gateway whose copies share one script and record, and the traits
// of a gate on the manual clock (in memory and on a journal).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <tollgate/gate.hpp>

namespace gate_test {

using namespace std::chrono_literals;
using clock_type = tollgate::manual_clock;
using time_point = clock_type::time_point;
using tollgate::credits;
using tollgate::usd;
using namespace tollgate::literals;

inline usd dollars(const char* s) { return *usd::parse(s); }
inline credits cr(const char* s) { return *credits::parse(s); }

/// 2026-11-01 00:00:00 UTC on the manual clock (whose epoch is 1970's).
inline time_point start() {
  return time_point(std::chrono::sys_days(std::chrono::year{2026} / 11 / 1).time_since_epoch());
}

/// The seed of randomized tests: fixed, or TOLLGATE_TEST_SEED.
inline std::uint64_t seed(std::uint64_t fallback = 0x6a7e'2026ULL) {
  if (const char* s = std::getenv("TOLLGATE_TEST_SEED"); s != nullptr && *s != '\0')
    return std::strtoull(s, nullptr, 0);
  return fallback;
}

/// A video job of `seconds` on `model` (gen4_turbo: 5 credits a second).
inline tollgate::job video(std::int64_t seconds, std::string model = "gen4_turbo") {
  return tollgate::job{.model = std::move(model),
                       .usage = {.seconds = tollgate::media_duration{seconds * 1000}}};
}
inline tollgate::usage seconds(std::int64_t s) { return tollgate::usage{.seconds = tollgate::media_duration{s * 1000}}; }

/// Remembers every event as a line of text, and counts them by name.
/// Copies share the record. Thread-safe.
struct recorder {
  struct log {
    std::mutex m;
    std::vector<std::string> lines;
    std::map<std::string, int> counts;
  };
  std::shared_ptr<log> l = std::make_shared<log>();

  void put(std::string kind, std::string line) {
    std::lock_guard lk(l->m);
    ++l->counts[kind];
    l->lines.push_back(std::move(line));
  }
  void on(const tollgate::basic_task_event<time_point>& e) {
    put(std::string(to_string(e.kind)), fmt::format("{} {} {} {} {}", to_string(e.kind), e.account, e.model,
                                                    to_string(e.status), e.amount.to_string(0)));
  }
  void on(const tollgate::basic_refusal_event<time_point>& e) {
    put("refused", fmt::format("refused {} {} {}", e.account, e.model, tollgate::gate_detail::errc_name(e.reason)));
  }
  void on(const tollgate::basic_purchase_event<time_point>& e) {
    put(e.automatic ? "recharge" : "purchase",
        fmt::format("{} {} ${}", e.automatic ? "recharge" : "purchase", e.account, e.paid.to_string()));
  }
  void on(const tollgate::basic_promotion_event<time_point>& e) {
    put("promotion", fmt::format("promotion {} {}->{} {}", e.account, e.from.value, e.to.value, to_string(e.cause)));
  }
  void on(const tollgate::basic_spend_alert_event<time_point>& e) {
    put("spend", fmt::format("spend {} {}%", e.account, e.percent));
  }
  void on(const tollgate::basic_low_balance_event<time_point>& e) {
    put("low", fmt::format("low {} {}", e.account, e.available.to_string(0)));
  }
  void on(const tollgate::basic_autobilling_disabled_event<time_point>& e) {
    put("autobilling_off", fmt::format("autobilling off {} after {}", e.account, e.failures));
  }
  void on(const tollgate::basic_shadow_decision_event<time_point>& e) {
    put("shadow", fmt::format("shadow {} {} {} enforced={} shadow={}", e.account, e.subject, e.limit,
                              e.enforced_allows, e.shadow_allows));
  }
  [[nodiscard]] int count(const std::string& kind) const {
    std::lock_guard lk(l->m);
    auto it = l->counts.find(kind);
    return it == l->counts.end() ? 0 : it->second;
  }
  [[nodiscard]] std::vector<std::string> lines() const {
    std::lock_guard lk(l->m);
    return l->lines;
  }
};
static_assert(tollgate::GateObserver<recorder, time_point>);

/// A payment provider with idempotency keys whose copies share one state:
/// the first call with a key decides (per `script`, then succeed), later
/// calls with the key replay it. Thread-safe.
struct gateway {
  struct state {
    std::mutex m;
    std::vector<tollgate::payment_status> script;
    std::map<std::string, tollgate::payment_status> by_key;
    int charged = 0;
  };
  std::shared_ptr<state> s = std::make_shared<state>();

  tollgate::payment_result charge(const tollgate::payment_request& r) {
    std::lock_guard lk(s->m);
    auto it = s->by_key.find(std::string(r.key));
    if (it != s->by_key.end()) return {it->second, "replayed"};
    auto st = tollgate::payment_status::succeeded;
    if (!s->script.empty()) {
      st = s->script.front();
      s->script.erase(s->script.begin());
    }
    s->by_key.emplace(std::string(r.key), st);
    if (st == tollgate::payment_status::succeeded) ++s->charged;
    return {st, st == tollgate::payment_status::succeeded ? "ok" : "declined"};
  }
  [[nodiscard]] int charged() const {
    std::lock_guard lk(s->m);
    return s->charged;
  }
};
static_assert(tollgate::PaymentGateway<gateway>);

/// A gate on the manual clock, in memory, recording its events.
struct memory_traits : tollgate::gate_traits<clock_type> {
  using observer = recorder;
  using gateway = gate_test::gateway;
};
using memory_gate = tollgate::basic_gate<memory_traits>;

}  // namespace gate_test
