// Token bucket: admits requests at a sustained rate with bursts up to a
// capacity, exactly. The rate is a rational number of tokens per std::chrono
// duration, reduced to p/q tokens per nanosecond; the bucket counts in "ticks"
// of 1/p nanosecond = 1/q token, so every refill, cost and wait is an integer
// and nothing drifts: 10 tokens per 13 s admits exactly 10 000 tokens in
// 13 000 s, 1 token per day and 10^9 tokens per second are as exact as 1 per
// second. As in folly's TokenBucket the whole state is one 64-bit word, the
// "zero time" z at which the bucket was (or will be) empty: the level at tick
// time T is T - z, clamped to the burst, negative while tokens are borrowed.
// The multi_thread bucket updates that word with one compare-and-swap, so a
// decision costs about one clock read; single_thread runs the same algorithm
// on a plain integer. A clock that steps backwards only lowers the level, it
// never adds tokens. See docs/limits.md for the hard limits.
#pragma once

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "../core/clock.hpp"
#include "../core/sync.hpp"
#include "decision.hpp"

namespace tollgate {

/**
 * A rate: a whole number of tokens per std::chrono duration, kept as the
 * reduced fraction numerator()/denominator() tokens per nanosecond.
 *
 * `token_rate(10, std::chrono::seconds(13))` is 10/13 per second,
 * `token_rate(277, std::chrono::seconds(1'000'000))` is 0.000277 per second,
 * `token_rate(1, std::chrono::days(1))` is one a day. Durations must have an
 * integer representation (a double duration is not an exact rate and does not
 * compile). Throws limit_config_error when tokens or the duration is not
 * positive, or when the reduced fraction needs more than 63 bits on either
 * side. A value type.
 */
class token_rate {
 public:
  template <std::integral T, std::integral Rep, class Period>
  token_rate(T tokens, std::chrono::duration<Rep, Period> per) {
    using limits::detail::u128;
    if (tokens <= 0)
      throw limit_config_error("token_rate", "tokens",
                               "must be positive, got " + std::to_string(tokens));
    if (per.count() <= 0)
      throw limit_config_error("token_rate", "per", "must be a positive duration");
    static_assert(Period::num > 0 && Period::den > 0);
    // tokens per ns = tokens * den / (count * num * 10^9)
    const u128 num = static_cast<u128>(tokens) * static_cast<u128>(Period::den);
    u128 den = 0;
    if (__builtin_mul_overflow(static_cast<u128>(per.count()), static_cast<u128>(Period::num), &den) ||
        __builtin_mul_overflow(den, static_cast<u128>(1'000'000'000), &den))
      throw limit_config_error("token_rate", "per", "duration too long to represent in nanoseconds");
    const u128 g = limits::detail::gcd(num, den);
    constexpr u128 max63 = static_cast<u128>(std::numeric_limits<std::int64_t>::max());
    if (num / g > max63 || den / g > max63)
      throw limit_config_error("token_rate", "rate",
                               "tokens per nanosecond does not reduce to a fraction of 63-bit integers");
    num_ = static_cast<std::uint64_t>(num / g);
    den_ = static_cast<std::uint64_t>(den / g);
  }

  /// Deleted: a floating-point duration is not an exact rate. Use an integer
  /// duration, e.g. token_rate(277, std::chrono::seconds(1'000'000)).
  template <std::integral T, std::floating_point Rep, class Period>
  token_rate(T, std::chrono::duration<Rep, Period>) = delete;

  /// Tokens per nanosecond = numerator() / denominator(), in lowest terms.
  [[nodiscard]] constexpr std::uint64_t numerator() const noexcept { return num_; }
  /// See numerator().
  [[nodiscard]] constexpr std::uint64_t denominator() const noexcept { return den_; }

  friend constexpr bool operator==(const token_rate&, const token_rate&) = default;

 private:
  std::uint64_t num_ = 1;
  std::uint64_t den_ = 1;
};

namespace limits::detail {

// Invariant of every state word when written: the level T - z lies in
// [-max_debt_ticks, full] (full = burst * q < 2^62). The 64-bit tick
// difference T - z is exact only for idle periods shorter than about 2^63
// ticks, which is 2^63 / p ns: centuries at p = 1, but minutes when p is a
// large reduced numerator (123 456 789 per second). So every reading first
// asks surely_full(), from a bound on when the word was written, whether the
// bucket has certainly refilled; only when it has not (then the idle period is
// below 1.5 * 2^63 ticks) is the difference read. A difference below
// wrap_floor then means more than 2^63 ticks of idle time, and reads as full.
// That holds only for a reading no earlier than the write: a clock that has
// stepped back before it (by any amount) is read from the write's side
// instead (see level_at), so no backward step can pass for a long idle period.
inline constexpr std::int64_t max_debt_ticks = std::int64_t{1} << 61;
inline constexpr std::int64_t wrap_floor = -(std::int64_t{1} << 62);
// full = burst * q stays below 2^62, so that a bucket found not surely full
// (see surely_full) is never so long idle that its tick difference wrapped.
inline constexpr u128 max_full = u128{1} << 62;
// Marks the state word of a retired parameter block (multi_thread set_rate and
// set_burst). No live state word ever takes this value (see word_for).
inline constexpr std::uint64_t retired_word = std::uint64_t{1} << 63;

/// A bucket's parameters in ticks (1 tick = 1/p ns = 1/q token).
struct bucket_params {
  std::uint64_t p = 1;      ///< ticks per nanosecond (rate numerator)
  std::uint64_t q = 1;      ///< ticks per token (rate denominator)
  std::uint64_t full = 1;   ///< burst * q: the level of a full bucket in ticks
  // The burst itself is full / q: not stored, so that a single_thread bucket
  // (what keyed<> keeps per key) stays at 40 bytes with its written time.

  [[nodiscard]] constexpr std::uint64_t burst() const noexcept { return full / q; }
  /// n > burst, without a division.
  [[nodiscard]] constexpr bool exceeds_burst(std::uint64_t n) const noexcept {
    return static_cast<u128>(n) * q > full;
  }

  friend constexpr bool operator==(const bucket_params&, const bucket_params&) = default;
};

[[nodiscard]] inline bucket_params make_bucket_params(const token_rate& r, std::uint64_t burst) {
  if (burst == 0) throw limit_config_error("token_bucket", "burst", "must be at least 1");
  const u128 full = static_cast<u128>(burst) * r.denominator();
  if (full >= max_full)
    throw limit_config_error(
        "token_bucket", "burst",
        "burst * (nanoseconds per token, as a reduced fraction's denominator) must be below 2^62; "
        "got burst " + std::to_string(burst) + " with denominator " +
            std::to_string(r.denominator()) + " (see docs/limits.md, hard limits)");
  return {r.numerator(), r.denominator(), static_cast<std::uint64_t>(full)};
}

/// The tick time of `now_ns`, modulo 2^64 (only differences are used).
[[nodiscard]] constexpr std::uint64_t ticks_at(const bucket_params& b, std::int64_t now_ns) noexcept {
  return static_cast<std::uint64_t>(now_ns) * b.p;
}

/**
 * True when the bucket is certainly full at now_ns, however long it sat idle:
 * its word was written no later than `written_by` (ns), when its level was at
 * least -max_debt_ticks, and at least full + max_debt_ticks ticks have
 * accrued since, plus `extra_ns` more. This is what keeps a long idle period
 * from reading as a wrapped (smaller) 64-bit tick difference: once it says
 * no, the time since the write is short enough for the difference to be
 * exact (full < 2^62, see the storage classes for the bound on written_by).
 */
[[nodiscard]] constexpr bool surely_full(const bucket_params& b, std::int64_t now_ns, std::int64_t written_by,
                                         std::int64_t extra_ns = 0) noexcept {
  const i128 idle = static_cast<i128>(now_ns) - written_by - (extra_ns > 0 ? extra_ns : 0);
  return idle > 0 &&
         static_cast<u128>(idle) * b.p >= static_cast<u128>(b.full) + static_cast<u128>(max_debt_ticks);
}

/**
 * What a reading knows of when its state word was written: whether the bucket
 * is surely full at the reading's time (surely_full()), and a time `since`
 * from which on the 64-bit tick difference is read without doubt: a reading
 * then is at most 2^61 ticks before the write, so a difference below
 * wrap_floor can only be a long idle period. single_thread: the exact write
 * time. multi_thread: the hint less the grain (no word is written later than
 * hint + grain; see bucket_block), also a time no later than what some
 * caller has read.
 */
struct word_age {
  bool sure_full;
  std::int64_t since;
};

/// The level at tick time T of the word z, for a T no earlier than the
/// write (then a difference below wrap_floor can only be a long idle period).
[[nodiscard]] constexpr std::int64_t level_forward(const bucket_params& b, std::uint64_t T,
                                                   std::uint64_t z) noexcept {
  const auto u = static_cast<std::int64_t>(T - z);
  if (u < wrap_floor || u > static_cast<std::int64_t>(b.full)) return static_cast<std::int64_t>(b.full);
  return u;
}

/// How low a reading behind the write goes (see level_behind): twice the
/// debt limit, so a refused request's retry_after stays exact for steps
/// back of up to about 2^61 / p ns beyond a full debt.
inline constexpr std::int64_t behind_floor = wrap_floor;

/**
 * The level at now_ns, earlier than `then`, of a bucket whose level at `then`
 * is `level_then`: what the time between them took back, on the same
 * straight line as the 64-bit tick difference gives for a small step, but
 * computed in 128 bits (a step of 2^62 / p ns, 37 s at 123 456 789 per
 * second, would wrap that difference into what reads as a long idle period,
 * i.e. full), and held at behind_floor below that: never above level_then
 * (which is at least behind_floor: a level_forward() reading or a written
 * level). A held reading is above the line, so its retry_after is a lower
 * bound and nothing may be written from it (see write_anchor).
 */
[[nodiscard]] constexpr std::int64_t level_behind(const bucket_params& b, std::int64_t level_then,
                                                  std::int64_t then, std::int64_t now_ns) noexcept {
  // then - now < 2^64 and p < 2^63: the product fits 127 bits.
  const i128 back = (static_cast<i128>(then) - now_ns) * static_cast<i128>(b.p);
  const i128 level = static_cast<i128>(level_then) - back;
  return static_cast<std::int64_t>(level < behind_floor ? behind_floor : level);
}

/**
 * The level in ticks at now_ns of the word z: at most full, negative while
 * borrowed. A clock that reads earlier than `a.since` has stepped backwards:
 * the level is then the level at `since` less what the step took back
 * (level_behind), so a backward step of any size adds nothing.
 */
[[nodiscard]] constexpr std::int64_t level_at(const bucket_params& b, std::int64_t now_ns, std::uint64_t z,
                                              word_age a) noexcept {
  if (a.sure_full) return static_cast<std::int64_t>(b.full);
  if (now_ns >= a.since) [[likely]]
    return level_forward(b, ticks_at(b, now_ns), z);
  return level_behind(b, level_forward(b, ticks_at(b, a.since), z), a.since, now_ns);
}

/// Where a write that lifts or clamps the level applies, and the level there.
struct anchor {
  std::int64_t at;
  std::int64_t level;
};

/**
 * The anchor of a refund or a rate or burst change at now_ns: a point of the
 * word's straight line at which the level is within the debt limit, so that
 * a word written there (every word must be, and convert_word clamps to it)
 * keeps the line and lifts nothing. Normally now_ns and the level there. A
 * reading that level_behind held up lies above the line: the line is taken
 * at `since` instead. A level still below the debt limit (a clock far behind
 * the write; in multi_thread also a reading between `since` and a later
 * write) moves along the line to where it reaches the limit, which is no
 * later than the write (the word's level was within the limit then). A word
 * written as of a time after now_ns reads from the write's side at now_ns.
 */
[[nodiscard]] constexpr anchor write_anchor(const bucket_params& b, std::int64_t now_ns, std::uint64_t z,
                                            word_age a) noexcept {
  anchor r{now_ns, level_at(b, now_ns, z, a)};
  if (r.level <= behind_floor && now_ns < a.since) [[unlikely]]
    r = {a.since, level_forward(b, ticks_at(b, a.since), z)};
  if (r.level < -max_debt_ticks) [[unlikely]] {
    // ceil((limit - level) / p) ns later the line is back at the limit.
    const u128 ns = ceil_div(static_cast<u128>(static_cast<i128>(-max_debt_ticks) - r.level), b.p);
    const i128 at = static_cast<i128>(r.at) + static_cast<i128>(ns);
    const i128 level = static_cast<i128>(r.level) + static_cast<i128>(ns) * b.p;  // < -limit + p
    r = {at > (std::numeric_limits<std::int64_t>::max)() ? (std::numeric_limits<std::int64_t>::max)()
                                                         : static_cast<std::int64_t>(at),
         static_cast<std::int64_t>(level)};
  }
  return r;
}

/// The state word for `level` at tick time T.
[[nodiscard]] constexpr std::uint64_t word_for(std::uint64_t T, std::int64_t level) noexcept {
  const std::uint64_t z = T - static_cast<std::uint64_t>(level);
  // Keep retired_word free for retired blocks: moving z one tick later takes
  // 1/q token away (never more permissive), with probability 2^-64.
  return z == retired_word ? z + 1 : z;
}

[[nodiscard]] constexpr std::uint64_t whole_tokens(const bucket_params& b, std::int64_t level) noexcept {
  return level > 0 ? static_cast<std::uint64_t>(level) / b.q : 0;
}

/// The outcome of one step of the algorithm: whether to write the new word,
/// and what to return.
template <class R>
struct step {
  bool write;
  std::uint64_t z;
  R value;
  std::int64_t at;  ///< the time the new word is written as of (ns)
};

/// What try_acquire found, before the (division-heavy) decision is built:
/// the decision is derived after the CAS so the load-to-CAS window stays short.
struct acquire_outcome {
  limit_reason reason;  ///< none, limited or exceeds_burst
  std::int64_t level;   ///< the level after an admission, or the level found
  std::int64_t need;    ///< the ticks asked for
};

[[nodiscard]] inline step<acquire_outcome> acquire_step(const bucket_params& b, std::int64_t now_ns,
                                                        std::uint64_t z, word_age age,
                                                        std::uint64_t n) noexcept {
  const std::uint64_t T = ticks_at(b, now_ns);
  const std::int64_t level = level_at(b, now_ns, z, age);
  if (b.exceeds_burst(n)) return {false, z, {limit_reason::exceeds_burst, level, 0}, now_ns};
  const auto need = static_cast<std::int64_t>(n * b.q);  // n <= burst, so n * q <= full < 2^62
  if (level >= need || n == 0) {  // nothing asked: allowed even in debt, writes nothing
    const std::int64_t after = level - need;
    return {n != 0, word_for(T, after), {limit_reason::none, after, need}, now_ns};
  }
  return {false, z, {limit_reason::limited, level, need}, now_ns};
}

[[nodiscard]] inline limit_decision decide(const bucket_params& b, const acquire_outcome& o) noexcept {
  switch (o.reason) {
    case limit_reason::none:
      return {true, whole_tokens(b, o.level), std::chrono::nanoseconds(0), limit_reason::none};
    case limit_reason::exceeds_burst:
      return {false, whole_tokens(b, o.level), std::chrono::nanoseconds::max(), limit_reason::exceeds_burst};
    default: {
      // need - level <= 2^63 + 2^62: fits; the wait is rounded up to whole ns.
      const auto shortfall = static_cast<u128>(static_cast<i128>(o.need) - o.level);
      return {false, whole_tokens(b, o.level), saturate_ns(ceil_div(shortfall, b.p)), limit_reason::limited};
    }
  }
}

[[nodiscard]] inline step<limit_decision> reserve_step(const bucket_params& b, std::int64_t now_ns,
                                                       std::uint64_t z, word_age age,
                                                       std::uint64_t n,
                                                       std::chrono::nanoseconds max_wait) noexcept {
  const std::uint64_t T = ticks_at(b, now_ns);
  const std::int64_t level = level_at(b, now_ns, z, age);
  if (b.exceeds_burst(n))
    return {false, z, {false, whole_tokens(b, level), std::chrono::nanoseconds::max(),
                       limit_reason::exceeds_burst}, now_ns};
  const i128 after = static_cast<i128>(level) - static_cast<i128>(n * b.q);
  if (after < -max_debt_ticks) {
    // The hard debt limit: a reserve fits again once the level has risen by the excess.
    const auto excess = static_cast<u128>(-static_cast<i128>(max_debt_ticks) - after);
    return {false, z, {false, 0, saturate_ns(ceil_div(excess, b.p)), limit_reason::wait_too_long}, now_ns};
  }
  const u128 wait = after < 0 ? ceil_div(static_cast<u128>(-after), b.p) : 0;
  const u128 allowed_wait = max_wait.count() > 0 ? static_cast<u128>(max_wait.count()) : 0;
  if (wait > allowed_wait)  // the wait shrinks by exactly 1 ns per ns: retry when it equals max_wait
    return {false, z, {false, whole_tokens(b, level), saturate_ns(wait - allowed_wait),
                       limit_reason::wait_too_long}, now_ns};
  const auto after64 = static_cast<std::int64_t>(after);
  return {n != 0, word_for(T, after64),
          {true, whole_tokens(b, after64), saturate_ns(wait), limit_reason::none}, now_ns};
}

[[nodiscard]] inline step<std::int64_t> refund_step(const bucket_params& b, std::int64_t now_ns,
                                                     std::uint64_t z, word_age age,
                                                     std::uint64_t n) noexcept {
  const anchor a = write_anchor(b, now_ns, z, age);
  i128 after = static_cast<i128>(a.level) + static_cast<i128>(n) * b.q;
  if (after > static_cast<i128>(b.full)) after = b.full;  // a refund never lifts the bucket above full
  const auto after64 = static_cast<std::int64_t>(after);
  return {after64 != a.level, word_for(ticks_at(b, a.at), after64),
          a.at <= now_ns ? after64 : level_behind(b, after64, a.at, now_ns), a.at};
}

/// When a reading's state word was written: no later than `by`; and `since`
/// as in word_age.
struct write_bounds {
  std::int64_t since;
  std::int64_t by;
};

/// The reading at now_ns of a word written within `w`.
[[nodiscard]] constexpr word_age age_at(const bucket_params& b, std::int64_t now_ns, write_bounds w) noexcept {
  return {surely_full(b, now_ns, w.by), w.since};
}

/// True when the bucket is full at now_ns and has been for at least min_idle_ns.
[[nodiscard]] constexpr bool full_for(const bucket_params& b, std::int64_t now_ns, std::uint64_t z,
                                      write_bounds w, std::int64_t min_idle_ns) noexcept {
  // Full for min_idle: full already min_idle ago.
  if (surely_full(b, now_ns, w.by, min_idle_ns)) return true;
  // A clock behind the write: nothing is known to have been full since.
  if (now_ns < w.since) return false;
  const auto u = static_cast<std::int64_t>(ticks_at(b, now_ns) - z);
  if (u < wrap_floor) return true;  // wrapped: idle for more than 2^63 ticks
  if (u < static_cast<std::int64_t>(b.full)) return false;
  const u128 idle = static_cast<u128>(u - static_cast<std::int64_t>(b.full));
  return idle >= static_cast<u128>(min_idle_ns > 0 ? min_idle_ns : 0) * b.p;
}

/// A state word under new parameters and the time it is written as of.
struct converted {
  std::uint64_t z;
  std::int64_t at;
};

/// The state word that keeps the token count of (old, z) at now_ns under new
/// parameters: the level is converted to the new tick unit rounding down
/// (never more permissive) and clamped to the new burst and the debt limit;
/// at the write_anchor(), so a clock far behind the last write lifts nothing.
[[nodiscard]] inline converted convert_word(const bucket_params& old, std::uint64_t z, write_bounds w,
                                            const bucket_params& nw, std::int64_t now_ns) noexcept {
  const anchor a = write_anchor(old, now_ns, z, age_at(old, now_ns, w));
  i128 nl = a.level;
  if (nw.q != old.q) nl = floor_div(static_cast<i128>(a.level) * nw.q, static_cast<i128>(old.q));
  if (nl > static_cast<i128>(nw.full)) nl = nw.full;
  if (nl < -max_debt_ticks) nl = -max_debt_ticks;
  return {word_for(ticks_at(nw, a.at), static_cast<std::int64_t>(nl)), a.at};
}

template <bool ThreadSafe>
class bucket_storage;

// single_thread: the parameters and the word, plain, and the exact time the
// word was last written (what surely_full needs to tell a long idle period
// from a wrapped tick difference).
template <>
class bucket_storage<false> {
 public:
  bucket_storage(const bucket_params& p, std::uint64_t z, std::int64_t now_ns) noexcept
      : prm_(p), z_(z), written_(now_ns) {}

  // step(params, z, age) -> {write, new z, outcome}, deciding at now_ns
  // (age: word_age then); the result is finish(params, outcome). read's
  // f(params, z, write_bounds) gets the bounds on the write time itself.
  template <class Step, class Finish>
  auto update(std::int64_t now_ns, Step&& s, Finish&& finish) {
    auto r = s(prm_, z_, word_age{surely_full(prm_, now_ns, written_), written_});
    if (r.write) {
      z_ = r.z;
      written_ = r.at;
    }
    return finish(prm_, r.value);
  }
  template <class Read>
  auto read(Read&& f) const {
    return f(prm_, z_, write_bounds{written_, written_});
  }
  // f(params, z, write_bounds) -> {new params, converted word}; may throw
  // before anything changes. Unchanged parameters change nothing.
  template <class Remake>
  void reconfigure(Remake&& f) {
    auto [np, c] = f(prm_, z_, write_bounds{written_, written_});
    if (np == prm_) return;
    prm_ = np;
    z_ = c.z;
    written_ = c.at;
  }
  [[nodiscard]] static constexpr std::size_t heap_bytes() noexcept { return 0; }

 private:
  bucket_params prm_;
  std::uint64_t z_;
  std::int64_t written_;
};

// multi_thread: the word lives in an immutable parameter block. Decisions CAS
// the current block's word. set_rate/set_burst publish a new block and retire
// the old one by CASing its word to retired_word, which no live word equals:
// a thread still holding the old block then fails its CAS and reloads, so a
// word is never combined with another block's parameters (no ABA). Retired
// blocks stay allocated until the bucket is destroyed, because a reader may
// still be looking at one (one 64-byte block per reconfiguration that
// changes the parameters; re-applying the same rate or burst keeps the block).
//
// Beside the word, on the same cache line, a coarse hint of when it was last
// written, so that a long idle period is not read as a wrapped tick
// difference (surely_full). A writer that is about to CAS the word first
// raises the hint to its own time if the hint lags by more than `grain`
// (2^60 ticks' worth of ns), so for every word a reader sees (it loads the
// word with acquire, then the hint) the word was written no later than hint +
// grain: an upper bound, the only direction that can never make a bucket read
// fuller than it is. The hint moves once per grain, not on every decision.
struct alignas(64) bucket_block {
  std::atomic<std::uint64_t> z{0};
  std::atomic<std::int64_t> hint{0};  ///< ns; see above
  bucket_params prm;
  std::int64_t grain = 0;      ///< ns
  std::int64_t full_after = 0;  ///< ns after the hint past which surely_full() holds (precomputed)
  bucket_block* retired_next = nullptr;

  void set(const bucket_params& p, std::uint64_t word, std::int64_t now_ns) noexcept {
    prm = p;
    grain = static_cast<std::int64_t>((std::uint64_t{1} << 60) / p.p);
    // surely_full(now, hint + grain) <=> (now - hint - grain) * p >= full + 2^61
    // <=> now - hint >= grain + ceil((full + 2^61) / p); below 2^62 + 2^60.
    full_after = grain + static_cast<std::int64_t>(
                             ceil_div(static_cast<u128>(p.full) + static_cast<u128>(max_debt_ticks), p.p));
    z.store(word, std::memory_order_relaxed);
    hint.store(now_ns, std::memory_order_relaxed);
  }
  /// now_ns - h >= d, without overflow.
  [[nodiscard]] static constexpr bool at_least(std::int64_t now_ns, std::int64_t h, std::int64_t d) noexcept {
    std::int64_t diff = 0;
    if (__builtin_sub_overflow(now_ns, h, &diff)) return now_ns > h;
    return diff >= d;
  }
  /// The word_age::since of hint h: h - grain (saturating).
  [[nodiscard]] std::int64_t since(std::int64_t h) const noexcept {
    return tollgate::detail::sub_sat(h, grain);
  }
  /// Bounds on when the word loaded (with acquire) just before was written:
  /// by the hint plus the grain at the latest (and word_age::since).
  [[nodiscard]] write_bounds written() const noexcept {
    const std::int64_t h = hint.load(std::memory_order_relaxed);
    return {since(h), tollgate::detail::add_sat(h, grain)};
  }
  /// Called before a CAS that writes a word at now_ns; h is the hint loaded
  /// after the word.
  void note_write(std::int64_t now_ns, std::int64_t h) noexcept {
    while (at_least(now_ns, h, grain + 1) && !hint.compare_exchange_weak(h, now_ns, std::memory_order_relaxed)) {
    }
  }
};

template <>
class bucket_storage<true> {
 public:
  bucket_storage(const bucket_params& p, std::uint64_t z, std::int64_t now_ns) noexcept {
    first_.set(p, z, now_ns);
    cur_.store(&first_, std::memory_order_release);
  }
  bucket_storage(const bucket_storage&) = delete;
  bucket_storage& operator=(const bucket_storage&) = delete;
  ~bucket_storage() {
    bucket_block* c = cur_.load(std::memory_order_acquire);
    if (c != &first_) delete c;
    while (retired_ != nullptr) {
      bucket_block* next = retired_->retired_next;
      if (retired_ != &first_) delete retired_;
      retired_ = next;
    }
  }

  // As for single_thread; finish() runs after the CAS, outside the retry loop.
  template <class Step, class Finish>
  auto update(std::int64_t now_ns, Step&& s, Finish&& finish) {
    bucket_block* b = cur_.load(std::memory_order_acquire);
    std::uint64_t z = b->z.load(std::memory_order_acquire);
    for (;;) {
      if (z == retired_word) [[unlikely]] {
        b = reload(b);
        z = b->z.load(std::memory_order_acquire);
        continue;
      }
      // The hint after the word (acquire): at least what its writer raised.
      const std::int64_t h = b->hint.load(std::memory_order_relaxed);
      auto r = s(b->prm, z, word_age{bucket_block::at_least(now_ns, h, b->full_after), b->since(h)});
      if (!r.write) return finish(b->prm, r.value);
      // The hint first (published by the release of the CAS below), then the
      // word. On failure z is reloaded and the step recomputed from it.
      b->note_write(r.at, h);
      if (b->z.compare_exchange_weak(z, r.z, std::memory_order_acq_rel, std::memory_order_acquire))
        return finish(b->prm, r.value);
    }
  }

  template <class Read>
  auto read(Read&& f) const {
    bucket_block* b = cur_.load(std::memory_order_acquire);
    std::uint64_t z = b->z.load(std::memory_order_acquire);
    while (z == retired_word) [[unlikely]] {
      b = reload(b);
      z = b->z.load(std::memory_order_acquire);
    }
    return f(b->prm, z, b->written());
  }

  template <class Remake>
  void reconfigure(Remake&& f) {
    std::lock_guard<std::mutex> lock(writer_);  // one reconfiguration at a time
    bucket_block* b = cur_.load(std::memory_order_acquire);
    std::uint64_t z = b->z.load(std::memory_order_acquire);
    // Unchanged parameters (a host re-applying its configuration) keep the
    // block: nothing to retire, so nothing accumulates. The parameters do not
    // depend on z, and only this (locked) writer replaces b.
    if (f(b->prm, z, b->written()).first == b->prm) return;
    auto nb = std::make_unique<bucket_block>();
    for (;;) {
      auto [np, c] = f(b->prm, z, b->written());  // may throw: nothing has changed yet
      nb->set(np, c.z, c.at);
      if (b->z.compare_exchange_weak(z, retired_word, std::memory_order_acq_rel,
                                     std::memory_order_acquire))
        break;
    }
    cur_.store(nb.release(), std::memory_order_release);
    b->retired_next = retired_;
    retired_ = b;
    heap_blocks_.fetch_add(1, std::memory_order_relaxed);
  }

  [[nodiscard]] std::size_t heap_bytes() const noexcept {
    return heap_blocks_.load(std::memory_order_relaxed) * sizeof(bucket_block);
  }

 private:
  // Waits for the writer that retired `b` to publish its successor.
  bucket_block* reload(const bucket_block* b) const noexcept {
    bucket_block* c = cur_.load(std::memory_order_acquire);
    while (c == b) {
      std::this_thread::yield();
      c = cur_.load(std::memory_order_acquire);
    }
    return c;
  }

  bucket_block first_;
  std::atomic<bucket_block*> cur_{nullptr};
  std::mutex writer_;
  bucket_block* retired_ = nullptr;  // guarded by writer_
  std::atomic<std::size_t> heap_blocks_{0};  // blocks allocated (all but first_)
};

}  // namespace limits::detail

/**
 * A token bucket: `rate` tokens accrue continuously up to `burst`; a request
 * of n tokens is admitted when n are there.
 *
 * @tparam C a Clock; it should be steady (a clock stepping backwards is safe,
 *         it only delays refills). Copies of the clock must read the same time.
 * @tparam S multi_thread: every member is thread-safe. Decisions take no lock
 *         (one CAS); set_rate/set_burst serialise among themselves on a mutex,
 *         and a decision that meets the block being replaced yields until the
 *         writer publishes its successor (a few instructions later unless the
 *         writer is preempted there). Neither copyable nor movable.
 *         single_thread: the same algorithm on a plain word, not thread-safe,
 *         copyable (what keyed<> stores, under its shard lock).
 *
 * The bucket starts full at its clock's reading when it is made; a `now`
 * passed later that is earlier than that reading finds it short of full (as
 * any earlier time does). Every member has a form taking `now` explicitly
 * (for a caller that already read the clock, e.g. keyed<>); the other form
 * reads the bucket's clock once. Hard limits (docs/limits.md): burst * q <
 * 2^62; borrowed debt <= 2^61 ticks. A clock stepping backwards by any
 * amount adds nothing: the bucket reads as short as the step says (held at
 * 2^62 ticks of debt: a retry_after past that is a lower bound) until the
 * clock is back, and a refund or a rate or burst change made meanwhile
 * lifts nothing. A bucket left idle for any length of time reads as full
 * (it also keeps, beside its one state word, the time that word was
 * written: exactly for single_thread, as a coarse hint for multi_thread).
 * The one exception, multi_thread only: a caller that passes an explicit
 * `now` more than 2^60 / p ns later than the bucket's other callers and
 * loses the race to write can make the bucket read short (as if the others'
 * clocks had stepped back that far) until their clocks pass that time less
 * 2^60 / p ns: the refusing side, never more permissive.
 */
template <Clock C = std::chrono::steady_clock, Sync S = multi_thread>
class basic_token_bucket {
  using params = limits::detail::bucket_params;

 public:
  using clock_type = C;
  using sync_type = S;
  using time_point = typename C::time_point;

  /// A full bucket. Throws limit_config_error when burst is 0 or burst * q
  /// does not fit in 63 bits.
  basic_token_bucket(token_rate rate, std::uint64_t burst, C clock = C{})
      : basic_token_bucket(limits::detail::make_bucket_params(rate, burst), std::move(clock)) {}

  /**
   * Takes n tokens if they are all there. @return allowed with the whole
   * tokens remaining; or refused with reason `limited` and the exact wait
   * (rounded up to a nanosecond) after which n tokens will be there; or, when
   * n exceeds the burst, refused with reason `exceeds_burst` and
   * retry_after = nanoseconds::max(). n = 0 is always allowed (also while
   * the bucket is in debt) and changes nothing. Thread-safe when S is
   * multi_thread.
   */
  [[nodiscard]] limit_decision try_acquire(std::uint64_t n = 1) { return try_acquire(n, clock_.now()); }
  /// try_acquire() at the given time.
  [[nodiscard]] limit_decision try_acquire(std::uint64_t n, time_point now) {
    const std::int64_t t = limits::detail::to_ns(now);
    return state_.update(
        t, [&](const params& b, std::uint64_t z, limits::detail::word_age a) { return limits::detail::acquire_step(b, t, z, a, n); },
        [](const params& b, const limits::detail::acquire_outcome& o) { return limits::detail::decide(b, o); });
  }

  /**
   * Takes n tokens now, borrowing from the future when they are not all
   * there, so that the caller proceeds after the returned wait; later
   * requests queue behind the debt (FIFO by construction). @return allowed
   * with retry_after = the wait before the reserved tokens have accrued (0
   * when they were there); refused with `wait_too_long` when the wait would
   * exceed max_wait or the debt would pass the hard limit (retry_after: when
   * the same reserve would fit); refused with `exceeds_burst` when n exceeds
   * the burst. Thread-safe when S is multi_thread.
   */
  [[nodiscard]] limit_decision reserve(
      std::uint64_t n, std::chrono::nanoseconds max_wait = std::chrono::nanoseconds::max()) {
    return reserve(n, max_wait, clock_.now());
  }
  /// reserve() at the given time.
  [[nodiscard]] limit_decision reserve(std::uint64_t n, std::chrono::nanoseconds max_wait,
                                       time_point now) {
    const std::int64_t t = limits::detail::to_ns(now);
    return state_.update(
        t,
        [&](const params& b, std::uint64_t z, limits::detail::word_age a) {
          return limits::detail::reserve_step(b, t, z, a, n, max_wait);
        },
        [](const params&, const limit_decision& d) { return d; });
  }

  /**
   * Gives back n tokens taken by try_acquire() or reserve() (a job that did
   * not run), never lifting the bucket above full; pass only what was taken.
   * Exact (the bucket is as if the tokens had never been taken) while the
   * level has stayed at most burst - n since they were taken, e.g. when the
   * job is refused right after admission. Otherwise the refill that a
   * bucket which never lent them would have lost at full is credited too:
   * up to n tokens more than that bucket holds (the one state word cannot
   * know when the tokens were taken). Refund promptly. @return the whole
   * tokens available afterwards. Thread-safe when S is multi_thread.
   */
  std::uint64_t refund(std::uint64_t n) { return refund(n, clock_.now()); }
  /// refund() at the given time.
  std::uint64_t refund(std::uint64_t n, time_point now) {
    const std::int64_t t = limits::detail::to_ns(now);
    return state_.update(
        t, [&](const params& b, std::uint64_t z, limits::detail::word_age a) { return limits::detail::refund_step(b, t, z, a, n); },
        [](const params& b, std::int64_t level) { return limits::detail::whole_tokens(b, level); });
  }

  /// Whole tokens available now (0 while borrowed). Thread-safe when S is
  /// multi_thread; the value may be stale as soon as it is returned.
  [[nodiscard]] std::uint64_t available() const { return available(clock_.now()); }
  /// available() at the given time.
  [[nodiscard]] std::uint64_t available(time_point now) const {
    const std::int64_t t = limits::detail::to_ns(now);
    return state_.read([&](const params& b, std::uint64_t z, limits::detail::write_bounds w) {
      return limits::detail::whole_tokens(b, limits::detail::level_at(b, t, z, limits::detail::age_at(b, t, w)));
    });
  }

  /**
   * Changes the rate, keeping the tokens (or the debt) the bucket holds now;
   * a fraction of a token that the new tick unit cannot express is dropped.
   * The rate the bucket already has changes nothing (and, multi_thread,
   * retires no block: see heap_bytes()). Throws limit_config_error (and
   * changes nothing) when burst * q no longer fits. Thread-safe when S is
   * multi_thread.
   */
  void set_rate(token_rate rate) { set_rate(rate, clock_.now()); }
  /// set_rate() at the given time.
  void set_rate(token_rate rate, time_point now) {
    const std::int64_t t = limits::detail::to_ns(now);
    state_.reconfigure([&](const params& old, std::uint64_t z, limits::detail::write_bounds w) {
      const params nw = limits::detail::make_bucket_params(rate, old.burst());
      return std::pair{nw, limits::detail::convert_word(old, z, w, nw, t)};
    });
  }

  /// Changes the burst, keeping the tokens held now (clamped to the new
  /// burst); the current burst changes nothing. Throws limit_config_error
  /// (and changes nothing) for 0 or when burst * q does not fit.
  /// Thread-safe when S is multi_thread.
  void set_burst(std::uint64_t burst) { set_burst(burst, clock_.now()); }
  /// set_burst() at the given time.
  void set_burst(std::uint64_t burst, time_point now) {
    const std::int64_t t = limits::detail::to_ns(now);
    state_.reconfigure([&](const params& old, std::uint64_t z, limits::detail::write_bounds w) {
      const params nw = limits::detail::make_bucket_params(rate_of(old), burst);
      return std::pair{nw, limits::detail::convert_word(old, z, w, nw, t)};
    });
  }

  /// The current rate. Thread-safe when S is multi_thread.
  [[nodiscard]] token_rate rate() const {
    return state_.read([](const params& b, std::uint64_t, limits::detail::write_bounds) { return rate_of(b); });
  }
  /// The current burst. Thread-safe when S is multi_thread.
  [[nodiscard]] std::uint64_t burst() const {
    return state_.read([](const params& b, std::uint64_t, limits::detail::write_bounds) { return b.burst(); });
  }

  /**
   * True when the bucket is full at `now` and has been full for at least
   * `min_idle`: it is then indistinguishable from a new bucket, so keyed<>
   * may drop it. Thread-safe when S is multi_thread.
   */
  [[nodiscard]] bool evictable(time_point now, std::chrono::nanoseconds min_idle) const {
    const std::int64_t t = limits::detail::to_ns(now);
    return state_.read([&](const params& b, std::uint64_t z, limits::detail::write_bounds w) {
      return limits::detail::full_for(b, t, z, w, min_idle.count());
    });
  }

  /**
   * Bytes the bucket holds on the heap: for multi_thread, the parameter
   * blocks of every set_rate/set_burst that changed the rate or burst (64
   * bytes each, plus the allocator's overhead), kept until the bucket is
   * destroyed; 0 for single_thread. Thread-safe.
   */
  [[nodiscard]] std::size_t heap_bytes() const noexcept { return state_.heap_bytes(); }

  /// The clock.
  [[nodiscard]] const C& clock() const noexcept { return clock_; }

 private:
  static token_rate rate_of(const params& b) {
    // p/q tokens per ns is p tokens per q ns; both fit in 63 bits.
    return token_rate(static_cast<std::int64_t>(b.p),
                      std::chrono::nanoseconds(static_cast<std::int64_t>(b.q)));
  }
  basic_token_bucket(const params& b, C clock) : basic_token_bucket(b, clock, limits::detail::to_ns(clock.now())) {}
  basic_token_bucket(const params& b, C clock, std::int64_t t)
      : clock_(std::move(clock)),
        state_(b, limits::detail::word_for(limits::detail::ticks_at(b, t), static_cast<std::int64_t>(b.full)), t) {}

  [[no_unique_address]] C clock_;
  limits::detail::bucket_storage<S::is_thread_safe> state_;
};

/// A thread-safe token bucket on the steady clock.
using token_bucket = basic_token_bucket<>;

}  // namespace tollgate
