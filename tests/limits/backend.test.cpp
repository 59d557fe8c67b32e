// The LimiterBackend suite (backend_suite.hpp) on the in-process backend,
// and what only the in-process backend does: memory that follows live keys.
#include <catch2/catch.hpp>

#include <tuple>

#include "backend_fixtures.hpp"

using backend_fixtures = std::tuple<tollgate_test::local_fixture>;

#include "backend_suite.hpp"

static_assert(tollgate::LimiterBackend<tollgate::basic_local_backend<tollgate::manual_clock>>);

TEST_CASE("local backend drops a key once it holds nothing", "[backend][local]") {
  tollgate_test::local_fixture f;
  const tollgate::key_limits l{.daily = 10, .concurrency = 1};
  (void)ok(f.store.admit(f.key(), "a", l, f.now()));
  (void)ok(f.store.admit(f.key(), "b", l, f.now()));
  (void)ok(f.store.take(f.key("bucket"), 1, tollgate::token_rate(1, 1s), 1, f.now()));
  CHECK(f.store.size() == 2);
  f.advance(10min + 1s);
  CHECK(f.store.sweep() == 1);  // the bucket, full for the TTL; the key has open tasks
  f.advance(48h);
  CHECK(f.store.sweep() == 0);
  (void)ok(f.store.finish(f.key(), "a", l, f.now()));
  CHECK(f.store.sweep() == 0);  // b still queued
  (void)ok(f.store.finish(f.key(), "b", l, f.now()));
  // The creations left the window long ago and no task is open: the key is
  // what a new one would be (a pool keeps no time, so no TTL applies).
  CHECK(f.store.sweep() == 1);
  CHECK(f.store.size() == 0);
  CHECK(ok(f.store.state(f.key(), f.now())).created == 0);
  CHECK(f.store.size() == 0);  // reading a key does not create it
}

TEST_CASE("local backend keeps a key while a job counts toward the cap", "[backend][local]") {
  tollgate_test::local_fixture f;
  const tollgate::key_limits l{.daily = 1, .concurrency = 1};
  (void)ok(f.store.admit(f.key(), "a", l, f.now()));
  (void)ok(f.store.finish(f.key(), "a", l, f.now()));
  f.advance(24h + 10min - 1us);
  CHECK(f.store.sweep() == 0);
  f.advance(1us);
  CHECK(f.store.sweep() == 1);
}

TEST_CASE("local backend restore refuses a key with open tasks", "[backend][local]") {
  tollgate_test::local_fixture f;
  const tollgate::key_limits l{.daily = 1, .concurrency = 1};
  (void)ok(f.store.admit(f.key(), "a", l, f.now()));
  const std::vector<tollgate::basic_restored_task<tollgate::manual_clock::time_point>> h{
      {"b", f.now(), tollgate::task_place::running}};
  CHECK(f.store.restore(f.key(), h, l, f.now()).code() == tollgate::errc::invalid_argument);
  CHECK(ok(f.store.state(f.key(), f.now())).running == 1);
}
