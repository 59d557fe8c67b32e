// The promotion schedule: accounts by due time, set and cleared in O(log n),
// swept in O(accounts due); and against a reference model (a plain map scanned
// in full) on random operations.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include <tollgate/tiers/schedule.hpp>

#include "support.hpp"

using namespace tollgate;
using namespace tiers_test;
using schedule = basic_promotion_schedule<time_point>;

TEST_CASE("due(now) takes out exactly the accounts due at or before now, earliest first") {
  schedule s;
  const time_point t0 = start();
  s.set("c", t0 + 3h);
  s.set("a", t0 + 1h);
  s.set("b", t0 + 2h);
  s.set("never", std::nullopt);
  CHECK(s.size() == 3);
  CHECK(s.next_due() == t0 + 1h);
  CHECK(s.due(t0 + 1h - 1ns).empty());
  CHECK(s.due(t0 + 2h) == std::vector<std::string>{"a", "b"});
  CHECK(s.size() == 1);
  CHECK(s.due_of("c") == t0 + 3h);
  CHECK_FALSE(s.due_of("a"));
  CHECK(s.due(time_point::max()) == std::vector<std::string>{"c"});
  CHECK_FALSE(s.next_due());
}

TEST_CASE("setting an account again moves it; an empty time takes it out") {
  schedule s;
  const time_point t0 = start();
  s.set("a", t0 + 5h);
  s.set("b", t0 + 4h);
  s.set("a", t0 + 1h);  // earlier
  CHECK(s.next_due() == t0 + 1h);
  s.set("a", t0 + 9h);  // later
  CHECK(s.next_due() == t0 + 4h);
  CHECK(s.size() == 2);
  s.set("b", std::nullopt);
  s.set("zz", std::nullopt);  // not there: nothing happens
  CHECK(s.size() == 1);
  CHECK(s.due(t0 + 8h).empty());
  CHECK(s.due(t0 + 9h) == std::vector<std::string>{"a"});
}

TEST_CASE("a sweep of a few due accounts among many leaves the rest untouched") {
  schedule s;
  const time_point t0 = start();
  for (int i = 0; i < 20'000; ++i) s.set(fmt::format("acct-{}", i), t0 + std::chrono::hours(24 + i));
  s.set("soon-1", t0 + 1h);
  s.set("soon-2", t0 + 2h);
  const auto due = s.due(t0 + 3h);
  CHECK(due == std::vector<std::string>{"soon-1", "soon-2"});
  CHECK(s.size() == 20'000);
  CHECK(s.next_due() == t0 + 24h);
}

TEST_CASE("the schedule against a reference model, on random operations") {
  const std::uint64_t sd = seed();
  INFO("seed " << sd << " (TOLLGATE_TEST_SEED to replay)");
  std::mt19937_64 rng(sd);
  schedule s;
  std::map<std::string, std::int64_t> model;  // account -> due (ns after t0)
  const time_point t0 = start();
  std::int64_t now = 0;
  for (int step = 0; step < 20'000; ++step) {
    const std::string account = fmt::format("a{}", rng() % 300);
    const int op = static_cast<int>(rng() % 10);
    if (op < 5) {
      const std::int64_t due = now + static_cast<std::int64_t>(rng() % 1000);
      s.set(account, t0 + std::chrono::nanoseconds(due));
      model[account] = due;
    } else if (op < 7) {
      s.set(account, std::nullopt);
      model.erase(account);
    } else {
      now += static_cast<std::int64_t>(rng() % 200);
      const auto before = model;
      std::set<std::string> expected;
      for (auto it = model.begin(); it != model.end();)
        if (it->second <= now) {
          expected.insert(it->first);
          it = model.erase(it);
        } else {
          ++it;
        }
      const auto got = s.due(t0 + std::chrono::nanoseconds(now));
      REQUIRE(std::set<std::string>(got.begin(), got.end()) == expected);
      REQUIRE(got.size() == expected.size());
      for (std::size_t i = 1; i < got.size(); ++i) REQUIRE(before.at(got[i - 1]) <= before.at(got[i]));  // earliest first
    }
    REQUIRE(s.size() == model.size());
    if (!model.empty()) {
      const auto least = std::min_element(model.begin(), model.end(),
                                          [](const auto& a, const auto& b) { return a.second < b.second; });
      REQUIRE(s.next_due() == t0 + std::chrono::nanoseconds(least->second));
      REQUIRE(s.due_of(least->first) == t0 + std::chrono::nanoseconds(least->second));
    }
  }
}
