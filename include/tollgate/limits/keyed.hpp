// Keyed registry: one limiter per key (an account and model group), created on
// first use by a factory, in 64 shards that each have their own mutex and hash
// map so threads working on different keys rarely contend. Memory stays
// bounded: an entry is dropped only when its limiter says it is evictable,
// i.e. indistinguishable from the one the factory would make (a token bucket
// that has been full for the idle TTL, a window with nothing left in its
// period for the TTL, a pool with nothing running or queued), so an evicted
// key comes back exactly as permissive as the truth, never more. Idle entries
// are swept a little on every insertion and fully by sweep(); a hard cap on
// entries evicts a fresh-equivalent entry to make room, and when there is none
// the new key is refused (registry_full) rather than forgetting a limiter that
// still holds state. The limiter itself runs under the shard's lock, so it is
// normally the single_thread flavour (basic_token_bucket<Clock, single_thread>).
#pragma once

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include "../core/clock.hpp"
#include "../core/sync.hpp"
#include "decision.hpp"

namespace tollgate {

/**
 * A limiter keyed<> can hold: movable, and able to say whether it is
 * evictable at a time after an idle period (`evictable(now, min_idle)`: true
 * only when it is indistinguishable from a new one and has been for
 * min_idle).
 */
template <class L, class C>
concept KeyedLimiter = std::move_constructible<L> &&
    requires(const L& l, typename C::time_point now, std::chrono::nanoseconds d) {
      { l.evictable(now, d) } -> std::convertible_to<bool>;
    };

/// How a keyed<> registry bounds its memory.
struct keyed_options {
  /// An evictable entry is swept once it has been so for this long (keeps
  /// hot keys from being recreated over and over).
  std::chrono::nanoseconds idle_ttl = std::chrono::minutes(10);
  /// The hard cap on entries, enforced per shard (max_entries / 64 each,
  /// rounded up).
  std::size_t max_entries = std::size_t{1} << 24;
  /// At the cap, how many entries a new key may examine looking for an
  /// evictable one before it is refused.
  std::size_t scan_limit = 256;
  /// How many hash-map buckets each insertion sweeps for idle entries.
  std::size_t sweep_buckets_per_insert = 2;
};

namespace limits::detail {

template <class L, class = void>
struct clock_of {
  using type = std::chrono::steady_clock;
};
template <class L>
struct clock_of<L, std::void_t<typename L::clock_type>> {
  using type = typename L::clock_type;
};

/// A 64-bit finaliser (MurmurHash3 fmix64): spreads any hash over the shards.
[[nodiscard]] constexpr std::uint64_t mix64(std::uint64_t h) noexcept {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

/// 64-bit FNV-1a: a fast, stable byte hash (the finaliser spreads it).
[[nodiscard]] constexpr std::uint64_t fnv1a(std::uint64_t h, std::string_view text) noexcept {
  for (const char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace limits::detail

/**
 * A 64-bit registry key for a text id ("acct-42/video"). With such keys a
 * keyed<> token bucket costs 66 bytes per idle key instead of about 139 for a
 * std::string key longer than 15 characters (docs/limits.md). Two ids that
 * collide share one limiter, which only ever makes both stricter, never more
 * permissive; for n random ids the chance is about n^2 / 2^65 (3 * 10^-8 for
 * a million). The hash is not keyed: if ids are chosen by an adversary who
 * gains from sharing a victim's limiter, hash them with a keyed hash instead.
 * Stable across runs and builds.
 */
[[nodiscard]] constexpr std::uint64_t key_hash(std::string_view id) noexcept {
  return limits::detail::mix64(limits::detail::fnv1a(0xcbf29ce484222325ULL, id) ^ id.size());
}

/// The key of an (account, model group) pair: the account's length is mixed
/// in between, so ("ab", "c") and ("a", "bc") differ.
[[nodiscard]] constexpr std::uint64_t key_hash(std::string_view account, std::string_view group) noexcept {
  std::uint64_t h = limits::detail::fnv1a(0xcbf29ce484222325ULL, account);
  h = limits::detail::mix64(h ^ account.size());
  return limits::detail::mix64(limits::detail::fnv1a(h, group) ^ group.size());
}

/**
 * A registry of limiters, one per key.
 *
 * @tparam Limiter the limiter (see KeyedLimiter); it runs under the shard's
 *         lock, so its single_thread flavour is the natural choice.
 * @tparam Key the key. A std::string key ("acct-42/video") is convenient;
 *         a 64-bit key_hash() of it saves about 70 bytes per key
 *         (docs/limits.md).
 * @tparam S multi_thread: thread-safe (a std::mutex per shard);
 *         single_thread: not thread-safe, for simulations.
 * @tparam Hash, KeyEqual how a key is hashed and compared.
 * @tparam C the clock, by default the limiter's.
 *
 * The factory is called under the shard lock the first time a key is seen
 * (and again after the key was evicted); it must return the key's current
 * configuration (after a tier promotion, the new limits), because settings
 * changed through apply() are not remembered once an entry is evicted.
 * Callbacks given to apply() and visit() run under the shard lock and must
 * not call back into the same registry.
 */
template <class Limiter, class Key = std::string, Sync S = multi_thread, class Hash = std::hash<Key>,
          class KeyEqual = std::equal_to<Key>, Clock C = typename limits::detail::clock_of<Limiter>::type>
  requires KeyedLimiter<Limiter, C>
class basic_keyed {
 public:
  using limiter_type = Limiter;
  using key_type = Key;
  using clock_type = C;
  using time_point = typename C::time_point;
  using factory_type = std::function<Limiter(const Key&)>;
  static constexpr std::size_t shard_count = 64;

  /// A registry whose entries `make` creates. Throws limit_config_error when
  /// there is no factory, max_entries is 0 or idle_ttl is negative.
  explicit basic_keyed(factory_type make, keyed_options options = {}, C clock = C{})
      : make_(std::move(make)),
        options_(options),
        shard_cap_(tollgate::detail::ceil_div(options.max_entries, shard_count)),
        shards_(std::make_unique<shard[]>(shard_count)),
        clock_(std::move(clock)) {
    if (!make_) throw limit_config_error("keyed", "factory", "must be callable");
    if (options.max_entries == 0) throw limit_config_error("keyed", "max_entries", "must be at least 1");
    if (options.idle_ttl.count() < 0) throw limit_config_error("keyed", "idle_ttl", "must not be negative");
  }

  /**
   * Calls f(limiter, now) on the key's limiter, creating it first if needed,
   * and returns what f returns (for a void f: true). `now` is the registry's
   * clock read before locking, or, for a limiter just created, read after
   * the factory made it. @return nullopt (false)
   * only when the key is new and its shard is at the cap with no evictable
   * entry among those examined. Thread-safe when S is multi_thread.
   */
  template <class F>
  auto apply(const Key& key, F&& f) {
    using R = std::invoke_result_t<F&, Limiter&, time_point>;
    time_point now = clock_.now();  // read before locking: a shorter critical section
    shard& s = shard_for(key);
    std::lock_guard<typename S::mutex_type> lock(s.m);
    auto it = s.map.find(key);
    if (it == s.map.end()) {
      // Sweep before inserting: an eviction must not invalidate `it`.
      sweep_buckets(s, now, options_.sweep_buckets_per_insert);
      if (s.map.size() >= shard_cap_ && !make_room(s, now)) {
        if constexpr (std::is_void_v<R>) return false;
        else return std::optional<R>{};
      }
      it = s.map.emplace(key, make_(key)).first;
      // The new limiter started from its own clock reading, taken after `now`:
      // a token bucket made full then is a little short of full at `now`
      // (a burst-1 key would refuse its very first request). Use it from a
      // reading taken after it was made.
      now = clock_.now();
    }
    if constexpr (std::is_void_v<R>) {
      f(it->second, now);
      return true;
    } else {
      return std::optional<R>(f(it->second, now));
    }
  }

  /**
   * Calls f(limiter, now) on the key's limiter if the registry holds one;
   * never creates. @return what f returns, or nullopt (false for a void f)
   * when the key has no entry. Thread-safe when S is multi_thread.
   */
  template <class F>
  auto visit(const Key& key, F&& f) {
    using R = std::invoke_result_t<F&, Limiter&, time_point>;
    const time_point now = clock_.now();
    shard& s = shard_for(key);
    std::lock_guard<typename S::mutex_type> lock(s.m);
    auto it = s.map.find(key);
    if constexpr (std::is_void_v<R>) {
      if (it == s.map.end()) return false;
      f(it->second, now);
      return true;
    } else {
      if (it == s.map.end()) return std::optional<R>{};
      return std::optional<R>(f(it->second, now));
    }
  }

  /**
   * The key's limiter's try_acquire(amount, now). When the key is new and
   * the registry is full: refused with reason registry_full and retry_after
   * = the idle TTL (a hint: entries become evictable about that long after
   * they go idle). Thread-safe when S is multi_thread.
   */
  template <class N>
    requires requires(Limiter& l, const N& n, time_point t) { l.try_acquire(n, t); }
  [[nodiscard]] auto try_acquire(const Key& key, const N& amount) {
    using D = decltype(std::declval<Limiter&>().try_acquire(amount, std::declval<time_point>()));
    auto r = apply(key, [&](Limiter& l, time_point now) { return l.try_acquire(amount, now); });
    if (r) return *r;
    D d{};
    d.allowed = false;
    d.retry_after = options_.idle_ttl;
    d.reason = limit_reason::registry_full;
    return d;
  }

  /// True when the key has an entry. Thread-safe when S is multi_thread.
  [[nodiscard]] bool contains(const Key& key) const {
    const shard& s = shard_for(key);
    std::lock_guard<typename S::mutex_type> lock(s.m);
    return s.map.find(key) != s.map.end();
  }

  /// The number of entries (a sum over the shards, each read under its
  /// lock). Thread-safe when S is multi_thread.
  [[nodiscard]] std::size_t size() const {
    std::size_t n = 0;
    for (std::size_t i = 0; i < shard_count; ++i) {
      std::lock_guard<typename S::mutex_type> lock(shards_[i].m);
      n += shards_[i].map.size();
    }
    return n;
  }

  /**
   * Drops every entry that has been evictable for the idle TTL (call it from
   * a maintenance thread to give memory back promptly). @return how many
   * were dropped. Locks one shard at a time. Thread-safe when S is
   * multi_thread.
   */
  std::size_t sweep() { return sweep(clock_.now()); }
  /// sweep() at the given time.
  std::size_t sweep(time_point now) {
    std::size_t evicted = 0;
    for (std::size_t i = 0; i < shard_count; ++i) {
      shard& s = shards_[i];
      std::lock_guard<typename S::mutex_type> lock(s.m);
      for (auto it = s.map.begin(); it != s.map.end();) {
        if (it->second.evictable(now, options_.idle_ttl)) {
          it = s.map.erase(it);
          ++evicted;
        } else {
          ++it;
        }
      }
    }
    return evicted;
  }

  /// The options.
  [[nodiscard]] const keyed_options& options() const noexcept { return options_; }
  /// The clock.
  [[nodiscard]] const C& clock() const noexcept { return clock_; }

 private:
  // alignas(64): shards on separate cache lines, so one shard's lock traffic
  // does not slow its neighbours.
  struct alignas(64) shard {
    mutable typename S::mutex_type m;
    std::unordered_map<Key, Limiter, Hash, KeyEqual> map;
    std::size_t cursor = 0;  // the next hash-map bucket to sweep
  };

  [[nodiscard]] shard& shard_for(const Key& key) const {
    const auto h = limits::detail::mix64(static_cast<std::uint64_t>(hash_(key)));
    return shards_[h >> 58];  // the top 6 bits: 64 shards
  }

  // Sweeps `buckets` hash-map buckets from the cursor, dropping entries idle
  // for the TTL.
  void sweep_buckets(shard& s, time_point now, std::size_t buckets) {
    const std::size_t nb = s.map.bucket_count();
    for (std::size_t i = 0; i < buckets && i < nb; ++i) {
      const std::size_t b = s.cursor++ % nb;
      evict_in_bucket(s, b, [&](const Limiter& l) { return l.evictable(now, options_.idle_ttl); }, ~std::size_t{0});
    }
  }

  // At the cap: finds one entry that is evictable right now (fresh-equivalent,
  // whatever the TTL) among at most scan_limit entries from the cursor.
  bool make_room(shard& s, time_point now) {
    const std::size_t nb = s.map.bucket_count();
    std::size_t seen = 0;
    for (std::size_t i = 0; i < nb && seen < options_.scan_limit; ++i) {
      const std::size_t b = s.cursor++ % nb;
      seen += s.map.bucket_size(b);
      if (evict_in_bucket(s, b, [&](const Limiter& l) { return l.evictable(now, std::chrono::nanoseconds(0)); }, 1) > 0)
        return true;
    }
    return false;
  }

  // Erases up to max_evict entries of bucket b that satisfy pred.
  template <class Pred>
  std::size_t evict_in_bucket(shard& s, std::size_t b, Pred pred, std::size_t max_evict) {
    std::size_t evicted = 0;
    bool again = true;
    while (again && evicted < max_evict) {
      again = false;
      for (auto it = s.map.begin(b); it != s.map.end(b); ++it) {
        if (pred(it->second)) {
          // Local iterators cannot erase; find() gives the ordinary iterator
          // (erase never rehashes, so the bucket stays put). Restart the bucket.
          s.map.erase(s.map.find(it->first));
          ++evicted;
          again = true;
          break;
        }
      }
    }
    return evicted;
  }

  factory_type make_;
  keyed_options options_;
  std::size_t shard_cap_;
  std::unique_ptr<shard[]> shards_;
  [[no_unique_address]] Hash hash_;
  [[no_unique_address]] C clock_;
};

/**
 * basic_keyed with its parameters in their first order (Hash and KeyEqual
 * before the Sync policy), so `keyed<Limiter>`, `keyed<Limiter, Key>` and the
 * longer forms written before basic_keyed existed keep compiling. New code
 * names the policy directly: `basic_keyed<Limiter, Key, single_thread>`.
 */
template <class Limiter, class Key = std::string, class Hash = std::hash<Key>, class KeyEqual = std::equal_to<Key>,
          Sync S = multi_thread, Clock C = typename limits::detail::clock_of<Limiter>::type>
using keyed = basic_keyed<Limiter, Key, S, Hash, KeyEqual, C>;

}  // namespace tollgate
