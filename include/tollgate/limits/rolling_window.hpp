// Rolling window: at most `limit` units in any rolling period (jobs started in
// 24 hours, dollars bought in 30 days). Time is cut into buckets of a fixed
// granularity aligned to the clock's epoch; the window keeps, in time order, a
// ring of the buckets that hold something (so an account with three jobs today
// costs three entries, not 1440), and counts every bucket that overlaps the
// period. The count is therefore never below the exact sliding count and never
// above the count over the period plus one bucket: the error is only ever on
// the side of refusing, by at most one bucket, and retry_after is exact for the
// buckets (within one bucket of an exact sliding log). record() rebuilds the
// window from a journal's history after a restart; undo() takes back a start
// that was rolled back. The counted quantity is a template parameter: an
// integer count, or an amount such as tollgate::credits or usd.
#pragma once

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "../core/clock.hpp"
#include "../core/error.hpp"
#include "../core/sync.hpp"
#include "decision.hpp"

namespace tollgate {

/**
 * What a rolling window can count: a regular, totally ordered type whose
 * value-initialised object is zero, with + and - (std::uint64_t,
 * std::int64_t, tollgate::credits, tollgate::usd, ...). Amounts given to the
 * window must not be negative.
 */
template <class A>
concept WindowAmount = std::regular<A> && std::totally_ordered<A> && requires(const A& a, const A& b) {
  { a + b } -> std::convertible_to<A>;
  { a - b } -> std::convertible_to<A>;
};

namespace limits::detail {

/// A growable ring buffer (power-of-two capacity): push at the back, pop at
/// the front, and the rare insert or erase in the middle. Not thread-safe.
template <class T>
class ring {
 public:
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] T& operator[](std::size_t i) noexcept { return buf_[(head_ + i) & (buf_.size() - 1)]; }
  [[nodiscard]] const T& operator[](std::size_t i) const noexcept {
    return buf_[(head_ + i) & (buf_.size() - 1)];
  }
  [[nodiscard]] T& front() noexcept { return (*this)[0]; }
  [[nodiscard]] T& back() noexcept { return (*this)[size_ - 1]; }
  [[nodiscard]] const T& back() const noexcept { return (*this)[size_ - 1]; }

  void push_back(T v) {
    if (size_ == buf_.size()) grow();
    ++size_;
    back() = std::move(v);
  }
  void pop_front() noexcept {
    front() = T{};
    head_ = (head_ + 1) & (buf_.size() - 1);
    --size_;
  }
  /// Inserts before position i (0 <= i <= size()).
  void insert(std::size_t i, T v) {
    push_back(std::move(v));
    for (std::size_t j = size_ - 1; j > i; --j) std::swap((*this)[j], (*this)[j - 1]);
  }
  /// Erases position i.
  void erase(std::size_t i) noexcept {
    for (std::size_t j = i; j + 1 < size_; ++j) (*this)[j] = std::move((*this)[j + 1]);
    back() = T{};
    --size_;
  }
  /// Bytes held on the heap.
  [[nodiscard]] std::size_t heap_bytes() const noexcept { return buf_.capacity() * sizeof(T); }

 private:
  void grow() {
    std::vector<T> nb(buf_.empty() ? 4 : buf_.size() * 2);
    for (std::size_t i = 0; i < size_; ++i) nb[i] = std::move((*this)[i]);
    buf_.swap(nb);
    head_ = 0;
  }

  std::vector<T> buf_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace limits::detail

/**
 * At most `limit` units in any rolling `period`.
 *
 * @tparam C a Clock. The default is system_clock because a window that
 *         matters after a restart is rebuilt from journal timestamps, which
 *         are system_clock times; a clock stepping backwards never brings an
 *         expired bucket back nor lets more in (the window keeps the latest
 *         time it has seen and expires by that).
 * @tparam A the counted quantity (see WindowAmount): std::uint64_t counts jobs,
 *         tollgate::credits or usd count money exactly.
 * @tparam S multi_thread: every member is thread-safe (one std::mutex);
 *         single_thread: not thread-safe, copyable (what keyed<> stores).
 *
 * Memory: about 80 bytes plus one (index, amount) entry per non-empty bucket
 * in the last period (16 bytes for integer amounts), at most period /
 * granularity + 1 entries. Every member has a form taking `now` explicitly.
 */
template <Clock C = std::chrono::system_clock, WindowAmount A = std::uint64_t, Sync S = multi_thread>
class basic_rolling_window {
 public:
  using clock_type = C;
  using amount_type = A;
  using sync_type = S;
  using time_point = typename C::time_point;
  using decision = basic_limit_decision<A>;

  /**
   * A window of `limit` per `period`, in buckets of `granularity`.
   * Throws limit_config_error unless limit > 0, period > 0, granularity > 0
   * and period is a whole number of granularities.
   */
  basic_rolling_window(A limit, std::chrono::nanoseconds period, std::chrono::nanoseconds granularity,
                       C clock = C{})
      : limit_(std::move(limit)), g_(granularity.count()), clock_(std::move(clock)) {
    if (!(A{} < limit_)) throw limit_config_error("rolling_window", "limit", "must be positive");
    if (period.count() <= 0) throw limit_config_error("rolling_window", "period", "must be positive");
    if (g_ <= 0) throw limit_config_error("rolling_window", "granularity", "must be positive");
    if (period.count() % g_ != 0)
      throw limit_config_error("rolling_window", "period",
                               "must be a whole number of granularity buckets (" +
                                   std::to_string(period.count()) + " ns is not a multiple of " +
                                   std::to_string(g_) + " ns); pass a granularity that divides it");
    k_ = period.count() / g_;
  }
  /// A window in one-minute buckets (1440 for 24 hours). Throws
  /// limit_config_error unless the period is a whole number of minutes.
  basic_rolling_window(A limit, std::chrono::nanoseconds period, C clock = C{})
      : basic_rolling_window(std::move(limit), period, std::chrono::minutes(1), std::move(clock)) {}

  /**
   * Counts `amount` now if the window has room for it. @return allowed with
   * what remains; or refused with reason `limited` and the wait until
   * enough buckets expire (exact for the buckets, so at most one bucket
   * later than an exact sliding log would say); or, when amount exceeds the
   * limit, refused with `exceeds_burst` and retry_after = nanoseconds::max().
   * A zero amount is allowed (also past the limit) and changes nothing.
   * Thread-safe when S is multi_thread.
   */
  [[nodiscard]] decision try_acquire(const A& amount) { return try_acquire(amount, clock_.now()); }
  /// try_acquire() at the given time.
  [[nodiscard]] decision try_acquire(const A& amount, time_point now) {
    TOLLGATE_ASSERT(!(amount < A{}), "rolling_window: amounts must not be negative");
    std::lock_guard<typename S::mutex_type> lock(m_);
    const std::int64_t t = limits::detail::to_ns(now);
    const std::int64_t b = advance(t);
    if (limit_ < amount)
      return {false, remaining(), std::chrono::nanoseconds::max(), limit_reason::exceeds_burst};
    if (amount == A{} || fits(amount)) {  // nothing asked: allowed even past the limit
      add(b, amount);
      return {true, remaining(), std::chrono::nanoseconds(0), limit_reason::none};
    }
    return {false, remaining(), wait_for(amount, t), limit_reason::limited};
  }

  /**
   * Counts `amount` at time `t` unconditionally, even past the limit: for
   * rebuilding the window from history (replay in any order) and for usage
   * that was already admitted elsewhere. Amounts whose bucket has already
   * left the window are ignored. Thread-safe when S is multi_thread.
   */
  void record(time_point t, const A& amount) {
    TOLLGATE_ASSERT(!(amount < A{}), "rolling_window: amounts must not be negative");
    std::lock_guard<typename S::mutex_type> lock(m_);
    const std::int64_t index = limits::detail::floor_div(limits::detail::to_ns(t), g_);
    if (index < oldest_index()) return;
    add(index, amount);
  }

  /**
   * Takes back up to `amount` counted at time `t` (a start that was rolled
   * back). @return what was taken back: less than `amount` when the bucket
   * of `t` holds less or has already left the window. A start admitted
   * while the clock was behind the latest time seen was counted in that
   * later bucket, so undo(t) finds nothing and the start stays counted
   * until it expires (the refusing side; searching other buckets would turn
   * a repeated undo into taking back another start that still counts).
   * Thread-safe when S is multi_thread.
   */
  A undo(time_point t, const A& amount) { return undo(t, amount, clock_.now()); }
  /// undo() with the current time given (buckets that left the window by
  /// `now` give nothing back).
  A undo(time_point t, const A& amount, time_point now) {
    TOLLGATE_ASSERT(!(amount < A{}), "rolling_window: amounts must not be negative");
    std::lock_guard<typename S::mutex_type> lock(m_);
    advance(limits::detail::to_ns(now));
    const std::int64_t index = limits::detail::floor_div(limits::detail::to_ns(t), g_);
    for (std::size_t i = ring_.size(); i-- > 0;) {
      entry& e = ring_[i];
      if (e.index < index) break;
      if (e.index != index) continue;
      const A taken = amount < e.amount ? amount : e.amount;
      e.amount = e.amount - taken;
      total_ = total_ - taken;
      if (e.amount == A{}) ring_.erase(i);
      return taken;
    }
    return A{};
  }

  /// What the window counts now (never below the exact sliding count).
  /// Thread-safe when S is multi_thread.
  [[nodiscard]] A used() { return used(clock_.now()); }
  /// used() at the given time.
  [[nodiscard]] A used(time_point now) {
    std::lock_guard<typename S::mutex_type> lock(m_);
    advance(limits::detail::to_ns(now));
    return total_;
  }
  /// What may still be admitted now (0 when over the limit). Thread-safe
  /// when S is multi_thread.
  [[nodiscard]] A available() { return available(clock_.now()); }
  /// available() at the given time.
  [[nodiscard]] A available(time_point now) {
    std::lock_guard<typename S::mutex_type> lock(m_);
    advance(limits::detail::to_ns(now));
    return remaining();
  }

  /// Changes the limit, keeping what was counted. Throws limit_config_error
  /// unless positive. Thread-safe when S is multi_thread.
  void set_limit(A limit) {
    if (!(A{} < limit)) throw limit_config_error("rolling_window", "limit", "must be positive");
    std::lock_guard<typename S::mutex_type> lock(m_);
    limit_ = std::move(limit);
  }

  /// The limit. Thread-safe when S is multi_thread.
  [[nodiscard]] A limit() const {
    std::lock_guard<typename S::mutex_type> lock(m_);
    return limit_;
  }
  /// The period.
  [[nodiscard]] std::chrono::nanoseconds period() const noexcept { return std::chrono::nanoseconds(g_ * k_); }
  /// The bucket width.
  [[nodiscard]] std::chrono::nanoseconds granularity() const noexcept { return std::chrono::nanoseconds(g_); }

  /**
   * True when nothing counted is left in the window at `now` and that has
   * been so for at least `min_idle`: the window is then indistinguishable
   * from a new one, so keyed<> may drop it. Thread-safe when S is
   * multi_thread.
   */
  [[nodiscard]] bool evictable(time_point now, std::chrono::nanoseconds min_idle) const {
    std::lock_guard<typename S::mutex_type> lock(m_);
    if (last_index_ == no_index) return true;
    const std::int64_t t = std::max(hw_, limits::detail::to_ns(now));
    // Every entry has index <= last_index_, so all are gone at (last_index_ + k + 1) * g.
    const limits::detail::i128 empty_at = (static_cast<limits::detail::i128>(last_index_) + k_ + 1) * g_;
    return static_cast<limits::detail::i128>(t) - empty_at >= std::max<std::int64_t>(min_idle.count(), 0);
  }

  /// Bytes this window holds on the heap (its ring of buckets).
  [[nodiscard]] std::size_t heap_bytes() const {
    std::lock_guard<typename S::mutex_type> lock(m_);
    return ring_.heap_bytes();
  }

  /// The clock.
  [[nodiscard]] const C& clock() const noexcept { return clock_; }

 private:
  struct entry {
    std::int64_t index = 0;  // bucket index: floor(time_ns / g)
    A amount{};
  };
  static constexpr std::int64_t no_index = std::numeric_limits<std::int64_t>::min();

  // The oldest bucket index still inside the window at the latest time seen.
  [[nodiscard]] std::int64_t oldest_index() const noexcept {
    return hw_ == no_index ? no_index : limits::detail::floor_div(hw_, g_) - k_;
  }

  // Moves the window's time to max(seen, t), drops buckets that left the
  // window, and returns the current bucket index. Invariant: total_ is the sum
  // of the ring, and the ring is sorted by index with no zero amounts.
  std::int64_t advance(std::int64_t t) {
    hw_ = std::max(hw_, t);
    const std::int64_t b = limits::detail::floor_div(hw_, g_);
    const std::int64_t oldest = b - k_;
    while (!ring_.empty() && ring_.front().index < oldest) {
      total_ = total_ - ring_.front().amount;
      ring_.pop_front();
    }
    return b;
  }

  void add(std::int64_t index, const A& amount) {
    if (amount == A{}) return;
    total_ = total_ + amount;
    last_index_ = std::max(last_index_, index);
    if (ring_.empty() || ring_.back().index < index) {
      ring_.push_back(entry{index, amount});
      return;
    }
    // Out of order (history replay, or an event after a future record()): find its place.
    std::size_t i = ring_.size();
    while (i > 0 && ring_[i - 1].index > index) --i;
    if (i > 0 && ring_[i - 1].index == index) {
      ring_[i - 1].amount = ring_[i - 1].amount + amount;
    } else {
      ring_.insert(i, entry{index, amount});
    }
  }

  [[nodiscard]] A remaining() const { return total_ < limit_ ? A(limit_ - total_) : A{}; }
  [[nodiscard]] bool fits(const A& amount) const {
    return !(limit_ < total_) && !(A(limit_ - total_) < amount);
  }

  // The wait until the oldest buckets have expired enough for `amount`
  // (amount <= limit_, so it always exists).
  [[nodiscard]] std::chrono::nanoseconds wait_for(const A& amount, std::int64_t t) const {
    // need = total + amount - limit, computed without going below zero.
    const A need = limit_ < total_ ? A(A(total_ - limit_) + amount) : A(amount - A(limit_ - total_));
    A freed{};
    for (std::size_t i = 0; i < ring_.size(); ++i) {
      freed = freed + ring_[i].amount;
      if (!(freed < need)) {
        // Bucket j is counted while j >= floor(now / g) - k, so it leaves at (j + k + 1) * g.
        const limits::detail::i128 at = (static_cast<limits::detail::i128>(ring_[i].index) + k_ + 1) * g_;
        return std::chrono::nanoseconds(static_cast<std::int64_t>(at - t));
      }
    }
    return std::chrono::nanoseconds::max();  // unreachable while amount <= limit_
  }

  A limit_;
  std::int64_t g_;       // bucket width in ns
  std::int64_t k_ = 1;   // buckets per period
  A total_{};
  std::int64_t hw_ = no_index;          // the latest time seen (ns)
  std::int64_t last_index_ = no_index;  // the latest bucket ever counted
  limits::detail::ring<entry> ring_;
  [[no_unique_address]] C clock_;
  [[no_unique_address]] mutable typename S::mutex_type m_;
};

/// A thread-safe window counting jobs on the system clock.
using rolling_window = basic_rolling_window<>;

}  // namespace tollgate
