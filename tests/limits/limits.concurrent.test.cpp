// Contention tests, built into tollgate-concurrent-tests and run under
// ThreadSanitizer in CI. With a frozen manual_clock, threads hammering one
// token bucket are admitted exactly the burst (also while another thread
// changes the rate); threads hammering one pool never see more than the limit
// running, and no task is lost or started twice; threads on a keyed registry
// get exactly each key's burst. Catch2 assertions are not thread-safe, so
// worker threads count violations in atomics and the main thread checks them.
#include <catch2/catch.hpp>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include <tollgate/limits/concurrency_pool.hpp>
#include <tollgate/limits/keyed.hpp>
#include <tollgate/limits/token_bucket.hpp>

using namespace std::chrono_literals;
using tollgate::manual_clock;
using tollgate::multi_thread;
using tollgate::single_thread;
using tollgate::token_rate;

namespace {
constexpr int kThreads = 4;

template <class F>
void run_threads(int n, F f) {
  std::vector<std::thread> ts;
  ts.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) ts.emplace_back(f, i);
  for (auto& t : ts) t.join();
}
}  // namespace

TEST_CASE("threads on one bucket with a frozen clock get exactly the burst", "[limits][concurrent]") {
  manual_clock clock;
  constexpr std::uint64_t burst = 2000;
  tollgate::basic_token_bucket<manual_clock, multi_thread> bucket(token_rate(1, 1s), burst, clock);
  std::barrier sync(kThreads);
  for (int round = 0; round < 4; ++round) {
    // Round 0 empties the full bucket; later rounds get exactly 700 new tokens.
    const std::uint64_t expected = round == 0 ? burst : 700;
    std::atomic<std::uint64_t> admitted{0};
    run_threads(kThreads, [&](int) {
      sync.arrive_and_wait();
      std::uint64_t mine = 0;
      for (int i = 0; i < 1500; ++i) mine += bucket.try_acquire().allowed ? 1 : 0;
      admitted += mine;
    });
    CHECK(admitted.load() == expected);
    CHECK(bucket.available() == 0);
    clock.advance(700s);
  }
}

TEST_CASE("threads on a bucket idle past its tick wrap-around get exactly the burst again",
          "[limits][concurrent]") {
  // p = 123 456 789 ticks per ns: the 64-bit tick difference wraps every
  // 149 s, so each idle period below is read through the written-time hint
  // that writers raise before their CAS.
  manual_clock clock;
  constexpr std::uint64_t burst = 1000;
  tollgate::basic_token_bucket<manual_clock, multi_thread> bucket(token_rate(123'456'789, 1s), burst, clock);
  std::barrier sync(kThreads);
  for (const auto idle : {std::chrono::nanoseconds(0), std::chrono::nanoseconds(112s), std::chrono::nanoseconds(200s),
                          std::chrono::nanoseconds(1h), std::chrono::nanoseconds(std::chrono::hours(24) * 400)}) {
    clock.advance(idle);
    std::atomic<std::uint64_t> admitted{0};
    run_threads(kThreads, [&](int) {
      sync.arrive_and_wait();
      std::uint64_t mine = 0;
      for (int i = 0; i < 600; ++i) mine += bucket.try_acquire().allowed ? 1 : 0;
      admitted += mine;
    });
    INFO("after " << idle.count() << " ns idle");
    CHECK(admitted.load() == burst);
    CHECK(bucket.available() == 0);
  }
}

TEST_CASE("acquire, reserve and refund under contention conserve tokens exactly", "[limits][concurrent]") {
  manual_clock clock;
  constexpr std::uint64_t burst = 3000;
  tollgate::basic_token_bucket<manual_clock, multi_thread> bucket(token_rate(10, 13s), burst, clock);
  std::atomic<std::uint64_t> taken{0}, refunded{0};
  std::barrier sync(kThreads);
  run_threads(kThreads, [&](int id) {
    std::mt19937 rng(static_cast<unsigned>(id));
    sync.arrive_and_wait();
    for (int i = 0; i < 10'000; ++i) {
      const std::uint64_t n = 1 + rng() % 3;
      const auto d = (rng() % 2) ? bucket.try_acquire(n) : bucket.reserve(n, 0ns);
      if (d.allowed) {
        taken += n;
        if (rng() % 4 == 0) {
          (void)bucket.refund(n);
          refunded += n;
        }
      }
    }
  });
  // A refund follows its own acquisition, so it never meets a full bucket:
  // every token is accounted for.
  CHECK(taken.load() - refunded.load() == burst - bucket.available());
  CHECK(taken.load() >= burst);
}

TEST_CASE("set_rate while threads acquire neither loses nor creates tokens", "[limits][concurrent]") {
  manual_clock clock;
  constexpr std::uint64_t burst = 40'000;
  tollgate::basic_token_bucket<manual_clock, multi_thread> bucket(token_rate(1, 1s), burst, clock);
  std::atomic<std::uint64_t> admitted{0};
  std::atomic<bool> stop{false};
  std::atomic<int> switches{0};
  std::barrier sync(kThreads + 1);
  std::thread writer([&] {
    sync.arrive_and_wait();
    // Whole tokens convert exactly between the two tick units (q = 10^9 and
    // q = 1.3 * 10^9), so the count must survive every switch.
    for (int i = 0; !stop.load(); ++i) {
      bucket.set_rate(i % 2 ? token_rate(1, 1s) : token_rate(10, 13s));
      if (i % 16 == 0) bucket.set_burst(burst);
      ++switches;
    }
  });
  // Every 1000 attempts an acquirer waits until the writer has switched the
  // rate again, so switches provably interleave with acquisitions while the
  // bucket still holds tokens (4 x 12'000 attempts > the 40'000 burst), however
  // the scheduler runs the threads (on 2 cores the writer could otherwise
  // finish its first switch only after the acquirers are done).
  std::atomic<int> switches_seen_by_acquirers{0};
  run_threads(kThreads, [&](int) {
    sync.arrive_and_wait();
    std::uint64_t mine = 0;
    int last = switches.load();
    for (int i = 0; i < 12'000; ++i) {
      if (i % 1000 == 999) {
        while (switches.load() == last) std::this_thread::yield();
        last = switches.load();
        ++switches_seen_by_acquirers;
      }
      mine += bucket.try_acquire().allowed ? 1 : 0;
    }
    admitted += mine;
  });
  const int during = switches.load();
  stop = true;
  writer.join();
  INFO(during << " rate switches while the threads acquired");
  CHECK(during >= 12);
  CHECK(switches_seen_by_acquirers.load() == kThreads * 12);
  CHECK(admitted.load() == burst);
  CHECK(bucket.available() == 0);
}

TEST_CASE("re-applying the same rate while threads acquire changes nothing and retires no block",
          "[limits][concurrent]") {
  manual_clock clock;
  constexpr std::uint64_t burst = 20'000;
  tollgate::basic_token_bucket<manual_clock, multi_thread> bucket(token_rate(10, 13s), burst, clock);
  std::atomic<std::uint64_t> admitted{0};
  std::atomic<bool> stop{false};
  std::atomic<int> reapplied{0};
  std::barrier sync(kThreads + 1);
  std::thread writer([&] {
    sync.arrive_and_wait();
    while (!stop.load()) {
      bucket.set_rate(token_rate(20, 26s));  // the same rate
      bucket.set_burst(burst);
      ++reapplied;
    }
  });
  // As above: every 500 attempts an acquirer waits for another re-apply, so
  // they provably overlap while tokens remain (4 x 6000 > 20 000).
  run_threads(kThreads, [&](int) {
    sync.arrive_and_wait();
    std::uint64_t mine = 0;
    int last = reapplied.load();
    for (int i = 0; i < 6000; ++i) {
      if (i % 500 == 499) {
        while (reapplied.load() == last) std::this_thread::yield();
        last = reapplied.load();
      }
      mine += bucket.try_acquire().allowed ? 1 : 0;
    }
    admitted += mine;
  });
  stop = true;
  writer.join();
  CHECK(reapplied.load() >= 12);
  CHECK(admitted.load() == burst);
  CHECK(bucket.available() == 0);
  CHECK(bucket.heap_bytes() == 0);
}

TEST_CASE("threads on one pool: never more than the limit running, no task lost or started twice",
          "[limits][concurrent]") {
  constexpr std::size_t limit = 3;
  constexpr int per_thread = 10'000;
  constexpr std::size_t total = static_cast<std::size_t>(kThreads) * per_thread;
  tollgate::basic_concurrency_pool<std::uint64_t, multi_thread> pool(limit);
  auto starts = std::make_unique<std::atomic<int>[]>(total);
  std::atomic<int> active{0}, max_active{0}, violations{0};
  std::atomic<bool> stop_toggler{false};

  // The thread that learns a task started owns it and later ends it. `active`
  // counts tasks started and not yet ended: it rises after the pool reports a
  // start and falls before the owner reports the end, so it never exceeds
  // what the pool really runs.
  auto on_start = [&](std::uint64_t id, std::vector<std::uint64_t>& owned) {
    if (starts[id].fetch_add(1) != 0) ++violations;  // started twice
    const int a = active.fetch_add(1) + 1;
    int m = max_active.load();
    while (a > m && !max_active.compare_exchange_weak(m, a)) {}
    owned.push_back(id);
  };
  auto end_one = [&](std::vector<std::uint64_t>& owned, bool cancel) {
    const std::uint64_t id = owned.back();
    owned.pop_back();
    active.fetch_sub(1);
    const auto r = cancel ? pool.cancel(id) : pool.finish(id);
    if (!r.found || !r.was_running) ++violations;
    for (auto s : r.started) on_start(s, owned);
  };

  std::barrier sync(kThreads + 1);
  std::thread toggler([&] {
    // A tier change back and forth: raising starts tasks (this thread owns
    // them), lowering stops none.
    std::vector<std::uint64_t> owned;
    sync.arrive_and_wait();
    for (int i = 0; !stop_toggler.load(); ++i) {
      for (auto s : pool.set_limit(i % 2 ? limit : limit - 1)) on_start(s, owned);
      while (!owned.empty()) end_one(owned, false);
    }
    for (auto s : pool.set_limit(limit)) on_start(s, owned);
    while (!owned.empty()) end_one(owned, false);
  });
  run_threads(kThreads, [&](int t) {
    std::mt19937 rng(static_cast<unsigned>(t));
    std::vector<std::uint64_t> owned;
    sync.arrive_and_wait();
    for (int i = 0; i < per_thread; ++i) {
      const auto id = static_cast<std::uint64_t>(t) * per_thread + static_cast<std::uint64_t>(i);
      const auto a = pool.submit(id);
      if (a.status == tollgate::pool_status::running) on_start(id, owned);
      else if (a.status != tollgate::pool_status::queued) ++violations;
      if (!owned.empty() && rng() % 3 != 0) end_one(owned, rng() % 5 == 0);
      if (pool.running() > limit) ++violations;
    }
    while (!owned.empty()) end_one(owned, false);
  });
  stop_toggler = true;
  toggler.join();
  // Tasks may still be queued if every owner had finished when a lowered limit
  // held them back; the toggler restored the limit, and anything it started it
  // ran to the end. Whatever is left must be startable and then finishable.
  std::vector<std::uint64_t> owned;
  for (auto s : pool.set_limit(limit)) on_start(s, owned);
  while (!owned.empty()) end_one(owned, false);

  CHECK(violations.load() == 0);
  CHECK(max_active.load() <= static_cast<int>(limit));
  CHECK(active.load() == 0);
  CHECK(pool.running() == 0);
  CHECK(pool.queued() == 0);
  std::size_t never = 0, twice = 0;
  for (std::size_t i = 0; i < total; ++i) {
    never += starts[i].load() == 0 ? 1 : 0;
    twice += starts[i].load() > 1 ? 1 : 0;
  }
  CHECK(never == 0);
  CHECK(twice == 0);
}

TEST_CASE("threads cancelling queued tasks: the rest start once, each thread's in order",
          "[limits][concurrent]") {
  constexpr int per_thread = 3000;
  tollgate::basic_concurrency_pool<std::uint64_t, multi_thread> pool(0);  // everything waits
  std::atomic<int> violations{0};
  std::vector<std::vector<std::uint64_t>> kept(kThreads);
  std::barrier sync(kThreads);
  run_threads(kThreads, [&](int t) {
    std::mt19937 rng(static_cast<unsigned>(t) + 100);
    sync.arrive_and_wait();
    std::vector<std::uint64_t> mine;
    for (int i = 0; i < per_thread; ++i) {
      const auto id = static_cast<std::uint64_t>(t) * per_thread + static_cast<std::uint64_t>(i);
      if (pool.submit(id).status != tollgate::pool_status::queued) ++violations;
      mine.push_back(id);
      if (rng() % 3 == 0) {
        const std::size_t k = rng() % mine.size();
        const auto r = pool.cancel(mine[k]);
        if (!r.found || r.was_running || !r.started.empty()) ++violations;
        mine.erase(mine.begin() + static_cast<std::ptrdiff_t>(k));
      }
    }
    kept[static_cast<std::size_t>(t)] = mine;
  });
  const auto started = pool.set_limit(per_thread * kThreads);
  CHECK(violations.load() == 0);
  std::size_t expected = 0;
  for (const auto& k : kept) expected += k.size();
  CHECK(started.size() == expected);
  // Each thread's surviving tasks start in the order it submitted them.
  std::vector<std::size_t> next(kThreads, 0);
  bool in_order = true;
  for (auto id : started) {
    const auto t = static_cast<std::size_t>(id / per_thread);
    if (next[t] >= kept[t].size() || kept[t][next[t]] != id) in_order = false;
    else ++next[t];
  }
  CHECK(in_order);
}

TEST_CASE("threads on a keyed registry get exactly each key's burst", "[limits][concurrent]") {
  using bucket = tollgate::basic_token_bucket<manual_clock, single_thread>;
  manual_clock clock;
  constexpr std::uint64_t keys = 200, burst = 25;
  SECTION("no cap pressure: every key gives exactly its burst") {
    tollgate::keyed<bucket, std::uint64_t> reg([&](const std::uint64_t&) { return bucket(token_rate(1, 1s), burst, clock); },
                                               {}, clock);
    auto admitted = std::make_unique<std::atomic<std::uint64_t>[]>(keys);
    std::barrier sync(kThreads);
    run_threads(kThreads, [&](int t) {
      std::mt19937 rng(static_cast<unsigned>(t));
      sync.arrive_and_wait();
      for (int i = 0; i < 20'000; ++i) {
        const std::uint64_t k = rng() % keys;
        if (reg.try_acquire(k, 1u).allowed) admitted[k]++;
      }
      for (std::uint64_t k = 0; k < keys; ++k)
        while (reg.try_acquire(k, 1u).allowed) admitted[k]++;
    });
    std::size_t wrong = 0;
    for (std::uint64_t k = 0; k < keys; ++k) wrong += admitted[k].load() == burst ? 0 : 1;
    CHECK(wrong == 0);
    CHECK(reg.size() == keys);
  }
  SECTION("at the cap, a key is refused rather than reset") {
    tollgate::keyed_options o;
    o.max_entries = 64;
    tollgate::keyed<bucket, std::uint64_t> reg([&](const std::uint64_t&) { return bucket(token_rate(1, 1s), burst, clock); },
                                               o, clock);
    auto admitted = std::make_unique<std::atomic<std::uint64_t>[]>(keys);
    std::barrier sync(kThreads);
    run_threads(kThreads, [&](int t) {
      std::mt19937 rng(static_cast<unsigned>(t));
      sync.arrive_and_wait();
      for (int i = 0; i < 8000; ++i) {
        const std::uint64_t k = rng() % keys;
        if (reg.try_acquire(k, 1u).allowed) admitted[k]++;
      }
    });
    std::size_t over = 0;
    for (std::uint64_t k = 0; k < keys; ++k) over += admitted[k].load() > burst ? 1 : 0;
    CHECK(over == 0);
    CHECK(reg.size() <= 64);
  }
}
