// The gate in memory: the whole life of jobs, every refusal reason,
// idempotent resubmission, throttled tasks starting in FIFO order, cancel of
// a queued and of a running task, a promotion releasing the queue,
// autobilling rescuing a submission, enterprise overrides (shadow ones
// reported), the organization view and the usage report.
#include <catch2/catch.hpp>

#include <tollgate/gate.hpp>

#include "support.hpp"

using namespace gate_test;
using tollgate::errc;
using tollgate::task_status;

namespace {

struct fixture {
  clock_type clock{start()};
  recorder events;
  gateway pay;
  memory_gate g{tollgate::basic_gate_options<>{}, clock, pay, events};

  void buy(std::string_view account, const char* amount) {
    auto r = g.purchase(account, dollars(amount), fmt::format("buy-{}-{}", account, amount));
    REQUIRE(r);
  }
  tollgate::credits available(std::string_view account) { return g.ledger().balance(account)->available; }
  tollgate::credits held(std::string_view account) { return g.ledger().balance(account)->held; }
};

}  // namespace

TEST_CASE("gate: a job's whole life holds, captures and releases exactly", "[gate]") {
  fixture f;
  f.buy("acme", "10");  // 1,000 credits
  SECTION("complete captures the actual cost and returns the rest") {
    auto t = f.g.submit("acme", video(10), "job-1");  // 50 credits
    REQUIRE(t);
    CHECK(t->status == task_status::running);
    CHECK(t->estimate == 50_cr);
    CHECK(t->id.size() == 36);
    CHECK(f.available("acme") == 950_cr);
    CHECK(f.held("acme") == 50_cr);
    auto s = f.g.complete(*t, seconds(6));
    REQUIRE(s);
    CHECK(s->task.status == task_status::succeeded);
    CHECK(s->task.cost == 30_cr);
    CHECK(s->refunded == 20_cr);
    CHECK(f.available("acme") == 970_cr);
    CHECK(f.held("acme") == 0_cr);
    CHECK(f.events.count("admitted") == 1);
    CHECK(f.events.count("started") == 1);
    CHECK(f.events.count("completed") == 1);
    CHECK(f.g.ledger().check_invariants());
  }
  SECTION("an actual cost above the hold is capped at the hold") {
    auto t = f.g.submit("acme", video(4), "job-1");  // 20 credits
    REQUIRE(t);
    auto s = f.g.complete(*t, seconds(10));  // would be 50
    REQUIRE(s);
    CHECK(s->task.cost == 20_cr);
    CHECK(f.available("acme") == 980_cr);
  }
  SECTION("fail refunds in full; the final cost is 0") {
    auto t = f.g.submit("acme", video(10), "job-1");
    REQUIRE(t);
    auto s = f.g.fail(*t, "the model crashed");
    REQUIRE(s);
    CHECK(s->task.status == task_status::failed);
    CHECK(s->task.cost == 0_cr);
    CHECK(s->task.failure == "the model crashed");
    CHECK(s->refunded == 50_cr);
    CHECK(f.available("acme") == 1000_cr);
    CHECK(f.events.count("refunded") == 1);
  }
  SECTION("a settled task refuses another settlement, and repeats its own") {
    auto t = f.g.submit("acme", video(10), "job-1");
    REQUIRE(t);
    REQUIRE(f.g.complete(*t, seconds(10)));
    auto again = f.g.complete(*t, seconds(10));
    REQUIRE(again);
    CHECK(again->task.cost == 50_cr);
    auto c = f.g.cancel(*t);
    REQUIRE_FALSE(c);
    CHECK(c.error() == errc::invalid_argument);
    CHECK(f.available("acme") == 950_cr);
  }
  SECTION("get() and tasks() see the task") {
    auto t = f.g.submit("acme", video(10), "job-1");
    REQUIRE(t);
    auto v = f.g.get(*t);
    REQUIRE(v);
    CHECK(v->status == task_status::running);
    CHECK(f.g.tasks("acme").size() == 1);
    REQUIRE(f.g.complete(*t, seconds(10)));
    CHECK(f.g.tasks("acme").empty());
    CHECK(f.g.get(*t)->status == task_status::succeeded);
    CHECK_FALSE(f.g.get(tollgate::task_ref{"acme", "nope"}));
  }
}

TEST_CASE("gate: every refusal reason leaves nothing behind", "[gate]") {
  fixture f;
  f.buy("acme", "1");  // 100 credits
  const auto before = f.g.ledger().totals();
  SECTION("unknown model") {
    auto t = f.g.submit("acme", video(5, "gen9"), "k");
    REQUIRE_FALSE(t);
    CHECK(t.error() == errc::unknown_model);
  }
  SECTION("invalid usage") {
    auto t = f.g.submit("acme", video(60), "k");
    REQUIRE_FALSE(t);
    CHECK(t.error() == errc::invalid_usage);
  }
  SECTION("invalid account and key") {
    CHECK(f.g.submit("", video(5), "k").error() == errc::invalid_account);
    CHECK(f.g.submit("acme", video(5), "").error() == errc::invalid_argument);
  }
  SECTION("insufficient credits") {
    auto t = f.g.submit("acme", video(10, "gen4.5"), "k");  // 120 credits
    REQUIRE_FALSE(t);
    CHECK(t.error() == errc::insufficient_credits);
    auto o = f.g.organization("acme");
    REQUIRE(o);
    for (const auto& m : o->models) CHECK(m.daily_generations == 0);
  }
  SECTION("daily limit, with the exact retry_after") {
    f.buy("acme", "90");  // tier 1 still (no age): 50 video jobs a day
    for (int i = 0; i < 50; ++i) {
      auto t = f.g.submit("acme", video(2), fmt::format("k{}", i));
      REQUIRE(t);
      REQUIRE(f.g.complete(*t, seconds(2)));
      f.clock.advance(1s);
    }
    const auto held_before = f.held("acme");
    const auto avail_before = f.available("acme");
    auto t = f.g.submit("acme", video(2), "k50");
    REQUIRE_FALSE(t);
    CHECK(t.error() == errc::daily_limit);
    REQUIRE(t.retry_after());
    CHECK(*t.retry_after() == 24h - 50s);
    CHECK(f.held("acme") == held_before);
    CHECK(f.available("acme") == avail_before);
    f.clock.advance(24h - 50s);
    CHECK(f.g.submit("acme", video(2), "k51"));
  }
  if (f.g.ledger().totals().operations == before.operations) CHECK(f.g.ledger().totals().held == before.held);
  CHECK(f.events.count("refused") >= 1);
  CHECK(f.g.ledger().check_invariants());
}

TEST_CASE("gate: the same key returns the same task; another job is a conflict", "[gate]") {
  fixture f;
  f.buy("acme", "10");
  auto a = f.g.submit("acme", video(10), "job-1");
  REQUIRE(a);
  auto b = f.g.submit("acme", video(10), "job-1");
  REQUIRE(b);
  CHECK(b->replayed);
  CHECK(b->id == a->id);
  CHECK(f.held("acme") == 50_cr);
  auto c = f.g.submit("acme", video(8), "job-1");
  REQUIRE_FALSE(c);
  CHECK(c.error() == errc::idempotency_conflict);
  SECTION("another account may use the same key") {
    f.buy("beta", "10");
    auto d = f.g.submit("beta", video(10), "job-1");
    REQUIRE(d);
    CHECK(d->id != a->id);
  }
  SECTION("after it finished, a retry still gets the task") {
    REQUIRE(f.g.complete(*a, seconds(10)));
    auto e = f.g.submit("acme", video(10), "job-1");
    REQUIRE(e);
    CHECK(e->replayed);
    CHECK(e->status == task_status::succeeded);
    CHECK(f.available("acme") == 950_cr);
  }
}

TEST_CASE("gate: throttled tasks start in FIFO order as others finish", "[gate]") {
  fixture f;
  f.buy("acme", "10");  // tier 1: one video job at a time
  auto t1 = f.g.submit("acme", video(2), "a");
  auto t2 = f.g.submit("acme", video(2), "b");
  auto t3 = f.g.submit("acme", video(2), "c");
  REQUIRE((t1 && t2 && t3));
  CHECK(t1->status == task_status::running);
  CHECK(t2->status == task_status::throttled);
  CHECK(t2->position == 1);
  CHECK(t3->position == 2);
  CHECK(f.held("acme") == 30_cr);  // throttled tasks hold their credits too
  SECTION("complete starts the next") {
    auto s = f.g.complete(*t1, seconds(2));
    REQUIRE(s);
    REQUIRE(s->started == std::vector<std::string>{t2->id});
    CHECK(f.g.get(*t2)->status == task_status::running);
    CHECK(f.g.get(*t3)->position == 1);
    REQUIRE(f.g.fail(*t2));
    CHECK(f.g.get(*t3)->status == task_status::running);
  }
  SECTION("cancel a queued task: it leaves the queue, refunded") {
    auto s = f.g.cancel(*t2);
    REQUIRE(s);
    CHECK(s->started.empty());
    CHECK(s->task.status == task_status::cancelled);
    CHECK(f.g.get(*t3)->position == 1);
    CHECK(f.held("acme") == 20_cr);
  }
  SECTION("cancel a running task: its slot goes to the queue's head") {
    auto s = f.g.cancel(*t1);
    REQUIRE(s);
    CHECK(s->started == std::vector<std::string>{t2->id});
    CHECK(f.available("acme") == 980_cr);
  }
  SECTION("a throttled task cannot complete or start") {
    CHECK(f.g.complete(*t2, seconds(2)).error() == errc::invalid_argument);
    CHECK(f.g.start(*t2).error() == errc::invalid_argument);
  }
  SECTION("models and accounts queue apart") {
    auto img = f.g.submit("acme", tollgate::job{.model = "gen4_image", .usage = {.resolution = "720p"}}, "img");
    REQUIRE(img);
    CHECK(img->status == task_status::running);
  }
}

TEST_CASE("gate: a promotion raises concurrency and starts queued tasks at once", "[gate]") {
  fixture f;
  f.buy("acme", "10");
  std::vector<tollgate::basic_task<time_point>> ts;
  for (int i = 0; i < 4; ++i) {
    auto t = f.g.submit("acme", video(2), fmt::format("k{}", i));
    REQUIRE(t);
    ts.push_back(*t);
  }
  CHECK(f.g.organization("acme")->queued == 3);
  f.clock.advance(24h);
  f.buy("acme", "40");  // $50 bought, a day old: tier 2, three video jobs at once
  CHECK(f.events.count("promotion") == 1);
  auto o = f.g.organization("acme");
  REQUIRE(o);
  CHECK(o->tier.value == 2);
  CHECK(o->running == 3);
  CHECK(o->queued == 1);
  CHECK(f.g.get(ts[1])->status == task_status::running);
  CHECK(f.g.get(ts[2])->status == task_status::running);
  CHECK(f.g.get(ts[3])->status == task_status::throttled);
}

TEST_CASE("gate: a promotion by age, found by the sweep, releases the queue", "[gate]") {
  fixture f;
  f.buy("acme", "60");
  auto t1 = f.g.submit("acme", video(2), "a");
  auto t2 = f.g.submit("acme", video(2), "b");
  REQUIRE((t1 && t2));
  CHECK(t2->status == task_status::throttled);
  f.clock.advance(24h);
  CHECK(f.g.sweep() == 1);
  CHECK(f.g.get(*t2)->status == task_status::running);
  CHECK(f.events.count("promotion") == 1);
}

TEST_CASE("gate: the spend cap refuses a purchase and records nothing", "[gate]") {
  fixture f;
  f.buy("acme", "60");
  auto r = f.g.purchase("acme", dollars("50"), "too-much");
  REQUIRE_FALSE(r);
  CHECK(r.error() == errc::monthly_spend_limit);
  CHECK(r.error().message().find("$40.00 can be bought now") != std::string::npos);
  CHECK(f.g.ledger().balance("acme")->purchased_usd == dollars("60"));
  SECTION("a retry of a purchase made replays, even at the cap") {
    REQUIRE(f.g.purchase("acme", dollars("40"), "fill"));
    auto again = f.g.purchase("acme", dollars("40"), "fill");
    REQUIRE(again);
    CHECK(again->replayed);
    CHECK(f.g.ledger().balance("acme")->purchased_usd == dollars("100"));
  }
}

TEST_CASE("gate: autobilling rescues a submission short of credits", "[gate]") {
  fixture f;
  f.buy("acme", "1");  // 100 credits
  REQUIRE(f.g.set_autobilling("acme", tollgate::autobilling_settings{
                                          .enabled = true,
                                          .threshold = 50_cr,
                                          .recharge = tollgate::fixed_recharge{dollars("5")}}));
  auto t = f.g.submit("acme", video(10, "gen4.5"), "big");  // 120 credits
  REQUIRE(t);
  CHECK(f.pay.charged() == 1);
  CHECK(f.events.count("recharge") == 1);
  CHECK(f.g.ledger().balance("acme")->purchased_usd == dollars("6"));
  CHECK(f.available("acme") == 480_cr);
  SECTION("without a gateway that pays, the refusal stands and nothing is left") {
    f.pay.s->script = {tollgate::payment_status::declined};
    auto u = f.g.submit("acme", video(10, "gen4_aleph"), "bigger");  // 150 credits: 480 left, enough
    REQUIRE(u);
    auto v = f.g.submit("acme", video(30, "gen4_aleph"), "huge");  // 450 > 330
    REQUIRE_FALSE(v);
    CHECK(v.error() == errc::insufficient_credits);
  }
}

TEST_CASE("gate: enterprise overrides apply per model; shadow ones are reported", "[gate]") {
  fixture f;
  f.buy("acme", "10");
  tollgate::account_overrides o;
  o.limits.push_back(tollgate::limit_override{.scope = tollgate::override_scope::model,
                                              .target = "gen4_turbo",
                                              .concurrent = tollgate::job_limit(2),
                                              .note = {"ops:alice", "launch"}});
  o.limits.push_back(tollgate::limit_override{.scope = tollgate::override_scope::group,
                                              .target = "video",
                                              .daily = tollgate::job_limit(1),
                                              .mode = tollgate::override_mode::shadow,
                                              .note = {"ops:alice", "trying a cap"}});
  REQUIRE(f.g.set_overrides("acme", o));
  auto a = f.g.submit("acme", video(2), "a");
  auto b = f.g.submit("acme", video(2), "b");
  REQUIRE((a && b));
  CHECK(b->status == task_status::running);  // two at once, by the override
  CHECK(f.events.count("shadow") >= 2);
  auto org = f.g.organization("acme");
  REQUIRE(org);
  for (const auto& m : org->models)
    if (m.model == "gen4_turbo") {
      CHECK(m.max_concurrent == tollgate::job_limit(2));
      CHECK(m.overridden);
      CHECK(m.daily_generations == 2);
    }
  SECTION("invalid overrides are refused") {
    tollgate::account_overrides bad;
    bad.limits.push_back(tollgate::limit_override{.target = "gen4_turbo", .note = {"x", "y"}});
    CHECK(f.g.set_overrides("acme", bad).error() == errc::invalid_argument);
  }
}

TEST_CASE("gate: the organization view and the usage report", "[gate]") {
  fixture f;
  f.buy("acme", "10");
  auto t = f.g.submit("acme", video(10), "a");
  REQUIRE(t);
  REQUIRE(f.g.complete(*t, seconds(10)));
  auto u = f.g.submit("acme", video(4), "b");
  REQUIRE(u);
  auto o = f.g.organization("acme");
  REQUIRE(o);
  CHECK(o->credit_balance == 930_cr);
  CHECK(o->held == 20_cr);
  CHECK(o->tier.value == 1);
  CHECK(o->max_monthly_credit_spend == 10000_cr);
  CHECK(o->spent_30_days == dollars("10"));
  CHECK(o->spend_left == tollgate::limit<usd>(dollars("90")));
  CHECK(o->next_tier == tollgate::tier_id{2});
  CHECK(o->next_purchases_needed == dollars("40"));
  CHECK(o->running == 1);
  const std::string text = to_text(*o);
  CHECK(text.find("Tier 1") != std::string::npos);
  CHECK(text.find("gen4_turbo") != std::string::npos);
  auto rep = f.g.usage("acme");
  REQUIRE(rep);
  REQUIRE(rep->results.size() == 30);
  CHECK(rep->results.back().used == std::vector<std::pair<std::string, credits>>{{"gen4_turbo", 50_cr}});
  CHECK(rep->models == std::vector<std::string>{"gen4_turbo"});
  CHECK(f.g.usage("acme", std::chrono::sys_days{} + std::chrono::days(100), std::chrono::sys_days{}).error() ==
        errc::invalid_argument);
}

TEST_CASE("gate: counters_observer prints Prometheus text", "[gate]") {
  struct traits : tollgate::gate_traits<clock_type> {
    using observer = tollgate::counters_observer;
  };
  clock_type clock{start()};
  tollgate::counters_observer counters;
  tollgate::basic_gate<traits> g(tollgate::basic_gate_options<>{}, clock, {}, counters);
  REQUIRE(g.purchase("acme", dollars("10"), "p"));
  auto t = g.submit("acme", video(10), "a");
  REQUIRE(t);
  REQUIRE(g.complete(*t, seconds(8)));
  CHECK_FALSE(g.submit("acme", video(10, "nope"), "b"));
  const auto fig = counters.read();
  CHECK(fig.task(tollgate::task_event_kind::admitted) == 1);
  CHECK(fig.task(tollgate::task_event_kind::completed) == 1);
  CHECK(fig.refused(errc::unknown_model) == 1);
  CHECK(fig.captured_micro == 40'000'000);
  CHECK(fig.refunded_micro == 10'000'000);
  const std::string text = counters.prometheus_text();
  CHECK(text.find("# TYPE tollgate_tasks_total counter\n") != std::string::npos);
  CHECK(text.find("tollgate_tasks_total{kind=\"completed\"} 1\n") != std::string::npos);
  CHECK(text.find("tollgate_refusals_total{reason=\"unknown_model\"} 1\n") != std::string::npos);
  CHECK(text.find("tollgate_captured_credits_total 40\n") != std::string::npos);
  CHECK(text.find("tollgate_purchased_usd_total 10\n") != std::string::npos);
}
