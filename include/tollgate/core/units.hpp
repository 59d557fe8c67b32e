// Units of usage that a rate prices: media durations with millisecond
// resolution, counts of outputs, and characters of text counted as Unicode
// code points of valid UTF-8 (invalid UTF-8 is refused with the byte offset,
// never guessed at).
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include <fmt/format.h>
#include <utf8.h>

#include "error.hpp"

namespace tollgate {

/// A duration of media (seconds of video, of audio), millisecond resolution.
using media_duration = std::chrono::milliseconds;

/// A count of whole things (outputs, jobs); never negative in valid usage.
struct count {
  std::int64_t value = 0;
  friend auto operator<=>(const count&, const count&) = default;
};

/// A number of Unicode code points.
struct characters {
  std::int64_t value = 0;
  friend auto operator<=>(const characters&, const characters&) = default;
};

/**
 * Parses a decimal number of seconds ("10", "2.5", "0.001") into a
 * media_duration. At most three decimal places; no sign, exponent or spaces.
 * @return the duration, or errc::invalid_usage (malformed) or errc::overflow.
 */
[[nodiscard]] inline result<media_duration> parse_seconds(std::string_view s) {
  const std::string_view original = s;
  auto bad = [&](std::string_view why) {
    return result<media_duration>(
        errc::invalid_usage, fmt::format("invalid duration '{}': {}", original, why));
  };
  if (s.empty()) return bad("expected seconds such as 10 or 2.5");
  std::int64_t whole = 0;
  std::size_t i = 0;
  for (; i < s.size() && s[i] != '.'; ++i) {
    if (s[i] < '0' || s[i] > '9') return bad("only digits and one decimal point are allowed");
    if (__builtin_mul_overflow(whole, 10, &whole) ||
        __builtin_add_overflow(whole, s[i] - '0', &whole))
      return result<media_duration>(errc::overflow,
                                    fmt::format("duration '{}' is too large", original));
  }
  if (i == 0) return bad("expected a digit before the decimal point");
  std::int64_t ms = 0;
  if (i < s.size()) {
    const std::string_view frac = s.substr(i + 1);
    if (frac.empty()) return bad("expected a digit after the decimal point");
    if (frac.size() > 3) return bad("at most millisecond precision (3 decimal places)");
    int scale = 100;
    for (char c : frac) {
      if (c < '0' || c > '9') return bad("only digits and one decimal point are allowed");
      ms += (c - '0') * scale;
      scale /= 10;
    }
  }
  std::int64_t total = 0;
  if (__builtin_mul_overflow(whole, 1000, &total) || __builtin_add_overflow(total, ms, &total))
    return result<media_duration>(errc::overflow,
                                  fmt::format("duration '{}' is too large", original));
  return media_duration{total};
}

/**
 * Counts the Unicode code points of `text`.
 * @return the count, or errc::invalid_utf8 naming the byte offset of the first
 *         ill-formed sequence (overlong forms, surrogates, code points above
 *         U+10FFFF, truncated sequences, stray continuation bytes).
 */
[[nodiscard]] inline result<characters> count_characters(std::string_view text) {
  // utfcpp validates per RFC 3629: overlong encodings, surrogates (U+D800..
  // U+DFFF) and values above U+10FFFF are all invalid.
  const auto bad = utf8::find_invalid(text.begin(), text.end());
  if (bad != text.end()) {
    const auto offset = static_cast<std::size_t>(bad - text.begin());
    return result<characters>(
        errc::invalid_utf8,
        fmt::format("text is not valid UTF-8: ill-formed sequence at byte {} (0x{:02X})",
                    offset, static_cast<unsigned char>(*bad)));
  }
  return characters{static_cast<std::int64_t>(utf8::unchecked::distance(text.begin(), text.end()))};
}

}  // namespace tollgate
