// Promotion: an account's tier as a pure function of its purchase figures
// (cumulative dollars, time of the first purchase), the tier already recorded
// for it, and now. The tier is the highest whose criteria all hold, never lower
// than the recorded one: no sequence of purchases, clock readings or reloaded
// tables ever moves an account down. promotion_outlook() says what the next
// tier needs and when age alone will promote the account; that time is what
// the promotion_schedule (schedule.hpp) keeps per account so that a sweep costs
// O(accounts due), not O(accounts).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "../core/money.hpp"
#include "detail/time.hpp"
#include "tier_table.hpp"

namespace tollgate {

/**
 * What promotion is computed from. `recorded` is the tier already recorded
 * for the account (tier_id{0}: none yet, the entry tier).
 */
template <class TimePoint>
struct basic_account_facts {
  usd purchased{};                            ///< cumulative dollars purchased
  std::optional<TimePoint> first_purchase{};  ///< none before the first purchase
  tier_id recorded{};
};

/// The criteria of tier `index` in the table: the default source of criteria.
struct table_criteria {
  const tier_table* table;
  [[nodiscard]] const promotion_criteria& operator()(std::size_t index) const noexcept {
    return table->at(index).criteria;
  }
};

/// A source of criteria: tier index -> promotion_criteria (the table's, or an
/// account's own where it has custom ones; see overrides.hpp).
template <class C>
concept CriteriaSource = requires(const C& c, std::size_t i) {
  { c(i) } -> std::convertible_to<const promotion_criteria&>;
};

/**
 * True when `f` meets `c` at `now`: purchases of at least c.purchased, and,
 * when c.min_age is not zero, a first purchase at least c.min_age before now
 * (exactly: 6 days 23:59:59.999999999 is not 7 days).
 */
template <class TimePoint>
[[nodiscard]] bool criteria_hold(const promotion_criteria& c, const basic_account_facts<TimePoint>& f,
                                 TimePoint now) {
  if (f.purchased < c.purchased) return false;
  if (c.min_age.count() == 0) return true;
  if (!f.first_purchase) return false;
  return tiers::detail::elapsed_at_least(tiers::detail::to_ns(*f.first_purchase), tiers::detail::to_ns(now),
                                         tiers::detail::ns_of(c.min_age));
}

/**
 * The position in `t` of the account's tier at `now`: the highest tier whose
 * criteria (from `criteria`) hold, and never below the recorded one
 * (t.floor_index(f.recorded)). Pure; O(tiers above the record).
 */
template <class TimePoint, CriteriaSource C>
[[nodiscard]] std::size_t tier_for(const tier_table& t, const basic_account_facts<TimePoint>& f,
                                   TimePoint now, const C& criteria) {
  const std::size_t floor = t.floor_index(f.recorded);
  for (std::size_t i = t.size() - 1; i > floor; --i)
    if (criteria_hold(criteria(i), f, now)) return i;
  return floor;
}

/// tier_for with the table's own criteria.
template <class TimePoint>
[[nodiscard]] std::size_t tier_for(const tier_table& t, const basic_account_facts<TimePoint>& f,
                                   TimePoint now) {
  return tier_for(t, f, now, table_criteria{&t});
}

/**
 * Where an account stands and what its next promotion needs.
 *
 * `next` is the tier just above `current` (none at the top); for it,
 * `purchases_needed` is how many more dollars the account must buy (0 when it
 * has bought enough), and its age criterion either needs no age
 * (`old_enough_at` empty, `needs_first_purchase` false), waits for a first
 * purchase (`needs_first_purchase`), or holds from `old_enough_at`.
 *
 * `due_at` is the earliest time at which the account reaches a higher tier
 * (any, not only `next`) without buying anything more: when age alone will
 * promote it. Empty when no higher tier is waiting only for age. That is the
 * time a promotion_schedule keeps for the account.
 */
template <class TimePoint>
struct basic_promotion_outlook {
  std::size_t current = 0;
  std::optional<std::size_t> next{};
  usd purchases_needed{};
  std::optional<TimePoint> old_enough_at{};
  bool needs_first_purchase = false;
  std::optional<TimePoint> due_at{};
};

/// The outlook of `f` at `now` in `t` (see basic_promotion_outlook). Pure.
template <class TimePoint, CriteriaSource C>
[[nodiscard]] basic_promotion_outlook<TimePoint> promotion_outlook(const tier_table& t,
                                                                   const basic_account_facts<TimePoint>& f,
                                                                   TimePoint now, const C& criteria) {
  namespace d = tiers::detail;
  basic_promotion_outlook<TimePoint> o;
  o.current = tier_for(t, f, now, criteria);
  const auto aged_at = [&](const promotion_criteria& c) -> std::optional<std::int64_t> {
    if (c.min_age.count() == 0 || !f.first_purchase) return std::nullopt;
    return d::add_sat(d::to_ns(*f.first_purchase), d::ns_of(c.min_age));
  };
  if (o.current + 1 < t.size()) {
    const promotion_criteria& c = criteria(o.current + 1);
    o.next = o.current + 1;
    if (f.purchased < c.purchased) o.purchases_needed = c.purchased - f.purchased;
    o.needs_first_purchase = c.min_age.count() != 0 && !f.first_purchase;
    if (const auto at = aged_at(c)) o.old_enough_at = d::from_ns<TimePoint>(*at);
  }
  // A higher tier whose purchases are met holds from its age on; the first
  // such time is when age alone promotes the account. (It is after now: a
  // tier that already held would be the current one.)
  std::optional<std::int64_t> due;
  for (std::size_t i = o.current + 1; i < t.size(); ++i) {
    const promotion_criteria& c = criteria(i);
    if (f.purchased < c.purchased) continue;
    if (const auto at = aged_at(c); at && (!due || *at < *due)) due = at;
  }
  if (due) o.due_at = d::from_ns<TimePoint>(*due);
  return o;
}

/// promotion_outlook with the table's own criteria.
template <class TimePoint>
[[nodiscard]] basic_promotion_outlook<TimePoint> promotion_outlook(const tier_table& t,
                                                                   const basic_account_facts<TimePoint>& f,
                                                                   TimePoint now) {
  return promotion_outlook(t, f, now, table_criteria{&t});
}

}  // namespace tollgate
