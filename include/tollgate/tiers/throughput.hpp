// How long a batch of jobs of one model takes under one tier's limits for it:
// how many rolling-24-hour windows its creations span under the daily cap,
// and how long from the first submission to the last completion when at most
// `concurrent` of them run at once, each taking the same generation time.
// The budget planner (planner.hpp) asks this of every model of a plan at
// every tier. Pure and exact, in integer milliseconds; a schedule longer
// than plan_horizon is reported as such rather than computed.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "../core/detail/integer.hpp"
#include "../core/error.hpp"
#include "tier_table.hpp"

namespace tollgate {

/// The longest span the planner computes: 36,500 days (100 years). A
/// schedule or a purchase path beyond it is reported as beyond.
inline constexpr std::chrono::days plan_horizon{36'500};

/// When `jobs` jobs of one model can run under one tier's limits for it.
struct throughput {
  /// The rolling-24-hour windows the creations span: ceil(jobs / max_daily),
  /// 1 when the daily cap is unlimited, 0 for no jobs. Exact at any size.
  std::uint64_t days = 0;
  /// From the first submission to the last completion; empty when that is
  /// past plan_horizon.
  std::optional<std::chrono::milliseconds> duration{};
  friend bool operator==(const throughput&, const throughput&) = default;
};

namespace tiers::detail {

inline constexpr std::int64_t day_ms = 86'400'000;

}  // namespace tiers::detail

/**
 * The throughput of `jobs` jobs of one model under `limits`, each taking
 * `generation` to run (>= 0; asserted).
 *
 * The jobs are submitted as early as the daily cap allows: job i (from 0)
 * at floor(i / D) × 24 h (with a rolling window, job i needs job i - D to be
 * 24 hours old); jobs past the concurrency C wait in FIFO order, as the gate
 * queues them (THROTTLED), and each needs a free slot. With equal generation
 * times T, job i starts when it is created or when job i - C ends, whichever
 * is later, so each slot is a single queue and the last job ends at
 *
 *     T + max over windows w < K of (w × 24 h + floor((N - 1 - w D) / C) × T)
 *
 * for N jobs over K = ceil(N / D) windows: the first job of window w in the
 * last job's slot, with everything after it in that slot run back to back.
 * O(K); K past plan_horizon's days is not walked.
 */
[[nodiscard]] inline throughput job_throughput(std::uint64_t jobs, const group_limits& limits,
                                               std::chrono::milliseconds generation) {
  using u128 = tollgate::detail::u128;
  TOLLGATE_ASSERT(generation.count() >= 0, "job_throughput: a negative generation time");
  throughput out;
  if (jobs == 0) {
    out.duration = std::chrono::milliseconds{0};
    return out;
  }
  const std::uint64_t daily = limits.daily.is_unlimited() ? jobs : limits.daily.max();
  const std::uint64_t concurrent = limits.concurrent.is_unlimited() ? jobs : limits.concurrent.max();
  out.days = tollgate::detail::ceil_div(jobs, daily);
  const auto horizon_days = static_cast<std::uint64_t>(plan_horizon.count());
  if (out.days > horizon_days) return out;
  const auto t = static_cast<u128>(generation.count());
  u128 latest = 0;  // the largest start of the last job's run of back-to-back jobs
  for (std::uint64_t w = 0; w < out.days; ++w) {
    const std::uint64_t first = w * daily;  // < jobs: w < ceil(jobs / daily)
    const u128 start = static_cast<u128>(w) * tiers::detail::day_ms +
                               static_cast<u128>((jobs - 1 - first) / concurrent) * t;
    if (start > latest) latest = start;
  }
  const u128 end = latest + t;
  const auto horizon_ms = static_cast<u128>(plan_horizon.count()) * tiers::detail::day_ms;
  if (end <= horizon_ms) out.duration = std::chrono::milliseconds{static_cast<std::int64_t>(end)};
  return out;
}

}  // namespace tollgate
