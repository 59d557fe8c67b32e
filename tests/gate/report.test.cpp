// The organization view and the usage report as JSON, in the provider's
// shape, and as text.
#include <catch2/catch.hpp>

#include <tollgate/gate.hpp>
#include <tollgate/json/report.hpp>

#include "support.hpp"

using namespace gate_test;

TEST_CASE("report: the organization view as the provider's JSON", "[gate][report]") {
  clock_type clock{start()};
  memory_gate g(tollgate::basic_gate_options<>{}, clock);
  REQUIRE(g.purchase("acme", dollars("10"), "p"));
  auto t = g.submit("acme", video(10), "a");
  REQUIRE(t);
  REQUIRE(g.complete(*t, seconds(5)));  // 25 credits
  REQUIRE(g.submit("acme", video(3), "b"));  // 15 held
  auto o = g.organization("acme");
  REQUIRE(o);
  const auto j = tollgate::json::organization_json(*o);
  CHECK(j["creditBalance"] == 960);
  CHECK(j["tier"]["maxMonthlyCreditSpend"] == 10000);
  CHECK(j["tier"]["models"]["gen4_turbo"]["maxConcurrentGenerations"] == 1);
  CHECK(j["tier"]["models"]["gen4_turbo"]["maxDailyGenerations"] == 50);
  CHECK(j["tier"]["models"]["gen4_image"]["maxDailyGenerations"] == 200);
  CHECK(j["usage"]["models"]["gen4_turbo"]["dailyGenerations"] == 2);
  CHECK(j["usage"]["models"]["gen4.5"]["dailyGenerations"] == 0);
  CHECK(j["tollgate"]["tier"] == 1);
  CHECK(j["tollgate"]["heldCredits"] == 15);
  CHECK(j["tollgate"]["spentUsd30Days"] == "10.00");
  CHECK(j["tollgate"]["spendLeftUsd"] == "90.00");
  CHECK(j["tollgate"]["running"] == 1);
  CHECK(j["tollgate"]["nextTier"]["purchasesNeededUsd"] == "40.00");
  CHECK(j["tollgate"]["nextTier"]["oldEnoughAt"] == "2026-11-02 00:00:00 UTC");
  SECTION("an unlimited limit is null") {
    tollgate::account_overrides ov;
    ov.limits.push_back(tollgate::limit_override{.scope = tollgate::override_scope::group, .target = "video",
                                                 .daily = tollgate::job_limit::unlimited(),
                                                 .note = {"ops", "contract"}});
    ov.spend_caps.push_back(tollgate::spend_cap_override{.cap = tollgate::spend_cap::unlimited(), .note = {"ops", "c"}});
    REQUIRE(g.set_overrides("acme", ov));
    const auto k = tollgate::json::organization_json(*g.organization("acme"));
    CHECK(k["tier"]["models"]["gen4_turbo"]["maxDailyGenerations"].is_null());
    CHECK(k["tier"]["maxMonthlyCreditSpend"].is_null());
    CHECK(k["tollgate"]["models"]["gen4_turbo"]["overridden"] == true);
  }
}

TEST_CASE("report: usage per model per UTC day, net of refunds", "[gate][report]") {
  clock_type clock{start() + 23h};
  memory_gate g(tollgate::basic_gate_options<>{}, clock);
  REQUIRE(g.purchase("acme", dollars("20"), "p"));
  auto a = g.submit("acme", video(10), "a");
  REQUIRE(a);
  REQUIRE(g.complete(*a, seconds(10)));  // Nov 1: 50
  auto b = g.submit("acme", video(4), "b");
  REQUIRE(b);
  REQUIRE(g.fail(*b));  // refunded: nothing used
  clock.advance(2h);  // Nov 2
  auto c = g.submit("acme", tollgate::job{.model = "gen4_image", .usage = {.resolution = "1080p"}}, "c");
  REQUIRE(c);
  REQUIRE(g.complete(*c, {.resolution = "1080p"}));
  using namespace std::chrono;
  auto r = g.usage("acme", sys_days(year{2026} / 11 / 1), sys_days(year{2026} / 11 / 3));
  REQUIRE(r);
  const auto j = tollgate::json::usage_json(*r);
  CHECK(j.dump() ==
        R"({"models":["gen4_image","gen4_turbo"],"results":[)"
        R"({"date":"2026-11-01","usedCredits":[{"model":"gen4_turbo","amount":50}]},)"
        R"({"date":"2026-11-02","usedCredits":[{"model":"gen4_image","amount":8}]},)"
        R"({"date":"2026-11-03","usedCredits":[]}]})");
  CHECK(to_text(*r).find("2026-11-01  gen4_turbo 50") != std::string::npos);
}
