// The tier book: promotions recorded and reported once, by purchase and by
// age (the sweep touches only the accounts due), never a demotion through any
// sequence of figures, table reloads and restarts; spend cap checks (enforced
// and shadow) and spend alerts once per crossing; and a randomized run of
// purchases, holds and time steps on the in-memory ledger against a reference
// model of the table.
#include <catch2/catch.hpp>

#include <map>
#include <random>

#include <tollgate/tiers/book.hpp>
#include <tollgate/tiers/codec.hpp>
#include <tollgate/tiers/runway.hpp>

#include "support.hpp"

using namespace tollgate;
using namespace tiers_test;

namespace {

tier_table looser() {
  std::vector<tier> ts(runway_tier_table().tiers().begin(), runway_tier_table().tiers().end());
  for (std::size_t i = 1; i < ts.size(); ++i) ts[i].criteria.min_age = std::chrono::days(0);
  return tier_table(runway_tier_table().groups(), ts);
}

tier_table stricter() {
  std::vector<tier> ts(runway_tier_table().tiers().begin(), runway_tier_table().tiers().end());
  for (std::size_t i = 1; i < ts.size(); ++i) ts[i].criteria.purchased = ts[i].criteria.purchased * 100;
  return tier_table(runway_tier_table().groups(), ts);
}

}  // namespace

TEST_CASE("a purchase that qualifies records the promotion once and tells the observer") {
  recorder rec;
  book_type book(runway_tiers(), rec);
  const time_point t0 = start();
  CHECK(book.touch("acme", dollars("60"), t0, t0) == 0);
  CHECK(book.record("acme").tier == tier_id{0});  // nothing recorded: the entry tier
  CHECK(book.next_due("acme") == t0 + 24h);
  CHECK(book.touch("acme", dollars("60"), t0, t0 + 24h) == 1);
  CHECK(book.record("acme").tier == tier_id{2});
  CHECK(book.record("acme").promoted_at == t0 + 24h);
  CHECK(book.touch("acme", dollars("60"), t0, t0 + 25h) == 1);  // no second event
  CHECK(rec.lines() == std::vector<std::string>{"promotion acme 1->2 purchase"});
  CHECK(book.tier_of("acme", t0 + 25h) == 1);
  CHECK(book.tier_of("nobody", t0) == 0);
}

TEST_CASE("due_promotions promotes by age with no purchase, and only the accounts due") {
  recorder rec;
  book_type book(runway_tiers(), rec);
  const time_point t0 = start();
  book.touch("early", dollars("150"), t0, t0);            // tier 2 at +1 day, tier 3 at +7
  book.touch("late", dollars("150"), t0 + 48h, t0 + 48h);  // tier 2 at +3 days
  book.touch("poor", dollars("10"), t0, t0);              // waits for money, not time
  CHECK(book.due_promotions(t0 + 24h - 1ns).empty());
  auto p = book.due_promotions(t0 + 24h);
  REQUIRE(p.size() == 1);
  CHECK(p[0].account == "early");
  CHECK(p[0].to == tier_id{2});
  CHECK(p[0].cause == promotion_cause::age);
  CHECK(book.next_due("early") == t0 + std::chrono::days(7));
  CHECK(book.record("late").tier == tier_id{0});
  CHECK_FALSE(book.next_due("poor"));
  // A sweep long after: each account takes its highest tier in one step.
  p = book.due_promotions(t0 + std::chrono::days(30));
  REQUIRE(p.size() == 2);
  std::map<std::string, std::uint32_t> to;
  for (const auto& x : p) to[x.account] = x.to.value;
  CHECK(to == std::map<std::string, std::uint32_t>{{"early", 3}, {"late", 3}});
  CHECK(rec.lines().size() == 3);
}

TEST_CASE("no demotion through any reload of the table, and a looser table promotes") {
  recorder rec;
  book_type book(runway_tiers(), rec);
  const time_point t0 = start();
  book.touch("a", dollars("1000"), t0, t0 + std::chrono::days(14));
  REQUIRE(book.record("a").tier == tier_id{4});
  book.touch("b", dollars("100"), t0, t0 + 1h);
  REQUIRE(book.record("b").tier == tier_id{0});
  CHECK(book.set_table(stricter(), t0 + std::chrono::days(15)).empty());
  CHECK(book.record("a").tier == tier_id{4});
  CHECK(book.tier_of("a", t0 + std::chrono::days(15)) == 3);
  const auto p = book.set_table(looser(), t0 + std::chrono::days(15));
  REQUIRE(p.size() == 1);
  CHECK(p[0].account == "b");
  CHECK(p[0].to == tier_id{3});
  CHECK(p[0].cause == promotion_cause::table);
  // Back to the default table: still no one moves down.
  book.set_table(runway_tiers(), t0 + std::chrono::days(15));
  CHECK(book.record("b").tier == tier_id{3});
  CHECK(book.tier_of("b", t0 + std::chrono::days(15)) == 2);
}

TEST_CASE("a restart: records restored from their bytes, promotions the record missed made up") {
  const time_point t0 = start();
  std::map<std::string, std::string> stored;  // what the ledger would keep
  {
    book_type book(runway_tiers());
    book.touch("a", dollars("1000"), t0, t0 + std::chrono::days(14));
    book.touch("b", dollars("60"), t0, t0 + 1h);
    for (const char* acct : {"a", "b"}) stored[acct] = encode_tier_state(book.record(acct));
  }
  recorder rec;
  book_type book(runway_tiers(), rec);
  for (const auto& [acct, bytes] : stored) {
    const auto r = decode_tier_state<book_type::record_type>(bytes);
    REQUIRE(r);
    // "a" comes back with figures that no longer qualify (an operator's
    // correction, say): its tier stays.
    const usd purchased = acct == "a" ? dollars("1") : dollars("60");
    book.restore(acct, *r, purchased, t0, t0 + 48h);
  }
  CHECK(book.record("a").tier == tier_id{4});
  CHECK(book.record("b").tier == tier_id{2});  // due at +1 day: made up on restore
  CHECK(rec.lines() == std::vector<std::string>{"promotion b 1->2 purchase"});
  // An older, lower record never lowers what the book holds.
  book.restore("a", book_type::record_type{tier_id{2}, t0, 0}, dollars("1"), t0, t0 + 48h);
  CHECK(book.record("a").tier == tier_id{4});
}

TEST_CASE("custom criteria promote at once; bad overrides change nothing") {
  recorder rec;
  book_type book(runway_tiers(), rec);
  const time_point t0 = start();
  book.touch("ent", dollars("500"), t0, t0 + 1h);
  REQUIRE(book.record("ent").tier == tier_id{0});
  account_overrides o;
  o.criteria.push_back({tier_id{4}, promotion_criteria{dollars("500"), std::chrono::days(0)}, {"ops:alice", "contract 114"}});
  account_overrides bad = o;
  bad.criteria[0].note.reason = "";
  CHECK(book.set_overrides("ent", bad, t0 + 1h).error() == errc::invalid_argument);
  CHECK(book.record("ent").tier == tier_id{0});
  REQUIRE(book.set_overrides("ent", o, t0 + 1h));
  CHECK(book.record("ent").tier == tier_id{4});
  CHECK(book.overrides("ent") == o);
  CHECK(rec.lines() == std::vector<std::string>{"promotion ent 1->4 purchase"});
  // Taking the overrides away leaves the tier.
  REQUIRE(book.set_overrides("ent", {}, t0 + 2h));
  CHECK(book.record("ent").tier == tier_id{4});
  CHECK(book.overrides("ent").empty());
}

TEST_CASE("purchases are checked against the enforced cap; a shadow cap is reported, not enforced") {
  recorder rec;
  book_type book(runway_tiers(), rec);
  const time_point t0 = start();
  std::vector<basic_spend_entry<time_point>> window{{t0, dollars("90")}};
  book.touch("acme", dollars("90"), t0, t0);
  CHECK(book.check_purchase("acme", dollars("10"), window, t0 + 1h));
  const auto no = book.check_purchase("acme", dollars("10.01"), window, t0 + 1h);
  CHECK(no.error() == errc::monthly_spend_limit);
  account_overrides o;
  o.spend_caps.push_back({spend_cap(dollars("95")), override_mode::shadow, {"ops:bob", "trying a lower cap"}});
  REQUIRE(book.set_overrides("acme", o, t0 + 1h));
  CHECK(book.check_purchase("acme", dollars("8"), window, t0 + 1h));  // enforced: $100 leaves $10
  CHECK(rec.lines().back() == "shadow acme  spend_cap enforced=true shadow=false");
  o.spend_caps[0].mode = override_mode::enforced;
  o.spend_caps[0].cap = spend_cap::unlimited();
  REQUIRE(book.set_overrides("acme", o, t0 + 1h));
  CHECK(book.check_purchase("acme", dollars("1000000"), window, t0 + 1h));
  CHECK(book.spend_cap_of("acme", t0).enforced.is_unlimited());
}

TEST_CASE("spend alerts at 50%, 80% and 100% of the cap, once per crossing") {
  recorder rec;
  book_type book(runway_tiers(), rec);
  const time_point t0 = start();
  std::vector<basic_spend_entry<time_point>> window;
  usd total;
  const auto buy = [&](const char* amount, time_point at) {
    window.push_back({at, dollars(amount)});
    total += dollars(amount);
    book.after_purchase("acme", total, t0, window, at);
  };
  buy("49.99", t0);
  CHECK(rec.l->alerts == 0);
  buy("0.01", t0 + 1min);  // exactly 50%
  CHECK(rec.lines().back() == "spend acme 50% $50.00 of $100.00");
  buy("10", t0 + 2min);  // 60%: nothing new
  CHECK(rec.l->alerts == 1);
  buy("40", t0 + 3min);  // 100%: 80 and 100 at once
  CHECK(rec.l->alerts == 3);
  CHECK(book.record("acme").spend_alert_level == 3);
  // 30 days later the window is empty: the levels re-arm, silently.
  book.after_purchase("acme", total, t0, window, t0 + std::chrono::days(30) + 3min);
  CHECK(rec.l->alerts == 3);
  CHECK(book.record("acme").spend_alert_level == 0);
}

namespace {

// The reference model of the default table: everything written out by hand.
struct reference {
  struct account {
    usd purchased;
    std::optional<time_point> first;
    std::uint32_t tier = 1;
  };
  std::map<std::string, account> accounts;

  static std::uint32_t qualifies(const account& a, time_point now) {
    static const char* money[] = {"0", "50", "100", "1000", "5000"};
    static const int days[] = {0, 1, 7, 14, 30};
    std::uint32_t best = 1;
    for (int i = 4; i >= 1; --i) {
      const bool rich = a.purchased >= *usd::parse(money[i]);
      const bool old = a.first && now - *a.first >= std::chrono::days(days[i]);
      if (rich && old) {
        best = static_cast<std::uint32_t>(i + 1);
        break;
      }
    }
    return best;
  }
  void update(const std::string& name, time_point now) {
    account& a = accounts[name];
    a.tier = std::max(a.tier, qualifies(a, now));
  }
};

}  // namespace

TEST_CASE("purchases, holds and time steps on the ledger against a reference model of the table") {
  const std::uint64_t sd = seed();
  INFO("seed " << sd << " (TOLLGATE_TEST_SEED to replay)");
  std::mt19937_64 rng(sd);
  clock_type clk(start());
  ledger_type ledger({}, clk);
  recorder rec;
  book_type book(runway_tiers(), rec);
  reference model;
  const std::vector<std::string> names{"a", "b", "c", "d", "e", "f"};
  int keys = 0, refused = 0, promoted = 0;
  for (int step = 0; step < 4000; ++step) {
    const std::string& acct = names[rng() % names.size()];
    const time_point now = clk.now();
    switch (rng() % 5) {
      case 0:
      case 1: {  // a purchase, checked against the cap first
        const usd amount = usd::from_raw(tollgate::checked_int128_t(rng() % 400'000'000 + 10'000));  // $0.01-$400
        const auto window = window_of(ledger, acct, now);
        const auto ok = book.check_purchase(acct, amount, window, now);
        // The reference: the sum of the window plus this within the tier's cap.
        usd spent;
        for (const auto& e : window) spent += e.amount;
        const std::uint32_t tier = std::max(model.accounts[acct].tier, reference::qualifies(model.accounts[acct], now));
        const usd cap = runway_tier_table().at(tier - 1).max_spend.max();
        REQUIRE(ok.has_value() == (spent + amount <= cap));
        if (!ok) {
          ++refused;
          break;
        }
        REQUIRE(ledger.purchase(acct, amount, fmt::format("k{}", ++keys)));
        const auto b = *ledger.balance(acct);
        book.after_purchase(acct, b.purchased_usd, b.first_purchase, window_of(ledger, acct, now), now);
        auto& m = model.accounts[acct];
        m.purchased += amount;
        if (!m.first) m.first = now;
        model.update(acct, now);
        break;
      }
      case 2: {  // a hold (a job): touches the account
        (void)ledger.hold(acct, credits(1), fmt::format("k{}", ++keys));
        const auto b = *ledger.balance(acct);
        book.touch(acct, b.purchased_usd, b.first_purchase, now);
        model.update(acct, now);
        break;
      }
      case 3: {  // time passes; the sweep runs
        // Mostly hours (money arrives before age, so promotions wait for the
        // sweep), now and then days.
        const std::int64_t hour = 3'600'000'000'000LL;
        const std::int64_t span = rng() % 10 == 0 ? 72 * hour : 6 * hour;
        clk.advance(std::chrono::nanoseconds(static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(span))));
        const time_point later = clk.now();
        promoted += static_cast<int>(book.due_promotions(later).size());
        for (const auto& n : names) model.update(n, later);
        break;
      }
      default:  // a boundary: step to exactly the next due time
        if (const auto due = book.next_due(acct); due && *due > now) {
          clk.set(*due);
          promoted += static_cast<int>(book.due_promotions(*due).size());
          for (const auto& n : names) model.update(n, *due);
        }
        break;
    }
    for (const auto& n : names) {
      INFO("step " << step << " account " << n);
      const std::uint32_t recorded = std::max<std::uint32_t>(1, book.record(n).tier.value);
      REQUIRE(recorded == model.accounts[n].tier);
      REQUIRE(runway_tier_table().at(book.tier_of(n, clk.now())).id.value ==
              std::max(model.accounts[n].tier, reference::qualifies(model.accounts[n], clk.now())));
    }
  }
  // The run did what it is meant to test.
  CHECK(refused > 0);
  CHECK(promoted > 0);
  CHECK(model.accounts["a"].tier > 1);
}

namespace {

// A table of the default shape with its thresholds scaled: money x m, days x d.
struct scaled {
  int m, d;
  static constexpr int money[] = {0, 50, 100, 1000, 5000};
  static constexpr int days[] = {0, 1, 7, 14, 30};
  [[nodiscard]] tier_table table() const {
    std::vector<tier> ts(runway_tier_table().tiers().begin(), runway_tier_table().tiers().end());
    for (std::size_t i = 0; i < ts.size(); ++i)
      ts[i].criteria = promotion_criteria{usd(money[i] * m), std::chrono::days(days[i] * d)};
    return tier_table(runway_tier_table().groups(), ts);
  }
  // Written out again, by hand: the highest tier (1-5) the figures reach.
  [[nodiscard]] std::uint32_t reaches(const usd& bought, std::optional<time_point> first, time_point now) const {
    for (int i = 4; i >= 1; --i)
      if (bought >= usd(money[i] * m) &&
          (days[i] * d == 0 || (first && now - *first >= std::chrono::days(days[i] * d))))
        return static_cast<std::uint32_t>(i + 1);
    return 1;
  }
};

}  // namespace

TEST_CASE("no demotion after any sequence of figures, sweeps, table reloads and restarts") {
  const std::uint64_t sd = seed();
  INFO("seed " << sd << " (TOLLGATE_TEST_SEED to replay)");
  std::mt19937_64 rng(sd);
  const scaled tables[] = {{1, 1}, {10, 2}, {1, 0}, {100, 5}};
  std::size_t current = 0;
  auto book = std::make_unique<book_type>(tables[0].table());
  struct figures {
    usd bought;
    std::optional<time_point> first;
    std::uint32_t recorded = 1;  // the reference's record
  };
  std::map<std::string, figures> ref;
  time_point now = start();
  const auto settle = [&](const std::string& a) {
    figures& f = ref[a];
    f.recorded = std::max(f.recorded, tables[current].reaches(f.bought, f.first, now));
  };
  int reloads = 0, restarts = 0, ups = 0, dues = 0;
  for (int step = 0; step < 3000; ++step) {
    // New accounts keep arriving (old ones soon sit at the top, where nothing is due).
    const std::string a = fmt::format("acct-{}", step / 300 * 4 + static_cast<int>(rng() % 4));
    // Of 20: 8 new figures, 6 time steps, 4 exact due times, 1 reload, 1 restart.
    const int pick = static_cast<int>(rng() % 20);
    switch (pick < 8 ? 0 : pick < 14 ? 2 : pick < 18 ? 5 : pick == 18 ? 3 : 4) {
      case 0: {
        figures& f = ref[a];
        if (rng() % 3 != 0) {  // a purchase: figures as a ledger keeps them (age then promotes in a sweep)
          f.bought += usd(static_cast<std::int64_t>(rng() % 2 == 0 ? rng() % 40 : rng() % 3000));
          if (!f.first) f.first = now;
        } else {  // any figures: less money, an earlier or later first purchase, none
          f.bought = usd(static_cast<std::int64_t>(rng() % 8000));
          f.first = rng() % 5 == 0 ? std::nullopt : std::optional(now - std::chrono::hours(rng() % (24 * 60)));
        }
        book->touch(a, f.bought, f.first, now);
        settle(a);
        break;
      }
      case 2:  // time passes, the sweep runs
        now += std::chrono::minutes(rng() % (60 * 72));
        ups += static_cast<int>(book->due_promotions(now).size());
        for (auto& [name, f] : ref) settle(name);
        break;
      case 3:  // a reload, to any table, stricter or looser
        current = rng() % std::size(tables);
        book->set_table(tables[current].table(), now);
        for (auto& [name, f] : ref) settle(name);
        ++reloads;
        break;
      case 4: {  // a restart: the records through their bytes, the figures from the ledger
        std::map<std::string, std::string> stored;
        for (const auto& [name, f] : ref) stored[name] = encode_tier_state(book->record(name));
        book = std::make_unique<book_type>(tables[current].table());
        for (const auto& [name, bytes] : stored)
          book->restore(name, *decode_tier_state<book_type::record_type>(bytes), ref[name].bought, ref[name].first, now);
        for (auto& [name, f] : ref) settle(name);
        ++restarts;
        break;
      }
      default:  // a clock read at an exact due time
        if (const auto due = book->next_due(a); due && *due >= now) {
          ++dues;
          now = *due;
          ups += static_cast<int>(book->due_promotions(now).size());
          for (auto& [name, f] : ref) settle(name);
        }
        break;
    }
    for (const auto& [name, f] : ref) {
      INFO("step " << step << " " << name);
      REQUIRE(std::max<std::uint32_t>(1, book->record(name).tier.value) == f.recorded);
      REQUIRE(book->table()->at(book->tier_of(name, now)).id.value ==
              std::max(f.recorded, tables[current].reaches(f.bought, f.first, now)));
    }
  }
  CHECK(reloads > 0);
  CHECK(restarts > 0);
  INFO("reloads " << reloads << " restarts " << restarts << " dues " << dues);
  CHECK(ups > 0);
}
