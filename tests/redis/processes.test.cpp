// Many service instances on one Redis, with Redis's own clock (server time,
// as in production): 4 processes x 4 threads sharing an account never run
// above the concurrency limit nor pass the daily cap; a process killed with
// SIGKILL while it holds slots gets them back after the lease TTL and queued
// tasks start; instances whose clocks differ by minutes share one window. The
// worker processes are tollgate-redis-worker (redis_worker.cpp). These tests
// wait on Redis's clock (a lease TTL of a few hundred milliseconds), the one
// place tests sleep: that clock is not ours to move.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "../limits/backend_fixtures.hpp"
#include "shared_counters.hpp"

#ifndef TOLLGATE_REDIS_WORKER
#error "TOLLGATE_REDIS_WORKER must name the worker program (tests/redis/CMakeLists.txt)"
#endif

extern char** environ;

namespace {

using namespace std::chrono_literals;
using tollgate::key_limits;
using tollgate::task_place;

struct child {
  pid_t pid = -1;
  int out = -1;  // its stdout
};

child spawn(std::vector<std::string> args) {
  args.insert(args.begin(), TOLLGATE_REDIS_WORKER);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  child c;
  const int rc = ::posix_spawn(&c.pid, TOLLGATE_REDIS_WORKER, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  REQUIRE(rc == 0);
  c.out = fds[0];
  return c;
}

int wait_exit(child& c) {
  int status = 0;
  ::waitpid(c.pid, &status, 0);
  ::close(c.out);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Reads the child's stdout until it has printed `line` (or `wait` passes).
bool wait_for_line(child& c, const std::string& line, std::chrono::milliseconds wait) {
  std::string seen;
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{c.out, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[256];
    const ssize_t n = ::read(c.out, buf, sizeof buf);
    if (n <= 0) return false;
    seen.append(buf, static_cast<std::size_t>(n));
    if (seen.find(line) != std::string::npos) return true;
  }
  return false;
}

tollgate::redis::backend_options server_time(const std::string& prefix, std::chrono::milliseconds lease) {
  tollgate::redis::backend_options o;
  o.prefix = prefix;
  o.lease_ttl = lease;
  return o;
}

}  // namespace

TEST_CASE("4 processes x 4 threads never run above the limit nor pass the daily cap", "[redis][processes]") {
  const auto url = tollgate_test::redis_url_or_skip();
  if (!url) return;
  const std::string prefix = "tgproc-" + tollgate_test::unique_word();
  const std::string account = "acct-shared";
  const std::string counters_file = std::string(TOLLGATE_TEST_BINARY_DIR) + "/redis-counters-" + prefix;
  auto* c = redis_test::map_counters(counters_file, true);
  constexpr int processes = 4, threads = 4, attempts = 30;  // 480 jobs, 240 a model
  constexpr std::uint64_t daily = 200, slots = 3;
  std::vector<child> children;
  for (int p = 0; p < processes; ++p)
    children.push_back(spawn({"hammer", *url, prefix, account, counters_file, std::to_string(threads),
                              std::to_string(attempts), std::to_string(daily), std::to_string(slots)}));
  for (auto& ch : children) CHECK(wait_exit(ch) == 0);

  CHECK(c->errors.load() == 0);
  CHECK(c->lost.load() == 0);
  tollgate::redis::backend b(*url, server_time(prefix, 30s));
  for (int m = 0; m < redis_test::kModels; ++m) {
    INFO("model " << m);
    CHECK(c->max_running[m].load() <= slots);
    CHECK(c->max_running[m].load() >= 2);  // they did contend
    CHECK(c->admitted[m].load() == daily);  // 240 tried: exactly the cap got in
    const auto u = b.state({account, m == 0 ? "gen4_turbo" : "veo3"}, std::chrono::system_clock::now());
    REQUIRE(u.has_value());
    CHECK(u->created == daily);
    CHECK(u->running == 0);
    CHECK(u->queued == 0);
  }
  ::unlink(counters_file.c_str());
}

TEST_CASE("a process killed while it holds slots gives them back after the lease TTL", "[redis][processes]") {
  const auto url = tollgate_test::redis_url_or_skip();
  if (!url) return;
  const std::string prefix = "tgkill-" + tollgate_test::unique_word();
  const std::string account = "acct-k";
  constexpr auto lease = 600ms;
  child holder = spawn({"hold", *url, prefix, account, "gen4_turbo", "2", std::to_string(lease.count())});
  REQUIRE(wait_for_line(holder, "held", 10s));

  std::vector<std::string> expired_seen;
  // Our own leases are long, so a slow machine cannot make our queued tasks
  // expire between two renewals (instances may use different TTLs).
  auto o = server_time(prefix, 10s);
  o.observer = [&](const tollgate::limiter_event& e) {
    if (e.kind == tollgate::limiter_event_kind::lease_expired) expired_seen.emplace_back(e.task);
  };
  tollgate::redis::backend b(*url, o);
  const tollgate::limiter_key k{account, "gen4_turbo"};
  const key_limits l{.daily = std::nullopt, .concurrency = 2};
  const auto now = std::chrono::system_clock::now();
  REQUIRE(b.admit(k, "mine-1", l, now)->position == 1);
  REQUIRE(b.admit(k, "mine-2", l, now)->position == 2);
  const auto killed_at = std::chrono::steady_clock::now();
  ::kill(holder.pid, SIGKILL);
  CHECK(wait_exit(holder) == 128 + SIGKILL);

  // Renew our queued tasks (as their instance must) until both run.
  std::vector<std::string> started;
  std::vector<std::string> expired;
  bool both = false;
  while (!both && std::chrono::steady_clock::now() - killed_at < 10s) {
    std::this_thread::sleep_for(50ms);
    for (const char* t : {"mine-1", "mine-2"}) {
      auto r = b.renew(k, t, l, now);
      REQUIRE(r.has_value());
      started.insert(started.end(), r->started.begin(), r->started.end());
      expired.insert(expired.end(), r->expired.begin(), r->expired.end());
      REQUIRE(r->place != task_place::absent);
    }
    both = b.renew(k, "mine-1", l, now)->place == task_place::running &&
           b.renew(k, "mine-2", l, now)->place == task_place::running;
  }
  CHECK(both);
  // Not before the holder's leases ran out (they were renewed last when admitted).
  CHECK(std::chrono::steady_clock::now() - killed_at >= lease - 100ms);
  CHECK(started == std::vector<std::string>{"mine-1", "mine-2"});
  std::sort(expired.begin(), expired.end());
  CHECK(expired == std::vector<std::string>{"h0", "h1"});
  CHECK(expired_seen.size() == 2);
  const auto u = b.state(k, now);
  CHECK(u->running == 2);
  CHECK(u->queued == 0);
}

TEST_CASE("instances whose clocks differ by minutes share one window", "[redis][skew]") {
  const auto url = tollgate_test::redis_url_or_skip();
  if (!url) return;
  const std::string prefix = "tgskew-" + tollgate_test::unique_word();
  // Two instances; B's clock is 7 minutes ahead of A's, and neither is Redis's.
  tollgate::redis::backend a(*url, server_time(prefix, 30s));
  tollgate::redis::backend b(*url, server_time(prefix, 30s));
  const auto real = std::chrono::system_clock::now();
  const auto a_now = real - 3min, b_now = real + 4min;
  const tollgate::limiter_key k{"acct-skew", "gen4_turbo"};
  const key_limits l{.daily = 2, .concurrency = 5};
  const auto first = a.admit(k, "j1", l, a_now);
  REQUIRE(first.has_value());
  REQUIRE(first->admitted());
  const auto second = b.admit(k, "j2", l, b_now);
  REQUIRE(second->admitted());
  // Both creation times are Redis's, within a second of each other and of
  // the real time, whatever the instances' clocks say.
  CHECK(second->created_at - first->created_at < 1s);
  CHECK(second->created_at >= first->created_at);
  CHECK(std::chrono::abs(first->created_at - real) < 5s);
  // The window is one: both refuse the third job, with the same wait (24 h
  // from j1's creation, less the little time that passed), not one 7 minutes
  // off the other.
  const auto ra = a.admit(k, "j3", l, a_now);
  const auto rb = b.admit(k, "j3", l, b_now);
  REQUIRE(ra->status == tollgate::admit_status::daily_limit);
  REQUIRE(rb->status == tollgate::admit_status::daily_limit);
  CHECK(std::chrono::abs(ra->retry_after - rb->retry_after) < 1s);
  CHECK(ra->retry_after > 24h - 10s);
  CHECK(ra->retry_after <= 24h);
  CHECK(a.state(k, a_now)->created == 2);
  CHECK(b.state(k, b_now)->created == 2);
}
