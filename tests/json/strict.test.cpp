// parse_strict: a repeated key is reported by its JSON path, and every failure
// of the parser, a syntax error or a number out of range, is one bad_json.
#include <catch2/catch.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

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
  try {
    (void)parse(R"({"jobs": [{"count": 1}, {"count": 2, "count": 3}]})");
    FAIL("accepted a repeated key");
  } catch (const repeated_key& e) {
    CHECK(e.path == "jobs[1].count");
  }
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
