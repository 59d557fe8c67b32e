// The built-in tier table: the five usage tiers of the Runway API (limits per
// model group, a 30-day spend cap, promotion by dollars purchased and days
// since the first purchase), compiled in so a host needs no file. The same
// table ships as data/runway-tiers.json (load it with tollgate/json/tiers.hpp)
// and a test proves the two agree. The built-in catalog (pricing/runway.hpp)
// puts each model in one of these groups.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "../core/money.hpp"
#include "tier_table.hpp"

namespace tollgate {

/**
 * The default tiers (groups video, image, audio, video_premium, upscale):
 *
 * | tier | concurrent      | created / 24 h                   | spend / 30 days | criteria            |
 * | ---- | --------------- | -------------------------------- | --------------- | ------------------- |
 * | 1    | 1, 2, 2, 1, 1   | 50, 200, 200, 50, 50             | $100            | none                |
 * | 2    | 3 each          | 500, 1000, 1000, 500, 1000       | $500            | $50, 1 day          |
 * | 3    | 5 each          | 1000, 2000, 2000, 1000, 2000     | $2,000          | $100, 7 days        |
 * | 4    | 10 each         | 5000, 10000, 10000, 5000, 10000  | $20,000         | $1,000, 14 days     |
 * | 5    | 20 each         | 25000, 30000, 30000, 25000, 30000| $100,000        | $5,000, 30 days     |
 *
 * Days count from the account's first purchase.
 */
[[nodiscard]] inline tier_table runway_tiers() {
  using days = std::chrono::days;
  using row = std::array<std::uint64_t, 5>;
  const auto make = [](std::uint32_t id, usd purchased, days age, usd cap, row concurrent, row daily) {
    tier t{.id = tier_id{id}, .name = fmt::format("Tier {}", id),
           .criteria = promotion_criteria{.purchased = std::move(purchased), .min_age = age},
           .max_spend = spend_cap(std::move(cap))};
    for (std::size_t g = 0; g < concurrent.size(); ++g)
      t.limits.push_back(group_limits{job_limit(concurrent[g]), job_limit(daily[g])});
    return t;
  };
  std::vector<tier> tiers;
  tiers.push_back(make(1, usd(0), days(0), usd(100), {1, 2, 2, 1, 1}, {50, 200, 200, 50, 50}));
  tiers.push_back(make(2, usd(50), days(1), usd(500), {3, 3, 3, 3, 3}, {500, 1000, 1000, 500, 1000}));
  tiers.push_back(make(3, usd(100), days(7), usd(2'000), {5, 5, 5, 5, 5},
                       {1000, 2000, 2000, 1000, 2000}));
  tiers.push_back(make(4, usd(1'000), days(14), usd(20'000), {10, 10, 10, 10, 10},
                       {5000, 10000, 10000, 5000, 10000}));
  tiers.push_back(make(5, usd(5'000), days(30), usd(100'000), {20, 20, 20, 20, 20},
                       {25000, 30000, 30000, 25000, 30000}));
  return tier_table({"video", "image", "audio", "video_premium", "upscale"}, std::move(tiers));
}

/// The built-in table, built once on first use (thread-safe), alive until exit.
[[nodiscard]] inline const tier_table& runway_tier_table() {
  static const tier_table t = runway_tiers();
  return t;
}

}  // namespace tollgate
