// The vocabulary of the gate (gate.hpp): task states as the provider names
// them, the task a submission creates, what settling a task did, the answer
// to a submission (a task, or a refusal with its errc and, for the daily cap,
// how long to wait), what a purchase did, and the gate's options. Plain value
// types; basic_gate produces and consumes them.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "../core/error.hpp"
#include "../core/format.hpp"
#include "../core/money.hpp"
#include "../ledger/types.hpp"
#include "../pricing/catalog.hpp"
#include "../pricing/runway.hpp"
#include "../tiers/autobilling.hpp"
#include "../tiers/runway.hpp"
#include "../tiers/tier_table.hpp"

namespace tollgate {

/**
 * Where a task stands, in the provider's own words (its API and official
 * client use these names). Values are written into hold notes: never
 * renumber.
 */
enum class task_status : std::uint8_t {
  pending = 1,    ///< holds a concurrency slot; waits for the host to start it (explicit_start only)
  throttled = 2,  ///< waits in its (account, model) FIFO queue for a slot
  running = 3,    ///< holds a slot and runs
  succeeded = 4,  ///< completed: its actual cost was captured
  failed = 5,     ///< failed: refunded in full (cost 0)
  cancelled = 6,  ///< cancelled: refunded in full (cost 0)
};

/// "PENDING", "THROTTLED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED".
[[nodiscard]] constexpr std::string_view to_string(task_status s) noexcept {
  switch (s) {
    case task_status::pending: return "PENDING";
    case task_status::throttled: return "THROTTLED";
    case task_status::running: return "RUNNING";
    case task_status::succeeded: return "SUCCEEDED";
    case task_status::failed: return "FAILED";
    case task_status::cancelled: return "CANCELLED";
  }
  return "UNKNOWN";
}

/// True for SUCCEEDED, FAILED and CANCELLED: nothing changes a final task.
[[nodiscard]] constexpr bool is_final(task_status s) noexcept {
  return s == task_status::succeeded || s == task_status::failed || s == task_status::cancelled;
}

/// True for PENDING and RUNNING: the task holds a concurrency slot.
[[nodiscard]] constexpr bool holds_slot(task_status s) noexcept {
  return s == task_status::pending || s == task_status::running;
}

/// Names one task: the account it belongs to and its id. Task ids are unique
/// per account (a task is always looked up through its account, so unrelated
/// accounts never meet in a shared index).
struct task_ref {
  std::string_view account;
  std::string_view id;
};

/**
 * A task as the gate sees it now.
 *
 * `estimate` is the quote's charge, held at submission; `cost` is what was
 * captured (SUCCEEDED), 0 for a task refunded in full (FAILED, CANCELLED)
 * and for a task still open. `position` is the 1-based place in its queue
 * (THROTTLED only). `replayed`: this answer repeats an earlier submission
 * with the same key. `recovered`: the task was rebuilt from the ledger when
 * the gate was opened; until the host starts, completes, fails or cancels
 * it, the orphan timeout may release it.
 */
template <class TimePoint>
struct basic_task {
  std::string id{};
  std::string account{};
  std::string model{};
  task_status status = task_status::pending;
  credits estimate{};
  credits cost{};
  TimePoint created_at{};
  std::optional<TimePoint> finished_at{};
  std::uint64_t position = 0;
  hold_id hold{};
  bool replayed = false;
  bool recovered = false;
  std::string failure{};  ///< FAILED: the reason the host gave

  /// The reference to pass back to the gate.
  [[nodiscard]] task_ref ref() const noexcept { return {account, id}; }
  operator task_ref() const noexcept { return ref(); }  // NOLINT: a task names itself
};

/**
 * What completing, failing or cancelling a task did: the task's final view,
 * the credits returned to the account (a capture's remainder, or the whole
 * hold), and the tasks of the same account and model that took the freed
 * slot (now RUNNING, or PENDING with explicit_start), in FIFO order: the host
 * runs them.
 */
template <class TimePoint>
struct basic_settlement {
  basic_task<TimePoint> task{};
  credits refunded{};
  std::vector<std::string> started{};
};

/**
 * The answer to a submission: a task, or a refusal (its errc and a message a
 * person can act on) with, for errc::daily_limit, the exact wait until one
 * more job fits (`retry_after`). Read it like a result<task>.
 */
template <class TimePoint>
class basic_submission {
 public:
  using task_type = basic_task<TimePoint>;

  basic_submission(task_type t) : r_(std::move(t)) {}  // NOLINT: a task is a submission
  basic_submission(tollgate::error e, std::optional<std::chrono::nanoseconds> retry_after = {})
      : r_(std::move(e)), retry_after_(retry_after) {}

  [[nodiscard]] bool has_value() const noexcept { return r_.has_value(); }
  explicit operator bool() const noexcept { return r_.has_value(); }
  [[nodiscard]] const task_type& operator*() const& noexcept { return *r_; }
  [[nodiscard]] task_type&& operator*() && noexcept { return std::move(*r_); }
  [[nodiscard]] const task_type* operator->() const noexcept { return &*r_; }
  /// The task; throws bad_result_access on a refusal.
  [[nodiscard]] const task_type& value() const& { return r_.value(); }
  [[nodiscard]] const tollgate::error& error() const& noexcept { return r_.error(); }
  [[nodiscard]] std::error_code code() const noexcept { return r_.code(); }
  /// errc::daily_limit: how long until one more job of the model fits.
  [[nodiscard]] std::optional<std::chrono::nanoseconds> retry_after() const noexcept { return retry_after_; }
  /// The same answer as a result<task> (the retry_after dropped).
  [[nodiscard]] const result<task_type>& as_result() const& noexcept { return r_; }

 private:
  result<task_type> r_;
  std::optional<std::chrono::nanoseconds> retry_after_{};
};

/// What a purchase did and where it left the account.
template <class TimePoint>
struct basic_purchase_receipt {
  usd paid{};
  credits amount{};            ///< the credits bought
  credits available{};         ///< the account's available credits after it
  tier_id tier{};              ///< the account's tier after it (promotions included)
  bool promoted = false;       ///< this purchase moved the account up
  bool replayed = false;       ///< the same key was used before: nothing new happened
  TimePoint at{};
};

/**
 * Behaviour of a gate that does not depend on its policies.
 * @tparam Catalog the catalog type (basic_catalog<Rounding>).
 */
template <class Catalog = catalog>
struct basic_gate_options {
  /// The models, their rates and the credit price (default: Runway's list).
  Catalog catalog = Catalog(runway_models());
  /// The usage tiers (default: Runway's five).
  tier_table tiers = runway_tiers();
  /**
   * How long a task recovered from the ledger after a restart keeps its hold
   * and its slot before the gate releases it, if the host neither starts,
   * completes, fails nor cancels it (reported to the observer as orphaned).
   */
  std::chrono::nanoseconds orphan_timeout = std::chrono::hours(24);
  /// How long a finished task stays readable (task(), idempotent replays).
  std::chrono::nanoseconds task_retention = std::chrono::hours(24);
  /**
   * false (default): a task that gets a slot is RUNNING at once (the slot is
   * the permission to run). true: it is PENDING until the host calls
   * start(); that transition is then made durable (one more ledger write).
   */
  bool explicit_start = false;
  /// The autobilling engine's knobs.
  autobilling_options autobilling{};
  /// Options of the ledger the gate makes itself (in memory, or open()).
  ledger_options ledger{};
};

}  // namespace tollgate
