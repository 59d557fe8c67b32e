// What only the Redis backend does: the URL; the key layout (one hash tag per
// account, escaped ids, keys that expire); a task id counted in the last 24
// hours is a duplicate even after it left (a retried call is never counted
// twice); leases that run out free their slots, start queued tasks and are
// reported; NOSCRIPT after SCRIPT FLUSH; the 53-bit bounds of token buckets;
// and the failure modes: a server that cannot be reached (refuse, or the
// local fallback), a server stopped and restarted mid-run (own server on
// another port), and a reply lost to a timeout. Needs TOLLGATE_REDIS_URL.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "../limits/backend_fixtures.hpp"

namespace {

using namespace std::chrono_literals;
using tollgate::admit_status;
using tollgate::errc;
using tollgate::key_limits;
using tollgate::limiter_event_kind;
using tollgate::task_place;
using tollgate::redis::backend_options;
using tollgate::redis::failure_mode;

template <class R>
auto ok(R&& r) {
  if (!r.has_value()) FAIL(r.error().message());
  return std::move(*r);
}

// A raw connection for looking at what the backend stored.
tollgate::redis::connection raw(const std::string& url) {
  auto c = tollgate::redis::connection::open(tollgate::redis::parse_url(url), {});
  if (!c) FAIL(c.error().message());
  return std::move(*c);
}

std::vector<std::string> reply_strings(const tollgate::redis::reply& r) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < r->elements; ++i) out.emplace_back(r->element[i]->str, r->element[i]->len);
  std::sort(out.begin(), out.end());
  return out;
}

tollgate::redis::url loopback(int port) {
  tollgate::redis::url u;
  u.port = port;
  return u;
}

// Options with short timeouts and no pause after a failure.
backend_options quick(std::string prefix, std::chrono::milliseconds timeout) {
  backend_options o;
  o.prefix = std::move(prefix);
  o.timeouts.connect = timeout;
  o.timeouts.command = timeout;
  o.retry_interval = 0ms;
  return o;
}

// True when something listens on the loopback port.
bool listening(int port) { return tollgate::redis::connection::open(loopback(port), {}).has_value(); }

// A free loopback port, below Linux's ephemeral range (32768 and up), so no
// client connection holds it.
int free_port() {
  for (int port = 20000 + static_cast<int>(::getpid() % 10000);; ++port)
    if (!listening(port)) return port;
}

// A redis-server of the test's own, with an append-only file so a restart
// keeps what it was told.
class own_server {
 public:
  own_server() {
    while (!try_start()) port_ = free_port() + 1 + static_cast<int>(std::rand() % 100);
  }
  ~own_server() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir(), ec);
  }
  [[nodiscard]] std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  void start() { REQUIRE(try_start()); }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);  // a clean shutdown: the append-only file is complete
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  [[nodiscard]] std::filesystem::path dir() const {
    return std::filesystem::temp_directory_path() / ("tg-redis-" + std::to_string(port_));
  }
  // Starts the server on port_ and waits until it answers; false when it
  // exits first (the port was taken) or does not answer within 5 s.
  bool try_start() {
    std::filesystem::create_directories(dir());
    pid_ = ::fork();
    if (pid_ == 0) {
      const std::string port = std::to_string(port_), d = dir().string();
      ::execlp("redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1", "--dir", d.c_str(),
               "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--logfile", "redis.log",
               static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 100; ++i) {
      if (auto c = tollgate::redis::connection::open(loopback(port_), {}); c) {
        if (auto r = c->command({"PING"}); r && (*r)->type == REDIS_REPLY_STATUS) return true;
      }
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {  // it exited: the port was taken
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(50ms);
    }
    stop();
    return false;
  }

  int port_ = free_port();
  pid_t pid_ = -1;
};

struct recorder {
  std::vector<limiter_event_kind> kinds;
  std::vector<std::string> tasks;
  std::vector<std::string> keys;  // account/model of each event
  tollgate::limiter_observer observer() {
    return [this](const tollgate::limiter_event& e) {
      kinds.push_back(e.kind);
      keys.push_back(std::string(e.account) + "/" + std::string(e.model));
      if (!e.task.empty()) tasks.emplace_back(e.task);
    };
  }
  [[nodiscard]] long count(limiter_event_kind k) const { return std::count(kinds.begin(), kinds.end(), k); }
};

}  // namespace

TEST_CASE("redis URLs parse strictly", "[redis][url]") {
  using tollgate::redis::parse_url;
  const auto u = parse_url("redis://127.0.0.1:6390");
  CHECK(u.host == "127.0.0.1");
  CHECK(u.port == 6390);
  CHECK(u.db == 0);
  const auto v = parse_url("redis://alice:s3cr:et@cache.internal/3");
  CHECK(v.user == "alice");
  CHECK(v.password == "s3cr:et");
  CHECK(v.host == "cache.internal");
  CHECK(v.port == 6379);
  CHECK(v.db == 3);
  CHECK(parse_url("redis://:pw@h:1").password == "pw");
  for (const char* bad : {"http://h:1", "redis://", "redis://h:", "redis://h:0x10", "redis://h:+1", "redis://h:70000",
                          "redis://h:1/x", "redis://h:1/-1", "redis://user@h", "redis://:1"})
    CHECK_THROWS_AS(parse_url(bad), tollgate::limit_config_error);
  CHECK_THROWS_AS(tollgate::redis::backend("redis://h:1", quick("a{b", 1s)), tollgate::limit_config_error);
}

TEST_CASE("redis keys: one hash tag per account, escaped ids, expiring", "[redis][keys]") {
  const auto url = tollgate_test::redis_url_or_skip();
  if (!url) return;
  const std::string prefix = "tgkeys-" + tollgate_test::unique_word();
  tollgate::redis::backend b(*url, quick(prefix, 1s));
  const std::string account = "ac{me}:1 %";
  REQUIRE(ok(b.admit({account, "gen4:turbo"}, "t1", {.daily = 5, .concurrency = 0}, {})).position == 1);
  auto c = raw(*url);
  auto keys = ok(c.command({"KEYS", prefix + ":*"}));
  const std::string base = prefix + ":{ac%7Bme%7D%3A1%20%25}:m:gen4%3Aturbo:";
  CHECK(reply_strings(keys) == std::vector<std::string>{base + "c", base + "l", base + "m", base + "q"});
  for (const char* s : {"c", "l", "m", "q"}) {
    const auto ttl = ok(c.command({"PTTL", base + s}));
    CHECK(ttl->integer > 24 * 3600 * 1000);
    CHECK(ttl->integer <= (24 + 1) * 3600 * 1000 + 30'000 + 60'000);  // 24 h + lease + an hour of refresh + 1 min
  }
  REQUIRE(ok(b.take({account, "api"}, 1, tollgate::token_rate(1, 1s), 10, {})).allowed);
  const auto bucket_ttl = ok(c.command({"PTTL", prefix + ":{ac%7Bme%7D%3A1%20%25}:b:api"}));
  CHECK(bucket_ttl->integer > 60'000);
  CHECK(bucket_ttl->integer <= 61'001);
}

TEST_CASE("redis keys created between two refreshes of the expiry get one too", "[redis][keys]") {
  tollgate_test::redis_fixture f;
  if (!f.ready()) return;
  const key_limits l{.daily = 10, .concurrency = 0};
  (void)ok(f.backend().admit(f.key(), "a", l, f.now()));  // refreshes every key's expiry
  (void)ok(f.backend().finish(f.key(), "a", l, f.now()));  // the queue and the leases are gone
  f.advance(10min);
  (void)ok(f.backend().admit(f.key(), "b", l, f.now()));  // creates them again, no refresh due
  auto c = raw(*f.url);
  auto keys = ok(c.command({"KEYS", f.store->options().prefix + ":*"}));
  REQUIRE(keys->elements == 4);
  for (std::size_t i = 0; i < keys->elements; ++i) {
    INFO(keys->element[i]->str);
    CHECK(ok(c.command({"PTTL", std::string_view(keys->element[i]->str, keys->element[i]->len)}))->integer > 0);
  }
}

TEST_CASE("redis: a task id counted in the last 24 hours stays a duplicate after it left", "[redis]") {
  tollgate_test::redis_fixture f;
  if (!f.ready()) return;
  const key_limits l{.daily = 10, .concurrency = 1};
  const auto a = ok(f.backend().admit(f.key(), "once", l, f.now()));
  f.advance(1h);
  (void)ok(f.backend().finish(f.key(), "once", l, f.now()));
  const auto d = ok(f.backend().admit(f.key(), "once", l, f.now()));
  CHECK(d.status == admit_status::duplicate);
  CHECK(d.place == task_place::absent);
  CHECK(d.created_at == a.created_at);
  CHECK(ok(f.backend().state(f.key(), f.now())).created == 1);
  f.advance(23h);  // it left the window: a new job with that id
  CHECK(ok(f.backend().admit(f.key(), "once", l, f.now())).status == admit_status::running);
}

TEST_CASE("redis leases: an unrenewed task loses its place, queued tasks start", "[redis][lease]") {
  tollgate_test::redis_fixture f;
  if (!f.ready()) return;
  recorder events;
  auto o = tollgate_test::redis_test_options("tglease-" + tollgate_test::unique_word());
  o.lease_ttl = 10s;
  o.observer = events.observer();
  tollgate::redis::basic_backend<tollgate::manual_clock> b(*f.url, o, f.clock);
  const key_limits l{.daily = std::nullopt, .concurrency = 2};
  for (const char* t : {"r1", "r2", "q1", "q2"}) (void)ok(b.admit(f.key(), t, l, f.now()));
  f.advance(6s);
  CHECK(ok(b.renew(f.key(), "r2", l, f.now())).place == task_place::running);
  CHECK(ok(b.renew(f.key(), "q2", l, f.now())).position == 2);
  f.advance(4s);  // r1 and q1 ran out at exactly 10 s
  const auto p = ok(b.poll(f.key(), l, f.now()));
  CHECK(p.expired == std::vector<std::string>{"q1", "r1"});
  CHECK(p.started == std::vector<std::string>{"q2"});
  CHECK(events.count(limiter_event_kind::lease_expired) == 2);
  CHECK(ok(b.renew(f.key(), "r1", l, f.now())).place == task_place::absent);
  CHECK_FALSE(ok(b.finish(f.key(), "r1", l, f.now())).found);
  const auto u = ok(b.state(f.key(), f.now()));
  CHECK(u.running == 2);
  CHECK(u.created == 4);  // an expired lease does not give the job of the day back
  SECTION("a started task gets a full lease from its start") {
    f.advance(10s - 1us);
    CHECK(ok(b.poll(f.key(), l, f.now())).expired == std::vector<std::string>{"r2"});  // renewed at 6 s
    f.advance(1us);
    CHECK(ok(b.poll(f.key(), l, f.now())).expired == std::vector<std::string>{"q2"});
  }
}

TEST_CASE("redis: the script is loaded again after SCRIPT FLUSH", "[redis]") {
  tollgate_test::redis_fixture f;
  if (!f.ready()) return;
  const key_limits l{.daily = 5, .concurrency = 1};
  (void)ok(f.backend().admit(f.key(), "a", l, f.now()));
  auto c = raw(*f.url);
  REQUIRE(ok(c.command({"SCRIPT", "FLUSH"}))->type == REDIS_REPLY_STATUS);
  CHECK(ok(f.backend().admit(f.key(), "b", l, f.now())).position == 1);
  CHECK(ok(f.backend().state(f.key(), f.now())).created == 2);
}

TEST_CASE("redis token buckets refuse rates Lua cannot count exactly", "[redis][bucket]") {
  tollgate_test::redis_fixture f;
  if (!f.ready()) return;
  auto take = [&](tollgate::token_rate r, std::uint64_t burst) {
    return f.backend().take(f.key("b"), 1, r, burst, f.now());
  };
  CHECK(take(tollgate::token_rate(1, 1s), 4'000'000'000).has_value());
  CHECK(take(tollgate::token_rate(1, 1s), 5'000'000'000).code() == errc::invalid_argument);
  CHECK(take(tollgate::token_rate(1, 24h), 52'000).has_value());
  CHECK(take(tollgate::token_rate(1, 24h), 53'000).code() == errc::invalid_argument);
  CHECK(take(tollgate::token_rate(3, 1s), 10).has_value());  // 3 tokens per 10^6 us: exact
  SECTION("1/3 us per token: a wait rounds up to the microsecond") {
    (void)ok(take(tollgate::token_rate(3, 1s), 10));
    for (int i = 0; i < 9; ++i) (void)ok(f.backend().take(f.key("c"), 1, tollgate::token_rate(3, 1s), 9, f.now()));
    const auto d = ok(f.backend().take(f.key("c"), 1, tollgate::token_rate(3, 1s), 9, f.now()));
    CHECK_FALSE(d.allowed);
    CHECK(d.retry_after == 333'334us);
    f.advance(333'333us);
    CHECK_FALSE(ok(f.backend().take(f.key("c"), 1, tollgate::token_rate(3, 1s), 9, f.now())).allowed);
    f.advance(1us);
    CHECK(ok(f.backend().take(f.key("c"), 1, tollgate::token_rate(3, 1s), 9, f.now())).allowed);
  }
}

TEST_CASE("redis unreachable: refused by default, or decided locally", "[redis][failure]") {
  const int port = free_port();
  recorder events;
  backend_options o = quick("tg", 200ms);
  o.observer = events.observer();
  const tollgate::limiter_key k{"acct", "gen4_turbo"};
  const key_limits l{.daily = 1, .concurrency = 1};
  const auto now = std::chrono::system_clock::now();
  SECTION("refuse") {
    tollgate::redis::backend b("redis://127.0.0.1:" + std::to_string(port), o);
    const auto r = b.admit(k, "t1", l, now);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.code() == errc::unavailable);
    CHECK(r.error().message().find("127.0.0.1:" + std::to_string(port)) != std::string::npos);
    CHECK(b.take(k, 1, tollgate::token_rate(1, 1s), 1, now).code() == errc::unavailable);
    CHECK(events.count(limiter_event_kind::unreachable) == 2);
    CHECK(events.count(limiter_event_kind::fallback) == 0);
    CHECK(events.keys.front() == "acct/gen4_turbo");
  }
  SECTION("local fallback") {
    o.on_failure = failure_mode::local;
    tollgate::redis::backend b("redis://127.0.0.1:" + std::to_string(port), o);
    CHECK(ok(b.admit(k, "t1", l, now)).status == admit_status::running);
    CHECK(ok(b.admit(k, "t2", l, now)).status == admit_status::daily_limit);  // the local window holds
    CHECK(ok(b.finish(k, "t1", l, now)).found);
    CHECK(events.count(limiter_event_kind::unreachable) == 2);  // finish went straight to the fallback
    CHECK(events.count(limiter_event_kind::fallback) == 2);
  }
  SECTION("after a failure, calls skip Redis for the retry interval") {
    o.retry_interval = 1h;
    tollgate::redis::backend b("redis://127.0.0.1:" + std::to_string(port), o);
    CHECK(b.admit(k, "t1", l, now).code() == errc::unavailable);
    const auto skipped = b.admit(k, "t1", l, now);
    CHECK(skipped.code() == errc::unavailable);
    CHECK(skipped.error().message().find("skipped") != std::string::npos);
    CHECK(events.count(limiter_event_kind::unreachable) == 1);  // Redis was not tried again
  }
}

TEST_CASE("redis stopped mid-run and restarted: the failure mode, then nothing counted twice",
          "[redis][failure][restart]") {
  if (!tollgate_test::redis_url_or_skip()) return;  // needs redis-server, as CI's does
  own_server server;
  recorder events;
  backend_options o = quick("tg", 300ms);
  o.observer = events.observer();
  const bool local = GENERATE(false, true);
  INFO((local ? "local fallback" : "refuse"));
  o.on_failure = local ? failure_mode::local : failure_mode::refuse;
  tollgate::redis::backend b(server.url(), o);
  const tollgate::limiter_key k{"acct", "gen4_turbo"};
  const key_limits l{.daily = 3, .concurrency = 1};
  const auto now = std::chrono::system_clock::now();
  REQUIRE(ok(b.admit(k, "a", l, now)).status == admit_status::running);
  REQUIRE(ok(b.admit(k, "b", l, now)).status == admit_status::queued);

  server.stop();
  const auto during = b.admit(k, "c", l, now);
  if (local) {
    REQUIRE(during.has_value());
    CHECK(during->status == admit_status::running);  // the local limiter knows nothing of a and b
    CHECK(events.count(limiter_event_kind::fallback) == 1);
  } else {
    CHECK(during.code() == errc::unavailable);
  }
  CHECK(events.count(limiter_event_kind::unreachable) == 1);

  server.start();
  // The same admissions again (a caller retrying what it could not finish):
  // duplicates, not new jobs.
  const auto again = ok(b.admit(k, "a", l, now));
  CHECK(again.status == admit_status::duplicate);
  CHECK(again.place == task_place::running);
  CHECK(events.count(limiter_event_kind::recovered) == 1);
  CHECK(ok(b.admit(k, "b", l, now)).status == admit_status::duplicate);
  const auto u = ok(b.state(k, now));
  CHECK(u.created == 2);
  CHECK(u.running == 1);
  CHECK(u.queued == 1);
  if (local) {
    CHECK(ok(b.finish(k, "c", l, now)).found);  // finished where it was admitted
    CHECK(ok(b.state(k, now)).created == 2);
  } else {
    CHECK(ok(b.admit(k, "c", l, now)).status == admit_status::queued);
  }
}

TEST_CASE("redis: a reply lost to a timeout is retried without counting twice", "[redis][failure]") {
  const auto url = tollgate_test::redis_url_or_skip();
  if (!url) return;
  const std::string prefix = "tgpause-" + tollgate_test::unique_word();
  backend_options o = quick(prefix, 150ms);
  o.timeouts.connect = 500ms;
  tollgate::redis::backend b(*url, o);
  const std::string account = "acct-" + tollgate_test::unique_word();
  const tollgate::limiter_key k{account, "gen4_turbo"};
  const key_limits l{.daily = 20, .concurrency = 1};
  const auto now = std::chrono::system_clock::now();
  REQUIRE(ok(b.admit(k, "warm", l, now)).admitted());  // the connection and the script are ready
  // Another client keeps the server busy for 500 ms with a script: our call
  // times out (and its retry too) with its command sent; once the script
  // ends, Redis runs that command, but the reply has nowhere to go. On a
  // loaded machine the busy script may start late: then try again.
  std::string job;
  for (int attempt = 0; attempt < 5 && job.empty(); ++attempt) {
    std::thread busy([&] {
      tollgate::redis::timeouts t;
      t.command = 5s;
      auto c = tollgate::redis::connection::open(tollgate::redis::parse_url(*url), t);
      if (!c) return;
      (void)c->command({"EVAL",
                        "local t = redis.call('TIME') local t0 = t[1] * 1000000 + t[2] "
                        "repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] - t0 >= 500000 return 0",
                        "0"});
    });
    std::this_thread::sleep_for(100ms);
    const std::string id = "job-" + std::to_string(attempt);
    const auto lost = b.admit(k, id, l, now);
    busy.join();
    if (!lost) {
      CHECK(lost.code() == errc::unavailable);
      job = id;
    }
  }
  REQUIRE_FALSE(job.empty());
  const auto before = ok(b.state(k, now)).created;  // the lost call ran: its job counts
  const auto retried = ok(b.admit(k, job, l, now));
  CHECK(retried.status == admit_status::duplicate);
  CHECK(retried.place == task_place::queued);
  CHECK(ok(b.state(k, now)).created == before);  // the retry counted nothing
}
