// The tier book: each account's recorded tier, its enterprise overrides and its
// spend-alert state, kept up to date as the host reports the account's
// purchase figures (cumulative dollars, time of the first purchase) and the
// purchases of its last 30 days. It records promotions (never a demotion),
// tells the observer, keeps the promotion schedule so that due_promotions(now)
// costs O(accounts due), checks purchases against the spend cap (enforced and
// shadow) and raises spend alerts once per crossing.
//
// Today the book keeps this state in memory; each account's state encodes to
// opaque, versioned bytes (codec.hpp) that the ledger will store and replay
// without knowing what a tier is (docs/tiers.md, "Where tier state lives").
// The purchase figures are the ledger's (balance(): purchased_usd,
// first_purchase); the book keeps the last ones it was given.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../core/clock.hpp"
#include "../core/error.hpp"
#include "../core/money.hpp"
#include "../core/sync.hpp"
#include "detail/account_map.hpp"
#include "observer.hpp"
#include "overrides.hpp"
#include "promotion.hpp"
#include "schedule.hpp"
#include "spend_cap.hpp"
#include "tier_table.hpp"

namespace tollgate {

/**
 * What is recorded durably for an account's tier: the tier (never lowered),
 * when it was recorded, and the spend-alert level (spend_alerts::level()).
 */
template <class TimePoint>
struct basic_tier_record {
  tier_id tier{};
  std::optional<TimePoint> promoted_at{};
  std::uint8_t spend_alert_level = 0;
  friend bool operator==(const basic_tier_record&, const basic_tier_record&) = default;
};

/// One promotion, as recorded (and reported to the observer).
template <class TimePoint>
struct basic_promotion {
  std::string account{};
  tier_id from{};
  tier_id to{};
  TimePoint at{};
  promotion_cause cause = promotion_cause::purchase;
  friend bool operator==(const basic_promotion&, const basic_promotion&) = default;
};

/**
 * Per-account tier state: recorded tiers, promotions, overrides, spend caps
 * and spend alerts.
 *
 * @tparam C the Clock whose time_point the book speaks (the ledger's).
 * @tparam Y the Sync policy: multi_thread (every member thread-safe) or
 *           single_thread (the caller serialises).
 * @tparam O a TierObserver; called after the book's lock is released.
 */
template <Clock C = std::chrono::system_clock, Sync Y = multi_thread, class O = null_tier_observer>
class basic_tier_book {
 public:
  using time_point = typename C::time_point;
  using record_type = basic_tier_record<time_point>;
  using promotion = basic_promotion<time_point>;
  using spend_entry = basic_spend_entry<time_point>;
  static_assert(TierObserver<O, time_point>, "tollgate: O must model TierObserver (see tiers/observer.hpp)");

  /// A book over `table`; accounts start at its first tier.
  explicit basic_tier_book(tier_table table, O observer = {})
      : table_(std::make_shared<const tier_table>(std::move(table))), observer_(std::move(observer)) {}

  basic_tier_book(const basic_tier_book&) = delete;
  basic_tier_book& operator=(const basic_tier_book&) = delete;

  /// The table in use (shared: a reload does not invalidate a copy held).
  [[nodiscard]] std::shared_ptr<const tier_table> table() const {
    std::lock_guard lk(mutex_);
    return table_;
  }

  /**
   * Evaluates `account` with its purchase figures at `now` (after a purchase,
   * or whenever the account is touched): records a promotion when its tier
   * rose (and tells the observer), and schedules its next promotion by age.
   * @return the account's tier, as a position in table().
   */
  std::size_t touch(std::string_view account, const usd& purchased, std::optional<time_point> first_purchase,
                    time_point now) {
    return update(account, purchased, first_purchase, nullptr, now);
  }

  /**
   * Promotes every account whose promotion by age is due at `now` and returns
   * the promotions. Costs O(k log n) for the k accounts due among n
   * scheduled, never a walk over all accounts.
   */
  std::vector<promotion> due_promotions(time_point now) {
    events ev;
    {
      std::lock_guard lk(mutex_);
      for (const std::string& name : schedule_.due(now)) {
        const auto it = accounts_.find(name);
        if (it != accounts_.end()) (void)evaluate(name, it->second, now, promotion_cause::age, ev);
      }
    }
    notify(ev);
    return std::move(ev.promotions);
  }

  /// The account's tier at `now` from the figures last given, without
  /// recording anything (a read for the hot path). A position in table().
  [[nodiscard]] std::size_t tier_of(std::string_view account, time_point now) const {
    std::lock_guard lk(mutex_);
    const auto it = accounts_.find(account);
    if (it == accounts_.end()) return 0;
    return tier_for(*table_, facts_of(it->second), now, account_criteria{table_.get(), overrides_of(it->second)});
  }

  /// What is recorded for `account` (a default record when nothing is).
  [[nodiscard]] record_type record(std::string_view account) const {
    std::lock_guard lk(mutex_);
    const auto it = accounts_.find(account);
    return it == accounts_.end() ? record_type{} : it->second.record;
  }

  /// When `account`'s next promotion by age is due, if one is waiting.
  [[nodiscard]] std::optional<time_point> next_due(std::string_view account) const {
    std::lock_guard lk(mutex_);
    return schedule_.due_of(account);
  }

  /**
   * Restores what was recorded for `account` (after a restart, from the
   * ledger) with its purchase figures, and evaluates it at `now`: a
   * promotion the figures call for but the record missed (a crash between
   * the purchase and the promotion's record) is recorded now. Never lowers a
   * tier already in the book: the higher record wins. Returns the tier.
   */
  std::size_t restore(std::string_view account, const record_type& r, const usd& purchased,
                      std::optional<time_point> first_purchase, time_point now) {
    {
      std::lock_guard lk(mutex_);
      account_state& a = state_of(account);
      if (r.tier > a.record.tier) a.record = r;
      a.alerts = spend_alerts(a.record.spend_alert_level);
    }
    return update(account, purchased, first_purchase, nullptr, now);
  }

  /**
   * Replaces `account`'s overrides (empty: none) and re-evaluates it at
   * `now`: custom criteria may promote it at once.
   * @return errc::invalid_argument from validate_overrides(), changing nothing.
   */
  [[nodiscard]] result<void> set_overrides(std::string_view account, account_overrides o, time_point now) {
    if (auto v = validate_overrides(o); !v) return v;
    events ev;
    {
      std::lock_guard lk(mutex_);
      account_state& a = state_of(account);
      if (o.empty()) a.overrides.reset();
      else a.overrides = std::make_unique<account_overrides>(std::move(o));
      (void)evaluate(account, a, now, promotion_cause::purchase, ev);
    }
    notify(ev);
    return {};
  }

  /// `account`'s overrides (a copy; empty when it has none).
  [[nodiscard]] account_overrides overrides(std::string_view account) const {
    std::lock_guard lk(mutex_);
    const auto it = accounts_.find(account);
    return it == accounts_.end() || !it->second.overrides ? account_overrides{} : *it->second.overrides;
  }

  /**
   * Replaces the table (a reload) and re-evaluates every account at `now`:
   * O(accounts). No account moves down, whatever the new thresholds: a
   * recorded tier id stands at table.floor_index(id). Accounts the new table
   * promotes are recorded with cause `table`.
   */
  std::vector<promotion> set_table(tier_table table, time_point now) {
    events ev;
    {
      std::lock_guard lk(mutex_);
      table_ = std::make_shared<const tier_table>(std::move(table));
      for (auto& [name, a] : accounts_) (void)evaluate(name, a, now, promotion_cause::table, ev);
    }
    notify(ev);
    return std::move(ev.promotions);
  }

  /// The spend cap that applies to `account` at `now` (tier and overrides).
  [[nodiscard]] resolved_spend_cap spend_cap_of(std::string_view account, time_point now) const {
    std::lock_guard lk(mutex_);
    resolved_spend_cap r = cap_locked(account, now);
    r.from = nullptr;  // it would point into state the lock no longer guards
    return r;
  }

  /**
   * Checks a purchase of `amount` by `account` at `now`, given the account's
   * purchases of the rolling 30 days (sorted, oldest first), against its
   * enforced spend cap; a shadow cap's decision is reported to the observer,
   * not enforced. Records nothing.
   * @return check_spend()'s errc::monthly_spend_limit when it does not fit.
   */
  [[nodiscard]] result<void> check_purchase(std::string_view account, const usd& amount,
                                            std::span<const spend_entry> window, time_point now) {
    resolved_spend_cap cap;
    {
      std::lock_guard lk(mutex_);
      cap = cap_locked(account, now);
    }
    auto enforced = check_spend(account, window, cap.enforced, now, amount);
    if (cap.shadow) {
      const bool shadow_allows = spend_room(window, *cap.shadow, now).room.allows(amount);
      observer_.on(basic_shadow_decision_event<time_point>{account, {}, "spend_cap", enforced.has_value(),
                                                           shadow_allows, now});
    }
    return enforced;
  }

  /**
   * After a purchase (or any change of its figures): touch() the account,
   * then move its spend alerts to the spend of `window` (its purchases of the
   * rolling 30 days, this one included) against its cap, reporting each of
   * 50%, 80% and 100% crossed upward. Returns the account's tier.
   */
  std::size_t after_purchase(std::string_view account, const usd& purchased,
                             std::optional<time_point> first_purchase, std::span<const spend_entry> window,
                             time_point now) {
    return update(account, purchased, first_purchase, &window, now);
  }

  /// The number of accounts the book holds.
  [[nodiscard]] std::size_t size() const {
    std::lock_guard lk(mutex_);
    return accounts_.size();
  }

 private:
  struct account_state {
    record_type record{};
    usd purchased{};
    std::optional<time_point> first_purchase{};
    std::unique_ptr<account_overrides> overrides{};  // rare: enterprise accounts only
    spend_alerts alerts{};
  };

  struct alert {
    std::string account;
    int percent;
    usd spent;
    spend_cap cap;
    time_point at;
  };

  // What happened under the lock, told to the observer after it.
  struct events {
    std::vector<promotion> promotions;
    std::vector<alert> alerts;
  };

  [[nodiscard]] static const account_overrides* overrides_of(const account_state& a) noexcept {
    return a.overrides.get();
  }

  [[nodiscard]] static basic_account_facts<time_point> facts_of(const account_state& a) {
    return {a.purchased, a.first_purchase, a.record.tier};
  }

  account_state& state_of(std::string_view account) { return tiers::detail::state_of(accounts_, account); }

  // New figures for `account`: evaluates it and, given its spend `window`,
  // moves its spend alerts.
  std::size_t update(std::string_view account, const usd& purchased, std::optional<time_point> first_purchase,
                     const std::span<const spend_entry>* window, time_point now) {
    events ev;
    std::size_t tier;
    {
      std::lock_guard lk(mutex_);
      account_state& a = state_of(account);
      a.purchased = purchased;
      a.first_purchase = first_purchase;
      tier = evaluate(account, a, now, promotion_cause::purchase, ev);
      if (window) {
        const spend_cap cap = resolve_spend_cap(*table_, tier, overrides_of(a)).enforced;
        const usd spent = spend_room(*window, cap, now).spent;
        for (int p : a.alerts.update(spent, cap)) ev.alerts.push_back({std::string(account), p, spent, cap, now});
        a.record.spend_alert_level = a.alerts.level();
      }
    }
    notify(ev);
    return tier;
  }

  // Re-evaluates one account: records a promotion, reschedules. Lock held.
  std::size_t evaluate(std::string_view account, account_state& a, time_point now, promotion_cause cause,
                       events& ev) {
    const auto o = promotion_outlook(*table_, facts_of(a), now, account_criteria{table_.get(), overrides_of(a)});
    const tier_id id = table_->at(o.current).id;
    // Standing in the entry tier is no promotion (nothing is recorded for it).
    const std::size_t stands = table_->floor_index(a.record.tier);
    if (o.current > stands && id > a.record.tier) {
      // From where the account stood: the entry tier when nothing was recorded.
      const tier_id from = std::max(a.record.tier, table_->at(stands).id);
      ev.promotions.push_back(promotion{std::string(account), from, id, now, cause});
      a.record.tier = id;
      a.record.promoted_at = now;
    }
    schedule_.set(account, o.due_at);
    return o.current;
  }

  [[nodiscard]] resolved_spend_cap cap_locked(std::string_view account, time_point now) const {
    const auto it = accounts_.find(account);
    if (it == accounts_.end()) return resolve_spend_cap(*table_, 0, nullptr);
    const account_state& a = it->second;
    const std::size_t tier =
        tier_for(*table_, facts_of(a), now, account_criteria{table_.get(), overrides_of(a)});
    return resolve_spend_cap(*table_, tier, overrides_of(a));
  }

  void notify(const events& ev) {
    for (const promotion& p : ev.promotions)
      observer_.on(basic_promotion_event<time_point>{p.account, p.from, p.to, p.at, p.cause});
    for (const alert& a : ev.alerts)
      observer_.on(basic_spend_alert_event<time_point>{a.account, a.percent, a.spent, a.cap.max(), a.at});
  }

  mutable typename Y::mutex_type mutex_;
  std::shared_ptr<const tier_table> table_;
  tiers::detail::account_map<account_state> accounts_;
  basic_promotion_schedule<time_point, single_thread> schedule_;  // guarded by mutex_
  [[no_unique_address]] O observer_;
};

/// A tier book on the system clock, thread-safe, with no observer.
using tier_book = basic_tier_book<>;

}  // namespace tollgate
