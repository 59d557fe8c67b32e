// Sync policies: how a component guards its shared state. A component templated
// on a Sync policy takes `typename Sync::mutex_type` for its locks and may use
// atomics instead where `Sync::is_thread_safe` and its algorithm allow (the
// token bucket keeps its whole state in one atomic word). `single_thread` makes
// every lock a no-op and costs nothing.
#pragma once

#include <concepts>
#include <mutex>
#include <type_traits>

namespace tollgate {

/// A mutex that does nothing: for state that one thread owns.
struct null_mutex {
  void lock() noexcept {}
  void unlock() noexcept {}
  bool try_lock() noexcept { return true; }
};

/// No synchronisation: the caller guarantees one thread at a time.
struct single_thread {
  using mutex_type = null_mutex;
  static constexpr bool is_thread_safe = false;
};

/// Safe for concurrent use: std::mutex, or atomics where the component allows.
struct multi_thread {
  using mutex_type = std::mutex;
  static constexpr bool is_thread_safe = true;
};

/**
 * A Sync policy: a default-constructible, lockable `mutex_type` (lock() and
 * unlock(), as std::lock_guard needs) and `is_thread_safe`, a constant
 * expression a component may branch on at compile time (the token bucket
 * uses atomics only when it is true). The requirements in full:
 * docs/policies-reference.md.
 */
template <class S>
concept Sync = std::default_initializable<typename S::mutex_type> && requires(typename S::mutex_type& m) {
  requires std::same_as<std::remove_cv_t<decltype(S::is_thread_safe)>, bool>;
  typename std::bool_constant<S::is_thread_safe>;
  m.lock();
  m.unlock();
};

static_assert(Sync<single_thread>);
static_assert(Sync<multi_thread>);

}  // namespace tollgate
