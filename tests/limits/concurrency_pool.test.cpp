// Tests of basic_concurrency_pool: slots, the FIFO queue and its positions,
// finish/cancel returning what starts, live limit changes, the queue bound,
// duplicates, and a randomized comparison with a plain reference model.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <new>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <tollgate/limits/concurrency_pool.hpp>

#include "test_seed.hpp"

using tollgate::multi_thread;
using tollgate::pool_status;
using tollgate::single_thread;

namespace {
template <class S>
using pool = tollgate::basic_concurrency_pool<std::uint64_t, S>;

template <class R>
std::vector<std::uint64_t> ids(const R& started) {
  return std::vector<std::uint64_t>(started.begin(), started.end());
}
using v = std::vector<std::uint64_t>;
}  // namespace

TEMPLATE_TEST_CASE("pool runs up to its limit and queues the rest in order", "[limits][pool]",
                   single_thread, multi_thread) {
  pool<TestType> p(2);
  CHECK(p.submit(1).status == pool_status::running);
  CHECK(p.submit(2).status == pool_status::running);
  const auto a3 = p.submit(3);
  CHECK(a3.status == pool_status::queued);
  CHECK(a3.position == 1);
  const auto a4 = p.submit(4);
  CHECK(a4.status == pool_status::queued);
  CHECK(a4.position == 2);
  CHECK(p.running() == 2);
  CHECK(p.queued() == 2);
  CHECK(p.is_running(1));
  CHECK_FALSE(p.is_running(3));
  CHECK(p.position(4) == 2u);
  CHECK_FALSE(p.position(1).has_value());

  SECTION("finish starts the head of the queue") {
    const auto r = p.finish(2);
    CHECK(r.found);
    CHECK(r.was_running);
    CHECK(ids(r.started) == v{3});
    CHECK(p.position(4) == 1u);
    CHECK(ids(p.finish(1).started) == v{4});
    CHECK(p.finish(3).started.empty());
    CHECK(p.running() == 1);
  }
  SECTION("cancel of a queued task frees no slot") {
    const auto r = p.cancel(3);
    CHECK(r.found);
    CHECK_FALSE(r.was_running);
    CHECK(r.started.empty());
    CHECK(p.position(4) == 1u);
    CHECK(ids(p.finish(1).started) == v{4});
  }
  SECTION("cancel of a running task frees its slot") {
    const auto r = p.cancel(1);
    CHECK(r.found);
    CHECK(r.was_running);
    CHECK(ids(r.started) == v{3});
  }
  SECTION("finish of a queued or unknown task changes nothing") {
    const auto r = p.finish(3);
    CHECK_FALSE(r.found);
    CHECK(r.started.empty());
    CHECK_FALSE(p.finish(99).found);
    CHECK_FALSE(p.cancel(99).found);
    CHECK(p.running() == 2);
    CHECK(p.queued() == 2);
  }
  SECTION("a task id is refused while running or queued, reusable after") {
    CHECK(p.submit(1).status == pool_status::duplicate);
    CHECK(p.submit(3).status == pool_status::duplicate);
    CHECK(p.queued() == 2);
    REQUIRE(p.finish(1).found);
    CHECK(p.finish(3).found);  // 3 started when 1 finished, then 4 when 3 did
    CHECK(p.submit(1).status == pool_status::queued);  // 2 and 4 hold the slots
  }
}

TEMPLATE_TEST_CASE("pool limit changes live", "[limits][pool]", single_thread, multi_thread) {
  pool<TestType> p(1);
  for (std::uint64_t t = 1; t <= 5; ++t) (void)p.submit(t);
  REQUIRE(p.running() == 1);
  SECTION("raising it starts queued tasks at once, FIFO") {
    CHECK(ids(p.set_limit(3)) == v{2, 3});
    CHECK(p.running() == 3);
    CHECK(p.position(4) == 1u);
    CHECK(ids(p.set_limit(10)) == v{4, 5});
    CHECK(p.submit(6).status == pool_status::running);
  }
  SECTION("lowering it stops nothing; starts wait until running < limit") {
    REQUIRE(p.set_limit(3).size() == 2);
    CHECK(p.set_limit(1).empty());
    CHECK(p.running() == 3);
    CHECK(p.limit() == 1);
    CHECK(p.finish(1).started.empty());
    CHECK(p.finish(2).started.empty());
    CHECK(ids(p.finish(3).started) == v{4});
    CHECK(p.running() == 1);
  }
  SECTION("a limit of 0 holds everything in the queue") {
    CHECK(p.set_limit(0).empty());
    CHECK(p.finish(1).started.empty());
    CHECK(p.submit(7).status == pool_status::queued);
    CHECK(p.running() == 0);
    CHECK(ids(p.set_limit(2)) == v{2, 3});
  }
}

TEMPLATE_TEST_CASE("pool queue bound refuses with queue_full", "[limits][pool]", single_thread,
                   multi_thread) {
  pool<TestType> p(1, 2);
  CHECK(p.submit(1).status == pool_status::running);
  CHECK(p.submit(2).status == pool_status::queued);
  CHECK(p.submit(3).status == pool_status::queued);
  const auto a = p.submit(4);
  CHECK(a.status == pool_status::queue_full);
  CHECK(a.position == 0);
  CHECK_FALSE(p.cancel(4).found);  // a refused task is not kept
  SECTION("lowering the bound keeps what is queued") {
    p.set_queue_bound(0);
    CHECK(p.queued() == 2);
    CHECK(p.submit(5).status == pool_status::queue_full);
    CHECK(ids(p.finish(1).started) == v{2});
  }
  SECTION("a bound of zero still runs tasks while slots are free") {
    pool<TestType> q(1, 0);
    CHECK(q.submit(1).status == pool_status::running);
    CHECK(q.submit(2).status == pool_status::queue_full);
  }
  SECTION("removing the bound") {
    p.set_queue_bound(std::nullopt);
    CHECK(p.submit(4).status == pool_status::queued);
  }
}

TEST_CASE("pool is evictable only when empty", "[limits][pool]") {
  pool<single_thread> p(1);
  const int now = 0;  // a pool keeps no time
  CHECK(p.evictable(now, 0));
  (void)p.submit(1);
  (void)p.submit(2);
  CHECK_FALSE(p.evictable(now, 0));
  REQUIRE(p.cancel(2).found);
  CHECK_FALSE(p.evictable(now, 0));
  REQUIRE(p.finish(1).found);
  CHECK(p.evictable(now, 0));
}

TEST_CASE("pool takes any hashable task id and moves as a value", "[limits][pool]") {
  tollgate::basic_concurrency_pool<std::string, single_thread> p(1);
  CHECK(p.submit("job-a").status == pool_status::running);
  CHECK(p.submit("job-b").position == 1);
  auto moved = std::move(p);
  const auto r = moved.finish("job-a");
  REQUIRE(r.started.size() == 1);
  CHECK(r.started[0] == "job-b");
  CHECK(moved.is_running("job-b"));
}

TEST_CASE("a copied pool is independent of the original", "[limits][pool]") {
  // The index keeps, for each queued task, an iterator into the queue; a
  // member-wise copy pointed the copy's index into the original's queue.
  auto original = std::make_unique<pool<single_thread>>(1);
  REQUIRE(original->submit(1).status == pool_status::running);
  REQUIRE(original->submit(2).status == pool_status::queued);
  REQUIRE(original->submit(3).status == pool_status::queued);
  REQUIRE(original->submit(4).status == pool_status::queued);
  pool<single_thread> copy = *original;
  CHECK(original->cancel(3).found);  // changes the original only
  CHECK(copy.position(3) == 2u);
  original.reset();                   // the copy must not need it
  CHECK(copy.position(4) == 3u);
  CHECK(copy.cancel(2).found);        // leaves the copy's queue
  CHECK(copy.position(3) == 1u);
  CHECK(ids(copy.finish(1).started) == v{3});
  CHECK(ids(copy.finish(3).started) == v{4});
  CHECK(copy.queued() == 0);
  SECTION("copy assignment too") {
    pool<single_thread> other(5);
    (void)other.submit(9);
    pool<single_thread> src(0);
    (void)src.submit(7);
    (void)src.submit(8);
    other = src;
    CHECK_FALSE(other.is_running(9));
    CHECK(src.cancel(7).found);
    CHECK(other.position(8) == 2u);
    CHECK(ids(other.set_limit(2)) == v{7, 8});
    CHECK(src.queued() == 1);
    const auto& same = other;
    other = same;  // self-assignment keeps everything
    CHECK(other.running() == 2);
  }
}

namespace {
// A task id whose copies fail on demand (as a std::string id's copy does when
// memory runs out): after `copies_left` more copies, the next one throws.
struct fragile_id {
  std::uint64_t v;
  static inline int copies_left = -1;  // -1: never throw
  fragile_id(std::uint64_t x) : v(x) {}  // NOLINT: implicit, like an integer id
  fragile_id(const fragile_id& o) : v(o.v) { count_copy(); }
  fragile_id& operator=(const fragile_id& o) {
    count_copy();
    v = o.v;
    return *this;
  }
  static void count_copy() {
    if (copies_left == 0) throw std::bad_alloc();
    if (copies_left > 0) --copies_left;
  }
  friend bool operator==(const fragile_id& a, const fragile_id& b) { return a.v == b.v; }
};
struct fragile_hash {
  std::size_t operator()(const fragile_id& id) const noexcept { return std::hash<std::uint64_t>{}(id.v); }
};
struct copies_fail_after {
  explicit copies_fail_after(int n) { fragile_id::copies_left = n; }
  ~copies_fail_after() { fragile_id::copies_left = -1; }
};
}  // namespace

TEST_CASE("a pool operation that throws changes nothing: no task is lost", "[limits][pool]") {
  using fpool = tollgate::basic_concurrency_pool<fragile_id, single_thread, fragile_hash>;
  fpool p(1);
  REQUIRE(p.submit(1).status == pool_status::running);
  SECTION("submit whose queue entry cannot be made") {
    for (int n = 0; n < 2; ++n) {
      INFO("copies before the failure: " << n);
      copies_fail_after guard(n);
      CHECK_THROWS_AS(p.submit(2), std::bad_alloc);
    }
    // Not half-registered: the id is free, nothing is queued, nothing runs twice.
    CHECK(p.queued() == 0);
    CHECK(p.running() == 1);
    CHECK_FALSE(p.cancel(2).found);
    CHECK(p.submit(2).status == pool_status::queued);
    const auto r = p.finish(1);
    REQUIRE(r.started.size() == 1);
    CHECK(r.started[0].v == 2);
    CHECK(p.running() == 1);
  }
  SECTION("finish, cancel and set_limit whose started list cannot be built") {
    // Each runs on a fresh pool (1 running; 2 and 3 queued) with a copy
    // failing after n copies, for growing n: it either throws and changes
    // nothing, or succeeds and reports every task that started.
    enum op_kind { do_finish, do_cancel, do_raise };
    for (const op_kind op : {do_finish, do_cancel, do_raise}) {
      bool succeeded = false;
      for (int n = 0; n < 8 && !succeeded; ++n) {
        INFO("op " << int(op) << ", copies before the failure: " << n);
        fpool q(1);
        REQUIRE(q.submit(1).status == pool_status::running);
        REQUIRE(q.submit(2).status == pool_status::queued);
        REQUIRE(q.submit(3).status == pool_status::queued);
        std::vector<std::uint64_t> started;
        try {
          copies_fail_after guard(n);
          if (op == do_raise) {
            for (const auto& id : q.set_limit(3)) started.push_back(id.v);
          } else {
            const auto r = op == do_finish ? q.finish(1) : q.cancel(1);
            CHECK(r.found);
            CHECK(r.was_running);
            for (const auto& id : r.started) started.push_back(id.v);
          }
          succeeded = true;
        } catch (const std::bad_alloc&) {
        }
        if (succeeded) {
          CHECK(started == (op == do_raise ? v{2, 3} : v{2}));
          CHECK(q.running() == started.size() + (op == do_raise ? 1 : 0));
        } else {
          CHECK(q.is_running(1));
          CHECK(q.running() == 1);
          CHECK(q.queued() == 2);
          CHECK(q.position(2) == 1u);
          CHECK(q.position(3) == 2u);
          CHECK(q.limit() == 1);
          // ... and the same call, retried, does it all.
          const auto r = q.finish(1);
          CHECK(r.found);
          REQUIRE(r.started.size() == 1);
          CHECK(r.started[0].v == 2);
        }
      }
      CHECK(succeeded);
    }
  }
}

TEST_CASE("pool matches a reference model", "[limits][pool][model]") {
  const std::uint64_t seed = tollgate_test::test_seed();
  std::mt19937_64 rng(seed);
  auto pick = [&](std::uint64_t lo, std::uint64_t hi) {
    return std::uniform_int_distribution<std::uint64_t>(lo, hi)(rng);
  };
  pool<single_thread> p(3, 6);
  // The reference: a set of running ids and a deque in FIFO order.
  std::set<std::uint64_t> running;
  std::deque<std::uint64_t> queue;
  std::size_t limit = 3;
  std::optional<std::size_t> bound = 6;
  auto start_ready = [&] {
    v started;
    while (running.size() < limit && !queue.empty()) {
      started.push_back(queue.front());
      running.insert(queue.front());
      queue.pop_front();
    }
    return started;
  };
  for (int step = 0; step < 20'000; ++step) {
    const std::uint64_t op = pick(0, 99);
    const std::uint64_t id = pick(0, 30);
    INFO("seed " << seed << " (TOLLGATE_TEST_SEED replays it), step " << step << ", op " << op << ", id " << id);
    if (op < 40) {
      const auto a = p.submit(id);
      const bool known = running.count(id) || std::find(queue.begin(), queue.end(), id) != queue.end();
      if (known) {
        REQUIRE(a.status == pool_status::duplicate);
      } else if (running.size() < limit && queue.empty()) {
        REQUIRE(a.status == pool_status::running);
        running.insert(id);
      } else if (bound && queue.size() >= *bound) {
        REQUIRE(a.status == pool_status::queue_full);
      } else {
        queue.push_back(id);
        REQUIRE(a.status == pool_status::queued);
        REQUIRE(a.position == queue.size());
      }
    } else if (op < 70) {
      const auto r = p.finish(id);
      REQUIRE(r.found == (running.count(id) == 1));
      if (r.found) {
        running.erase(id);
        REQUIRE(ids(r.started) == start_ready());
      } else {
        REQUIRE(r.started.empty());
      }
    } else if (op < 85) {
      const auto r = p.cancel(id);
      const auto q = std::find(queue.begin(), queue.end(), id);
      if (running.count(id)) {
        REQUIRE(r.found);
        REQUIRE(r.was_running);
        running.erase(id);
        REQUIRE(ids(r.started) == start_ready());
      } else if (q != queue.end()) {
        REQUIRE(r.found);
        REQUIRE_FALSE(r.was_running);
        REQUIRE(r.started.empty());
        queue.erase(q);
      } else {
        REQUIRE_FALSE(r.found);
      }
    } else if (op < 92) {
      limit = pick(0, 6);
      REQUIRE(ids(p.set_limit(limit)) == start_ready());
    } else if (op < 95) {
      bound = pick(0, 3) == 0 ? std::nullopt : std::optional<std::size_t>(pick(0, 8));
      p.set_queue_bound(bound);
    } else {
      const auto pos = p.position(id);
      const auto q = std::find(queue.begin(), queue.end(), id);
      if (q == queue.end()) {
        REQUIRE_FALSE(pos.has_value());
      } else {
        REQUIRE(pos == static_cast<std::size_t>(q - queue.begin()) + 1);
      }
    }
    REQUIRE(p.running() == running.size());
    REQUIRE(p.queued() == queue.size());
  }
}
