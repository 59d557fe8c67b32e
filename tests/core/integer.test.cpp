// The integer helpers of core/detail/integer.hpp: floor and ceiling division
// for every sign (INT64_MIN included), division that cannot overflow where
// (a + b - 1) / b does, saturating sums and nanoseconds, and the byte loads.
#include <catch2/catch.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#include <boost/multiprecision/cpp_int.hpp>

#include <tollgate/core/detail/integer.hpp>

namespace d = tollgate::detail;

namespace {
constexpr std::int64_t min64 = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t max64 = std::numeric_limits<std::int64_t>::max();
constexpr std::uint64_t umax64 = std::numeric_limits<std::uint64_t>::max();

// The exact floor and ceiling of a / b, computed in 128 bits with a positive
// divisor (a reference that shares no code with the helpers).
d::i128 exact_floor(d::i128 a, d::i128 b) {
  if (b < 0) a = -a, b = -b;
  d::i128 q = a / b;
  if (q * b > a) --q;
  return q;
}
d::i128 exact_ceil(d::i128 a, d::i128 b) { return -exact_floor(-a, b); }
}  // namespace

TEST_CASE("floor_div and ceil_div round toward minus and plus infinity for every sign", "[core][integer]") {
  CHECK(d::floor_div<std::int64_t>(7, 2) == 3);
  CHECK(d::floor_div<std::int64_t>(-7, 2) == -4);
  CHECK(d::floor_div<std::int64_t>(7, -2) == -4);
  CHECK(d::floor_div<std::int64_t>(-7, -2) == 3);
  CHECK(d::ceil_div<std::int64_t>(7, 2) == 4);
  CHECK(d::ceil_div<std::int64_t>(-7, 2) == -3);
  CHECK(d::ceil_div<std::int64_t>(7, -2) == -3);
  CHECK(d::ceil_div<std::int64_t>(-7, -2) == 4);
  CHECK(d::floor_div<std::int64_t>(0, -5) == 0);
  CHECK(d::ceil_div<std::int64_t>(0, -5) == 0);
  CHECK(d::floor_div<std::int64_t>(-6, 3) == -2);  // exact: no correction
  CHECK(d::ceil_div<std::int64_t>(-6, -3) == 2);

  SECTION("the extremes of int64") {
    const std::int64_t values[] = {min64, min64 + 1, -3, -1, 0, 1, 3, max64 - 1, max64};
    for (const std::int64_t a : values)
      for (const std::int64_t b : values) {
        if (b == 0 || (a == min64 && b == -1)) continue;  // the precondition of a / b itself
        INFO(static_cast<long long>(a) << " / " << static_cast<long long>(b));
        CHECK(static_cast<d::i128>(d::floor_div(a, b)) == exact_floor(a, b));
        CHECK(static_cast<d::i128>(d::ceil_div(a, b)) == exact_ceil(a, b));
      }
    CHECK(d::floor_div(min64, std::int64_t{2}) == min64 / 2);
    CHECK(d::ceil_div(min64, max64) == -1);
    CHECK(d::floor_div(min64, max64) == -2);
    CHECK(d::floor_div(max64, min64) == -1);
    CHECK(d::ceil_div(max64, min64) == 0);
  }
  SECTION("the divisor converts to the dividend's type") {
    const std::int64_t ms = 1001;
    CHECK(d::ceil_div(ms, 1000) == 2);
    CHECK(d::floor_div(-ms, 1000) == -2);
  }
}

TEST_CASE("ceil_div of unsigned values cannot overflow", "[core][integer]") {
  // (a + b - 1) / b wraps here: the old shard-capacity arithmetic of keyed did.
  CHECK(d::ceil_div(umax64, std::uint64_t{64}) == umax64 / 64 + 1);
  CHECK(d::ceil_div(umax64, umax64) == 1);
  CHECK(d::ceil_div(std::uint64_t{0}, umax64) == 0);
  CHECK(d::ceil_div(std::size_t{65}, std::size_t{64}) == 2);
  CHECK(d::floor_div(umax64, std::uint64_t{2}) == umax64 / 2);
  const d::u128 u128_max = ~d::u128{0};
  CHECK(d::ceil_div(u128_max, d::u128{3}) == u128_max / 3);  // 2^128 - 1 is a multiple of 3
  CHECK(d::ceil_div(u128_max, d::u128{2}) == u128_max / 2 + 1);
}

TEST_CASE("floor_div and ceil_div take 128-bit and multiprecision integers", "[core][integer]") {
  const d::i128 big = static_cast<d::i128>(min64) * 4 - 1;
  CHECK(d::floor_div(big, d::i128{4}) == static_cast<d::i128>(min64) - 1);
  CHECK(d::ceil_div(big, d::i128{4}) == static_cast<d::i128>(min64));
  CHECK(d::floor_div(big, d::i128{-4}) == -static_cast<d::i128>(min64));
  using checked = boost::multiprecision::checked_int128_t;
  CHECK(d::floor_div(checked(-7), checked(2)) == -4);
  CHECK(d::ceil_div(checked(-7), checked(-2)) == 4);
  CHECK(d::ceil_div(checked(7), 2) == 4);
}

TEST_CASE("gcd of 128-bit values", "[core][integer]") {
  CHECK(d::gcd(0, 0) == 0);
  CHECK(d::gcd(0, 12) == 12);
  CHECK(d::gcd(12, 18) == 6);
  const d::u128 two_100 = d::u128{1} << 100;
  CHECK(d::gcd(two_100, d::u128{3} << 90) == (d::u128{1} << 90));
}

TEST_CASE("saturating sums and nanoseconds stop at the int64 range", "[core][integer]") {
  CHECK(d::add_sat(1, 2) == 3);
  CHECK(d::add_sat(max64, 1) == max64);
  CHECK(d::add_sat(max64, max64) == max64);
  CHECK(d::add_sat(min64, -1) == min64);
  CHECK(d::add_sat(min64, max64) == -1);
  CHECK(d::sub_sat(min64, 1) == min64);
  CHECK(d::sub_sat(max64, -1) == max64);
  CHECK(d::sub_sat(0, min64) == max64);
  CHECK(d::sub_sat(-1, min64) == max64);
  CHECK(d::sub_sat(5, 7) == -2);
  CHECK(d::saturate_ns(0) == std::chrono::nanoseconds(0));
  CHECK(d::saturate_ns(static_cast<d::u128>(max64)) == std::chrono::nanoseconds::max());
  CHECK(d::saturate_ns(static_cast<d::u128>(max64) + 1) == std::chrono::nanoseconds::max());
  CHECK(d::saturate_ns(~d::u128{0}) == std::chrono::nanoseconds::max());
  using tp = std::chrono::time_point<std::chrono::system_clock, std::chrono::nanoseconds>;
  CHECK(d::to_ns(d::from_ns<tp>(min64)) == min64);
  CHECK(d::ns_of(std::chrono::seconds(-3)) == -3'000'000'000);
}

TEST_CASE("little-endian stores and loads are the same bytes on every machine", "[core][integer]") {
  std::array<unsigned char, 8> b{};
  d::store_le(b.data(), std::uint64_t{0x0102030405060708});
  CHECK(b == std::array<unsigned char, 8>{8, 7, 6, 5, 4, 3, 2, 1});
  CHECK(d::load_le<std::uint64_t>(b.data()) == 0x0102030405060708);
  CHECK(d::load_le<std::uint32_t>(b.data() + 4) == 0x01020304);
  CHECK(d::load_le<std::uint16_t>(b.data() + 1) == 0x0607);
  char c[4];
  d::store_le(c, std::uint32_t{0xFFFFFF80});  // bytes above 0x7F through a signed char
  CHECK(d::load_le<std::uint32_t>(c) == 0xFFFFFF80);
  std::byte y[2];
  d::store_le(y, std::uint16_t{0xBEEF});
  CHECK(y[0] == std::byte{0xEF});
  CHECK(d::load_le<std::uint16_t>(y) == 0xBEEF);
  SECTION("native loads read unaligned memory") {
    const char text[] = "0123456789abcdef";
    for (std::size_t off = 0; off < 8; ++off)
      CHECK(d::load_native<std::uint64_t>(text + off) == d::load_native<std::uint64_t>(text + off));
    std::uint64_t w = 0;
    std::memcpy(&w, text + 3, 8);
    CHECK(d::load_native<std::uint64_t>(text + 3) == w);
  }
}
