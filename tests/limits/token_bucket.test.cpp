// Deterministic tests of basic_token_bucket with manual_clock: every
// behaviour, in both sync flavours, including the precision cases other
// limiters get wrong (0.000277/s, 10/13 per second, borrowing at 0.0001/s,
// 8000/s, 10^9/s, one a day).
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <limits>

#include <tollgate/limits/token_bucket.hpp>

using namespace std::chrono_literals;
using tollgate::limit_config_error;
using tollgate::limit_reason;
using tollgate::manual_clock;
using tollgate::multi_thread;
using tollgate::single_thread;
using tollgate::token_rate;

namespace {
template <class S>
using bucket = tollgate::basic_token_bucket<manual_clock, S>;
constexpr auto never = std::chrono::nanoseconds::max();

template <class B>
void drain(B& b) {
  const auto d = b.try_acquire(b.available());
  REQUIRE(d.allowed);
  REQUIRE(b.available() == 0);
}
}  // namespace

TEST_CASE("token_rate reduces to tokens per nanosecond", "[limits][token_bucket]") {
  CHECK(token_rate(1, 1s).numerator() == 1);
  CHECK(token_rate(1, 1s).denominator() == 1'000'000'000);
  CHECK(token_rate(8000, 1s).denominator() == 125'000);
  CHECK(token_rate(1'000'000'000, 1s).numerator() == 1);
  CHECK(token_rate(1'000'000'000, 1s).denominator() == 1);
  CHECK(token_rate(10, 13s).numerator() == 1);
  CHECK(token_rate(10, 13s).denominator() == 1'300'000'000);
  CHECK(token_rate(277, std::chrono::seconds(1'000'000)).numerator() == 277);
  CHECK(token_rate(277, std::chrono::seconds(1'000'000)).denominator() == 1'000'000'000'000'000);
  CHECK(token_rate(3, 1s).numerator() == 3);
  CHECK(token_rate(2, 2s) == token_rate(1, 1s));
  CHECK(token_rate(1, std::chrono::hours(24)).denominator() == 86'400'000'000'000);
}

TEST_CASE("token_rate and bucket refuse impossible configuration", "[limits][token_bucket]") {
  manual_clock clock;
  CHECK_THROWS_AS(token_rate(0, 1s), limit_config_error);
  CHECK_THROWS_AS(token_rate(-3, 1s), limit_config_error);
  CHECK_THROWS_AS(token_rate(1, 0s), limit_config_error);
  CHECK_THROWS_AS(token_rate(1, -1s), limit_config_error);
  CHECK_THROWS_AS(bucket<single_thread>(token_rate(1, 1s), 0, clock), limit_config_error);
  // burst * q must stay below 2^62: at one token a second q = 10^9.
  CHECK_NOTHROW(bucket<single_thread>(token_rate(1, 1s), 4'611'686'018, clock));
  CHECK_THROWS_AS(bucket<single_thread>(token_rate(1, 1s), 4'611'686'019, clock), limit_config_error);
  CHECK_THROWS_AS(bucket<multi_thread>(token_rate(1, 1s), 4'611'686'019, clock), limit_config_error);
  try {
    bucket<single_thread> b(token_rate(1, 1s), 0, clock);
    FAIL("no throw");
  } catch (const limit_config_error& e) {
    CHECK(e.field() == "burst");
    CHECK(std::string(e.what()).find("token_bucket") != std::string::npos);
  }
}

TEMPLATE_TEST_CASE("a bucket starts full and admits up to its burst", "[limits][token_bucket]",
                   single_thread, multi_thread) {
  manual_clock clock;
  bucket<TestType> b(token_rate(1, 1s), 5, clock);
  CHECK(b.available() == 5);
  CHECK(b.burst() == 5);
  for (std::uint64_t i = 0; i < 5; ++i) {
    const auto d = b.try_acquire();
    CHECK(d.allowed);
    CHECK(d.reason == limit_reason::none);
    CHECK(d.remaining == 4 - i);
    CHECK(d.retry_after == 0ns);
  }
  const auto d = b.try_acquire();
  CHECK_FALSE(d.allowed);
  CHECK(d.reason == limit_reason::limited);
  CHECK(d.retry_after == 1s);
  CHECK(d.remaining == 0);

  SECTION("retry_after is exact") {
    clock.advance(999'999'999ns);
    const auto d2 = b.try_acquire();
    CHECK_FALSE(d2.allowed);
    CHECK(d2.retry_after == 1ns);
    clock.advance(1ns);
    CHECK(b.try_acquire().allowed);
  }
  SECTION("refill stops at the burst") {
    clock.advance(1h);
    CHECK(b.available() == 5);
    CHECK(b.try_acquire(5).allowed);
    CHECK(b.available() == 0);
  }
  SECTION("a multi-token request waits for all of its tokens") {
    clock.advance(2s);
    const auto d3 = b.try_acquire(3);
    CHECK_FALSE(d3.allowed);
    CHECK(d3.remaining == 2);
    CHECK(d3.retry_after == 1s);
    CHECK(b.available() == 2);  // a refusal takes nothing
  }
}

TEMPLATE_TEST_CASE("a request larger than the burst is refused with a distinct reason",
                   "[limits][token_bucket]", single_thread, multi_thread) {
  manual_clock clock;
  bucket<TestType> b(token_rate(1, 1s), 5, clock);
  const auto d = b.try_acquire(6);
  CHECK_FALSE(d.allowed);
  CHECK(d.reason == limit_reason::exceeds_burst);
  CHECK(d.retry_after == never);
  CHECK(d.remaining == 5);
  CHECK(b.available() == 5);
  const auto r = b.reserve(6);
  CHECK_FALSE(r.allowed);
  CHECK(r.reason == limit_reason::exceeds_burst);
  CHECK(b.available() == 5);
  SECTION("even when the bucket is full and time passes") {
    clock.advance(24h);
    CHECK(b.try_acquire(6).reason == limit_reason::exceeds_burst);
  }
}

TEMPLATE_TEST_CASE("zero tokens are always allowed and change nothing", "[limits][token_bucket]",
                   single_thread, multi_thread) {
  manual_clock clock;
  bucket<TestType> b(token_rate(1, 1s), 2, clock);
  drain(b);
  const auto d = b.try_acquire(0);
  CHECK(d.allowed);
  CHECK(d.remaining == 0);
  clock.advance(1s);
  CHECK(b.available() == 1);
  SECTION("also while the bucket is in debt") {
    REQUIRE(b.reserve(2).retry_after == 1s);  // 1 token there, 1 borrowed
    const auto z = b.try_acquire(0);
    CHECK(z.allowed);
    CHECK(z.reason == limit_reason::none);
    CHECK(z.remaining == 0);
    CHECK(z.retry_after == 0ns);
    CHECK(b.try_acquire(1).retry_after == 2s);  // the debt is unchanged
  }
}

TEMPLATE_TEST_CASE("precision: 0.000277 tokens per second", "[limits][token_bucket][precision]",
                   single_thread, multi_thread) {
  manual_clock clock;
  const token_rate rate(277, std::chrono::seconds(1'000'000));
  SECTION("one token takes ceil(10^15 / 277) ns") {
    bucket<TestType> b(rate, 1, clock);
    drain(b);
    const auto d = b.try_acquire();
    CHECK_FALSE(d.allowed);
    // 10^15 / 277 = 3610108303249.09... ns
    CHECK(d.retry_after == std::chrono::nanoseconds(3'610'108'303'250));
    clock.advance(std::chrono::nanoseconds(3'610'108'303'249));
    CHECK_FALSE(b.try_acquire().allowed);
    clock.advance(1ns);
    CHECK(b.try_acquire().allowed);
  }
  SECTION("exactly 277 tokens in 10^6 seconds, none early") {
    bucket<TestType> b(rate, 277, clock);
    drain(b);
    clock.advance(std::chrono::seconds(1'000'000) - 1ns);
    CHECK(b.available() == 276);
    clock.advance(1ns);
    CHECK(b.available() == 277);
  }
  SECTION("no drift over 2770 tokens taken one by one at the earliest instant") {
    // Burst 2: with burst 1 the bucket would be full at each ceil()ed instant
    // and rightly drop the fraction of a tick beyond full.
    bucket<TestType> b(rate, 2, clock);
    drain(b);
    const auto start = clock.now();
    for (int i = 0; i < 2770; ++i) {
      const auto d = b.try_acquire();
      REQUIRE_FALSE(d.allowed);
      clock.advance(d.retry_after);
      REQUIRE(b.try_acquire().allowed);
    }
    // The 2770th token accrues at exactly 10^7 s; waiting ceil()s never add up.
    CHECK(clock.now() - start == std::chrono::seconds(10'000'000));
  }
}

TEMPLATE_TEST_CASE("precision: 10 tokens per 13 seconds", "[limits][token_bucket][precision]",
                   single_thread, multi_thread) {
  manual_clock clock;
  bucket<TestType> b(token_rate(10, 13s), 10, clock);
  drain(b);
  clock.advance(1299ms + 999'999ns);
  CHECK(b.available() == 0);
  CHECK(b.try_acquire().retry_after == 1ns);
  clock.advance(1ns);
  CHECK(b.available() == 1);
  clock.advance(13s - 1300ms);
  CHECK(b.available() == 10);

  SECTION("10 000 tokens one at a time take exactly 13 000 s") {
    drain(b);
    const auto start = clock.now();
    std::uint64_t taken = 0;
    while (taken < 10'000) {
      const auto d = b.try_acquire();
      if (d.allowed) {
        ++taken;
      } else {
        clock.advance(d.retry_after);
      }
    }
    CHECK(clock.now() - start == 13'000s);
    CHECK(b.available() == 0);
  }
}

TEMPLATE_TEST_CASE("precision: borrowing at 0.0001 tokens per second", "[limits][token_bucket][precision]",
                   single_thread, multi_thread) {
  manual_clock clock;
  bucket<TestType> b(token_rate(1, 10'000s), 1, clock);
  drain(b);
  const auto r1 = b.reserve(1);
  CHECK(r1.allowed);
  CHECK(r1.retry_after == 10'000s);
  CHECK(r1.remaining == 0);
  const auto r2 = b.reserve(1);
  CHECK(r2.allowed);
  CHECK(r2.retry_after == 20'000s);
  // The debt queues try_acquire behind the reservations.
  CHECK(b.try_acquire().retry_after == 30'000s);
  clock.advance(20'000s);
  CHECK(b.available() == 0);
  CHECK(b.try_acquire().retry_after == 10'000s);
  clock.advance(10'000s - 1ns);
  CHECK_FALSE(b.try_acquire().allowed);
  clock.advance(1ns);
  CHECK(b.try_acquire().allowed);
}

TEMPLATE_TEST_CASE("precision: 8000 tokens per second", "[limits][token_bucket][precision]",
                   single_thread, multi_thread) {
  manual_clock clock;
  bucket<TestType> b(token_rate(8000, 1s), 8000, clock);
  drain(b);
  clock.advance(124'999ns);
  CHECK(b.available() == 0);
  clock.advance(1ns);
  CHECK(b.available() == 1);
  drain(b);
  // Ten seconds at exactly one token per 125 us: every request is admitted.
  for (int i = 0; i < 80'000; ++i) {
    clock.advance(125us);
    REQUIRE(b.try_acquire().allowed);
  }
  CHECK(b.available() == 0);
  clock.advance(1s);
  CHECK(b.available() == 8000);
}

TEMPLATE_TEST_CASE("precision: 10^9 tokens per second", "[limits][token_bucket][precision]",
                   single_thread, multi_thread) {
  manual_clock clock;
  bucket<TestType> b(token_rate(1'000'000'000, 1s), 1'000'000'000, clock);
  CHECK(b.try_acquire(1'000'000'000).allowed);
  CHECK(b.available() == 0);
  clock.advance(1ns);
  CHECK(b.available() == 1);
  clock.advance(999'999'998ns);
  CHECK(b.available() == 999'999'999);
  const auto d = b.try_acquire(1'000'000'000);
  CHECK_FALSE(d.allowed);
  CHECK(d.retry_after == 1ns);
  clock.advance(1ns);
  CHECK(b.try_acquire(1'000'000'000).allowed);
  CHECK(b.try_acquire(1).retry_after == 1ns);
}

TEMPLATE_TEST_CASE("precision: one token per day", "[limits][token_bucket][precision]",
                   single_thread, multi_thread) {
  manual_clock clock;
  bucket<TestType> b(token_rate(1, std::chrono::hours(24)), 1, clock);
  drain(b);
  CHECK(b.try_acquire().retry_after == std::chrono::hours(24));
  clock.advance(std::chrono::hours(24) - 1ns);
  CHECK_FALSE(b.try_acquire().allowed);
  clock.advance(1ns);
  CHECK(b.try_acquire().allowed);
}

TEMPLATE_TEST_CASE("reserve borrows from the future within limits", "[limits][token_bucket]",
                   single_thread, multi_thread) {
  manual_clock clock;
  bucket<TestType> b(token_rate(1, 1s), 3, clock);
  SECTION("with tokens there it does not wait") {
    const auto r = b.reserve(2);
    CHECK(r.allowed);
    CHECK(r.retry_after == 0ns);
    CHECK(r.remaining == 1);
  }
  SECTION("max_wait refuses a reservation that would wait longer") {
    drain(b);
    CHECK(b.reserve(2, 2s).allowed);  // waits exactly 2 s
    const auto r = b.reserve(3, 4s);  // would wait 5 s
    CHECK_FALSE(r.allowed);
    CHECK(r.reason == limit_reason::wait_too_long);
    CHECK(r.retry_after == 1s);
    clock.advance(1s);
    const auto r2 = b.reserve(3, 4s);
    CHECK(r2.allowed);
    CHECK(r2.retry_after == 4s);
  }
  SECTION("the debt stays below the hard limit") {
    manual_clock c2;
    // One token per ns: 1 tick = 1 token; the debt limit is 2^61 tokens.
    const std::uint64_t burst = std::uint64_t{1} << 60;
    bucket<TestType> huge(token_rate(1'000'000'000, 1s), burst, c2);
    CHECK(huge.reserve(burst).allowed);  // level 0
    CHECK(huge.reserve(burst).allowed);  // debt 2^60
    CHECK(huge.reserve(burst).allowed);  // debt 2^61: at the limit
    const auto r = huge.reserve(1);
    CHECK_FALSE(r.allowed);
    CHECK(r.reason == limit_reason::wait_too_long);
    CHECK(r.retry_after == 1ns);
  }
}

TEMPLATE_TEST_CASE("refund gives tokens back, never above full", "[limits][token_bucket]",
                   single_thread, multi_thread) {
  manual_clock clock;
  bucket<TestType> b(token_rate(1, 1s), 5, clock);
  REQUIRE(b.try_acquire(3).allowed);
  CHECK(b.refund(2) == 4);
  CHECK(b.refund(10) == 5);  // bounded by the burst
  CHECK(b.available() == 5);
  SECTION("a refund cancels a reservation's debt") {
    drain(b);
    REQUIRE(b.reserve(2).retry_after == 2s);
    CHECK(b.refund(2) == 0);
    CHECK(b.try_acquire().retry_after == 1s);
  }
  SECTION("tokens that refilled meanwhile are not credited twice") {
    REQUIRE(b.try_acquire(5).allowed);
    clock.advance(5s);
    CHECK(b.refund(5) == 5);
  }
}

TEMPLATE_TEST_CASE("refund is exact while the level stays at most burst - n, else up to n over",
                   "[limits][token_bucket]", single_thread, multi_thread) {
  // `lent` takes n and refunds it; `never` is the same bucket without that take.
  manual_clock clock;
  bucket<TestType> lent(token_rate(1, 1s), 10, clock);
  bucket<TestType> never(token_rate(1, 1s), 10, clock);
  REQUIRE(lent.try_acquire(3).allowed);  // the job that will not run
  SECTION("exact: the level stayed at most 10 - 3") {
    REQUIRE(lent.try_acquire(4).allowed);
    REQUIRE(never.try_acquire(4).allowed);
    clock.advance(2s);  // lent 5, never 8
    CHECK(lent.refund(3) == 8);
    CHECK(never.available() == 8);
    clock.advance(1500ms);  // fractions of a token agree too
    CHECK(lent.try_acquire(10).retry_after == never.try_acquire(10).retry_after);
  }
  SECTION("the documented limit: refilled past 10 - 3, then drained") {
    clock.advance(5s);  // lent 10 (full), never 10 (it lost 3 s of refill at full)
    REQUIRE(lent.try_acquire(10).allowed);
    REQUIRE(never.try_acquire(10).allowed);
    CHECK(lent.refund(3) == 3);
    CHECK(never.available() == 0);
    CHECK(lent.available() - never.available() <= 3);  // never more than n over
  }
}

TEMPLATE_TEST_CASE("set_rate and set_burst keep the state", "[limits][token_bucket]", single_thread,
                   multi_thread) {
  manual_clock clock;
  bucket<TestType> b(token_rate(1, 1s), 10, clock);
  REQUIRE(b.try_acquire(4).allowed);
  SECTION("set_rate keeps the tokens and refills at the new rate") {
    b.set_rate(token_rate(2, 1s));
    CHECK(b.available() == 6);
    CHECK(b.rate() == token_rate(2, 1s));
    clock.advance(1s);
    CHECK(b.available() == 8);
  }
  SECTION("set_rate keeps a fraction the new unit can express") {
    clock.advance(500ms);  // 6.5 tokens
    b.set_rate(token_rate(10, 13s));
    CHECK(b.available() == 6);
    // 0.5 token at 10/13 per s: the next token in 0.65 s
    CHECK(b.try_acquire(7).retry_after == 650ms);
  }
  SECTION("set_rate keeps a debt in tokens") {
    drain(b);
    REQUIRE(b.reserve(2).retry_after == 2s);
    b.set_rate(token_rate(1, 2s));
    CHECK(b.try_acquire().retry_after == 6s);
  }
  SECTION("set_rate that cannot represent the burst throws and changes nothing") {
    CHECK_THROWS_AS(b.set_rate(token_rate(1, std::chrono::hours(24 * 365 * 100))), limit_config_error);
    CHECK(b.rate() == token_rate(1, 1s));
    CHECK(b.available() == 6);
  }
  SECTION("set_burst lower clamps, higher keeps the count") {
    b.set_burst(3);
    CHECK(b.available() == 3);
    CHECK(b.burst() == 3);
    b.set_burst(20);
    CHECK(b.available() == 3);
    clock.advance(30s);
    CHECK(b.available() == 20);
    CHECK_THROWS_AS(b.set_burst(0), limit_config_error);
    CHECK(b.burst() == 20);
  }
  SECTION("many reconfigurations in a row") {
    for (int i = 0; i < 100; ++i) {
      b.set_rate(token_rate(1 + i % 3, 1s));
      b.set_burst(10 + i % 2);
    }
    CHECK(b.available() == 6);
  }
}

TEST_CASE("a multi_thread bucket keeps a retired block only for a real change", "[limits][token_bucket]") {
  // Retired parameter blocks live until the bucket is destroyed (a reader may
  // still hold one). A host that re-applies its configuration periodically
  // must not grow the bucket without bound: an unchanged rate or burst keeps
  // the current block.
  manual_clock clock;
  bucket<multi_thread> b(token_rate(10, 13s), 10, clock);
  REQUIRE(b.try_acquire(4).allowed);
  CHECK(b.heap_bytes() == 0);
  for (int i = 0; i < 1000; ++i) {
    b.set_rate(token_rate(20, 26s));  // the same rate, written differently
    b.set_burst(10);
  }
  CHECK(b.heap_bytes() == 0);
  CHECK(b.available() == 6);
  b.set_rate(token_rate(1, 1s));
  const std::size_t one = b.heap_bytes();
  CHECK(one > 0);
  for (int i = 0; i < 10; ++i) b.set_burst(11 + i % 2);
  CHECK(b.heap_bytes() == 11 * one);
  CHECK(b.available() == 6);
  bucket<single_thread> st(token_rate(1, 1s), 3, clock);
  st.set_rate(token_rate(2, 1s));
  CHECK(st.heap_bytes() == 0);
}

TEMPLATE_TEST_CASE("a clock that steps backwards adds nothing", "[limits][token_bucket]",
                   single_thread, multi_thread) {
  manual_clock clock(manual_clock::time_point(std::chrono::hours(1000)));
  bucket<TestType> b(token_rate(1, 1s), 5, clock);
  drain(b);
  clock.advance(2s);
  CHECK(b.available() == 2);
  clock.advance(-10s);
  CHECK(b.available() == 0);
  CHECK_FALSE(b.try_acquire().allowed);
  CHECK(b.try_acquire().retry_after == 9s);
  clock.advance(10s);
  CHECK(b.available() == 2);  // the same two tokens, not more
  SECTION("a full bucket stays at its burst when time jumps back and forth") {
    clock.advance(1h);
    CHECK(b.available() == 5);
    clock.advance(-1h);
    CHECK(b.available() <= 5);
    clock.advance(2h);
    CHECK(b.try_acquire(5).allowed);
    CHECK(b.available() == 0);
  }
}

TEMPLATE_TEST_CASE("a clock that steps far backwards adds nothing, however far", "[limits][token_bucket]",
                   single_thread, multi_thread) {
  // At 123 456 789 per second (p = 123 456 789 ticks per ns) a step back of
  // 2^62 / p ns (37 s) used to make the 64-bit tick difference look like a
  // long idle period: a drained bucket read as full and admitted a burst.
  // Steps past 2^63 / p ns (75 s) wrapped the other way, with the same result.
  const token_rate rate(123'456'789, 1s);
  const std::uint64_t burst = 1'000;
  // A generator, not a loop: every SECTION below runs for every step.
  const auto back = std::chrono::nanoseconds(GENERATE(
      std::int64_t{1'000'000'000}, std::int64_t{9'000'000'000}, std::int64_t{19'000'000'000},
      std::int64_t{36'000'000'000}, std::int64_t{38'000'000'000}, std::int64_t{75'000'000'000},
      std::int64_t{76'000'000'000}, std::int64_t{149'000'000'000}, std::int64_t{150'000'000'000},
      std::int64_t{3'600'000'000'000}, std::int64_t{1'576'800'000'000'000'000}));  // ... 50 years
  INFO("stepped back " << back.count() << " ns");
  manual_clock clock(manual_clock::time_point(std::chrono::hours(24) * 365 * 100));
  bucket<TestType> b(rate, burst, clock);
  drain(b);
  const auto written = clock.now();
  clock.advance(-back);
  CHECK(b.available() == 0);
  CHECK_FALSE(b.evictable(clock.now(), 0ns));
  const auto d = b.try_acquire(1);
  CHECK_FALSE(d.allowed);
  CHECK(d.retry_after >= std::min<std::chrono::nanoseconds>(back, 37s));  // exact below ~37 s
  CHECK(b.try_acquire(burst).reason == limit_reason::limited);
  CHECK_FALSE(b.reserve(1, 1s).allowed);
  SECTION("a refund while behind gives back what it says, no more") {
    CHECK(b.refund(3) <= 3);
    // Back at the time of the write, the bucket holds what was refunded;
    // 9 ns later (at 0.123 tokens per ns) one more.
    clock.set(written);
    CHECK(b.available() == 3);
    CHECK_FALSE(b.try_acquire(4).allowed);
    clock.advance(std::chrono::nanoseconds(9));
    CHECK(b.available() == 4);
  }
  SECTION("a rate or burst change while behind lifts nothing") {
    b.set_burst(2 * burst);
    b.set_rate(token_rate(123'456'789, 2s));
    // Back at the write the bucket is still empty, and it refills at no
    // more than the new rate (17 ns at 0.0617 tokens per ns: one token).
    clock.set(written);
    CHECK(b.available() == 0);
    CHECK_FALSE(b.try_acquire(1).allowed);
    clock.advance(std::chrono::nanoseconds(17));
    CHECK(b.available() <= 1);
    CHECK_FALSE(b.try_acquire(2).allowed);
  }
  SECTION("back at the write, the bucket refills from where it was") {
    clock.set(written);
    CHECK(b.available() == 0);
    clock.advance(std::chrono::nanoseconds(9));
    CHECK(b.available() == 1);
  }
}

TEMPLATE_TEST_CASE("a burst change behind a bucket deep in debt forgives no debt", "[limits][token_bucket]",
                   single_thread, multi_thread) {
  // Borrowed to near the debt limit at t0, then reconfigured at a time
  // before t0: the level read there is below the debt limit, and clamping
  // it up to the limit (instead of moving along the word's line to where it
  // reaches the limit) forgave about 10^9 tokens of debt in multi_thread,
  // whose reading a few seconds before its hint is not held at all.
  const auto t0 = manual_clock::time_point(std::chrono::hours(24) * 365 * 100);
  manual_clock clock(t0);
  const token_rate rate(123'456'789, 1s);
  const std::uint64_t burst = 2'000'000'000;
  bucket<TestType> b(rate, burst, clock);
  std::uint64_t admitted = 0;
  for (const std::uint64_t n : {burst, burst, std::uint64_t{300'000'000}}) {
    REQUIRE(b.reserve(n, std::chrono::nanoseconds::max(), t0).allowed);
    admitted += n;
  }
  const auto back = std::chrono::nanoseconds(GENERATE(std::int64_t{9'000'000'000}, std::int64_t{20'000'000'000},
                                                      std::int64_t{3'600'000'000'000}));
  INFO("reconfigured " << back.count() << " ns before the debt was taken");
  b.set_burst(burst + 1, t0 - back);
  // Greedy until t0 + 20 s: never more than the burst plus the refill since t0.
  for (auto t = t0; t <= t0 + 20s; t += 100ms) {
    if (b.try_acquire(b.burst(), t).allowed) {
      admitted += b.burst();
    } else if (const auto k = b.available(t); k != 0 && b.try_acquire(k, t).allowed) {
      admitted += k;
    }
  }
  CHECK(admitted <= burst + 1 + 20 * 123'456'789u);
}

TEMPLATE_TEST_CASE("a bucket stays evictable-safe when swept with an old time", "[limits][token_bucket]",
                   single_thread, multi_thread) {
  // keyed<>::sweep(now) passes a time read before taking each shard lock;
  // a time older than a bucket's last write must never make it look fresh.
  manual_clock clock(manual_clock::time_point(std::chrono::hours(1000)));
  bucket<TestType> b(token_rate(123'456'789, 1s), 10, clock);
  drain(b);
  for (const auto back : {1s, 40s, 80s, 160s, 3600s}) {
    INFO("swept " << back.count() << " s in the past");
    CHECK_FALSE(b.evictable(clock.now() - back, 0ns));
  }
  CHECK_FALSE(b.evictable(clock.now(), 0ns));
}

TEMPLATE_TEST_CASE("a bucket is evictable only when full for the idle time", "[limits][token_bucket]",
                   single_thread, multi_thread) {
  manual_clock clock;
  bucket<TestType> b(token_rate(1, 1s), 5, clock);
  CHECK(b.evictable(clock.now(), 0ns));
  CHECK_FALSE(b.evictable(clock.now(), 1ns));
  REQUIRE(b.try_acquire(2).allowed);
  CHECK_FALSE(b.evictable(clock.now(), 0ns));
  clock.advance(2s - 1ns);
  CHECK_FALSE(b.evictable(clock.now(), 0ns));
  clock.advance(1ns);
  CHECK(b.evictable(clock.now(), 0ns));
  CHECK_FALSE(b.evictable(clock.now(), 1min));
  clock.advance(1min);
  CHECK(b.evictable(clock.now(), 1min));
}

TEMPLATE_TEST_CASE("a bucket idle for any length of time reads as full", "[limits][token_bucket]",
                   single_thread, multi_thread) {
  // The 64-bit tick difference wraps after 2^64 / p ns, where p is the reduced
  // numerator of tokens per ns: 771 days at 0.000277/s (p = 277), 5 hours at
  // 1 000 003 per second, 149 s at 123 456 789 per second. Without the
  // bucket's record of when its word was written, idle periods between 0.75
  // and 1 times that read as a debt (refusing for up to a quarter of it) and
  // then, periodically, as partly full.
  struct rate_case {
    token_rate rate;
    std::uint64_t burst;
    std::chrono::nanoseconds wrap;  // 2^64 / p ns
  };
  const rate_case cases[] = {
      {token_rate(277, std::chrono::seconds(1'000'000)), 3, std::chrono::hours(24) * 771},
      {token_rate(1'000'003, 1s), 1'000'003, std::chrono::nanoseconds(18'446'688'733'643)},
      {token_rate(123'456'789, 1s), 123'456'789, std::chrono::nanoseconds(149'418'628'356)},
      {token_rate(1'000'003, 7s), 10, std::chrono::nanoseconds(18'446'688'733'643)},
  };
  for (const auto& rc : cases) {
    for (const double f : {0.01, 0.5, 0.74, 0.76, 0.9, 0.999, 1.0, 1.001, 1.5, 1.76, 2.9, 10.0, 1000.0}) {
      // An idle time past what a nanosecond clock holds (292 years) is no
      // idle time at all: converted to int64 it was a backward step (x86
      // turns the out-of-range double into INT64_MIN), which this test once
      // took for a long idle period and expected to read as full.
      if (static_cast<double>(rc.wrap.count()) * f > 4e18) continue;
      manual_clock clock;
      bucket<TestType> b(rc.rate, rc.burst, clock);
      REQUIRE(b.try_acquire(rc.burst).allowed);
      // The idle time, as a fraction of the wrap period (f < 0.5 on the
      // smallest rates is less than a refill: skip those).
      const auto idle = std::chrono::nanoseconds(static_cast<std::int64_t>(static_cast<double>(rc.wrap.count()) * f));
      clock.advance(idle);
      const auto want = std::min<std::uint64_t>(
          rc.burst, static_cast<std::uint64_t>((static_cast<tollgate::limits::detail::u128>(idle.count()) *
                                                rc.rate.numerator()) /
                                               rc.rate.denominator()));
      INFO("rate " << rc.rate.numerator() << "/" << rc.rate.denominator() << " per ns, idle " << f
                   << " x the wrap period");
      CHECK(b.available() == want);
      CHECK(b.evictable(clock.now(), 0ns) == (want == rc.burst));
      const auto d = b.try_acquire(rc.burst);
      CHECK(d.allowed == (want == rc.burst));
    }
  }
}

TEMPLATE_TEST_CASE("a long idle period after a debt, a refund or a rate change still reads as full",
                   "[limits][token_bucket]", single_thread, multi_thread) {
  manual_clock clock;
  bucket<TestType> b(token_rate(123'456'789, 1s), 1000, clock);
  SECTION("after borrowing") {
    REQUIRE(b.try_acquire(1000).allowed);
    REQUIRE(b.reserve(500, 1h).allowed);
    CHECK(b.available() == 0);
  }
  SECTION("after a refund") {
    REQUIRE(b.try_acquire(1000).allowed);
    CHECK(b.refund(10) == 10);
  }
  SECTION("after a rate change") {
    REQUIRE(b.try_acquire(1000).allowed);
    b.set_rate(token_rate(987'654'321, 1s));
    CHECK(b.available() == 0);
  }
  for (const auto idle : {std::chrono::nanoseconds(112s), std::chrono::nanoseconds(140s), std::chrono::nanoseconds(1h),
                          std::chrono::nanoseconds(std::chrono::hours(24) * 400)}) {
    clock.advance(idle);
    INFO("idle for " << idle.count() << " ns more");
    CHECK(b.available() == 1000);
    CHECK(b.evictable(clock.now(), 1s));
    REQUIRE(b.try_acquire(1000).allowed);
    CHECK(b.available() == 0);
  }
}

TEST_CASE("a single_thread bucket is a copyable value", "[limits][token_bucket]") {
  manual_clock clock;
  bucket<single_thread> a(token_rate(1, 1s), 2, clock);
  REQUIRE(a.try_acquire().allowed);
  bucket<single_thread> b = a;
  REQUIRE(b.try_acquire().allowed);
  CHECK(a.available() == 1);
  CHECK(b.available() == 0);
}

TEST_CASE("explicit time overloads use the given time", "[limits][token_bucket]") {
  manual_clock clock;
  bucket<multi_thread> b(token_rate(1, 1s), 2, clock);
  const auto t0 = clock.now();
  REQUIRE(b.try_acquire(2, t0).allowed);
  CHECK(b.available(t0 + 1s) == 1);
  CHECK(b.try_acquire(1, t0 + 1s).allowed);
  CHECK(b.reserve(1, 10s, t0 + 1s).retry_after == 1s);
  CHECK(b.refund(1, t0 + 1s) == 0);
  b.set_rate(token_rate(2, 1s), t0 + 1s);
  b.set_burst(4, t0 + 1s);
  CHECK(b.available(t0 + 2s) == 2);
}
