// job_throughput: the days a batch of jobs spans under a daily cap and how
// long it runs at a concurrency, exactly, against a discrete-event reference
// (a FIFO queue of jobs created as the rolling 24 hours allow, taking the
// earliest free slot), and the horizon past which it is not computed.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <queue>
#include <random>
#include <vector>

#include <tollgate/tiers/throughput.hpp>

#include "support.hpp"

using namespace tollgate;
using namespace std::chrono_literals;
using ms = std::chrono::milliseconds;

namespace {

group_limits caps(std::uint64_t concurrent, std::uint64_t daily) {
  return {job_limit(concurrent), job_limit(daily)};
}

// The reference: job i is created at floor(i / daily) days and starts at the
// earliest free slot at or after that, in order; the last end wins.
std::int64_t simulate(std::uint64_t jobs, std::uint64_t concurrent, std::uint64_t daily, std::int64_t t) {
  std::priority_queue<std::int64_t, std::vector<std::int64_t>, std::greater<>> free_at;
  for (std::uint64_t s = 0; s < concurrent; ++s) free_at.push(0);
  std::int64_t end = 0;
  for (std::uint64_t i = 0; i < jobs; ++i) {
    const std::int64_t created = static_cast<std::int64_t>(i / daily) * 86'400'000;
    const std::int64_t start = std::max(created, free_at.top());
    free_at.pop();
    free_at.push(start + t);
    end = std::max(end, start + t);
  }
  return end;
}

}  // namespace

TEST_CASE("200 jobs at 50 a day, one at a time, a minute each: 4 days, done 3 days 00:50 after the first") {
  const throughput r = job_throughput(200, caps(1, 50), 60s);
  CHECK(r.days == 4);
  REQUIRE(r.duration);
  CHECK(*r.duration == std::chrono::days(3) + 50min);
}

TEST_CASE("a day's jobs that take longer than a day run back to back into the next") {
  // 50 jobs of an hour a day, one at a time: never idle, 100 hours.
  const throughput r = job_throughput(100, caps(1, 50), 1h);
  CHECK(r.days == 2);
  CHECK(r.duration == ms(100h));
  // 120 jobs of 40 minutes: the first day's backlog decides (80 hours), not the last day.
  CHECK(job_throughput(120, caps(1, 50), 40min).duration == ms(80h));
}

TEST_CASE("unlimited limits: all created at once; all running at once") {
  SECTION("unlimited daily cap: one window, ceil(jobs / concurrent) generations") {
    const throughput r = job_throughput(10, {job_limit(3), job_limit::unlimited()}, 60s);
    CHECK(r.days == 1);
    CHECK(r.duration == ms(240s));
  }
  SECTION("unlimited concurrency: the last window's jobs start when created") {
    const throughput r = job_throughput(120, {job_limit::unlimited(), job_limit(50)}, 90s);
    CHECK(r.days == 3);
    CHECK(r.duration == ms(std::chrono::days(2) + 90s));
  }
  SECTION("both unlimited: one generation") {
    CHECK(job_throughput(1'000'000, {}, 7s).duration == ms(7s));
  }
  SECTION("no jobs: no days, no time") {
    const throughput r = job_throughput(0, caps(1, 1), 60s);
    CHECK(r.days == 0);
    CHECK(r.duration == ms(0));
  }
}

TEST_CASE("the daily cap and the concurrency exactly at their edges") {
  // 50 jobs fit one window, 51 need two; 2 slots take 2 jobs per generation, the third waits.
  CHECK(job_throughput(50, caps(50, 50), 60s).days == 1);
  CHECK(job_throughput(51, caps(51, 50), 60s).days == 2);
  CHECK(job_throughput(51, caps(51, 50), 60s).duration == ms(std::chrono::days(1) + 60s));
  CHECK(job_throughput(2, caps(2, 200), 15s).duration == ms(15s));
  CHECK(job_throughput(3, caps(2, 200), 15s).duration == ms(30s));
}

TEST_CASE("the horizon: 36,500 days are computed, 36,501 are not") {
  const throughput at = job_throughput(36'500, caps(1, 1), 1min);
  CHECK(at.days == 36'500);
  CHECK(at.duration == ms(std::chrono::days(36'499) + 1min));
  const throughput past = job_throughput(36'501, caps(1, 1), 1min);
  CHECK(past.days == 36'501);
  CHECK_FALSE(past.duration);
  // One window, but 2^40 generations of a day one at a time: past it too, without overflow.
  const throughput slow = job_throughput(std::uint64_t{1} << 40, {job_limit(1), job_limit::unlimited()}, 24h);
  CHECK(slow.days == 1);
  CHECK_FALSE(slow.duration);
  // The days are exact however many jobs there are.
  CHECK(job_throughput(UINT64_MAX, caps(1, 2), 1s).days == UINT64_MAX / 2 + 1);
}

TEST_CASE("job_throughput agrees with the discrete-event reference") {
  std::mt19937_64 rng(tiers_test::seed());
  INFO("seed " << tiers_test::seed() << " (TOLLGATE_TEST_SEED)");
  const std::int64_t times[] = {0, 1, 999, 60'000, 3'600'000, 86'400'000, 90'000'000, 7 * 3'600'000 + 13};
  for (int n = 0; n < 3000; ++n) {
    const std::uint64_t jobs = rng() % 400;
    const std::uint64_t concurrent = 1 + rng() % 12;
    const std::uint64_t daily = 1 + rng() % 120;
    const std::int64_t t = rng() % 4 == 0 ? static_cast<std::int64_t>(rng() % 200'000'000) : times[rng() % 8];
    INFO("jobs " << jobs << ", concurrent " << concurrent << ", daily " << daily << ", t " << t << " ms");
    const throughput r = job_throughput(jobs, caps(concurrent, daily), ms(t));
    REQUIRE(r.days == (jobs + daily - 1) / daily);
    REQUIRE(r.duration == ms(simulate(jobs, concurrent, daily, t)));
  }
}
