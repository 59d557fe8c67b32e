// The in-process limiter backend: one job's admission and finish
// (BM_LocalBackend_AdmitFinish: the daily log, the pool, the keyed registry's
// shard lock and the string ids) beside the concurrency pool alone
// (BM_LocalPool_SubmitFinish, the same work without the daily cap and the
// registry), at 1 and 2 threads on separate accounts.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <string>

#include <tollgate/limits/concurrency_pool.hpp>
#include <tollgate/limits/local_backend.hpp>

namespace {

tollgate::local_backend& local() {
  static tollgate::local_backend b;
  return b;
}

// A new key every 4096 jobs keeps each key's log at a steady size; the old
// keys are dropped by the registry once their jobs leave the window (never,
// within a benchmark: memory grows by about 16 bytes a job).
void BM_LocalBackend_AdmitFinish(benchmark::State& state) {
  auto& b = local();
  const std::string account = "acct-" + std::to_string(state.thread_index());
  const tollgate::key_limits l{.daily = 1'000'000, .concurrency = 4};
  std::uint64_t i = 0;
  for (auto _ : state) {
    const std::string model = std::to_string(i / 4096) + "m";  // (GCC 12 warns on "m" + to_string)
    const std::string task = std::to_string(i++);
    const auto now = std::chrono::system_clock::now();
    auto a = b.admit({account, model}, task, l, now);
    auto f = b.finish({account, model}, task, l, now);
    benchmark::DoNotOptimize(a);
    benchmark::DoNotOptimize(f);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LocalBackend_AdmitFinish)->Threads(1)->Threads(2)->UseRealTime();

void BM_LocalPool_SubmitFinish(benchmark::State& state) {
  tollgate::basic_concurrency_pool<std::string> pool(4);
  std::uint64_t i = 0;
  for (auto _ : state) {
    const std::string task = std::to_string(i++);
    benchmark::DoNotOptimize(pool.submit(task));
    benchmark::DoNotOptimize(pool.finish(task));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LocalPool_SubmitFinish)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
