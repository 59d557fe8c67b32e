// The table of usage tiers: what each tier allows and what it takes to reach
// it. A tier has an id and a name, promotion criteria (cumulative dollars
// purchased, minimum days since the first purchase), a cap on the dollars an
// account may spend on credits in any rolling 30 days, and, for each model
// group, a maximum of concurrent jobs and a maximum of jobs created in any
// rolling 24 hours (each possibly unlimited). Models map to groups in the
// catalog (pricing/); this header knows only group names, so tiers/ and
// pricing/ stay apart and meet in the gate. A table is immutable after
// construction and refuses bad configuration there with tier_table_error,
// naming the field as the JSON shape does (docs/tiers.md).
#pragma once

#include <algorithm>
#include <chrono>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "../core/error.hpp"
#include "../core/money.hpp"
#include "../core/units.hpp"
#include "../core/detail/group_name.hpp"

namespace tollgate {

/**
 * A maximum, or none at all (`unlimited()`). Unlike std::optional, the empty
 * state has one meaning here: no limit. A value type.
 */
template <class T>
class limit {
 public:
  /// Unlimited.
  limit() = default;
  /// At most `max`.
  explicit limit(T max) : max_(std::move(max)) {}
  [[nodiscard]] static limit unlimited() { return limit(); }

  [[nodiscard]] bool is_unlimited() const noexcept { return !max_.has_value(); }
  /// The maximum; asserts !is_unlimited().
  [[nodiscard]] const T& max() const noexcept {
    TOLLGATE_ASSERT(max_.has_value(), "limit::max() of an unlimited limit");
    return *max_;
  }
  /// True when `amount` is within the limit (always, when unlimited).
  [[nodiscard]] bool allows(const T& amount) const { return !max_ || amount <= *max_; }

  friend bool operator==(const limit&, const limit&) = default;

 private:
  std::optional<T> max_;
};

/// A maximum count of jobs (running at once, or created in 24 hours).
using job_limit = limit<std::uint64_t>;
/// A maximum of dollars spent on credits in any rolling 30 days.
using spend_cap = limit<usd>;

/// "12", or "unlimited".
template <class T>
[[nodiscard]] std::string to_string(const limit<T>& l) {
  if (l.is_unlimited()) return "unlimited";
  if constexpr (Amount<T>) return "$" + l.max().to_string();
  else return fmt::format("{}", l.max());
}

/// What a tier allows for each model of one group: the model's own running
/// jobs and its own jobs created in the last 24 hours are counted against these.
struct group_limits {
  job_limit concurrent;  ///< jobs running at once (more wait, THROTTLED)
  job_limit daily;       ///< jobs created in any rolling 24 hours (more are refused)
  friend bool operator==(const group_limits&, const group_limits&) = default;
};

/// What an account needs to reach a tier: both must hold.
struct promotion_criteria {
  usd purchased{};                   ///< cumulative dollars purchased, at least
  std::chrono::days min_age{0};      ///< since the first purchase, at least
  /// True when the criteria ask for nothing (the entry tier's).
  [[nodiscard]] bool none() const { return purchased.is_zero() && min_age.count() == 0; }
  friend bool operator==(const promotion_criteria&, const promotion_criteria&) = default;
};

/// A tier's stable identity (1 to 5 in the default table). Recorded tiers are
/// ids, not positions, so they keep their meaning when a table is reloaded.
struct tier_id {
  std::uint32_t value = 0;
  friend auto operator<=>(const tier_id&, const tier_id&) = default;
};

/// One row of a tier_table.
struct tier {
  tier_id id{};
  std::string name{};
  promotion_criteria criteria{};
  spend_cap max_spend{};              ///< per rolling 30 days
  std::vector<group_limits> limits{};  ///< one per group, in tier_table::groups() order
  friend bool operator==(const tier&, const tier&) = default;
};

/**
 * A tier table refused at construction: the field, named as in the JSON shape
 * ("tiers[2].criteria.purchased_usd", "groups[1]"), and why. A config_error
 * whose source() is "tier table" and whose path() is the field.
 */
class tier_table_error : public config_error {
 public:
  tier_table_error(std::string field, std::string reason)
      : config_error(fmt::format("invalid tier table: {}: {}", field, reason), "tier table", field, reason) {}

  /// The field: the same as path().
  [[nodiscard]] const std::string& field() const noexcept { return path(); }
};

namespace tiers::detail {

// A display name: 1 to max_size bytes of valid UTF-8 without control
// characters (C0, DEL, C1). Returns why not, or an empty string.
[[nodiscard]] inline std::string text_problem(std::string_view s, std::size_t max_size) {
  if (s.empty()) return "must not be empty";
  if (s.size() > max_size) return fmt::format("must be at most {} bytes, got {}", max_size, s.size());
  if (auto n = count_characters(s); !n) return n.error().message();
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const bool c1 = c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) < 0xA0;
    if (c < 0x20 || c == 0x7F || c1)
      return fmt::format("must not contain control characters (byte {})", i);
  }
  return {};
}

}  // namespace tiers::detail

/**
 * The usage tiers, lowest first, and the model groups their limits name.
 *
 * Rules checked at construction (tier_table_error otherwise): 1 to
 * max_groups groups, each named by 1 to 64 of a-z 0-9 _ - . and none
 * repeated; 1 to max_tiers tiers with ids strictly increasing from at least 1;
 * names of 1 to 64 bytes of UTF-8 without control characters; criteria of at
 * least $0 and 0 to 36,500 days; each tier has
 * limits for every group; the first tier asks for nothing (it is where every
 * account starts); the criteria never fall from one tier to the next (a tier
 * never asks for less than the one below it); a spend cap, when given, is
 * positive.
 *
 * Immutable after construction: every member is const and thread-safe.
 */
class tier_table {
 public:
  static constexpr std::size_t max_tiers = 64;
  static constexpr std::size_t max_groups = 64;
  static constexpr std::size_t max_name_size = 64;
  /// The longest age a criterion may ask for: 100 years (so that every age
  /// is exact in nanoseconds).
  static constexpr std::chrono::days max_min_age{36'500};

  tier_table(std::vector<std::string> groups, std::vector<tier> tiers)
      : groups_(std::move(groups)), tiers_(std::move(tiers)) {
    check_groups(groups_);
    check_tiers();
  }

  /// Throws tier_table_error unless `groups` are valid group names (the
  /// first check of the constructor, for loaders that read groups first).
  static void check_groups(const std::vector<std::string>& groups) {
    if (groups.empty()) fail("groups", "needs at least one group");
    if (groups.size() > max_groups)
      fail("groups", fmt::format("at most {} groups, got {}", max_groups, groups.size()));
    for (std::size_t g = 0; g < groups.size(); ++g) {
      const std::string& name = groups[g];
      const std::string field = fmt::format("groups[{}]", g);
      if (!::tollgate::detail::valid_group_name(name))
        fail(field, fmt::format("'{}': a group name has 1 to {} of a-z 0-9 _ - .", name,
                                ::tollgate::detail::max_group_name_size));
      for (std::size_t h = 0; h < g; ++h)
        if (groups[h] == name) fail(field, fmt::format("'{}' repeats groups[{}]", name, h));
    }
  }

  /// The group names, in the order of each tier's `limits`.
  [[nodiscard]] const std::vector<std::string>& groups() const noexcept { return groups_; }
  /// The position of group `name`, or nullopt.
  [[nodiscard]] std::optional<std::size_t> group_index(std::string_view name) const noexcept {
    for (std::size_t g = 0; g < groups_.size(); ++g)
      if (groups_[g] == name) return g;
    return std::nullopt;
  }

  /// The tiers, lowest first.
  [[nodiscard]] std::span<const tier> tiers() const noexcept { return tiers_; }
  [[nodiscard]] std::size_t size() const noexcept { return tiers_.size(); }
  /// The tier at `index` (0: the entry tier); asserts index < size().
  [[nodiscard]] const tier& at(std::size_t index) const noexcept {
    TOLLGATE_ASSERT(index < tiers_.size(), "tier_table::at: index out of range");
    return tiers_[index];
  }
  /// The position of the tier `id`, or nullopt.
  [[nodiscard]] std::optional<std::size_t> index_of(tier_id id) const noexcept {
    for (std::size_t i = 0; i < tiers_.size(); ++i)
      if (tiers_[i].id == id) return i;
    return std::nullopt;
  }
  /**
   * The position of the lowest tier whose id is at least `id`: where an
   * account recorded at `id` stands in this table (never below its record).
   * When every id here is lower (a table that dropped the top tiers), the top
   * tier.
   */
  [[nodiscard]] std::size_t floor_index(tier_id id) const noexcept {
    for (std::size_t i = 0; i < tiers_.size(); ++i)
      if (tiers_[i].id >= id) return i;
    return tiers_.size() - 1;
  }

  /// The limits of tier `index` for group `group`; asserts both in range.
  [[nodiscard]] const group_limits& limits(std::size_t index, std::size_t group) const noexcept {
    TOLLGATE_ASSERT(group < groups_.size(), "tier_table::limits: group out of range");
    return at(index).limits[group];
  }

  friend bool operator==(const tier_table&, const tier_table&) = default;

 private:
  [[noreturn]] static void fail(std::string field, std::string reason) {
    throw tier_table_error(std::move(field), std::move(reason));
  }

  void check_tiers() const {
    if (tiers_.empty()) fail("tiers", "needs at least one tier");
    if (tiers_.size() > max_tiers)
      fail("tiers", fmt::format("at most {} tiers, got {}", max_tiers, tiers_.size()));
    for (std::size_t i = 0; i < tiers_.size(); ++i) check_tier(i);
  }

  void check_tier(std::size_t i) const {
    const tier& t = tiers_[i];
    const std::string at = fmt::format("tiers[{}]", i);
    if (t.id.value == 0) fail(at + ".id", "must be at least 1");
    if (i > 0 && t.id <= tiers_[i - 1].id)
      fail(at + ".id", fmt::format("must be greater than the tier below ({}), got {}",
                                   tiers_[i - 1].id.value, t.id.value));
    if (auto why = tiers::detail::text_problem(t.name, max_name_size); !why.empty())
      fail(at + ".name", why);
    check_criteria(i);
    if (!t.max_spend.is_unlimited() && !t.max_spend.max().is_positive())
      fail(at + ".max_spend_usd", fmt::format("must be positive (or null: unlimited), got ${}",
                                          t.max_spend.max().to_string()));
    if (t.limits.size() != groups_.size())
      fail(at + ".limits", fmt::format("needs limits for each of the {} groups, got {}",
                                       groups_.size(), t.limits.size()));
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      // A maximum of 0 would queue every job for ever or refuse it: a model
      // a tier must not use is left out of the catalog instead.
      const std::string lp = fmt::format("{}.limits.{}", at, groups_[g]);
      const auto zero = [](const job_limit& l) { return !l.is_unlimited() && l.max() == 0; };
      if (zero(t.limits[g].concurrent))
        fail(lp + ".max_concurrent", "must be at least 1 (or null: unlimited)");
      if (zero(t.limits[g].daily)) fail(lp + ".max_daily", "must be at least 1 (or null: unlimited)");
    }
  }

  void check_criteria(std::size_t i) const {
    const promotion_criteria& c = tiers_[i].criteria;
    const std::string at = fmt::format("tiers[{}].criteria", i);
    if (c.purchased.is_negative())
      fail(at + ".purchased_usd", fmt::format("must not be negative, got ${}", c.purchased.to_string()));
    if (c.min_age.count() < 0 || c.min_age > max_min_age)
      fail(at + ".min_days", fmt::format("must be 0 to {} days, got {}", max_min_age.count(),
                                         c.min_age.count()));
    if (i == 0) {
      if (!c.none())
        fail(at, "the first tier is where every account starts: it must ask for nothing");
      return;
    }
    const promotion_criteria& below = tiers_[i - 1].criteria;
    if (c.purchased < below.purchased)
      fail(at + ".purchased_usd", fmt::format("must not be less than the tier below (${}), got ${}",
                                          below.purchased.to_string(), c.purchased.to_string()));
    if (c.min_age < below.min_age)
      fail(at + ".min_days", fmt::format("must not be less than the tier below ({} days), got {} days",
                                        below.min_age.count(), c.min_age.count()));
  }

  std::vector<std::string> groups_;
  std::vector<tier> tiers_;
};

}  // namespace tollgate

template <>
struct fmt::formatter<tollgate::tier_id> : fmt::formatter<std::uint32_t> {
  template <class FormatContext>
  auto format(tollgate::tier_id t, FormatContext& ctx) const {
    return fmt::formatter<std::uint32_t>::format(t.value, ctx);
  }
};
