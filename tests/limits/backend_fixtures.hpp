// The limiter backends the parametrized suite (backend_suite.hpp) runs
// against, each on a manual_clock: the in-process backend, and, where the
// tests were built with tollgate::redis (TOLLGATE_TEST_REDIS), the Redis
// backend with caller time (the scripts take the test's clock instead of
// Redis's TIME) on the server named by TOLLGATE_REDIS_URL. Each fixture has
// its own accounts (a random key prefix), so tests never see each other's
// keys on a shared server. Without TOLLGATE_REDIS_URL a Redis test fails when
// the environment variable CI is set, and is skipped (with a warning)
// otherwise.
#pragma once

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include <tollgate/core/clock.hpp>
#include <tollgate/limits/local_backend.hpp>

#ifdef TOLLGATE_TEST_REDIS
#include <tollgate/redis/backend.hpp>
#endif

namespace tollgate_test {

using namespace std::chrono_literals;

/// 2026-01-01T00:00:00Z: test times look like real ones (and are whole
/// microseconds, the Redis backend's unit).
inline tollgate::manual_clock::time_point test_epoch() {
  return tollgate::manual_clock::time_point(std::chrono::seconds(1'767'225'600));
}

/// A random word so concurrent runs on one server do not share keys.
inline std::string unique_word() {
  static std::random_device rd;
  std::uniform_int_distribution<std::uint64_t> d;
  const std::uint64_t v = d(rd);
  static constexpr char hex[] = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 12; ++i) s += hex[(v >> (4 * i)) & 15];
  return s;
}

/// What every fixture offers: a clock, an account id and keys.
struct fixture_base {
  tollgate::manual_clock clock{test_epoch()};
  std::string account = "acct-" + unique_word();

  [[nodiscard]] tollgate::limiter_key key(std::string_view model = "gen4_turbo") const {
    return {account, model};
  }
  [[nodiscard]] tollgate::manual_clock::time_point now() const { return clock.now(); }
  void advance(std::chrono::nanoseconds d) { clock.advance(d); }
};

struct local_fixture : fixture_base {
  static constexpr std::string_view name = "local";
  static constexpr bool has_leases = false;
  tollgate::basic_local_backend<tollgate::manual_clock> store{clock};
  [[nodiscard]] bool ready() const { return true; }
  [[nodiscard]] auto& backend() { return store; }
};

#ifdef TOLLGATE_TEST_REDIS
/// TOLLGATE_REDIS_URL, or nullopt after failing (CI) or warning (locally).
inline std::optional<std::string> redis_url_or_skip() {
  const char* url = std::getenv("TOLLGATE_REDIS_URL");
  if (url != nullptr && *url != '\0') return std::string(url);
  if (std::getenv("CI") != nullptr)
    FAIL("TOLLGATE_REDIS_URL is not set: CI must start redis-server (scripts/test.sh does)");
  WARN("skipped: set TOLLGATE_REDIS_URL=redis://127.0.0.1:PORT to run the Redis tests");
  return std::nullopt;
}

inline tollgate::redis::backend_options redis_test_options(std::string_view prefix) {
  tollgate::redis::backend_options o;
  o.time = tollgate::redis::time_source::caller;
  o.prefix = std::string(prefix);
  // The suite moves its clock by days without renewing: leases outlast it
  // (the lease tests set their own TTL).
  o.lease_ttl = std::chrono::hours(24 * 30);
  return o;
}

struct redis_fixture : fixture_base {
  static constexpr std::string_view name = "redis";
  static constexpr bool has_leases = true;
  std::optional<std::string> url = redis_url_or_skip();
  std::optional<tollgate::redis::basic_backend<tollgate::manual_clock>> store =
      url ? std::optional<tollgate::redis::basic_backend<tollgate::manual_clock>>(
                std::in_place, *url, redis_test_options("tgtest-" + unique_word()), clock)
          : std::nullopt;
  [[nodiscard]] bool ready() const { return store.has_value(); }
  [[nodiscard]] auto& backend() { return *store; }
};
#endif

}  // namespace tollgate_test

/// Declares the fixture `f` of the test's backend, and ends the test when
/// its server is not configured (after the fixture failed it in CI).
#define TOLLGATE_BACKEND_FIXTURE(f) \
  TestType f;                       \
  if (!f.ready()) return
