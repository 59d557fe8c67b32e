// The fastest way up: when an account could have bought a number of dollars
// of credits and stand at a given tier, buying as much as each moment's
// 30-day spend cap allows, as soon as it allows it. Purchases count toward
// promotion and promotion raises the cap, so the path is walked event by
// event: a purchase now, then the next moment anything changes (age alone
// promotes the account, or an old purchase leaves the spend window). The
// budget planner (planner.hpp) asks it how soon a plan's credits can be
// bought and a faster tier reached. Pure; exact to the nanosecond.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "../core/money.hpp"
#include "detail/time.hpp"
#include "promotion.hpp"
#include "spend_cap.hpp"
#include "throughput.hpp"
#include "tier_table.hpp"

namespace tollgate {

/// What the planner knows of an account: its promotion facts and its
/// purchases of the spend window (sorted by time, oldest first).
template <class TimePoint>
struct basic_account_standing {
  basic_account_facts<TimePoint> facts{};
  std::vector<basic_spend_entry<TimePoint>> recent{};
};

/**
 * The least an account at tier `index` of `t` can have done, at `now`: it
 * bought exactly the tier's purchase threshold, all of it in one purchase
 * exactly the tier's minimum age ago (at `now` when the tier asks for no
 * age), and it is recorded at that tier. The entry tier's is an account that
 * has bought nothing. What `tollgate-estimate --plan --tier N` assumes.
 */
template <class TimePoint>
[[nodiscard]] basic_account_standing<TimePoint> account_just_promoted(const tier_table& t, std::size_t index,
                                                                      TimePoint now) {
  const tier& row = t.at(index);
  basic_account_standing<TimePoint> s;
  s.facts.recorded = row.id;
  if (row.criteria.purchased.is_zero()) return s;
  const TimePoint first = now - row.criteria.min_age;
  s.facts.purchased = row.criteria.purchased;
  s.facts.first_purchase = first;
  if (now < first + spend_window) s.recent.push_back({first, row.criteria.purchased});
  return s;
}

/**
 * A way up: `done_at` is when the account has bought the dollars asked for
 * and stands at the tier asked for (empty: not within plan_horizon of now,
 * or never: a tier that asks only for age, of an account that has not bought
 * anything and has nothing to buy); `tier` is its tier then (it may be higher
 * than asked), and `purchases` what it buys on the way, oldest first.
 */
template <class TimePoint>
struct basic_purchase_path {
  std::optional<TimePoint> done_at{};
  std::size_t tier = 0;
  std::vector<basic_spend_entry<TimePoint>> purchases{};
  /// The dollars bought on the way.
  [[nodiscard]] usd total() const {
    usd sum;
    for (const auto& p : purchases) sum += p.amount;
    return sum;
  }
};

namespace tiers::detail {

// The dollars still to buy: what is asked for beyond what was bought on
// the way, or what the target tier's threshold still needs, whichever is more.
[[nodiscard]] inline usd still_to_buy(const usd& asked, const usd& bought, const usd& purchased,
                                      const usd& threshold) {
  const usd a = asked > bought ? asked - bought : usd{};
  const usd b = threshold > purchased ? threshold - purchased : usd{};
  return a > b ? a : b;
}

// Buys what `room` allows of `need` at `now` (nothing when it allows nothing).
template <class TimePoint>
void buy_now(basic_account_standing<TimePoint>& s, basic_purchase_path<TimePoint>& path, const limit<usd>& room,
             const usd& need, TimePoint now) {
  const usd amount = room.is_unlimited() || need <= room.max() ? need : room.max();
  if (!amount.is_positive()) return;
  s.facts.purchased += amount;
  if (!s.facts.first_purchase) s.facts.first_purchase = now;
  s.recent.push_back({now, amount});
  path.purchases.push_back({now, amount});
}

// The purchases of `s.recent` still in the window at `now`, the rest dropped
// (the path's memory then follows the window, not the horizon).
template <class TimePoint>
void drop_expired(basic_account_standing<TimePoint>& s, TimePoint now) {
  const std::span<const basic_spend_entry<TimePoint>> all(s.recent);
  const std::size_t first = first_in_window(all, to_ns(now), ns_of(spend_window));
  s.recent.erase(s.recent.begin(), s.recent.begin() + static_cast<std::ptrdiff_t>(first));
}

}  // namespace tiers::detail

/**
 * The earliest time, from `now` on, at which an account standing as `start`
 * has bought `dollars` more and stands at tier `target` (an index of `t`),
 * buying as much as each moment's spend cap allows as soon as it allows it.
 * Each step buys what is still needed (the dollars asked for, or what the
 * target's purchase threshold needs if more), up to the room under the
 * current tier's cap, then waits for the next change: a promotion by age
 * (promotion_outlook's due_at) or, while something is still to buy, the
 * oldest purchase leaving the window. Buying earlier never hurts (it counts
 * toward promotion sooner and leaves the window sooner), so no path is
 * faster. Uses the table's criteria and caps. O(steps × window), a step per
 * promotion or per purchase leaving the window.
 */
template <class TimePoint>
[[nodiscard]] basic_purchase_path<TimePoint> fastest_purchases(const tier_table& t,
                                                               basic_account_standing<TimePoint> start,
                                                               TimePoint now, const usd& dollars,
                                                               std::size_t target) {
  namespace d = tiers::detail;
  TOLLGATE_ASSERT(target < t.size(), "fastest_purchases: target tier out of range");
  const TimePoint until = now + plan_horizon;
  basic_purchase_path<TimePoint> path;
  for (TimePoint at = now;;) {
    d::drop_expired(start, at);
    const usd& threshold = t.at(target).criteria.purchased;
    usd need = d::still_to_buy(dollars, path.total(), start.facts.purchased, threshold);
    std::size_t tier = tier_for(t, start.facts, at);
    if (need.is_positive()) {
      const auto room = spend_room<TimePoint>(start.recent, t.at(tier).max_spend, at);
      d::buy_now(start, path, room.room, need, at);
      need = d::still_to_buy(dollars, path.total(), start.facts.purchased, threshold);
      tier = tier_for(t, start.facts, at);
    }
    if (!need.is_positive() && tier >= target) {
      path.done_at = at;
      path.tier = tier;
      return path;
    }
    std::optional<TimePoint> next = promotion_outlook(t, start.facts, at).due_at;
    if (need.is_positive()) {
      const auto frees = spend_room<TimePoint>(start.recent, t.at(tier).max_spend, at).frees_at;
      if (frees && (!next || *frees < *next)) next = frees;
    }
    if (!next || until < *next) return path;
    at = *next;
  }
}

}  // namespace tollgate
