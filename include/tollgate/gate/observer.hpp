// What the gate tells its host: every decision on a task (admitted,
// throttled, started, completed, failed, cancelled, refunded, orphaned),
// every refusal with its reason, every purchase, and the tier engine's
// events (promotions, spend alerts, low balance, autobilling switched off,
// shadow decisions; tiers/observer.hpp). A GateObserver has one `on(event)`
// per event type. null_gate_observer hears nothing and costs nothing;
// counters_observer counts everything and prints its figures in the
// Prometheus text exposition format. Events are delivered after the gate's
// locks are released, on the thread that caused them; the string views in
// an event are valid during the call only.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "../core/error.hpp"
#include "../core/format.hpp"
#include "../core/money.hpp"
#include "../tiers/observer.hpp"
#include "types.hpp"

namespace tollgate {

/// What happened to a task.
enum class task_event_kind : std::uint8_t {
  admitted,   ///< accepted: credits held, counted toward the daily cap (status: RUNNING, PENDING or THROTTLED)
  throttled,  ///< accepted into its queue (position in the event)
  started,    ///< took a concurrency slot (at admission, or later from the queue)
  completed,  ///< SUCCEEDED: `amount` captured, `refunded` returned
  failed,     ///< FAILED by the host: refunded in full
  cancelled,  ///< CANCELLED: refunded in full
  refunded,   ///< credits returned in full (after failed, cancelled, orphaned)
  orphaned,   ///< a recovered task nobody claimed within the orphan timeout: released (FAILED)
};

inline constexpr std::size_t task_event_kinds = 8;

[[nodiscard]] constexpr std::string_view to_string(task_event_kind k) noexcept {
  switch (k) {
    case task_event_kind::admitted: return "admitted";
    case task_event_kind::throttled: return "throttled";
    case task_event_kind::started: return "started";
    case task_event_kind::completed: return "completed";
    case task_event_kind::failed: return "failed";
    case task_event_kind::cancelled: return "cancelled";
    case task_event_kind::refunded: return "refunded";
    case task_event_kind::orphaned: return "orphaned";
  }
  return "unknown";
}

/**
 * One decision on a task. `amount`: the credits held (admitted, throttled,
 * started), captured (completed) or returned (refunded); `refunded`: what a
 * completion returned of its hold.
 */
template <class TimePoint>
struct basic_task_event {
  task_event_kind kind{};
  std::string_view account;
  std::string_view model;
  std::string_view task;
  task_status status{};
  credits amount{};
  credits refunded{};
  std::uint64_t position = 0;  ///< throttled: the 1-based place in the queue
  TimePoint at{};
};

/// A refused request: a submission (model set) or a purchase (model empty).
template <class TimePoint>
struct basic_refusal_event {
  std::string_view account;
  std::string_view model;
  errc reason{};
  std::string_view message;
  std::optional<std::chrono::nanoseconds> retry_after{};
  TimePoint at{};
};

/// Credits bought: by the host's purchase() or by autobilling (`automatic`).
template <class TimePoint>
struct basic_purchase_event {
  std::string_view account;
  usd paid{};
  credits amount{};
  bool automatic = false;
  TimePoint at{};
};

/**
 * Hears everything the gate decides.
 *
 * | expression | meaning |
 * | --- | --- |
 * | `o.on(basic_task_event<T>)` | a task was admitted, throttled, started, completed, failed, cancelled, refunded or orphaned |
 * | `o.on(basic_refusal_event<T>)` | a submission or a purchase was refused, with its errc |
 * | `o.on(basic_purchase_event<T>)` | credits were bought (by hand or by autobilling) |
 * | `o.on(...)` for each TierObserver event | promotions, spend alerts, low balance, autobilling switched off, shadow decisions |
 *
 * Called with no lock of the gate held, on the thread that caused the event;
 * must not throw. An observer shared by threads guards its own state.
 */
template <class O, class TimePoint>
concept GateObserver = TierObserver<O, TimePoint> &&
                       requires(O& o, const basic_task_event<TimePoint>& t, const basic_refusal_event<TimePoint>& r,
                                const basic_purchase_event<TimePoint>& p) {
                         o.on(t);
                         o.on(r);
                         o.on(p);
                       };

/// Hears nothing, costs nothing (the gate does not even gather the events).
struct null_gate_observer {
  template <class Event>
  void on(const Event&) noexcept {}
};

namespace gate_detail {

/// A stable, machine-readable name of each errc (metric labels, logs).
[[nodiscard]] constexpr std::string_view errc_name(errc e) noexcept {
  switch (e) {
    case errc::insufficient_credits: return "insufficient_credits";
    case errc::daily_limit: return "daily_limit";
    case errc::monthly_spend_limit: return "monthly_spend_limit";
    case errc::unknown_model: return "unknown_model";
    case errc::invalid_usage: return "invalid_usage";
    case errc::invalid_utf8: return "invalid_utf8";
    case errc::idempotency_conflict: return "idempotency_conflict";
    case errc::unknown_hold: return "unknown_hold";
    case errc::storage_failure: return "storage_failure";
    case errc::overflow: return "overflow";
    case errc::invalid_amount: return "invalid_amount";
    case errc::invalid_account: return "invalid_account";
    case errc::read_only: return "read_only";
    case errc::corrupt_journal: return "corrupt_journal";
    case errc::hold_exceeded: return "hold_exceeded";
    case errc::queue_full: return "queue_full";
    case errc::exceeds_burst: return "exceeds_burst";
    case errc::invalid_argument: return "invalid_argument";
    case errc::locked: return "locked";
    case errc::io_error: return "io_error";
    case errc::unavailable: return "unavailable";
  }
  return "other";
}

inline constexpr std::size_t errc_slots = 32;

/// Micro-units as "12.345678" (trailing zeros dropped).
[[nodiscard]] inline std::string micro_text(std::int64_t micro) {
  const bool neg = micro < 0;
  const std::uint64_t m = neg ? 0 - static_cast<std::uint64_t>(micro) : static_cast<std::uint64_t>(micro);
  std::string out = fmt::format("{}{}", neg ? "-" : "", m / 1'000'000);
  if (const std::uint64_t f = m % 1'000'000; f != 0) {
    std::string frac = fmt::format("{:06}", f);
    while (frac.back() == '0') frac.pop_back();
    out += "." + frac;
  }
  return out;
}

/// An amount's raw value (micro-units) as int64, saturating.
template <class A>
[[nodiscard]] std::int64_t micro_of(const A& a) {
  const auto& r = a.raw();
  if (r > std::numeric_limits<std::int64_t>::max()) return std::numeric_limits<std::int64_t>::max();
  if (r < std::numeric_limits<std::int64_t>::min()) return std::numeric_limits<std::int64_t>::min();
  return static_cast<std::int64_t>(r);
}

}  // namespace gate_detail

/**
 * Counts every event, lock-free. Copies share one set of figures (keep a
 * copy to read what the gate's copy counted). prometheus_text() prints them
 * in the Prometheus text exposition format, version 0.0.4, with no
 * dependency. Credits and dollars are summed exactly in micro-units (an
 * int64: up to 9.2 * 10^12 credits or dollars). Thread-safe.
 */
class counters_observer {
 public:
  /// The figures, read one by one (each exact; together a near snapshot).
  struct figures {
    std::array<std::uint64_t, task_event_kinds> tasks{};
    std::array<std::uint64_t, gate_detail::errc_slots> refusals{};
    std::uint64_t purchases = 0, automatic_purchases = 0;
    std::int64_t purchased_usd_micro = 0, captured_micro = 0, refunded_micro = 0;
    std::uint64_t promotions = 0, low_balance = 0, autobilling_disabled = 0;
    std::array<std::uint64_t, 3> spend_alerts{};  ///< 50%, 80%, 100%
    std::uint64_t shadow_same = 0, shadow_differs = 0;
    [[nodiscard]] std::uint64_t task(task_event_kind k) const { return tasks[static_cast<std::size_t>(k)]; }
    [[nodiscard]] std::uint64_t refused(errc e) const { return refusals[static_cast<std::size_t>(e) % refusals.size()]; }
  };

  counters_observer() : s_(std::make_shared<state>()) {}

  template <class T>
  void on(const basic_task_event<T>& e) noexcept {
    add(s_->tasks[static_cast<std::size_t>(e.kind)], 1);
    if (e.kind == task_event_kind::completed) {
      add(s_->captured, gate_detail::micro_of(e.amount));
      add(s_->refunded, gate_detail::micro_of(e.refunded));
    }
    if (e.kind == task_event_kind::refunded) add(s_->refunded, gate_detail::micro_of(e.amount));
  }
  template <class T>
  void on(const basic_refusal_event<T>& e) noexcept {
    add(s_->refusals[static_cast<std::size_t>(e.reason) % gate_detail::errc_slots], 1);
  }
  template <class T>
  void on(const basic_purchase_event<T>& e) noexcept {
    add(e.automatic ? s_->automatic_purchases : s_->purchases, 1);
    add(s_->purchased_usd, gate_detail::micro_of(e.paid));
  }
  template <class T>
  void on(const basic_promotion_event<T>&) noexcept {
    add(s_->promotions, 1);
  }
  template <class T>
  void on(const basic_spend_alert_event<T>& e) noexcept {
    const std::size_t i = e.percent >= 100 ? 2 : e.percent >= 80 ? 1 : 0;
    add(s_->spend_alerts[i], 1);
  }
  template <class T>
  void on(const basic_low_balance_event<T>&) noexcept {
    add(s_->low_balance, 1);
  }
  template <class T>
  void on(const basic_autobilling_disabled_event<T>&) noexcept {
    add(s_->autobilling_disabled, 1);
  }
  template <class T>
  void on(const basic_shadow_decision_event<T>& e) noexcept {
    add(e.differs() ? s_->shadow_differs : s_->shadow_same, 1);
  }

  /// The figures now.
  [[nodiscard]] figures read() const {
    figures f;
    for (std::size_t i = 0; i < f.tasks.size(); ++i) f.tasks[i] = s_->tasks[i].load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < f.refusals.size(); ++i)
      f.refusals[i] = s_->refusals[i].load(std::memory_order_relaxed);
    f.purchases = s_->purchases.load(std::memory_order_relaxed);
    f.automatic_purchases = s_->automatic_purchases.load(std::memory_order_relaxed);
    f.purchased_usd_micro = s_->purchased_usd.load(std::memory_order_relaxed);
    f.captured_micro = s_->captured.load(std::memory_order_relaxed);
    f.refunded_micro = s_->refunded.load(std::memory_order_relaxed);
    f.promotions = s_->promotions.load(std::memory_order_relaxed);
    f.low_balance = s_->low_balance.load(std::memory_order_relaxed);
    f.autobilling_disabled = s_->autobilling_disabled.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < 3; ++i) f.spend_alerts[i] = s_->spend_alerts[i].load(std::memory_order_relaxed);
    f.shadow_same = s_->shadow_same.load(std::memory_order_relaxed);
    f.shadow_differs = s_->shadow_differs.load(std::memory_order_relaxed);
    return f;
  }

  /// The figures in the Prometheus text exposition format (metric names
  /// start with `tollgate_`; each has its HELP and TYPE lines).
  [[nodiscard]] std::string prometheus_text() const {
    const figures f = read();
    std::string out;
    const auto head = [&](std::string_view name, std::string_view help) {
      out += fmt::format("# HELP {} {}\n# TYPE {} counter\n", name, help, name);
    };
    head("tollgate_tasks_total", "Decisions on tasks, by kind.");
    for (std::size_t i = 0; i < task_event_kinds; ++i)
      out += fmt::format("tollgate_tasks_total{{kind=\"{}\"}} {}\n", to_string(static_cast<task_event_kind>(i)),
                         f.tasks[i]);
    head("tollgate_refusals_total", "Refused submissions and purchases, by reason.");
    bool any = false;
    for (std::size_t i = 0; i < f.refusals.size(); ++i) {
      if (f.refusals[i] == 0) continue;
      any = true;
      out += fmt::format("tollgate_refusals_total{{reason=\"{}\"}} {}\n",
                         gate_detail::errc_name(static_cast<errc>(i)), f.refusals[i]);
    }
    if (!any) out += "tollgate_refusals_total{reason=\"insufficient_credits\"} 0\n";
    head("tollgate_purchases_total", "Purchases of credits, by how they were made.");
    out += fmt::format("tollgate_purchases_total{{kind=\"manual\"}} {}\n", f.purchases);
    out += fmt::format("tollgate_purchases_total{{kind=\"automatic\"}} {}\n", f.automatic_purchases);
    head("tollgate_purchased_usd_total", "Dollars of credits bought.");
    out += fmt::format("tollgate_purchased_usd_total {}\n", gate_detail::micro_text(f.purchased_usd_micro));
    head("tollgate_captured_credits_total", "Credits captured by completed tasks.");
    out += fmt::format("tollgate_captured_credits_total {}\n", gate_detail::micro_text(f.captured_micro));
    head("tollgate_refunded_credits_total", "Credits returned: whole refunds and the remainders of captures.");
    out += fmt::format("tollgate_refunded_credits_total {}\n", gate_detail::micro_text(f.refunded_micro));
    head("tollgate_promotions_total", "Accounts moved up a tier.");
    out += fmt::format("tollgate_promotions_total {}\n", f.promotions);
    head("tollgate_spend_alerts_total", "Spend of the rolling 30 days crossing a share of the cap.");
    for (std::size_t i = 0; i < 3; ++i)
      out += fmt::format("tollgate_spend_alerts_total{{percent=\"{}\"}} {}\n", spend_alert_percents[i],
                         f.spend_alerts[i]);
    head("tollgate_low_balance_total", "Balances falling under the autobilling threshold.");
    out += fmt::format("tollgate_low_balance_total {}\n", f.low_balance);
    head("tollgate_autobilling_disabled_total", "Autobilling switched off after failed recharges.");
    out += fmt::format("tollgate_autobilling_disabled_total {}\n", f.autobilling_disabled);
    head("tollgate_shadow_decisions_total", "Decisions taken against shadow overrides, by outcome.");
    out += fmt::format("tollgate_shadow_decisions_total{{outcome=\"same\"}} {}\n", f.shadow_same);
    out += fmt::format("tollgate_shadow_decisions_total{{outcome=\"differs\"}} {}\n", f.shadow_differs);
    return out;
  }

 private:
  struct state {
    std::array<std::atomic<std::uint64_t>, task_event_kinds> tasks{};
    std::array<std::atomic<std::uint64_t>, gate_detail::errc_slots> refusals{};
    std::atomic<std::uint64_t> purchases{0}, automatic_purchases{0};
    std::atomic<std::int64_t> purchased_usd{0}, captured{0}, refunded{0};
    std::atomic<std::uint64_t> promotions{0}, low_balance{0}, autobilling_disabled{0};
    std::array<std::atomic<std::uint64_t>, 3> spend_alerts{};
    std::atomic<std::uint64_t> shadow_same{0}, shadow_differs{0};
  };
  template <class A, class V>
  static void add(std::atomic<A>& a, V v) noexcept {
    a.fetch_add(static_cast<A>(v), std::memory_order_relaxed);
  }
  std::shared_ptr<state> s_;
};

}  // namespace tollgate
