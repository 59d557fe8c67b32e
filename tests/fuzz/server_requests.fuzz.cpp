// libFuzzer target: what tollgate-server does with a request before any
// state changes (examples/server/): the path split and its log form, and a
// generation body, strictly parsed, validated against the client's types
// and priced. The first input byte picks the endpoint, the rest is the body
// (or the path). Checked on every input: nothing but invalid_input or
// bad_json escapes; a refusal names a reason; an accepted body is a job of
// one of the endpoint's models that the catalog prices (validation never
// lets through what pricing refuses); the log form of a path is printable
// ASCII.
//
// Built by scripts/test.sh:
//   clang++-14 -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -Iinclude SRC -lfmt
// Seeds: server_requests.seeds/.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <tollgate/json/strict.hpp>
#include <tollgate/pricing/runway.hpp>

#include "../../examples/server/api.hpp"
#include "../../examples/server/requests.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void fuzz_path(std::string_view target) {
  (void)tollgate_server::api_detail::segments(target);
  for (const char c : tollgate_server::detail::printable_path(target)) check(c > 0x20 && c < 0x7F);
}

void fuzz_body(const tollgate_server::requests_detail::endpoint_entry& e, std::string_view text) {
  static const auto probe = tollgate_server::simulated_probe(10'000);
  nlohmann::ordered_json body;
  try {
    body = tollgate::json::parse_strict(text, [](const std::string& path) {
      throw tollgate::json::bad_json(path, "repeated key", false);
    });
  } catch (const tollgate::json::bad_json& err) {
    check(std::string_view(err.what()).size() > 0);
    return;
  }
  try {
    const tollgate::job job = tollgate_server::read_generation(e, body, tollgate::runway_catalog(), probe);
    bool offered = false;
    for (const auto& m : e.models) offered = offered || m.model == job.model;
    check(offered);
    check(tollgate::runway_catalog().quote(job).has_value());
  } catch (const tollgate_server::invalid_input& err) {
    check(!err.message.empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto& all = tollgate_server::requests_detail::endpoints();
  const std::size_t pick = data[0] % (all.size() + 1);
  if (pick == all.size()) fuzz_path(rest);
  else fuzz_body(all[pick], rest);
  return 0;
}
