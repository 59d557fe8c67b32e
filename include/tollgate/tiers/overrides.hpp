// Enterprise overrides: an account's own limits, per model or per group
// (including unlimited), its own spend cap and its own promotion criteria,
// each carrying who set it and why. A limit or spend cap override may be set
// in shadow mode: decisions against it are computed and reported to the
// observer but not enforced, so a provider can try a limit before it bites.
// resolve_limits() gives, for (table, tier, overrides, model, group), the
// limits enforced and the shadow ones; resolve_spend_cap() the same for the
// cap; account_criteria is the CriteriaSource of promotion.hpp with the
// account's own criteria. Plain values: the ledger will store them as opaque
// bytes (codec.hpp), knowing nothing of what they mean.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "../core/detail/group_name.hpp"
#include "../core/error.hpp"
#include "../core/format.hpp"
#include "../core/money.hpp"
#include "tier_table.hpp"

namespace tollgate {

/// Whether an override bites.
enum class override_mode : std::uint8_t {
  enforced = 1,  ///< decisions follow it
  shadow = 2,    ///< decisions are computed against it and reported, not enforced
};

/// What an override replaces: one model's limits, or its group's.
enum class override_scope : std::uint8_t { model = 1, group = 2 };

[[nodiscard]] constexpr std::string_view to_string(override_mode m) noexcept {
  return m == override_mode::shadow ? "shadow" : "enforced";
}
[[nodiscard]] constexpr std::string_view to_string(override_scope s) noexcept {
  return s == override_scope::group ? "group" : "model";
}

/// Who set an override and why (both kept with it, for reports and audits).
struct override_note {
  std::string set_by{};  ///< 1-128 bytes, e.g. "ops:alice"
  std::string reason{};  ///< 1-1024 bytes, e.g. "contract 2026-114: launch week"
  friend bool operator==(const override_note&, const override_note&) = default;
};

/// An account's own concurrency and/or daily limit for a model or a group.
/// A field left empty is not overridden.
struct limit_override {
  override_scope scope = override_scope::model;
  std::string target{};                  ///< the model id, or the group name
  std::optional<job_limit> concurrent{};
  std::optional<job_limit> daily{};
  override_mode mode = override_mode::enforced;
  override_note note{};
  friend bool operator==(const limit_override&, const limit_override&) = default;
};

/// An account's own cap on the dollars it may buy in any rolling 30 days.
struct spend_cap_override {
  spend_cap cap{};
  override_mode mode = override_mode::enforced;
  override_note note{};
  friend bool operator==(const spend_cap_override&, const spend_cap_override&) = default;
};

/// An account's own criteria for reaching tier `tier`.
struct criteria_override {
  tier_id tier{};
  promotion_criteria criteria{};
  override_note note{};
  friend bool operator==(const criteria_override&, const criteria_override&) = default;
};

/**
 * Everything overridden for one account. At most one limit override per
 * (scope, target, mode), one spend cap per mode, one criteria per tier
 * (validate_overrides() checks).
 */
struct account_overrides {
  std::vector<limit_override> limits{};
  std::vector<spend_cap_override> spend_caps{};
  std::vector<criteria_override> criteria{};
  [[nodiscard]] bool empty() const noexcept { return limits.empty() && spend_caps.empty() && criteria.empty(); }
  friend bool operator==(const account_overrides&, const account_overrides&) = default;
};

/**
 * The limits that apply to one model of an account: `enforced`, and `shadow`
 * when a shadow override touches the model (what would apply if the shadow
 * overrides were enforced). For each field the most specific override wins:
 * the model's over its group's over the table; at one scope a shadow override
 * wins over an enforced one in the shadow view only. `concurrent_from` and
 * `daily_from` point at the override behind each enforced field (null: the
 * table), for reports that say who set a limit and why; they point into the
 * account_overrides given.
 */
struct resolved_limits {
  group_limits enforced{};
  std::optional<group_limits> shadow{};
  const limit_override* concurrent_from = nullptr;
  const limit_override* daily_from = nullptr;
};

/// The spend cap that applies to an account, enforced and shadow (see resolved_limits).
struct resolved_spend_cap {
  spend_cap enforced{};
  std::optional<spend_cap> shadow{};
  const spend_cap_override* from = nullptr;  ///< the enforced override, or null (the table)
};

namespace tiers::detail {

// The override for (scope, target, mode), or null.
[[nodiscard]] inline const limit_override* find_limit(const account_overrides& o, override_scope scope,
                                                      std::string_view target, override_mode mode) noexcept {
  for (const limit_override& l : o.limits)
    if (l.scope == scope && l.mode == mode && l.target == target) return &l;
  return nullptr;
}

// One field through the overrides, most specific first; sets `from` to the
// override that gave it (when `from` is not null).
template <class Field>
[[nodiscard]] job_limit pick(std::initializer_list<const limit_override*> order, Field field,
                             const job_limit& table, const limit_override** from) {
  for (const limit_override* l : order)
    if (l && (l->*field)) {
      if (from) *from = l;
      return *(l->*field);
    }
  return table;
}

}  // namespace tiers::detail

/**
 * The limits of `model` (in group `group`, an index into t.groups()) for an
 * account at tier index `tier`, with its overrides `o` (null: none).
 * Allocates nothing; O(overrides).
 */
[[nodiscard]] inline resolved_limits resolve_limits(const tier_table& t, std::size_t tier,
                                                    const account_overrides* o, std::string_view model,
                                                    std::size_t group) {
  using tiers::detail::find_limit;
  using tiers::detail::pick;
  resolved_limits r;
  r.enforced = t.limits(tier, group);
  if (!o || o->limits.empty()) return r;
  const std::string_view gname = t.groups()[group];
  const auto* me = find_limit(*o, override_scope::model, model, override_mode::enforced);
  const auto* ge = find_limit(*o, override_scope::group, gname, override_mode::enforced);
  const auto* ms = find_limit(*o, override_scope::model, model, override_mode::shadow);
  const auto* gs = find_limit(*o, override_scope::group, gname, override_mode::shadow);
  const group_limits table = r.enforced;
  r.enforced.concurrent = pick({me, ge}, &limit_override::concurrent, table.concurrent, &r.concurrent_from);
  r.enforced.daily = pick({me, ge}, &limit_override::daily, table.daily, &r.daily_from);
  if (ms || gs)
    r.shadow = group_limits{pick({ms, me, gs, ge}, &limit_override::concurrent, table.concurrent, nullptr),
                            pick({ms, me, gs, ge}, &limit_override::daily, table.daily, nullptr)};
  return r;
}

/// The spend cap of an account at tier index `tier` with overrides `o` (null: none).
[[nodiscard]] inline resolved_spend_cap resolve_spend_cap(const tier_table& t, std::size_t tier,
                                                          const account_overrides* o) {
  resolved_spend_cap r;
  r.enforced = t.at(tier).max_spend;
  if (!o) return r;
  for (const spend_cap_override& s : o->spend_caps) {
    if (s.mode == override_mode::enforced) {
      r.enforced = s.cap;
      r.from = &s;
    } else {
      r.shadow = s.cap;
    }
  }
  return r;
}

/**
 * A CriteriaSource (promotion.hpp): the table's criteria, with the account's
 * own for the tiers it has them for. Custom criteria are not bound by the
 * table's order (an account may reach tier 4 before tier 3's criteria hold):
 * promotion takes the highest tier whose criteria hold either way.
 */
struct account_criteria {
  const tier_table* table;
  const account_overrides* overrides;  ///< may be null
  [[nodiscard]] const promotion_criteria& operator()(std::size_t index) const noexcept {
    const tier& t = table->at(index);
    if (overrides)
      for (const criteria_override& c : overrides->criteria)
        if (c.tier == t.id) return c.criteria;
    return t.criteria;
  }
};

namespace tiers::detail {

[[nodiscard]] inline std::string note_problem(const override_note& n) {
  if (auto why = text_problem(n.set_by, 128); !why.empty()) return "note.set_by: " + why;
  if (auto why = text_problem(n.reason, 1024); !why.empty()) return "note.reason: " + why;
  return {};
}

[[nodiscard]] inline std::string limit_problem(const limit_override& l) {
  if (l.scope != override_scope::model && l.scope != override_scope::group) return "scope: unknown scope";
  if (l.mode != override_mode::enforced && l.mode != override_mode::shadow) return "mode: unknown mode";
  if (l.scope == override_scope::group && !::tollgate::detail::valid_group_name(l.target))
    return fmt::format("target: '{}' is not a group name (1 to 64 of a-z 0-9 _ - .)", l.target);
  if (l.scope == override_scope::model && (l.target.empty() || l.target.size() > 128))
    return "target: a model id has 1 to 128 characters";
  if (!l.concurrent && !l.daily) return "overrides nothing: give concurrent, daily or both";
  const auto zero = [](const std::optional<job_limit>& x) { return x && !x->is_unlimited() && x->max() == 0; };
  if (zero(l.concurrent)) return "concurrent: must be at least 1 (or unlimited)";
  if (zero(l.daily)) return "daily: must be at least 1 (or unlimited)";
  return note_problem(l.note);
}

[[nodiscard]] inline std::string limits_problem(const std::vector<limit_override>& ls) {
  for (std::size_t i = 0; i < ls.size(); ++i) {
    const limit_override& l = ls[i];
    if (auto why = limit_problem(l); !why.empty()) return fmt::format("limits[{}]: {}", i, why);
    for (std::size_t j = 0; j < i; ++j)
      if (ls[j].scope == l.scope && ls[j].mode == l.mode && ls[j].target == l.target)
        return fmt::format("limits[{}]: repeats limits[{}] ({} '{}', {})", i, j, to_string(l.scope), l.target,
                           to_string(l.mode));
  }
  return {};
}

[[nodiscard]] inline std::string caps_problem(const std::vector<spend_cap_override>& cs) {
  for (std::size_t i = 0; i < cs.size(); ++i) {
    const spend_cap_override& c = cs[i];
    if (c.mode != override_mode::enforced && c.mode != override_mode::shadow)
      return fmt::format("spend_caps[{}]: mode: unknown mode", i);
    if (!c.cap.is_unlimited() && !c.cap.max().is_positive())
      return fmt::format("spend_caps[{}]: cap: must be positive (or unlimited), got ${}", i, c.cap.max().to_string());
    for (std::size_t j = 0; j < i; ++j)
      if (cs[j].mode == c.mode) return fmt::format("spend_caps[{}]: repeats spend_caps[{}] ({})", i, j, to_string(c.mode));
    if (auto why = note_problem(c.note); !why.empty()) return fmt::format("spend_caps[{}]: {}", i, why);
  }
  return {};
}

[[nodiscard]] inline std::string criteria_problem(const std::vector<criteria_override>& cs) {
  for (std::size_t i = 0; i < cs.size(); ++i) {
    const criteria_override& c = cs[i];
    const auto bad = [&](std::string_view why) { return fmt::format("criteria[{}]: {}", i, why); };
    if (c.tier.value == 0) return bad("tier: must be at least 1");
    if (c.criteria.purchased.is_negative()) return bad("purchased: must not be negative");
    if (c.criteria.min_age.count() < 0 || c.criteria.min_age > tier_table::max_min_age)
      return bad(fmt::format("min_age: must be 0 to {} days", tier_table::max_min_age.count()));
    for (std::size_t j = 0; j < i; ++j)
      if (cs[j].tier == c.tier) return bad(fmt::format("repeats criteria[{}] (tier {})", j, c.tier.value));
    if (auto why = note_problem(c.note); !why.empty()) return bad(why);
  }
  return {};
}

}  // namespace tiers::detail

/**
 * Checks an account's overrides: notes of 1-128 (set_by) and 1-1024 (reason)
 * bytes of UTF-8 without control characters; limit targets that are model ids
 * or group names, each override setting something, limits of at least 1 or
 * unlimited, spend caps positive or unlimited, criteria of at least $0 and 0
 * to 36,500 days for a tier id of at least 1; no two overrides of the same
 * thing (scope, target and mode; a spend cap's mode; a criteria's tier).
 * @return errc::invalid_argument naming the override (`limits[2].note.reason`)
 *         and the reason; nothing else.
 */
[[nodiscard]] inline result<void> validate_overrides(const account_overrides& o) {
  std::string why = tiers::detail::limits_problem(o.limits);
  if (why.empty()) why = tiers::detail::caps_problem(o.spend_caps);
  if (why.empty()) why = tiers::detail::criteria_problem(o.criteria);
  if (why.empty()) return {};
  return result<void>(errc::invalid_argument, "override " + why);
}

}  // namespace tollgate
