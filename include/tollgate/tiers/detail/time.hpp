// Time arithmetic of the tier engine: every time point as signed integer
// nanoseconds since its clock's epoch, sums that saturate instead of wrapping
// (both from core/detail/integer.hpp), and UTC text for messages a person reads.
// Messages treat the clock's epoch as the Unix epoch, which holds for
// system_clock and for manual_clock (tests and simulations start it where
// they like).
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>

#include <fmt/format.h>

#include "../../core/detail/integer.hpp"

namespace tollgate::tiers::detail {

using tollgate::detail::add_sat;
using tollgate::detail::from_ns;
using tollgate::detail::ns_of;
using tollgate::detail::to_ns;

/// True when at least `d` nanoseconds separate `from` and `to` (to - from >= d),
/// exactly, for any two readings.
[[nodiscard]] constexpr bool elapsed_at_least(std::int64_t from, std::int64_t to, std::int64_t d) noexcept {
  std::int64_t e;
  if (__builtin_sub_overflow(to, from, &e)) return to > from;  // beyond the int64 range either way
  return e >= d;
}

/// "2026-11-30 12:00:00 UTC" (with ".000000001" when the nanoseconds need it).
[[nodiscard]] inline std::string utc(std::int64_t ns) {
  using namespace std::chrono;
  const sys_time<nanoseconds> t{nanoseconds(ns)};
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss<nanoseconds> hms{t - day};
  std::string out = fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", static_cast<int>(ymd.year()),
                                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                                hms.hours().count(), hms.minutes().count(), hms.seconds().count());
  if (const auto sub = hms.subseconds().count(); sub != 0) {
    std::string frac = fmt::format("{:09}", sub);
    while (frac.back() == '0') frac.pop_back();
    out += "." + frac;
  }
  return out + " UTC";
}

/// "6 days 23:59:59" (or "02:00:00" under a day; "0.5 s" under a second).
[[nodiscard]] inline std::string span(std::int64_t ns) {
  using namespace std::chrono;
  if (ns < 0) ns = 0;
  constexpr std::int64_t second = 1'000'000'000;
  if (ns < second) return fmt::format("{} ns", ns);
  const std::int64_t s = ns / second;
  const std::int64_t d = s / 86'400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;
  std::string out = d == 0 ? std::string() : fmt::format("{} day{} ", d, d == 1 ? "" : "s");
  out += fmt::format("{:02}:{:02}:{:02}", h, m, sec);
  if (ns % second != 0) out += fmt::format(".{:09}", ns % second);
  return out;
}

}  // namespace tollgate::tiers::detail
