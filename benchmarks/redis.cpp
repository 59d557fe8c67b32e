// The Redis limiter backend beside its floor: BM_Redis_Admit (one admission:
// one EVALSHA of the limiter script, server time) against
// BM_Redis_EvalshaEmpty (a script that does nothing, with the same keys and
// arguments, over a connection of the same kind: the round trip every call
// pays), with 1 and 16 concurrent clients. Goal (issue 13): admit within 1.3x
// of the floor. The server is TOLLGATE_REDIS_URL (the benchmarks report an
// error without it); keys are under a random prefix and deleted at the end.
#ifdef TOLLGATE_BENCH_REDIS

#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include <tollgate/redis/backend.hpp>

namespace {

const char* redis_url() {
  const char* u = std::getenv("TOLLGATE_REDIS_URL");
  return u != nullptr && *u != '\0' ? u : nullptr;
}

std::string bench_prefix() {
  static const std::string p = "tgbench-" + std::to_string(std::random_device{}());
  return p;
}

// Deletes every key under the prefix (after a benchmark, untimed).
void delete_keys(const std::string& url) {
  auto c = tollgate::redis::connection::open(tollgate::redis::parse_url(url), {});
  if (!c) return;
  std::string cursor = "0";
  do {
    auto r = c->command({"SCAN", cursor, "MATCH", bench_prefix() + ":*", "COUNT", "1000"});
    if (!r || (*r)->type != REDIS_REPLY_ARRAY) return;
    cursor.assign((*r)->element[0]->str, (*r)->element[0]->len);
    const redisReply* keys = (*r)->element[1];
    for (std::size_t i = 0; i < keys->elements; ++i)
      (void)c->command({"UNLINK", std::string_view(keys->element[i]->str, keys->element[i]->len)});
  } while (cursor != "0");
}

// One backend shared by the benchmark's threads (a pool of 16 connections).
tollgate::redis::backend& shared_backend() {
  static tollgate::redis::backend b = [] {
    tollgate::redis::backend_options o;
    o.prefix = bench_prefix();
    o.max_connections = 16;
    return tollgate::redis::backend(redis_url(), o);
  }();
  return b;
}

// Each thread admits new tasks on its own account (a steady key: 4096 jobs
// a key, then the next model), unlimited, so every call takes the whole
// admitting path: trim, reclaim, start, count, lease.
void BM_Redis_Admit(benchmark::State& state) {
  if (redis_url() == nullptr) {
    state.SkipWithError("TOLLGATE_REDIS_URL is not set");
    return;
  }
  auto& b = shared_backend();
  const std::string account = "acct-" + std::to_string(state.thread_index());
  const tollgate::key_limits l{};
  std::uint64_t i = 0;
  for (auto _ : state) {
    const std::string model = std::to_string(i / 4096) + "m";  // (GCC 12 warns on "m" + to_string)
    auto r = b.admit({account, model}, std::to_string(i), l, std::chrono::system_clock::now());
    if (!r || !r->admitted()) {
      state.SkipWithError(r ? "refused" : r.error().message().c_str());
      break;
    }
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) delete_keys(redis_url());  // after every thread's loop: untimed
}
BENCHMARK(BM_Redis_Admit)->Threads(1)->Threads(16)->UseRealTime();

// The floor: EVALSHA of an empty script with the same four keys and seven
// arguments, one connection per client thread.
void BM_Redis_EvalshaEmpty(benchmark::State& state) {
  if (redis_url() == nullptr) {
    state.SkipWithError("TOLLGATE_REDIS_URL is not set");
    return;
  }
  auto c = tollgate::redis::connection::open(tollgate::redis::parse_url(redis_url()), {});
  if (!c) {
    state.SkipWithError(c.error().message().c_str());
    return;
  }
  auto loaded = c->command({"SCRIPT", "LOAD", tollgate::redis::detail::empty_script});
  const std::string sha((*loaded)->str, (*loaded)->len);
  const std::string base = bench_prefix() + ":{acct-" + std::to_string(state.thread_index()) + "}:m:m0:";
  const std::string k1 = base + "c", k2 = base + "l", k3 = base + "q", k4 = base + "m";
  std::uint64_t i = 0;
  for (auto _ : state) {
    const std::string task = std::to_string(i++);
    auto r = c->command({"EVALSHA", sha, "4", k1, k2, k3, k4, "admit", "", "30000000", "86490000", task, "-1", "-1"});
    if (!r) {
      state.SkipWithError(r.error().message().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Redis_EvalshaEmpty)->Threads(1)->Threads(16)->UseRealTime();

}  // namespace

#endif  // TOLLGATE_BENCH_REDIS
