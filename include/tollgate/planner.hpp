// The budget planner: what a plan of jobs asks of an account beyond its cost.
// From the catalog it takes each model's group (whose tier limits apply) and
// kind; from the tier table, each tier's daily caps, concurrency, spend cap
// and promotion criteria. For the account's tier and each tier above it, it
// says how many days the plan's submissions span under the daily caps, how
// long the plan runs at the tier's concurrency, when the account could have
// bought the plan's credits and stand at that tier, and so which tier would
// finish the plan first. alternatives() prices one job on every other model
// of its kind that takes the same usage, cheapest first. It combines pricing/
// and tiers/, so it sits beside the gate. Pure functions, thread-safe.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/money.hpp"
#include "pricing/catalog.hpp"
#include "pricing/quote.hpp"
#include "pricing/usage.hpp"
#include "tiers/promotion.hpp"
#include "tiers/purchase_path.hpp"
#include "tiers/throughput.hpp"
#include "tiers/tier_table.hpp"

namespace tollgate {

/**
 * The time one job of a model takes to generate when the plan gives none,
 * by what the model produces: 60 s for video, 15 s for an image, 10 s for
 * audio. Not published by any provider: an assumption for planning, which a
 * plan overrides per model ("generation_seconds").
 */
[[nodiscard]] constexpr std::chrono::milliseconds default_generation_time(media_kind k) noexcept {
  switch (k) {
    case media_kind::video: return std::chrono::seconds{60};
    case media_kind::image: return std::chrono::seconds{15};
    case media_kind::audio: return std::chrono::seconds{10};
  }
  return std::chrono::seconds{60};
}

/// The longest generation time a plan may give a model: a day.
inline constexpr std::chrono::milliseconds max_generation_time = std::chrono::hours{24};

/// What a plan asks of one model: how many jobs, each taking how long.
struct model_demand {
  std::string model{};
  /// The catalog's group of the model; empty: no tier limits apply to it.
  std::string group{};
  std::uint64_t jobs = 0;
  std::chrono::milliseconds generation{};
};

/// One model of a plan at one tier: the tier's limits for it and its throughput.
struct model_schedule {
  std::string model{};
  std::uint64_t jobs = 0;
  group_limits limits{};  ///< unlimited both ways for a model without a group
  std::chrono::milliseconds generation{};
  throughput run{};
};

/**
 * A plan at one tier. Models have limits of their own and run side by side,
 * so the plan spans the most days of any model and runs as long as its
 * longest model (empty when one is past plan_horizon).
 */
struct tier_schedule {
  std::size_t tier = 0;  ///< its index in the table
  std::vector<model_schedule> models{};
  std::uint64_t days = 0;
  std::optional<std::chrono::milliseconds> duration{};
};

/**
 * The schedule of `demand` at tier `index` of `t` (see job_throughput).
 * @return the schedule, or errc::invalid_argument naming a model whose group
 *         the table does not have.
 */
[[nodiscard]] inline result<tier_schedule> schedule_plan(const tier_table& t, std::size_t index,
                                                         std::span<const model_demand> demand) {
  TOLLGATE_ASSERT(index < t.size(), "schedule_plan: tier index out of range");
  tier_schedule s;
  s.tier = index;
  s.duration = std::chrono::milliseconds{0};
  for (const model_demand& m : demand) {
    model_schedule ms{.model = m.model, .jobs = m.jobs, .generation = m.generation};
    if (!m.group.empty()) {
      const auto g = t.group_index(m.group);
      if (!g)
        return result<tier_schedule>(
            errc::invalid_argument,
            fmt::format("model '{}' is in group '{}', which the tier table does not have (it has {})", m.model,
                        m.group, detail::join(t.groups())));
      ms.limits = t.limits(index, *g);
    }
    ms.run = job_throughput(m.jobs, ms.limits, m.generation);
    s.days = std::max(s.days, ms.run.days);
    if (!ms.run.duration) s.duration.reset();
    else if (s.duration) s.duration = std::max(*s.duration, *ms.run.duration);
    s.models.push_back(std::move(ms));
  }
  return s;
}

/**
 * One tier the plan could run at: its schedule, the fastest way to have
 * bought the plan's credits and stand at it, and when the plan would finish
 * if the account waited for both and then ran the whole plan there (empty
 * when either is past plan_horizon).
 */
template <class TimePoint>
struct basic_tier_option {
  tier_schedule schedule{};
  basic_purchase_path<TimePoint> purchases{};
  std::optional<TimePoint> finish{};
};

/**
 * The plan at the account's tier and at each tier above it, lowest first;
 * `soonest` is the position in `tiers` of the earliest finish (ties: the
 * lower tier), empty when none finishes within the horizon.
 */
template <class TimePoint>
struct basic_plan_outlook {
  std::vector<basic_tier_option<TimePoint>> tiers{};
  std::optional<std::size_t> soonest{};
};

/**
 * The outlook of a plan that asks `demand` of the models and costs `cost`
 * dollars, for an account standing as `account` at `now` (its tier is
 * tier_for its facts). The credits are bought from nothing (a balance the
 * account already has is not counted).
 * @return the outlook, or schedule_plan's error.
 */
template <class TimePoint>
[[nodiscard]] result<basic_plan_outlook<TimePoint>> plan_outlook(const tier_table& t,
                                                                 const basic_account_standing<TimePoint>& account,
                                                                 TimePoint now, std::span<const model_demand> demand,
                                                                 const usd& cost) {
  basic_plan_outlook<TimePoint> out;
  for (std::size_t i = tier_for(t, account.facts, now); i < t.size(); ++i) {
    auto s = schedule_plan(t, i, demand);
    if (!s) return result<basic_plan_outlook<TimePoint>>(s.error());
    basic_tier_option<TimePoint> o{.schedule = std::move(*s),
                                   .purchases = fastest_purchases(t, account, now, cost, i)};
    if (o.purchases.done_at && o.schedule.duration) o.finish = *o.purchases.done_at + *o.schedule.duration;
    if (o.finish && (!out.soonest || *o.finish < *out.tiers[*out.soonest].finish)) out.soonest = out.tiers.size();
    out.tiers.push_back(std::move(o));
  }
  return out;
}

/**
 * `j` priced on every other model of the catalog that makes the same kind of
 * media and takes the same usage, cheapest charge first (ties in catalog
 * order). The catalog does not know what a model is for (text to video,
 * video to video, upscaling), so a person reads the list.
 * @return the quotes (they point into `c`), or the catalog's
 *         errc::unknown_model for j.model.
 */
template <class R>
[[nodiscard]] result<std::vector<quote>> alternatives(const basic_catalog<R>& c, const job& j) {
  const model_spec* own = c.find(j.model);
  if (!own) return result<std::vector<quote>>(c.quote(j).error());
  std::vector<quote> out;
  for (const model_spec& m : c.models()) {
    if (m.id == own->id || m.kind != own->kind) continue;
    if (auto q = c.quote(m.id, j.usage)) out.push_back(std::move(*q));
  }
  std::stable_sort(out.begin(), out.end(), [](const quote& a, const quote& b) { return a.charged < b.charged; });
  return out;
}

}  // namespace tollgate
