// What the tier engine tells the host: promotions, spend at 50/80/100% of the
// cap, a balance falling under the autobilling threshold, autobilling switching
// itself off, and decisions taken against a shadow override. A TierObserver
// has one `on(event)` per event type; null_tier_observer ignores them all and
// costs nothing. Observers are called after the engine's own locks are
// released, so one may call back into the engine. The gate (a later step)
// will fold these into its one observer; keep this small.
#pragma once

#include <concepts>
#include <cstdint>
#include <string_view>

#include "../core/format.hpp"
#include "../core/money.hpp"
#include "tier_table.hpp"

namespace tollgate {

/// Why an account was promoted.
enum class promotion_cause : std::uint8_t {
  purchase = 1,  ///< evaluated when the account was touched (a purchase, a job)
  age = 2,       ///< by the due_promotions sweep: the account became old enough
  table = 3,     ///< a reloaded table asks for less than the old one
};

[[nodiscard]] constexpr std::string_view to_string(promotion_cause c) noexcept {
  switch (c) {
    case promotion_cause::purchase: return "purchase";
    case promotion_cause::age: return "age";
    case promotion_cause::table: return "table";
  }
  return "unknown";
}

/// An account moved up from tier `from` to tier `to` at `at`.
template <class TimePoint>
struct basic_promotion_event {
  std::string_view account;
  tier_id from{};
  tier_id to{};
  TimePoint at{};
  promotion_cause cause = promotion_cause::purchase;
};

/// The purchases of the last 30 days crossed `percent` (50, 80 or 100) of the
/// cap, upward. Once per crossing: it fires again only after spend fell back
/// below that level.
template <class TimePoint>
struct basic_spend_alert_event {
  std::string_view account;
  int percent = 0;
  usd spent{};  ///< in the 30 days ending at `at`
  usd cap{};
  TimePoint at{};
};

/// The available balance fell under the autobilling threshold (or a hold
/// failed for lack of credits). Once per crossing of the threshold.
template <class TimePoint>
struct basic_low_balance_event {
  std::string_view account;
  credits available{};
  credits threshold{};
  TimePoint at{};
};

/// Autobilling switched itself off after `failures` failed recharges in a row.
template <class TimePoint>
struct basic_autobilling_disabled_event {
  std::string_view account;
  int failures = 0;
  std::string_view last_error;
  TimePoint at{};
};

/// A decision was computed against a shadow override: `enforced_allows` is
/// what was enforced, `shadow_allows` what the shadow limit would have
/// decided. `limit` names it ("concurrent", "daily", "spend_cap"); `subject`
/// is the model (or empty for the spend cap).
template <class TimePoint>
struct basic_shadow_decision_event {
  std::string_view account;
  std::string_view subject;
  std::string_view limit;
  bool enforced_allows = false;
  bool shadow_allows = false;
  TimePoint at{};
  /// True when the shadow limit would have decided otherwise.
  [[nodiscard]] bool differs() const noexcept { return enforced_allows != shadow_allows; }
};

/**
 * Hears the events of the tier engine: `o.on(e)` for each event type above.
 * Called outside the engine's locks, on the thread that caused the event; an
 * observer shared by threads guards its own state.
 */
template <class O, class TimePoint>
concept TierObserver = requires(O& o, const basic_promotion_event<TimePoint>& p,
                                const basic_spend_alert_event<TimePoint>& s,
                                const basic_low_balance_event<TimePoint>& l,
                                const basic_autobilling_disabled_event<TimePoint>& d,
                                const basic_shadow_decision_event<TimePoint>& x) {
  o.on(p);
  o.on(s);
  o.on(l);
  o.on(d);
  o.on(x);
};

/// Hears nothing, costs nothing.
struct null_tier_observer {
  template <class Event>
  void on(const Event&) noexcept {}
};

}  // namespace tollgate
