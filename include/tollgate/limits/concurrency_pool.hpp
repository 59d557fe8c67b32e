// Concurrency pool: at most `limit` tasks of one key (an account and model
// group) run at once; the rest wait in a FIFO queue, they are not rejected
// (the THROTTLED state of DESIGN.md). Task ids are the caller's (job ids).
// submit() answers "running" or "queued at position p"; finish() and cancel()
// free what the task held and return the queued tasks that start because of
// it, strictly in submission order; raising the limit (a tier promotion)
// starts queued tasks at once, lowering it never stops a running task, it only
// holds back new starts until enough finish. An optional bound on the queue
// refuses further submissions with queue_full. keyed<> holds one pool per key.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../core/format.hpp"
#include "../core/sync.hpp"
#include "decision.hpp"

namespace tollgate {

/// What submit() did with a task.
enum class pool_status : std::uint8_t {
  running,     ///< it holds a slot and may start now
  queued,      ///< it waits in the FIFO queue (THROTTLED)
  queue_full,  ///< refused: the queue is at its bound
  duplicate,   ///< refused: a task with this id is already running or queued
};

/// The name of a status, for logs.
[[nodiscard]] constexpr std::string_view to_string(pool_status s) noexcept {
  switch (s) {
    case pool_status::running: return "running";
    case pool_status::queued: return "queued";
    case pool_status::queue_full: return "queue_full";
    case pool_status::duplicate: return "duplicate";
  }
  return "unknown";
}

/// The answer to submit(): the status and, when queued, the 1-based position
/// in the queue (1 = next to start); 0 otherwise.
struct [[nodiscard]] pool_admission {
  pool_status status = pool_status::running;
  std::size_t position = 0;
};

/**
 * At most `limit` running tasks, the rest in a FIFO queue.
 *
 * @tparam TaskId a hashable, equality-comparable, copyable id supplied by the
 *         caller (a job id); ids must be unique among the pool's running and
 *         queued tasks, and may be reused once a task has left.
 * @tparam S multi_thread: every member is thread-safe (one std::mutex) and
 *         the pool is neither copyable nor movable; single_thread: not
 *         thread-safe, a copyable and movable value (what keyed<> stores,
 *         under its shard lock).
 * @tparam Hash the hash of TaskId.
 *
 * Invariants: running() <= limit() except after the limit was lowered, and
 * then no task starts until running() < limit(); a task is in at most one of
 * "running" and "queued"; the queue starts in submission order.
 */
template <class TaskId = std::uint64_t, Sync S = multi_thread, class Hash = std::hash<TaskId>>
class basic_concurrency_pool {
 public:
  using task_id = TaskId;
  using sync_type = S;
  /// Tasks that start, in the order they must start (empty: no allocation).
  using started_tasks = std::vector<TaskId>;

  /// The answer to finish() and cancel().
  struct [[nodiscard]] release_result {
    bool found = false;        ///< the task was there (running, or queued for cancel())
    bool was_running = false;  ///< it held a slot (so the job may need stopping)
    started_tasks started;     ///< the queued tasks that start now, FIFO
  };

  /// A pool of `limit` slots (0 holds every task in the queue) and an
  /// optional bound on the queue.
  explicit basic_concurrency_pool(std::size_t limit,
                                  std::optional<std::size_t> queue_bound = std::nullopt)
      : limit_(limit), queue_bound_(queue_bound) {}

  /// A copy with the same tasks (single_thread only). The index of the copy
  /// points into the copy's own queue.
  basic_concurrency_pool(const basic_concurrency_pool& o)
    requires(!S::is_thread_safe)
      : limit_(o.limit_), queue_bound_(o.queue_bound_), running_(o.running_), queue_(o.queue_), index_(o.index_) {
    // The copied index still holds iterators into o's queue: point them at ours.
    for (auto q = queue_.begin(); q != queue_.end(); ++q) index_.find(*q)->second.it = q;
  }
  basic_concurrency_pool& operator=(const basic_concurrency_pool& o)
    requires(!S::is_thread_safe)
  {
    if (this != &o) {
      basic_concurrency_pool copy(o);
      *this = std::move(copy);
    }
    return *this;
  }
  // Moving keeps every iterator valid: std::list moves its nodes.
  basic_concurrency_pool(basic_concurrency_pool&&) = default;
  basic_concurrency_pool& operator=(basic_concurrency_pool&&) = default;

  /**
   * Runs the task if a slot is free, else queues it (FIFO). @return running;
   * queued with its 1-based position; queue_full when the queue is at its
   * bound; duplicate when the id is already running or queued (nothing
   * changes). Thread-safe when S is multi_thread.
   */
  pool_admission submit(const TaskId& task) {
    std::lock_guard<typename S::mutex_type> lock(m_);
    auto [it, inserted] = index_.try_emplace(task);
    if (!inserted) return {pool_status::duplicate, 0};
    if (running_ < limit_ && queue_.empty()) {
      ++running_;  // a default slot is "running"
      return {pool_status::running, 0};
    }
    if (queue_bound_ && queue_.size() >= *queue_bound_) {
      index_.erase(it);
      return {pool_status::queue_full, 0};
    }
    try {
      it->second = slot{queue_.insert(queue_.end(), task), true};
    } catch (...) {
      index_.erase(it);  // not half-registered as "running" without a slot
      throw;
    }
    return {pool_status::queued, queue_.size()};
  }

  /**
   * A running task finished (or failed): frees its slot. @return found =
   * false when the task is not running (unknown, or still queued: use
   * cancel()); the tasks that start now. Thread-safe when S is
   * multi_thread.
   */
  release_result finish(const TaskId& task) {
    std::lock_guard<typename S::mutex_type> lock(m_);
    release_result r;
    auto it = index_.find(task);
    if (it == index_.end() || it->second.queued) return r;
    r.started = startable(limit_, running_ - 1);  // may throw: nothing has changed yet
    index_.erase(it);
    --running_;
    r.found = true;
    r.was_running = true;
    start(r.started);
    return r;
  }

  /**
   * Cancels a task: a queued one leaves the queue, a running one frees its
   * slot. @return found = false for an unknown task; the tasks that start
   * now. Thread-safe when S is multi_thread.
   */
  release_result cancel(const TaskId& task) {
    std::lock_guard<typename S::mutex_type> lock(m_);
    release_result r;
    auto it = index_.find(task);
    if (it == index_.end()) return r;
    r.found = true;
    if (it->second.queued) {
      // Leaving the queue frees no slot, so nothing starts.
      queue_.erase(it->second.it);
      index_.erase(it);
      return r;
    }
    r.started = startable(limit_, running_ - 1);  // may throw: nothing has changed yet
    index_.erase(it);
    --running_;
    r.was_running = true;
    start(r.started);
    return r;
  }

  /**
   * Sets the number of slots. Raising it starts queued tasks at once (they
   * are returned, FIFO); lowering it stops nothing, new starts wait until
   * enough running tasks have left. Thread-safe when S is multi_thread.
   */
  [[nodiscard]] started_tasks set_limit(std::size_t limit) {
    std::lock_guard<typename S::mutex_type> lock(m_);
    started_tasks started = startable(limit, running_);  // may throw: nothing has changed yet
    limit_ = limit;
    start(started);
    return started;
  }

  /// Sets or removes the queue bound; tasks already queued stay queued.
  /// Thread-safe when S is multi_thread.
  void set_queue_bound(std::optional<std::size_t> bound) {
    std::lock_guard<typename S::mutex_type> lock(m_);
    queue_bound_ = bound;
  }

  /// The number of slots. Thread-safe when S is multi_thread.
  [[nodiscard]] std::size_t limit() const {
    std::lock_guard<typename S::mutex_type> lock(m_);
    return limit_;
  }
  /// Running tasks. Thread-safe when S is multi_thread.
  [[nodiscard]] std::size_t running() const {
    std::lock_guard<typename S::mutex_type> lock(m_);
    return running_;
  }
  /// Queued tasks. Thread-safe when S is multi_thread.
  [[nodiscard]] std::size_t queued() const {
    std::lock_guard<typename S::mutex_type> lock(m_);
    return queue_.size();
  }
  /// True when the task holds a slot. Thread-safe when S is multi_thread.
  [[nodiscard]] bool is_running(const TaskId& task) const {
    std::lock_guard<typename S::mutex_type> lock(m_);
    auto it = index_.find(task);
    return it != index_.end() && !it->second.queued;
  }
  /// The 1-based queue position of a queued task (1 = next), or nullopt when
  /// it is not queued. Linear in the position. Thread-safe when S is
  /// multi_thread.
  [[nodiscard]] std::optional<std::size_t> position(const TaskId& task) const {
    std::lock_guard<typename S::mutex_type> lock(m_);
    auto it = index_.find(task);
    if (it == index_.end() || !it->second.queued) return std::nullopt;
    std::size_t p = 1;
    for (auto q = queue_.begin(); q != it->second.it; ++q) ++p;
    return p;
  }

  /// True when no task is running or queued: the pool is then
  /// indistinguishable from a new one (the time arguments are for keyed<>;
  /// a pool keeps no time). Thread-safe when S is multi_thread.
  template <class TimePoint, class Duration>
  [[nodiscard]] bool evictable(TimePoint, Duration) const {
    std::lock_guard<typename S::mutex_type> lock(m_);
    return running_ == 0 && queue_.empty();
  }

 private:
  // The queued tasks that start with `running` tasks holding slots of
  // `limit`: the head of the queue, copied. Every copy and allocation happens
  // here, before any change, so a call that throws changes nothing and a
  // task never leaves the queue without being reported.
  [[nodiscard]] started_tasks startable(std::size_t limit, std::size_t running) const {
    started_tasks started;
    if (running >= limit || queue_.empty()) return started;
    const std::size_t n = std::min(limit - running, queue_.size());
    started.reserve(n);
    auto q = queue_.begin();
    for (std::size_t i = 0; i < n; ++i, ++q) started.push_back(*q);
    return started;
  }
  // Moves the tasks startable() chose from the queue to the running set
  // (they are the queue's head, in order). Invariant afterwards: the queue
  // is empty or running_ >= limit_. noexcept: these ids are already in the
  // index (their hash has run before); a hash that throws now terminates
  // rather than leave the queue half started.
  void start(const started_tasks& started) noexcept {
    for (std::size_t i = 0; i < started.size(); ++i) {
      index_.find(queue_.front())->second = slot{};
      queue_.pop_front();
      ++running_;
    }
  }

  std::size_t limit_;
  std::optional<std::size_t> queue_bound_;
  std::size_t running_ = 0;
  std::list<TaskId> queue_;  // FIFO; std::list so a queued task can leave in O(1)
  // Every running or queued task; a queued one knows its place in queue_
  // (std::list iterators survive other inserts and erases, and moves).
  struct slot {
    typename std::list<TaskId>::iterator it{};
    bool queued = false;
  };
  std::unordered_map<TaskId, slot, Hash> index_;
  [[no_unique_address]] mutable typename S::mutex_type m_;
};

/// A thread-safe pool of uint64_t task ids.
using concurrency_pool = basic_concurrency_pool<>;

}  // namespace tollgate
