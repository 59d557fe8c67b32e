// libFuzzer target: the catalog JSON loader (tollgate/json/catalog.hpp) on
// untrusted text. Any bytes must either build a catalog or be refused with a
// catalog_error: never a crash, a hang, a leak, another exception, or an
// nlohmann exception escaping. A catalog that loads must price a job of each
// model without throwing (a refusal is a result, not an exception).
//
// Built by scripts/test.sh:
//   clang++-14 -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -Iinclude SRC -lfmt
// Seeds: catalog.seeds/ (the Runway catalog and small variants).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <tollgate/json/catalog.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const tollgate::catalog c = tollgate::json::parse_catalog(text, "fuzz");
    for (const auto& m : c.models()) {
      tollgate::job j{.model = m.id};
      if (m.seconds) j.usage.seconds = m.seconds->min;
      if (!m.resolutions.empty()) j.usage.resolution = m.resolutions.front();
      if (m.outputs) j.usage.outputs = tollgate::count{1};
      if (m.text) j.usage.text = "a";
      (void)c.quote(j);
    }
  } catch (const tollgate::json::catalog_error&) {
  }
  return 0;
}
