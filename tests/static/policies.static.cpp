// Compile-time checks of the policy concepts (docs/policies-reference.md):
// every shipped policy models its concept, and a counter-example for each
// requirement the concept checks does not. Only needs to compile.
#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <type_traits>

#include <tollgate/core/clock.hpp>
#include <tollgate/core/money.hpp>
#include <tollgate/core/sync.hpp>
#include <tollgate/gate/observer.hpp>
#include <tollgate/limits/backend.hpp>
#include <tollgate/limits/concurrency_pool.hpp>
#include <tollgate/limits/keyed.hpp>
#include <tollgate/limits/local_backend.hpp>
#include <tollgate/limits/rolling_window.hpp>
#include <tollgate/limits/token_bucket.hpp>
#include <tollgate/pricing/rates.hpp>
#include <tollgate/tiers/autobilling.hpp>
#include <tollgate/tiers/observer.hpp>

namespace {
using namespace tollgate;
using tp = manual_clock::time_point;

// ------------------------------------------------------------ Clock
static_assert(Clock<manual_clock> && SteadyClock<manual_clock>);
static_assert(Clock<std::chrono::system_clock> && !SteadyClock<std::chrono::system_clock>);
static_assert(SteadyClock<std::chrono::steady_clock>);

struct mutable_now_clock {  // now() only on a non-const clock
  using duration = std::chrono::nanoseconds;
  using time_point = std::chrono::time_point<mutable_now_clock, duration>;
  time_point now() { return {}; }
};
struct other_point_clock {  // now() answers another clock's time
  using duration = std::chrono::nanoseconds;
  using time_point = std::chrono::time_point<other_point_clock, duration>;
  std::chrono::system_clock::time_point now() const { return {}; }
};
struct uncopyable_clock {  // components keep a copy of their clock
  using duration = std::chrono::nanoseconds;
  using time_point = std::chrono::time_point<uncopyable_clock, duration>;
  uncopyable_clock() = default;
  uncopyable_clock(const uncopyable_clock&) = delete;
  time_point now() const { return {}; }
};
struct mismatched_duration_clock {  // duration is not the time_point's
  using duration = std::chrono::milliseconds;
  using time_point = std::chrono::time_point<mismatched_duration_clock, std::chrono::nanoseconds>;
  time_point now() const { return {}; }
};
struct runtime_steady_clock {  // is_steady must be a constant
  using duration = std::chrono::nanoseconds;
  using time_point = std::chrono::time_point<runtime_steady_clock, duration>;
  static inline bool is_steady = true;
  time_point now() const { return {}; }
};
static_assert(!Clock<mutable_now_clock>);
static_assert(!Clock<other_point_clock>);
static_assert(!Clock<uncopyable_clock>);
static_assert(!Clock<mismatched_duration_clock>);
static_assert(Clock<runtime_steady_clock> && !SteadyClock<runtime_steady_clock>);
static_assert(!Clock<int>);

// ------------------------------------------------------------ Sync
static_assert(Sync<single_thread> && Sync<multi_thread>);
struct shared_mutex_sync {  // any default-constructible BasicLockable will do
  using mutex_type = std::shared_mutex;
  static constexpr bool is_thread_safe = true;
};
static_assert(Sync<shared_mutex_sync>);
struct lock_only_mutex {
  void lock() {}
};
struct lock_only_sync {
  using mutex_type = lock_only_mutex;
  static constexpr bool is_thread_safe = false;
};
struct unnamed_safety_sync {
  using mutex_type = std::mutex;
};
struct runtime_safety_sync {
  using mutex_type = std::mutex;
  static inline bool is_thread_safe = true;  // not a constant: components branch on it at compile time
};
struct int_safety_sync {
  using mutex_type = std::mutex;
  static constexpr int is_thread_safe = 1;
};
struct named_mutex {
  explicit named_mutex(const char*) {}
  void lock() {}
  void unlock() {}
};
struct needs_a_name_sync {
  using mutex_type = named_mutex;
  static constexpr bool is_thread_safe = true;
};
static_assert(!Sync<lock_only_sync>);
static_assert(!Sync<unnamed_safety_sync>);
static_assert(!Sync<runtime_safety_sync>);
static_assert(!Sync<int_safety_sync>);
static_assert(!Sync<needs_a_name_sync>);
static_assert(!Sync<std::mutex>, "a mutex is not a policy: wrap it as mutex_type");

// ------------------------------------------------------------ Rounding
static_assert(Rounding<round_up> && Rounding<half_up> && Rounding<exact>);
struct nameless_rounding {
  static credits apply(const credits& c) { return c; }
};
static_assert(!Rounding<nameless_rounding>);

// ------------------------------------------------------------ Rate
static_assert(Rate<per_second> && Rate<per_generation> && Rate<per_characters> && Rate<per_block> &&
              Rate<flat> && Rate<any_rate> && Rate<sum_of<per_second, flat>>);
struct pinned_rate {  // catalogs take rates by value
  pinned_rate() = default;
  pinned_rate(pinned_rate&&) = delete;
  result<credits> cost(const usage&) const { return credits{}; }
};
struct mutating_rate {  // pricing is const: catalogs share one rate between threads
  result<credits> cost(const usage&) { return credits{}; }
};
struct throwing_shape_rate {  // a rate reports failure in its result, not as a bare credits
  credits cost(const usage&) const { return {}; }
};
static_assert(!Rate<pinned_rate>);
static_assert(!Rate<mutating_rate>);
static_assert(!Rate<throwing_shape_rate>);

// ------------------------------------------------------------ LimiterBackend
static_assert(LimiterBackend<local_backend>);
static_assert(LimiterBackend<basic_local_backend<manual_clock, single_thread>>);
// A backend whose clock_type is not a Clock.
struct clockless_backend : local_backend {
  using clock_type = int;
};
static_assert(!LimiterBackend<clockless_backend>);
static_assert(!LimiterBackend<int>);

// ------------------------------------------------------------ keyed<>'s limiters
static_assert(KeyedLimiter<basic_token_bucket<manual_clock, single_thread>, manual_clock>);
static_assert(KeyedLimiter<basic_concurrency_pool<std::uint64_t, single_thread>, manual_clock>);
static_assert(!KeyedLimiter<int, manual_clock>);

// ------------------------------------------------------------ PaymentGateway
struct test_gateway {
  payment_result charge(const payment_request&) { return {}; }
};
struct status_only_gateway {
  payment_status charge(const payment_request&) { return payment_status::succeeded; }
};
static_assert(PaymentGateway<test_gateway>);
static_assert(!PaymentGateway<status_only_gateway>, "a charge answers a payment_result with its message");
static_assert(!PaymentGateway<std::function<payment_result(const payment_request&)>>,
              "a gateway is an object with charge(), not a bare callable");

// ------------------------------------------------------------ Observers
static_assert(TierObserver<null_tier_observer, tp>);
static_assert(GateObserver<null_gate_observer, tp> && GateObserver<counters_observer, tp>);
static_assert(std::is_empty_v<null_gate_observer>);
struct tier_only_observer {  // hears the tier engine but not the gate's own events
  void on(const basic_promotion_event<tp>&) {}
  void on(const basic_spend_alert_event<tp>&) {}
  void on(const basic_low_balance_event<tp>&) {}
  void on(const basic_autobilling_disabled_event<tp>&) {}
  void on(const basic_shadow_decision_event<tp>&) {}
};
static_assert(TierObserver<tier_only_observer, tp> && !GateObserver<tier_only_observer, tp>);

// ------------------------------------------------------------ basic_keyed and keyed
using bucket = basic_token_bucket<manual_clock, single_thread>;
static_assert(std::is_same_v<keyed<bucket>, basic_keyed<bucket>>);
static_assert(std::is_same_v<keyed<bucket, std::uint64_t, std::hash<std::uint64_t>, std::equal_to<std::uint64_t>,
                                   single_thread>,
                             basic_keyed<bucket, std::uint64_t, single_thread>>,
              "keyed keeps its first parameter order: Hash and KeyEqual before the Sync policy");
static_assert(std::is_same_v<basic_keyed<bucket>::clock_type, manual_clock>, "the clock defaults to the limiter's");
}  // namespace
