// Exact money: parsing, printing, arithmetic, overflow, rounding, credit price.
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>

#include <boost/multiprecision/cpp_int.hpp>
#include <fmt/format.h>

#include <tollgate/core/money.hpp>

using tollgate::credit_price;
using tollgate::credits;
using tollgate::errc;
using tollgate::usd;
using namespace tollgate::literals;

TEST_CASE("credits parse and print exactly", "[money]") {
  SECTION("round trips") {
    for (const char* s : {"0", "1", "12.5", "50", "0.000001", "-0.000001", "123456789.123456",
                          "-42", "170141183460469231731687303715884.105727"}) {
      auto c = credits::parse(s);
      REQUIRE(c);
      CHECK(c->to_string() == s);
    }
  }
  SECTION("trailing zeros are dropped, leading zeros accepted") {
    CHECK(credits::parse("12.500")->to_string() == "12.5");
    CHECK(credits::parse("007")->to_string() == "7");
    CHECK(credits::parse("-0")->to_string() == "0");
    CHECK(credits::parse("1.000000")->to_string() == "1");
  }
  SECTION("raw units are micro-credits") {
    CHECK(credits::parse("12.5")->raw() == 12'500'000);
    CHECK(credits::from_raw(1).to_string() == "0.000001");
    CHECK(credits{50}.raw() == 50'000'000);
  }
}

TEST_CASE("malformed amounts are refused", "[money]") {
  for (const char* s : {"", " 7", "7 ", "1e5", "1.2.3", "+1", ".5", "5.", "1,000", "0x10", "--1",
                        "-", "1.-5", "NaN", "inf", "١٢"}) {
    INFO("input: '" << s << "'");
    auto c = credits::parse(s);
    REQUIRE_FALSE(c);
    CHECK(c.error() == errc::invalid_amount);
    CHECK(c.error().message().find("credits") != std::string::npos);
  }
  SECTION("more than six decimal places") {
    auto c = credits::parse("1.1234567");
    REQUIRE_FALSE(c);
    CHECK(c.error() == errc::invalid_amount);
    CHECK(c.error().message().find("6 decimal places") != std::string::npos);
  }
}

TEST_CASE("amounts beyond the representation are overflow errors", "[money]") {
  SECTION("parse") {
    auto c = credits::parse("999999999999999999999999999999999999999");
    REQUIRE_FALSE(c);
    CHECK(c.error() == errc::overflow);
    // The largest magnitude is (2^128 - 1) micro-credits.
    CHECK(credits::parse("340282366920938463463374607431768.211455"));
    CHECK_FALSE(credits::parse("340282366920938463463374607431768.211456"));
    CHECK(credits::parse("-340282366920938463463374607431768.211455"));
  }
  SECTION("arithmetic throws instead of wrapping") {
    const credits max = credits::max();
    CHECK_THROWS_AS(max + credits::from_raw(1), std::overflow_error);
    CHECK_THROWS_AS(-max - credits{1}, std::overflow_error);
    CHECK_THROWS_AS(max * 2, std::overflow_error);
    CHECK_NOTHROW(max - credits{1});
  }
  SECTION("builtin representations are checked too") {
    using small = tollgate::basic_credits<std::int64_t, 6>;
    const small big = small::from_raw(INT64_MAX);
    CHECK_THROWS_AS(big + small::from_raw(1), std::overflow_error);
    CHECK_THROWS_AS(big * 2, std::overflow_error);
    CHECK_THROWS_AS(small{std::int64_t{10'000'000'000'000}}, std::overflow_error);
    CHECK_FALSE(small::parse("9223372036855"));
    CHECK(small::parse("9223372036854.775807")->to_string() == "9223372036854.775807");
  }
}

TEST_CASE("integers that do not fit a builtin representation are overflow, never a wrap",
          "[money]") {
  using whole64 = tollgate::basic_credits<std::int64_t, 0>;
  using whole32 = tollgate::basic_credits<std::int32_t, 0>;
  SECTION("an unsigned value above the signed maximum") {
    // Rep(UINT64_MAX) would be -1.
    CHECK_THROWS_AS(whole64{UINT64_MAX}, std::overflow_error);
    CHECK_THROWS_AS(whole64{std::uint64_t{1} << 63}, std::overflow_error);
    CHECK(whole64{std::uint64_t{INT64_MAX}}.raw() == INT64_MAX);
  }
  SECTION("a wider integer") {
    // Rep(2^32) would be 0 in an int32.
    CHECK_THROWS_AS(whole32{std::int64_t{1} << 32}, std::overflow_error);
    CHECK_THROWS_AS(whole32{std::int64_t{INT32_MIN} - 1}, std::overflow_error);
    CHECK(whole32{std::int64_t{INT32_MIN}}.raw() == INT32_MIN);
  }
  SECTION("scaling by a count that does not fit") {
    CHECK_THROWS_AS(whole32{1} * (std::int64_t{1} << 32), std::overflow_error);
    CHECK_THROWS_AS((std::int64_t{1} << 32) * whole32{1}, std::overflow_error);
    CHECK_THROWS_AS(whole64{1} * UINT64_MAX, std::overflow_error);
    CHECK((whole32{2} * std::int64_t{1'000}).raw() == 2'000);
  }
  SECTION("the default representation takes any builtin integer") {
    CHECK(credits{UINT64_MAX}.to_string() == "18446744073709551615");
    CHECK((credits{1} * UINT64_MAX).to_string() == "18446744073709551615");
  }
}

TEST_CASE("the extremes of a builtin representation print and parse", "[money]") {
  using micro64 = tollgate::basic_credits<std::int64_t, 6>;
  using whole64 = tollgate::basic_credits<std::int64_t, 0>;
  // The most negative value has no negation in the type: printing must not need one.
  CHECK(micro64::from_raw(INT64_MIN).to_string() == "-9223372036854.775808");
  CHECK(micro64::from_raw(INT64_MAX).to_string() == "9223372036854.775807");
  CHECK(whole64::from_raw(INT64_MIN).to_string() == "-9223372036854775808");
  CHECK(fmt::format("{}", micro64::from_raw(INT64_MIN)) == "-9223372036854.775808");
  CHECK(micro64::parse("-9223372036854.775808").value().raw() == INT64_MIN);
  CHECK(whole64::parse("-9223372036854775808").value().raw() == INT64_MIN);
  CHECK(micro64::parse("-9223372036854.775809").error() == errc::overflow);
  CHECK(micro64::parse("9223372036854.775808").error() == errc::overflow);
  SECTION("unsigned representations refuse negative amounts as overflow") {
    using unsigned_credits = tollgate::basic_credits<std::uint64_t, 6>;
    CHECK(unsigned_credits::parse("-1").error() == errc::overflow);
    CHECK(unsigned_credits::parse("-0").value().raw() == 0u);
    CHECK(unsigned_credits::from_raw(UINT64_MAX).to_string() == "18446744073709.551615");
  }
}

TEST_CASE("credit arithmetic is exact", "[money]") {
  CHECK(credits::parse("0.1").value() + credits::parse("0.2").value() ==
        credits::parse("0.3").value());
  CHECK((credits{5} * 10).to_string() == "50");
  CHECK((3 * credits::parse("0.333333").value()).to_string() == "0.999999");
  CHECK((credits{1} - credits{3}).to_string() == "-2");
  CHECK(credits{2} > credits{1});
  CHECK(credits::parse("1.5").value() < credits{2});
  credits c{1};
  c += credits::parse("0.25").value();
  c -= credits::parse("0.05").value();
  CHECK(c.to_string() == "1.2");
  CHECK(50_cr == credits{50});
  CHECK((10_usd).to_string() == "10.00");
}

TEST_CASE("randomized: arithmetic matches an unbounded reference", "[money]") {
  using big = boost::multiprecision::cpp_int;
  const auto seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 2000; ++i) {
    const std::int64_t a = static_cast<std::int64_t>(rng());
    const std::int64_t b = static_cast<std::int64_t>(rng() >> (rng() % 64));
    const credits ca = credits::from_raw(a), cb = credits::from_raw(b);
    CHECK(big((ca + cb).raw()) == big(a) + big(b));
    CHECK(big((ca - cb).raw()) == big(a) - big(b));
    // Printing then parsing is the identity.
    CHECK(credits::parse(ca.to_string()).value() == ca);
    CHECK(credits::parse((ca * 1000).to_string()).value() == ca * 1000);
  }
}

TEST_CASE("rounding policies", "[money][rounding]") {
  auto c = [](const char* s) { return credits::parse(s).value(); };
  SECTION("round_up rounds toward +infinity to a whole credit") {
    CHECK(tollgate::round_up::apply(c("12.000001")) == c("13"));
    CHECK(tollgate::round_up::apply(c("12")) == c("12"));
    CHECK(tollgate::round_up::apply(c("0.5")) == c("1"));
    CHECK(tollgate::round_up::apply(c("0")) == c("0"));
    CHECK(tollgate::round_up::apply(c("-1.5")) == c("-1"));
  }
  SECTION("half_up rounds to nearest, halves away from zero") {
    CHECK(tollgate::half_up::apply(c("12.5")) == c("13"));
    CHECK(tollgate::half_up::apply(c("12.499999")) == c("12"));
    CHECK(tollgate::half_up::apply(c("0.5")) == c("1"));
    CHECK(tollgate::half_up::apply(c("-2.5")) == c("-3"));
    CHECK(tollgate::half_up::apply(c("-2.4")) == c("-2"));
  }
  SECTION("exact keeps every decimal") {
    CHECK(tollgate::exact::apply(c("12.000001")) == c("12.000001"));
  }
  SECTION("rounding the largest value overflows cleanly") {
    CHECK_THROWS_AS(tollgate::round_up::apply(credits::max()), std::overflow_error);
  }
}

TEST_CASE("credit price converts between credits and dollars", "[money][price]") {
  const credit_price p;  // $0.01
  SECTION("default price") {
    CHECK(p.per_credit().to_string() == "0.01");
    CHECK(p.to_usd(credits{50}).to_string() == "0.50");
    CHECK(p.to_usd(credits::parse("0.5").value()).to_string() == "0.005");
    CHECK(p.to_credits(usd{10}) == credits{1000});
    CHECK(p.to_credits(usd::parse("0.015").value()).to_string() == "1.5");
  }
  SECTION("an odd price truncates dollars-to-credits, never giving more than paid") {
    const credit_price odd(usd::parse("0.03").value());
    CHECK(odd.to_credits(usd{1}).to_string() == "33.333333");
    CHECK(odd.to_usd(odd.to_credits(usd{1})) <= usd{1});
    // 33.333333 * $0.03 = $0.99999999, half-up at the micro-dollar.
    CHECK(odd.to_usd(credits::parse("33.333333").value()).to_string() == "1.00");
  }
  SECTION("credits to dollars rounds half-up at the micro-dollar") {
    const credit_price p2(usd::parse("0.000003").value());
    // 0.5 credit * $0.000003 = $0.0000015 -> $0.000002
    CHECK(p2.to_usd(credits::parse("0.5").value()).to_string() == "0.000002");
  }
  SECTION("a non-positive price is bad configuration") {
    CHECK_THROWS_AS(credit_price(usd{0}), std::invalid_argument);
    CHECK_THROWS_AS(credit_price(usd{-1}), std::invalid_argument);
  }
  SECTION("overflow on conversion throws") {
    CHECK_THROWS_AS(p.to_credits(usd::max()), std::overflow_error);
  }
}

TEST_CASE("usd prints with at least two decimals", "[money]") {
  CHECK(usd::parse("0.5")->to_string() == "0.50");
  CHECK(usd{3}.to_string() == "3.00");
  CHECK(usd::parse("1.234")->to_string() == "1.234");
  CHECK(usd::parse("-0.1")->to_string() == "-0.10");
  CHECK(usd::parse("0.5")->to_string(0) == "0.5");
}

TEST_CASE("fmt formatters reuse string format specs", "[money][fmt]") {
  CHECK(fmt::format("{}", credits::parse("12.5").value()) == "12.5");
  CHECK(fmt::format("[{:>6}]", credits{50}) == "[    50]");
  CHECK(fmt::format("[{:<6}]", usd::parse("0.5").value()) == "[0.50  ]");
  CHECK(fmt::format("{:*^8}", credits{7}) == "***7****");
}
