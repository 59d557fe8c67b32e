// The limiter backend: where the gate keeps the limiter state of every
// (account, model) pair — the jobs created in the rolling 24 hours, the
// concurrency slots and the FIFO queue of throttled tasks — and generic token
// buckets. The gate admits a job in one call (admit: the daily cap, then a
// slot or a queue place, atomically), undoes it if a later step fails
// (revoke), frees it at the end (finish), keeps it alive while it runs
// (renew), and lets queued tasks start when slots come back (poll). Two
// models pass one test suite: the in-process basic_local_backend
// (local_backend.hpp) and redis::basic_backend (tollgate/redis/backend.hpp),
// whose state is shared by many service instances. This header holds what
// they share: the vocabulary types, the LimiterBackend concept and the events
// a backend reports to its observer.
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "../core/clock.hpp"
#include "../core/error.hpp"
#include "../core/format.hpp"
#include "decision.hpp"
#include "token_bucket.hpp"

namespace tollgate {

/// The rolling period of the daily cap: a job created at t counts at every
/// instant in [t, t + 24 h) and no longer.
inline constexpr std::chrono::nanoseconds daily_window = std::chrono::hours(24);

/// The longest account, model or task id a backend accepts, in bytes.
inline constexpr std::size_t max_limiter_id_bytes = 256;

/// Which state a call touches: one account's limits on one model (limits
/// apply to each model on its own). For take(), `model` names the bucket.
struct limiter_key {
  std::string_view account;
  std::string_view model;
};

/**
 * The limits in force for a key, passed on every call so a tier change takes
 * effect on the next call. nullopt is unlimited (a limit of 2^53 or more
 * cannot be reached either and is treated the same way). A daily limit of 0
 * refuses every job; a concurrency limit of 0 queues every job.
 */
struct key_limits {
  std::optional<std::uint64_t> daily;        ///< jobs created per rolling 24 h
  std::optional<std::uint64_t> concurrency;  ///< jobs running at once
};

/// What admit() did.
enum class admit_status : std::uint8_t {
  running,      ///< counted, and holds a slot: the job may start now
  queued,       ///< counted, and waits in the FIFO queue (THROTTLED)
  daily_limit,  ///< refused: the rolling 24-hour cap is reached (nothing changed)
  duplicate,    ///< refused: this task id is already admitted (nothing changed)
};

/// Where a task is.
enum class task_place : std::uint8_t {
  absent,   ///< holds neither a slot nor a queue place (finished, revoked, expired, never seen)
  running,  ///< holds a slot
  queued,   ///< waits in the queue
};

/// The name of a status, for logs.
[[nodiscard]] constexpr std::string_view to_string(admit_status s) noexcept {
  switch (s) {
    case admit_status::running: return "running";
    case admit_status::queued: return "queued";
    case admit_status::daily_limit: return "daily_limit";
    case admit_status::duplicate: return "duplicate";
  }
  return "unknown";
}

/// The name of a place, for logs.
[[nodiscard]] constexpr std::string_view to_string(task_place p) noexcept {
  switch (p) {
    case task_place::absent: return "absent";
    case task_place::running: return "running";
    case task_place::queued: return "queued";
  }
  return "unknown";
}

/**
 * What every call that changes a key may report besides its own answer.
 * `started`: queued tasks of this key that hold a slot from now on, in FIFO
 * order (whoever runs one must renew it, see renew()). `expired`: tasks whose
 * lease ran out because no one renewed them (their instance stopped): they
 * hold nothing any more and their job should be failed. Both are empty on
 * the common path (no allocation).
 */
struct limiter_changes {
  std::vector<std::string> started;
  std::vector<std::string> expired;
};

/// The answer to admit().
template <class TimePoint>
struct basic_admission : limiter_changes {
  admit_status status = admit_status::running;
  /// Where the task is now: running or queued when admitted; for a
  /// duplicate, where the earlier admission put it (absent when it has
  /// left; the Redis backend also answers duplicate for a task id counted
  /// in the last 24 h that has left).
  task_place place = task_place::absent;
  /// Queued: the 1-based place in the queue (1 = next to start).
  std::uint64_t position = 0;
  /// Admitted: the instant the window counted the job (the backend's time:
  /// Redis's clock for the Redis backend); pass it to revoke(). For a
  /// duplicate, the Redis backend gives the earlier admission's instant
  /// while it is in the window, the local one the epoch.
  TimePoint created_at{};
  /// daily_limit: the exact wait until one more job fits, if nothing else
  /// is admitted meanwhile; nanoseconds::max() when the daily limit is 0.
  std::chrono::nanoseconds retry_after{0};
  /// Jobs created in the window after this call (this one included when
  /// admitted).
  std::uint64_t created = 0;

  /// True when the job was admitted (running or queued).
  [[nodiscard]] bool admitted() const noexcept {
    return status == admit_status::running || status == admit_status::queued;
  }
};

/// The answer to finish() and revoke().
struct limiter_release : limiter_changes {
  bool found = false;        ///< the task held a slot or a queue place
  bool was_running = false;  ///< it held a slot
};

/// The answer to renew(): where the task is (also a way to learn that a
/// queued task has started).
struct limiter_renewal : limiter_changes {
  task_place place = task_place::absent;
  std::uint64_t position = 0;  ///< queued: the 1-based place
};

/// A key's state, for the organization view.
struct key_usage {
  std::uint64_t created = 0;  ///< jobs created in the last 24 h (dailyGenerations)
  std::uint64_t running = 0;  ///< tasks holding a slot
  std::uint64_t queued = 0;   ///< tasks waiting (THROTTLED)
};

/**
 * One task from the ledger's history, to rebuild a key's state after a
 * restart (restore()): every task created in the last 24 hours, and every
 * open task, in the order they were admitted. `place` says whether it holds
 * a slot, waits (queued tasks are queued again in the given order) or has
 * left (it still counts toward the daily cap while in the window).
 */
template <class TimePoint>
struct basic_restored_task {
  std::string_view task;
  TimePoint created_at{};
  task_place place = task_place::absent;
};

/// What a backend tells its observer about itself (the decisions themselves
/// are in the answers).
enum class limiter_event_kind : std::uint8_t {
  unreachable,    ///< the shared store failed a call (detail: why); the configured failure mode follows
  fallback,       ///< a decision was made by the local fallback limiter instead
  recovered,      ///< the shared store answers again after a failure
  lease_expired,  ///< a task's lease ran out and its slot or queue place was taken back
};

/// The name of an event kind, for logs.
[[nodiscard]] constexpr std::string_view to_string(limiter_event_kind k) noexcept {
  switch (k) {
    case limiter_event_kind::unreachable: return "unreachable";
    case limiter_event_kind::fallback: return "fallback";
    case limiter_event_kind::recovered: return "recovered";
    case limiter_event_kind::lease_expired: return "lease_expired";
  }
  return "unknown";
}

/// One event. The views are valid during the observer call only.
struct limiter_event {
  limiter_event_kind kind{};
  std::string_view account;  ///< the key of the call that met the event
  std::string_view model;
  std::string_view task;     ///< lease_expired: the task
  std::string_view detail;   ///< unreachable: the error
};

/// Hears a backend's events; called on the calling thread, must not throw
/// and must not call back into the backend.
using limiter_observer = std::function<void(const limiter_event&)>;

/**
 * A limiter backend: the state behind the gate's daily caps, concurrency
 * slots, FIFO queues and token buckets. Every call is one atomic step on one
 * key, so two callers (threads, processes) never both take the last slot or
 * the last job of the day. Every call returns a result: invalid ids are
 * `invalid_argument`; a shared store that cannot decide is `unavailable`
 * (the outcome of that call is then unknown: calling admit() again with the
 * same task id is safe, a duplicate says where the task is).
 *
 * | expression | result | meaning |
 * | --- | --- | --- |
 * | `B::clock_type`, `B::time_point` | | the clock `now` comes from |
 * | `b.admit(k, task, limits, now)` | `result<basic_admission<time_point>>` | refuse at the daily cap (exact retry_after), else count the job and take a slot or the queue's tail |
 * | `b.revoke(k, task, created_at, limits, now)` | `result<limiter_release>` | undo an admit whose later step failed: uncount it, free its slot or queue place |
 * | `b.finish(k, task, limits, now)` | `result<limiter_release>` | the task ended (or was cancelled): free its slot or queue place; the count stays |
 * | `b.renew(k, task, limits, now)` | `result<limiter_renewal>` | extend the task's lease (running or queued) and say where it is |
 * | `b.poll(k, limits, now)` | `result<limiter_changes>` | take back expired leases and start what fits the limits now (a promotion) |
 * | `b.state(k, now)` | `result<key_usage>` | created in 24 h, running, queued (reads only) |
 * | `b.restore(k, tasks, limits, now)` | `result<limiter_changes>` | rebuild a key from the ledger's history after a restart |
 * | `b.take(k, n, rate, burst, now)` | `result<limit_decision>` | a token bucket: take n tokens if there |
 *
 * Every call that changes a key first takes back leases that expired and
 * starts queued tasks that fit `limits` (FIFO), and reports both in its
 * answer. A queued task learns it started from the call that started it, or
 * from its own renew().
 */
template <class B>
concept LimiterBackend =
    requires(B& b, const limiter_key& k, std::string_view task, const key_limits& limits,
             typename B::time_point now, std::span<const basic_restored_task<typename B::time_point>> tasks,
             std::uint64_t n, token_rate rate) {
      requires Clock<typename B::clock_type>;
      requires std::same_as<typename B::time_point, typename B::clock_type::time_point>;
      { b.admit(k, task, limits, now) } -> std::same_as<result<basic_admission<typename B::time_point>>>;
      { b.revoke(k, task, now, limits, now) } -> std::same_as<result<limiter_release>>;
      { b.finish(k, task, limits, now) } -> std::same_as<result<limiter_release>>;
      { b.renew(k, task, limits, now) } -> std::same_as<result<limiter_renewal>>;
      { b.poll(k, limits, now) } -> std::same_as<result<limiter_changes>>;
      { b.state(k, now) } -> std::same_as<result<key_usage>>;
      { b.restore(k, tasks, limits, now) } -> std::same_as<result<limiter_changes>>;
      { b.take(k, n, rate, n, now) } -> std::same_as<result<limit_decision>>;
    };

namespace limits::detail {

/// A limit that can never be reached (absent, or 2^53 or more) as nullopt,
/// so both backends treat them alike (Lua numbers are exact below 2^53).
[[nodiscard]] constexpr std::optional<std::uint64_t> effective_limit(std::optional<std::uint64_t> l) noexcept {
  if (l && *l >= (std::uint64_t{1} << 53)) return std::nullopt;
  return l;
}

/// Checks one id: 1 to max_limiter_id_bytes bytes.
[[nodiscard]] inline result<void> check_id(std::string_view what, std::string_view id) {
  if (id.empty() || id.size() > max_limiter_id_bytes)
    return {errc::invalid_argument, "limiter: the " + std::string(what) + " id must be 1 to " +
                                        std::to_string(max_limiter_id_bytes) + " bytes long, got " +
                                        std::to_string(id.size())};
  return {};
}

/// Checks a key's ids (and a task id, when given).
[[nodiscard]] inline result<void> check_key(const limiter_key& k, std::string_view task = "-") {
  if (auto r = check_id("account", k.account); !r) return r;
  if (auto r = check_id("model", k.model); !r) return r;
  return check_id("task", task);
}

}  // namespace limits::detail
}  // namespace tollgate
