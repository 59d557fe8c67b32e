// fastest_purchases: buying as fast as each moment's spend cap allows, with
// the promotions that raise the cap on the way, on the default table: every
// purchase and the moment the account is done, to the micro-dollar and the
// day; the least an account at a tier can have done; a path past the horizon
// and a tier no path reaches.
#include <catch2/catch.hpp>

#include <chrono>
#include <vector>

#include <tollgate/tiers/purchase_path.hpp>
#include <tollgate/tiers/runway.hpp>

#include "support.hpp"

using namespace tollgate;
using namespace tiers_test;
using standing = basic_account_standing<time_point>;
using path = basic_purchase_path<time_point>;
using entry = basic_spend_entry<time_point>;
using std::chrono::days;

namespace {

const tier_table& table() { return runway_tier_table(); }

standing fresh() { return account_just_promoted(table(), 0, start()); }

std::vector<entry> bought(std::initializer_list<std::pair<days, const char*>> list) {
  std::vector<entry> out;
  for (const auto& [d, amount] : list) out.push_back({start() + d, dollars(amount)});
  return out;
}

}  // namespace

TEST_CASE("a fresh account buys $246.80: $100 now, the rest a day later at tier 2") {
  const path p = fastest_purchases(table(), fresh(), start(), dollars("246.80"), 0);
  REQUIRE(p.done_at);
  CHECK(*p.done_at == start() + days(1));
  CHECK(table().at(p.tier).id.value == 2);  // promoted on the way, by age
  CHECK(p.purchases == bought({{days(0), "100"}, {days(1), "146.80"}}));
  CHECK(p.total() == dollars("246.80"));
}

TEST_CASE("what fits under the cap is bought at once; a micro-dollar more waits for tier 2") {
  const path at_cap = fastest_purchases(table(), fresh(), start(), dollars("100"), 0);
  CHECK(at_cap.done_at == start());
  CHECK(at_cap.tier == 0);
  const path over = fastest_purchases(table(), fresh(), start(), dollars("100.000001"), 0);
  CHECK(over.done_at == start() + days(1));
  CHECK(over.purchases == bought({{days(0), "100"}, {days(1), "0.000001"}}));
  // Nothing to buy, at the account's own tier: done now.
  const path nothing = fastest_purchases(table(), fresh(), start(), usd{}, 0);
  CHECK(nothing.done_at == start());
  CHECK(nothing.purchases.empty());
}

TEST_CASE("reaching each tier from a fresh account with a plan of $246.80") {
  SECTION("tier 3: the plan's dollars are enough; 7 days of age") {
    const path p = fastest_purchases(table(), fresh(), start(), dollars("246.80"), 2);
    CHECK(p.done_at == start() + days(7));
    CHECK(p.tier == 2);
    CHECK(p.purchases == bought({{days(0), "100"}, {days(1), "146.80"}}));
  }
  SECTION("tier 4: $1,000 bought under the caps of tiers 1, 2 and 3; 14 days") {
    const path p = fastest_purchases(table(), fresh(), start(), dollars("246.80"), 3);
    CHECK(p.done_at == start() + days(14));
    CHECK(p.tier == 3);
    CHECK(p.purchases == bought({{days(0), "100"}, {days(1), "400"}, {days(7), "500"}}));
  }
  SECTION("tier 5: $5,000, the last $3,000 under tier 4's cap; 30 days") {
    const path p = fastest_purchases(table(), fresh(), start(), dollars("246.80"), 4);
    CHECK(p.done_at == start() + days(30));
    CHECK(p.tier == 4);
    CHECK(p.purchases == bought({{days(0), "100"}, {days(1), "400"}, {days(7), "1500"}, {days(14), "3000"}}));
    CHECK(p.total() == dollars("5000"));
  }
}

TEST_CASE("a spend cap that stays put: the purchases wait for the window to free") {
  // $350 at tier 1 when age alone leads nowhere cheaper: a table whose tier 2 needs $10,000.
  std::vector<tier> ts(table().tiers().begin(), table().tiers().begin() + 2);
  ts[1].criteria.purchased = dollars("10000");
  const tier_table two(table().groups(), ts);
  const path p = fastest_purchases(two, account_just_promoted(two, 0, start()), start(), dollars("350"), 0);
  CHECK(p.done_at == start() + days(90));
  CHECK(p.purchases == bought({{days(0), "100"}, {days(30), "100"}, {days(60), "100"}, {days(90), "50"}}));
}

TEST_CASE("past the horizon, and never") {
  std::vector<tier> ts(table().tiers().begin(), table().tiers().begin() + 2);
  SECTION("$1 a month toward $100,000: 100,000 windows, past 100 years") {
    ts[0].max_spend = spend_cap(dollars("1"));
    ts[1].criteria.purchased = dollars("100000");
    const tier_table slow(table().groups(), ts);
    const path p = fastest_purchases(slow, account_just_promoted(slow, 0, start()), start(), usd{}, 1);
    CHECK_FALSE(p.done_at);
    CHECK(p.purchases.size() == 1217);  // a purchase every 30 days for 36,500 days
  }
  SECTION("a tier that asks only for age, of an account with nothing to buy") {
    ts[1].criteria.purchased = usd{};
    const tier_table age_only(table().groups(), ts);
    const path p = fastest_purchases(age_only, account_just_promoted(age_only, 0, start()), start(), usd{}, 1);
    CHECK_FALSE(p.done_at);
    CHECK(p.purchases.empty());
    // With something to buy the age starts with the purchase.
    const path q = fastest_purchases(age_only, account_just_promoted(age_only, 0, start()), start(), dollars("1"), 1);
    CHECK(q.done_at == start() + days(1));
  }
}

TEST_CASE("the least an account at each tier can have done") {
  SECTION("tier 1: nothing bought") {
    const standing s = account_just_promoted(table(), 0, start());
    CHECK(s.facts.purchased.is_zero());
    CHECK_FALSE(s.facts.first_purchase);
    CHECK(s.recent.empty());
  }
  SECTION("tier 2: $50 a day ago, still in the window; tier 3 is $50 and 6 days away") {
    const standing s = account_just_promoted(table(), 1, start());
    CHECK(s.facts.purchased == dollars("50"));
    CHECK(s.facts.first_purchase == start() - days(1));
    CHECK(s.recent == std::vector<entry>{{start() - days(1), dollars("50")}});
    CHECK(tier_for(table(), s.facts, start()) == 1);
    const path p = fastest_purchases(table(), s, start(), usd{}, 2);
    CHECK(p.done_at == start() + days(6));
    CHECK(p.purchases == bought({{days(0), "50"}}));
  }
  SECTION("tier 5: $5,000 thirty days ago, out of the window") {
    const standing s = account_just_promoted(table(), 4, start());
    CHECK(s.facts.purchased == dollars("5000"));
    CHECK(s.recent.empty());
    CHECK(tier_for(table(), s.facts, start()) == 4);
  }
}
