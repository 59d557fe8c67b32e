// libFuzzer target: tollgate-estimate's plan reader (examples/common/plan.hpp)
// on untrusted text, pricing each job against the built-in Runway catalog as
// the tool does. Any bytes must be read whole or refused with a problem that
// has a reason: never a crash, a hang, a leak or an exception (the reader
// and the catalog report by value). Jobs arrive in order, each with a
// model; a "text_file" is answered with a fixed text (no file is opened);
// every generation time read is positive and at most a day.
//
// Built by scripts/test.sh:
//   clang++-14 -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -Iinclude SRC -lfmt
// Seeds: plan.seeds/ (the sample plan and small variants).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

#include <tollgate/pricing/runway.hpp>

#include "../../examples/common/plan.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const tollgate::catalog& catalog = tollgate::runway_catalog();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::size_t expected = 0;
  tollgate::examples::plan_options options;
  const auto problem = tollgate::examples::read_plan(
      text, [&](std::size_t i, tollgate::examples::plan_job& j) -> std::optional<tollgate::examples::plan_problem> {
        if (i != expected++ || j.job.model.empty() || j.count < 1) std::abort();
        if (j.text_file) j.job.usage.text = "Welcome to the future of video.";
        if (auto q = catalog.quote(j.job); !q) return tollgate::examples::plan_problem{"jobs", q.error().message()};
        return std::nullopt;
      },
      &options);
  if (problem && problem->reason.empty()) std::abort();
  for (const auto& [model, time] : options.generation)
    if (model.empty() || time.count() <= 0 || time > tollgate::examples::max_generation_seconds) std::abort();
  return 0;
}
