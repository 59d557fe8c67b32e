// Automatic billing: when a charge or a hold leaves an account's available
// credits under its threshold, or a hold fails for lack of credits, buy more
// through the host's PaymentGateway and credit them through the ledger. One
// recharge at a time per account, however many requests race past the
// threshold; each recharge has its own idempotency key, derived from the
// account and the recharge's sequence number, used for the gateway call and
// for the ledger purchase, so a call retried after a timeout (or a crash)
// never buys twice; capped by the room under the 30-day spend cap and by the
// account's own monthly recharge budget; switched off after 3 failures in a
// row. The observer hears a low balance once per crossing of the threshold.
//
// The engine talks to the ledger through the small RechargeLedger interface
// (read the balance and the spend cap's room, buy credits with a key), so the
// gate can wire it to any ledger; its per-account settings and state are plain
// values that encode to bytes (codec.hpp) for the ledger to keep.
#pragma once

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "../core/clock.hpp"
#include "../core/error.hpp"
#include "../core/format.hpp"
#include "../core/money.hpp"
#include "../core/sync.hpp"
#include "detail/account_map.hpp"
#include "detail/time.hpp"
#include "observer.hpp"
#include "spend_cap.hpp"
#include "tier_table.hpp"

namespace tollgate {

// ------------------------------------------------------------ settings

/// Recharge by a fixed number of dollars.
struct fixed_recharge {
  usd amount{};
  friend bool operator==(const fixed_recharge&, const fixed_recharge&) = default;
};

/// Recharge up to a balance of `target` credits (or what a failed hold needs, if more).
struct target_balance {
  credits target{};
  friend bool operator==(const target_balance&, const target_balance&) = default;
};

/**
 * An account's autobilling: recharge when the available credits fall under
 * `threshold`, by a fixed amount or up to a target balance, spending at most
 * `monthly_budget` on recharges in any rolling 30 days (besides the tier's
 * spend cap, which caps every purchase).
 */
struct autobilling_settings {
  bool enabled = false;
  credits threshold{};
  std::variant<fixed_recharge, target_balance> recharge{};
  std::optional<usd> monthly_budget{};
  friend bool operator==(const autobilling_settings&, const autobilling_settings&) = default;
};

namespace tiers::detail {
inline const usd& cent() {
  static const usd c = *usd::parse("0.01");
  return c;
}
[[nodiscard]] inline bool whole_cents(const usd& d) { return d.raw() % cent().raw() == 0; }
/// `d` rounded down (toward zero, d >= 0) to whole cents.
[[nodiscard]] inline usd floor_cents(const usd& d) { return usd::from_raw(d.raw() - d.raw() % cent().raw()); }
/// The dollars that buy at least `c` credits at `price`, in whole cents (rounded up).
[[nodiscard]] inline usd cents_buying(const credits& c, const credit_price& price) {
  using ::tollgate::detail::ceil_div;
  const auto micro = ceil_div(c.raw() * price.per_credit().raw(), credits::unit());
  return usd::from_raw(ceil_div(micro, cent().raw()) * cent().raw());
}
}  // namespace tiers::detail

/**
 * Checks autobilling settings: a threshold of at least 0; a fixed recharge
 * of a positive whole number of cents, or a target balance above the
 * threshold (at or under it would recharge for ever); a budget, when given,
 * positive.
 * @return errc::invalid_argument naming the field.
 */
[[nodiscard]] inline result<void> validate_autobilling(const autobilling_settings& s) {
  const auto bad = [](std::string_view field, std::string why) {
    return result<void>(errc::invalid_argument, fmt::format("autobilling {}: {}", field, why));
  };
  if (s.threshold.is_negative()) return bad("threshold", fmt::format("must not be negative, got {}", s.threshold.to_string()));
  if (const auto* f = std::get_if<fixed_recharge>(&s.recharge)) {
    if (!f->amount.is_positive() || !tiers::detail::whole_cents(f->amount))
      return bad("recharge", fmt::format("a fixed recharge is a positive number of whole cents, got ${}", f->amount.to_string()));
  } else {
    const auto& t = std::get<target_balance>(s.recharge);
    if (t.target <= s.threshold)
      return bad("recharge", fmt::format("the target balance ({}) must be above the threshold ({})",
                                         t.target.to_string(), s.threshold.to_string()));
  }
  if (s.monthly_budget && !s.monthly_budget->is_positive())
    return bad("monthly_budget", fmt::format("must be positive, got ${}", s.monthly_budget->to_string()));
  return {};
}

// ------------------------------------------------------------ state

/// A recharge started and not settled: the gateway timed out, or the ledger
/// refused the purchase. It is resumed with the same key and amount.
template <class TimePoint>
struct basic_pending_recharge {
  std::uint64_t seq = 0;
  usd amount{};
  TimePoint started{};
  friend bool operator==(const basic_pending_recharge&, const basic_pending_recharge&) = default;
};

/// What the engine keeps per account besides its settings (and persists with them).
template <class TimePoint>
struct basic_autobilling_state {
  std::uint64_t next_seq = 1;                           ///< the next recharge's number (its key)
  std::optional<basic_pending_recharge<TimePoint>> pending{};
  std::uint32_t failures = 0;                           ///< failed recharges in a row
  bool low = false;                                     ///< under the threshold (the event was sent)
  std::vector<basic_spend_entry<TimePoint>> recent{};   ///< recharges of the last 30 days (the budget's)
  std::string last_error{};
  friend bool operator==(const basic_autobilling_state&, const basic_autobilling_state&) = default;
};

// ------------------------------------------------------------ gateway

/// One charge of a customer's payment method.
struct payment_request {
  std::string_view account;
  usd amount{};
  std::string_view key;  ///< the recharge's idempotency key
};

enum class payment_status : std::uint8_t {
  succeeded = 1,  ///< the customer was charged `amount`
  declined = 2,   ///< definitely not charged (card declined, no payment method, ...)
  unknown = 3,    ///< no answer (a timeout): charged or not, a retry with the key will say
};

[[nodiscard]] constexpr std::string_view to_string(payment_status s) noexcept {
  switch (s) {
    case payment_status::succeeded: return "succeeded";
    case payment_status::declined: return "declined";
    case payment_status::unknown: return "unknown";
  }
  return "invalid";
}

struct payment_result {
  payment_status status = payment_status::unknown;
  std::string message{};  ///< for a person: why declined, what timed out
};

/**
 * Charges a customer for an automatic recharge (the host's payment provider).
 *
 * | expression | type | meaning |
 * | --- | --- | --- |
 * | `g.charge(r)` | `payment_result` | charges `r.amount` to `r.account`'s payment method, idempotently under `r.key` |
 *
 * Requirements: the same key always has the same outcome, and charges at most
 * once (providers call this an idempotency key); `unknown` may have charged
 * or not, and a later call with the same key tells which (the engine retries
 * so); the engine never sends one key with another amount or account; calls
 * for different accounts may run at once (for one account, never). It may
 * block (a network call); the engine holds no lock while it runs. It must not
 * throw.
 */
template <class G>
concept PaymentGateway = requires(G& g, const payment_request& r) {
  { g.charge(r) } -> std::same_as<payment_result>;
};

/**
 * What autobilling needs of the ledger (and of the spend cap).
 *
 * | expression | type | meaning |
 * | --- | --- | --- |
 * | `l.available(a)` | `credits` | the account's available credits now |
 * | `l.spend_room(a)` | `limit<usd>` | what the account may still buy under its 30-day spend cap now |
 * | `l.price(a)` | `credit_price` | the account's price of a credit |
 * | `l.buy(a, d, k)` | `result<void>` | credits the account with what `d` dollars buy, as a purchase, idempotently under the key `k` (the same key again changes nothing and succeeds) |
 *
 * The gate wires it to basic_ledger (purchase() is `buy`, balance() gives
 * `available`) and to the tier book (the spend cap).
 */
template <class L>
concept RechargeLedger = requires(L& l, std::string_view a, const usd& d, std::string_view k) {
  { l.available(a) } -> std::convertible_to<credits>;
  { l.spend_room(a) } -> std::convertible_to<limit<usd>>;
  { l.price(a) } -> std::convertible_to<credit_price>;
  { l.buy(a, d, k) } -> std::same_as<result<void>>;
};

// ------------------------------------------------------------ outcome

enum class recharge_status : std::uint8_t {
  not_needed,   ///< the balance is at or above the threshold
  not_enabled,  ///< no autobilling, or switched off
  in_flight,    ///< another call is recharging this account; it will look at the balance again
  capped,       ///< below the threshold, but the spend cap or the budget leaves nothing to buy
  recharged,    ///< bought `amount`
  declined,     ///< the gateway declined; the next call starts a new recharge
  unsettled,    ///< the gateway did not answer; the next call retries with the same key
  not_credited, ///< paid, but the ledger refused the purchase; the next call retries with the same key
};

[[nodiscard]] constexpr std::string_view to_string(recharge_status s) noexcept {
  switch (s) {
    case recharge_status::not_needed: return "not_needed";
    case recharge_status::not_enabled: return "not_enabled";
    case recharge_status::in_flight: return "in_flight";
    case recharge_status::capped: return "capped";
    case recharge_status::recharged: return "recharged";
    case recharge_status::declined: return "declined";
    case recharge_status::unsettled: return "unsettled";
    case recharge_status::not_credited: return "not_credited";
  }
  return "invalid";
}

/// What one call did. `key` and `amount` are the recharge's, when there was
/// one; `message` says why not, or (for a recharge) what capped its amount.
struct recharge_outcome {
  recharge_status status = recharge_status::not_needed;
  usd amount{};
  std::string key{};
  std::string message{};
};

/// Knobs of the engine.
struct autobilling_options {
  int failures_to_disable = 3;  ///< failed recharges in a row that switch autobilling off
  int gateway_attempts = 3;     ///< calls with one key while the gateway answers `unknown`
};

/**
 * The idempotency key of recharge `seq` of `account`: "autobill:SEQ:ACCOUNT",
 * at most 128 bytes (an account id too long for that keeps its first bytes
 * and a 64-bit hash of the whole id). The same (account, seq) always gives
 * the same key, so a retry, in this process or after a restart, reuses it.
 */
[[nodiscard]] inline std::string recharge_key(std::string_view account, std::uint64_t seq) {
  std::string key = fmt::format("autobill:{}:", seq);
  constexpr std::size_t max_key = 128;
  if (key.size() + account.size() <= max_key) return key + std::string(account);
  std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  for (char c : account) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  const std::string tail = fmt::format("~{:016x}", h);
  return key + std::string(account.substr(0, max_key - key.size() - tail.size())) + tail;
}

/**
 * The autobilling engine.
 *
 * @tparam G a PaymentGateway; @tparam L a RechargeLedger (both held by
 *         reference and must outlive the engine);
 * @tparam C the Clock that stamps recharges (for the budget's window);
 * @tparam Y the Sync policy; @tparam O a TierObserver (called with no lock held).
 *
 * Thread-safe with multi_thread: any number of threads may call
 * on_balance_change() for the same account; one recharges, the others return
 * `in_flight` at once, and the one recharging looks at the balance again
 * before it lets go, so no change is missed.
 */
template <PaymentGateway G, RechargeLedger L, Clock C = std::chrono::system_clock, Sync Y = multi_thread,
          class O = null_tier_observer>
class basic_autobiller {
 public:
  using time_point = typename C::time_point;
  using state_type = basic_autobilling_state<time_point>;
  static_assert(TierObserver<O, time_point>, "tollgate: O must model TierObserver (see tiers/observer.hpp)");

  basic_autobiller(G& gateway, L& ledger, C clock = {}, autobilling_options options = {}, O observer = {})
      : gateway_(gateway), ledger_(ledger), clock_(std::move(clock)), options_(options),
        observer_(std::move(observer)) {}

  basic_autobiller(const basic_autobiller&) = delete;
  basic_autobiller& operator=(const basic_autobiller&) = delete;

  /**
   * Sets `account`'s autobilling (enabling it again after it switched itself
   * off resets the failure count). A recharge left unsettled is kept: it is
   * resumed with its own key. Errors: validate_autobilling()'s.
   */
  [[nodiscard]] result<void> configure(std::string_view account, autobilling_settings s) {
    if (auto v = validate_autobilling(s); !v) return v;
    std::lock_guard lk(mutex_);
    account_state& a = state_of(account);
    if (s.enabled && !a.settings.enabled) a.state.failures = 0;
    a.settings = std::move(s);
    return {};
  }

  /// Restores what the ledger kept for `account` after a restart.
  void restore(std::string_view account, autobilling_settings s, state_type st) {
    std::lock_guard lk(mutex_);
    account_state& a = state_of(account);
    a.settings = std::move(s);
    a.state = std::move(st);
  }

  /// `account`'s settings, if it has any.
  [[nodiscard]] std::optional<autobilling_settings> settings(std::string_view account) const {
    std::lock_guard lk(mutex_);
    const auto it = accounts_.find(account);
    if (it == accounts_.end()) return std::nullopt;
    return it->second.settings;
  }

  /// `account`'s state (a default one when it has none).
  [[nodiscard]] state_type state(std::string_view account) const {
    std::lock_guard lk(mutex_);
    const auto it = accounts_.find(account);
    return it == accounts_.end() ? state_type{} : it->second.state;
  }

  /**
   * Call after a charge or a hold on `account`, or after a hold was refused
   * for lack of credits (`needed`: what the hold asked for). Reads the
   * balance; reports a low balance once per crossing of the threshold; when
   * under it (or short of `needed`), makes one recharge, capped by the spend
   * cap's room and the monthly budget, or resumes an unsettled one.
   */
  recharge_outcome on_balance_change(std::string_view account, const credits& needed = {}) {
    {
      std::lock_guard lk(mutex_);
      const auto it = accounts_.find(account);
      if (it == accounts_.end()) return {recharge_status::not_enabled};
      if (it->second.recharging) {
        it->second.recheck = true;  // the one recharging looks at the balance again
        return {recharge_status::in_flight};
      }
      it->second.recharging = true;
    }
    try {
      return run(account, needed);
    } catch (...) {
      // A ledger or gateway that throws must not leave the account held for ever.
      std::lock_guard lk(mutex_);
      accounts_.find(account)->second.recharging = false;
      throw;
    }
  }

 private:
  struct account_state {
    autobilling_settings settings{};
    state_type state{};
    bool recharging = false;  // a call holds this account
    bool recheck = false;     // another call came while it did
  };

  // What the recharging call decided under the lock, done outside it.
  struct plan {
    std::uint64_t seq;
    usd amount;
    std::string key;
    std::string capped_by;  // what lowered the amount, if anything
  };

  struct events {
    std::optional<basic_low_balance_event<time_point>> low;
    std::optional<int> disabled_after;
    std::string last_error;
  };

  account_state& state_of(std::string_view account) { return tiers::detail::state_of(accounts_, account); }

  // The account is held (recharging) by this call. Each round clears the
  // signal of other calls, reads the balance, and decides; a call that came
  // during the read makes it read again before letting go, so every change
  // is seen by a read made after it. A recharge is made in the first round,
  // and in a later one only when another call came meanwhile (as that call
  // would have made it).
  recharge_outcome run(std::string_view account, const credits& needed) {
    recharge_outcome out{recharge_status::not_needed};
    bool acted = false;     // a recharge was attempted by this call
    bool signalled = true;  // a change this call has not yet answered
    for (;;) {
      {
        std::lock_guard lk(mutex_);
        account_state& a = accounts_.find(account)->second;
        signalled = signalled || a.recheck;
        a.recheck = false;
      }
      const credits available = ledger_.available(account);
      const time_point now = clock_.now();
      std::optional<plan> p;
      recharge_outcome decided{recharge_status::not_needed};
      bool again = false;  // a call came during the read: read again
      events ev;
      {
        std::lock_guard lk(mutex_);
        account_state& a = accounts_.find(account)->second;
        const bool below = note_balance(account, a, available, needed, now, ev);
        if (!a.settings.enabled) decided.status = recharge_status::not_enabled;
        else if (below && signalled) p = decide(account, a, available, needed, now, decided);
        // Let go only under the lock that found no new signal: nothing slips by.
        again = !p && a.recheck;
        if (!p && !again) a.recharging = false;
      }
      notify(account, ev, now);
      if (p) {
        out = execute(account, *p);
        acted = true;
        signalled = false;
      } else if (!again) {
        return acted ? out : decided;
      }
    }
  }

  // Updates the low-balance crossing; returns whether the account is short.
  bool note_balance(std::string_view account, account_state& a, const credits& available, const credits& needed,
                    time_point now, events& ev) {
    const bool below = available < a.settings.threshold || available < needed;
    if (below && !a.state.low)
      ev.low = basic_low_balance_event<time_point>{account, available, a.settings.threshold, now};
    a.state.low = below;
    return below;
  }

  // The recharge to make (or resume), or none with `out` saying why.
  std::optional<plan> decide(std::string_view account, account_state& a, const credits& available,
                             const credits& needed, time_point now, recharge_outcome& out) {
    if (a.state.pending) {
      const auto& pend = *a.state.pending;
      return plan{pend.seq, pend.amount, recharge_key(account, pend.seq), {}};
    }
    usd amount = wanted(account, a.settings, available, needed);
    const std::string why = cap(account, a, now, amount);
    if (!amount.is_positive()) {
      out = {recharge_status::capped, usd{}, {}, why};
      return std::nullopt;
    }
    const std::uint64_t seq = a.state.next_seq;
    a.state.pending = basic_pending_recharge<time_point>{seq, amount, now};
    return plan{seq, amount, recharge_key(account, seq), why};
  }

  // Dollars the settings ask for, before the caps.
  usd wanted(std::string_view account, const autobilling_settings& s, const credits& available,
             const credits& needed) {
    if (const auto* f = std::get_if<fixed_recharge>(&s.recharge)) return f->amount;
    const credits& target = std::get<target_balance>(s.recharge).target;
    const credits goal = needed > target ? needed : target;
    return tiers::detail::cents_buying(goal - available, ledger_.price(account));
  }

  // Lowers `amount` to what the spend cap and the budget leave (whole cents);
  // returns what capped it, for the message.
  std::string cap(std::string_view account, account_state& a, time_point now, usd& amount) {
    std::string why;
    const limit<usd> room = ledger_.spend_room(account);
    if (!room.allows(amount)) {
      amount = tiers::detail::floor_cents(room.max());
      why = fmt::format("the 30-day spend cap leaves ${}", amount.to_string());
    }
    if (a.settings.monthly_budget) {
      prune(a.state, now);
      const auto entries = std::span<const basic_spend_entry<time_point>>(a.state.recent);
      const limit<usd> left = spend_room(entries, spend_cap(*a.settings.monthly_budget), now).room;
      if (!left.allows(amount)) {
        amount = tiers::detail::floor_cents(left.max());
        why = fmt::format("the monthly recharge budget of ${} leaves ${}", a.settings.monthly_budget->to_string(),
                          amount.to_string());
      }
    }
    return why;
  }

  // Drops recharges that have left the budget's 30-day window.
  static void prune(state_type& st, time_point now) {
    namespace d = tiers::detail;
    const std::int64_t w = d::ns_of(spend_window);
    std::erase_if(st.recent, [&](const auto& e) { return d::add_sat(d::to_ns(e.at), w) <= d::to_ns(now); });
  }

  // Calls the gateway (retrying `unknown` with the same key), credits the
  // ledger, and settles the state. No lock held.
  recharge_outcome execute(std::string_view account, const plan& p) {
    const payment_request req{account, p.amount, p.key};
    payment_result paid;
    for (int i = 0; i < std::max(1, options_.gateway_attempts); ++i) {
      paid = gateway_.charge(req);
      if (paid.status != payment_status::unknown) break;
    }
    result<void> credited;
    if (paid.status == payment_status::succeeded) credited = ledger_.buy(account, p.amount, p.key);
    const time_point now = clock_.now();
    events ev;
    recharge_outcome out;
    {
      std::lock_guard lk(mutex_);
      account_state& a = accounts_.find(account)->second;
      out = settle(a, p, paid, credited, now, ev);
    }
    notify(account, ev, now);
    return out;
  }

  recharge_outcome settle(account_state& a, const plan& p, const payment_result& paid, const result<void>& credited,
                          time_point now, events& ev) {
    state_type& st = a.state;
    recharge_outcome out{recharge_status::recharged, p.amount, p.key, p.capped_by};
    if (paid.status == payment_status::succeeded && credited) {
      st.pending.reset();
      st.next_seq = p.seq + 1;
      st.failures = 0;
      prune(st, now);
      // Kept in time order (spend_room needs it) even if the clock stepped back.
      const auto at = std::upper_bound(st.recent.begin(), st.recent.end(), now,
                                       [](time_point t, const auto& e) { return t < e.at; });
      st.recent.insert(at, basic_spend_entry<time_point>{now, p.amount});
      return out;
    }
    if (paid.status == payment_status::succeeded) {
      // Paid but not credited: the same key credits it later, exactly once.
      out.status = recharge_status::not_credited;
      out.message = credited.error().message();
      return out;
    }
    if (paid.status == payment_status::declined) {
      st.pending.reset();  // definitely not charged: the next recharge is a new one
      st.next_seq = p.seq + 1;
      out.status = recharge_status::declined;
    } else {
      out.status = recharge_status::unsettled;  // keep it pending: the next call asks again with its key
    }
    out.message = paid.message;
    st.last_error = paid.message;
    if (++st.failures >= static_cast<std::uint32_t>(std::max(1, options_.failures_to_disable)) && a.settings.enabled) {
      a.settings.enabled = false;
      ev.disabled_after = static_cast<int>(st.failures);
      ev.last_error = st.last_error;
    }
    return out;
  }

  void notify(std::string_view account, const events& ev, time_point now) {
    if (ev.low) observer_.on(*ev.low);
    if (ev.disabled_after)
      observer_.on(basic_autobilling_disabled_event<time_point>{account, *ev.disabled_after, ev.last_error, now});
  }

  G& gateway_;
  L& ledger_;
  C clock_;
  autobilling_options options_;
  mutable typename Y::mutex_type mutex_;
  tiers::detail::account_map<account_state> accounts_;
  [[no_unique_address]] O observer_;
};

}  // namespace tollgate
