// The tier of an account on the hot path, beside the charge it goes with
// (BM_Ledger_Charge_Memory, in ledger.cpp):
//
//   BM_Tier_Evaluate/N       tier_for() on the default table: an account
//                            recorded at tier N whose figures qualify for
//                            tier 3; the clock moves on every call
//   BM_Tier_Evaluate_Book    the same through a tier_book of 10,000 accounts
//                            (hash lookup, std::mutex, cached figures)
//   BM_Tier_Resolve_Limits   the limits of a model for an account with two
//                            enterprise overrides (one enforced, one shadow)
#include <benchmark/benchmark.h>

#include <chrono>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <tollgate/tiers/book.hpp>
#include <tollgate/tiers/overrides.hpp>
#include <tollgate/tiers/promotion.hpp>
#include <tollgate/tiers/runway.hpp>

namespace {

using clock_type = std::chrono::system_clock;
using time_point = clock_type::time_point;

void BM_Tier_Evaluate(benchmark::State& state) {
  const tollgate::tier_table& table = tollgate::runway_tier_table();
  const time_point first = clock_type::now() - std::chrono::days(10);
  const tollgate::basic_account_facts<time_point> f{*tollgate::usd::parse("250.00"), first,
                                                    tollgate::tier_id{static_cast<std::uint32_t>(state.range(0))}};
  time_point now = clock_type::now();
  for (auto _ : state) {
    now += std::chrono::nanoseconds(1);
    benchmark::DoNotOptimize(tollgate::tier_for(table, f, now));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Tier_Evaluate)->Arg(0)->Arg(3);

void BM_Tier_Evaluate_Book(benchmark::State& state) {
  tollgate::tier_book book(tollgate::runway_tiers());
  const time_point t0 = clock_type::now() - std::chrono::days(10);
  std::vector<std::string> names;
  for (int i = 0; i < 10'000; ++i) {
    names.push_back(fmt::format("org-{:05}", i));
    book.touch(names.back(), *tollgate::usd::parse("250.00"), t0, t0 + std::chrono::days(8));
  }
  time_point now = clock_type::now();
  std::size_t i = 0;
  for (auto _ : state) {
    now += std::chrono::nanoseconds(1);
    benchmark::DoNotOptimize(book.tier_of(names[i++ % names.size()], now));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Tier_Evaluate_Book);

void BM_Tier_Resolve_Limits(benchmark::State& state) {
  const tollgate::tier_table& table = tollgate::runway_tier_table();
  tollgate::account_overrides o;
  o.limits.push_back({tollgate::override_scope::group, "video", tollgate::job_limit(8), std::nullopt,
                      tollgate::override_mode::enforced, {"ops", "contract"}});
  o.limits.push_back({tollgate::override_scope::model, "gen4_turbo", std::nullopt, tollgate::job_limit(900),
                      tollgate::override_mode::shadow, {"ops", "trial"}});
  const std::size_t video = *table.group_index("video");
  for (auto _ : state) {
    auto r = tollgate::resolve_limits(table, 2, &o, "gen4_turbo", video);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Tier_Resolve_Limits);

}  // namespace
