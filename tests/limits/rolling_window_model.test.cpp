// Randomized test of basic_rolling_window against an exact sliding log: every
// event kept with its time. After each step the window's count must equal the
// log's bucketed count and lie between the exact sliding count over the period
// and the count over the period plus one bucket; every decision must follow
// from the bucketed count, be refused whenever the exact log refuses, and be
// allowed whenever the log allows even with one extra bucket; retry_after must
// be exact for the buckets and within one bucket of the log's exact instant.
// The seed is printed on failure; TOLLGATE_TEST_SEED replays it.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include <tollgate/core/money.hpp>
#include <tollgate/limits/rolling_window.hpp>

#include "test_seed.hpp"

using namespace std::chrono_literals;
using tollgate::limit_reason;
using tollgate::manual_clock;

namespace {

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return tollgate::limits::detail::floor_div(a, b); }

struct event {
  std::int64_t t;
  std::int64_t amount;
};

// The truth: every event with its exact time; the window's clock rule (expire
// by the latest time seen) is applied by the caller through `eff`.
struct sliding_log {
  std::int64_t period;
  std::int64_t g;
  std::int64_t k;
  std::vector<event> events;

  [[nodiscard]] std::int64_t bucketed(std::int64_t eff) const {
    const std::int64_t oldest = floor_div(eff, g) - k;
    std::int64_t s = 0;
    for (const auto& e : events)
      if (floor_div(e.t, g) >= oldest) s += e.amount;
    return s;
  }
  [[nodiscard]] std::int64_t since(std::int64_t after) const {  // events with t > after
    std::int64_t s = 0;
    for (const auto& e : events)
      if (e.t > after) s += e.amount;
    return s;
  }
  [[nodiscard]] std::int64_t bucket_sum(std::int64_t index) const {
    std::int64_t s = 0;
    for (const auto& e : events)
      if (floor_div(e.t, g) == index) s += e.amount;
    return s;
  }
  // The earliest time >= eff at which `count(t) + a <= limit`, where count is
  // non-increasing in t and changes only at the given candidate instants.
  template <class Count>
  [[nodiscard]] std::int64_t earliest(std::int64_t eff, std::int64_t a, std::int64_t limit,
                                      std::vector<std::int64_t> candidates, Count count) const {
    if (count(eff) + a <= limit) return eff;
    std::sort(candidates.begin(), candidates.end());
    for (std::int64_t c : candidates)
      if (c > eff && count(c) + a <= limit) return c;
    return std::numeric_limits<std::int64_t>::max();
  }
};

struct params {
  std::chrono::nanoseconds period;
  std::chrono::nanoseconds g;
  std::int64_t limit;
};

template <class A, class ToA>
void run_model(std::uint64_t seed, int steps, const params& p, ToA to_a) {
  std::mt19937_64 rng(seed);
  auto pick = [&](std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
  };
  manual_clock clock(manual_clock::time_point(std::chrono::hours(24 * 20'000) + 17s));
  tollgate::basic_rolling_window<manual_clock, A, tollgate::single_thread> w(to_a(p.limit), p.period, p.g, clock);
  sliding_log log{p.period.count(), p.g.count(), p.period.count() / p.g.count(), {}};
  const std::int64_t P = p.period.count();
  const std::int64_t g = p.g.count();
  std::int64_t hw = std::numeric_limits<std::int64_t>::min();
  std::int64_t limit = p.limit;

  for (int step = 0; step < steps; ++step) {
    const std::int64_t t = clock.now().time_since_epoch().count();
    const std::int64_t op = pick(0, 99);
    INFO("seed " << seed << " (TOLLGATE_TEST_SEED replays it), step " << step << ", op " << op << ", t " << t);
    if (op < 45) {
      const std::int64_t a = pick(0, 7) == 0 ? pick(0, limit + 2) : pick(0, std::min<std::int64_t>(limit, 3));
      hw = std::max(hw, t);
      const std::int64_t eff = hw;
      const auto d = w.try_acquire(to_a(a));
      const std::int64_t cb = log.bucketed(eff);
      const std::int64_t ce = log.since(eff - P);
      const std::int64_t cx = log.since(eff - P - g);
      REQUIRE(ce <= cb);
      REQUIRE(cb <= cx);
      if (a > limit) {
        REQUIRE_FALSE(d.allowed);
        REQUIRE(d.reason == limit_reason::exceeds_burst);
        continue;
      }
      const bool want = a == 0 || cb + a <= limit;  // a zero amount is always allowed
      REQUIRE(d.allowed == want);
      if (a != 0 && ce + a > limit) REQUIRE_FALSE(d.allowed);  // never more permissive than the truth
      if (cx + a <= limit) REQUIRE(d.allowed);       // refuses by at most one bucket
      REQUIRE(d.remaining == to_a(std::max<std::int64_t>(0, limit - cb - (d.allowed ? a : 0))));
      if (d.allowed) {
        if (a != 0) log.events.push_back({eff, a});
      } else {
        REQUIRE(d.reason == limit_reason::limited);
        std::vector<std::int64_t> bucket_ends, event_ends;
        for (const auto& e : log.events) {
          bucket_ends.push_back((floor_div(e.t, g) + log.k + 1) * g);
          event_ends.push_back(e.t + P);  // (t - P, t] excludes e from t = e.t + P on
        }
        const std::int64_t ours = log.earliest(eff, a, limit, bucket_ends,
                                               [&](std::int64_t x) { return log.bucketed(x); });
        const std::int64_t exact = log.earliest(eff, a, limit, event_ends,
                                                [&](std::int64_t x) { return log.since(x - P); });
        REQUIRE(d.retry_after.count() == ours - t);
        REQUIRE(exact <= ours);
        REQUIRE(ours - exact <= g);
      }
    } else if (op < 55) {
      // Rebuild-style record at a past time (maybe already outside the window).
      const std::int64_t a = pick(1, 3);
      const std::int64_t at = t - pick(0, P + 2 * g);
      w.record(manual_clock::time_point(std::chrono::nanoseconds(at)), to_a(a));
      const bool ignored = hw != std::numeric_limits<std::int64_t>::min() && floor_div(at, g) < floor_div(hw, g) - log.k;
      if (!ignored) log.events.push_back({at, a});
    } else if (op < 62 && !log.events.empty()) {
      // Roll back (part of) one real event.
      const std::size_t i = static_cast<std::size_t>(pick(0, static_cast<std::int64_t>(log.events.size()) - 1));
      const std::int64_t a = pick(1, log.events[i].amount);
      const std::int64_t at = log.events[i].t;
      hw = std::max(hw, t);
      const bool expired = floor_div(at, g) < floor_div(hw, g) - log.k;
      const std::int64_t want = expired ? 0 : std::min(a, log.bucket_sum(floor_div(at, g)));
      const A got = w.undo(manual_clock::time_point(std::chrono::nanoseconds(at)), to_a(a));
      REQUIRE(got == to_a(want));
      if (!expired) {
        log.events[i].amount -= a;
        if (log.events[i].amount == 0) log.events.erase(log.events.begin() + static_cast<std::ptrdiff_t>(i));
      }
    } else if (op < 64) {
      limit = pick(1, p.limit * 2);
      w.set_limit(to_a(limit));
    } else if (op < 95) {
      const std::int64_t kind = pick(0, 9);
      std::int64_t d = 0;
      if (kind < 5) d = pick(0, g);
      else if (kind < 8) d = pick(0, 4 * g);
      else if (kind < 9) d = pick(0, P / 2);
      else d = pick(0, P + 3 * g);
      clock.advance(std::chrono::nanoseconds(d));
    } else if (op < 98) {
      clock.advance(-std::chrono::nanoseconds(pick(0, 3 * g)));
    }
    const std::int64_t now = clock.now().time_since_epoch().count();
    hw = std::max(hw, now);
    REQUIRE(w.used() == to_a(log.bucketed(hw)));
    // Events this old can never count again (the window's time only grows): drop them.
    std::erase_if(log.events, [&](const event& e) { return e.t < hw - P - 3 * g; });
  }
}

}  // namespace

TEST_CASE("rolling window matches an exact sliding log", "[limits][rolling_window][model]") {
  const std::uint64_t seed = tollgate_test::test_seed();
  auto id = [](std::int64_t v) { return static_cast<std::uint64_t>(v); };
  SECTION("24 hours in minutes") { run_model<std::uint64_t>(seed, 4000, {24h, 1min, 20}, id); }
  SECTION("10 seconds in seconds") { run_model<std::uint64_t>(seed + 1, 4000, {10s, 1s, 8}, id); }
  SECTION("one bucket per period") { run_model<std::uint64_t>(seed + 2, 3000, {7s, 7s, 5}, id); }
  SECTION("an hour in odd nanosecond buckets") {
    run_model<std::uint64_t>(seed + 3, 3000, {std::chrono::nanoseconds(3'600'000'000'001LL * 3), std::chrono::nanoseconds(3'600'000'000'001LL), 12}, id);
  }
  SECTION("30 days of credits in half hours") {
    auto cr = [](std::int64_t v) { return tollgate::credits::from_raw(v * 250'000); };  // quarters of a credit
    run_model<tollgate::credits>(seed + 4, 2000, {std::chrono::hours(24 * 30), 30min, 40}, cr);
  }
}
