// Tier state as opaque, versioned bytes: what the ledger will store for each
// account (its tier record, its promotions, its overrides, its autobilling
// settings and state) without knowing what a tier is. Each type's fields are
// listed once, below; encode_tier_state() and decode_tier_state<T>() both walk
// that list (detail/codec.hpp), so the two directions cannot disagree. To add
// a field: append it with `since` = the next version and bump `version`;
// older blobs then decode with the field's default, and a blob written by a
// newer build is refused rather than misread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>

#include "../core/error.hpp"
#include "autobilling.hpp"
#include "book.hpp"
#include "detail/codec.hpp"
#include "overrides.hpp"
#include "tier_table.hpp"

namespace tollgate {

/**
 * The bytes of a tier-state value (basic_tier_record, basic_promotion,
 * account_overrides, autobilling_settings, basic_autobilling_state): a tag
 * naming the type, a version, the fields.
 */
template <class T>
[[nodiscard]] std::string encode_tier_state(const T& v) {
  return tiers::detail::encode(v);
}

/**
 * The value in `bytes`, as encode_tier_state() wrote it (this version or an
 * older one).
 * @return errc::invalid_argument naming the field and what is wrong: another
 *         type's bytes, a newer version, bytes cut short or left over, a
 *         length larger than the bytes, a malformed amount, and anything the
 *         type's own validation refuses (validate_overrides, ...).
 */
template <class T>
[[nodiscard]] result<T> decode_tier_state(std::string_view bytes) {
  return tiers::detail::decode<T>(bytes, tiers::detail::schema<T>::name);
}

namespace tiers::detail {

// Tags: one per stored type, never reused. 1-15 tiers, 16-31 autobilling.
template <>
struct schema<tier_id> {
  static constexpr auto fields = std::make_tuple(field<&tier_id::value>{"value"});
};

template <>
struct schema<promotion_criteria> {
  static constexpr auto fields = std::make_tuple(field<&promotion_criteria::purchased>{"purchased"},
                                                 field<&promotion_criteria::min_age>{"min_age"});
};

template <>
struct schema<override_note> {
  static constexpr auto fields =
      std::make_tuple(field<&override_note::set_by>{"set_by"}, field<&override_note::reason>{"reason"});
};

template <>
struct schema<limit_override> {
  static constexpr auto fields = std::make_tuple(
      field<&limit_override::scope>{"scope"}, field<&limit_override::target>{"target"},
      field<&limit_override::concurrent>{"concurrent"}, field<&limit_override::daily>{"daily"},
      field<&limit_override::mode>{"mode"}, field<&limit_override::note>{"note"});
};

template <>
struct schema<spend_cap_override> {
  static constexpr auto fields =
      std::make_tuple(field<&spend_cap_override::cap>{"cap"}, field<&spend_cap_override::mode>{"mode"},
                      field<&spend_cap_override::note>{"note"});
};

template <>
struct schema<criteria_override> {
  static constexpr auto fields =
      std::make_tuple(field<&criteria_override::tier>{"tier"}, field<&criteria_override::criteria>{"criteria"},
                      field<&criteria_override::note>{"note"});
};

template <>
struct schema<account_overrides> {
  static constexpr std::string_view name = "account overrides";
  static constexpr std::uint8_t tag = 2;
  static constexpr std::uint16_t version = 1;
  static constexpr auto fields = std::make_tuple(field<&account_overrides::limits>{"limits"},
                                                 field<&account_overrides::spend_caps>{"spend_caps"},
                                                 field<&account_overrides::criteria>{"criteria"});
  [[nodiscard]] static result<void> check(const account_overrides& o) { return validate_overrides(o); }
};

template <class TimePoint>
struct schema<basic_tier_record<TimePoint>> {
  using T = basic_tier_record<TimePoint>;
  static constexpr std::string_view name = "tier";
  static constexpr std::uint8_t tag = 1;
  static constexpr std::uint16_t version = 1;
  static constexpr auto fields = std::make_tuple(field<&T::tier>{"tier"}, field<&T::promoted_at>{"promoted_at"},
                                                 field<&T::spend_alert_level>{"spend_alert_level"});
  [[nodiscard]] static result<void> check(const T& r) {
    if (r.spend_alert_level > 3)
      return result<void>(errc::invalid_argument,
                          fmt::format("spend_alert_level: 0 to 3, got {}", r.spend_alert_level));
    return {};
  }
};

// The account is the ledger's key for the bytes, not part of them.
template <class TimePoint>
struct schema<basic_promotion<TimePoint>> {
  using T = basic_promotion<TimePoint>;
  static constexpr std::string_view name = "promotion";
  static constexpr std::uint8_t tag = 3;
  static constexpr std::uint16_t version = 1;
  static constexpr auto fields = std::make_tuple(field<&T::from>{"from"}, field<&T::to>{"to"}, field<&T::at>{"at"},
                                                 field<&T::cause>{"cause"});
  [[nodiscard]] static result<void> check(const T& p) {
    if (p.cause != promotion_cause::purchase && p.cause != promotion_cause::age && p.cause != promotion_cause::table)
      return result<void>(errc::invalid_argument, "cause: unknown cause");
    if (!(p.from < p.to)) return result<void>(errc::invalid_argument, "to: a promotion moves up");
    return {};
  }
};

template <>
struct schema<fixed_recharge> {
  static constexpr auto fields = std::make_tuple(field<&fixed_recharge::amount>{"amount"});
};

template <>
struct schema<target_balance> {
  static constexpr auto fields = std::make_tuple(field<&target_balance::target>{"target"});
};

template <>
struct schema<autobilling_settings> {
  static constexpr std::string_view name = "autobilling settings";
  static constexpr std::uint8_t tag = 16;
  static constexpr std::uint16_t version = 1;
  static constexpr auto fields = std::make_tuple(
      field<&autobilling_settings::enabled>{"enabled"}, field<&autobilling_settings::threshold>{"threshold"},
      field<&autobilling_settings::recharge>{"recharge"},
      field<&autobilling_settings::monthly_budget>{"monthly_budget"});
  [[nodiscard]] static result<void> check(const autobilling_settings& s) { return validate_autobilling(s); }
};

template <class TimePoint>
struct schema<basic_spend_entry<TimePoint>> {
  using T = basic_spend_entry<TimePoint>;
  static constexpr auto fields = std::make_tuple(field<&T::at>{"at"}, field<&T::amount>{"amount"});
};

template <class TimePoint>
struct schema<basic_pending_recharge<TimePoint>> {
  using T = basic_pending_recharge<TimePoint>;
  static constexpr auto fields =
      std::make_tuple(field<&T::seq>{"seq"}, field<&T::amount>{"amount"}, field<&T::started>{"started"});
};

template <class TimePoint>
struct schema<basic_autobilling_state<TimePoint>> {
  using T = basic_autobilling_state<TimePoint>;
  static constexpr std::string_view name = "autobilling state";
  static constexpr std::uint8_t tag = 17;
  static constexpr std::uint16_t version = 1;
  static constexpr auto fields =
      std::make_tuple(field<&T::next_seq>{"next_seq"}, field<&T::pending>{"pending"}, field<&T::failures>{"failures"},
                      field<&T::low>{"low"}, field<&T::recent>{"recent"}, field<&T::last_error>{"last_error"});
  [[nodiscard]] static result<void> check(const T& st) {
    if (st.next_seq == 0) return result<void>(errc::invalid_argument, "next_seq: recharges are numbered from 1");
    if (st.pending && st.pending->seq != st.next_seq)
      return result<void>(errc::invalid_argument,
                          fmt::format("pending.seq: the pending recharge is number {}, the next is {}",
                                      st.pending->seq, st.next_seq));
    for (std::size_t i = 1; i < st.recent.size(); ++i)
      if (st.recent[i].at < st.recent[i - 1].at)
        return result<void>(errc::invalid_argument, fmt::format("recent[{}]: recharges are kept in time order", i));
    return {};
  }
};

}  // namespace tiers::detail
}  // namespace tollgate
