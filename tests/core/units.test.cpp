// Units: seconds parsing and UTF-8 character counting.
#include <catch2/catch.hpp>

#include <string>

#include <tollgate/core/units.hpp>

using tollgate::count_characters;
using tollgate::errc;
using tollgate::media_duration;
using tollgate::parse_seconds;

TEST_CASE("seconds parse to milliseconds exactly", "[units]") {
  CHECK(parse_seconds("10").value() == media_duration{10'000});
  CHECK(parse_seconds("2.5").value() == media_duration{2'500});
  CHECK(parse_seconds("0.001").value() == media_duration{1});
  CHECK(parse_seconds("0").value() == media_duration{0});
  CHECK(parse_seconds("1.25").value() == media_duration{1'250});
  for (const char* s : {"", "-1", "1.", ".5", "1.0001", "1e3", " 1", "1s", "1.2.3"}) {
    INFO(s);
    auto r = parse_seconds(s);
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::invalid_usage);
  }
  CHECK(parse_seconds("99999999999999999999").error() == errc::overflow);
  CHECK(parse_seconds("9223372036854776").error() == errc::overflow);
}

TEST_CASE("characters are Unicode code points of valid UTF-8", "[units][utf8]") {
  SECTION("valid text") {
    CHECK(count_characters("").value().value == 0);
    CHECK(count_characters("hello").value().value == 5);
    CHECK(count_characters("h\xC3\xA9llo").value().value == 5);            // é: 2 bytes
    CHECK(count_characters("\xE2\x82\xAC").value().value == 1);            // €: 3 bytes
    CHECK(count_characters("\xF0\x9F\x8E\xAC").value().value == 1);        // 🎬: 4 bytes
    CHECK(count_characters("\xF4\x8F\xBF\xBF").value().value == 1);        // U+10FFFF
    CHECK(count_characters("\xEF\xBB\xBF" "a").value().value == 2);        // BOM counts
    CHECK(count_characters(std::string("a\0b", 3)).value().value == 3);    // NUL is a character
    // A combining sequence is two code points (e + U+0301).
    CHECK(count_characters("e\xCC\x81").value().value == 2);
  }
  struct bad_case {
    const char* name;
    std::string text;
    std::size_t offset;
  };
  const bad_case cases[] = {
      {"overlong 2-byte NUL", "ab\xC0\x80", 2},
      {"overlong 2-byte", "\xC1\xBF", 0},
      {"overlong 3-byte", "x\xE0\x80\xAF", 1},
      {"overlong 4-byte", "\xF0\x80\x80\xAF", 0},
      {"surrogate high", "ok\xED\xA0\x80", 2},
      {"surrogate low", "\xED\xBF\xBF", 0},
      {"above U+10FFFF", "\xF4\x90\x80\x80", 0},
      {"byte F5", "abc\xF5\x80\x80\x80", 3},
      {"byte FF", "\xFF", 0},
      {"stray continuation", "a\x80", 1},
      {"truncated 2-byte at end", "abc\xC3", 3},
      {"truncated 3-byte at end", "\xE2\x82", 0},
      {"truncated 4-byte in middle", "\xF0\x9F\x8E" "a", 0},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      auto r = count_characters(c.text);
      REQUIRE_FALSE(r);
      CHECK(r.error() == errc::invalid_utf8);
      CHECK(r.error().message().find("at byte " + std::to_string(c.offset)) != std::string::npos);
    }
  }
}
