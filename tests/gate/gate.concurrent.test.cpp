// The gate under 8 threads sharing 6 accounts and 3 models: submissions,
// completions, failures, cancels (several threads racing on the same task),
// purchases that promote accounts while their queues are full, and a checker
// reading the organization view all along. Checked against a reference built
// from every answer: running tasks never exceed the concurrency limit, jobs
// created never exceed the daily cap, balances never go negative, every
// credit held is captured or released exactly once, and the ledger's
// invariants hold at the end. Runs in the ThreadSanitizer build.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include <tollgate/gate.hpp>

#include "support.hpp"

using namespace gate_test;
using tollgate::errc;
using tollgate::task_status;

namespace {

using task = tollgate::basic_task<time_point>;

const std::vector<std::string> accounts{"a0", "a1", "a2", "a3", "a4", "a5"};
const std::vector<std::string> models{"gen4_turbo", "gen4.5", "gen4_image"};

std::size_t model_of(const std::string& id) {
  return static_cast<std::size_t>(std::find(models.begin(), models.end(), id) - models.begin());
}

tollgate::job job_of(std::size_t model, std::int64_t n) {
  if (models[model] == "gen4_image") return {.model = "gen4_image", .usage = {.resolution = n % 2 ? "720p" : "1080p"}};
  return video(2 + n % 8, models[model]);
}

// What the answers said, per task id.
struct reference {
  std::mutex m;
  std::map<std::string, task> submitted;          // admitted (not replays)
  std::vector<task> open;                         // candidates to settle
  std::map<std::string, credits> bought;          // account -> credits purchased
  std::map<std::pair<std::string, std::string>, int> admitted;  // (account, model) -> jobs
};

}  // namespace

TEST_CASE("gate: 8 threads on shared accounts agree with a reference", "[gate][concurrent]") {
  const std::uint64_t s = seed();
  INFO("seed " << s);
  clock_type clock{start()};
  recorder events;
  memory_gate g(tollgate::basic_gate_options<>{}, clock, {}, events);
  reference ref;
  for (const auto& a : accounts) {
    REQUIRE(g.purchase(a, dollars("10"), "seed"));
    ref.bought[a] = 1000_cr;
    tollgate::account_overrides o;
    o.limits.push_back(tollgate::limit_override{.scope = tollgate::override_scope::model, .target = "gen4_turbo",
                                                .daily = tollgate::job_limit(15), .note = {"test", "a small cap"}});
    REQUIRE(g.set_overrides(a, o));
  }
  clock.advance(25h);  // old enough for tier 2 once $50 is bought

  std::atomic<bool> stop{false};
  std::atomic<int> violations{0};
  std::thread checker([&] {
    while (!stop.load()) {
      for (const auto& a : accounts) {
        auto o = g.organization(a);
        if (!o || o->credit_balance.is_negative()) ++violations;
        if (!o) continue;
        for (const auto& m : o->models) {
          if (!m.max_concurrent.allows(m.running)) ++violations;
          if (!m.max_daily.allows(m.daily_generations)) ++violations;
        }
      }
    }
  });

  constexpr int threads = 8, ops = 250;
  std::vector<std::thread> pool;
  for (int w = 0; w < threads; ++w)
    pool.emplace_back([&, w] {
      std::mt19937_64 rng(s + static_cast<std::uint64_t>(w) * 7919);
      for (int i = 0; i < ops; ++i) {
        const std::uint64_t r = rng() % 100;
        if (r < 45) {
          const std::string& a = accounts[rng() % accounts.size()];
          const std::size_t m = rng() % models.size();
          const std::string key = fmt::format("w{}-{}", w, i);
          auto t = g.submit(a, job_of(m, static_cast<std::int64_t>(rng() % 16)), key);
          if (t) {
            std::lock_guard lk(ref.m);
            ref.submitted.emplace(t->id, *t);
            ref.open.push_back(*t);
            ++ref.admitted[{a, models[m]}];
          } else if (t.error() != errc::daily_limit && t.error() != errc::insufficient_credits) {
            ++violations;
          }
        } else if (r < 85) {
          std::optional<task> t;
          {
            std::lock_guard lk(ref.m);
            if (ref.open.empty()) continue;
            const std::size_t k = rng() % ref.open.size();
            t = ref.open[k];
            if (rng() % 3 != 0) ref.open.erase(ref.open.begin() + static_cast<std::ptrdiff_t>(k));  // else: a racer
          }
          const std::uint64_t how = rng() % 4;
          if (how < 2) {
            auto c = g.complete(*t, job_of(model_of(t->model), static_cast<std::int64_t>(rng() % 16)).usage);
            // Throttled or already refunded: refused, nothing changes.
            if (!c && c.error() != errc::invalid_argument) ++violations;
            if (c && c->task.cost > t->estimate) ++violations;
          } else if (how == 2) {
            auto c = g.cancel(*t);
            if (!c && c.error() != errc::invalid_argument) ++violations;
          } else {
            auto c = g.fail(*t, "worker crashed");
            if (!c && c.error() != errc::invalid_argument) ++violations;
          }
        } else if (r < 95) {
          const std::string& a = accounts[rng() % accounts.size()];
          auto p = g.purchase(a, dollars("5"), fmt::format("w{}-p{}", w, i));
          if (p && !p->replayed) {
            std::lock_guard lk(ref.m);
            ref.bought[a] += p->amount;
          } else if (!p && p.error() != errc::monthly_spend_limit) {
            ++violations;
          }
        } else {
          (void)g.tasks(accounts[rng() % accounts.size()]);
        }
      }
    });
  for (auto& t : pool) t.join();
  stop = true;
  checker.join();
  CHECK(violations.load() == 0);

  // Settle what is still open, in the gate's order (queued ones after).
  for (const auto& a : accounts)
    for (int round = 0; round < 1000; ++round) {
      auto open = g.tasks(a);
      if (open.empty()) break;
      for (const auto& t : open)
        if (t.status != task_status::throttled) REQUIRE(g.complete(t, job_of(model_of(t.model), 3).usage));
    }

  // Every task's final state, from the gate; the ledger agrees.
  std::map<std::string, credits> used;
  for (const auto& [id, t] : ref.submitted) {
    auto v = g.get(t);
    REQUIRE(v);
    CHECK(tollgate::is_final(v->status));
    if (v->status == task_status::succeeded) {
      CHECK(v->cost <= t.estimate);
      used[t.account] += v->cost;
    } else {
      CHECK(v->cost.is_zero());
    }
  }
  credits total_used;
  for (const auto& a : accounts) {
    auto b = g.ledger().balance(a);
    REQUIRE(b);
    CHECK(b->held.is_zero());
    CHECK(b->available == ref.bought[a] - used[a]);
    total_used += used[a];
    // Each hold settled exactly once: held = captured + released, with at
    // most one capture and one release.
    struct flow {
      credits held, captured, released;
      int captures = 0, releases = 0;
    };
    std::map<std::uint64_t, flow> holds;
    const auto st = g.ledger().statement(a);
    REQUIRE(st);
    for (const auto& e : *st) {
      if (e.kind == tollgate::entry_kind::hold) holds[e.ref].held += e.amount;
      if (e.kind == tollgate::entry_kind::capture) {
        holds[e.ref].captured += e.amount;
        ++holds[e.ref].captures;
      }
      if (e.kind == tollgate::entry_kind::release) {
        holds[e.ref].released += e.amount;
        ++holds[e.ref].releases;
      }
    }
    for (const auto& [id, f] : holds) {
      INFO("hold " << id);
      CHECK(f.held == f.captured + f.released);
      CHECK(f.captures <= 1);
      CHECK(f.releases <= 1);
      CHECK(f.captures + f.releases >= 1);
    }
    auto o = g.organization(a);
    REQUIRE(o);
    for (const auto& m : o->models) {
      const int n = ref.admitted[{a, m.model}];
      CHECK(m.daily_generations == static_cast<std::uint64_t>(n));
      CHECK(m.max_daily.allows(static_cast<std::uint64_t>(n)));
      CHECK(m.running == 0);
      CHECK(m.queued == 0);
    }
  }
  const auto tot = g.ledger().totals();
  CHECK(tot.held.is_zero());
  CHECK(tot.open_holds == 0);
  CHECK(tot.balances[static_cast<std::size_t>(tollgate::party::usage)] == total_used);
  CHECK(g.ledger().check_invariants());
  // The run went where it should: queues, promotions that released them, caps.
  CHECK(events.count("throttled") > 0);
  CHECK(events.count("promotion") > 0);
  CHECK(events.count("refused") > 0);
  CHECK(events.count("admitted") == static_cast<int>(ref.submitted.size()));
  CHECK(events.count("completed") + events.count("failed") + events.count("cancelled") ==
        static_cast<int>(ref.submitted.size()));
}
