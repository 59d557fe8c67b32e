// Clocks. Every part that reads time takes a Clock policy, so tests and the
// simulator drive time by hand with manual_clock and production code uses a
// std::chrono clock. Limiters need a steady clock; the ledger stamps entries
// with whatever clock it is given (system_clock in production).
#pragma once

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <memory>
#include <type_traits>

namespace tollgate {

/**
 * A clock: a `time_point` type and `now()` callable on a const instance
 * (static `now()` of the std::chrono clocks qualifies). Components keep a
 * copy, so a clock is copyable, and copies must read the same time (not
 * checked: manual_clock's copies share one time). The requirements in full,
 * with what is checked and what is not: docs/policies-reference.md.
 */
template <class C>
concept Clock = std::copy_constructible<C> && requires(const C& c) {
  typename C::time_point;
  typename C::duration;
  requires std::same_as<typename C::time_point::duration, typename C::duration>;
  { c.now() } -> std::same_as<typename C::time_point>;
};

/// A Clock that never runs backwards: `C::is_steady` is a constant true.
template <class C>
concept SteadyClock = Clock<C> && std::bool_constant<C::is_steady>::value;

/**
 * A clock moved by hand, for tests and simulation. Copies share one time, so
 * a test keeps a copy and advances it while the component under test reads
 * its own. Starts at the epoch unless given a start. By default it reads the
 * same instant until advanced; set_tick(d) makes every read move it on by d
 * first, as a real clock has moved on by the time it is read again (that
 * shows bugs that depend on the order of two clock reads). Thread-safe: reads
 * and advances are atomic.
 */
class manual_clock {
 public:
  using rep = std::int64_t;
  using period = std::nano;
  using duration = std::chrono::nanoseconds;
  using time_point = std::chrono::time_point<manual_clock, duration>;
  static constexpr bool is_steady = true;  // it only moves when told to

  manual_clock() : state_(std::make_shared<state>()) {}
  explicit manual_clock(time_point start) : state_(std::make_shared<state>()) {
    state_->now.store(start.time_since_epoch().count(), std::memory_order_relaxed);
  }

  [[nodiscard]] time_point now() const noexcept {
    const rep tick = state_->tick.load(std::memory_order_relaxed);
    if (tick == 0) return time_point(duration(state_->now.load(std::memory_order_acquire)));
    return time_point(duration(state_->now.fetch_add(tick, std::memory_order_acq_rel) + tick));
  }
  /// Moves time forward (or, to test robustness, backward) by `d`.
  template <class Rep, class Period>
  void advance(std::chrono::duration<Rep, Period> d) noexcept {
    state_->now.fetch_add(std::chrono::duration_cast<duration>(d).count(), std::memory_order_acq_rel);
  }
  /// Sets the time.
  void set(time_point t) noexcept { state_->now.store(t.time_since_epoch().count(), std::memory_order_release); }
  /// Every later read first moves the time on by `d` (0, the default: reads
  /// do not move it). Shared by all copies.
  template <class Rep, class Period>
  void set_tick(std::chrono::duration<Rep, Period> d) noexcept {
    state_->tick.store(std::chrono::duration_cast<duration>(d).count(), std::memory_order_relaxed);
  }

 private:
  struct state {
    std::atomic<rep> now{0};
    std::atomic<rep> tick{0};
  };
  std::shared_ptr<state> state_;
};

static_assert(SteadyClock<manual_clock>);
static_assert(SteadyClock<std::chrono::steady_clock>);
static_assert(Clock<std::chrono::system_clock>);

}  // namespace tollgate
