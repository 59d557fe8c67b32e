// The small helpers of tollgate-server's API layer (examples/server/api.hpp,
// requests.hpp, http.hpp): secrets compared in full, paths split and
// escaped, dates, keys, the simulated media probe, JSON numbers of credits.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "api.hpp"
#include "requests.hpp"

using namespace tollgate_server;

TEST_CASE("server helpers: secrets compare equal only when identical") {
  using api_detail::same_secret;
  CHECK(same_secret("key_abcdef0123456789", "key_abcdef0123456789"));
  CHECK_FALSE(same_secret("key_abcdef0123456789", "key_abcdef012345678"));   // a prefix
  CHECK_FALSE(same_secret("key_abcdef012345678", "key_abcdef0123456789"));   // longer configured
  CHECK_FALSE(same_secret("key_abcdef0123456780", "key_abcdef0123456789"));  // last byte
  CHECK_FALSE(same_secret("", "key_abcdef0123456789"));
  CHECK_FALSE(same_secret(std::string("key\0x", 5), "key"));                 // a NUL does not end it
}

TEST_CASE("server helpers: paths are split, decoded, and logged printable") {
  using api_detail::segments;
  CHECK(*segments("/v1/tasks/abc") == std::vector<std::string>{"v1", "tasks", "abc"});
  CHECK(*segments("/v1/tasks/abc/") == std::vector<std::string>{"v1", "tasks", "abc"});
  CHECK(*segments("/v1/tasks/a%2Db?x=1") == std::vector<std::string>{"v1", "tasks", "a-b"});
  CHECK(*segments("/") == std::vector<std::string>{""});
  CHECK_FALSE(segments("/v1/tasks/a%2Fb"));  // an escaped slash is refused, not a new segment
  CHECK_FALSE(segments("/v1/tasks/a%00"));
  CHECK_FALSE(segments("/v1/tasks/%4"));
  CHECK_FALSE(segments("/v1/tasks/%zz"));
  CHECK_FALSE(segments("v1/tasks"));
  CHECK(*segments("/a//b") == std::vector<std::string>{"a", "", "b"});
  CHECK(*segments("/v1/tasks/%41%42") == std::vector<std::string>{"v1", "tasks", "AB"});
  CHECK(*segments("/v1/tasks/" + std::string(300, 'x')) == std::vector<std::string>{"v1", "tasks", std::string(300, 'x')});
  CHECK_FALSE(segments("/v1/%"));
  CHECK_FALSE(segments("/v1/%4/x"));  // a short escape before a slash
  CHECK_FALSE(segments(""));
  CHECK(detail::printable_path("/v1/x y\n\x01\xff?key=secret") == "/v1/x%20y%0A%01%FF");
}

TEST_CASE("server helpers: usage dates, keys, bearer tokens") {
  CHECK(api_detail::parse_day("2026-01-31") == std::chrono::sys_days(std::chrono::year(2026) / 1 / 31));
  for (const char* bad : {"2026-02-30", "2026-1-31", "2026-01-31T00", "20260131", "", "2026-13-01", "2026-01-0a"})
    CHECK_FALSE(api_detail::parse_day(bad));
  CHECK(api_detail::valid_key("order-7"));
  CHECK_FALSE(api_detail::valid_key(""));
  CHECK_FALSE(api_detail::valid_key("has space"));
  CHECK_FALSE(api_detail::valid_key(std::string(49, 'k')));
  CHECK_FALSE(api_detail::valid_key("caf\xc3\xa9"));
  request req{http::verb::get, "/", 11};
  CHECK(api_detail::bearer(req).empty());
  req.set(http::field::authorization, "bearer   key_x  ");
  CHECK(api_detail::bearer(req) == "key_x");
  req.set(http::field::authorization, "Basic a2V5");
  CHECK(api_detail::bearer(req).empty());
}

TEST_CASE("server helpers: the simulated probe reads duration= or assumes the default") {
  const auto probe = simulated_probe(10'000);
  CHECK(probe("https://x/a.mp3?duration=12.5").count() == 12'500);
  CHECK(probe("https://x/a.mp3?x=1&duration=7#t").count() == 7'000);
  CHECK(probe("https://x/a.mp3#duration=0.001").count() == 1);
  CHECK(probe("https://x/a.mp3").count() == 10'000);
  CHECK(probe("https://x/a.mp3?myduration=3").count() == 10'000);       // not the parameter
  CHECK(probe("https://x/a.mp3?duration=1.2345").count() == 10'000);    // too precise: ignored
  CHECK(probe("https://x/a.mp3?duration=-3").count() == 10'000);
  CHECK(probe("https://x/a.mp3?duration=99999999999999999999").count() == 10'000);  // no overflow
  CHECK(probe("data:audio/mp3;base64,duration=5").count() == 10'000);
}

TEST_CASE("server helpers: credits as JSON numbers, times as ISO-8601") {
  CHECK(api_detail::credits_json(tollgate::credits(50)).dump() == "50");
  CHECK(api_detail::credits_json(*tollgate::credits::parse("12.5")).dump() == "12.5");
  CHECK(api_detail::credits_json(tollgate::credits(0)).dump() == "0");
  const wall_time t = std::chrono::sys_days(std::chrono::year(2026) / 1 / 5) + std::chrono::milliseconds(1234);
  CHECK(api_detail::iso_time(t) == "2026-01-05T00:00:01.234Z");
  const wall_time late = std::chrono::sys_days(std::chrono::year(2099) / 12 / 31) + std::chrono::hours(23) +
                         std::chrono::minutes(59) + std::chrono::milliseconds(59'999);
  CHECK(api_detail::iso_time(late) == "2099-12-31T23:59:59.999Z");
}

TEST_CASE("server helpers: JSON written directly reads back as nlohmann writes it") {
  const auto json_string = [](std::string_view s) {
    std::string out;
    api_detail::append_json_string(out, s);
    return out;
  };
  const auto reference = [](std::string_view s) {
    return ojson(std::string(s)).dump(-1, ' ', false, ojson::error_handler_t::replace);
  };
  for (const std::string_view s : {std::string_view("6d4b1a8e-0000-4000-8000-000000000001"), std::string_view(""),
                                   std::string_view("say \"hi\""), std::string_view("back\\slash"),
                                   std::string_view("tab\tnew\nline"), std::string_view("nul\0in", 6),
                                   std::string_view("caf\xc3\xa9"), std::string_view("bad \xff utf-8"),
                                   std::string_view("\x7f")})
    CHECK(json_string(s) == reference(s));
  const auto credits = [](const tollgate::credits& c) {
    std::string out;
    api_detail::append_credits(out, c);
    return out;
  };
  for (const char* c : {"0", "8", "25", "-7", "12.5", "0.000001", "999999999999999999", "1000000000000000000",
                        "-999999999999999999", "-99999999999999999", "123456789012345678901234567.5"}) {
    const auto amount = *tollgate::credits::parse(c);
    CHECK(credits(amount) == api_detail::credits_json(amount).dump());
  }
}

TEST_CASE("server helpers: prompts are counted in UTF-16 code units, images sized by ratio") {
  using requests_detail::utf16_units;
  CHECK(utf16_units("abc") == 3);
  CHECK(utf16_units("\xc3\xa9") == 1);           // é
  CHECK(utf16_units("\xe2\x82\xac") == 1);       // €
  CHECK(utf16_units("\xf0\x9f\x98\x80") == 2);   // an emoji is a surrogate pair
  CHECK(requests_detail::image_resolution("1280:720") == "720p");
  CHECK(requests_detail::image_resolution("720:960") == "720p");
  CHECK(requests_detail::image_resolution("1360:768") == "1080p");
  CHECK(requests_detail::image_resolution("1024:1024") == "1080p");
}
