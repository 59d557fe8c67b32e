// tollgate-simulate's pieces (examples/simulate/): the scenario reader (the
// two samples, every field's bad forms refused by path), the deterministic
// random numbers and the SVG chart (well-formed, deterministic, labelled).
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <tollgate/pricing/runway.hpp>

#include "../../examples/simulate/chart.hpp"
#include "../../examples/simulate/rng.hpp"
#include "../../examples/simulate/scenario.hpp"
#include "xml_check.hpp"

using namespace tollgate;
namespace sim = tollgate::examples::simulate;
using Catch::Matchers::Contains;
using ojson = nlohmann::ordered_json;

namespace {

std::string data_file(const char* name) { return std::string(TOLLGATE_TEST_DATA_DIR) + "/" + name; }

// The smallest valid scenario, as a document to break one field at a time.
ojson minimal() {
  return ojson::parse(R"({
    "version": 1, "name": "minimal", "start": "2026-11-01", "days": 3,
    "accounts": [{"id": "acme", "workload": [{"model": "gen4_turbo", "seconds": 5, "jobs_per_day": 2}]}]
  })");
}

// The error parse_scenario throws for `doc`, as "PATH: REASON".
std::string refusal(const ojson& doc) {
  try {
    (void)sim::parse_scenario(doc.dump(), runway_catalog(), "s.json");
  } catch (const sim::scenario_error& e) {
    CHECK(e.source() == "s.json");
    return e.path().empty() ? e.reason() : e.path() + ": " + e.reason();
  }
  FAIL("the scenario was accepted: " << doc.dump());
  return {};
}

}  // namespace

TEST_CASE("the sample scenarios read as documented") {
  SECTION("the studio: one account, purchases, autobilling and a growing workload") {
    const sim::scenario s = sim::load_scenario(data_file("scenario-studio.json"), runway_catalog());
    CHECK(s.name == "Small studio: tier 1 to tier 3");
    CHECK(s.start == std::chrono::sys_days(std::chrono::year(2026) / 11 / 1));
    CHECK(s.days == 28);
    CHECK(s.seed == 7);
    REQUIRE(s.accounts.size() == 1);
    const sim::account_plan& a = s.accounts[0];
    CHECK(a.id == "studio");
    REQUIRE(a.purchases.size() == 2);
    CHECK(a.purchases[1].day == 3);
    CHECK(a.purchases[1].amount == usd(30));
    REQUIRE(a.autobilling);
    CHECK(a.autobilling->from_day == 5);
    CHECK(a.autobilling->settings.threshold == credits(5000));
    CHECK(std::get<target_balance>(a.autobilling->settings.recharge).target == credits(10000));
    CHECK(a.autobilling->settings.monthly_budget == usd(300));
    REQUIRE(a.workload.size() == 3);
    CHECK(a.workload[0].jobs_on(1) == 8);
    CHECK(a.workload[0].jobs_on(28) == 40);
    CHECK(a.workload[0].jobs_on(29) == 0);
    CHECK(s.behaviour("gen4_turbo").failure_ppm == 30'000);
    CHECK(s.behaviour("gen4_image").failure_ppm == 15'000);
    CHECK(s.behaviour("gen4_image").min_generation == std::chrono::seconds(8));
    CHECK(s.behaviour("veo3").max_generation == std::chrono::seconds(60));  // the default
  }
  SECTION("the agency: two accounts, an enterprise override on day 10") {
    const sim::scenario s = sim::load_scenario(data_file("scenario-agency.json"), runway_catalog());
    CHECK(s.days == 21);
    CHECK(s.work_from == std::chrono::hours(8));
    CHECK(s.work_to == std::chrono::hours(20));
    REQUIRE(s.accounts.size() == 2);
    const sim::account_plan& a = s.accounts[0];
    REQUIRE(a.overrides.size() == 1);
    CHECK(a.overrides[0].day == 10);
    REQUIRE(a.overrides[0].overrides.limits.size() == 1);
    const limit_override& l = a.overrides[0].overrides.limits[0];
    CHECK(l.scope == override_scope::group);
    CHECK(l.target == "video");
    CHECK(l.daily == job_limit(5000));
    CHECK(l.concurrent == job_limit(10));
    CHECK(l.note.set_by == "sales:dana");
    REQUIRE(a.overrides[0].overrides.spend_caps.size() == 1);
    CHECK(a.overrides[0].overrides.spend_caps[0].cap == spend_cap(usd(100'000)));
    CHECK(a.workload[1].jobs_on(2) == 0);
    CHECK(a.workload[1].jobs_on(3) == 1200);
    CHECK(a.workload[1].jobs_on(21) == 1200);
    CHECK(s.total_jobs() == 40 * 2 + (1200 + 150) * 19 + (30 + 4) * 21);
  }
}

TEST_CASE("a workload line ramps on the straight line, rounded half away from zero") {
  sim::workload_line w;
  w.from_day = 3;
  w.to_day = 7;
  w.first = 10;
  w.last = 13;  // 10, 10.75, 11.5, 12.25, 13
  CHECK(w.jobs_on(2) == 0);
  CHECK(w.jobs_on(3) == 10);
  CHECK(w.jobs_on(4) == 11);
  CHECK(w.jobs_on(5) == 12);
  CHECK(w.jobs_on(6) == 12);
  CHECK(w.jobs_on(7) == 13);
  CHECK(w.jobs_on(8) == 0);
  w.first = 13;
  w.last = 10;  // 13, 12.25, 11.5, 10.75, 10
  CHECK(w.jobs_on(4) == 12);
  CHECK(w.jobs_on(5) == 11);
  CHECK(w.jobs_on(6) == 11);
  CHECK(w.jobs_on(7) == 10);
}

TEST_CASE("a scenario is refused by the path of the bad value") {
  ojson d = minimal();
  auto& account = d["accounts"][0];
  auto& line = account["workload"][0];
  SECTION("the document") {
    CHECK_THAT(refusal(ojson::array()), Contains("expected an object"));
    d["bogus"] = 1;
    CHECK(refusal(d) == "bogus: unknown field; expected one of version, name, description, start, days, seed, "
                        "working_hours, default_model, models, accounts");
  }
  SECTION("text that is not JSON, or repeats a key") {
    CHECK_THROWS_WITH(sim::parse_scenario("{", runway_catalog(), "s.json"), Contains("s.json: not valid JSON"));
    CHECK_THROWS_WITH(sim::parse_scenario(R"({"version": 1, "version": 1})", runway_catalog(), "s.json"),
                      "s.json: version: repeated key");
  }
  SECTION("version, name, start, days, seed") {
    d["version"] = 2;
    CHECK(refusal(d) == "version: this build reads version 1, the file is version 2");
    d = minimal();
    d.erase("name");
    CHECK(refusal(d) == "name: is missing");
    d = minimal();
    d["name"] = "";
    CHECK(refusal(d) == "name: must not be empty");
    d = minimal();
    for (const char* bad : {"2026-02-30", "2026-13-01", "26-11-01", "2026/11/01", "2026-11-1", ""}) {
      d["start"] = bad;
      CHECK_THAT(refusal(d), Contains("start: expected a date such as \"2026-11-01\""));
    }
    d["start"] = "1969-12-31";
    CHECK(refusal(d) == "start: must be from 1970 to 2200, got 1969-12-31");
    d = minimal();
    d["days"] = 0;
    CHECK(refusal(d) == "days: must be at least 1, got 0");
    d["days"] = 367;
    CHECK(refusal(d) == "days: must be at most 366, got 367");
    d["days"] = 2.0;
    CHECK(refusal(d) == "days: expected an integer, got a floating-point number");
    d = minimal();
    d["seed"] = -1;
    CHECK(refusal(d) == "seed: must be at least 0, got -1");
  }
  SECTION("working hours") {
    d["working_hours"] = {{"from", 18}, {"to", 9}};
    CHECK(refusal(d) == "working_hours.to: must be after from (18), got 9");
    d["working_hours"] = {{"from", 24}, {"to", 24}};
    CHECK(refusal(d) == "working_hours.from: must be at most 23, got 24");
    d["working_hours"] = {{"from", 9}};
    CHECK(refusal(d) == "working_hours.to: is missing");
  }
  SECTION("models") {
    d["models"] = {{"gen4_trubo", ojson::object()}};
    CHECK_THAT(refusal(d), Contains("models.gen4_trubo: unknown model; closest known: gen4_turbo"));
    d["models"] = {{"gen4_turbo", {{"failure_percent", 2.5}}}};
    CHECK_THAT(refusal(d), Contains("models.gen4_turbo.failure_percent: floating-point numbers are refused"));
    for (const char* bad : {"100.0001", "101", "-1", "2.55555", "02", "1e2", ""}) {
      d["models"] = {{"gen4_turbo", {{"failure_percent", bad}}}};
      CHECK_THAT(refusal(d), Contains("models.gen4_turbo.failure_percent: "));
    }
    d["models"] = {{"gen4_turbo", {{"generation_seconds", {{"min", 90}, {"max", 30}}}}}};
    CHECK(refusal(d) == "models.gen4_turbo.generation_seconds.max: must be at least min (90), got 30");
    d["models"] = {{"gen4_turbo", {{"generation_seconds", {{"min", 0}, {"max", 30}}}}}};
    CHECK(refusal(d) == "models.gen4_turbo.generation_seconds.min: must be at least 1, got 0");
    d["models"] = {{"gen4_turbo", {{"speed", 1}}}};
    CHECK_THAT(refusal(d), Contains("models.gen4_turbo.speed: unknown field"));
  }
  SECTION("accounts") {
    d["accounts"] = ojson::array();
    CHECK(refusal(d) == "accounts: needs at least one account");
    d = minimal();
    d["accounts"].push_back(d["accounts"][0]);
    CHECK(refusal(d) == "accounts[1].id: 'acme' repeats accounts[0].id");
    d = minimal();
    for (const char* bad : {"", "a b", "a/b", "caf\xc3\xa9"}) {
      d["accounts"][0]["id"] = bad;
      CHECK_THAT(refusal(d), Contains("accounts[0].id: ") && Contains("an account id has 1 to 64 of"));
    }
  }
  SECTION("workload lines") {
    line["model"] = "gen4_trubo";
    CHECK_THAT(refusal(d), Contains("accounts[0].workload[0]: unknown model 'gen4_trubo'; closest known: gen4_turbo"));
    line["model"] = "gen4_turbo";
    line["seconds"] = 11;
    CHECK_THAT(refusal(d), Contains("accounts[0].workload[0]: model 'gen4_turbo': 'seconds' must be between 2 and 10"));
    line["seconds"] = 2.5;
    CHECK_THAT(refusal(d), Contains("accounts[0].workload[0].seconds: floating-point numbers are refused"));
    line["seconds"] = "012";
    CHECK_THAT(refusal(d), Contains("accounts[0].workload[0].seconds: seconds '012' has a leading zero"));
    line["seconds"] = 5;
    line["outputs"] = 2;
    CHECK_THAT(refusal(d), Contains("does not take 'outputs'"));
    line.erase("outputs");
    line["jobs_per_day"] = -1;
    CHECK(refusal(d) == "accounts[0].workload[0].jobs_per_day: must be at least 0, got -1");
    line["jobs_per_day"] = 100'001;
    CHECK(refusal(d) == "accounts[0].workload[0].jobs_per_day: must be at most 100000, got 100001");
    line["jobs_per_day"] = "2";
    CHECK_THAT(refusal(d), Contains("accounts[0].workload[0].jobs_per_day: expected a whole number or"));
    line["jobs_per_day"] = {{"first", 1}};
    CHECK(refusal(d) == "accounts[0].workload[0].jobs_per_day.last: is missing");
    line["jobs_per_day"] = 2;
    line["from_day"] = 4;
    CHECK(refusal(d) == "accounts[0].workload[0].from_day: must be at most 3, got 4");
    line["from_day"] = 3;
    line["to_day"] = 2;
    CHECK(refusal(d) == "accounts[0].workload[0].to_day: must not be before from_day (3), got 2");
    line.erase("to_day");
    line["count"] = 2;
    CHECK_THAT(refusal(d), Contains("accounts[0].workload[0].count: unknown field"));
    line.erase("count");
    line["model"] = "eleven_multilingual_v2";
    line.erase("seconds");
    line["text"] = "";
    CHECK_THAT(refusal(d), Contains("accounts[0].workload[0]: model 'eleven_multilingual_v2': 'text' is empty"));
    // Text that is not UTF-8 is not JSON text either.
    std::string text = d.dump();
    text.replace(text.find(R"("text":"")"), 9, "\"text\":\"\xc0\xaf\"");
    CHECK_THROWS_WITH(sim::parse_scenario(text, runway_catalog(), "s.json"), Contains("s.json: not valid JSON"));
  }
  SECTION("the whole workload is bounded") {
    line["jobs_per_day"] = 100'000;
    d["days"] = 366;
    account["workload"] = ojson::array({line, line});
    CHECK(refusal(d) == "accounts: the workload submits 73200000 jobs in all; at most 5000000");
  }
  SECTION("purchases") {
    account["purchases"] = {{{"day", 1}, {"usd", 0}}};
    CHECK(refusal(d) == "accounts[0].purchases[0].usd: must be positive, got 0.00");
    account["purchases"] = {{{"day", 1}, {"usd", 40.5}}};
    CHECK_THAT(refusal(d), Contains("accounts[0].purchases[0].usd: floating-point numbers are refused"));
    account["purchases"] = {{{"day", 2}, {"usd", 1}}, {{"day", 1}, {"usd", 1}}};
    CHECK(refusal(d) == "accounts[0].purchases[1].day: must be on or after the day before it (2), got 1");
    account["purchases"] = {{{"day", 1}}};
    CHECK(refusal(d) == "accounts[0].purchases[0].usd: is missing");
  }
  SECTION("autobilling") {
    account["autobilling"] = {{"threshold_credits", "100"}};
    CHECK(refusal(d) == "accounts[0].autobilling: give either target_credits (recharge up to a balance) or "
                        "recharge_usd (a fixed amount)");
    account["autobilling"] = {{"threshold_credits", "100"}, {"target_credits", "50"}};
    CHECK(refusal(d) == "accounts[0].autobilling: autobilling recharge: the target balance (50) must be above the "
                        "threshold (100)");
    account["autobilling"] = {{"threshold_credits", "100"}, {"recharge_usd", "10.001"}};
    CHECK_THAT(refusal(d), Contains("a fixed recharge is a positive number of whole cents"));
    account["autobilling"] = {{"threshold_credits", "100"}, {"recharge_usd", "10"}, {"from_day", 0}};
    CHECK(refusal(d) == "accounts[0].autobilling.from_day: must be at least 1, got 0");
  }
  SECTION("overrides") {
    ojson o = {{"day", 2}, {"set_by", "ops"}, {"reason", "test"}};
    o["limits"] = {{{"model", "gen4_turbo"}, {"max_daily", 0}}};
    account["overrides"] = {o};
    CHECK(refusal(d) == "accounts[0].overrides[0].limits[0].max_daily: must be at least 1, got 0");
    o["limits"] = {{{"model", "gen4_turbo"}, {"group", "video"}, {"max_daily", 3}}};
    account["overrides"] = {o};
    CHECK(refusal(d) == "accounts[0].overrides[0].limits[0]: give either model or group");
    o["limits"] = {{{"model", "gen5"}, {"max_daily", 3}}};
    account["overrides"] = {o};
    CHECK_THAT(refusal(d), Contains("accounts[0].overrides[0].limits[0].model: unknown model 'gen5'"));
    o["limits"] = {{{"group", "video"}, {"max_daily", 3}, {"mode", "dry-run"}}};
    account["overrides"] = {o};
    CHECK(refusal(d) == "accounts[0].overrides[0].limits[0].mode: expected \"enforced\" or \"shadow\", got 'dry-run'");
    o["limits"] = {{{"group", "video"}}};
    account["overrides"] = {o};
    CHECK(refusal(d) == "accounts[0].overrides[0].limits[0]: overrides nothing: give max_concurrent, max_daily or both");
    o["limits"] = {{{"group", "vidoe"}, {"max_daily", 3}}};
    account["overrides"] = {o};
    CHECK(refusal(d) == "accounts[0].overrides[0].limits[0].group: unknown group 'vidoe'; the groups are video, "
                        "video_premium, upscale, image, audio");
    o["limits"] = {{{"group", "video"}, {"max_daily", 3}}, {{"group", "video"}, {"max_concurrent", 3}}};
    account["overrides"] = {o};
    CHECK(refusal(d) == "accounts[0].overrides[0]: override limits[1]: repeats limits[0] (group 'video', enforced)");
    o["limits"] = {{{"group", "video"}, {"max_daily", 3}}};
    o["set_by"] = "";
    account["overrides"] = {o};
    CHECK(refusal(d) == "accounts[0].overrides[0].set_by: must not be empty");
    o["set_by"] = "ops";
    o["spend_cap"] = {{"max_usd", "-5"}};
    account["overrides"] = {o};
    CHECK(refusal(d) == "accounts[0].overrides[0].spend_cap.max_usd: must be positive (or null: unlimited), got -5.00");
    o.erase("spend_cap");
    account["overrides"] = {o, o};
    CHECK(refusal(d) == "accounts[0].overrides[1].day: must be after the day before it (2), got 2");
  }
}

TEST_CASE("the simulator's random numbers are the same everywhere") {
  SECTION("splitmix64's published first outputs for seed 0") {
    sim::rng r(0);
    CHECK(r.next() == 0xe220a8397b1dcdafull);
    CHECK(r.next() == 0x6e789e6aa1b965f4ull);
    CHECK(r.next() == 0x06c45d188009454full);
  }
  SECTION("a named stream is a pure function of the seed, the label and the numbers") {
    auto a = sim::rng::stream(7, "arrivals", 0, 1, 2);
    auto b = sim::rng::stream(7, "arrivals", 0, 1, 2);
    auto c = sim::rng::stream(7, "arrivals", 0, 1, 3);
    auto e = sim::rng::stream(8, "arrivals", 0, 1, 2);
    const auto x = a.next();
    CHECK(x == b.next());
    CHECK(x != c.next());
    CHECK(x != e.next());
  }
  SECTION("below(n) stays below n and reaches every value") {
    sim::rng r(42);
    std::vector<int> seen(7, 0);
    for (int i = 0; i < 7000; ++i) {
      const auto v = r.below(7);
      REQUIRE(v < 7);
      ++seen[v];
    }
    for (int n : seen) CHECK((n > 850 && n < 1150));
    CHECK(r.below(0) == 0);
    CHECK(r.below(1) == 0);
    CHECK(r.between(5, 5) == 5);
    for (int i = 0; i < 100; ++i) {
      const auto v = r.between(3, 9);
      REQUIRE((v >= 3 && v <= 9));
    }
  }
  SECTION("chance_ppm: never at 0, always at a million, about right between") {
    sim::rng r(1);
    int hits = 0;
    for (int i = 0; i < 100'000; ++i) {
      REQUIRE_FALSE(r.chance_ppm(0));
      REQUIRE(r.chance_ppm(1'000'000));
      hits += r.chance_ppm(30'000) ? 1 : 0;
    }
    CHECK((hits > 2700 && hits < 3300));
  }
}

namespace {

sim::chart_data sample_chart() {
  sim::chart_data d;
  d.title = "Studio & agency <test>";
  d.start = std::chrono::sys_days(std::chrono::year(2026) / 11 / 1);
  sim::chart_account a;
  a.id = "studio";
  for (int day = 0; day < 28; ++day) {
    a.balance.push_back(4000 - day * 97 + (day % 5) * 300);
    a.tier.push_back(day < 2 ? 1 : day < 7 ? 2 : 3);
    a.created.push_back(28 + day * 2);
    a.refused.push_back(day % 6 == 0 ? 5 : 0);
  }
  sim::chart_account b = a;
  b.id = "agency";
  b.balance.assign(28, 0);
  d.accounts = {a, b};
  return d;
}

}  // namespace

TEST_CASE("the chart is a well-formed SVG with axes, labels and a legend") {
  const sim::chart_data d = sample_chart();
  const std::string svg = sim::render_svg(d);
  SECTION("well-formed, whatever the title and ids hold") {
    CHECK(tollgate::test::xml_problem(svg) == std::nullopt);
    CHECK_THAT(svg, Contains("<title>Studio &amp; agency &lt;test&gt;</title>"));
    CHECK(svg.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
  }
  SECTION("one panel per account, with the three strips' labels and dates") {
    CHECK_THAT(svg, Contains(R"(<g id="account-studio">)"));
    CHECK_THAT(svg, Contains(R"(<g id="account-agency">)"));
    for (const char* label : {">credits</text>", ">jobs a day</text>", ">tier</text>", ">day (UTC)</text>",
                              ">11-01</text>", ">balance (credits, end of day)</text>", ">jobs created</text>",
                              ">jobs refused</text>"})
      CHECK_THAT(svg, Contains(label));
    // The balance axis is round: 0 to 5,000 by 1,000 (the largest balance is 4,812).
    CHECK_THAT(svg, Contains(">5,000</text>"));
    CHECK_THAT(svg, Contains("<title>day 3: 4,406 credits</title>"));
    CHECK_THAT(svg, Contains("<title>day 1: 5 refused</title>"));
  }
  SECTION("deterministic: the same data, the same bytes") {
    CHECK(sim::render_svg(sample_chart()) == svg);
    sim::chart_data other = sample_chart();
    other.accounts[0].created[3] += 1;
    CHECK(sim::render_svg(other) != svg);
  }
  SECTION("the checker itself refuses what is not well-formed") {
    CHECK(tollgate::test::xml_problem("<a><b></a></b>") != std::nullopt);
    CHECK(tollgate::test::xml_problem("<a x=\"1\" x=\"2\"/>") != std::nullopt);
    CHECK(tollgate::test::xml_problem("<a>&nbsp;</a>") != std::nullopt);
    CHECK(tollgate::test::xml_problem("<a>1 < 2</a>") != std::nullopt);
    CHECK(tollgate::test::xml_problem("<a/><b/>") != std::nullopt);
    CHECK(tollgate::test::xml_problem("<a x=1/>") != std::nullopt);
    CHECK(tollgate::test::xml_problem("<a>") != std::nullopt);
    CHECK(tollgate::test::xml_problem("<?xml version=\"1.0\"?>\n<a b=\"&amp;&#38;\"><!-- c --><c/></a>\n") ==
          std::nullopt);
  }
}

TEST_CASE("round axes step by 1, 2 or 5 times a power of ten") {
  using sim::detail::round_axis;
  CHECK(round_axis(0, 5).top == 1);
  CHECK(round_axis(4418, 5).step == 1000);
  CHECK(round_axis(4418, 5).top == 5000);
  CHECK(round_axis(7, 4).step == 2);
  CHECK(round_axis(7, 4).top == 8);
  CHECK(round_axis(1200, 4).step == 500);
  CHECK(round_axis(1200, 4).top == 1500);
  CHECK(sim::detail::thousands(1234567) == "1,234,567");
  CHECK(sim::detail::thousands(-1000) == "-1,000");
  CHECK(sim::detail::thousands(999) == "999");
}
