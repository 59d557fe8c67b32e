// The command-line tools' shared pieces (examples/common/): the strict
// argument parsers, printable() messages, JSON output that cannot throw, and
// the plan reader.
#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../../examples/common/arguments.hpp"
#include "../../examples/common/cli_support.hpp"
#include "../../examples/common/json_output.hpp"
#include "../../examples/common/plan.hpp"

using namespace tollgate;
using namespace std::string_literals;
namespace ex = tollgate::examples;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

TEST_CASE("hold ids are plain decimal from 1 to 2^64-1: no octal, hex, sign, wrap or clamp") {
  CHECK(*ex::parse_hold_id("1") == 1);
  CHECK(*ex::parse_hold_id("18446744073709551615") == UINT64_MAX);
  // What CLI11 took: 012 as octal 10, 0x1 as 1, a negative number wrapped,
  // 2^64 clamped, '' as 0.
  for (const char* bad : {"012", "0x1", "-18446744073709551604", "18446744073709551616", "", "0",
                          "+1", " 1", "1 ", "1.0", "1e3", "0b1", "1_000"}) {
    INFO(bad);
    const auto r = ex::parse_hold_id(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::invalid_argument);
    CHECK_THAT(r.error().message(), StartsWith(fmt::format("hold id '{}' ", bad)));
    CHECK_THAT(r.error().message(), Contains("expected a whole number from 1 to 18446744073709551615"));
  }
  CHECK_THAT(ex::parse_hold_id("012").error().message(), Contains("has a leading zero"));
  CHECK_THAT(ex::parse_hold_id("18446744073709551616").error().message(), Contains("is too large"));
}

TEST_CASE("amounts: the sign each argument allows, up to six decimals, no other spelling") {
  using ex::amount_sign;
  CHECK(ex::parse_credits("12.5", "credits")->to_string() == "12.5");
  CHECK(ex::parse_credits("0.000001", "credits")->to_string() == "0.000001");
  CHECK(ex::parse_credits("0", "credits", amount_sign::non_negative)->is_zero());
  CHECK(ex::parse_credits("-2.5", "credits", amount_sign::non_zero)->to_string() == "-2.5");
  CHECK(ex::parse_usd("12.50", "dollars")->to_string() == "12.50");
  for (const char* bad : {"012", "00.5", "0x1", "+1", "-1", "1e3", "1.", ".5", "1.0000001", "inf", "",
                          "0", "0.0", "1,5", "99999999999999999999999999999999999999999"}) {
    INFO(bad);
    CHECK_FALSE(ex::parse_credits(bad, "credits"));
    CHECK_FALSE(ex::parse_usd(bad, "dollars"));
  }
  CHECK_FALSE(ex::parse_credits("-012", "credits", amount_sign::non_zero));
  CHECK_FALSE(ex::parse_credits("-0", "credits", amount_sign::non_zero));
  CHECK_FALSE(ex::parse_credits("--1", "credits", amount_sign::non_zero));
  CHECK_FALSE(ex::parse_credits("-1", "credits", amount_sign::non_negative));
  CHECK(ex::parse_credits("-1", "credits").error().message() ==
        "credits '-1' must not be negative; expected a positive amount such as 12.5 (at most 6 decimal places)");
}

TEST_CASE("durations: positive seconds to the microsecond, at most 10^9; empty is an error") {
  CHECK(ex::parse_duration("60", "--timeout")->count() == 60'000'000'000);
  CHECK(ex::parse_duration("0.000001", "--timeout")->count() == 1'000);
  CHECK(ex::parse_duration("1000000000", "--timeout")->count() == 1'000'000'000'000'000'000);
  for (const char* bad : {"", "0", "0.0", "012", "-1", "+1", "1e3", "0.0000001", "1000000000.000001",
                          "99999999999", "9999999999999999999999", "1."}) {
    INFO(bad);
    CHECK_FALSE(ex::parse_duration(bad, "--timeout"));
  }
  CHECK(ex::parse_duration("", "--timeout").error().message() ==
        "--timeout '' is empty; expected a positive number of seconds such as 60 or 0.5, at most 1000000000");
  CHECK(ex::parse_media_seconds("2.5", "--seconds")->count() == 2500);
  CHECK_FALSE(ex::parse_media_seconds("010", "--seconds"));
  CHECK_FALSE(ex::parse_media_seconds("2.5001", "--seconds"));
}

TEST_CASE("printable() escapes control characters and bytes that are not UTF-8, and is idempotent") {
  CHECK(ex::printable("gen4_turbo, naïve, 動画") == "gen4_turbo, naïve, 動画");
  CHECK(ex::printable("ab\0cd"s) == "ab\\x00cd");
  CHECK(ex::printable("\xff\xfe") == "\\xff\\xfe");
  CHECK(ex::printable("ok \xc2\x85 \xc3") == "ok \\u0085 \\xc3");  // C1 NEL; a cut sequence
  CHECK(ex::printable("\xed\xa0\x80") == "\\xed\\xa0\\x80");         // a surrogate
  CHECK(ex::printable("\xc0\xaf") == "\\xc0\\xaf");                  // overlong
  CHECK(ex::printable("a\nb\x1b[31m") == "a\\x0ab\\x1b[31m");
  CHECK(ex::one_line("line one\nline two\n") == "line one line two");
  CHECK(ex::printable(ex::printable("\xff\x01")) == ex::printable("\xff\x01"));
  CHECK(ex::quoted(std::string(100, 'x')) == "'" + std::string(64, 'x') + "...'");
  // bad_input carries the whole message, escaped: what() is a C string.
  CHECK(std::string(ex::bad_input("unknown model 'ab\0cd'"s).what()) == "unknown model 'ab\\x00cd'");
}

TEST_CASE("JSON output never throws on text that is not UTF-8: U+FFFD for each bad byte") {
  // nlohmann's dump() throws type_error 316: statement --json of a reason
  // holding \xff\xfe failed with an internal error every time.
  nlohmann::ordered_json j;
  j["reason"] = "\xff\xfe ok";
  CHECK_THROWS(j.dump());
  CHECK(ex::json_text(j) == "{\"reason\":\"\xef\xbf\xbd\xef\xbf\xbd ok\"}");
}

namespace {

struct plan_read {
  std::vector<ex::plan_job> jobs;
  std::optional<ex::plan_problem> problem;
};

plan_read read_all(std::string_view text) {
  plan_read r;
  r.problem = ex::read_plan(text, [&](std::size_t i, ex::plan_job& j) -> std::optional<ex::plan_problem> {
    CHECK(i == r.jobs.size());
    r.jobs.push_back(j);
    return std::nullopt;
  });
  return r;
}

std::string problem(std::string_view text) {
  const plan_read r = read_all(text);
  REQUIRE(r.problem);
  return r.problem->path.empty() ? r.problem->reason : r.problem->path + ": " + r.problem->reason;
}

}  // namespace

TEST_CASE("the plan reader hands on each job with its fields") {
  const plan_read r = read_all(R"({"jobs": [{"model": "gen4_turbo", "seconds": 10, "count": 200},
      {"count": 2, "model": "upscale_v1", "seconds": "12.5"},
      {"model": "veo3.1", "seconds": 8, "audio": true},
      {"model": "gen4_image", "resolution": "1080p", "outputs": 4},
      {"model": "eleven_multilingual_v2", "text_file": "speech.txt"},
      {"model": "eleven_multilingual_v2", "text": "Hi."}]})");
  REQUIRE_FALSE(r.problem);
  REQUIRE(r.jobs.size() == 6);
  CHECK(r.jobs[0].job.model == "gen4_turbo");
  CHECK(r.jobs[0].count == 200);
  CHECK(r.jobs[0].job.usage.seconds->count() == 10'000);
  CHECK(r.jobs[1].job.usage.seconds->count() == 12'500);
  CHECK(r.jobs[2].job.usage.audio);
  CHECK(*r.jobs[3].job.usage.resolution == "1080p");
  CHECK(r.jobs[3].job.usage.outputs->value == 4);
  CHECK(*r.jobs[4].text_file == "speech.txt");
  CHECK(*r.jobs[5].job.usage.text == "Hi.");
  CHECK(r.jobs[5].count == 1);
}

TEST_CASE("the plan reader refuses what the document checks refused, by path") {
  CHECK(problem(R"({"jobs": [{"model": "m", "count": 2, "count": 3}]})") == "jobs[0].count: repeated key");
  CHECK(problem(R"({"jobs": [], "jobs": []})") == "jobs: expected a non-empty array");
  CHECK(problem(R"({"jobs": [{"model": "m"}], "jobs": []})") == "jobs: repeated key");
  CHECK(problem(R"({"jobs": [{"model": "m"}], "extra": 1})") ==
        "extra: unknown field; a plan has \"jobs\" and \"generation_seconds\"");
  CHECK(problem(R"([1])") == "expected an object {\"jobs\": [...]}");
  CHECK(problem(R"({})") == "expected an object {\"jobs\": [...]}");
  CHECK(problem(R"({"jobs": 5})") == "jobs: expected a non-empty array");
  CHECK(problem(R"({"jobs": [{"model": "m"}, 7]})") == "jobs[1]: expected an object");
  CHECK(problem(R"({"jobs": [{"seconds": 5}]})") == "jobs[0].model: is missing");
  CHECK(problem(R"({"jobs": [{"model": ""}]})") == "jobs[0].model: must not be empty");
  CHECK(problem(R"({"jobs": [{"model": 5}]})") == "jobs[0].model: expected a string");
  CHECK(problem(R"({"jobs": [{"model": "m", "seconds": 2.5}]})") ==
        "jobs[0].seconds: floating-point numbers are refused; write \"2.5\" as a string");
  // An integer beyond 64 bits is too large, not "floating-point".
  CHECK(problem(R"({"jobs": [{"model": "m", "seconds": 12345678901234567890123}]})") ==
        "jobs[0].seconds: is too large");
  CHECK(problem(R"({"jobs": [{"model": "m", "count": 18446744073709551615}]})") == "jobs[0].count: is too large");
  CHECK(problem(R"({"jobs": [{"model": "m", "seconds": 9223372036854775807}]})") == "jobs[0].seconds: is too large");
  CHECK(problem(R"({"jobs": [{"model": "m", "count": 0}]})") == "jobs[0].count: must be at least 1, got 0");
  CHECK(problem(R"({"jobs": [{"model": "m", "outputs": [1]}]})") == "jobs[0].outputs: expected a whole number");
  CHECK(problem(R"({"jobs": [{"model": "m", "audio": "yes"}]})") == "jobs[0].audio: expected true or false");
  CHECK(problem(R"({"jobs": [{"model": "m", "text_file": ""}]})") ==
        "jobs[0].text_file: expected a file name, got an empty string");
  CHECK(problem(R"({"jobs": [{"model": "m", "text": "a", "text_file": "f"}]})") ==
        "jobs[0].text_file: give either text or text_file, not both");
  CHECK(problem(R"({"jobs": [{"model": "m", "seconds": "012"}]})") ==
        "jobs[0].seconds: seconds '012' has a leading zero (not octal: write plain decimal digits); "
        "expected seconds such as 10 or 2.5 (at most 3 decimal places)");
  CHECK_THAT(problem(R"({"jobs": [{"model": "m", "colour": 1}]})"),
             StartsWith("jobs[0].colour: unknown field; a job has model, seconds"));
  CHECK(problem(R"({"jobs": [{"model": "m", "seconds": 1e400}]})") ==
        "jobs[0].seconds: number overflow parsing '1e400'");
  CHECK_THAT(problem("{\"jobs\": [\n{\"model\": \"m\"},,]}"), StartsWith("parse error at line 2, column"));
  CHECK(read_all("{\"jobs\": [{\"model\": \"m\"}]}\0junk"s).problem->reason ==
        "a NUL byte at offset 26; JSON text holds none (write \\u0000 in a string)");
}

TEST_CASE("the plan reader stops at the first problem a job's handler returns") {
  std::size_t seen = 0;
  const auto p = ex::read_plan(R"({"jobs": [{"model": "a"}, {"model": "b"}, {"model": "c"}]})",
                               [&](std::size_t i, ex::plan_job&) -> std::optional<ex::plan_problem> {
                                 ++seen;
                                 if (i == 1) return ex::plan_problem{"jobs[1]", "unknown model 'b'"};
                                 return std::nullopt;
                               });
  REQUIRE(p);
  CHECK(p->path == "jobs[1]");
  CHECK(seen == 2);
}

namespace {

std::optional<ex::plan_problem> read_options(std::string_view text, ex::plan_options& o) {
  return ex::read_plan(text, [](std::size_t, ex::plan_job&) -> std::optional<ex::plan_problem> { return std::nullopt; },
                       &o);
}

}  // namespace

TEST_CASE("the plan reader takes generation times per model, before or after the jobs") {
  ex::plan_options before, after;
  REQUIRE_FALSE(read_options(R"({"generation_seconds": {"gen4_turbo": 45, "veo3.1": "90.5"}, "jobs": [{"model": "m"}]})",
                             before));
  CHECK(before.generation.size() == 2);
  CHECK(before.generation.at("gen4_turbo") == tollgate::media_duration{45'000});
  CHECK(before.generation.at("veo3.1") == tollgate::media_duration{90'500});
  REQUIRE_FALSE(read_options(R"({"jobs": [{"model": "m"}], "generation_seconds": {"x": "0.001", "y": 86400}})", after));
  CHECK(after.generation.at("x") == tollgate::media_duration{1});
  CHECK(after.generation.at("y") == tollgate::media_duration{86'400'000});
  // Without a place to put them they are still checked.
  CHECK(problem(R"({"jobs": [{"model": "m"}], "generation_seconds": {"a": 0}})") ==
        "generation_seconds.a: must be from 0.001 to 86400 seconds (a day), got 0");
}

TEST_CASE("the plan reader refuses a bad generation time by its path") {
  const std::string range = "must be from 0.001 to 86400 seconds (a day), got ";
  const auto with = [](std::string_view times) {
    return problem(fmt::format(R"({{"jobs": [{{"model": "m"}}], "generation_seconds": {}}})", times));
  };
  CHECK(with(R"({"a": 86401})") == "generation_seconds.a: " + range + "86401");
  CHECK(with(R"({"a": "86400.001"})") == "generation_seconds.a: " + range + "86400.001");
  CHECK(with(R"({"a": -1})") == "generation_seconds.a: " + range + "-1");
  CHECK(with(R"({"a": "0.000"})") == "generation_seconds.a: " + range + "0.000");
  CHECK(with(R"({"a": 2.5})") ==
        "generation_seconds.a: floating-point numbers are refused; write \"2.5\" as a string");
  CHECK(with(R"({"a": "1e3"})") ==
        "generation_seconds.a: seconds '1e3' has a character that is not a decimal digit; "
        "expected seconds such as 10 or 2.5 (at most 3 decimal places)");
  CHECK(with(R"({"a": 99999999999999999999999})") == "generation_seconds.a: is too large");
  CHECK(with(R"({"a": 18446744073709551615})") == "generation_seconds.a: is too large");
  CHECK(with(R"({"a": 1, "a": 2})") == "generation_seconds.a: repeated key");
  CHECK(with(R"({"": 1})") == "generation_seconds: a model id must not be empty");
  for (const char* v : {"null", "true", "{}", "[]", "[1]"}) {
    INFO(v);
    CHECK(with(fmt::format(R"({{"a": {}}})", v)) ==
          "generation_seconds.a: expected seconds: a whole number or a decimal string such as \"2.5\"");
  }
  for (const char* v : {"5", "[1]", "\"x\"", "null"}) {
    INFO(v);
    CHECK(with(v) == "generation_seconds: expected an object of generation times, {\"MODEL\": SECONDS, ...}");
  }
  CHECK(problem(R"({"generation_seconds": {}, "jobs": [{"model": "m"}], "generation_seconds": {}})") ==
        "generation_seconds: repeated key");
  CHECK(problem(R"({"generation_seconds": {"a": 1}})") == "expected an object {\"jobs\": [...]}");
}
