// The worked example of docs/tiers.md, step by step: every figure the page
// shows is checked here (change one, change both).
#include <catch2/catch.hpp>

#include <algorithm>

#include <tollgate/tiers/autobilling.hpp>
#include <tollgate/tiers/book.hpp>
#include <tollgate/tiers/runway.hpp>

#include "support.hpp"

using namespace tollgate;
using namespace tiers_test;

TEST_CASE("docs/tiers.md: the worked example") {
  clock_type clk(start() + 9h);  // 2026-11-01 09:00 UTC
  ledger_type ledger({}, clk);
  recorder rec;
  book_type book(runway_tiers(), rec);
  // What the host (the gate, later) does for a purchase: check, buy, tell the book.
  const auto buy = [&](const char* amount) -> result<void> {
    const time_point now = clk.now();
    if (auto ok = book.check_purchase("acme", dollars(amount), window_of(ledger, "acme", now), now); !ok) return ok;
    if (auto r = ledger.purchase("acme", dollars(amount), fmt::format("buy-{}-{}", amount, now.time_since_epoch().count())); !r)
      return r.error();
    const auto b = *ledger.balance("acme");
    book.after_purchase("acme", b.purchased_usd, b.first_purchase, window_of(ledger, "acme", now), now);
    return {};
  };
  const auto tier_now = [&] { return book.table()->at(book.tier_of("acme", clk.now())).id.value; };

  // 1. Nov 1, 09:00: $40. Tier 1; tier 2 needs $10 more and is old enough on Nov 2, 09:00.
  REQUIRE(buy("40"));
  CHECK(tier_now() == 1);
  const basic_account_facts<time_point> f{dollars("40"), clk.now(), book.record("acme").tier};
  const auto outlook = promotion_outlook(*book.table(), f, clk.now());
  CHECK(outlook.purchases_needed == dollars("10"));
  CHECK(outlook.old_enough_at == start() + 24h + 9h);

  // 2. Nov 2, 10:00: $20 more, $60 in all, 25 hours after the first purchase: tier 2 at once.
  clk.set(start() + 24h + 10h);
  REQUIRE(buy("20"));
  CHECK(tier_now() == 2);
  CHECK(book.spend_cap_of("acme", clk.now()).enforced == spend_cap(dollars("500")));

  // 3. Nov 3, 12:00: $450 would make $510 in 30 days, over tier 2's $500.
  clk.set(start() + 48h + 12h);
  const auto refused = buy("450");
  REQUIRE(refused.error() == errc::monthly_spend_limit);
  CHECK(refused.error().message() ==
        "account 'acme': a purchase of $450.00 would take the purchases of the last 30 days to $510.00, over the "
        "30-day spend cap of $500.00. $440.00 can be bought now; $40.00 more frees up at 2026-12-01 09:00:00 UTC "
        "(in 27 days 21:00:00); the whole $450.00 can be bought from 2026-12-01 09:00:00 UTC.");
  CHECK(ledger.balance("acme")->purchased_usd == dollars("60"));  // nothing recorded

  // 4. $440 instead: $500 in 30 days, 100% of the cap; the three alerts at once.
  REQUIRE(buy("440"));
  CHECK(rec.lines() == std::vector<std::string>{"promotion acme 1->2 purchase", "spend acme 50% $500.00 of $500.00",
                                                "spend acme 80% $500.00 of $500.00",
                                                "spend acme 100% $500.00 of $500.00"});
  CHECK(book.next_due("acme") == start() + std::chrono::days(7) + 9h);  // tier 3: $100 and 7 days

  // 5. Nov 8, 09:00: the sweep promotes acme to tier 3 by age alone; its cap is now $2,000.
  clk.set(start() + std::chrono::days(7) + 9h);
  const auto promoted = book.due_promotions(clk.now());
  REQUIRE(promoted.size() == 1);
  CHECK(promoted[0].to == tier_id{3});
  CHECK(promoted[0].cause == promotion_cause::age);
  CHECK(book.spend_cap_of("acme", clk.now()).enforced == spend_cap(dollars("2000")));
  CHECK_FALSE(book.next_due("acme"));  // tier 4 needs $1,000: money, not time

  // 6. Autobilling: under 10,000 credits, back up to 30,000, at most $250 a month.
  fake_gateway gateway;
  ledger_bridge bridge{ledger, book};
  basic_autobiller<fake_gateway, ledger_bridge, clock_type, multi_thread, recorder> autobill(gateway, bridge, clk, {},
                                                                                            rec);
  REQUIRE(autobill.configure("acme", {true, cr("10000"), target_balance{cr("30000")}, dollars("250")}));
  CHECK(ledger.balance("acme")->available == cr("50000"));
  REQUIRE(ledger.charge("acme", cr("41000"), "job-1"));  // leaves 9,000
  auto r = autobill.on_balance_change("acme");
  CHECK(r.status == recharge_status::recharged);
  CHECK(r.amount == dollars("210"));  // 21,000 credits at $0.01
  CHECK(r.key == "autobill:1:acme");
  CHECK(ledger.balance("acme")->available == cr("30000"));

  // 7. A job of 25,000 leaves 5,000: 25,000 credits would cost $250, the budget has $40 left.
  REQUIRE(ledger.charge("acme", cr("25000"), "job-2"));
  r = autobill.on_balance_change("acme");
  CHECK(r.status == recharge_status::recharged);
  CHECK(r.amount == dollars("40"));
  CHECK(r.key == "autobill:2:acme");
  CHECK(r.message == "the monthly recharge budget of $250.00 leaves $40.00");
  CHECK(ledger.balance("acme")->available == cr("9000"));
  CHECK(ledger.balance("acme")->purchased_usd == dollars("750"));
  // The low balance was heard once per crossing: at 9,000 and at 5,000.
  const auto lines = rec.lines();
  CHECK(std::count(lines.begin(), lines.end(), "low acme 9000 < 10000") == 1);
  CHECK(std::count(lines.begin(), lines.end(), "low acme 5000 < 10000") == 1);
  CHECK(rec.l->low == 2);
  CHECK(tier_now() == 3);
}
