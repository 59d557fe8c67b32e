// Deterministic tests of basic_rolling_window with manual_clock: the limit,
// the one-bucket error (only ever refusing), retry_after, rebuilding with
// record(), undo(), amounts in credits, a clock stepping backwards, eviction,
// configuration errors and memory.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>

#include <tollgate/core/money.hpp>
#include <tollgate/limits/rolling_window.hpp>

using namespace std::chrono_literals;
using tollgate::limit_config_error;
using tollgate::limit_reason;
using tollgate::manual_clock;
using tollgate::single_thread;
using tollgate::multi_thread;

namespace {
template <class S, class A = std::uint64_t>
using window = tollgate::basic_rolling_window<manual_clock, A, S>;
constexpr auto day = std::chrono::hours(24);
// Day 20 000 after the epoch, 30 s into a minute bucket.
const manual_clock::time_point t0 = manual_clock::time_point(day * 20'000 + 30s);
}  // namespace

TEST_CASE("rolling window refuses impossible configuration", "[limits][rolling_window]") {
  manual_clock clock;
  CHECK_THROWS_AS((window<single_thread>(0, day, clock)), limit_config_error);
  CHECK_THROWS_AS((window<single_thread>(5, 0s, clock)), limit_config_error);
  CHECK_THROWS_AS((window<single_thread>(5, day, 0s, clock)), limit_config_error);
  CHECK_THROWS_AS((window<single_thread>(5, day, 7min, clock)), limit_config_error);  // 1440 min / 7
  CHECK_THROWS_AS((window<single_thread>(5, 90s, clock)), limit_config_error);       // not whole minutes
  CHECK_NOTHROW((window<single_thread>(5, 90s, 30s, clock)));
  window<single_thread> w(5, day, clock);
  CHECK(w.granularity() == 1min);
  CHECK(w.period() == day);
  CHECK_THROWS_AS(w.set_limit(0), limit_config_error);
  CHECK(w.limit() == 5);
}

TEMPLATE_TEST_CASE("rolling window admits up to its limit in any period", "[limits][rolling_window]",
                   single_thread, multi_thread) {
  manual_clock clock(t0);
  window<TestType> w(3, day, clock);
  for (std::uint64_t i = 0; i < 3; ++i) {
    const auto d = w.try_acquire(1);
    CHECK(d.allowed);
    CHECK(d.remaining == 2 - i);
    clock.advance(1h);
  }
  CHECK(w.used() == 3);
  const auto d = w.try_acquire(1);
  CHECK_FALSE(d.allowed);
  CHECK(d.reason == limit_reason::limited);
  CHECK(d.remaining == 0);
  // The first start (00:00:30, bucket [00:00, 00:01)) leaves with its bucket
  // at 24:01:00; it is now 03:00:30.
  CHECK(d.retry_after == day + 1min - 3h - 30s);

  SECTION("the error is one bucket at most, and only on the side of refusing") {
    clock.set(t0 + day);  // an exact sliding log would admit from here
    CHECK_FALSE(w.try_acquire(1).allowed);
    clock.set(t0 + day + 30s - 1ns);
    CHECK_FALSE(w.try_acquire(1).allowed);
    clock.set(t0 + day + 30s);  // the bucket's end: 24:01:00
    CHECK(w.try_acquire(1).allowed);
    CHECK_FALSE(w.try_acquire(1).allowed);
  }
  SECTION("retry_after is the exact instant for the buckets") {
    clock.advance(d.retry_after - 1ns);
    CHECK_FALSE(w.try_acquire(1).allowed);
    clock.advance(1ns);
    CHECK(w.try_acquire(1).allowed);
  }
  SECTION("a larger request waits for enough buckets") {
    w.set_limit(4);
    const auto d2 = w.try_acquire(3);  // used 3 of 4: two of the three must leave
    CHECK_FALSE(d2.allowed);
    CHECK(d2.remaining == 1);
    CHECK(d2.retry_after == day + 1min + 1h - 3h - 30s);
  }
}

TEMPLATE_TEST_CASE("rolling window: a request larger than the limit is refused for good",
                   "[limits][rolling_window]", single_thread, multi_thread) {
  manual_clock clock(t0);
  window<TestType> w(3, day, clock);
  const auto d = w.try_acquire(4);
  CHECK_FALSE(d.allowed);
  CHECK(d.reason == limit_reason::exceeds_burst);
  CHECK(d.retry_after == std::chrono::nanoseconds::max());
  CHECK(w.used() == 0);
  const auto z = w.try_acquire(0);
  CHECK(z.allowed);
  CHECK(z.remaining == 3);
  CHECK(w.used() == 0);
  SECTION("a zero amount is allowed even past the limit") {
    w.record(clock.now(), 5);  // usage admitted elsewhere: 5 of 3
    const auto z2 = w.try_acquire(0);
    CHECK(z2.allowed);
    CHECK(z2.reason == limit_reason::none);
    CHECK(z2.remaining == 0);
    CHECK(w.used() == 5);
  }
}

TEMPLATE_TEST_CASE("rolling window rebuilds from history with record()", "[limits][rolling_window]",
                   single_thread, multi_thread) {
  manual_clock clock(t0);
  window<TestType> w(10, day, clock);
  // A journal replayed out of order; one event is older than the window.
  w.record(t0 - 2h, 2);
  w.record(t0 - 23h, 3);
  w.record(t0 - 10h, 1);
  w.record(t0 - 10h + 1s, 1);  // same bucket
  w.record(t0 - 30h, 5);
  CHECK(w.used() == 7);  // the 30-hour-old event has left by now
  CHECK(w.try_acquire(3).allowed);
  CHECK_FALSE(w.try_acquire(1).allowed);
  // record() goes past the limit: usage admitted elsewhere still counts.
  w.record(clock.now(), 4);
  CHECK(w.used() == 14);
  CHECK(w.available() == 0);
  clock.advance(1h + 1min);  // the 23-hour-old bucket has left
  CHECK(w.used() == 11);
  SECTION("events older than the window are ignored once time is known") {
    w.record(clock.now() - 25h, 100);
    CHECK(w.used() == 11);
  }
}

TEMPLATE_TEST_CASE("rolling window undo takes back a start", "[limits][rolling_window]", single_thread,
                   multi_thread) {
  manual_clock clock(t0);
  window<TestType> w(3, day, clock);
  const auto at = clock.now();
  REQUIRE(w.try_acquire(2).allowed);
  CHECK(w.undo(at, 1) == 1);
  CHECK(w.used() == 1);
  CHECK(w.undo(at, 5) == 1);  // only what the bucket holds
  CHECK(w.used() == 0);
  CHECK(w.undo(at, 1) == 0);
  REQUIRE(w.try_acquire(3).allowed);
  clock.advance(day + 1min);
  CHECK(w.undo(at, 3) == 0);  // already left the window
  CHECK(w.used() == 0);
}

TEMPLATE_TEST_CASE("rolling window record and undo at the window's edges", "[limits][rolling_window]",
                   single_thread, multi_thread) {
  // t0 is 30 s into its minute: the oldest bucket still counted at t0 starts
  // at t0 - 24 h - 30 s; the one before it has left.
  manual_clock clock(t0);
  window<TestType> w(10, day, clock);
  CHECK(w.used() == 0);  // the window now knows the time
  w.record(t0 - day - 30s, 1);        // first instant of the oldest bucket: counted
  w.record(t0 - day - 30s - 1ns, 1);  // last instant of the bucket before: ignored
  w.record(t0 + 10min, 2);            // ahead of the clock (replayed out of order): counted
  w.record(t0 - 1h, 1);               // and back again
  CHECK(w.used() == 4);
  SECTION("undo finds the bucket of t, in any order") {
    CHECK(w.undo(t0 - 1h + 10s, 1) == 1);  // same minute bucket
    CHECK(w.undo(t0 + 10min, 5) == 2);      // a future bucket, only what it holds
    CHECK(w.undo(t0 - day - 30s - 1ns, 1) == 0);  // was never counted
    CHECK(w.used() == 1);
  }
  SECTION("a bucket leaves at its end, undo gives nothing back from then on") {
    const auto leaves = t0 + 30s;  // (oldest bucket + 1440 + 1) minutes
    CHECK(w.undo(t0 - day - 30s, 0, leaves - 1ns) == 0);
    CHECK(w.used(leaves - 1ns) == 4);
    CHECK(w.undo(t0 - day - 30s, 1, leaves) == 0);
    CHECK(w.used() == 3);
  }
  SECTION("the oldest bucket can still be taken back the instant before it leaves") {
    CHECK(w.undo(t0 - day - 30s, 1, t0 + 30s - 1ns) == 1);
    CHECK(w.used() == 3);
  }
}

TEST_CASE("rolling window counts credits exactly", "[limits][rolling_window]") {
  using tollgate::credits;
  manual_clock clock(t0);
  window<multi_thread, credits> w(credits(100), day * 30, clock);
  CHECK(w.granularity() == 1min);
  CHECK(w.try_acquire(*credits::parse("12.5")).allowed);
  CHECK(w.try_acquire(*credits::parse("87.499999")).allowed);
  const auto d = w.try_acquire(*credits::parse("0.000002"));
  CHECK_FALSE(d.allowed);
  CHECK(d.remaining == *credits::parse("0.000001"));
  CHECK(w.try_acquire(*credits::parse("0.000001")).allowed);
  CHECK(w.available() == credits(0));
  CHECK(w.try_acquire(credits(101)).reason == limit_reason::exceeds_burst);
  clock.advance(day * 30 + 1min);
  CHECK(w.available() == credits(100));
}

TEMPLATE_TEST_CASE("rolling window: a clock stepping backwards lets nothing more in",
                   "[limits][rolling_window]", single_thread, multi_thread) {
  manual_clock clock(t0);
  window<TestType> w(2, day, clock);
  REQUIRE(w.try_acquire(1).allowed);
  clock.advance(2h);
  REQUIRE(w.try_acquire(1).allowed);
  clock.advance(-48h);
  CHECK(w.used() == 2);
  const auto d = w.try_acquire(1);
  CHECK_FALSE(d.allowed);
  // The window expires by the latest time seen; the wait is from the clock's now.
  CHECK(d.retry_after == 48h + day + 1min - 2h - 30s);
  SECTION("an expired bucket does not come back") {
    clock.set(t0 + day + 1min);
    CHECK(w.used() == 1);
    clock.set(t0);
    CHECK(w.used() == 1);
  }
  SECTION("a start while the clock is behind counts at the latest time seen") {
    clock.set(t0 + day + 1min);
    REQUIRE(w.try_acquire(1).allowed);
    clock.set(t0 + 1h);
    CHECK_FALSE(w.try_acquire(1).allowed);
    clock.set(t0 + 2h + day + 1min);  // the 02:00:30 bucket has left, the new one has not
    CHECK(w.used() == 1);
  }
}

TEMPLATE_TEST_CASE("rolling window is evictable only when empty for the idle time",
                   "[limits][rolling_window]", single_thread, multi_thread) {
  manual_clock clock(t0);
  window<TestType> w(2, 1h, clock);
  CHECK(w.evictable(clock.now(), 10min));  // never used: a fresh window
  REQUIRE(w.try_acquire(1).allowed);
  CHECK_FALSE(w.evictable(clock.now(), 0s));
  // The bucket [00:00, 00:01) leaves at 01:01:00 = t0 + 1h + 30s.
  CHECK_FALSE(w.evictable(t0 + 1h + 30s - 1ns, 0s));
  CHECK(w.evictable(t0 + 1h + 30s, 0s));
  CHECK_FALSE(w.evictable(t0 + 1h + 30s, 10min));
  CHECK(w.evictable(t0 + 1h + 30s + 10min, 10min));
}

TEST_CASE("rolling window memory follows the non-empty buckets", "[limits][rolling_window]") {
  manual_clock clock(t0);
  window<single_thread> w(1'000'000, day, clock);
  CHECK(w.heap_bytes() == 0);
  // 50 000 starts over five days, ten a minute: at most 1441 buckets live.
  for (int i = 0; i < 50'000; ++i) {
    REQUIRE(w.try_acquire(1).allowed);
    clock.advance(6s);
  }
  CHECK(w.used() == 14'405);  // 1440 full minutes and the current one's 5
  CHECK(w.heap_bytes() <= 2048 * 16);
  SECTION("a copy is independent") {
    auto copy = w;
    REQUIRE(copy.try_acquire(1).allowed);
    CHECK(copy.used() == w.used() + 1);
  }
}
