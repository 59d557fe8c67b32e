// libFuzzer target: the tier engine's untrusted inputs. Bytes that claim to be
// stored tier state (what the ledger will keep for an account) must decode or
// be refused, never crash or allocate without bound; bytes that decode must be
// exactly the bytes their value encodes to. A tier table file must load or be
// refused with a tier_table_error, never anything else; a table that loads
// must evaluate every tier without fault.
//
// The first input byte picks what the rest is:
//   0: a tier record       1: account overrides   2: autobilling settings
//   3: autobilling state   4: a promotion         5: a tier table as JSON
//
// Built by scripts/test.sh:
//   clang++-14 -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -Iinclude SRC -lfmt
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <tollgate/json/tiers.hpp>
#include <tollgate/tiers/codec.hpp>
#include <tollgate/tiers/promotion.hpp>

namespace {

using time_point = std::chrono::system_clock::time_point;

template <class T>
void round_trip(std::string_view bytes) {
  const auto v = tollgate::decode_tier_state<T>(bytes);
  if (v && tollgate::encode_tier_state(*v) != bytes) std::abort();  // decoded to something else
}

void table(std::string_view text) {
  try {
    const tollgate::tier_table t = tollgate::json::parse_tier_table(text, "fuzz");
    const tollgate::basic_account_facts<time_point> f{tollgate::usd(1000), time_point{}, tollgate::tier_id{2}};
    for (std::size_t i = 0; i < t.size(); ++i) (void)t.limits(i, t.groups().size() - 1);
    (void)tollgate::promotion_outlook(t, f, time_point{} + std::chrono::hours(24 * 40));
  } catch (const tollgate::json::tier_table_error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 6) {
    case 0: round_trip<tollgate::basic_tier_record<time_point>>(rest); break;
    case 1: round_trip<tollgate::account_overrides>(rest); break;
    case 2: round_trip<tollgate::autobilling_settings>(rest); break;
    case 3: round_trip<tollgate::basic_autobilling_state<time_point>>(rest); break;
    case 4: round_trip<tollgate::basic_promotion<time_point>>(rest); break;
    default: table(rest); break;
  }
  return 0;
}
