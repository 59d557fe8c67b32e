// Tests of keyed<Limiter>: entries created on first use, keys independent,
// eviction only of entries indistinguishable from fresh ones (per limiter
// type), the TTL, the hard cap refusing rather than forgetting state, sweep(),
// visit() and apply().
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <set>
#include <string>

#include <tollgate/limits/concurrency_pool.hpp>
#include <tollgate/limits/keyed.hpp>
#include <tollgate/limits/rolling_window.hpp>
#include <tollgate/limits/token_bucket.hpp>

using namespace std::chrono_literals;
using tollgate::keyed;
using tollgate::keyed_options;
using tollgate::limit_reason;
using tollgate::manual_clock;
using tollgate::single_thread;
using tollgate::token_rate;

namespace {
using bucket = tollgate::basic_token_bucket<manual_clock, single_thread>;
using window = tollgate::basic_rolling_window<manual_clock, std::uint64_t, single_thread>;
using pool = tollgate::basic_concurrency_pool<std::uint64_t, single_thread>;

keyed_options opts(std::chrono::nanoseconds ttl, std::size_t cap) {
  keyed_options o;
  o.idle_ttl = ttl;
  o.max_entries = cap;
  return o;
}

}  // namespace

TEST_CASE("keyed creates one limiter per key on first use", "[limits][keyed]") {
  manual_clock clock;
  int made = 0;
  keyed<bucket> reg(
      [&](const std::string& key) {
        ++made;
        return bucket(token_rate(1, 1s), key == "acct-1/video" ? 2 : 5, clock);
      },
      {}, clock);
  CHECK(reg.size() == 0);
  CHECK(reg.try_acquire(std::string("acct-1/video"), 2u).allowed);
  CHECK_FALSE(reg.try_acquire(std::string("acct-1/video"), 1u).allowed);
  CHECK(reg.try_acquire(std::string("acct-2/video"), 5u).allowed);  // another key, its own bucket
  CHECK(made == 2);
  CHECK(reg.size() == 2);
  CHECK(reg.contains("acct-1/video"));
  CHECK_FALSE(reg.contains("acct-3/video"));

  SECTION("visit never creates") {
    CHECK_FALSE(reg.visit("acct-3/video", [](bucket& b, auto now) { return b.available(now); }).has_value());
    CHECK(reg.visit("acct-1/video", [](bucket& b, auto now) { return b.available(now); }) == 0u);
    CHECK_FALSE(reg.visit("acct-3/video", [](bucket&, auto) {}));
    CHECK(made == 2);
  }
  SECTION("apply reaches the limiter, e.g. for a promotion") {
    CHECK(reg.apply("acct-1/video", [](bucket& b, auto now) { b.set_burst(10, now); }));
    clock.advance(10s);
    CHECK(reg.try_acquire(std::string("acct-1/video"), 10u).allowed);
  }
}

TEST_CASE("keyed: a new or evicted key's first request finds a full bucket on a moving clock",
          "[limits][keyed]") {
  // The registry reads the clock, then (under the shard lock) the factory
  // makes a bucket that reads the clock again: full at that later instant.
  // Used at the registry's earlier reading, a burst-1 bucket was a tick short
  // of its one token, so every new key's first request was refused.
  // Like a real clock, this one has moved on (1 us) every time it is read:
  // a manual_clock that reads one instant twice hides this kind of bug.
  using tbucket = tollgate::basic_token_bucket<manual_clock, single_thread>;
  manual_clock clock;
  clock.set_tick(1us);
  keyed<tbucket, std::uint64_t> reg([&](const std::uint64_t&) { return tbucket(token_rate(1, 1s), 1, clock); },
                                    opts(1min, 1'000'000), clock);
  for (std::uint64_t k = 0; k < 100; ++k) {
    INFO("key " << k);
    const auto d = reg.try_acquire(k, 1u);
    CHECK(d.allowed);
    CHECK(d.reason == limit_reason::none);
    CHECK_FALSE(reg.try_acquire(k, 1u).allowed);  // and exactly the burst
  }
  SECTION("after eviction the key comes back full, as the truth says") {
    clock.advance(1h);
    CHECK(reg.sweep() == 100);
    CHECK(reg.try_acquire(std::uint64_t{7}, 1u).allowed);
    CHECK_FALSE(reg.try_acquire(std::uint64_t{7}, 1u).allowed);
  }
  SECTION("apply on a new key sees it full too") {
    CHECK(reg.apply(std::uint64_t{1000}, [](tbucket& b, auto now) { return b.available(now); }) == 1u);
  }
}

TEST_CASE("keyed evicts a token bucket only when full for the TTL", "[limits][keyed]") {
  manual_clock clock;
  int made = 0;
  keyed<bucket> reg(
      [&](const std::string&) {
        ++made;
        return bucket(token_rate(1, 1s), 3, clock);
      },
      opts(1min, 1'000'000), clock);
  REQUIRE(reg.try_acquire(std::string("a"), 3u).allowed);
  REQUIRE(reg.try_acquire(std::string("b"), 0u).allowed);  // b stays full
  clock.advance(1min);
  CHECK(reg.sweep() == 1);  // b has been full for a minute; a only since t0 + 3 s
  CHECK(reg.contains("a"));
  CHECK_FALSE(reg.contains("b"));
  clock.advance(3s);
  CHECK(reg.sweep() == 1);  // a has now been full for 1 min
  CHECK(reg.size() == 0);
  // Back as a fresh bucket: exactly what the truth says (full).
  CHECK(reg.try_acquire(std::string("a"), 3u).allowed);
  CHECK(made == 3);
  SECTION("a bucket that is not full is never evicted, however long the TTL has passed") {
    clock.advance(1s);  // one token back of three
    for (int i = 0; i < 10; ++i) CHECK(reg.sweep(clock.now()) == 0);
    CHECK(reg.contains("a"));
  }
}

TEST_CASE("keyed evicts a window only when nothing is left in its period", "[limits][keyed]") {
  manual_clock clock(manual_clock::time_point(std::chrono::hours(24 * 1000)));
  keyed<window> reg([&](const std::string&) { return window(2, 1h, clock); }, opts(0s, 1'000'000), clock);
  REQUIRE(reg.try_acquire(std::string("a"), std::uint64_t{2}).allowed);
  clock.advance(1h);
  CHECK(reg.sweep() == 0);  // the bucket of the first start is still counted
  CHECK_FALSE(reg.try_acquire(std::string("a"), std::uint64_t{1}).allowed);
  clock.advance(1min);
  CHECK(reg.sweep() == 1);
  CHECK(reg.try_acquire(std::string("a"), std::uint64_t{2}).allowed);
}

TEST_CASE("keyed evicts a pool only when nothing runs or waits", "[limits][keyed]") {
  keyed<pool, std::uint64_t> reg([](const std::uint64_t&) { return pool(1); }, opts(0s, 1'000'000));
  REQUIRE(reg.apply(7, [](pool& p, auto) { return p.submit(1); })->status == tollgate::pool_status::running);
  REQUIRE(reg.apply(7, [](pool& p, auto) { return p.submit(2); })->status == tollgate::pool_status::queued);
  CHECK(reg.sweep() == 0);
  const auto r = reg.visit(7, [](pool& p, auto) { return p.finish(1); });
  REQUIRE(r.has_value());
  CHECK(r->started.size() == 1);
  CHECK(reg.sweep() == 0);
  (void)reg.visit(7, [](pool& p, auto) { return p.finish(2); });
  CHECK(reg.sweep() == 1);
  CHECK_FALSE(reg.contains(7));
}

TEST_CASE("keyed hard cap: evict a fresh-equivalent entry, else refuse the new key", "[limits][keyed]") {
  manual_clock clock;
  // 64 entries: one per shard.
  keyed<bucket, std::uint64_t> reg([&](const std::uint64_t&) { return bucket(token_rate(1, 1s), 1, clock); },
                                   opts(1h, 64), clock);
  // Fill every shard with a bucket that is not full (it cannot be evicted).
  std::uint64_t k = 0;
  std::size_t refused = 0;
  for (; k < 5000; ++k) {
    const auto d = reg.try_acquire(k, 1u);
    if (!d.allowed) {
      CHECK(d.reason == limit_reason::registry_full);
      CHECK(d.retry_after == 1h);
      ++refused;
    }
  }
  CHECK(reg.size() == 64);
  CHECK(refused == 5000 - 64);
  // Time refills them: now every entry is fresh-equivalent, so at the cap a
  // new key takes the place of one (the TTL does not apply to room-making).
  clock.advance(1s);
  CHECK(reg.try_acquire(k + 1, 1u).allowed);
  CHECK(reg.size() == 64);
  SECTION("a single_thread registry works the same") {
    tollgate::basic_keyed<bucket, std::uint64_t, single_thread> st(
        [&](const std::uint64_t&) { return bucket(token_rate(1, 1s), 1, clock); }, opts(1h, 64), clock);
    CHECK(st.try_acquire(std::uint64_t{1}, 1u).allowed);
  }
}

TEST_CASE("keyed sweeps idle entries a little on every insertion", "[limits][keyed]") {
  manual_clock clock;
  keyed_options o = opts(1s, 1'000'000);
  o.sweep_buckets_per_insert = 64;
  keyed<bucket, std::uint64_t> reg([&](const std::uint64_t&) { return bucket(token_rate(1, 1s), 1, clock); }, o,
                                   clock);
  for (std::uint64_t k = 0; k < 1000; ++k) REQUIRE(reg.try_acquire(k, 0u).allowed);
  const std::size_t before = reg.size();
  CHECK(before == 1000);
  clock.advance(2s);
  for (std::uint64_t k = 1000; k < 3000; ++k) REQUIRE(reg.try_acquire(k, 0u).allowed);
  CHECK(reg.size() < 3000);  // idle ones were swept on the way
}

TEST_CASE("keyed refuses a configuration that cannot work", "[limits][keyed]") {
  CHECK_THROWS_AS((keyed<pool, std::uint64_t>(nullptr)), tollgate::limit_config_error);
  CHECK_THROWS_AS((keyed<pool, std::uint64_t>([](const std::uint64_t&) { return pool(1); }, opts(1s, 0))),
                  tollgate::limit_config_error);
  // A negative TTL would make registry_full's retry_after negative.
  try {
    keyed<pool, std::uint64_t> reg([](const std::uint64_t&) { return pool(1); }, opts(-1s, 10));
    FAIL("no throw");
  } catch (const tollgate::limit_config_error& e) {
    CHECK(e.field() == "idle_ttl");
  }
  CHECK_NOTHROW(keyed<pool, std::uint64_t>([](const std::uint64_t&) { return pool(1); }, opts(0s, 10)));
}

TEST_CASE("keyed takes the largest max_entries without wrapping its shard capacity", "[limits][keyed]") {
  // (max_entries + 63) / 64 wrapped to 0 here, and every new key was refused
  // as registry_full.
  manual_clock clock;
  keyed<bucket, std::uint64_t> reg([&](const std::uint64_t&) { return bucket(token_rate(1, 1s), 1, clock); },
                                   opts(1h, std::numeric_limits<std::size_t>::max()), clock);
  for (std::uint64_t k = 0; k < 200; ++k) REQUIRE(reg.try_acquire(k, 1u).allowed);
  CHECK(reg.size() == 200);
}

TEST_CASE("key_hash gives stable, distinct 64-bit keys", "[limits][keyed]") {
  using tollgate::key_hash;
  static_assert(key_hash("acct-42/video") == key_hash("acct-42/video"));
  CHECK(key_hash("acct-42/video") != key_hash("acct-42/image"));
  CHECK(key_hash("") != key_hash(std::string_view("\0", 1)));
  CHECK(key_hash("ab", "c") != key_hash("a", "bc"));
  CHECK(key_hash("acct-42", "video") != key_hash("acct-42/video"));
  // Pinned values: keys kept outside the process (e.g. in Redis) must not change between builds.
  CHECK(key_hash("acct-42/video") == 16341218521959957376ULL);
  CHECK(key_hash("acct-42", "video") == 9687602807390360320ULL);
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 100'000; ++i) seen.insert(key_hash("acct-" + std::to_string(i), "video"));
  CHECK(seen.size() == 100'000);
  SECTION("as registry keys") {
    manual_clock clock;
    keyed<bucket, std::uint64_t> reg([&](const std::uint64_t&) { return bucket(token_rate(1, 1s), 1, clock); }, {},
                                     clock);
    CHECK(reg.try_acquire(key_hash("acct-1", "video"), 1u).allowed);
    CHECK_FALSE(reg.try_acquire(key_hash("acct-1", "video"), 1u).allowed);
    CHECK(reg.try_acquire(key_hash("acct-1", "image"), 1u).allowed);
  }
}
