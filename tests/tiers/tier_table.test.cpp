// The tier table: the default five tiers exactly as published, the JSON file
// agreeing with the compiled-in table, and bad tables refused with the JSON
// path of the field and the reason.
#include <catch2/catch.hpp>

#include <array>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <tollgate/json/tiers.hpp>
#include <tollgate/tiers/runway.hpp>
#include <tollgate/tiers/tier_table.hpp>

using namespace tollgate;
using Catch::Matchers::Contains;
using ojson = nlohmann::ordered_json;

namespace {

const std::string tiers_file = std::string(TOLLGATE_TEST_DATA_DIR) + "/runway-tiers.json";

ojson runway_doc() {
  const auto text = json::read_regular_file(tiers_file, json::max_tier_table_bytes);
  REQUIRE(text);
  return ojson::parse(*text);
}

std::string with(const std::function<void(ojson&)>& change) {
  ojson d = runway_doc();
  change(d);
  return d.dump();
}

json::tier_table_error refused(const std::string& text) {
  try {
    (void)json::parse_tier_table(text, "t.json");
  } catch (const json::tier_table_error& e) {
    return e;
  }
  FAIL("the table was accepted: " << text);
  return json::tier_table_error("", "", "");  // not reached
}

}  // namespace

TEST_CASE("the default table is the published one, cell by cell") {
  const tier_table& t = runway_tier_table();
  REQUIRE(t.groups() == std::vector<std::string>{"video", "image", "audio", "video_premium", "upscale"});
  REQUIRE(t.size() == 5);
  struct row {
    std::uint32_t id;
    const char* purchased;
    int days;
    const char* cap;
    std::array<std::uint64_t, 5> concurrent, daily;
  };
  const row rows[] = {
      {1, "0", 0, "100", {1, 2, 2, 1, 1}, {50, 200, 200, 50, 50}},
      {2, "50", 1, "500", {3, 3, 3, 3, 3}, {500, 1000, 1000, 500, 1000}},
      {3, "100", 7, "2000", {5, 5, 5, 5, 5}, {1000, 2000, 2000, 1000, 2000}},
      {4, "1000", 14, "20000", {10, 10, 10, 10, 10}, {5000, 10000, 10000, 5000, 10000}},
      {5, "5000", 30, "100000", {20, 20, 20, 20, 20}, {25000, 30000, 30000, 25000, 30000}},
  };
  for (std::size_t i = 0; i < 5; ++i) {
    const tier& x = t.at(i);
    INFO("tier " << rows[i].id);
    CHECK(x.id == tier_id{rows[i].id});
    CHECK(x.name == fmt::format("Tier {}", rows[i].id));
    CHECK(x.criteria.purchased == *usd::parse(rows[i].purchased));
    CHECK(x.criteria.min_age == std::chrono::days(rows[i].days));
    CHECK(x.max_spend == spend_cap(*usd::parse(rows[i].cap)));
    for (std::size_t g = 0; g < 5; ++g) {
      CHECK(t.limits(i, g).concurrent == job_limit(rows[i].concurrent[g]));
      CHECK(t.limits(i, g).daily == job_limit(rows[i].daily[g]));
    }
  }
  CHECK(t.at(0).criteria.none());
}

TEST_CASE("data/runway-tiers.json agrees with the compiled-in table") {
  const tier_table loaded = json::load_tier_table(tiers_file);
  CHECK(loaded == runway_tier_table());
  // And the comparison is not vacuous: one cell changed is a different table.
  const tier_table changed = json::parse_tier_table(
      with([](ojson& d) { d["tiers"][3]["limits"]["upscale"]["max_daily"] = 9999; }));
  CHECK_FALSE(changed == runway_tier_table());
}

TEST_CASE("lookups: groups by name, tiers by id, and where a recorded id stands") {
  const tier_table& t = runway_tier_table();
  CHECK(t.group_index("video_premium") == 3u);
  CHECK_FALSE(t.group_index("Video"));
  CHECK(t.index_of(tier_id{3}) == 2u);
  CHECK_FALSE(t.index_of(tier_id{6}));
  CHECK(t.floor_index(tier_id{1}) == 0);
  CHECK(t.floor_index(tier_id{5}) == 4);
  CHECK(t.floor_index(tier_id{9}) == 4);  // a record above the table: the top tier

  // A table whose ids skip: an account recorded at 2 stands at 3, never below.
  std::vector<tier> ts;
  for (std::uint32_t id : {1u, 3u, 5u}) {
    tier x{.id = tier_id{id}, .name = "x", .limits = {group_limits{}}};
    if (id > 1) x.criteria.purchased = usd(id);
    ts.push_back(x);
  }
  const tier_table skip({"g"}, ts);
  CHECK(skip.floor_index(tier_id{2}) == 1);
  CHECK(skip.floor_index(tier_id{4}) == 2);
}

TEST_CASE("null in JSON means unlimited, for counts and for the spend cap") {
  const tier_table t = json::parse_tier_table(with([](ojson& d) {
    d["tiers"][4]["limits"]["video"]["max_concurrent"] = nullptr;
    d["tiers"][4]["limits"]["video"]["max_daily"] = nullptr;
    d["tiers"][4]["max_spend_usd"] = nullptr;
  }));
  CHECK(t.limits(4, 0).concurrent.is_unlimited());
  CHECK(t.limits(4, 0).daily.is_unlimited());
  CHECK(t.at(4).max_spend.is_unlimited());
  CHECK(t.limits(4, 0).daily.allows(std::uint64_t(-1)));
  CHECK(to_string(t.limits(4, 0).daily) == "unlimited");
  CHECK(to_string(t.limits(4, 1).daily) == "30000");
  CHECK(to_string(t.at(3).max_spend) == "$20000.00");
}

TEST_CASE("a malformed tier table is refused with the field's path") {
  struct bad {
    std::function<void(ojson&)> change;
    std::string path;
    std::string says;
  };
  const bad cases[] = {
      {[](ojson& d) { d["version"] = 2; }, "version", "this build reads version 1"},
      {[](ojson& d) { d.erase("groups"); }, "groups", "is missing"},
      {[](ojson& d) { d["extra"] = 1; }, "extra", "unknown field"},
      {[](ojson& d) { d["groups"][1] = "Image"; }, "groups[1]", "a-z 0-9"},
      {[](ojson& d) { d["groups"][4] = "video"; }, "groups[4]", "repeats groups[0]"},
      {[](ojson& d) { d["groups"] = ojson::array(); }, "groups", "at least one group"},
      {[](ojson& d) { d["tiers"] = ojson::array(); }, "tiers", "at least one tier"},
      {[](ojson& d) { d["tiers"][1]["id"] = 1; }, "tiers[1].id", "greater than the tier below"},
      {[](ojson& d) { d["tiers"][0]["id"] = 0; }, "tiers[0].id", "at least 1"},
      {[](ojson& d) { d["tiers"][0]["id"] = 4294967296; }, "tiers[0].id", "at most 4294967295"},
      {[](ojson& d) { d["tiers"][0]["id"] = "1"; }, "tiers[0].id", "expected an integer"},
      {[](ojson& d) { d["tiers"][2]["name"] = ""; }, "tiers[2].name", "must not be empty"},
      {[](ojson& d) { d["tiers"][2]["name"] = "a\u0085b"; }, "tiers[2].name", "control characters"},
      {[](ojson& d) { d["tiers"][2]["criteria"]["purchased_usd"] = 1.5; },
       "tiers[2].criteria.purchased_usd", "decimal string"},
      {[](ojson& d) { d["tiers"][2]["criteria"]["purchased_usd"] = "1e3"; },
       "tiers[2].criteria.purchased_usd", "invalid USD amount"},
      {[](ojson& d) { d["tiers"][2]["criteria"]["purchased_usd"] = "-1"; },
       "tiers[2].criteria.purchased_usd", "must not be negative"},
      {[](ojson& d) { d["tiers"][2]["criteria"]["purchased_usd"] = "49.99"; },
       "tiers[2].criteria.purchased_usd", "less than the tier below ($50.00)"},
      {[](ojson& d) { d["tiers"][3]["criteria"]["min_days"] = 6; }, "tiers[3].criteria.min_days",
       "less than the tier below (7 days)"},
      {[](ojson& d) { d["tiers"][3]["criteria"]["min_days"] = -1; }, "tiers[3].criteria.min_days",
       "at least 0"},
      {[](ojson& d) { d["tiers"][3]["criteria"]["min_days"] = 36501; }, "tiers[3].criteria.min_days",
       "at most 36500"},
      {[](ojson& d) { d["tiers"][3]["criteria"]["age"] = 1; }, "tiers[3].criteria.age", "unknown field"},
      {[](ojson& d) { d["tiers"][0]["criteria"] = {{"purchased_usd", "1"}}; }, "tiers[0].criteria",
       "must ask for nothing"},
      {[](ojson& d) { d["tiers"][1].erase("max_spend_usd"); }, "tiers[1].max_spend_usd", "is missing"},
      {[](ojson& d) { d["tiers"][1]["max_spend_usd"] = "0"; }, "tiers[1].max_spend_usd", "must be positive"},
      {[](ojson& d) { d["tiers"][1]["limits"].erase("audio"); }, "tiers[1].limits.audio", "is missing"},
      {[](ojson& d) { d["tiers"][1]["limits"]["sound"] = d["tiers"][1]["limits"]["audio"]; },
       "tiers[1].limits.sound", "unknown group; the groups are video, image, audio"},
      {[](ojson& d) { d["tiers"][1]["limits"]["audio"]["max_daily"] = 0; },
       "tiers[1].limits.audio.max_daily", "at least 1"},
      {[](ojson& d) { d["tiers"][1]["limits"]["audio"]["max_concurrent"] = 0; },
       "tiers[1].limits.audio.max_concurrent", "at least 1"},
      {[](ojson& d) { d["tiers"][1]["limits"]["audio"]["max_concurrent"] = -3; },
       "tiers[1].limits.audio.max_concurrent", "at least 0"},
      {[](ojson& d) { d["tiers"][1]["limits"]["audio"].erase("max_daily"); },
       "tiers[1].limits.audio.max_daily", "is missing"},
      {[](ojson& d) { d["tiers"][1]["limits"]["audio"]["max_concurrent"] = 2.0; },
       "tiers[1].limits.audio.max_concurrent", "expected an integer"},
      {[](ojson& d) { d["tiers"][1]["limits"] = ojson::array(); }, "tiers[1].limits", "expected an object"},
  };
  for (const bad& c : cases) {
    const std::string text = with(c.change);
    INFO(text);
    const auto e = refused(text);
    CHECK(e.path() == c.path);
    CHECK_THAT(e.reason(), Contains(c.says));
    CHECK_THAT(std::string(e.what()), Contains("t.json: " + c.path));
  }
}

TEST_CASE("a tier table file that is not JSON, repeats a key or cannot be read is refused") {
  CHECK_THAT(refused("{").reason(), Contains("not valid JSON"));
  CHECK(refused("{").path().empty());
  const auto rep = refused(R"({"version": 1, "version": 1})");
  CHECK(rep.path() == "version");
  CHECK_THAT(rep.reason(), Contains("repeated key"));
  CHECK(refused(R"({"version": 1e400})").path() == "version");
  try {
    (void)json::load_tier_table("/nonexistent/tiers.json");
    FAIL("loaded");
  } catch (const json::tier_table_error& e) {
    CHECK(e.source() == "/nonexistent/tiers.json");
    CHECK_THAT(e.reason(), Contains("cannot open"));
  }
  try {
    (void)json::load_tier_table(TOLLGATE_TEST_DATA_DIR);
    FAIL("loaded a directory");
  } catch (const json::tier_table_error& e) {
    CHECK_THAT(e.reason(), Contains("directory"));
  }
}

TEST_CASE("a FIFO, a device or a file over the limit is refused at once, never read") {
  const std::string dir = std::string(TOLLGATE_TEST_BINARY_DIR) + "/tiers-files-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  const std::string fifo = dir + "/tiers.fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const auto reason = [](const std::string& file) {
    try {
      (void)json::load_tier_table(file);
    } catch (const json::tier_table_error& e) {
      CHECK(e.source() == file);
      return e.reason();
    }
    FAIL("loaded " << file);
    return std::string();
  };
  CHECK_THAT(reason(fifo), Contains("a FIFO, not a regular file"));  // with no writer: would block for ever
  CHECK_THAT(reason("/dev/zero"), Contains("not a regular file"));    // would read for ever
  const std::string big = dir + "/big.json";
  std::ofstream(big) << std::string(json::max_tier_table_bytes + 1, ' ');
  CHECK_THAT(reason(big), Contains("larger than the limit of 1048576 bytes"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("the tier_table constructor refuses bad tables in code too") {
  const auto make = [](std::vector<tier> ts) { return tier_table({"g"}, std::move(ts)); };
  const tier one{.id = tier_id{1}, .name = "one", .limits = {group_limits{}}};
  CHECK_NOTHROW(make({one}));
  tier two = one;
  two.id = tier_id{2};
  two.limits.push_back(group_limits{});
  try {
    (void)make({one, two});
    FAIL("accepted");
  } catch (const tier_table_error& e) {
    CHECK(e.field() == "tiers[1].limits");
    CHECK_THAT(std::string(e.what()), Contains("needs limits for each of the 1 groups, got 2"));
  }
  tier bad_cap = one;
  bad_cap.max_spend = spend_cap(usd(-1));
  CHECK_THROWS_AS(make({bad_cap}), tier_table_error);
  std::vector<tier> many(tier_table::max_tiers + 1, one);
  for (std::size_t i = 0; i < many.size(); ++i) many[i].id = tier_id{static_cast<std::uint32_t>(i + 1)};
  CHECK_THROWS_AS(make(many), tier_table_error);
}
