// Randomized test of basic_token_bucket against an exact reference model in
// rational arithmetic (boost::multiprecision::cpp_rational): the level in
// tokens is min(burst, (t - z) * rate) with z a rational time. Thousands of
// random operations (acquire, reserve, refund, set_rate, set_burst, time
// steps forward, frozen and backwards) are applied to both and every decision
// and the available count are compared after each step. The seed is printed
// on failure; TOLLGATE_TEST_SEED replays it.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <vector>

#include <boost/multiprecision/cpp_int.hpp>

#include <tollgate/limits/token_bucket.hpp>

#include "test_seed.hpp"

using namespace std::chrono_literals;
using boost::multiprecision::cpp_int;
using boost::multiprecision::cpp_rational;
using tollgate::limit_decision;
using tollgate::limit_reason;
using tollgate::manual_clock;
using tollgate::token_rate;

namespace {

cpp_int floor_q(const cpp_rational& x) {
  const cpp_int n = boost::multiprecision::numerator(x);
  const cpp_int d = boost::multiprecision::denominator(x);
  cpp_int q = n / d;
  if (n % d != 0 && n < 0) q -= 1;
  return q;
}
cpp_int ceil_q(const cpp_rational& x) { return -floor_q(-x); }

std::chrono::nanoseconds to_ns(const cpp_int& v) {
  if (v > cpp_int(std::numeric_limits<std::int64_t>::max())) return std::chrono::nanoseconds::max();
  return std::chrono::nanoseconds(static_cast<std::int64_t>(v));
}

// The reference: exact rationals, no ticks, no wrap-around.
struct model {
  cpp_rational rate;  // tokens per ns
  std::uint64_t q;    // ticks per token of the current rate (the tick unit)
  cpp_int burst;
  cpp_rational z;  // ns at which the level is zero

  model(const token_rate& r, std::uint64_t b, std::int64_t t)
      : rate(cpp_rational(cpp_int(r.numerator()), cpp_int(r.denominator()))),
        q(r.denominator()),
        burst(b) {
    set_level(t, cpp_rational(burst));
  }
  [[nodiscard]] cpp_rational level(std::int64_t t) const {
    const cpp_rational l = (cpp_rational(t) - z) * rate;
    return l > cpp_rational(burst) ? cpp_rational(burst) : l;
  }
  void set_level(std::int64_t t, const cpp_rational& l) { z = cpp_rational(t) - l / rate; }
  [[nodiscard]] std::uint64_t whole(const cpp_rational& l) const {
    return l > 0 ? static_cast<std::uint64_t>(floor_q(l)) : 0;
  }
  [[nodiscard]] cpp_rational max_debt() const {  // 2^61 ticks, in tokens
    return cpp_rational(cpp_int(1) << 61, cpp_int(q));
  }

  limit_decision acquire(std::int64_t t, std::uint64_t n) {
    const cpp_rational l = level(t);
    if (cpp_int(n) > burst) return {false, whole(l), std::chrono::nanoseconds::max(), limit_reason::exceeds_burst};
    if (l >= cpp_rational(n) || n == 0) {  // zero tokens: always allowed, nothing changes
      const cpp_rational after = n == 0 ? l : l - n;
      if (n != 0) set_level(t, after);
      return {true, whole(after), 0ns, limit_reason::none};
    }
    return {false, whole(l), to_ns(ceil_q((cpp_rational(n) - l) / rate)), limit_reason::limited};
  }
  limit_decision reserve(std::int64_t t, std::uint64_t n, std::chrono::nanoseconds max_wait) {
    const cpp_rational l = level(t);
    if (cpp_int(n) > burst) return {false, whole(l), std::chrono::nanoseconds::max(), limit_reason::exceeds_burst};
    const cpp_rational after = l - n;
    if (after < -max_debt())
      return {false, 0, to_ns(ceil_q((-max_debt() - after) / rate)), limit_reason::wait_too_long};
    const cpp_int wait = after < 0 ? ceil_q(-after / rate) : cpp_int(0);
    if (wait > cpp_int(max_wait.count()))
      return {false, whole(l), to_ns(wait - max_wait.count()), limit_reason::wait_too_long};
    if (n != 0) set_level(t, after);
    return {true, whole(after), to_ns(wait), limit_reason::none};
  }
  std::uint64_t refund(std::int64_t t, std::uint64_t n) {
    const cpp_rational l = level(t);
    cpp_rational after = l + n;
    if (after > cpp_rational(burst)) after = cpp_rational(burst);
    if (after != l) set_level(t, after);  // like the bucket: an unchanged level keeps its anchor
    return whole(after);
  }
  void set_rate(std::int64_t t, const token_rate& r) {
    // The rate the bucket already has: nothing changes (the anchor stays).
    if (rate == cpp_rational(cpp_int(r.numerator()), cpp_int(r.denominator()))) return;
    const cpp_rational l = level(t);
    const std::uint64_t nq = r.denominator();
    // The new tick unit is 1/nq token; the bucket keeps the level rounded down to it.
    cpp_rational nl(floor_q(l * nq), cpp_int(nq));
    rate = cpp_rational(cpp_int(r.numerator()), cpp_int(r.denominator()));
    q = nq;
    if (nl > cpp_rational(burst)) nl = cpp_rational(burst);
    if (nl < -max_debt()) nl = -max_debt();
    set_level(t, nl);
  }
  void set_burst(std::int64_t t, std::uint64_t b) {
    if (burst == cpp_int(b)) return;  // the burst it already has: nothing changes
    cpp_rational l = level(t);
    burst = b;
    if (l > cpp_rational(burst)) l = cpp_rational(burst);
    set_level(t, l);
  }
};

struct rate_case {
  token_rate rate;
  std::uint64_t max_burst;
};

std::vector<rate_case> rate_cases() {
  return {
      {token_rate(277, std::chrono::seconds(1'000'000)), 50},  // 0.000277/s
      {token_rate(10, 13s), 20},
      {token_rate(1, 10'000s), 5},  // 0.0001/s
      {token_rate(8000, 1s), 8000},
      {token_rate(1'000'000'000, 1s), 1'000'000'000},
      {token_rate(1, std::chrono::hours(24)), 10},
      {token_rate(3, 1s), 10},
      {token_rate(7, 1min), 30},
      {token_rate(1'000'003, 7s), 1000},
  };
}

template <class S>
void run_model(std::uint64_t seed, int steps_per_case) {
  std::mt19937_64 rng(seed);
  auto pick = [&](std::uint64_t lo, std::uint64_t hi) {
    return std::uniform_int_distribution<std::uint64_t>(lo, hi)(rng);
  };
  const auto cases = rate_cases();
  for (std::size_t ci = 0; ci < cases.size(); ++ci) {
    const auto& rc = cases[ci];
    manual_clock clock(manual_clock::time_point(std::chrono::hours(24 * 365)));
    std::uint64_t burst = pick(1, rc.max_burst);
    tollgate::basic_token_bucket<manual_clock, S> b(rc.rate, burst, clock);
    model m(rc.rate, burst, clock.now().time_since_epoch().count());
    token_rate current = rc.rate;
    for (int step = 0; step < steps_per_case; ++step) {
      const std::int64_t t = clock.now().time_since_epoch().count();
      // The time of one token at the current rate, for scaling time steps.
      const auto token_ns = static_cast<std::int64_t>(
          std::max<std::uint64_t>(1, current.denominator() / current.numerator()));
      const std::uint64_t op = pick(0, 99);
      INFO("seed " << seed << " (TOLLGATE_TEST_SEED replays it), rate case " << ci << ", step " << step
                   << ", op " << op << ", burst " << burst);
      const std::uint64_t n = pick(0, 9) == 0 ? pick(0, burst + 2) : pick(0, std::min<std::uint64_t>(burst, 3));
      if (op < 40) {
        const auto got = b.try_acquire(n);
        const auto want = m.acquire(t, n);
        REQUIRE(got.allowed == want.allowed);
        REQUIRE(got.reason == want.reason);
        REQUIRE(got.remaining == want.remaining);
        REQUIRE(got.retry_after == want.retry_after);
      } else if (op < 52) {
        const auto max_wait = std::chrono::nanoseconds(
            pick(0, 3) == 0 ? static_cast<std::int64_t>(pick(0, 5)) * token_ns
                            : static_cast<std::int64_t>(pick(0, 30)) * token_ns);
        const auto got = b.reserve(n, max_wait);
        const auto want = m.reserve(t, n, max_wait);
        REQUIRE(got.allowed == want.allowed);
        REQUIRE(got.reason == want.reason);
        REQUIRE(got.remaining == want.remaining);
        REQUIRE(got.retry_after == want.retry_after);
      } else if (op < 60) {
        REQUIRE(b.refund(n) == m.refund(t, n));
      } else if (op < 63) {
        // Another rate of the table, or a random one: keeps tokens, drops what the new unit cannot hold.
        const token_rate nr = pick(0, 1) == 0 ? cases[pick(0, cases.size() - 1)].rate
                                              : token_rate(pick(1, 1000), std::chrono::milliseconds(pick(1, 100'000)));
        const bool fits = static_cast<tollgate::limits::detail::u128>(burst) * nr.denominator() <
                          (static_cast<tollgate::limits::detail::u128>(1) << 62);
        if (fits) {
          b.set_rate(nr);
          m.set_rate(t, nr);
          current = nr;
        } else {
          REQUIRE_THROWS_AS(b.set_rate(nr), tollgate::limit_config_error);
        }
      } else if (op < 65) {
        const std::uint64_t nb = pick(1, rc.max_burst);
        const bool fits = static_cast<tollgate::limits::detail::u128>(nb) * current.denominator() <
                          (static_cast<tollgate::limits::detail::u128>(1) << 62);
        if (fits) {
          b.set_burst(nb);
          m.set_burst(t, nb);
          burst = nb;
        }
      } else if (op < 95) {
        // Time moves on: a little, a token or two, or a lot.
        const std::uint64_t kind = pick(0, 9);
        std::int64_t d = 0;
        if (kind < 4) d = static_cast<std::int64_t>(pick(0, static_cast<std::uint64_t>(token_ns)));
        else if (kind < 8) d = static_cast<std::int64_t>(pick(0, 3 * static_cast<std::uint64_t>(token_ns)));
        else if (kind < 9) d = static_cast<std::int64_t>(pick(0, 2'000'000));
        else d = static_cast<std::int64_t>(pick(0, 50)) * token_ns;
        clock.advance(std::chrono::nanoseconds(d));
      } else if (op < 97) {
        // ... or steps back a little (never more than a few tokens' time).
        clock.advance(-std::chrono::nanoseconds(static_cast<std::int64_t>(pick(0, 2 * static_cast<std::uint64_t>(token_ns)))));
      }
      const std::int64_t t2 = clock.now().time_since_epoch().count();
      REQUIRE(b.available() == m.whole(m.level(t2)));
    }
  }
}

}  // namespace

TEST_CASE("token bucket matches an exact rational model (single_thread)", "[limits][token_bucket][model]") {
  run_model<tollgate::single_thread>(tollgate_test::test_seed(), 3000);
}

TEST_CASE("token bucket matches an exact rational model (multi_thread)", "[limits][token_bucket][model]") {
  run_model<tollgate::multi_thread>(tollgate_test::test_seed() + 1, 1000);
}
