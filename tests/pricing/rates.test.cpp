// Rate policies: per_second, per_generation, per_characters, per_block, flat,
// their compositions, any_rate, and the breakdown they write.
#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <tollgate/pricing/rates.hpp>

using namespace tollgate;
using Catch::Matchers::Contains;

namespace {

usage seconds(std::int64_t ms) {
  usage u;
  u.seconds = media_duration{ms};
  return u;
}

usage text(std::string t) {
  usage u;
  u.text = std::move(t);
  return u;
}

credits cr(std::string_view s) { return credits::parse(s).value(); }

template <class T>
std::string message_of(const result<T>& r) {
  REQUIRE_FALSE(r);
  return r.error().message();
}

// A user-defined rate with nothing but cost(): 3 credits per output.
struct three_per_output {
  [[nodiscard]] result<credits> cost(const usage& u) const {
    return credits{3} * (u.outputs ? u.outputs->value : 1);
  }
};

}  // namespace

TEST_CASE("per_second bills whole seconds, rounding a fraction up") {
  const per_second r{credits{5}};
  SECTION("whole seconds") {
    CHECK(r.cost(seconds(10'000)).value() == credits{50});
    CHECK(r.cost(seconds(1'000)).value() == credits{5});
  }
  SECTION("a fraction of a second bills a whole one") {
    CHECK(r.cost(seconds(10'001)).value() == credits{55});
    CHECK(r.cost(seconds(10'999)).value() == credits{55});
    CHECK(r.cost(seconds(1)).value() == credits{5});
  }
  SECTION("a fractional price stays exact") {
    CHECK(per_second{cr("0.5")}.cost(seconds(3'000)).value() == cr("1.5"));
    CHECK(per_second{cr("0.000001")}.cost(seconds(7'000)).value() == cr("0.000007"));
  }
  SECTION("the breakdown line") {
    breakdown b;
    REQUIRE(r.itemize(seconds(10'200), &b).value() == credits{55});
    REQUIRE(b.size() == 1);
    const line& l = b[0];
    CHECK(l.item == "seconds");
    CHECK(l.variant.empty());
    CHECK(l.unit == quantity_unit::milliseconds);
    CHECK(l.used == 10'200);
    CHECK(l.block == 1'000);
    CHECK(l.blocks == 11);
    CHECK(l.price == credits{5});
    CHECK(l.amount == credits{55});
  }
  SECTION("describes itself") { CHECK(r.describe() == "5 credits per second"); }
  SECTION("reads seconds only") { CHECK(r.fields() == usage_fields::seconds); }
}

TEST_CASE("per_second refuses missing, zero and negative seconds") {
  const per_second r{credits{5}};
  SECTION("missing") {
    CHECK(r.cost(usage{}).code() == errc::invalid_usage);
    CHECK_THAT(message_of(r.cost(usage{})), Contains("needs 'seconds'"));
  }
  SECTION("zero") {
    CHECK(r.cost(seconds(0)).code() == errc::invalid_usage);
    CHECK_THAT(message_of(r.cost(seconds(0))), Contains("must be positive, got 0"));
  }
  SECTION("negative") {
    CHECK_THAT(message_of(r.cost(seconds(-1'500))), Contains("got -1.5"));
  }
}

TEST_CASE("per_second with an audio price") {
  const per_second r{credits{20}, credits{40}};
  usage u = seconds(8'000);
  SECTION("without audio: the base price") { CHECK(r.cost(u).value() == credits{160}); }
  SECTION("with audio: the audio price instead") {
    u.audio = true;
    breakdown b;
    CHECK(r.itemize(u, &b).value() == credits{320});
    CHECK(b[0].variant == "with audio");
    CHECK(b[0].price == credits{40});
  }
  SECTION("reads seconds and audio") {
    CHECK(r.fields() == (usage_fields::seconds | usage_fields::audio));
    CHECK(r.describe() == "20 credits per second (40 with audio)");
    CHECK(r.with_audio() == credits{40});
  }
  SECTION("a rate without an audio price ignores the switch") {
    u.audio = true;
    CHECK(per_second{credits{5}}.cost(u).value() == credits{40});
  }
}

TEST_CASE("per_generation prices each output, optionally by resolution") {
  SECTION("one price: outputs default to 1") {
    const per_generation r{credits{2}};
    CHECK(r.cost(usage{}).value() == credits{2});
    usage u;
    u.outputs = count{4};
    CHECK(r.cost(u).value() == credits{8});
    CHECK(r.fields() == usage_fields::outputs);
    CHECK(r.resolutions().empty());
  }
  SECTION("by resolution") {
    const per_generation r{std::vector<resolution_price>{{"720p", credits{5}}, {"1080p", credits{8}}}};
    usage u;
    u.resolution = "720p";
    CHECK(r.cost(u).value() == credits{5});
    u.resolution = "1080p";
    u.outputs = count{4};
    breakdown b;
    CHECK(r.itemize(u, &b).value() == credits{32});
    CHECK(b[0].item == "outputs");
    CHECK(b[0].variant == "1080p");
    CHECK(b[0].blocks == 4);
    CHECK(r.resolutions() == std::vector<std::string_view>{"720p", "1080p"});
    CHECK(r.describe() == "5 credits per output at 720p, 8 credits per output at 1080p");
  }
}

TEST_CASE("per_generation refuses bad outputs and resolutions") {
  const per_generation r{std::vector<resolution_price>{{"720p", credits{5}}, {"1080p", credits{8}}}};
  usage u;
  u.resolution = "720p";
  SECTION("outputs < 1") {
    u.outputs = count{0};
    CHECK_THAT(message_of(r.cost(u)), Contains("'outputs' must be at least 1, got 0"));
    u.outputs = count{-3};
    CHECK(r.cost(u).code() == errc::invalid_usage);
  }
  SECTION("no resolution") {
    u.resolution.reset();
    CHECK_THAT(message_of(r.cost(u)), Contains("needs 'resolution' (one of 720p, 1080p)"));
  }
  SECTION("unknown resolution") {
    u.resolution = "4k";
    CHECK_THAT(message_of(r.cost(u)), Contains("must be one of 720p, 1080p, got '4k'"));
  }
  SECTION("bad configuration throws") {
    CHECK_THROWS_AS(per_generation{std::vector<resolution_price>{}}, std::invalid_argument);
    CHECK_THROWS_AS((per_generation{std::vector<resolution_price>{{"720p", credits{1}}, {"720p", credits{2}}}}),
                    std::invalid_argument);
    CHECK_THROWS_AS((per_generation{std::vector<resolution_price>{{"", credits{1}}}}), std::invalid_argument);
  }
}

TEST_CASE("per_characters prices blocks of characters, rounded up") {
  const per_characters r{credits{1}, 50};
  const auto cost = [&](std::size_t n) { return r.cost(text(std::string(n, 'a'))); };
  CHECK(cost(1).value() == credits{1});
  CHECK(cost(50).value() == credits{1});
  CHECK(cost(51).value() == credits{2});
  CHECK(cost(100).value() == credits{2});
  CHECK(cost(101).value() == credits{3});
  CHECK(cost(10'000).value() == credits{200});
  SECTION("the breakdown line") {
    breakdown b;
    REQUIRE(r.itemize(text(std::string(120, 'x')), &b));
    CHECK(b[0].unit == quantity_unit::characters);
    CHECK(b[0].used == 120);
    CHECK(b[0].block == 50);
    CHECK(b[0].blocks == 3);
    CHECK(r.describe() == "1 credit per 50 characters");
  }
  SECTION("empty or missing text") {
    CHECK_THAT(message_of(r.cost(text(""))), Contains("'text' is empty"));
    CHECK_THAT(message_of(r.cost(usage{})), Contains("needs 'text'"));
  }
  SECTION("bad configuration throws") {
    CHECK_THROWS_AS((per_characters{credits{1}, 0}), std::invalid_argument);
  }
}

TEST_CASE("per_characters counts Unicode code points, not bytes") {
  const per_characters r{credits{1}, 1};  // one credit per character: cost == count
  const auto chars = [&](const std::string& t) { return r.cost(text(t)).value(); };
  SECTION("two-byte") { CHECK(chars("\xC3\xA9t\xC3\xA9") == credits{3}); }          // "été"
  SECTION("three-byte") { CHECK(chars("\xE6\x97\xA5\xE6\x9C\xAC") == credits{2}); }  // "日本"
  SECTION("four-byte") { CHECK(chars("\xF0\x9F\x8E\xAC!") == credits{2}); }          // clapper board
  SECTION("a combining mark is its own code point") { CHECK(chars("e\xCC\x81") == credits{2}); }
  SECTION("the largest code point, U+10FFFF") { CHECK(chars("\xF4\x8F\xBF\xBF") == credits{1}); }
  SECTION("a byte-order mark counts") { CHECK(chars("\xEF\xBB\xBFhi") == credits{3}); }
  SECTION("NUL is a character") { CHECK(chars(std::string("a\0b", 3)) == credits{3}); }
  SECTION("fifty two-byte characters are one block of 50") {
    std::string t;
    for (int i = 0; i < 50; ++i) t += "\xC3\xA9";
    CHECK(per_characters{credits{1}, 50}.cost(text(t)).value() == credits{1});
  }
}

TEST_CASE("per_characters refuses invalid UTF-8, naming the byte offset") {
  const per_characters r{credits{1}, 50};
  const auto check = [&](const std::string& t, std::size_t offset) {
    const auto c = r.cost(text(t));
    CHECK(c.code() == errc::invalid_utf8);
    CHECK_THAT(message_of(c), Contains(fmt::format("at byte {}", offset)));
  };
  SECTION("overlong encoding") { check("ab\xC0\xAF", 2); }
  SECTION("overlong three-byte") { check("\xE0\x80\xAF", 0); }
  SECTION("UTF-16 surrogate") { check("ok\xED\xA0\x80", 2); }
  SECTION("truncated sequence at the end") { check("abc\xE2\x82", 3); }
  SECTION("truncated sequence before ASCII") { check("\xE2\x82z", 0); }
  SECTION("byte above F4") { check("x\xF5\x80\x80\x80", 1); }
  SECTION("code point above U+10FFFF") { check("\xF4\x90\x80\x80", 0); }
  SECTION("stray continuation byte") { check("hello\x80", 5); }
  SECTION("FF") { check("\xFF", 0); }
}

TEST_CASE("per_block prices blocks of seconds, rounded up") {
  const per_block r{credits{1}, media_duration{6'000}};
  CHECK(r.cost(seconds(1)).value() == credits{1});
  CHECK(r.cost(seconds(6'000)).value() == credits{1});
  CHECK(r.cost(seconds(6'001)).value() == credits{2});
  CHECK(r.cost(seconds(12'000)).value() == credits{2});
  CHECK(r.cost(seconds(3'600'000)).value() == credits{600});
  CHECK(r.describe() == "1 credit per 6 seconds");
  breakdown b;
  REQUIRE(r.itemize(seconds(7'500), &b));
  CHECK(b[0].block == 6'000);
  CHECK(b[0].blocks == 2);
  CHECK(block_text(b[0]) == "6 s");
  SECTION("zero, negative and missing seconds") {
    CHECK(r.cost(seconds(0)).code() == errc::invalid_usage);
    CHECK(r.cost(seconds(-6'000)).code() == errc::invalid_usage);
    CHECK(r.cost(usage{}).code() == errc::invalid_usage);
  }
  SECTION("bad configuration throws") {
    CHECK_THROWS_AS((per_block{credits{1}, media_duration{0}}), std::invalid_argument);
  }
}

TEST_CASE("flat costs the same whatever the usage") {
  const flat r{credits{7}};
  CHECK(r.cost(usage{}).value() == credits{7});
  CHECK(r.cost(seconds(99'000)).value() == credits{7});
  CHECK(r.fields() == usage_fields::none);
  CHECK(r.describe() == "7 credits per job");
}

TEST_CASE("rates refuse negative prices at construction") {
  CHECK_THROWS_AS(per_second{credits{-1}}, std::invalid_argument);
  CHECK_THROWS_AS((per_second{credits{1}, credits{-1}}), std::invalid_argument);
  CHECK_THROWS_AS(per_generation{credits{-1}}, std::invalid_argument);
  CHECK_THROWS_AS((per_characters{credits{-1}, 50}), std::invalid_argument);
  CHECK_THROWS_AS((per_block{credits{-1}, media_duration{1'000}}), std::invalid_argument);
  CHECK_THROWS_AS(flat{credits{-1}}, std::invalid_argument);
  CHECK_NOTHROW(flat{credits{0}});
}

TEST_CASE("sum_of adds its parts") {
  const sum_of r{per_second{credits{5}}, flat{credits{10}}};
  breakdown b;
  CHECK(r.itemize(seconds(4'000), &b).value() == credits{30});
  REQUIRE(b.size() == 2);
  CHECK(b[0].amount == credits{20});
  CHECK(b[1].item == "flat fee");
  CHECK(b.total() == credits{30});
  CHECK(r.describe() == "5 credits per second + 10 credits per job");
  CHECK(r.fields() == usage_fields::seconds);
  SECTION("a failing part fails the sum") {
    CHECK(r.cost(usage{}).code() == errc::invalid_usage);
  }
}

TEST_CASE("min_of picks the least, max_of the greatest (a minimum charge)") {
  const min_of cap{per_second{credits{5}}, flat{credits{40}}};
  const max_of floor{per_second{credits{5}}, flat{credits{20}}};
  SECTION("min_of caps") {
    CHECK(cap.cost(seconds(4'000)).value() == credits{20});
    breakdown b;
    CHECK(cap.itemize(seconds(10'000), &b).value() == credits{40});
    REQUIRE(b.size() == 1);  // only the chosen rate's lines
    CHECK(b[0].item == "flat fee");
  }
  SECTION("max_of sets a minimum charge") {
    CHECK(floor.cost(seconds(2'000)).value() == credits{20});
    CHECK(floor.cost(seconds(10'000)).value() == credits{50});
    breakdown b;
    REQUIRE(floor.itemize(seconds(10'000), &b));
    REQUIRE(b.size() == 1);
    CHECK(b[0].item == "seconds");
  }
  SECTION("ties keep the first") {
    const min_of tie{flat{credits{5}}, per_second{credits{5}}};
    breakdown b;
    REQUIRE(tie.itemize(seconds(1'000), &b));
    CHECK(b[0].item == "flat fee");
  }
  SECTION("any failing part fails") { CHECK(cap.cost(usage{}).code() == errc::invalid_usage); }
  SECTION("describe") {
    CHECK(floor.describe() == "the greatest of (5 credits per second; 20 credits per job)");
  }
}

TEST_CASE("overflow while pricing is errc::overflow, never a crash") {
  SECTION("a price times seconds") {
    const per_second r{credits::max()};
    CHECK(r.cost(seconds(1'000)).value() == credits::max());
    CHECK(r.cost(seconds(2'000)).code() == errc::overflow);
  }
  SECTION("past int64 but within 128 bits stays exact") {
    const per_second r{credits{10'000'000'000'000}};  // 1e19 micro-credits a second
    CHECK(r.cost(seconds(3'000)).value() == credits{30'000'000'000'000});
  }
  SECTION("a sum") {
    const sum_of r{flat{credits::max()}, flat{credits{1}}};
    CHECK(r.cost(usage{}).code() == errc::overflow);
  }
  SECTION("the largest durations and counts") {
    CHECK(per_second{credits{1}}.cost(seconds(INT64_MAX)).value() ==
          credits{INT64_MAX / 1000 + 1});
    usage u;
    u.outputs = count{INT64_MAX};
    CHECK(per_generation{credits{1'000'000}}.cost(u).value() ==
          credits{INT64_MAX} * 1'000'000);
  }
}

TEST_CASE("any_rate wraps any Rate and forwards what it offers") {
  SECTION("a built-in rate") {
    const any_rate r = per_second{credits{5}};
    CHECK(r.cost(seconds(2'000)).value() == credits{10});
    CHECK(r.fields() == usage_fields::seconds);
    CHECK(r.describe() == "5 credits per second");
    REQUIRE(r.target<per_second>() != nullptr);
    CHECK(r.target<per_second>()->price() == credits{5});
    CHECK(r.target<flat>() == nullptr);
  }
  SECTION("a user-defined rate with only cost()") {
    const any_rate r = three_per_output{};
    usage u;
    u.outputs = count{2};
    breakdown b;
    CHECK(r.itemize(u, &b).value() == credits{6});
    REQUIRE(b.size() == 1);
    CHECK(b[0].item == "rate");
    CHECK(b[0].amount == credits{6});
    CHECK(r.fields() == usage_fields::unknown);
    CHECK(r.describe() == "custom rate");
  }
  SECTION("empty") {
    const any_rate r;
    CHECK(r.empty());
    CHECK(r.cost(usage{}).code() == errc::invalid_argument);
  }
  SECTION("copies share one rate") {
    const any_rate a = per_generation{credits{2}};
    const any_rate b = a;  // NOLINT(performance-unnecessary-copy-initialization)
    CHECK(a.target<per_generation>() == b.target<per_generation>());
  }
  SECTION("a copy outlives the original and prices through the int64 path") {
    std::optional<any_rate> a(std::in_place, per_second{credits{5}});
    const any_rate b = *a;
    a.reset();
    std::int64_t raw = 0;
    breakdown lines;
    REQUIRE(b.itemize_raw(seconds(2'000), &lines, raw));
    CHECK(raw == 10'000'000);
    CHECK(lines.size() == 1);
  }
  SECTION("a moved-from rate is empty, also for the int64 path") {
    any_rate a = per_block{credits{1}, media_duration{6'000}};
    any_rate b = std::move(a);
    std::int64_t raw = -42;
    CHECK(a.empty());  // NOLINT(bugprone-use-after-move): what a move leaves is specified
    CHECK_FALSE(a.itemize_raw(seconds(6'000), nullptr, raw));
    CHECK(raw == -42);
    REQUIRE(b.itemize_raw(seconds(6'001), nullptr, raw));
    CHECK(raw == 2'000'000);
    any_rate c;
    c = std::move(b);
    CHECK(b.empty());  // NOLINT(bugprone-use-after-move)
    CHECK(c.itemize_raw(seconds(1), nullptr, raw));
  }
  SECTION("composites of any_rate") {
    const any_rate r = sum_of<any_rate, any_rate>(per_second{credits{1}}, flat{credits{2}});
    CHECK(r.cost(seconds(3'000)).value() == credits{5});
  }
}

TEST_CASE("a breakdown keeps four lines and folds the rest into 'other charges'") {
  const sum_of r{flat{credits{1}}, flat{credits{2}}, flat{credits{3}}, flat{credits{4}},
                 flat{credits{5}}, flat{credits{6}}};
  breakdown b;
  CHECK(r.itemize(usage{}, &b).value() == credits{21});
  REQUIRE(b.size() == breakdown::capacity);
  CHECK(b[2].amount == credits{3});
  CHECK(b[3].item == "other charges");
  CHECK(b[3].amount == credits{15});
  CHECK(b.total() == credits{21});
  SECTION("copies and assignment copy the lines") {
    breakdown c = b;
    CHECK(c.size() == 4);
    CHECK(c[3].amount == credits{15});
    breakdown d;
    d = c;
    CHECK(std::equal(d.begin(), d.end(), b.begin(), b.end()));
    d.clear();
    CHECK(d.empty());
  }
}

TEST_CASE("quantities read as a person writes them") {
  CHECK(format_seconds(media_duration{10'000}) == "10");
  CHECK(format_seconds(media_duration{10'500}) == "10.5");
  CHECK(format_seconds(media_duration{1}) == "0.001");
  CHECK(format_seconds(media_duration{-1'500}) == "-1.5");
  CHECK(format_seconds(media_duration{-1}) == "-0.001");
  CHECK(format_seconds(media_duration{INT64_MIN}) == "-9223372036854775.808");
  CHECK(quantity_text(quantity_unit::milliseconds, 2'250) == "2.25 s");
  CHECK(quantity_text(quantity_unit::outputs, 1) == "1 output");
  CHECK(quantity_text(quantity_unit::outputs, 4) == "4 outputs");
  CHECK(quantity_text(quantity_unit::characters, 31) == "31 characters");
  CHECK(quantity_text(quantity_unit::job, 1) == "1 job");
}

TEST_CASE("each rate's int64 fast path agrees with itemize(), or declines") {
  const std::vector<any_rate> rates = {
      per_second{credits{5}},
      per_second{credits::parse("0.3").value(), credits{40}},
      per_second{credits{10'000'000'000'000}},  // price beyond int64 micro-credits
      per_generation{credits{2}},
      per_generation{std::vector<resolution_price>{{"720p", credits{5}}, {"1080p", credits{8}}}},
      per_block{credits{1}, media_duration{6'000}},
      per_block{credits::max(), media_duration{1'000}},
      per_characters{credits{1}, 50},
      flat{credits{3}},
      sum_of{per_second{credits{1}}, flat{credits{1}}},
  };
  std::vector<usage> usages;
  for (std::int64_t ms : {std::int64_t{-1}, std::int64_t{0}, std::int64_t{1}, std::int64_t{999},
                          std::int64_t{10'200}, std::int64_t{9'000'000'000'000'000'000}})
    for (bool audio : {false, true}) {
      usage u;
      u.seconds = media_duration{ms};
      u.audio = audio;
      usages.push_back(u);
    }
  for (std::int64_t n : {std::int64_t{-1}, std::int64_t{0}, std::int64_t{1}, std::int64_t{4},
                         std::int64_t{4'000'000'000'000'000'000}})
    for (const char* r : {"", "720p", "1080p", "8k"}) {
      usage u;
      u.outputs = count{n};
      if (*r) u.resolution = r;
      usages.push_back(u);
    }
  usages.push_back(usage{});
  usages.push_back(text(std::string(120, 'a')));
  std::size_t fast = 0;
  for (std::size_t r = 0; r < rates.size(); ++r)
    for (std::size_t i = 0; i < usages.size(); ++i) {
      INFO("rate " << rates[r].describe() << ", usage " << i);
      breakdown raw_lines, lines;
      std::int64_t raw = -42;
      const bool took = rates[r].itemize_raw(usages[i], &raw_lines, raw);
      const auto general = rates[r].itemize(usages[i], &lines);
      if (!took) {
        CHECK(raw_lines.empty());  // declined: nothing written
        continue;
      }
      ++fast;
      REQUIRE(general);
      CHECK(*general == credits::from_raw(raw));
      CHECK(std::equal(raw_lines.begin(), raw_lines.end(), lines.begin(), lines.end()));
    }
  CHECK(fast > 10);
}
