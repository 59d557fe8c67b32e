// Every configuration error tollgate throws is a tollgate::config_error with
// its source, the path of the field and the reason, whatever concern refused
// it, so a host catches them all with one clause; the old names still catch.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <type_traits>
#include <vector>

#include <tollgate/core/error.hpp>
#include <tollgate/json/catalog.hpp>
#include <tollgate/json/tiers.hpp>
#include <tollgate/limits/keyed.hpp>
#include <tollgate/limits/token_bucket.hpp>
#include <tollgate/pricing/catalog.hpp>
#include <tollgate/tiers/tier_table.hpp>

using namespace tollgate;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;

namespace {

// The config_error `f` throws; fails the test when it throws nothing.
template <class F>
config_error refusal(F&& f) {
  try {
    f();
  } catch (const config_error& e) {
    return e;
  }
  FAIL("accepted");
  return config_error("", "", "");  // not reached
}

}  // namespace

static_assert(std::is_base_of_v<std::runtime_error, config_error>);
static_assert(std::is_base_of_v<config_error, limit_config_error>);
static_assert(std::is_base_of_v<config_error, catalog_error>);
static_assert(std::is_base_of_v<config_error, tier_table_error>);
static_assert(std::is_base_of_v<config_error, json::catalog_error>);
static_assert(std::is_base_of_v<config_error, json::tier_table_error>);
static_assert(std::is_base_of_v<config_error, json::config_file_error>);
static_assert(std::is_base_of_v<json::config_file_error, json::catalog_error>);
static_assert(std::is_base_of_v<json::config_file_error, json::tier_table_error>);

TEST_CASE("every configuration error is a config_error with its source, path and reason", "[error][config]") {
  SECTION("limits: limit_config_error") {
    const auto e = refusal([] { (void)token_rate(0, 1s); });
    CHECK(e.source() == "token_rate");
    CHECK(e.path() == "tokens");
    CHECK_THAT(e.reason(), Contains("must be positive"));
    CHECK_THAT(std::string(e.what()), Contains("tollgate: token_rate: tokens: must be positive"));
    CHECK_THROWS_AS(token_rate(-1, 1s), limit_config_error);  // the old name still catches
  }
  SECTION("pricing: catalog_error names the model's field from the catalog's root") {
    model_spec m{.id = "img", .kind = media_kind::image, .rate = per_generation{credits{5}},
                 .outputs = outputs_range{4}, .resolutions = {"720p", "720p"}};
    const auto e = refusal([&] { catalog c({m}); });
    CHECK(e.source() == "catalog");
    CHECK(e.path() == "models[0].resolutions[1]");
    CHECK_THAT(std::string(e.what()), Contains("model 'img' (models[0])"));
    try {
      catalog c({m});
    } catch (const catalog_error& old) {
      CHECK(old.index() == 0);
      CHECK(old.field() == "resolutions[1]");
      CHECK(old.reason() == e.reason());
    }
    const auto date = refusal([] { catalog c({}, credit_price{}, "Nov 1st"); });
    CHECK(date.path() == "price_list_date");
  }
  SECTION("tiers: tier_table_error") {
    const auto e = refusal([] { tier_table::check_groups({"video", "Not A Group"}); });
    CHECK(e.source() == "tier table");
    CHECK(e.path() == "groups[1]");
    CHECK_THAT(std::string(e.what()), Contains("invalid tier table: groups[1]: "));
    CHECK_FALSE(e.reason().empty());
    CHECK_THROWS_AS(tier_table::check_groups({""}), tier_table_error);
  }
  SECTION("json: catalog and tier table files name the file and the JSON path") {
    const auto c = refusal([] { (void)json::parse_catalog(R"({"version": 1, "models": [{"id": 5}]})", "c.json"); });
    CHECK(c.source() == "c.json");
    CHECK(c.path() == "models[0].id");
    CHECK_THAT(std::string(c.what()), Contains("c.json: models[0].id: "));
    const auto t = refusal([] { (void)json::parse_tier_table(R"({"version": 1e400})", "t.json"); });
    CHECK(t.source() == "t.json");
    CHECK(t.path() == "version");
    const auto missing = refusal([] { (void)json::load_catalog("/nonexistent/catalog.json"); });
    CHECK(missing.path().empty());
    CHECK(missing.source() == "/nonexistent/catalog.json");
    CHECK_THROWS_AS(json::parse_catalog("", "c.json"), json::catalog_error);
    CHECK_THROWS_AS(json::parse_tier_table("", "t.json"), json::config_file_error);
  }
}
