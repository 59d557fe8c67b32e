// basic_ledger behaviours, one TEST_CASE each: accounts, purchases, grants,
// holds and their timeouts, charges, adjustments, idempotency keys, batches
// with linked chains, double entry, overflow, and ledger time.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include <tollgate/ledger/ledger.hpp>

#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using namespace tollgate::literals;
using tollgate::credits;
using tollgate::errc;
using tollgate::hold_id;
using tollgate::manual_clock;
using tollgate::usd;
using test_support::raw;

using test_ledger =
    tollgate::basic_ledger<tollgate::ledger_traits<manual_clock, tollgate::memory_storage,
                                                   tollgate::single_thread>>;
using op = test_ledger::operation;

credits c(const char* s) { return credits::parse(s).value(); }
usd d(const char* s) { return usd::parse(s).value(); }

struct fixture {
  manual_clock clock{manual_clock::time_point(1000s)};
  test_ledger l{tollgate::ledger_options{}, clock};

  credits available(const char* a) { return l.balance(a).value().available; }
  credits held(const char* a) { return l.balance(a).value().held; }
};

}  // namespace

TEST_CASE("account ids are 1 to 128 printable ASCII bytes", "[ledger]") {
  fixture f;
  for (std::string bad : {std::string(), std::string(129, 'a'), std::string("tab\there"),
                          std::string("caf\xc3\xa9"), std::string("nul\0x", 5)}) {
    auto r = f.l.purchase(bad, 10_usd, "k");
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::invalid_account);
    CHECK(r.error().message().find("account id") != std::string::npos);
    CHECK(f.l.balance(bad).code() == errc::invalid_account);
  }
  CHECK(f.l.purchase(std::string(128, 'a'), 10_usd, "k"));
  CHECK(f.l.purchase("with space ~!", 10_usd, "k2"));
  CHECK(f.l.accounts().size() == 2);
}

TEST_CASE("idempotency keys are 1 to 128 printable ASCII bytes", "[ledger]") {
  fixture f;
  CHECK(f.l.purchase("acme", 10_usd, "").code() == errc::invalid_argument);
  CHECK(f.l.purchase("acme", 10_usd, std::string(129, 'k')).code() == errc::invalid_argument);
  CHECK(f.l.purchase("acme", 10_usd, "bad\nkey").code() == errc::invalid_argument);
  CHECK(f.l.accounts().empty());
}

TEST_CASE("an unknown account has a zero balance", "[ledger]") {
  fixture f;
  auto b = f.l.balance("nobody");
  REQUIRE(b);
  CHECK(b->available == 0_cr);
  CHECK(b->held == 0_cr);
  CHECK_FALSE(b->first_purchase);
  CHECK(f.l.statement("nobody").value().empty());
}

TEST_CASE("purchase: credits at the account's price, truncated, recorded as a purchase", "[ledger]") {
  fixture f;
  SECTION("default price $0.01") {
    auto r = f.l.purchase("acme", 10_usd, "p1");
    REQUIRE(r);
    CHECK(r->amount == 1000_cr);
    CHECK(r->paid == 10_usd);
    CHECK(r->kind == tollgate::operation_kind::purchase);
    auto b = f.l.balance("acme").value();
    CHECK(b.available == 1000_cr);
    CHECK(b.purchased == 1000_cr);
    CHECK(b.purchased_usd == 10_usd);
    REQUIRE(b.first_purchase);
    CHECK(*b.first_purchase == manual_clock::time_point(1000s));
    // The statement keeps the dollars of each purchase (rolling spend limits).
    auto st = f.l.statement("acme").value();
    REQUIRE(st.size() == 1);
    CHECK(st[0].kind == tollgate::entry_kind::purchase);
    CHECK(st[0].paid == 10_usd);
    CHECK(st[0].amount == 1000_cr);
  }
  SECTION("first purchase time stays the first") {
    REQUIRE(f.l.purchase("acme", 10_usd, "p1"));
    f.clock.advance(1h);
    REQUIRE(f.l.purchase("acme", 5_usd, "p2"));
    auto b = f.l.balance("acme").value();
    CHECK(*b.first_purchase == manual_clock::time_point(1000s));
    CHECK(b.purchased_usd == 15_usd);
  }
  SECTION("a customer never gets credits they did not pay for") {
    REQUIRE(f.l.set_price("acme", tollgate::credit_price(d("0.03")), "price"));
    auto r = f.l.purchase("acme", d("0.01"), "p1");
    REQUIRE(r);
    CHECK(r->amount == c("0.333333"));  // 0.3333333... truncated at the micro-credit
  }
  SECTION("a set price applies to later purchases only of that account") {
    REQUIRE(f.l.set_price("bigco", tollgate::credit_price(d("0.005")), "price"));
    CHECK(f.l.purchase("bigco", 10_usd, "p1")->amount == 2000_cr);
    CHECK(f.l.purchase("acme", 10_usd, "p2")->amount == 1000_cr);
  }
  SECTION("nothing for nothing") {
    auto r = f.l.purchase("acme", 0_usd, "p1");
    CHECK(r.code() == errc::invalid_amount);
    REQUIRE(f.l.set_price("acme", tollgate::credit_price(1000_usd), "price"));
    r = f.l.purchase("acme", d("0.000001"), "p2");
    CHECK(r.code() == errc::invalid_amount);
    CHECK(r.error().message().find("buys no credits") != std::string::npos);
  }
}

TEST_CASE("grants are spent before purchases, soonest expiry first, and expire", "[ledger]") {
  fixture f;
  const auto t0 = f.clock.now();
  REQUIRE(f.l.purchase("acme", 1_usd, "p"));                        // 100 paid
  REQUIRE(f.l.grant("acme", 10_cr, "g-late", t0 + 100s));           // expires later
  REQUIRE(f.l.grant("acme", 20_cr, "g-never"));                     // never expires
  REQUIRE(f.l.grant("acme", 5_cr, "g-soon", t0 + 10s));             // expires first
  CHECK(f.l.balance("acme")->granted == 35_cr);
  REQUIRE(f.l.charge("acme", 7_cr, "c1"));  // 5 from g-soon, 2 from g-late
  auto b = f.l.balance("acme").value();
  CHECK(b.available == 128_cr);
  CHECK(b.granted == 28_cr);
  f.clock.advance(200s);  // g-late (8 left) has expired
  b = f.l.balance("acme").value();
  CHECK(b.granted == 20_cr);
  CHECK(b.available == 120_cr);
  // The write-off is an explicit entry, written on the next touch.
  REQUIRE(f.l.charge("acme", 1_cr, "c2"));
  auto st = f.l.statement("acme").value();
  bool wrote_off = false;
  for (const auto& e : st)
    if (e.kind == tollgate::entry_kind::grant_expired) {
      wrote_off = true;
      CHECK(e.amount == 8_cr);
      CHECK(e.to == tollgate::party::expired);
    }
  CHECK(wrote_off);
  CHECK(f.l.balance("acme")->granted == 19_cr);  // the never-expiring grant is next
  CHECK(f.l.totals().balances[static_cast<int>(tollgate::party::expired)] == 8_cr);
  SECTION("a grant must expire in the future") {
    CHECK(f.l.grant("acme", 1_cr, "g-past", f.clock.now()).code() == errc::invalid_argument);
  }
}

TEST_CASE("a grant expiring some time after it is made: a retry later is the same request",
          "[ledger][idempotency]") {
  // The command-line tool computed the expiry from the clock each time it
  // was run, so an identical retry was an idempotency conflict. A relative
  // expiry is kept as it was asked for; the ledger computes the time from
  // the operation's own ledger time.
  fixture f;
  const auto t0 = f.clock.now();
  auto g = f.l.grant("acme", 5_cr, "g", 1000s);
  REQUIRE(g);
  f.clock.advance(10s);
  auto again = f.l.grant("acme", 5_cr, "g", 1000s);
  REQUIRE(again);
  CHECK(again->replayed);
  CHECK(again->at == t0);
  CHECK(f.available("acme") == 5_cr);
  auto other = f.l.grant("acme", 5_cr, "g", 999s);
  CHECK(other.code() == errc::idempotency_conflict);
  CHECK(other.error().message().find("expiring 1000.000s after it was made") != std::string::npos);
  CHECK(other.error().message().find("expiring 999.000s after it was made") != std::string::npos);
  // The same expiry given as a time is another request.
  CHECK(f.l.grant("acme", 5_cr, "g", t0 + 1000s).code() == errc::idempotency_conflict);
  // It expires 1000 s after it was made, not after the retry.
  f.clock.advance(989s);
  CHECK(f.available("acme") == 5_cr);
  f.clock.advance(1s);
  CHECK(f.available("acme") == 0_cr);
  SECTION("the relative expiry must be positive") {
    for (auto d : {0s, -1s}) {
      CHECK(f.l.grant("acme", 1_cr, "g-bad", d).code() == errc::invalid_argument);
      CHECK(test_ledger::validate(op::grant("acme", 1_cr, "g-bad", d)).code() == errc::invalid_argument);
    }
    CHECK_FALSE(f.l.lookup("g-bad"));
  }
  SECTION("in a batch") {
    auto r = f.l.apply(std::vector<op>{op::grant("globex", 2_cr, "gb", 60s)});
    REQUIRE(r[0]);
    f.clock.advance(30s);
    r = f.l.apply(std::vector<op>{op::grant("globex", 2_cr, "gb", 60s)});
    REQUIRE(r[0]);
    CHECK(r[0]->replayed);
    f.clock.advance(30s);
    CHECK(f.available("globex") == 0_cr);
  }
}

TEST_CASE("a hold reserves credits; capture takes part and releases the rest", "[ledger]") {
  fixture f;
  REQUIRE(f.l.purchase("acme", 1_usd, "p"));
  auto h = f.l.hold("acme", 30_cr, "h1");
  REQUIRE(h);
  CHECK(h->hold == hold_id{1});
  CHECK(f.available("acme") == 70_cr);
  CHECK(f.held("acme") == 30_cr);
  SECTION("capture part") {
    auto r = f.l.capture(h->hold, c("12.5"), "cap");
    REQUIRE(r);
    CHECK(r->amount == c("12.5"));
    CHECK(r->released == c("17.5"));
    CHECK(f.available("acme") == c("87.5"));
    CHECK(f.held("acme") == 0_cr);
    auto again = f.l.capture(h->hold, 1_cr, "cap2");
    CHECK(again.code() == errc::unknown_hold);
    CHECK(again.error().message().find("already captured") != std::string::npos);
  }
  SECTION("capture more than held") {
    auto r = f.l.capture(h->hold, 31_cr, "cap");
    CHECK(r.code() == errc::hold_exceeded);
    CHECK(f.held("acme") == 30_cr);
  }
  SECTION("release returns it all") {
    auto r = f.l.release(h->hold, "rel");
    REQUIRE(r);
    CHECK(r->amount == 30_cr);
    CHECK(f.available("acme") == 100_cr);
    CHECK(f.l.release(h->hold, "rel2").error().message().find("already released") != std::string::npos);
  }
  SECTION("capture zero releases everything") {
    REQUIRE(f.l.capture(h->hold, 0_cr, "cap"));
    CHECK(f.available("acme") == 100_cr);
  }
  SECTION("unknown holds") {
    CHECK(f.l.capture(hold_id{99}, 1_cr, "x").code() == errc::unknown_hold);
    CHECK(f.l.release(hold_id{0}, "y").code() == errc::unknown_hold);
  }
  SECTION("insufficient credits name what is available and what is held") {
    auto r = f.l.hold("acme", 71_cr, "h2");
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::insufficient_credits);
    CHECK(r.error().message() ==
          "account 'acme' has 70 credits available, the hold needs 71 (30 more are held by open "
          "holds); buy more credits or lower the cost");
  }
}

TEST_CASE("a hold past its timeout is released on the next touch and by expire_holds", "[ledger]") {
  fixture f;
  REQUIRE(f.l.purchase("acme", 1_usd, "p"));
  auto h = f.l.hold("acme", 40_cr, "h1", std::chrono::nanoseconds(30s));
  REQUIRE(h);
  f.clock.advance(29s);
  CHECK(f.held("acme") == 40_cr);
  f.clock.advance(1s);
  CHECK(f.held("acme") == 0_cr);  // balance shows it settled already
  CHECK(f.available("acme") == 100_cr);
  SECTION("the next touch writes the release") {
    REQUIRE(f.l.charge("acme", 1_cr, "c"));
    auto st = f.l.statement("acme").value();
    REQUIRE(st.size() == 4);
    CHECK(st[2].kind == tollgate::entry_kind::hold_expired);
    CHECK(st[2].ref == 1);
    auto cap = f.l.capture(h->hold, 1_cr, "late");
    CHECK(cap.code() == errc::unknown_hold);
    CHECK(cap.error().message().find("timed out") != std::string::npos);
  }
  SECTION("expire_holds writes it") {
    auto n = f.l.expire_holds();
    REQUIRE(n);
    CHECK(*n == 1);
    CHECK(*f.l.expire_holds() == 0);
    CHECK(f.l.statement("acme").value().back().kind == tollgate::entry_kind::hold_expired);
  }
  SECTION("a capture after the timeout fails and leaves no trace") {
    CHECK(f.l.capture(h->hold, 1_cr, "late").code() == errc::unknown_hold);
    CHECK(f.l.statement("acme").value().size() == 2);
  }
  SECTION("expire_holds refuses a time after the clock's, changing nothing") {
    // Ledger time never goes back: settling at a future time would have
    // timed out later holds early and stamped every later entry there.
    auto later = f.l.hold("acme", 10_cr, "h2", std::chrono::nanoseconds(1h));
    REQUIRE(later);
    const auto before = f.l.statement("acme").value().size();
    auto r = f.l.expire_holds(f.clock.now() + 2h);
    CHECK(r.code() == errc::invalid_argument);
    CHECK(r.error().message().find("after the ledger clock") != std::string::npos);
    CHECK(f.l.statement("acme").value().size() == before);
    CHECK(f.held("acme") == 10_cr);
    REQUIRE(f.l.expire_holds(f.clock.now()));
    CHECK(f.held("acme") == 10_cr);  // the 1-hour hold is still open
    CHECK(f.l.capture(later->hold, 10_cr, "cap2"));
  }
}

TEST_CASE("charge is hold and capture in one and never overdraws", "[ledger]") {
  fixture f;
  REQUIRE(f.l.purchase("acme", d("0.125"), "p"));  // 12.5 credits
  auto r = f.l.charge("acme", 50_cr, "job-1");
  REQUIRE_FALSE(r);
  CHECK(r.error().message() ==
        "account 'acme' has 12.5 credits available, the charge needs 50; buy more credits or "
        "lower the cost");
  REQUIRE(f.l.charge("acme", c("12.5"), "job-2"));
  CHECK(f.available("acme") == 0_cr);
  CHECK(f.l.charge("acme", c("0.000001"), "job-3").code() == errc::insufficient_credits);
  CHECK(f.l.charge("nobody", 1_cr, "job-4").code() == errc::insufficient_credits);
  CHECK(f.l.charge("acme", 0_cr, "job-5").code() == errc::invalid_amount);
  CHECK(f.l.charge("acme", -1_cr, "job-6").code() == errc::invalid_amount);
  CHECK(f.l.totals().balances[static_cast<int>(tollgate::party::usage)] == c("12.5"));
}

TEST_CASE("adjustments are explicit, signed and carry a reason", "[ledger]") {
  fixture f;
  REQUIRE(f.l.purchase("acme", 1_usd, "p"));
  REQUIRE(f.l.adjust("acme", 5_cr, "a1", "refund for failed render #42"));
  REQUIRE(f.l.adjust("acme", -3_cr, "a2", "double credit in ticket 7"));
  CHECK(f.available("acme") == 102_cr);
  CHECK(f.l.adjust("acme", 0_cr, "a3", "x").code() == errc::invalid_amount);
  CHECK(f.l.adjust("acme", 1_cr, "a4", "").code() == errc::invalid_argument);
  CHECK(f.l.adjust("acme", 1_cr, "a5", "bell\a").code() == errc::invalid_argument);
  CHECK(f.l.adjust("acme", -1000_cr, "a6", "too much").code() == errc::insufficient_credits);
  auto st = f.l.statement("acme").value();
  REQUIRE(st.size() == 3);
  CHECK(st[1].reason == "refund for failed render #42");
  CHECK(st[2].reason == "double credit in ticket 7");
  CHECK(st[2].from == tollgate::party::customer);
  CHECK(st[2].to == tollgate::party::adjustments);
  CHECK(f.l.balance("acme")->purchased == 100_cr);  // adjustments are not purchases
}

TEST_CASE("a reason is valid UTF-8 without control characters (C0, DEL, C1)", "[ledger]") {
  // A reason that is not UTF-8 used to be stored, and every JSON statement
  // of the account failed from then on.
  fixture f;
  REQUIRE(f.l.purchase("acme", 1_usd, "p"));
  struct bad_text {
    std::string text;
    errc code;
    std::string says;
  };
  const std::vector<bad_text> refused{
      {"\xff\xfe", errc::invalid_utf8, "not valid UTF-8 at byte 0"},
      {"ok \xc3", errc::invalid_utf8, "not valid UTF-8 at byte 3"},        // cut in a character
      {"\xc0\xaf", errc::invalid_utf8, "not valid UTF-8"},                 // overlong '/'
      {"\xed\xa0\x80", errc::invalid_utf8, "not valid UTF-8"},             // a surrogate
      {"\xf4\x90\x80\x80", errc::invalid_utf8, "not valid UTF-8"},         // beyond U+10FFFF
      {"line\nbreak", errc::invalid_argument, "control character U+000A at byte 4"},
      {std::string("nul\0x", 5), errc::invalid_argument, "control character U+0000 at byte 3"},
      {"del\x7f", errc::invalid_argument, "control character U+007F at byte 3"},
      {"next\xc2\x85line", errc::invalid_argument, "control character U+0085 at byte 4"},  // C1: NEL
      {"\xc2\x9f", errc::invalid_argument, "control character U+009F at byte 0"},
  };
  for (const auto& b : refused) {
    INFO("reason bytes: " << b.text.size());
    auto r = f.l.adjust("acme", 1_cr, "k", b.text);
    REQUIRE_FALSE(r);
    CHECK(r.error() == b.code);
    CHECK(r.error().message().find(b.says) != std::string::npos);
    CHECK(r.error().message().find("reason") != std::string::npos);
    CHECK_FALSE(f.l.lookup("k"));  // the key is not used up
  }
  CHECK(f.available("acme") == 100_cr);
  CHECK(f.l.statement("acme")->size() == 1);
  // Any other text is taken as it is, the characters next to the C1 range included.
  int n = 0;
  for (const std::string ok : {"caf\xc3\xa9 cr\xc3\xa8me", "\xc2\xa0no-break space", "\x7e~",
                               "\xe2\x82\xac 5 refund", "\xf0\x9f\x8e\xac render",
                               "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf"}) {
    auto r = f.l.adjust("acme", 1_cr, "ok-" + std::to_string(++n), ok);
    INFO((r ? std::string() : r.error().message()));
    REQUIRE(r);
    CHECK(f.l.statement("acme")->back().reason == ok);
  }
}

TEST_CASE("an amount beyond what the ledger can take names the limit in credits and dollars",
          "[ledger]") {
  // The messages used to say "the ledger's limit of 2^124 micro-credits".
  fixture f;
  auto r = f.l.purchase("acme", d("170141183460469231731687303.715885"), "p");
  REQUIRE_FALSE(r);
  CHECK(r.error() == errc::overflow);
  CHECK(r.error().message().find("2^124") == std::string::npos);
  CHECK(r.error().message().find("$170141183460469231731687303.715884") != std::string::npos);
  CHECK(f.l.purchase("acme", d("170141183460469231731687303.715884"), "p2"));
  auto g = f.l.grant("acme", c("21267647932558653966460912964485.513217"), "g");
  REQUIRE_FALSE(g);
  CHECK(g.error() == errc::overflow);
  CHECK(g.error().message().find("2^124") == std::string::npos);
  CHECK(g.error().message().find("21267647932558653966460912964485.513216 credits") != std::string::npos);
  CHECK(f.l.grant("acme", c("21267647932558653966460912964485.513216"), "g2"));
  auto g3 = f.l.grant("acme", c("0.000001"), "g3");  // the grants issued are at the limit now
  REQUIRE_FALSE(g3);
  CHECK(g3.error().message().find("21267647932558653966460912964485.513216 credits") != std::string::npos);
}

TEST_CASE("validate() refuses, without a ledger, what every ledger refuses", "[ledger]") {
  // The command-line tool calls it before it opens the journal for writing:
  // opening cuts a torn tail, which a request refused as bad input must not do.
  fixture f;
  REQUIRE(f.l.purchase("acme", 1_usd, "p"));
  const credits over = c("21267647932558653966460912964485.513217");
  const std::string long_key(129, 'k');  // operations view their strings
  struct bad_op {
    op o;
    errc code;
  };
  const std::vector<bad_op> refused{
      {op::purchase("acme", d("0"), "k"), errc::invalid_amount},
      {op::purchase("acme", d("-1"), "k"), errc::invalid_amount},
      {op::purchase("acme", d("170141183460469231731687303.715885"), "k"), errc::overflow},
      {op::purchase("", 1_usd, "k"), errc::invalid_account},
      {op::purchase("acme", 1_usd, ""), errc::invalid_argument},
      {op::purchase("ac\tme", 1_usd, "k"), errc::invalid_account},
      {op::purchase("acme", 1_usd, long_key), errc::invalid_argument},
      {op::grant("acme", over, "k"), errc::overflow},
      {op::grant("acme", 0_cr, "k"), errc::invalid_amount},
      {op::hold_credits("acme", -1_cr, "k"), errc::invalid_amount},
      {op::hold_credits("acme", 1_cr, "k", 0s), errc::invalid_argument},
      {op::hold_credits("acme", 1_cr, "k", -5s), errc::invalid_argument},
      {op::hold_credits("acme", over, "k"), errc::overflow},
      {op::capture(hold_id{1}, -1_cr, "k"), errc::invalid_amount},
      {op::charge("acme", 0_cr, "k"), errc::invalid_amount},
      {op::charge("acme", over, "k"), errc::overflow},
      {op::adjust("acme", 0_cr, "k", "why"), errc::invalid_amount},
      {op::adjust("acme", -over, "k", "why"), errc::overflow},
      {op::adjust("acme", 1_cr, "k", ""), errc::invalid_argument},
      {op::adjust("acme", 1_cr, "k", "\xff"), errc::invalid_utf8},
      {op::adjust("acme", 1_cr, "k", "\xc2\x85"), errc::invalid_argument},
      {op::set_price("acme", tollgate::credit_price(d("0.000001")), ""), errc::invalid_argument},
  };
  for (const auto& b : refused) {
    auto v = test_ledger::validate(b.o);
    INFO("operation: " << to_string(b.o.kind) << (v ? std::string() : ": " + v.error().message()));
    REQUIRE_FALSE(v);
    CHECK(v.error() == b.code);
    auto r = f.l.apply(std::vector<op>{b.o});  // the ledger says the same
    REQUIRE_FALSE(r[0]);
    CHECK(r[0].error() == b.code);
    CHECK(r[0].error().message() == v.error().message());
  }
  CHECK(f.l.totals().operations == 1);
  // What only the state can refuse passes: the ledger decides.
  for (const op& o : {op::charge("acme", 1000_cr, "k"), op::capture(hold_id{77}, 1_cr, "k"),
                      op::release(hold_id{77}, "k"), op::charge("acme", 1_cr, "p"),
                      op::grant("acme", 1_cr, "k", f.clock.now() - 1s)})
    CHECK(test_ledger::validate(o));
}

TEST_CASE("same key, same request: the first result, no second effect", "[ledger][idempotency]") {
  fixture f;
  auto first = f.l.purchase("acme", 10_usd, "order-1");
  REQUIRE(first);
  CHECK_FALSE(first->replayed);
  f.clock.advance(5s);
  auto again = f.l.purchase("acme", 10_usd, "order-1");
  REQUIRE(again);
  CHECK(again->replayed);
  CHECK(again->op == first->op);
  CHECK(again->amount == first->amount);
  CHECK(again->at == first->at);
  CHECK(f.available("acme") == 1000_cr);
  auto h1 = f.l.hold("acme", 5_cr, "job-1");
  auto h2 = f.l.hold("acme", 5_cr, "job-1");
  CHECK(h2->hold == h1->hold);
  CHECK(f.held("acme") == 5_cr);
  auto looked = f.l.lookup("job-1");
  REQUIRE(looked);
  CHECK(looked->hold == h1->hold);
  CHECK_FALSE(f.l.lookup("never-used"));
}

TEST_CASE("same key, different request: idempotency_conflict naming both", "[ledger][idempotency]") {
  fixture f;
  REQUIRE(f.l.purchase("acme", 10_usd, "k"));
  auto r = f.l.purchase("acme", 11_usd, "k");
  REQUIRE_FALSE(r);
  CHECK(r.error() == errc::idempotency_conflict);
  CHECK(r.error().message() ==
        "idempotency key 'k' was already used for a purchase of $10.00 for account 'acme'; this "
        "request is a purchase of $11.00 for account 'acme'. Use a new key for a new request");
  CHECK(f.l.purchase("globex", 10_usd, "k").code() == errc::idempotency_conflict);
  CHECK(f.l.charge("acme", 1_cr, "k").code() == errc::idempotency_conflict);
  CHECK(f.available("acme") == 1000_cr);
}

TEST_CASE("a failed operation does not use up its key", "[ledger][idempotency]") {
  fixture f;
  CHECK(f.l.charge("acme", 5_cr, "job").code() == errc::insufficient_credits);
  REQUIRE(f.l.purchase("acme", 1_usd, "p"));
  auto r = f.l.charge("acme", 5_cr, "job");
  REQUIRE(r);
  CHECK_FALSE(r->replayed);
}

TEST_CASE("keys are forgotten after the retention", "[ledger][idempotency]") {
  manual_clock clock{manual_clock::time_point(1000s)};
  tollgate::ledger_options o;
  o.key_retention = 1h;
  test_ledger l(o, clock);
  REQUIRE(l.purchase("acme", 1_usd, "p"));
  REQUIRE(l.charge("acme", 1_cr, "job"));
  clock.advance(59min);
  CHECK(l.charge("acme", 1_cr, "job")->replayed);
  clock.advance(2min);
  REQUIRE(l.charge("acme", 2_cr, "other"));  // a write lets the ledger forget old keys
  CHECK_FALSE(l.lookup("job"));
  auto r = l.charge("acme", 1_cr, "job");
  REQUIRE(r);
  CHECK_FALSE(r->replayed);  // a new operation now
  CHECK(l.balance("acme")->available == 96_cr);
}

TEST_CASE("batches: linked chains succeed or fail as a whole", "[ledger][batch]") {
  fixture f;
  REQUIRE(f.l.purchase("acme", 1_usd, "p"));
  SECTION("a good chain applies in order") {
    std::vector<op> ops{op::purchase("globex", 1_usd, "b1").link(), op::charge("globex", 60_cr, "b2").link(),
                        op::charge("globex", 40_cr, "b3")};
    auto r = f.l.apply(ops);
    REQUIRE(r.size() == 3);
    for (auto& x : r) CHECK(x);
    CHECK(f.available("globex") == 0_cr);
  }
  SECTION("a failing chain leaves no trace, not even its keys") {
    std::vector<op> ops{op::charge("acme", 10_cr, "ok-alone"),
                        op::purchase("globex", 1_usd, "c1").link(),
                        op::charge("globex", 60_cr, "c2").link(),
                        op::charge("globex", 41_cr, "c3"),  // too much: the chain fails
                        op::charge("acme", 5_cr, "after")};
    auto r = f.l.apply(ops);
    REQUIRE(r.size() == 5);
    CHECK(r[0]);
    CHECK(r[1].code() == errc::insufficient_credits);
    CHECK(r[1].error().message().find("not applied: operation 3") == 0);
    CHECK(r[2].code() == errc::insufficient_credits);
    CHECK(r[3].code() == errc::insufficient_credits);
    CHECK(r[4]);
    CHECK(f.available("acme") == 85_cr);
    CHECK(f.available("globex") == 0_cr);
    CHECK_FALSE(f.l.lookup("c1"));
    CHECK(f.l.accounts().size() == 1);
    REQUIRE(f.l.check_invariants());
  }
  SECTION("a chain left open is refused") {
    std::vector<op> ops{op::charge("acme", 1_cr, "x").link()};
    auto r = f.l.apply(ops);
    CHECK(r[0].code() == errc::invalid_argument);
    CHECK(f.available("acme") == 100_cr);
  }
  SECTION("a hold and its capture in one chain") {
    // The hold id is known in advance: ids are handed out in order.
    std::vector<op> ops{op::hold_credits("acme", 10_cr, "h").link(), op::capture(hold_id{1}, 4_cr, "cap")};
    auto r = f.l.apply(ops);
    REQUIRE(r[1]);
    CHECK(r[1]->released == 6_cr);
    CHECK(f.available("acme") == 96_cr);
  }
}

TEST_CASE("double entry: every balance is the sum of its entries, the book sums to zero", "[ledger]") {
  fixture f;
  REQUIRE(f.l.purchase("acme", 2_usd, "p"));
  REQUIRE(f.l.grant("acme", 20_cr, "g", f.clock.now() + 10s));
  auto h = f.l.hold("acme", 50_cr, "h");
  REQUIRE(f.l.capture(h->hold, 30_cr, "c"));
  REQUIRE(f.l.charge("acme", 5_cr, "ch"));
  REQUIRE(f.l.adjust("acme", 3_cr, "a", "goodwill"));
  f.clock.advance(1min);
  REQUIRE(f.l.expire_holds());
  auto st = f.l.statement("acme").value();
  credits sum;
  for (const auto& e : st) {
    CHECK(e.amount.is_positive());
    if (e.to == tollgate::party::customer) sum += e.amount;
    if (e.from == tollgate::party::customer) sum -= e.amount;
    CHECK(e.available_after == sum);
  }
  CHECK(sum == f.available("acme"));
  const auto t = f.l.totals();
  credits total;
  for (const auto& b : t.balances) total += b;
  CHECK(total == 0_cr);
  CHECK(t.balances[static_cast<int>(tollgate::party::sales)] == -200_cr);
  CHECK(f.l.check_invariants());
}

TEST_CASE("amounts beyond the ledger's range are refused with no change", "[ledger]") {
  fixture f;
  REQUIRE(f.l.purchase("acme", 1_usd, "p"));
  const credits huge = credits::from_raw(credits::rep(1) << 126);
  auto r = f.l.grant("acme", huge, "g");
  CHECK(r.code() == errc::overflow);
  r = f.l.grant("acme", credits::max(), "g2");
  CHECK(r.code() == errc::overflow);
  r = f.l.purchase("acme", usd::max(), "p2");
  CHECK(r.code() == errc::overflow);
  r = f.l.adjust("acme", huge, "a", "typo");
  CHECK(r.code() == errc::overflow);
  CHECK(f.available("acme") == 100_cr);
  CHECK(f.l.check_invariants());
}

TEST_CASE("ledger time never runs backwards", "[ledger]") {
  fixture f;
  REQUIRE(f.l.purchase("acme", 1_usd, "p"));
  f.clock.advance(-100s);
  auto r = f.l.charge("acme", 1_cr, "c");
  REQUIRE(r);
  CHECK(r->at == manual_clock::time_point(1000s));
  auto st = f.l.statement("acme", manual_clock::time_point(1000s), manual_clock::time_point(1001s));
  CHECK(st.value().size() == 2);
  CHECK(f.l.statement("acme", manual_clock::time_point(0s), manual_clock::time_point(1000s)).value().empty());
}

TEST_CASE("the default ledger works out of the box and is thread-safe", "[ledger]") {
  tollgate::ledger l;
  REQUIRE(l.purchase("acme", 10_usd, "p"));
  REQUIRE(l.charge("acme", 5_cr, "c"));
  CHECK(l.balance("acme")->available == 995_cr);
  static_assert(std::is_same_v<tollgate::ledger::clock_type, std::chrono::system_clock>);
}
