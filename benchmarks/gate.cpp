// The gate: the whole life of one job (submit: price, daily cap and slot,
// hold; complete: capture, free the slot), beside a bare ledger charge
// (BM_Ledger_Charge_Memory and BM_Ledger_Charge_Journal in ledger.cpp, same
// binary), and each step on its own so their shares can be read off:
//
//   BM_Gate_SubmitComplete/memory   one job's life, ledger in memory, one core, no locking
//   BM_Gate_SubmitComplete/memory_mt  the same with the default thread-safe policies
//   BM_Gate_SubmitComplete/journal  ledger on a journal (durability every_op: two fdatasyncs)
//   BM_Gate_Step_Quote              pricing the job (catalog)
//   BM_Gate_Step_Tier               the tier and the model's limits (tier_for + resolve_limits)
//   BM_Gate_Step_AdmitFinish        the limiter backend: admit + finish
//   BM_Gate_Step_HoldCapture        the ledger: hold + capture
//
// Run: tollgate-benchmarks --benchmark_filter='Gate|Ledger_Charge_Memory|Ledger_Charge_Journal/every_op/1$'
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include <tollgate/gate.hpp>

namespace {

using namespace tollgate::literals;
namespace fs = std::filesystem;

struct key_maker {
  char buf[24];
  std::string_view operator()(const char* prefix, std::uint64_t n) {
    std::size_t len = std::strlen(prefix);
    std::memcpy(buf, prefix, len);
    auto r = std::to_chars(buf + len, buf + sizeof buf, n);
    return std::string_view(buf, static_cast<std::size_t>(r.ptr - buf));
  }
};

using clock_type = std::chrono::system_clock;

// One core, no locking anywhere: the same footing as BM_Ledger_Charge_Memory.
struct single_traits : tollgate::gate_traits<clock_type> {
  using ledger = tollgate::basic_ledger<tollgate::ledger_traits<clock_type, tollgate::memory_storage, tollgate::single_thread>>;
  using backend = tollgate::basic_local_backend<clock_type, tollgate::single_thread>;
  using sync = tollgate::single_thread;
};
struct journal_traits : tollgate::gate_traits<clock_type> {
  using ledger = tollgate::basic_ledger<tollgate::ledger_traits<clock_type, tollgate::journal_storage<>, tollgate::multi_thread>>;
};

const tollgate::job job{.model = "gen4_turbo", .usage = {.seconds = tollgate::media_duration{10'000}}};

// The account may run any number of jobs a day at once (the benchmark
// measures the path, not a cap), keeps no finished task, and is funded.
template <class Options>
Options bench_options() {
  Options o;
  o.task_retention = std::chrono::nanoseconds(0);
  return o;
}

template <class G>
bool prepare(G& g, benchmark::State& state) {
  tollgate::account_overrides o;
  o.limits.push_back(tollgate::limit_override{.scope = tollgate::override_scope::group, .target = "video",
                                              .concurrent = tollgate::job_limit::unlimited(),
                                              .daily = tollgate::job_limit::unlimited(),
                                              .note = {"bench", "no caps"}});
  o.spend_caps.push_back(tollgate::spend_cap_override{.cap = tollgate::spend_cap::unlimited(), .note = {"bench", "no cap"}});
  if (!g.set_overrides("acme", o) || !g.purchase("acme", tollgate::usd(1'000'000'000), "fund")) {
    state.SkipWithError("set-up failed");
    return false;
  }
  return true;
}

template <class G>
void life(G& g, benchmark::State& state) {
  key_maker key;
  std::uint64_t i = 0;
  const tollgate::usage actual{.seconds = tollgate::media_duration{8'000}};
  for (auto _ : state) {
    auto t = g.submit("acme", job, key("k", i++));
    if (!t) {
      state.SkipWithError(t.error().message().c_str());
      return;
    }
    auto s = g.complete(*t, actual);
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Gate_SubmitComplete_Memory(benchmark::State& state) {
  tollgate::basic_gate<single_traits> g(bench_options<tollgate::basic_gate_options<>>());
  if (prepare(g, state)) life(g, state);
}
BENCHMARK(BM_Gate_SubmitComplete_Memory)->Name("BM_Gate_SubmitComplete/memory");

void BM_Gate_SubmitComplete_MemoryMt(benchmark::State& state) {
  tollgate::gate g(bench_options<tollgate::basic_gate_options<>>());
  if (prepare(g, state)) life(g, state);
}
BENCHMARK(BM_Gate_SubmitComplete_MemoryMt)->Name("BM_Gate_SubmitComplete/memory_mt");

void BM_Gate_SubmitComplete_Journal(benchmark::State& state) {
  const char* d = std::getenv("TOLLGATE_BENCH_DIR");
  fs::path dir = d ? fs::path(d) : fs::temp_directory_path();
  dir /= "tollgate-bench-gate-" + std::to_string(::getpid());
  fs::create_directories(dir);
  tollgate::journal_config cfg;
  cfg.path = (dir / "gate.journal").string();
  cfg.mode = tollgate::durability::every_op;
  {
    auto l = journal_traits::ledger::open(cfg);
    if (!l) {
      state.SkipWithError(l.error().message().c_str());
      return;
    }
    tollgate::basic_gate<journal_traits> g(std::move(*l), bench_options<tollgate::basic_gate_options<>>());
    if (prepare(g, state)) life(g, state);
  }
  fs::remove_all(dir);
}
BENCHMARK(BM_Gate_SubmitComplete_Journal)->Name("BM_Gate_SubmitComplete/journal")->UseRealTime();

// ------------------------------------------------------------ the steps

void BM_Gate_Step_Quote(benchmark::State& state) {
  const tollgate::catalog c(tollgate::runway_models());
  for (auto _ : state) {
    auto q = c.quote(job);
    benchmark::DoNotOptimize(q);
  }
}
BENCHMARK(BM_Gate_Step_Quote);

void BM_Gate_Step_Tier(benchmark::State& state) {
  const tollgate::tier_table& t = tollgate::runway_tier_table();
  tollgate::account_overrides o;
  o.limits.push_back(tollgate::limit_override{.scope = tollgate::override_scope::group, .target = "video",
                                              .daily = tollgate::job_limit::unlimited(), .note = {"b", "b"}});
  const tollgate::basic_account_facts<clock_type::time_point> f{tollgate::usd(60), clock_type::now(), {}};
  for (auto _ : state) {
    const auto now = clock_type::now();
    const std::size_t i = tollgate::tier_for(t, f, now, tollgate::account_criteria{&t, &o});
    auto r = tollgate::resolve_limits(t, i, &o, "gen4_turbo", 0);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_Gate_Step_Tier);

void BM_Gate_Step_AdmitFinish(benchmark::State& state) {
  tollgate::basic_local_backend<clock_type, tollgate::single_thread> b;
  const tollgate::key_limits l{};
  std::uint64_t i = 0;
  std::string id(36, 'x');
  for (auto _ : state) {
    auto r = std::to_chars(id.data(), id.data() + 20, i++);
    (void)r;
    const auto now = clock_type::now();
    auto a = b.admit({"acme", "gen4_turbo"}, id, l, now);
    auto f = b.finish({"acme", "gen4_turbo"}, id, l, now);
    benchmark::DoNotOptimize(a);
    benchmark::DoNotOptimize(f);
  }
}
BENCHMARK(BM_Gate_Step_AdmitFinish);

void BM_Gate_Step_HoldCapture(benchmark::State& state) {
  single_traits::ledger l;
  if (!l.purchase("acme", tollgate::usd(1'000'000'000), "fund")) state.SkipWithError("purchase");
  key_maker key;
  std::uint64_t i = 0;
  for (auto _ : state) {
    auto h = l.hold("acme", 50_cr, key("h", i));
    auto c = l.capture(h->hold, 40_cr, key("c", i++));
    benchmark::DoNotOptimize(c);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Gate_Step_HoldCapture);

}  // namespace
