// Automatic billing on the in-memory ledger: when it recharges and by how
// much, the spend cap and the monthly budget capping it, a recharge that lets
// a refused hold succeed, gateway declines and timeouts (a retried call never
// buys twice, also after a restart), switching off after 3 failures in a row,
// the low-balance event once per crossing, and the idempotency keys.
#include <catch2/catch.hpp>

#include <tollgate/tiers/autobilling.hpp>
#include <tollgate/tiers/codec.hpp>
#include <tollgate/tiers/runway.hpp>

#include "support.hpp"

using namespace tollgate;
using namespace tiers_test;
using Catch::Matchers::Contains;
using payment = payment_status;

namespace {

struct world {
  clock_type clk{start()};
  ledger_type ledger{{}, clk};
  recorder rec;
  book_type book{runway_tiers(), rec};
  fake_gateway gateway;
  ledger_bridge bridge{ledger, book};
  basic_autobiller<fake_gateway, ledger_bridge, clock_type, multi_thread, recorder> engine{gateway, bridge, clk, {},
                                                                                          rec};

  explicit world(const char* opening = "20") {
    if (usd(0) < dollars(opening)) REQUIRE(bridge.buy("acme", dollars(opening), "opening"));
  }
  credits available() { return ledger.balance("acme")->available; }
  // A job: hold what it costs, then tell the engine.
  recharge_outcome job(const char* cost, const std::string& key) {
    (void)ledger.hold("acme", cr(cost), key);
    return engine.on_balance_change("acme");
  }
};

autobilling_settings fixed(const char* threshold, const char* amount, std::optional<usd> budget = {}) {
  return {true, cr(threshold), fixed_recharge{dollars(amount)}, budget};
}
autobilling_settings target(const char* threshold, const char* balance) {
  return {true, cr(threshold), target_balance{cr(balance)}, std::nullopt};
}

}  // namespace

TEST_CASE("a recharge starts when a job leaves the balance under the threshold, not before") {
  world w;  // $20: 2000 credits
  REQUIRE(w.engine.configure("acme", fixed("500", "10")));
  CHECK(w.job("1500", "h1").status == recharge_status::not_needed);  // 500 left: not under 500
  CHECK(w.gateway.charged == 0);
  const auto r = w.job("0.000001", "h2");
  CHECK(r.status == recharge_status::recharged);
  CHECK(r.amount == dollars("10"));
  CHECK(r.key == "autobill:1:acme");
  CHECK(w.available() == cr("1499.999999"));
  CHECK(w.gateway.charged == 1);
  CHECK(w.engine.state("acme").next_seq == 2);
  // A recharge is an ordinary purchase: it counts for tiers and the spend cap.
  CHECK(w.ledger.balance("acme")->purchased_usd == dollars("30"));
}

TEST_CASE("a target balance recharges up to the target, in whole cents that buy at least that") {
  world w;
  REQUIRE(w.engine.configure("acme", target("1000", "2500")));
  const auto r = w.job("1200.5", "h1");  // 799.5 left
  CHECK(r.status == recharge_status::recharged);
  CHECK(r.amount == dollars("17.01"));  // 1700.5 credits at $0.01: $17.005, rounded up to a cent
  CHECK(w.available() == cr("2500.5"));
}

TEST_CASE("a recharge lets a hold that lacked credits succeed") {
  world w;  // 2000 credits
  REQUIRE(w.engine.configure("acme", target("100", "1000")));
  const auto refused = w.ledger.hold("acme", cr("3000"), "big");
  REQUIRE(refused.error() == errc::insufficient_credits);
  const auto r = w.engine.on_balance_change("acme", cr("3000"));  // what the hold needed
  CHECK(r.status == recharge_status::recharged);
  CHECK(r.amount == dollars("10"));  // up to 3000, the larger of the target and the need
  CHECK(w.ledger.hold("acme", cr("3000"), "big"));
}

TEST_CASE("the spend cap's room caps a recharge; with no room there is none") {
  world w("95");  // tier 1: $100 a month, $5 left
  REQUIRE(w.engine.configure("acme", fixed("10000", "50")));
  auto r = w.job("1", "h1");
  CHECK(r.status == recharge_status::recharged);
  CHECK(r.amount == dollars("5"));
  r = w.job("1", "h2");
  CHECK(r.status == recharge_status::capped);
  CHECK_THAT(r.message, Contains("the 30-day spend cap leaves $0.00"));
  CHECK(w.gateway.charged == 1);
  // Thirty days later the room is back.
  w.clk.advance(std::chrono::days(30));
  CHECK(w.engine.on_balance_change("acme").amount == dollars("50"));
}

TEST_CASE("the monthly recharge budget caps recharges on its own rolling window") {
  world w;
  REQUIRE(w.engine.configure("acme", fixed("100000", "25", dollars("60"))));
  CHECK(w.engine.on_balance_change("acme").amount == dollars("25"));
  w.clk.advance(std::chrono::days(1));
  CHECK(w.engine.on_balance_change("acme").amount == dollars("25"));
  w.clk.advance(std::chrono::days(1));
  auto r = w.engine.on_balance_change("acme");
  CHECK(r.amount == dollars("10"));
  CHECK(r.status == recharge_status::recharged);
  r = w.engine.on_balance_change("acme");
  CHECK(r.status == recharge_status::capped);
  CHECK_THAT(r.message, Contains("monthly recharge budget of $60.00 leaves $0.00"));
  // The first recharge leaves the budget's window 30 days after it, to the nanosecond.
  w.clk.set(start() + std::chrono::days(30) - 1ns);
  CHECK(w.engine.on_balance_change("acme").status == recharge_status::capped);
  w.clk.set(start() + std::chrono::days(30));
  CHECK(w.engine.on_balance_change("acme").amount == dollars("25"));
}

TEST_CASE("a declined payment buys nothing; three failures in a row switch autobilling off") {
  world w;
  REQUIRE(w.engine.configure("acme", fixed("100000", "10")));
  w.gateway.script = {payment::declined, payment::declined, payment::declined};
  auto r = w.engine.on_balance_change("acme");
  CHECK(r.status == recharge_status::declined);
  CHECK(r.message == "card declined");
  CHECK(w.engine.on_balance_change("acme").key == "autobill:2:acme");  // a new recharge, a new key
  CHECK(w.rec.l->disabled == 0);
  CHECK(w.engine.on_balance_change("acme").status == recharge_status::declined);
  CHECK(w.rec.l->disabled == 1);
  CHECK(w.rec.lines().back() == "autobilling off acme after 3: card declined");
  CHECK_FALSE(w.engine.settings("acme")->enabled);
  CHECK(w.engine.on_balance_change("acme").status == recharge_status::not_enabled);
  CHECK(w.gateway.charged == 0);
  CHECK(w.bridge.buys == 1);  // the opening purchase only
  // Switched on again, it starts afresh.
  REQUIRE(w.engine.configure("acme", fixed("100000", "10")));
  CHECK(w.engine.state("acme").failures == 0);
  CHECK(w.engine.on_balance_change("acme").status == recharge_status::recharged);
}

TEST_CASE("a success resets the count of failures in a row") {
  world w;
  REQUIRE(w.engine.configure("acme", fixed("100000", "10")));
  w.gateway.script = {payment::declined, payment::declined, payment::succeeded, payment::declined,
                      payment::declined};
  for (int i = 0; i < 5; ++i) (void)w.engine.on_balance_change("acme");
  CHECK(w.engine.settings("acme")->enabled);
  CHECK(w.engine.state("acme").failures == 2);
}

TEST_CASE("a gateway timeout is retried with the same key, and never buys twice") {
  world w;
  REQUIRE(w.engine.configure("acme", fixed("100000", "10")));
  SECTION("answered on a retry within the call") {
    w.gateway.script = {payment::unknown};
    const auto r = w.engine.on_balance_change("acme");
    CHECK(r.status == recharge_status::recharged);
    CHECK(w.gateway.calls == std::vector<std::string>{"autobill:1:acme", "autobill:1:acme"});
    CHECK(w.gateway.charged == 1);
  }
  SECTION("no answer in this call: the next call resumes the same recharge") {
    w.gateway.script = {payment::unknown};
    w.gateway.timeout_then = payment::unknown;  // stays unanswered for now
    auto r = w.engine.on_balance_change("acme");
    CHECK(r.status == recharge_status::unsettled);
    CHECK(w.gateway.calls.size() == 3);  // gateway_attempts
    CHECK(w.engine.state("acme").pending->seq == 1);
    w.gateway.timeout_then = payment::succeeded;  // the provider did charge it in the end
    w.clk.advance(1h);
    // The balance changed meanwhile (another job); the resumed recharge keeps its amount.
    (void)w.ledger.hold("acme", cr("500"), "h");
    r = w.engine.on_balance_change("acme");
    CHECK(r.status == recharge_status::recharged);
    CHECK(r.key == "autobill:1:acme");
    CHECK(r.amount == dollars("10"));
    CHECK(w.gateway.charged == 1);
    CHECK(w.ledger.balance("acme")->purchased_usd == dollars("30"));
  }
  SECTION("paid but the ledger refused the purchase: credited later under the same key, once") {
    w.bridge.fail_buys = true;
    auto r = w.engine.on_balance_change("acme");
    CHECK(r.status == recharge_status::not_credited);
    CHECK(r.message == "disk full");
    w.bridge.fail_buys = false;
    r = w.engine.on_balance_change("acme");
    CHECK(r.status == recharge_status::recharged);
    CHECK(r.key == "autobill:1:acme");
    CHECK(w.gateway.charged == 1);
    CHECK(w.ledger.balance("acme")->purchased_usd == dollars("30"));
    CHECK(w.engine.state("acme").failures == 0);
  }
}

TEST_CASE("a restart mid-recharge resumes it from the stored state: the customer pays once") {
  world w;
  REQUIRE(w.engine.configure("acme", fixed("100000", "10")));
  w.gateway.script = {payment::unknown};
  w.gateway.timeout_then = payment::unknown;
  REQUIRE(w.engine.on_balance_change("acme").status == recharge_status::unsettled);
  // What the ledger would hold for the account, as bytes.
  const std::string settings = encode_tier_state(*w.engine.settings("acme"));
  const std::string state = encode_tier_state(w.engine.state("acme"));
  w.gateway.timeout_then = payment::succeeded;
  basic_autobiller<fake_gateway, ledger_bridge, clock_type> restarted(w.gateway, w.bridge, w.clk);
  restarted.restore("acme", *decode_tier_state<autobilling_settings>(settings),
                    *decode_tier_state<basic_autobilling_state<time_point>>(state));
  const auto r = restarted.on_balance_change("acme");
  CHECK(r.status == recharge_status::recharged);
  CHECK(r.key == "autobill:1:acme");
  CHECK(w.gateway.charged == 1);
  // And the ledger side is idempotent too: buying again under the key changes nothing.
  REQUIRE(w.bridge.buy("acme", dollars("10"), "autobill:1:acme"));
  CHECK(w.ledger.balance("acme")->purchased_usd == dollars("30"));
}

TEST_CASE("unanswered recharges count as failures too, and the pending one survives switching off") {
  world w;
  REQUIRE(w.engine.configure("acme", fixed("100000", "10")));
  w.gateway.script = {payment::unknown};
  w.gateway.timeout_then = payment::unknown;
  for (int i = 0; i < 3; ++i) CHECK(w.engine.on_balance_change("acme").status == recharge_status::unsettled);
  CHECK_FALSE(w.engine.settings("acme")->enabled);
  CHECK(w.rec.l->disabled == 1);
  REQUIRE(w.engine.state("acme").pending);
  w.gateway.timeout_then = payment::succeeded;
  REQUIRE(w.engine.configure("acme", fixed("100000", "99")));  // a new amount does not touch the pending one
  const auto r = w.engine.on_balance_change("acme");
  CHECK(r.key == "autobill:1:acme");
  CHECK(r.amount == dollars("10"));
  CHECK(w.gateway.charged == 1);
}

TEST_CASE("the low-balance event fires once per crossing of the threshold") {
  world w;  // 2000 credits
  REQUIRE(w.engine.configure("acme", {false, cr("500"), fixed_recharge{dollars("10")}, std::nullopt}));
  CHECK(w.job("1400", "h1").status == recharge_status::not_enabled);  // 600
  CHECK(w.rec.l->low == 0);
  (void)w.job("200", "h2");  // 400: crossed
  (void)w.job("100", "h3");  // 300: still under, no new event
  (void)w.job("100", "h4");
  CHECK(w.rec.l->low == 1);
  CHECK(w.rec.lines().back() == "low acme 400 < 500");
  REQUIRE(w.bridge.buy("acme", dollars("5"), "manual"));  // back above: 700
  (void)w.engine.on_balance_change("acme");
  (void)w.job("300", "h5");  // 400 again: a second crossing
  CHECK(w.rec.l->low == 2);
  // A hold refused for lack of credits is a crossing too, even above the threshold.
  REQUIRE(w.bridge.buy("acme", dollars("10"), "manual2"));
  (void)w.engine.on_balance_change("acme");
  (void)w.engine.on_balance_change("acme", cr("5000"));
  CHECK(w.rec.l->low == 3);
}

TEST_CASE("accounts without autobilling are left alone") {
  world w;
  CHECK(w.engine.on_balance_change("acme").status == recharge_status::not_enabled);
  CHECK(w.engine.on_balance_change("nobody").status == recharge_status::not_enabled);
  CHECK_FALSE(w.engine.settings("acme"));
}

TEST_CASE("settings that cannot work are refused") {
  world w;
  const auto refused = [&](autobilling_settings s) {
    const auto r = w.engine.configure("acme", s);
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::invalid_argument);
    return r.error().message();
  };
  CHECK_THAT(refused(fixed("-1", "10")), Contains("threshold: must not be negative"));
  CHECK_THAT(refused(fixed("1", "0")), Contains("positive number of whole cents"));
  CHECK_THAT(refused(fixed("1", "10.001")), Contains("positive number of whole cents"));
  CHECK_THAT(refused(target("500", "500")), Contains("must be above the threshold"));
  CHECK_THAT(refused(fixed("1", "10", usd{})), Contains("monthly_budget: must be positive"));
  CHECK_FALSE(w.engine.settings("acme"));
}

TEST_CASE("recharge keys are deterministic and fit the ledger's 128 bytes") {
  CHECK(recharge_key("acme", 1) == "autobill:1:acme");
  CHECK(recharge_key("acme", 18446744073709551615ull) == "autobill:18446744073709551615:acme");
  const std::string long_a(128, 'a');
  std::string long_b = long_a;
  long_b.back() = 'b';
  const std::string ka = recharge_key(long_a, 7), kb = recharge_key(long_b, 7);
  CHECK(ka.size() == 128);
  CHECK(kb.size() == 128);
  CHECK(ka != kb);
  CHECK(ka == recharge_key(long_a, 7));
  CHECK(recharge_key(long_a, 18446744073709551615ull).size() == 128);
}
