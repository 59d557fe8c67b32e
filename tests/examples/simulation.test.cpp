// tollgate-simulate's day loop (examples/simulate/simulation.hpp) and its
// output (output.hpp): small scenarios whose figures follow from the rules
// (a queue behind one slot, a task running over midnight, the daily cap, a
// purchase over the spend cap, jobs that all fail), the two samples with
// their key figures, credits conserved on every account, and the same
// scenario giving the same bytes (text, JSON, SVG) on every run.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <tollgate/pricing/runway.hpp>

#include "../../examples/simulate/output.hpp"
#include "../../examples/simulate/simulation.hpp"
#include "xml_check.hpp"

using namespace tollgate;
namespace sim = tollgate::examples::simulate;
using Catch::Matchers::Contains;
using ojson = nlohmann::ordered_json;

namespace {

std::string data_file(const char* name) { return std::string(TOLLGATE_TEST_DATA_DIR) + "/" + name; }

usd dollars(const char* s) { return *usd::parse(s); }

// One account "acme" on tier 1 with $100 bought on day 1, submitting `jobs`
// 5-second gen4_turbo videos a day (25 credits each) between 09:00 and
// 10:00; every job takes `generation` seconds and fails with `fail_percent`.
ojson one_account(int days, int jobs, int generation, int fail_percent = 0) {
  ojson d = ojson::parse(R"({"version": 1, "name": "one account", "start": "2026-11-01", "seed": 3,
    "working_hours": {"from": 9, "to": 10},
    "accounts": [{"id": "acme", "purchases": [{"day": 1, "usd": "100"}],
                  "workload": [{"model": "gen4_turbo", "seconds": 5}]}]})");
  d["days"] = days;
  d["accounts"][0]["workload"][0]["jobs_per_day"] = jobs;
  d["models"]["gen4_turbo"] = {{"generation_seconds", {{"min", generation}, {"max", generation}}},
                               {"failure_percent", fail_percent}};
  return d;
}

sim::simulation_result run(const ojson& doc) {
  return sim::run_simulation(sim::parse_scenario(doc.dump(), runway_catalog(), "test.json"));
}

// Every credit bought is spent, available or held: nothing is made or lost.
void check_conserved(const sim::account_result& a) {
  const credit_price price = runway_catalog().price();
  const credits bought = price.to_credits(a.totals.purchased + a.totals.recharged);
  INFO("account " << a.id);
  CHECK(bought == a.totals.spent + a.totals.balance + a.totals.held);
  for (const sim::day_figures& d : a.days) {
    INFO("day " << d.day);
    CHECK(d.created + d.refused_total() == d.submitted);
    CHECK(d.throttled <= d.created);
  }
}

// The samples take seconds under the sanitizers: each is run once.
const sim::simulation_result& studio() {
  static const sim::simulation_result r =
      sim::run_simulation(sim::load_scenario(data_file("scenario-studio.json"), runway_catalog()));
  return r;
}
const sim::simulation_result& agency() {
  static const sim::simulation_result r =
      sim::run_simulation(sim::load_scenario(data_file("scenario-agency.json"), runway_catalog()));
  return r;
}

std::vector<std::int64_t> steps(const sim::account_result& a) {
  std::vector<std::int64_t> out;
  for (const sim::tier_step& s : a.tiers) {
    out.push_back(s.tier.value);
    out.push_back(s.day);
  }
  return out;
}

}  // namespace

TEST_CASE("simulation: a queue behind the one slot of tier 1 drains in FIFO order") {
  // Five jobs between 09:00 and 10:00, an hour each, one at a time: the first
  // runs, four wait; all five are done by 15:00.
  const sim::simulation_result r = run(one_account(1, 5, 3600));
  REQUIRE(r.accounts.size() == 1);
  const sim::day_figures& d = r.accounts[0].days.at(0);
  CHECK(d.submitted == 5);
  CHECK(d.created == 5);
  CHECK(d.throttled == 4);
  CHECK(d.succeeded == 5);
  CHECK(d.failed == 0);
  CHECK(d.spent == credits(125));
  CHECK(d.balance == credits(10'000 - 125));
  CHECK(d.held.is_zero());
  CHECK(d.running == 0);
  CHECK(d.queued == 0);
  CHECK(d.tier == tier_id{1});
  CHECK(d.purchases == 1);
  CHECK(d.purchased == usd(100));
  check_conserved(r.accounts[0]);
}

TEST_CASE("simulation: a task still running at midnight holds its credits into the next day") {
  // One job a day, 20 hours each: day 1's finishes on day 2 at 05:xx.
  const sim::simulation_result r = run(one_account(2, 1, 20 * 3600));
  const auto& days = r.accounts[0].days;
  REQUIRE(days.size() == 2);
  CHECK(days[0].created == 1);
  CHECK(days[0].succeeded == 0);
  CHECK(days[0].running == 1);
  CHECK(days[0].held == credits(25));
  CHECK(days[0].balance == credits(10'000 - 25));
  // Day 2: day 1's job completes at 05:xx, before day 2's arrives; that one
  // runs over midnight in turn.
  CHECK(days[1].succeeded == 1);
  CHECK(days[1].throttled == 0);
  CHECK(days[1].spent == credits(25));
  CHECK(days[1].running == 1);
  CHECK(days[1].held == credits(25));
  CHECK(r.accounts[0].totals.running == 1);
  check_conserved(r.accounts[0]);
}

TEST_CASE("simulation: the daily cap refuses what is past it, by reason") {
  // Tier 1 starts 50 videos in 24 hours.
  const sim::simulation_result r = run(one_account(1, 60, 10));
  const sim::day_figures& d = r.accounts[0].days.at(0);
  CHECK(d.created == 50);
  CHECK(d.refused_for(errc::daily_limit) == 10);
  CHECK(d.refused_for(errc::insufficient_credits) == 0);
  CHECK(d.refused.size() == 2);  // both listed reasons, even at zero
  CHECK(d.spent == credits(50 * 25));
  check_conserved(r.accounts[0]);
}

TEST_CASE("simulation: no credits, no job; a purchase over the spend cap is refused and noted") {
  ojson doc = one_account(2, 3, 10);
  doc["accounts"][0]["purchases"] = ojson::parse(R"([{"day": 1, "usd": "0.50"}, {"day": 2, "usd": "100"}])");
  const sim::simulation_result r = run(doc);
  const auto& days = r.accounts[0].days;
  // $0.50 buys 50 credits: two 25-credit jobs, the third refused.
  CHECK(days[0].created == 2);
  CHECK(days[0].refused_for(errc::insufficient_credits) == 1);
  CHECK(days[0].balance.is_zero());
  // Tier 1's cap is $100 in 30 days: $0.50 + $100 is over it.
  CHECK(days[1].purchases == 0);
  CHECK(days[1].purchases_refused == 1);
  CHECK(days[1].notes == std::vector<std::string>{"purchase of $100.00 refused (monthly_spend_limit)"});
  CHECK(days[1].refused_for(errc::insufficient_credits) == 3);
  check_conserved(r.accounts[0]);
}

TEST_CASE("simulation: failed jobs are refunded in full") {
  const sim::simulation_result r = run(one_account(2, 4, 30, 100));
  const sim::day_figures& t = r.accounts[0].totals;
  CHECK(t.created == 8);
  CHECK(t.failed == 8);
  CHECK(t.succeeded == 0);
  CHECK(t.spent.is_zero());
  CHECK(t.refunded == credits(8 * 25));
  CHECK(t.balance == credits(10'000));
  check_conserved(r.accounts[0]);
}

TEST_CASE("simulation: the studio grows from tier 1 into tier 3") {
  const sim::simulation_result& r = studio();
  REQUIRE(r.accounts.size() == 1);
  const sim::account_result& a = r.accounts[0];
  REQUIRE(a.days.size() == 28);
  // Tier 2 on day 3 ($70 bought, a day old); tier 3 on day 8 (autobilling took
  // it past $100 on day 6; the first purchase is a week old at 00:00 on day 8).
  CHECK(steps(a) == std::vector<std::int64_t>{1, 1, 2, 3, 3, 8});
  CHECK(a.days[5].recharges == 1);
  CHECK_THAT(a.days[7].notes.at(0), Contains("promoted to tier 3 (age)"));
  const sim::day_figures& t = a.totals;
  CHECK(t.submitted == 1960);
  CHECK(t.created == 1960);
  CHECK(t.refused_total() == 0);
  CHECK(t.throttled == 1);
  CHECK(t.succeeded == 1916);
  CHECK(t.failed == 44);
  CHECK(t.spent == credits(22'204));
  CHECK(t.refunded == credits(700));
  CHECK(t.purchases == 2);
  CHECK(t.purchased == usd(70));
  CHECK(t.recharges == 5);
  CHECK(t.recharged == dollars("250.74"));
  CHECK(t.tier == tier_id{3});
  CHECK(t.balance == credits(9'870));
  check_conserved(a);
}

TEST_CASE("simulation: the agency hits its daily caps and recovers with an enterprise override") {
  const sim::simulation_result& r = agency();
  REQUIRE(r.accounts.size() == 2);
  const sim::account_result& a = r.accounts[0];
  REQUIRE(a.days.size() == 21);
  CHECK(steps(a) == std::vector<std::int64_t>{1, 1, 2, 2, 3, 8, 4, 15});
  SECTION("tier 2: 500 videos a day, the rest refused for the daily cap") {
    for (const int day : {3, 4, 5}) {
      INFO("day " << day);
      const sim::day_figures& d = a.days[day - 1];
      CHECK(d.submitted == 1350);
      CHECK(d.created == 650);  // 500 videos + 150 images
      CHECK(d.refused_for(errc::daily_limit) == 700);
      CHECK(d.refused_for(errc::insufficient_credits) == 0);
    }
  }
  SECTION("the $500 spend cap stops autobilling: refused for lack of credits") {
    CHECK(a.days[5].refused_for(errc::insufficient_credits) == 827);
    CHECK(a.days[5].refused_for(errc::daily_limit) == 27);
    CHECK_THAT(a.days[5].notes.at(0), Contains("30-day spend cap reached ($500.00 of $500.00)"));
    CHECK(a.days[6].created == 0);
    CHECK(a.days[6].refused_for(errc::insufficient_credits) == 1350);
    CHECK(a.days[6].balance.is_zero());
  }
  SECTION("tier 3 raises the caps; the override of day 10 lifts them") {
    CHECK(a.days[7].refused_for(errc::daily_limit) == 200);
    CHECK(a.days[8].refused_for(errc::daily_limit) == 200);
    CHECK_THAT(a.days[9].notes.at(0), Contains("overrides by sales:dana"));
    for (std::size_t i = 9; i < a.days.size(); ++i) {
      INFO("day " << a.days[i].day);
      CHECK(a.days[i].refused_total() == 0);
      CHECK(a.days[i].created == 1350);
    }
  }
  SECTION("the totals") {
    const sim::day_figures& t = a.totals;
    CHECK(t.submitted == 25'730);
    CHECK(t.created == 21'026);
    CHECK(t.refused_for(errc::daily_limit) == 2'527);
    CHECK(t.refused_for(errc::insufficient_credits) == 2'177);
    CHECK(t.succeeded == 20'624);
    CHECK(t.failed == 402);
    CHECK(t.spent == credits(455'616));
    CHECK(t.refunded == credits(9'613));
    CHECK(t.purchases == 1);
    CHECK(t.recharges == 14);
    CHECK(t.recharged == dollars("4651.31"));
    CHECK(t.tier == tier_id{4});
    check_conserved(a);
  }
  SECTION("the freelancer on the same platform is not affected") {
    const sim::account_result& f = r.accounts[1];
    CHECK(f.id == "freelancer");
    CHECK(f.totals.refused_total() == 0);
    CHECK(f.totals.created == 714);
    CHECK(steps(f) == std::vector<std::int64_t>{1, 1, 2, 15});
    check_conserved(f);
  }
}

TEST_CASE("simulation: the same scenario gives the same bytes on every run") {
  const sim::scenario s = sim::load_scenario(data_file("scenario-studio.json"), runway_catalog());
  const sim::simulation_result again = sim::run_simulation(s);
  CHECK(sim::text_report(again) == sim::text_report(studio()));
  CHECK(sim::json_report(again) == sim::json_report(studio()));
  CHECK(sim::render_svg(sim::chart_of(again)) == sim::render_svg(sim::chart_of(studio())));
  SECTION("another seed draws other arrivals and fates") {
    sim::scenario other = s;
    other.seed = 8;
    CHECK(sim::json_report(sim::run_simulation(other)) != sim::json_report(studio()));
  }
}

TEST_CASE("simulation: the report as text, JSON and chart") {
  const sim::simulation_result& r = agency();
  SECTION("text: a row a day, the totals, the tiers") {
    const std::string text = sim::text_report(r);
    CHECK(text.rfind("Agency campaign: daily caps, then an enterprise override\n21 days from 2026-11-01 (UTC), seed 11\n",
                     0) == 0);
    CHECK_THAT(text, Contains("\naccount agency\n"));
    CHECK_THAT(text, Contains("\ntiers: Tier 1 from day 1, Tier 2 from day 2, Tier 3 from day 8, Tier 4 from day 15\n"));
    CHECK_THAT(text, Contains("4704 refused (2177 insufficient_credits, 2527 daily_limit)"));
    CHECK_THAT(text, Contains("\naccount freelancer\n"));
  }
  SECTION("JSON: the same figures as data, amounts as exact strings") {
    const ojson j = ojson::parse(sim::json_report(r));
    CHECK(j["scenario"]["days"] == 21);
    CHECK(j["scenario"]["seed"] == 11);
    const ojson& a = j["accounts"][0];
    CHECK(a["id"] == "agency");
    REQUIRE(a["days"].size() == 21);
    CHECK(a["days"][6]["refused"]["insufficient_credits"] == 1350);
    CHECK(a["days"][6]["date"] == "2026-11-07");
    CHECK(a["days"][2]["refused"]["daily_limit"] == 700);
    CHECK(a["totals"]["spent"] == "455616");
    CHECK(a["totals"]["recharged_usd"] == "4651.31");
    CHECK(a["tiers"][3] == ojson::parse(R"({"tier": 4, "name": "Tier 4", "day": 15})"));
  }
  SECTION("the chart: well-formed, one panel per account") {
    const std::string svg = sim::render_svg(sim::chart_of(r));
    CHECK(tollgate::test::xml_problem(svg) == std::nullopt);
    CHECK_THAT(svg, Contains(R"(<g id="account-agency">)"));
    CHECK_THAT(svg, Contains(R"(<g id="account-freelancer">)"));
    CHECK_THAT(svg, Contains("<title>day 7: 1,350 refused</title>"));
  }
}
