// The in-process limiter backend: the LimiterBackend (backend.hpp) of a
// service that runs as one process. Each (account, model) key holds an exact
// log of the creation times of its jobs in the last 24 hours (so the daily
// cap is exact to the nanosecond, at the window's edge too) and a
// concurrency pool with its FIFO queue (concurrency_pool.hpp). Keys live in a
// keyed<> registry: 64 shards, each with its own lock, so unrelated keys
// rarely meet and there is no global lock; a key is dropped once it holds
// nothing (no task open, no creation left in the window), so memory follows
// live keys. Token buckets live in a second registry. Nothing here survives
// the process: after a restart the gate rebuilds each key from the ledger's
// history with restore().
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <ratio>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "../core/clock.hpp"
#include "../core/error.hpp"
#include "../core/sync.hpp"
#include "backend.hpp"
#include "concurrency_pool.hpp"
#include "keyed.hpp"
#include "rolling_window.hpp"
#include "token_bucket.hpp"

namespace tollgate {
namespace limits::detail {

/// The registry key of (account, name): the account's length first, so the
/// pair is read back unambiguously ("2:abc" is ("ab", "c")).
[[nodiscard]] inline std::string registry_key(const limiter_key& k) {
  std::string s = std::to_string(k.account.size());
  s.reserve(s.size() + 1 + k.account.size() + k.model.size());
  s += ':';
  s += k.account;
  s += k.model;
  return s;
}

/// Slots for a concurrency limit (unlimited: as many as there can be).
[[nodiscard]] constexpr std::size_t slots_for(const key_limits& l) noexcept {
  const auto c = effective_limit(l.concurrency);
  return c ? static_cast<std::size_t>(*c) : std::numeric_limits<std::size_t>::max();
}

/**
 * The limiter state of one key: an exact log of creation times (ns, sorted,
 * those still in the window) and a pool. Not thread-safe: keyed<> runs it
 * under its shard lock. Memory: about 200 bytes, plus 8 to 16 bytes per job
 * created in the last 24 hours (the log is a power-of-two ring: 30,000 jobs,
 * tier 5's cap, take 256 KiB), plus a list node and a hash-map node per open
 * task (about 100 bytes with a short id).
 */
template <class TimePoint>
class local_key {
 public:
  using time_point = TimePoint;
  using admission = basic_admission<TimePoint>;
  using restored_task = basic_restored_task<TimePoint>;

  [[nodiscard]] bool evictable(time_point now, std::chrono::nanoseconds min_idle) const {
    if (pool_.running() != 0 || pool_.queued() != 0) return false;
    if (log_.empty()) return true;
    return static_cast<i128>(last()) + daily_window.count() + min_idle.count() <= to_ns(now);
  }

  admission admit(std::string_view task, const key_limits& l, std::int64_t now) {
    admission a;
    const std::int64_t t = advance(now);
    a.started = pool_.set_limit(slots_for(l));
    std::string id(task);
    if (describe(id, a.place, a.position)) {
      a.status = admit_status::duplicate;
    } else if (const auto daily = effective_limit(l.daily); daily && log_.size() >= *daily) {
      a.status = admit_status::daily_limit;
      a.retry_after = wait_for_room(*daily, now);
    } else {
      place_new(id, t, a);
    }
    a.created = log_.size();
    return a;
  }

  limiter_release revoke(std::string_view task, std::int64_t created_at, const key_limits& l, std::int64_t now) {
    limiter_release r = finish(task, l, now);
    forget(created_at);
    return r;
  }

  limiter_release finish(std::string_view task, const key_limits& l, std::int64_t now) {
    advance(now);
    limiter_release r;
    r.started = pool_.set_limit(slots_for(l));
    auto c = pool_.cancel(std::string(task));
    r.found = c.found;
    r.was_running = c.was_running;
    r.started.insert(r.started.end(), std::make_move_iterator(c.started.begin()),
                     std::make_move_iterator(c.started.end()));
    return r;
  }

  limiter_renewal renew(std::string_view task, const key_limits& l, std::int64_t now) {
    advance(now);
    limiter_renewal r;
    r.started = pool_.set_limit(slots_for(l));
    describe(std::string(task), r.place, r.position);
    return r;
  }

  limiter_changes poll(const key_limits& l, std::int64_t now) {
    advance(now);
    limiter_changes c;
    c.started = pool_.set_limit(slots_for(l));
    return c;
  }

  [[nodiscard]] task_place place_of(std::string_view task) const {
    task_place p = task_place::absent;
    std::uint64_t position = 0;
    describe(std::string(task), p, position);
    return p;
  }

  key_usage state(std::int64_t now) {
    advance(now);
    return {log_.size(), pool_.running(), pool_.queued()};
  }

  result<limiter_changes> restore(std::span<const restored_task> tasks, const key_limits& l, std::int64_t now) {
    if (pool_.running() != 0 || pool_.queued() != 0)
      return {errc::invalid_argument, "limiter: restore() rebuilds a key with no open task; this key has " +
                                          std::to_string(pool_.running()) + " running and " +
                                          std::to_string(pool_.queued()) + " queued"};
    const std::int64_t t = advance(now);
    // Running tasks hold their slots whatever the limit; queued ones queue
    // behind them in the given order; then the limit decides what starts.
    (void)pool_.set_limit(std::numeric_limits<std::size_t>::max());
    place_restored(tasks, task_place::running);
    (void)pool_.set_limit(0);
    place_restored(tasks, task_place::queued);
    for (const restored_task& r : tasks)
      if (const std::int64_t c = to_ns(r.created_at); in_window(c, t)) insert_sorted(c);
    return poll(l, now);
  }

 private:
  // The time the key decides at: the latest it has seen (a clock stepping
  // back never brings a job that left the window back into it, nor lets
  // more in); drops the creations that left the window.
  std::int64_t advance(std::int64_t now) {
    hw_ = std::max(hw_, now);
    while (!log_.empty() && !in_window(log_.front(), hw_)) log_.pop_front();
    return hw_;
  }
  [[nodiscard]] static bool in_window(std::int64_t created, std::int64_t t) {
    return static_cast<i128>(created) + daily_window.count() > t;
  }
  [[nodiscard]] std::int64_t last() const { return log_.back(); }

  // Where a task is, if open.
  bool describe(const std::string& id, task_place& place, std::uint64_t& position) const {
    if (pool_.is_running(id)) {
      place = task_place::running;
      return true;
    }
    if (const auto p = pool_.position(id)) {
      place = task_place::queued;
      position = *p;
      return true;
    }
    return false;
  }

  // Counts a new job at t and gives it a slot or the queue's tail.
  void place_new(const std::string& id, std::int64_t t, admission& a) {
    insert_sorted(t);
    pool_admission pa;
    try {
      pa = pool_.submit(id);
    } catch (...) {
      forget(t);
      throw;
    }
    a.status = pa.status == pool_status::running ? admit_status::running : admit_status::queued;
    a.place = pa.status == pool_status::running ? task_place::running : task_place::queued;
    a.position = pa.position;
    a.created_at = time_point(std::chrono::duration_cast<typename time_point::duration>(std::chrono::nanoseconds(t)));
  }

  // The wait until one more job fits under `daily` (the log holds at least
  // `daily` creations): the (n - daily + 1)-th oldest must leave.
  [[nodiscard]] std::chrono::nanoseconds wait_for_room(std::uint64_t daily, std::int64_t now) const {
    if (daily == 0) return std::chrono::nanoseconds::max();
    const std::int64_t leaves = log_[log_.size() - daily] + daily_window.count();
    return std::chrono::nanoseconds(leaves - now);
  }

  void insert_sorted(std::int64_t c) {
    std::size_t i = log_.size();
    while (i > 0 && log_[i - 1] > c) --i;  // new creations go at the back: O(1)
    log_.insert(i, c);
  }
  // Removes one creation at exactly c, if there is one (binary search).
  void forget(std::int64_t c) {
    std::size_t lo = 0;
    std::size_t hi = log_.size();
    while (lo < hi) {
      const std::size_t mid = lo + (hi - lo) / 2;
      if (log_[mid] < c) lo = mid + 1;
      else hi = mid;
    }
    if (lo < log_.size() && log_[lo] == c) log_.erase(lo);
  }

  void place_restored(std::span<const restored_task> tasks, task_place which) {
    for (const restored_task& r : tasks)
      if (r.place == which) (void)pool_.submit(std::string(r.task));  // a repeated id stays where it is
  }

  std::int64_t hw_ = std::numeric_limits<std::int64_t>::min();
  ring<std::int64_t> log_;
  basic_concurrency_pool<std::string, single_thread> pool_{0};
};

/// A token bucket configured on each call (rate and burst are passed with
/// every take()); keyed<> drops it once it has been full for the idle TTL.
template <class C>
class local_bucket {
 public:
  using bucket = basic_token_bucket<C, single_thread>;

  [[nodiscard]] bool evictable(typename C::time_point now, std::chrono::nanoseconds min_idle) const {
    return !b_ || b_->evictable(now, min_idle);
  }

  limit_decision take(std::uint64_t n, token_rate rate, std::uint64_t burst, typename C::time_point now,
                      const C& clock) {
    if (!b_) {
      b_.emplace(rate, burst, clock);  // full at the clock's reading now
      now = std::max(now, clock.now());
    } else {
      if (!(b_->rate() == rate)) b_->set_rate(rate, now);
      if (b_->burst() != burst) b_->set_burst(burst, now);
    }
    return b_->try_acquire(n, now);
  }

 private:
  std::optional<bucket> b_;
};

}  // namespace limits::detail

/// How a local backend bounds its memory.
struct local_backend_options {
  /// A key that holds nothing is dropped once it has for this long.
  std::chrono::nanoseconds idle_ttl = std::chrono::minutes(10);
};

/**
 * The in-process LimiterBackend.
 *
 * @tparam C the Clock `now` comes from; its duration must be nanoseconds
 *         (system_clock, steady_clock and manual_clock are). The default is
 *         system_clock, the clock of the ledger's timestamps, because the
 *         creation times restored after a restart come from there.
 * @tparam S multi_thread: every member is thread-safe (the registries' 64
 *         shard locks); single_thread: for simulations.
 *
 * Exact: the daily cap is an exact sliding log (a job created at t counts
 * during [t, t + 24 h), to the nanosecond); retry_after is exact. A key
 * decides at the latest time it has seen, so a clock stepping back lets
 * nothing more in. Invalid ids (empty, longer than 256 bytes) are
 * invalid_argument; nothing else fails (no lease expires in one process:
 * renew() only says where a task is, and `expired` is always empty).
 */
template <Clock C = std::chrono::system_clock, Sync S = multi_thread>
class basic_local_backend {
  static_assert(std::is_same_v<typename C::duration::period, std::nano>,
                "basic_local_backend: the clock must count nanoseconds (its times are returned as "
                "created_at and passed back to revoke(), which must find them exactly)");

 public:
  using clock_type = C;
  using time_point = typename C::time_point;
  using admission = basic_admission<time_point>;
  using restored_task = basic_restored_task<time_point>;

  explicit basic_local_backend(C clock = C{}, local_backend_options options = {})
      : keys_(make_key, registry_options(options), clock), buckets_(make_bucket, registry_options(options), clock) {}

  /// Counts a job and gives it a slot or a queue place, or refuses it (see
  /// LimiterBackend). Thread-safe.
  [[nodiscard]] result<admission> admit(const limiter_key& k, std::string_view task, const key_limits& l,
                                        time_point now) {
    return on_key(k, task, [&](key_type& s) { return s.admit(task, l, ns(now)); });
  }
  /// Undoes an admit: uncounts the job created at `created_at` (the
  /// admission's) and frees its slot or queue place. Thread-safe.
  [[nodiscard]] result<limiter_release> revoke(const limiter_key& k, std::string_view task, time_point created_at,
                                               const key_limits& l, time_point now) {
    return on_key(k, task, [&](key_type& s) { return s.revoke(task, ns(created_at), l, ns(now)); });
  }
  /// Frees a task's slot or queue place; the job stays counted. Thread-safe.
  [[nodiscard]] result<limiter_release> finish(const limiter_key& k, std::string_view task, const key_limits& l,
                                               time_point now) {
    return on_key(k, task, [&](key_type& s) { return s.finish(task, l, ns(now)); });
  }
  /// Says where a task is (no lease expires in one process). Thread-safe.
  [[nodiscard]] result<limiter_renewal> renew(const limiter_key& k, std::string_view task, const key_limits& l,
                                              time_point now) {
    return on_key(k, task, [&](key_type& s) { return s.renew(task, l, ns(now)); });
  }
  /// Starts queued tasks that fit the limits now (after a promotion).
  /// Thread-safe.
  [[nodiscard]] result<limiter_changes> poll(const limiter_key& k, const key_limits& l, time_point now) {
    return on_key(k, "-", [&](key_type& s) { return s.poll(l, ns(now)); });
  }
  /// Jobs created in the last 24 h, running and queued. Thread-safe.
  [[nodiscard]] result<key_usage> state(const limiter_key& k, time_point now) {
    if (auto c = limits::detail::check_key(k); !c) return c.error();
    auto r = keys_.visit(limits::detail::registry_key(k), [&](key_type& s, time_point) { return s.state(ns(now)); });
    return r ? *r : key_usage{};
  }
  /// Rebuilds a key that has no open task from the ledger's history (after
  /// a restart); call it once per key. Thread-safe.
  [[nodiscard]] result<limiter_changes> restore(const limiter_key& k, std::span<const restored_task> tasks,
                                                const key_limits& l, time_point now) {
    if (auto c = limits::detail::check_key(k); !c) return c.error();
    for (const restored_task& r : tasks)
      if (auto c = limits::detail::check_id("task", r.task); !c) return c.error();
    auto r = keys_.apply(limits::detail::registry_key(k),
                         [&](key_type& s, time_point) { return s.restore(tasks, l, ns(now)); });
    return std::move(*r);
  }
  /// A token bucket per (account, bucket name): takes n tokens if they are
  /// there (the token_bucket's decision). A new bucket starts full; rate and
  /// burst are the ones passed (a change keeps the tokens held).
  /// Thread-safe.
  [[nodiscard]] result<limit_decision> take(const limiter_key& k, std::uint64_t n, token_rate rate,
                                            std::uint64_t burst, time_point now) {
    if (auto c = limits::detail::check_key(k); !c) return c.error();
    if (burst == 0) return {errc::invalid_argument, "limiter: a token bucket's burst must be at least 1"};
    try {
      auto r = buckets_.apply(limits::detail::registry_key(k), [&](bucket_type& b, time_point) {
        return b.take(n, rate, burst, now, buckets_.clock());
      });
      return *r;
    } catch (const limit_config_error& e) {
      return {errc::invalid_argument, e.what()};
    }
  }

  /// Where a task is (absent also for invalid ids); creates nothing and
  /// starts nothing. Thread-safe.
  [[nodiscard]] task_place place_of(const limiter_key& k, std::string_view task) {
    if (!limits::detail::check_key(k, task)) return task_place::absent;
    auto r = keys_.visit(limits::detail::registry_key(k), [&](key_type& s, time_point) { return s.place_of(task); });
    return r ? *r : task_place::absent;
  }

  /// Drops every key that has held nothing for the idle TTL (call it from a
  /// maintenance thread to give memory back promptly). @return how many.
  std::size_t sweep() { return keys_.sweep() + buckets_.sweep(); }
  /// The number of keys and buckets held.
  [[nodiscard]] std::size_t size() const { return keys_.size() + buckets_.size(); }

 private:
  using key_type = limits::detail::local_key<time_point>;
  using bucket_type = limits::detail::local_bucket<C>;

  [[nodiscard]] static std::int64_t ns(time_point t) noexcept { return limits::detail::to_ns(t); }
  static key_type make_key(const std::string&) { return key_type{}; }
  static bucket_type make_bucket(const std::string&) { return bucket_type{}; }
  static keyed_options registry_options(const local_backend_options& o) {
    keyed_options k;
    k.idle_ttl = o.idle_ttl;
    k.max_entries = std::size_t{1} << 48;  // no cap: memory follows live keys
    return k;
  }

  template <class F>
  auto on_key(const limiter_key& k, std::string_view task, F&& f)
      -> result<std::invoke_result_t<F&, key_type&>> {
    if (auto c = limits::detail::check_key(k, task); !c) return c.error();
    auto r = keys_.apply(limits::detail::registry_key(k), [&](key_type& s, time_point) { return f(s); });
    TOLLGATE_ASSERT(r.has_value(), "local_backend: the registry has no cap, it cannot be full");
    return std::move(*r);
  }

  // The clock is named: a key's state knows only its time_point, and
  // TimePoint::clock need not be C.
  template <class Limiter>
  using registry = basic_keyed<Limiter, std::string, S, std::hash<std::string>, std::equal_to<std::string>, C>;
  registry<key_type> keys_;
  registry<bucket_type> buckets_;
};

/// The in-process backend on the system clock, thread-safe.
using local_backend = basic_local_backend<>;

static_assert(LimiterBackend<local_backend>);

}  // namespace tollgate
