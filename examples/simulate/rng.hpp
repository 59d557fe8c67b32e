// The simulator's random numbers: a small generator written here, not the
// standard distributions (std::uniform_int_distribution and friends may give
// other numbers on another standard library, and a scenario must print the
// same figures everywhere). splitmix64 (Steele, Lea and Flood, 2014) is the
// generator; a bounded draw uses Lemire's multiply-and-reject, so it is exact
// (no modulo bias) and uses nothing but 64- and 128-bit integer arithmetic.
// Each stream is derived from the scenario's seed and a label ("arrivals of
// account 0, line 2, day 7"), so editing one part of a scenario does not
// reshuffle the draws of every other part.
#pragma once

#include <cstdint>
#include <string_view>

namespace tollgate::examples::simulate {

/// One step of splitmix64 on `x`: a well-mixed 64-bit value.
[[nodiscard]] constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/// FNV-1a of `s` (to turn a label into a number).
[[nodiscard]] constexpr std::uint64_t hash_text(std::string_view s) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (const char c : s) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  return h;
}

/**
 * A deterministic stream of 64-bit numbers (splitmix64). The same seed gives
 * the same numbers on every platform and compiler. Not thread-safe (one
 * stream per use).
 */
class rng {
 public:
  explicit constexpr rng(std::uint64_t seed) noexcept : state_(seed) {}

  /// The stream named `label` under `seed`, further split by up to three numbers.
  [[nodiscard]] static constexpr rng stream(std::uint64_t seed, std::string_view label, std::uint64_t a = 0,
                                            std::uint64_t b = 0, std::uint64_t c = 0) noexcept {
    std::uint64_t s = mix64(seed ^ hash_text(label));
    s = mix64(s ^ a);
    s = mix64(s ^ b);
    return rng(mix64(s ^ c));
  }

  /// The next number, uniform over 64 bits.
  constexpr std::uint64_t next() noexcept {
    state_ += 0x9e3779b97f4a7c15ull;
    std::uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

  /// Uniform in [0, n); 0 when n is 0. Exact: Lemire's method, rejecting the
  /// few draws that would favour the low values.
  constexpr std::uint64_t below(std::uint64_t n) noexcept {
    if (n == 0) return 0;
    unsigned __int128 m = static_cast<unsigned __int128>(next()) * n;
    auto low = static_cast<std::uint64_t>(m);
    if (low < n) {
      const std::uint64_t threshold = (0 - n) % n;  // 2^64 mod n
      while (low < threshold) {
        m = static_cast<unsigned __int128>(next()) * n;
        low = static_cast<std::uint64_t>(m);
      }
    }
    return static_cast<std::uint64_t>(m >> 64);
  }

  /// Uniform in [lo, hi] (inclusive); lo when hi <= lo.
  constexpr std::uint64_t between(std::uint64_t lo, std::uint64_t hi) noexcept {
    if (hi <= lo) return lo;
    const std::uint64_t span = hi - lo;
    return span == UINT64_MAX ? next() : lo + below(span + 1);
  }

  /// True with probability ppm / 1,000,000.
  constexpr bool chance_ppm(std::uint32_t ppm) noexcept { return below(1'000'000) < ppm; }

 private:
  std::uint64_t state_;
};

}  // namespace tollgate::examples::simulate
