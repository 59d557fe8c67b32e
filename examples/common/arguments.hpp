// The strict parsers of the tools' numeric arguments: hold ids and counts,
// credit and dollar amounts, durations in seconds. tollgate-ledger and
// tollgate-estimate (and the fuzz target tests/fuzz/arguments.fuzz.cpp) use
// these and nothing looser, so `012` is never octal 10, `0x1` never hold 1,
// `-18446744073709551604` never wraps to 12, `18446744073709551616` never
// clamps and '' is never 0.
//
// The grammar, for every numeric argument: plain decimal digits, with no
// sign (a '-' only where a negative amount is allowed), no leading zero
// ("0" and "0.5" are fine, "012" and "00.5" are not: a reader could take
// them for octal), no spaces, no '+', no exponent, no digit separators;
// amounts and durations take a '.' followed by one or more digits, up to the
// unit's precision. Out of range is an error, never a clamp or a wrap.
// Each parser returns a result whose error message names the argument,
// quotes it safely and says what was expected.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include <tollgate/core/error.hpp>
#include <tollgate/core/money.hpp>
#include <tollgate/core/units.hpp>

#include "cli_support.hpp"

namespace tollgate::examples {

namespace detail {

[[nodiscard]] constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

/// What is wrong with the form of a decimal `s` (empty when nothing is):
/// optional '-' when `negative_ok`, digits without a leading zero, then
/// optionally '.' and 1 to `decimals` digits (no '.' when `decimals` is 0).
[[nodiscard]] inline std::string decimal_form_error(std::string_view s, bool negative_ok,
                                                    int decimals) {
  if (s.empty()) return "is empty";
  if (s.front() == '-') {
    if (!negative_ok) return "must not be negative";
    s.remove_prefix(1);
  }
  if (s.empty() || !is_digit(s.front())) return "must start with a digit";
  std::size_t whole = 0;
  while (whole < s.size() && is_digit(s[whole])) ++whole;
  if (whole > 1 && s.front() == '0') return "has a leading zero (not octal: write plain decimal digits)";
  if (whole == s.size()) return {};
  if (s[whole] != '.' || decimals == 0) return "has a character that is not a decimal digit";
  const std::string_view frac = s.substr(whole + 1);
  if (frac.empty()) return "needs a digit after the decimal point";
  for (char c : frac)
    if (!is_digit(c)) return "has a character that is not a decimal digit";
  if (frac.size() > static_cast<std::size_t>(decimals))
    return fmt::format("has more than {} decimal place{}", decimals, decimals == 1 ? "" : "s");
  return {};
}

template <class T>
[[nodiscard]] result<T> bad_argument(std::string_view what, std::string_view arg, std::string_view why,
                                     std::string_view expected) {
  return result<T>(errc::invalid_argument,
                   fmt::format("{} {} {}; expected {}", what, quoted(arg), why, expected));
}

}  // namespace detail

/**
 * A whole number in [min, max], plain decimal digits only.
 * @param what names the argument in the error, e.g. "hold id" or "--outputs".
 */
[[nodiscard]] inline result<std::uint64_t> parse_whole(std::string_view s, std::string_view what,
                                                       std::uint64_t min = 0,
                                                       std::uint64_t max = UINT64_MAX) {
  const std::string expected = fmt::format("a whole number from {} to {}", min, max);
  if (auto why = detail::decimal_form_error(s, false, 0); !why.empty())
    return detail::bad_argument<std::uint64_t>(what, s, why, expected);
  std::uint64_t v = 0;
  for (char c : s)
    if (__builtin_mul_overflow(v, 10u, &v) || __builtin_add_overflow(v, unsigned(c - '0'), &v))
      return detail::bad_argument<std::uint64_t>(what, s, "is too large", expected);
  if (v < min) return detail::bad_argument<std::uint64_t>(what, s, "is too small", expected);
  if (v > max) return detail::bad_argument<std::uint64_t>(what, s, "is too large", expected);
  return v;
}

/// A hold id as `hold` returned it: 1 to 2^64-1.
[[nodiscard]] inline result<std::uint64_t> parse_hold_id(std::string_view s) {
  return parse_whole(s, "hold id", 1);
}

/// Which amounts an argument takes.
enum class amount_sign {
  positive,      ///< more than zero (a purchase, a charge, a grant, a hold)
  non_negative,  ///< zero or more (a capture may take nothing)
  non_zero,      ///< either sign, not zero (an adjustment)
};

namespace detail {

template <class Amount>
[[nodiscard]] result<Amount> parse_amount(std::string_view s, std::string_view what, amount_sign sign,
                                          std::string_view example) {
  const std::string expected =
      fmt::format("{} amount such as {} (at most {} decimal places)",
                  sign == amount_sign::positive       ? "a positive"
                  : sign == amount_sign::non_negative ? "a non-negative"
                                                      : "a non-zero",
                  example, Amount::scale);
  if (auto why = decimal_form_error(s, sign == amount_sign::non_zero, Amount::scale); !why.empty())
    return bad_argument<Amount>(what, s, why, expected);
  auto a = Amount::parse(s);
  if (!a) return bad_argument<Amount>(what, s, "is too large to represent", expected);
  if (a->is_zero() && sign != amount_sign::non_negative)
    return bad_argument<Amount>(what, s, "is zero", expected);
  return a;
}

}  // namespace detail

/// A credit amount (6 decimal places at most).
[[nodiscard]] inline result<credits> parse_credits(std::string_view s, std::string_view what,
                                                   amount_sign sign = amount_sign::positive) {
  return detail::parse_amount<credits>(s, what, sign, sign == amount_sign::non_zero ? "-2.5 or 12.5" : "12.5");
}

/// A dollar amount (6 decimal places at most).
[[nodiscard]] inline result<usd> parse_usd(std::string_view s, std::string_view what,
                                           amount_sign sign = amount_sign::positive) {
  return detail::parse_amount<usd>(s, what, sign, "12.50");
}

/// The longest duration a command-line argument takes: 10^9 seconds (31.7
/// years; the ledger's clock runs to the year 2262).
inline constexpr std::int64_t max_argument_seconds = 1'000'000'000;

/// A positive duration in seconds, to the microsecond ("60", "0.5"), at most
/// max_argument_seconds.
[[nodiscard]] inline result<std::chrono::nanoseconds> parse_duration(std::string_view s,
                                                                     std::string_view what) {
  const std::string expected =
      fmt::format("a positive number of seconds such as 60 or 0.5, at most {}", max_argument_seconds);
  if (auto why = detail::decimal_form_error(s, false, 6); !why.empty())
    return detail::bad_argument<std::chrono::nanoseconds>(what, s, why, expected);
  const std::size_t dot = std::min(s.find('.'), s.size());
  // Ten digits before the point at most: the nanoseconds below fit in 64 bits.
  std::int64_t whole = 0;
  if (dot > 10) return detail::bad_argument<std::chrono::nanoseconds>(what, s, "is too long", expected);
  for (char c : s.substr(0, dot)) whole = whole * 10 + (c - '0');
  if (whole > max_argument_seconds)
    return detail::bad_argument<std::chrono::nanoseconds>(what, s, "is too long", expected);
  std::int64_t ns = whole * 1'000'000'000, scale = 100'000'000;
  for (char c : s.substr(std::min(dot + 1, s.size()))) ns += (c - '0') * scale, scale /= 10;
  if (ns == 0) return detail::bad_argument<std::chrono::nanoseconds>(what, s, "is zero", expected);
  if (ns > max_argument_seconds * 1'000'000'000)
    return detail::bad_argument<std::chrono::nanoseconds>(what, s, "is too long", expected);
  return std::chrono::nanoseconds(ns);
}

/// Seconds of media for a job (tollgate-estimate's --seconds, a plan's
/// "seconds" string): the same grammar, to the millisecond, as the catalog's
/// media_duration; zero passes here (the catalog says which lengths a model
/// takes).
[[nodiscard]] inline result<media_duration> parse_media_seconds(std::string_view s,
                                                                std::string_view what) {
  constexpr std::string_view expected = "seconds such as 10 or 2.5 (at most 3 decimal places)";
  if (auto why = detail::decimal_form_error(s, false, 3); !why.empty())
    return detail::bad_argument<media_duration>(what, s, why, expected);
  auto d = parse_seconds(s);
  if (!d) return detail::bad_argument<media_duration>(what, s, "is too large", expected);
  return d;
}

/// The value of a parser above, or (its error) bad input.
template <class T>
[[nodiscard]] T or_bad_input(result<T> r) {
  if (!r) throw bad_input(r.error().message());
  return std::move(*r);
}

}  // namespace tollgate::examples
