// The LimiterBackend test suite: every behaviour of the concept, run against
// each backend in `backend_fixtures` (a std::tuple of fixtures from
// backend_fixtures.hpp, defined by the including file): slots and the FIFO
// queue, the daily cap and its exact edge, duplicates, revoke, finish,
// promotion and demotion, renew, state, restore, per-model and per-account
// independence, a clock stepping back, invalid ids, token buckets, and a
// randomized run against a reference model. Times are whole microseconds
// (the Redis backend's unit), and each test reads the fixture's clock.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "backend_fixtures.hpp"
#include "test_seed.hpp"

namespace backend_suite {

using namespace std::chrono_literals;
using tollgate::admit_status;
using tollgate::errc;
using tollgate::key_limits;
using tollgate::task_place;
using strings = std::vector<std::string>;

/// The value of a result; fails the test with the error's message otherwise.
template <class R>
auto ok(R&& r) {
  if (!r.has_value()) FAIL(r.error().message());
  return std::move(*r);
}

template <class F>
auto admit(F& f, std::string_view task, key_limits l, std::string_view model = "gen4_turbo") {
  return ok(f.backend().admit(f.key(model), task, l, f.now()));
}
template <class F>
auto finish(F& f, std::string_view task, key_limits l, std::string_view model = "gen4_turbo") {
  return ok(f.backend().finish(f.key(model), task, l, f.now()));
}
template <class F>
auto renew(F& f, std::string_view task, key_limits l, std::string_view model = "gen4_turbo") {
  return ok(f.backend().renew(f.key(model), task, l, f.now()));
}
template <class F>
auto poll(F& f, key_limits l, std::string_view model = "gen4_turbo") {
  return ok(f.backend().poll(f.key(model), l, f.now()));
}
template <class F>
auto state(F& f, std::string_view model = "gen4_turbo") {
  return ok(f.backend().state(f.key(model), f.now()));
}

constexpr key_limits two_slots{.daily = std::nullopt, .concurrency = 2};

}  // namespace backend_suite

using namespace backend_suite;

TEMPLATE_LIST_TEST_CASE("backend runs up to the concurrency limit and queues the rest in order", "[backend]",
                        backend_fixtures) {
  TOLLGATE_BACKEND_FIXTURE(f);
  CHECK(admit(f, "t1", two_slots).status == admit_status::running);
  CHECK(admit(f, "t2", two_slots).status == admit_status::running);
  const auto a3 = admit(f, "t3", two_slots);
  CHECK(a3.status == admit_status::queued);
  CHECK(a3.place == task_place::queued);
  CHECK(a3.position == 1);
  CHECK(a3.admitted());
  CHECK(admit(f, "t4", two_slots).position == 2);
  CHECK(admit(f, "t5", two_slots).position == 3);
  const auto u = state(f);
  CHECK(u.created == 5);
  CHECK(u.running == 2);
  CHECK(u.queued == 3);

  SECTION("finishing a running task starts the head of the queue") {
    const auto r = finish(f, "t2", two_slots);
    CHECK(r.found);
    CHECK(r.was_running);
    CHECK(r.started == strings{"t3"});
    CHECK(renew(f, "t4", two_slots).position == 1);
    CHECK(finish(f, "t1", two_slots).started == strings{"t4"});
    CHECK(finish(f, "t3", two_slots).started == strings{"t5"});
    CHECK(finish(f, "t4", two_slots).started.empty());
    CHECK(state(f).running == 1);
    CHECK(state(f).created == 5);  // finishing never uncounts
  }
  SECTION("finishing a queued task leaves the queue and starts nothing") {
    const auto r = finish(f, "t4", two_slots);
    CHECK(r.found);
    CHECK_FALSE(r.was_running);
    CHECK(r.started.empty());
    CHECK(renew(f, "t5", two_slots).position == 2);
    CHECK(finish(f, "t1", two_slots).started == strings{"t3"});
    CHECK(finish(f, "t2", two_slots).started == strings{"t5"});
  }
  SECTION("finishing an unknown or finished task finds nothing") {
    CHECK_FALSE(finish(f, "nope", two_slots).found);
    CHECK(finish(f, "t1", two_slots).found);
    const auto again = finish(f, "t1", two_slots);
    CHECK_FALSE(again.found);
    CHECK(again.started.empty());
    CHECK(state(f).running == 2);
  }
  SECTION("renew says where each task is") {
    CHECK(renew(f, "t1", two_slots).place == task_place::running);
    const auto q = renew(f, "t4", two_slots);
    CHECK(q.place == task_place::queued);
    CHECK(q.position == 2);
    CHECK(renew(f, "nope", two_slots).place == task_place::absent);
  }
}

TEMPLATE_LIST_TEST_CASE("backend: no limit runs everything, a limit of 0 queues everything", "[backend]",
                        backend_fixtures) {
  TOLLGATE_BACKEND_FIXTURE(f);
  const key_limits unlimited{};
  for (int i = 0; i < 20; ++i) CHECK(admit(f, std::to_string(i), unlimited).status == admit_status::running);
  CHECK(state(f).running == 20);
  const key_limits none{.daily = std::nullopt, .concurrency = 0};
  CHECK(admit(f, "z1", none, "model-b").position == 1);
  CHECK(admit(f, "z2", none, "model-b").position == 2);
  CHECK(poll(f, none, "model-b").started.empty());
  CHECK(poll(f, unlimited, "model-b").started == strings{"z1", "z2"});
  SECTION("a limit of 2^53 or more is unlimited") {
    const key_limits huge{.daily = std::uint64_t{1} << 60, .concurrency = std::uint64_t{1} << 53};
    CHECK(admit(f, "h1", huge, "model-c").status == admit_status::running);
  }
}

TEMPLATE_LIST_TEST_CASE("backend refuses at the daily cap with the exact retry_after", "[backend]",
                        backend_fixtures) {
  TOLLGATE_BACKEND_FIXTURE(f);
  const key_limits cap3{.daily = 3, .concurrency = 1};
  const auto first = admit(f, "d1", cap3);
  CHECK(first.created == 1);
  CHECK(first.created_at == f.now());
  f.advance(10min);
  CHECK(admit(f, "d2", cap3).status == admit_status::queued);  // queued jobs count too
  f.advance(10min);
  CHECK(admit(f, "d3", cap3).created == 3);
  f.advance(1h);

  const auto refused = admit(f, "d4", cap3);
  CHECK(refused.status == admit_status::daily_limit);
  CHECK_FALSE(refused.admitted());
  CHECK(refused.created == 3);
  CHECK(refused.retry_after == 24h - 80min);  // d1 leaves 24 h after it was created
  CHECK(renew(f, "d4", cap3).place == task_place::absent);  // a refusal leaves nothing behind
  CHECK(state(f).created == 3);

  SECTION("one microsecond before the edge: refused, retry after 1 us") {
    f.advance(24h - 80min - 1us);
    const auto r = admit(f, "d4", cap3);
    CHECK(r.status == admit_status::daily_limit);
    CHECK(r.retry_after == 1us);
    CHECK(state(f).created == 3);
  }
  SECTION("at the edge: admitted, and the next waits for d2") {
    f.advance(24h - 80min);
    CHECK(state(f).created == 2);
    const auto a = admit(f, "d4", cap3);
    CHECK(a.admitted());
    CHECK(a.created == 3);
    const auto r = admit(f, "d5", cap3);
    CHECK(r.status == admit_status::daily_limit);
    CHECK(r.retry_after == 10min);
  }
  SECTION("finishing does not give a job of the day back") {
    (void)finish(f, "d1", cap3);
    CHECK(admit(f, "d4", cap3).status == admit_status::daily_limit);
  }
  SECTION("a lower cap (a changed tier) refuses until enough have left") {
    const key_limits cap1{.daily = 1, .concurrency = 1};
    const auto r = admit(f, "d4", cap1);
    CHECK(r.status == admit_status::daily_limit);
    CHECK(r.retry_after == 24h - 60min);  // d3 must leave: the third-newest
  }
  SECTION("a higher cap admits at once") {
    const key_limits cap4{.daily = 4, .concurrency = 1};
    CHECK(admit(f, "d4", cap4).status == admit_status::queued);
  }
  SECTION("a cap of 0 refuses for good") {
    const auto r = admit(f, "x", {.daily = 0, .concurrency = 1}, "model-b");
    CHECK(r.status == admit_status::daily_limit);
    CHECK(r.retry_after == std::chrono::nanoseconds::max());
  }
}

TEMPLATE_LIST_TEST_CASE("backend counts a duplicate task id once", "[backend]", backend_fixtures) {
  TOLLGATE_BACKEND_FIXTURE(f);
  const key_limits l{.daily = 10, .concurrency = 1};
  (void)admit(f, "a", l);
  (void)admit(f, "b", l);
  const auto d1 = admit(f, "a", l);
  CHECK(d1.status == admit_status::duplicate);
  CHECK_FALSE(d1.admitted());
  CHECK(d1.place == task_place::running);
  const auto d2 = admit(f, "b", l);
  CHECK(d2.status == admit_status::duplicate);
  CHECK(d2.place == task_place::queued);
  CHECK(d2.position == 1);
  CHECK(state(f).created == 2);
  CHECK(state(f).queued == 1);
}

TEMPLATE_LIST_TEST_CASE("backend revoke undoes an admission", "[backend]", backend_fixtures) {
  TOLLGATE_BACKEND_FIXTURE(f);
  const key_limits l{.daily = 3, .concurrency = 1};
  const auto a = admit(f, "r1", l);
  f.advance(1s);
  const auto b = admit(f, "r2", l);
  f.advance(1s);
  const auto c = admit(f, "r3", l);
  CHECK(admit(f, "r4", l).status == admit_status::daily_limit);

  SECTION("a running task: uncounted, and its slot goes to the head of the queue") {
    const auto r = ok(f.backend().revoke(f.key(), "r1", a.created_at, l, f.now()));
    CHECK(r.found);
    CHECK(r.was_running);
    CHECK(r.started == strings{"r2"});
    CHECK(state(f).created == 2);
    CHECK(admit(f, "r4", l).position == 2);
  }
  SECTION("a queued task: uncounted, it leaves the queue") {
    const auto r = ok(f.backend().revoke(f.key(), "r3", c.created_at, l, f.now()));
    CHECK(r.found);
    CHECK_FALSE(r.was_running);
    CHECK(r.started.empty());
    CHECK(state(f).created == 2);
    CHECK(state(f).queued == 1);
    CHECK(admit(f, "r4", l).position == 2);
    CHECK(finish(f, "r1", l).started == strings{"r2"});
  }
  SECTION("the retry_after of a refusal moves with what is left") {
    (void)ok(f.backend().revoke(f.key(), "r1", a.created_at, l, f.now()));
    (void)ok(f.backend().revoke(f.key(), "r2", b.created_at, l, f.now()));
    CHECK(admit(f, "r4", l).admitted());
    CHECK(admit(f, "r5", l).admitted());
    CHECK(admit(f, "r6", l).retry_after == 24h);  // r3, r4 and r5 were all created now
  }
}

TEMPLATE_LIST_TEST_CASE("backend: a raised limit starts queued tasks at once, in order", "[backend]",
                        backend_fixtures) {
  TOLLGATE_BACKEND_FIXTURE(f);
  const key_limits one{.daily = std::nullopt, .concurrency = 1};
  for (const char* t : {"p1", "p2", "p3", "p4", "p5"}) (void)admit(f, t, one);
  const key_limits three{.daily = std::nullopt, .concurrency = 3};

  SECTION("poll with the new limits (a promotion)") {
    const auto c = poll(f, three);
    CHECK(c.started == strings{"p2", "p3"});
    CHECK(c.expired.empty());
    CHECK(state(f).running == 3);
    CHECK(poll(f, three).started.empty());
  }
  SECTION("the next admit with the new limits starts the queue first") {
    const auto a = admit(f, "p6", three);
    CHECK(a.started == strings{"p2", "p3"});
    CHECK(a.status == admit_status::queued);
    CHECK(a.position == 3);
  }
  SECTION("any call with the new limits does") {
    CHECK(renew(f, "p5", three).started == strings{"p2", "p3"});
    CHECK(renew(f, "p5", three).position == 2);
  }
  SECTION("a lowered limit stops nothing; new starts wait until enough have left") {
    (void)poll(f, three);
    CHECK(finish(f, "p1", one).started.empty());
    CHECK(finish(f, "p2", one).started.empty());
    CHECK(state(f).running == 1);
    CHECK(finish(f, "p3", one).started == strings{"p4"});
  }
}

TEMPLATE_LIST_TEST_CASE("backend keys are independent per model and per account", "[backend]",
                        backend_fixtures) {
  TOLLGATE_BACKEND_FIXTURE(f);
  const key_limits l{.daily = 1, .concurrency = 1};
  CHECK(admit(f, "x", l, "gen4_turbo").admitted());
  CHECK(admit(f, "y", l, "gen4_image").status == admit_status::running);
  CHECK(admit(f, "x", l, "veo3").status == admit_status::running);  // ids are per key
  CHECK(admit(f, "z", l, "gen4_turbo").status == admit_status::daily_limit);
  const std::string other = f.account;
  f.account = "other-" + other;
  CHECK(admit(f, "z", l, "gen4_turbo").status == admit_status::running);
  f.account = other;
  CHECK(state(f, "gen4_image").running == 1);
  CHECK(state(f, "never-used").created == 0);
}

TEMPLATE_LIST_TEST_CASE("backend: a clock stepping back lets nothing more in", "[backend]", backend_fixtures) {
  TOLLGATE_BACKEND_FIXTURE(f);
  const key_limits l{.daily = 2, .concurrency = 5};
  (void)admit(f, "c1", l);
  f.advance(23h);
  (void)admit(f, "c2", l);
  f.advance(2h);  // c1 has left: one more fits
  CHECK(admit(f, "c3", l).admitted());
  f.advance(-3h);  // back to before c1 left
  const auto r = admit(f, "c4", l);
  CHECK(r.status == admit_status::daily_limit);
  CHECK(r.retry_after == 25h);  // c2 leaves at +47 h; the clock reads +22 h
  CHECK(state(f).created == 2);
}

TEMPLATE_LIST_TEST_CASE("backend restore rebuilds a key from the ledger's history", "[backend]",
                        backend_fixtures) {
  TOLLGATE_BACKEND_FIXTURE(f);
  using restored = tollgate::basic_restored_task<tollgate::manual_clock::time_point>;
  const auto t0 = f.now();
  f.advance(25h);
  const std::vector<restored> history{
      {"old-done", t0, task_place::absent},                   // out of the window: not counted
      {"old-running", t0 + 30min, task_place::running},       // out of the window, still holds a slot
      {"done", t0 + 2h, task_place::absent},                  // counts until t0 + 26 h
      {"run-1", t0 + 3h, task_place::running},
      {"run-2", t0 + 4h, task_place::running},                // above the limit of 2: still runs
      {"wait-1", t0 + 5h, task_place::queued},
      {"wait-2", t0 + 6h, task_place::queued},
  };
  const key_limits l{.daily = 5, .concurrency = 2};
  const auto c = ok(f.backend().restore(f.key(), history, l, f.now()));
  CHECK(c.started.empty());
  const auto u = state(f);
  CHECK(u.created == 5);
  CHECK(u.running == 3);
  CHECK(u.queued == 2);
  CHECK(renew(f, "wait-2", l).position == 2);
  CHECK(renew(f, "run-2", l).place == task_place::running);
  const auto r = admit(f, "new", l);
  CHECK(r.status == admit_status::daily_limit);
  CHECK(r.retry_after == 1h);  // "done" leaves at t0 + 26 h
  CHECK(finish(f, "old-running", l).started.empty());  // 2 still run
  CHECK(finish(f, "run-1", l).started == strings{"wait-1"});
  f.advance(1h);
  CHECK(admit(f, "new", l).position == 2);
}

TEMPLATE_LIST_TEST_CASE("backend refuses invalid ids and changes nothing", "[backend]", backend_fixtures) {
  TOLLGATE_BACKEND_FIXTURE(f);
  const key_limits l{.daily = 5, .concurrency = 1};
  const std::string long_id(257, 'x');
  CHECK(f.backend().admit({"", "m"}, "t", l, f.now()).code() == errc::invalid_argument);
  CHECK(f.backend().admit(f.key(""), "t", l, f.now()).code() == errc::invalid_argument);
  CHECK(f.backend().admit(f.key(), "", l, f.now()).code() == errc::invalid_argument);
  CHECK(f.backend().admit(f.key(), long_id, l, f.now()).code() == errc::invalid_argument);
  CHECK(f.backend().finish(f.key(long_id), "t", l, f.now()).code() == errc::invalid_argument);
  CHECK(f.backend().state(f.key(""), f.now()).code() == errc::invalid_argument);
  CHECK(state(f).created == 0);
  SECTION("256 bytes and odd bytes are fine") {
    const std::string odd("a{b}c:%\0\xff", 9);
    const std::string id256(256, 'y');
    CHECK(f.backend().admit({f.account + odd, odd}, id256, l, f.now())->status == admit_status::running);
    CHECK(f.backend().renew({f.account + odd, odd}, id256, l, f.now())->place == task_place::running);
    CHECK(state(f).created == 0);  // ("acct" + odd, odd) is another key
  }
}

TEMPLATE_LIST_TEST_CASE("backend token buckets", "[backend][bucket]", backend_fixtures) {
  TOLLGATE_BACKEND_FIXTURE(f);
  const tollgate::token_rate ten_per_s(10, 1s);
  auto take = [&](std::uint64_t n, tollgate::token_rate rate = tollgate::token_rate(10, 1s), std::uint64_t burst = 5) {
    return ok(f.backend().take(f.key("api-requests"), n, rate, burst, f.now()));
  };
  CHECK(take(3).remaining == 2);
  CHECK(take(2).allowed);
  const auto r = take(1);
  CHECK_FALSE(r.allowed);
  CHECK(r.reason == tollgate::limit_reason::limited);
  CHECK(r.retry_after == 100ms);
  f.advance(99ms);
  CHECK_FALSE(take(1).allowed);
  CHECK(take(1).retry_after == 1ms);
  f.advance(1ms);
  CHECK(take(1).allowed);
  SECTION("refill stops at the burst") {
    f.advance(1h);
    CHECK(take(5).remaining == 0);
    CHECK_FALSE(take(1).allowed);
  }
  SECTION("more than the burst can never be taken") {
    const auto x = take(6);
    CHECK_FALSE(x.allowed);
    CHECK(x.reason == tollgate::limit_reason::exceeds_burst);
    CHECK(x.retry_after == std::chrono::nanoseconds::max());
  }
  SECTION("a new rate and burst apply at once") {
    f.advance(1s);
    CHECK(take(8, tollgate::token_rate(1, 1s), 8).allowed == false);  // 5 held, burst now 8, 1/s
    const auto w = take(6, tollgate::token_rate(1, 1s), 8);
    CHECK(w.retry_after == 1s);
  }
  SECTION("buckets are per name") {
    CHECK(ok(f.backend().take(f.key("other"), 5, ten_per_s, 5, f.now())).allowed);
  }
}

// A reference model: an exact sliding log per key and a FIFO pool, written
// the plain way, compared with the backend after every operation.
namespace backend_suite {
struct reference_key {
  std::deque<std::pair<std::int64_t, std::string>> log;  // (created ns, task)
  std::vector<std::string> running;
  std::deque<std::string> queue;

  void expire(std::int64_t now) {
    std::erase_if(log, [&](const auto& e) { return e.first + tollgate::daily_window.count() <= now; });
  }
  strings start(std::uint64_t limit) {
    strings s;
    while (!queue.empty() && running.size() < limit) {
      s.push_back(queue.front());
      running.push_back(queue.front());
      queue.pop_front();
    }
    return s;
  }
  bool open(const std::string& t) const {
    return std::count(running.begin(), running.end(), t) + std::count(queue.begin(), queue.end(), t) > 0;
  }
};
}  // namespace backend_suite

TEMPLATE_LIST_TEST_CASE("backend matches a reference model on random operations", "[backend][model]",
                        backend_fixtures) {
  TOLLGATE_BACKEND_FIXTURE(f);
  const std::uint64_t seed = tollgate_test::test_seed();
  INFO("seed " << seed << " (set TOLLGATE_TEST_SEED to replay)");
  std::mt19937_64 rng(seed);
  const auto epoch = f.now();
  std::map<std::string, reference_key> ref;
  std::map<std::string, std::int64_t> created_at;        // model/task -> ns since epoch
  std::map<std::string, strings> admitted;                // model -> every id admitted
  int next_id = 0;
  const int steps = TestType::name == "redis" ? 600 : 3000;
  for (int step = 0; step < steps; ++step) {
    INFO("step " << step);
    f.advance(std::chrono::microseconds(std::uniform_int_distribution<std::int64_t>(0, 3'600'000'000)(rng) / 4));
    const std::string model = "m" + std::to_string(rng() % 2);
    strings& ids = admitted[model];
    // New ids, or one admitted before (a duplicate, or a task to finish or
    // revoke). Ids are never reused once closed (as the gate's are not).
    const std::string task = ids.empty() || rng() % 3 == 0 ? "t" + std::to_string(next_id++)
                                                           : ids[rng() % ids.size()];
    const key_limits l{.daily = rng() % 8, .concurrency = rng() % 4};
    reference_key& k = ref[model];
    const std::int64_t now = (f.now() - epoch).count();
    k.expire(now);
    const unsigned op = rng() % 4;
    if (op == 0 && !k.open(task) && created_at.count(model + "/" + task)) continue;  // closed: never reused
    if (op == 2 && !k.open(task)) continue;  // revoke what this run admitted and has not closed
    const strings started = k.start(*l.concurrency);
    switch (op) {
      case 0: {
        const auto a = admit(f, task, l, model);
        CHECK(a.started == started);
        if (k.open(task)) {
          CHECK(a.status == admit_status::duplicate);
        } else if (k.log.size() >= *l.daily) {
          CHECK(a.status == admit_status::daily_limit);
          if (*l.daily > 0)
            CHECK(a.retry_after.count() ==
                  k.log[k.log.size() - *l.daily].first + tollgate::daily_window.count() - now);
        } else {
          k.log.emplace_back(now, task);
          const bool runs = k.queue.empty() && k.running.size() < *l.concurrency;
          CHECK(a.status == (runs ? admit_status::running : admit_status::queued));
          (runs ? k.running.push_back(task) : k.queue.push_back(task));
          if (!runs) CHECK(a.position == k.queue.size());
          created_at[model + "/" + task] = now;
          ids.push_back(task);
        }
        break;
      }
      case 1: {
        const auto r = finish(f, task, l, model);
        const bool was_running = std::erase(k.running, task) > 0;
        const bool was_queued = std::erase(k.queue, task) > 0;
        CHECK(r.found == (was_running || was_queued));
        CHECK(r.was_running == was_running);
        strings expect = started;
        for (auto& s : k.start(*l.concurrency)) expect.push_back(s);
        CHECK(r.started == expect);
        break;
      }
      case 2: {
        const std::int64_t c = created_at[model + "/" + task];
        const auto r = ok(f.backend().revoke(f.key(model), task, epoch + std::chrono::nanoseconds(c), l, f.now()));
        std::erase_if(k.log, [&](const auto& e) { return e.second == task && e.first == c; });
        const bool was_running = std::erase(k.running, task) > 0;
        std::erase(k.queue, task);
        CHECK(r.found);
        CHECK(r.was_running == was_running);
        strings expect = started;
        for (auto& s : k.start(*l.concurrency)) expect.push_back(s);
        CHECK(r.started == expect);
        break;
      }
      default: {
        CHECK(poll(f, l, model).started == started);
        const auto u = state(f, model);
        CHECK(u.created == k.log.size());
        CHECK(u.running == k.running.size());
        CHECK(u.queued == k.queue.size());
      }
    }
  }
}
