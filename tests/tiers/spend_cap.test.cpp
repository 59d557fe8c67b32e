// The 30-day spend cap: the rolling edge exactly (a purchase counts until, not
// at, 30 days after it), what can be bought now and when more frees up, the
// refusal's text, and the alert state machine on its own.
#include <catch2/catch.hpp>

#include <vector>

#include <tollgate/tiers/spend_cap.hpp>

#include "support.hpp"

using namespace tollgate;
using namespace tiers_test;
using Catch::Matchers::Contains;
using entry = basic_spend_entry<time_point>;

namespace {
const spend_cap hundred{dollars("100")};
std::span<const entry> span_of(const std::vector<entry>& v) { return v; }
}  // namespace

TEST_CASE("a purchase counts toward the cap until exactly 30 days after it") {
  const time_point t0 = start();
  const std::vector<entry> p{{t0, dollars("60")}};
  const time_point edge = t0 + std::chrono::days(30);
  CHECK(spend_room(span_of(p), hundred, edge - 1s).spent == dollars("60"));
  CHECK(spend_room(span_of(p), hundred, edge - 1ns).spent == dollars("60"));
  CHECK(spend_room(span_of(p), hundred, edge).spent == usd{});
  CHECK(spend_room(span_of(p), hundred, edge - 1ns).room == limit<usd>(dollars("40")));
  CHECK(spend_room(span_of(p), hundred, edge).room == limit<usd>(dollars("100")));
  CHECK(check_spend("acme", span_of(p), hundred, edge - 1s, dollars("40.01")).error() == errc::monthly_spend_limit);
  CHECK(check_spend("acme", span_of(p), hundred, edge, dollars("100")));
}

TEST_CASE("what can be bought now, and when and how much frees up") {
  const time_point t0 = start();
  const std::vector<entry> p{{t0, dollars("30")}, {t0, dollars("20")}, {t0 + 5h, dollars("40")}};
  const auto r = spend_room(span_of(p), hundred, t0 + 6h);
  CHECK(r.spent == dollars("90"));
  CHECK(r.room == limit<usd>(dollars("10")));
  CHECK(r.frees_at == t0 + std::chrono::days(30));
  CHECK(r.frees == dollars("50"));  // both purchases of that instant
  // The whole of $55 fits once the first two have left; $95 only once all have.
  CHECK(spend_fits_at(span_of(p), hundred, t0 + 6h, dollars("10")) == t0 + 6h);
  CHECK(spend_fits_at(span_of(p), hundred, t0 + 6h, dollars("55")) == t0 + std::chrono::days(30));
  CHECK(spend_fits_at(span_of(p), hundred, t0 + 6h, dollars("95")) == t0 + std::chrono::days(30) + 5h);
  CHECK_FALSE(spend_fits_at(span_of(p), hundred, t0 + 6h, dollars("100.01")));
  CHECK(spend_fits_at(span_of(p), spend_cap::unlimited(), t0, dollars("1000000")) == t0);
  // Older purchases do not count at all.
  const std::vector<entry> old{{t0 - std::chrono::days(31), dollars("100")}};
  CHECK(spend_room(span_of(old), hundred, t0).room == limit<usd>(dollars("100")));
  CHECK_FALSE(spend_room(span_of(old), hundred, t0).frees_at);
}

TEST_CASE("a cap below what was spent leaves no room, never a negative one") {
  const time_point t0 = start();
  const std::vector<entry> p{{t0, dollars("80")}};
  CHECK(spend_room(span_of(p), spend_cap(dollars("50")), t0 + 1h).room == limit<usd>(usd{}));
  CHECK(spend_room(span_of(p), spend_cap::unlimited(), t0 + 1h).room.is_unlimited());
}

TEST_CASE("the refusal says what can be bought now, when more frees up, and from when all of it fits") {
  const time_point t0 = start();
  const std::vector<entry> p{{t0, dollars("50")}, {t0 + std::chrono::days(2) + 2h, dollars("20")}};
  const time_point now = t0 + std::chrono::days(23) + 22h;
  const auto r = check_spend("acme", span_of(p), hundred, now, dollars("60"));
  REQUIRE(r.error() == errc::monthly_spend_limit);
  CHECK(r.error().message() ==
        "account 'acme': a purchase of $60.00 would take the purchases of the last 30 days to $130.00, over the "
        "30-day spend cap of $100.00. $30.00 can be bought now; $50.00 more frees up at 2026-12-01 00:00:00 UTC "
        "(in 6 days 02:00:00); the whole $60.00 can be bought from 2026-12-01 00:00:00 UTC.");
  const auto never = check_spend("acme", span_of(p), hundred, now, dollars("150"));
  CHECK_THAT(never.error().message(), Contains("$150.00 is more than the cap itself"));
  // To the nanosecond, when the clock says so.
  const std::vector<entry> q{{t0 + 1ns, dollars("100")}};
  CHECK_THAT(check_spend("acme", span_of(q), hundred, t0 + 2ns, dollars("1")).error().message(),
             Contains("frees up at 2026-12-01 00:00:00.000000001 UTC (in 29 days 23:59:59.999999999)"));
}

TEST_CASE("spend alerts: each level once per crossing, re-armed when spend falls back") {
  spend_alerts a;
  const auto up = [&](const char* spent) {
    std::vector<int> out;
    for (int p : a.update(dollars(spent), hundred)) out.push_back(p);
    return out;
  };
  CHECK(up("49.999999").empty());
  CHECK(up("50") == std::vector<int>{50});
  CHECK(up("79.99").empty());
  CHECK(up("50").empty());
  CHECK(up("100") == std::vector<int>{80, 100});
  CHECK(up("250").empty());
  CHECK(a.level() == 3);
  CHECK(up("10").empty());  // fell back: re-armed, silently
  CHECK(a.level() == 0);
  CHECK(up("100") == std::vector<int>{50, 80, 100});
  // A higher cap (a promotion) lowers the level without a report.
  CHECK(a.update(dollars("100"), spend_cap(dollars("500"))).empty());
  CHECK(a.level() == 0);
  CHECK(a.update(dollars("400"), spend_cap(dollars("500"))).count == 2);
  CHECK(spend_alerts::level_of(dollars("1000000"), spend_cap::unlimited()) == 0);
  CHECK(spend_alerts(9).level() == 3);
}
