// One service instance of the many-instances tests (processes.test.cpp),
// sharing accounts with the others through Redis (server time).
//
//   tollgate-redis-worker hammer URL PREFIX ACCOUNT COUNTERS THREADS ATTEMPTS DAILY SLOTS
//     THREADS threads each make ATTEMPTS jobs on two models: admit, wait
//     (renewing) until the task runs, count it running in the shared
//     counters (and the most ever running), run a moment, finish.
//   tollgate-redis-worker hold URL PREFIX ACCOUNT MODEL N LEASE_MS
//     admits N tasks h0..h(N-1) with N slots, prints "held" and sleeps
//     until killed (the test kills it with SIGKILL).
// Exit status 0 when every call succeeded; 2 on bad arguments.
#include <tollgate/redis/backend.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "shared_counters.hpp"

namespace {

using backend = tollgate::redis::backend;
const char* const kModelNames[redis_test::kModels] = {"gen4_turbo", "veo3"};

tollgate::redis::backend_options options(const std::string& prefix, std::chrono::milliseconds lease) {
  tollgate::redis::backend_options o;
  o.prefix = prefix;
  o.lease_ttl = lease;
  o.timeouts.command = std::chrono::seconds(5);
  return o;
}

void raise_max(std::atomic<std::uint64_t>& max, std::uint64_t v) {
  std::uint64_t m = max.load();
  while (v > m && !max.compare_exchange_weak(m, v)) {
  }
}

// One job from admission to finish; false on a backend error.
bool one_job(backend& b, const tollgate::limiter_key& k, int model, const std::string& task,
             const tollgate::key_limits& l, redis_test::shared_counters& c) {
  const auto now = std::chrono::system_clock::now();  // ignored: Redis's time decides
  auto a = b.admit(k, task, l, now);
  if (!a) return false;
  if (!a->admitted()) return true;
  c.admitted[model].fetch_add(1);
  auto place = a->place;
  while (place == tollgate::task_place::queued) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    auto r = b.renew(k, task, l, now);
    if (!r) return false;
    place = r->place;
  }
  if (place != tollgate::task_place::running) {
    c.lost.fetch_add(1);
    return true;
  }
  raise_max(c.max_running[model], c.running[model].fetch_add(1) + 1);
  std::this_thread::sleep_for(std::chrono::microseconds(300));  // the job runs
  c.running[model].fetch_sub(1);
  return static_cast<bool>(b.finish(k, task, l, now));
}

int hammer(char** argv) {
  const std::string url = argv[2], prefix = argv[3], account = argv[4];
  auto* c = redis_test::map_counters(argv[5], false);
  const int threads = std::atoi(argv[6]), attempts = std::atoi(argv[7]);
  const tollgate::key_limits l{.daily = std::strtoull(argv[8], nullptr, 10),
                               .concurrency = std::strtoull(argv[9], nullptr, 10)};
  backend b(url, options(prefix, std::chrono::seconds(30)));
  const std::string me = std::to_string(::getpid());
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < attempts; ++i) {
        const int model = (t + i) % redis_test::kModels;
        const std::string task = me + "-" + std::to_string(t) + "-" + std::to_string(i);
        if (!one_job(b, {account, kModelNames[model]}, model, task, l, *c)) c->errors.fetch_add(1);
      }
    });
  for (auto& t : ts) t.join();
  return 0;
}

int hold(char** argv) {
  const std::string url = argv[2], prefix = argv[3], account = argv[4], model = argv[5];
  const int n = std::atoi(argv[6]);
  backend b(url, options(prefix, std::chrono::milliseconds(std::atoll(argv[7]))));
  const tollgate::key_limits l{.daily = std::nullopt, .concurrency = static_cast<std::uint64_t>(n)};
  for (int i = 0; i < n; ++i) {
    std::string task = "h";
    task += std::to_string(i);
    auto a = b.admit({account, model}, task, l, std::chrono::system_clock::now());
    if (!a || a->status != tollgate::admit_status::running) return 1;
  }
  std::printf("held\n");
  std::fflush(stdout);
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "hammer" && argc == 10) return hammer(argv);
  if (mode == "hold" && argc == 8) return hold(argv);
  std::fprintf(stderr, "usage: see the comment at the top of redis_worker.cpp\n");
  return 2;
}
