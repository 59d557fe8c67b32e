// Autobilling under threads (also run under ThreadSanitizer): 16 threads
// racing past the threshold start one recharge, never two at once for an
// account, and none is missed; many accounts recharge side by side.
#include <catch2/catch.hpp>

#include <barrier>
#include <thread>
#include <vector>

#include <tollgate/tiers/autobilling.hpp>
#include <tollgate/tiers/runway.hpp>

#include "support.hpp"

using namespace tollgate;
using namespace tiers_test;

namespace {

struct world {
  clock_type clk{start()};
  ledger_type ledger{{}, clk};
  book_type book{runway_tiers()};
  fake_gateway gateway;
  ledger_bridge bridge{ledger, book};
  basic_autobiller<fake_gateway, ledger_bridge, clock_type> engine{gateway, bridge, clk};
};

}  // namespace

TEST_CASE("16 threads racing past the threshold: one recharge in flight, one made") {
  int raced = 0;  // calls that found a recharge in flight, over all rounds
  for (int round = 0; round < 20; ++round) {
    world w;
    REQUIRE(w.bridge.buy("acme", dollars("20"), "opening"));  // 2000 credits
    REQUIRE(w.engine.configure("acme", {true, cr("1000"), target_balance{cr("5000")}, std::nullopt}));
    w.gateway.spin = 200;  // linger in the gateway: the others arrive meanwhile
    constexpr int threads = 16;
    std::barrier start_line(threads);
    std::atomic<int> in_flight_answers{0}, recharged{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t)
      ts.emplace_back([&, t] {
        start_line.arrive_and_wait();
        // Each job takes 100 credits: together 1600, past the threshold.
        (void)w.ledger.hold("acme", cr("100"), fmt::format("job-{}-{}", round, t));
        const auto r = w.engine.on_balance_change("acme");
        if (r.status == recharge_status::in_flight) ++in_flight_answers;
        if (r.status == recharge_status::recharged) ++recharged;
      });
    for (auto& t : ts) t.join();
    INFO("round " << round);
    CHECK(w.gateway.max_in_flight == 1);
    // The recharge restores 5000 credits whatever the holds took before or
    // after it read the balance; any later look finds the balance above 1000.
    CHECK(w.gateway.charged >= 1);
    CHECK(w.gateway.charged == recharged.load());
    CHECK(w.gateway.charged == static_cast<int>(w.gateway.by_key.size()));  // one key each, never reused
    CHECK(w.ledger.balance("acme")->available >= cr("1000"));
    CHECK_FALSE(w.engine.state("acme").pending);
    raced += in_flight_answers.load();
  }
  CHECK(raced > 0);  // the race happened
}

TEST_CASE("a fixed recharge too small for the load: recharges follow one another, never overlap") {
  world w;
  REQUIRE(w.bridge.buy("acme", dollars("2"), "opening"));  // 200 credits
  REQUIRE(w.engine.configure("acme", {true, cr("150"), fixed_recharge{dollars("1")}, std::nullopt}));
  w.gateway.spin = 50;
  constexpr int threads = 16;
  std::barrier start_line(threads);
  std::atomic<int> held{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      start_line.arrive_and_wait();
      for (int i = 0; i < 20; ++i) {
        if (w.ledger.hold("acme", cr("10"), fmt::format("job-{}-{}", t, i))) ++held;
        (void)w.engine.on_balance_change("acme");
      }
    });
  for (auto& t : ts) t.join();
  CHECK(w.gateway.max_in_flight == 1);
  CHECK(w.gateway.charged == static_cast<int>(w.gateway.by_key.size()));
  CHECK(w.gateway.charged > 1);
  // Every recharge the gateway made is in the ledger, once.
  CHECK(w.ledger.balance("acme")->available == cr("200") + credits(100) * w.gateway.charged - credits(10) * held.load());
  CHECK(w.engine.state("acme").next_seq == static_cast<std::uint64_t>(w.gateway.charged) + 1);
  // Nothing is left holding the account: the next call looks at the balance.
  CHECK(w.engine.on_balance_change("acme").status != recharge_status::in_flight);
}

TEST_CASE("accounts recharge side by side; each has its own sequence of keys") {
  world w;
  constexpr int accounts = 8;
  for (int a = 0; a < accounts; ++a) {
    const std::string name = fmt::format("acct-{}", a);
    REQUIRE(w.bridge.buy(name, dollars("1"), "open-" + name));
    REQUIRE(w.engine.configure(name, {true, cr("100000"), fixed_recharge{dollars("5")}, std::nullopt}));
  }
  std::vector<std::thread> ts;
  for (int a = 0; a < accounts; ++a)
    ts.emplace_back([&, a] {
      const std::string name = fmt::format("acct-{}", a);
      for (int i = 0; i < 4; ++i) (void)w.engine.on_balance_change(name);
    });
  for (auto& t : ts) t.join();
  for (int a = 0; a < accounts; ++a) {
    const std::string name = fmt::format("acct-{}", a);
    CHECK(w.engine.state(name).next_seq == 5);
    CHECK(w.gateway.by_key.count(recharge_key(name, 4)) == 1);
  }
  CHECK(w.gateway.charged == accounts * 4);
}
