// parse_strict: a repeated key is reported by its JSON path, and every failure
// of the parser, a syntax error or a number out of range, is one bad_json.
#include <catch2/catch.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include <tollgate/json/strict.hpp>

using namespace tollgate;
using Catch::Matchers::StartsWith;

namespace {

struct repeated_key {
  std::string path;
};

nlohmann::ordered_json parse(std::string_view text) {
  return json::parse_strict(text, [](const std::string& path) { throw repeated_key{path}; });
}

// The path parse_strict reports a repeated key at.
std::string repeated_at(std::string_view text) {
  try {
    (void)parse(text);
  } catch (const repeated_key& e) {
    return e.path;
  }
  FAIL("accepted a repeated key: " << text);
  return "";
}

json::bad_json bad(std::string_view text) {
  try {
    (void)parse(text);
  } catch (const json::bad_json& e) {
    return e;
  }
  FAIL("parsed: " << text);
  return json::bad_json("", "", false);  // not reached
}

}  // namespace

TEST_CASE("parse_strict reads JSON in order, integers exactly") {
  const auto doc = parse(R"({"b": 1, "a": [18446744073709551615, "x"]})");
  CHECK(doc.begin().key() == "b");
  CHECK(doc["a"][0].get<std::uint64_t>() == 18446744073709551615u);
}

TEST_CASE("parse_strict reports a repeated key by its path") {
  CHECK(repeated_at(R"({"jobs": [{"count": 1}, {"count": 2, "count": 3}]})") == "jobs[1].count");
  CHECK(repeated_at(R"({"a": [{}, {"b": [1, {"c": 1, "c": 2}]}]})") == "a[1].b[1].c");
  CHECK(repeated_at(R"({"": 1, "": 2})") == "");
}

TEST_CASE("every parser failure is a bad_json, never a raw nlohmann exception") {
  SECTION("not JSON: a syntax error with line and column, no path") {
    const auto e = bad("{\"a\": [1,\n 2,,]}");
    CHECK(e.syntax());
    CHECK(e.path().empty());
    CHECK_THAT(e.reason(), StartsWith("parse error at line 2, column 4"));
    CHECK(std::string(e.what()) == e.reason());
  }
  SECTION("invalid UTF-8 in a string") {
    CHECK(bad("{\"a\": \"\xC0\xAF\"}").syntax());
  }
  SECTION("a number too large for a double (nlohmann's out_of_range): the path of the value") {
    // out_of_range, not parse_error: catching only parse_error let it escape.
    const auto e = bad(R"({"jobs": [{"model": "m"}, {"model": "m", "seconds": 1e400}]})");
    CHECK_FALSE(e.syntax());
    CHECK(e.path() == "jobs[1].seconds");
    CHECK(e.reason() == "number overflow parsing '1e400'");
    CHECK(std::string(e.what()) == "jobs[1].seconds: number overflow parsing '1e400'");
    CHECK(bad(R"([[1, 2], [3, -1e999]])").path() == "[1][1]");
    CHECK(bad("1e400").path().empty());
  }
}

TEST_CASE("parse_strict refuses an integer literal beyond 64 bits by its path") {
  // nlohmann reads it as a double, dropping digits without a word.
  const auto e = bad(R"({"jobs": [{"count": 18446744073709551616}]})");
  CHECK_FALSE(e.syntax());
  CHECK(e.path() == "jobs[0].count");
  CHECK_THAT(e.reason(), StartsWith("the integer 18446744073709551616 is too large (more than 64 bits)"));
  CHECK(bad("[-9223372036854775809]").path() == "[0]");
  // The largest 64-bit integers still parse exactly; fractions and exponents are doubles.
  CHECK(parse("[18446744073709551615, -9223372036854775808, 1.5, 1e3]").dump() ==
        "[18446744073709551615,-9223372036854775808,1.5,1000.0]");
}

TEST_CASE("parse_strict is linear: many objects, many keys, deep nesting") {
  // The callback parser it replaced rescanned the parent array at the end of
  // each object: 160,000 empty objects took 4.5 s, 10^6 would take minutes.
  std::string many = "[";
  for (int i = 0; i < 1'000'000; ++i) many += i ? ",{}" : "{}";
  many += "]";
  CHECK(parse(many).size() == 1'000'000);
  // ordered_json looks a key up linearly on insertion: 100,000 keys in one
  // object were O(n^2) too. The order is kept.
  std::string keys = "{";
  for (int i = 0; i < 100'000; ++i) keys += fmt::format("{}\"k{}\": {}", i ? "," : "", i, i);
  keys += "}";
  const auto doc = parse(keys);
  REQUIRE(doc.size() == 100'000);
  CHECK(doc.begin().key() == "k0");
  CHECK((--doc.end()).key() == "k99999");
  CHECK(doc["k4242"] == 4242);
  // Nesting costs no stack: 100,000 levels.
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  CHECK(parse(deep).is_array());
}

TEST_CASE("parse_strict refuses a NUL byte anywhere in the text") {
  // nlohmann's reader takes a NUL for the end of the input: "{}\0junk" was {}.
  using namespace std::string_literals;
  for (const std::string& text : {"{}\0junk"s, "{\"a\": \"x\0y\"}"s, "\0"s}) {
    const auto e = bad(text);
    CHECK(e.syntax());
    CHECK_THAT(e.reason(), StartsWith(fmt::format("a NUL byte at offset {}", text.find('\0'))));
  }
  CHECK(parse(R"({"a": "x\u0000y"})")["a"].get<std::string>() == "x\0y"s);
}
