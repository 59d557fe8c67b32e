// The small integer helpers every concern needs: the 128-bit aliases, floor
// and ceiling division for any sign, a gcd that takes 128-bit values,
// saturating nanoseconds, and unaligned loads (native and little-endian byte
// order). They live here once; the concerns name them (limits::detail,
// tiers::detail, pricing) through using-declarations, never through copies.
// Nothing here allocates or throws for builtin types.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

namespace tollgate::detail {

// __extension__ keeps -Wpedantic quiet about the GCC/Clang 128-bit integers.
__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

/// Whether T is signed; also right for the 128-bit integers in strict ISO
/// mode (where std::numeric_limits may not know them) and for Boost's
/// multiprecision integers (which specialise numeric_limits).
template <class T>
inline constexpr bool is_signed_integer_v = std::numeric_limits<T>::is_signed;
template <>
inline constexpr bool is_signed_integer_v<i128> = true;
template <>
inline constexpr bool is_signed_integer_v<u128> = false;

/**
 * a / b rounded toward minus infinity, for any signs. Requires b != 0 and,
 * for a signed T, not (a == min && b == -1) (the quotient does not fit: the
 * same precondition as the built-in a / b). Never overflows otherwise: a
 * nonzero remainder means |a / b| < |a|, so the correction stays in range.
 * Works for builtin integers, i128/u128 and Boost.Multiprecision integers;
 * the divisor converts to the dividend's type (ceil_div(ms, 1000)).
 */
template <class T>
[[nodiscard]] constexpr T floor_div(const T& a, const std::type_identity_t<T>& b) {
  T q = a / b;
  if constexpr (is_signed_integer_v<T>) {
    const T r = a % b;
    if (r != T(0) && ((r < T(0)) != (b < T(0)))) q = q - T(1);
  }
  return q;
}

/// a / b rounded toward plus infinity, for any signs; the preconditions of
/// floor_div. For unsigned T it cannot overflow (unlike (a + b - 1) / b).
template <class T>
[[nodiscard]] constexpr T ceil_div(const T& a, const std::type_identity_t<T>& b) {
  T q = a / b;
  const T r = a % b;
  if constexpr (is_signed_integer_v<T>) {
    if (r != T(0) && ((r < T(0)) == (b < T(0)))) q = q + T(1);
  } else {
    if (r != T(0)) q = q + T(1);
  }
  return q;
}

/// Greatest common divisor of unsigned 128-bit values (std::gcd does not take
/// __int128 in strict ISO mode). gcd(0, 0) is 0.
[[nodiscard]] constexpr u128 gcd(u128 a, u128 b) noexcept {
  while (b != 0) {
    const u128 r = a % b;
    a = b;
    b = r;
  }
  return a;
}

inline constexpr std::int64_t int64_max = (std::numeric_limits<std::int64_t>::max)();
inline constexpr std::int64_t int64_min = (std::numeric_limits<std::int64_t>::min)();

/// a + b, saturating at the int64 range instead of wrapping.
[[nodiscard]] constexpr std::int64_t add_sat(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? int64_max : int64_min;
  return r;
}

/// a - b, saturating at the int64 range instead of wrapping.
[[nodiscard]] constexpr std::int64_t sub_sat(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t r = 0;
  if (__builtin_sub_overflow(a, b, &r)) return b < 0 ? int64_max : int64_min;
  return r;
}

/// Nanoseconds from a non-negative 128-bit count, saturating at
/// nanoseconds::max() (which the limiters read as "never").
[[nodiscard]] constexpr std::chrono::nanoseconds saturate_ns(u128 ns) noexcept {
  constexpr auto max = static_cast<u128>(int64_max);
  return std::chrono::nanoseconds(static_cast<std::int64_t>(ns > max ? max : ns));
}

/// A duration as integer nanoseconds (truncated toward zero; the caller
/// keeps it within the int64 range, about ±292 years).
template <class Rep, class Period>
[[nodiscard]] constexpr std::int64_t ns_of(std::chrono::duration<Rep, Period> d) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

/// A time point as signed integer nanoseconds since its clock's epoch
/// (exact for every clock whose tick is a whole number of nanoseconds).
template <class TimePoint>
[[nodiscard]] constexpr std::int64_t to_ns(TimePoint t) noexcept {
  return ns_of(t.time_since_epoch());
}

/// The time point `ns` nanoseconds after the epoch of TimePoint's clock.
template <class TimePoint>
[[nodiscard]] constexpr TimePoint from_ns(std::int64_t ns) noexcept {
  return TimePoint(std::chrono::duration_cast<typename TimePoint::duration>(std::chrono::nanoseconds(ns)));
}

/// An unsigned U read from `p` in the machine's byte order, at any alignment
/// (for hashing and comparing keys in memory, never for bytes that persist).
template <class U>
[[nodiscard]] inline U load_native(const void* p) noexcept {
  static_assert(std::is_unsigned_v<U>);
  U v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

/// An unsigned U stored little-endian at `p` (bytes that persist or travel:
/// the same on every machine).
template <class U, class Byte>
inline void store_le(Byte* p, U v) noexcept {
  static_assert(std::is_unsigned_v<U> && sizeof(Byte) == 1);
  for (std::size_t i = 0; i < sizeof(U); ++i) p[i] = static_cast<Byte>(static_cast<unsigned char>(v >> (8 * i)));
}

/// An unsigned U read little-endian from `p` (the inverse of store_le).
template <class U, class Byte>
[[nodiscard]] inline U load_le(const Byte* p) noexcept {
  static_assert(std::is_unsigned_v<U> && sizeof(Byte) == 1);
  U v = 0;
  for (std::size_t i = 0; i < sizeof(U); ++i)
    v = static_cast<U>(v | static_cast<U>(static_cast<U>(static_cast<unsigned char>(p[i])) << (8 * i)));
  return v;
}

}  // namespace tollgate::detail
