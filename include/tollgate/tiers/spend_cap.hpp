// The 30-day spend cap: how many dollars of credits an account may still buy
// now, given its purchases of the rolling 30 days and its cap, and when more
// frees up: exactly, to the nanosecond of the window's edge. A purchase made
// at t counts toward the cap at every time before t + 30 days and not from
// then on. check_spend() turns a purchase that does not fit into
// errc::monthly_spend_limit with a message that says what can be bought now
// and when more frees up; spend_alerts is the state machine that reports
// spend crossing 50%, 80% and 100% of the cap, once per crossing.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "../core/error.hpp"
#include "../core/money.hpp"
#include "detail/time.hpp"
#include "tier_table.hpp"

namespace tollgate {

/// The length of the spend cap's rolling window.
inline constexpr std::chrono::days spend_window{30};

/// One purchase as the spend cap sees it.
template <class TimePoint>
struct basic_spend_entry {
  TimePoint at{};
  usd amount{};
  friend bool operator==(const basic_spend_entry&, const basic_spend_entry&) = default;
};

/**
 * What an account may buy at `now` under its cap.
 *
 * `spent` is what it bought in the window ending at now; `room` what it can
 * still buy (unlimited with an unlimited cap, never negative: a cap lowered
 * below the spend leaves 0). `frees_at` is when the oldest purchase still in
 * the window leaves it and `frees` how much leaves then (every purchase made
 * at that same instant); both empty/zero when the window holds none.
 */
template <class TimePoint>
struct basic_spend_room {
  spend_cap cap{};
  usd spent{};
  limit<usd> room{};
  std::optional<TimePoint> frees_at{};
  usd frees{};
};

namespace tiers::detail {

// The first purchase of `p` (sorted by time) still in the window at `now_ns`:
// made after now - window, i.e. now < at + window.
template <class TimePoint>
[[nodiscard]] std::size_t first_in_window(std::span<const basic_spend_entry<TimePoint>> p, std::int64_t now_ns,
                                          std::int64_t window_ns) {
  std::size_t i = 0;
  while (i < p.size() && add_sat(to_ns(p[i].at), window_ns) <= now_ns) ++i;
  return i;
}

template <class TimePoint>
void check_sorted(std::span<const basic_spend_entry<TimePoint>> p) {
  for (std::size_t i = 1; i < p.size(); ++i)
    TOLLGATE_ASSERT(!(p[i].at < p[i - 1].at), "spend cap: purchases must be sorted by time, oldest first");
}

}  // namespace tiers::detail

/**
 * The room under `cap` at `now`, from `purchases` sorted by time, oldest
 * first (earlier ones are ignored; purchases stamped after now count).
 * O(purchases).
 */
template <class TimePoint>
[[nodiscard]] basic_spend_room<TimePoint> spend_room(std::span<const basic_spend_entry<TimePoint>> purchases,
                                                     const spend_cap& cap, TimePoint now) {
  namespace d = tiers::detail;
  d::check_sorted(purchases);
  const std::int64_t w = d::ns_of(spend_window);
  basic_spend_room<TimePoint> r;
  r.cap = cap;
  const std::size_t first = d::first_in_window(purchases, d::to_ns(now), w);
  for (std::size_t i = first; i < purchases.size(); ++i) r.spent += purchases[i].amount;
  if (first < purchases.size()) {
    const TimePoint oldest = purchases[first].at;
    r.frees_at = d::from_ns<TimePoint>(d::add_sat(d::to_ns(oldest), w));
    for (std::size_t i = first; i < purchases.size() && purchases[i].at == oldest; ++i) r.frees += purchases[i].amount;
  }
  if (!cap.is_unlimited()) r.room = limit<usd>(cap.max() > r.spent ? cap.max() - r.spent : usd{});
  return r;
}

/**
 * The earliest time, from `now` on, at which `amount` fits under `cap` in
 * whole, if nothing else is bought meanwhile: `now` when it fits now, the
 * moment enough earlier purchases have left the window otherwise, and empty
 * when it never fits (`amount` is more than the cap). Exact to the
 * nanosecond. O(purchases).
 */
template <class TimePoint>
[[nodiscard]] std::optional<TimePoint> spend_fits_at(std::span<const basic_spend_entry<TimePoint>> purchases,
                                                     const spend_cap& cap, TimePoint now, const usd& amount) {
  namespace d = tiers::detail;
  if (cap.is_unlimited()) return now;
  if (amount > cap.max()) return std::nullopt;
  d::check_sorted(purchases);
  const std::int64_t w = d::ns_of(spend_window);
  const std::size_t first = d::first_in_window(purchases, d::to_ns(now), w);
  usd spent;
  for (std::size_t i = first; i < purchases.size(); ++i) spent += purchases[i].amount;
  // Purchases leave oldest first; the amount fits once spent - left + amount <= cap.
  for (std::size_t i = first;; ++i) {
    if (spent + amount <= cap.max())
      return i == first ? now : d::from_ns<TimePoint>(d::add_sat(d::to_ns(purchases[i - 1].at), w));
    spent -= purchases[i].amount;  // i < size: with nothing left, spent is 0 and amount <= cap
  }
}

/**
 * Checks a purchase of `amount` by `account` against `cap` at `now`.
 * @return nothing when it fits; else errc::monthly_spend_limit saying what the
 *         purchases of the last 30 days would come to, the cap, how much can
 *         be bought now, how much frees up when, and from when the whole
 *         amount can be bought (or that it never can, being over the cap).
 *         Nothing is recorded either way.
 */
template <class TimePoint>
[[nodiscard]] result<void> check_spend(std::string_view account,
                                       std::span<const basic_spend_entry<TimePoint>> purchases,
                                       const spend_cap& cap, TimePoint now, const usd& amount) {
  namespace d = tiers::detail;
  const basic_spend_room<TimePoint> r = spend_room(purchases, cap, now);
  if (r.room.allows(amount)) return {};
  const std::int64_t now_ns = d::to_ns(now);
  std::string msg = fmt::format(
      "account '{}': a purchase of ${} would take the purchases of the last 30 days to ${}, over the "
      "30-day spend cap of ${}. ${} can be bought now",
      account, amount.to_string(), (r.spent + amount).to_string(), cap.max().to_string(), r.room.max().to_string());
  if (r.frees_at) {
    const std::int64_t at = d::to_ns(*r.frees_at);
    msg += fmt::format("; ${} more frees up at {} (in {})", r.frees.to_string(), d::utc(at), d::span(at - now_ns));
  }
  if (const auto whole = spend_fits_at(purchases, cap, now, amount))
    msg += fmt::format("; the whole ${} can be bought from {}", amount.to_string(), d::utc(d::to_ns(*whole)));
  else
    msg += fmt::format("; ${} is more than the cap itself, so it can never be bought at once", amount.to_string());
  return result<void>(errc::monthly_spend_limit, msg + ".");
}

/// The levels of spend, as percentages of the cap, that the observer hears of.
inline constexpr std::array<int, 3> spend_alert_percents{50, 80, 100};

/**
 * Spend alerts for one account: the state machine behind "the observer hears
 * spend at 50%, 80% and 100% of the cap, once per crossing". Its state is the
 * highest level reached (0: under 50%, 1: 50%, 2: 80%, 3: 100%); update()
 * with the spend of the window now and the cap returns the levels crossed
 * upward since the last update, lowest first, and re-arms the levels that
 * spend has fallen back below (old purchases leaving the window, a higher
 * cap after a promotion) without reporting them. A value type; persist
 * level() with the account's tier record.
 */
class spend_alerts {
 public:
  /// The levels crossed by one update: percents[0 .. count).
  struct crossings {
    std::array<int, 3> percents{};
    std::size_t count = 0;
    [[nodiscard]] const int* begin() const noexcept { return percents.data(); }
    [[nodiscard]] const int* end() const noexcept { return percents.data() + count; }
    [[nodiscard]] bool empty() const noexcept { return count == 0; }
  };

  spend_alerts() = default;
  /// Resumes at `level` (0 to 3, as level() returned).
  explicit spend_alerts(std::uint8_t level) : level_(level > 3 ? 3 : level) {}

  [[nodiscard]] std::uint8_t level() const noexcept { return level_; }

  /// Moves to the level of `spent` against `cap`; returns the levels crossed upward.
  [[nodiscard]] crossings update(const usd& spent, const spend_cap& cap) {
    const std::uint8_t now = level_of(spent, cap);
    crossings c;
    for (std::uint8_t l = level_; l < now; ++l) c.percents[c.count++] = spend_alert_percents[l];
    level_ = now;
    return c;
  }

  /// The level of `spent` against `cap` (0 with an unlimited cap): exact,
  /// spent * 100 >= cap * percent on the raw amounts.
  [[nodiscard]] static std::uint8_t level_of(const usd& spent, const spend_cap& cap) {
    if (cap.is_unlimited()) return 0;
    const auto s = spent.raw() * 100;
    std::uint8_t l = 0;
    for (int p : spend_alert_percents)
      if (s >= cap.max().raw() * p) ++l;
    return l;
  }

  friend bool operator==(const spend_alerts&, const spend_alerts&) = default;

 private:
  std::uint8_t level_ = 0;
};

}  // namespace tollgate
