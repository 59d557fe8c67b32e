// Promotion as a pure function: every threshold exactly ($49.99 vs $50.00, one
// nanosecond short of an age), the highest tier whose criteria hold, never
// below the recorded tier (also after a table with higher thresholds), and
// what the next promotion needs and when age alone brings it.
#include <catch2/catch.hpp>

#include <tollgate/tiers/promotion.hpp>
#include <tollgate/tiers/runway.hpp>

#include "support.hpp"

using namespace tollgate;
using namespace tiers_test;
using facts = basic_account_facts<time_point>;

namespace {

const tier_table& table() { return runway_tier_table(); }

facts bought(const char* amount, std::optional<time_point> first, std::uint32_t recorded = 0) {
  return facts{dollars(amount), first, tier_id{recorded}};
}

std::uint32_t tier_at(const facts& f, time_point now) { return table().at(tier_for(table(), f, now)).id.value; }

// A copy of the default table with every threshold raised (a later reload).
tier_table stricter() {
  std::vector<tier> ts(table().tiers().begin(), table().tiers().end());
  for (std::size_t i = 1; i < ts.size(); ++i) {
    ts[i].criteria.purchased = ts[i].criteria.purchased * 10;
    ts[i].criteria.min_age = ts[i].criteria.min_age * 2;
  }
  return tier_table(table().groups(), ts);
}

}  // namespace

TEST_CASE("$49.99 is tier 1 and $50.00 is tier 2, a day after the first purchase") {
  const time_point t0 = start();
  const time_point later = t0 + 48h;
  CHECK(tier_at(bought("49.99", t0), later) == 1);
  CHECK(tier_at(bought("49.999999", t0), later) == 1);
  CHECK(tier_at(bought("50.00", t0), later) == 2);
  CHECK(tier_at(bought("50", t0), later) == 2);
}

TEST_CASE("6 days 23:59:59 is not 7 days; 7 days is") {
  const time_point t0 = start();
  const facts f = bought("100", t0);
  CHECK(tier_at(f, t0 + std::chrono::days(6) + 23h + 59min + 59s) == 2);
  CHECK(tier_at(f, t0 + std::chrono::days(7) - 1ns) == 2);
  CHECK(tier_at(f, t0 + std::chrono::days(7)) == 3);
}

TEST_CASE("every threshold of the default table, exactly: a micro-dollar or a nanosecond short is not enough") {
  const time_point t0 = start();
  for (std::size_t i = 1; i < table().size(); ++i) {
    const promotion_criteria& c = table().at(i).criteria;
    const std::uint32_t id = table().at(i).id.value;
    INFO("tier " << id);
    const time_point exact = t0 + c.min_age;
    const usd short_money = c.purchased - usd::from_raw(1);
    CHECK(tier_at(facts{c.purchased, t0, {}}, exact) == id);
    CHECK(tier_at(facts{short_money, t0, {}}, exact) == id - 1);
    CHECK(tier_at(facts{c.purchased, t0, {}}, exact - 1ns) == id - 1);
    CHECK(tier_at(facts{c.purchased, t0, {}}, exact - 1s) == id - 1);
  }
}

TEST_CASE("the highest tier whose criteria hold: buying $5,000 on day one waits 30 days for tier 5") {
  const time_point t0 = start();
  const facts f = bought("5000", t0);
  CHECK(tier_at(f, t0) == 1);  // every tier above 1 asks for some age
  CHECK(tier_at(f, t0 + 24h) == 2);
  CHECK(tier_at(f, t0 + std::chrono::days(7)) == 3);
  CHECK(tier_at(f, t0 + std::chrono::days(14)) == 4);
  CHECK(tier_at(f, t0 + std::chrono::days(30)) == 5);
  // Old enough at once: straight from 1 to 5.
  CHECK(tier_at(f, t0 + std::chrono::days(365)) == 5);
}

TEST_CASE("no purchase, no age: the entry tier, whatever the clock") {
  CHECK(tier_at(facts{}, start()) == 1);
  CHECK(tier_at(facts{}, time_point::max()) == 1);
  CHECK(tier_at(bought("0", std::nullopt), start()) == 1);
  // Dollars without a first purchase time (inconsistent figures) count no age.
  CHECK(tier_at(bought("10000", std::nullopt), start()) == 1);
}

TEST_CASE("never below the recorded tier") {
  const time_point t0 = start();
  SECTION("figures that no longer qualify") {
    CHECK(tier_at(bought("0", std::nullopt, 4), t0) == 4);
    CHECK(tier_at(bought("60", t0, 3), t0 + 48h) == 3);
  }
  SECTION("a reloaded table with higher thresholds") {
    const tier_table strict = stricter();
    const facts f = bought("1000", t0, 4);
    CHECK(strict.at(tier_for(strict, f, t0 + std::chrono::days(14))).id == tier_id{4});
    // Without the record the stricter table would say tier 3.
    CHECK(strict.at(tier_for(strict, bought("1000", t0), t0 + std::chrono::days(14))).id == tier_id{3});
  }
  SECTION("a clock that steps back before the first purchase") {
    CHECK(tier_at(bought("100", t0, 3), t0 - 1h) == 3);
    CHECK(tier_at(bought("100", t0), t0 - 1h) == 1);
  }
  SECTION("a record above the table: its top tier") {
    CHECK(tier_at(bought("0", std::nullopt, 77), t0) == 5);
  }
}

TEST_CASE("readings at the ends of the clock's range neither wrap nor promote early") {
  const facts f = bought("100", time_point::min());
  CHECK(tier_at(f, time_point::max()) == 3);  // the difference overflows int64: long enough
  CHECK(tier_at(bought("100", time_point::max()), time_point::min()) == 1);
  const auto o = promotion_outlook(table(), bought("5000", time_point::max() - 1h), time_point::max() - 1h);
  REQUIRE(o.due_at);
  CHECK(*o.due_at == time_point::max());  // saturated, not wrapped into the past
}

TEST_CASE("the outlook: what the next tier needs, and when age alone promotes") {
  const time_point t0 = start();
  SECTION("before any purchase") {
    const auto o = promotion_outlook(table(), facts{}, t0);
    CHECK(o.current == 0);
    CHECK(o.next == 1u);
    CHECK(o.purchases_needed == dollars("50"));
    CHECK(o.needs_first_purchase);
    CHECK_FALSE(o.old_enough_at);
    CHECK_FALSE(o.due_at);
  }
  SECTION("$60 bought an hour ago: tier 2 needs no more money, only age") {
    const auto o = promotion_outlook(table(), bought("60", t0), t0 + 1h);
    CHECK(o.current == 0);
    CHECK(o.purchases_needed == usd{});
    CHECK(o.old_enough_at == t0 + 24h);
    CHECK(o.due_at == t0 + 24h);
  }
  SECTION("$1,500 on day 2: tier 2 now; tier 3 at day 7, tier 4 at day 14 (due is the first)") {
    const auto o = promotion_outlook(table(), bought("1500", t0), t0 + 48h);
    CHECK(o.current == 1);
    CHECK(o.next == 2u);
    CHECK(o.purchases_needed == usd{});
    CHECK(o.old_enough_at == t0 + std::chrono::days(7));
    CHECK(o.due_at == t0 + std::chrono::days(7));
  }
  SECTION("$20 on day 10: money is missing, so age alone promotes nothing") {
    const auto o = promotion_outlook(table(), bought("20", t0), t0 + std::chrono::days(10));
    CHECK(o.current == 0);
    CHECK(o.purchases_needed == dollars("30"));
    CHECK(o.old_enough_at == t0 + 24h);
    CHECK_FALSE(o.due_at);
  }
  SECTION("at the top") {
    const auto o = promotion_outlook(table(), bought("9000", t0), t0 + std::chrono::days(40));
    CHECK(o.current == 4);
    CHECK_FALSE(o.next);
    CHECK_FALSE(o.due_at);
  }
}

TEST_CASE("criteria that ask for nothing but age count from the first purchase") {
  std::vector<tier> ts(table().tiers().begin(), table().tiers().end());
  ts[1].criteria = promotion_criteria{usd{}, std::chrono::days(3)};
  const tier_table t(table().groups(), ts);
  const time_point t0 = start();
  CHECK(tier_for(t, facts{}, t0 + std::chrono::days(100)) == 0);  // no purchase: no age
  CHECK(tier_for(t, bought("1", t0), t0 + std::chrono::days(3)) == 1);
  CHECK(promotion_outlook(t, facts{}, t0).needs_first_purchase);
}
