// Writes the seeds of the tier_state fuzz target (tests/fuzz/tier_state.seeds/):
// one valid input of each kind, so the fuzzer starts from bytes that decode.
//   g++ -std=c++20 -Iinclude -isystem /usr/include/utf8cpp tests/fuzz/tier_state_seeds.cpp -lfmt
//   ./a.out tests/fuzz/tier_state.seeds
#include <chrono>
#include <fstream>
#include <string>

#include <tollgate/tiers/codec.hpp>

namespace {
using time_point = std::chrono::system_clock::time_point;

void write(const std::string& dir, const std::string& name, char kind, const std::string& bytes) {
  std::ofstream(dir + "/" + name, std::ios::binary) << kind << bytes;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const std::string dir = argv[1];
  using namespace tollgate;
  const time_point t{std::chrono::hours(24 * 20'000)};
  write(dir, "record", 0, encode_tier_state(basic_tier_record<time_point>{tier_id{3}, t, 2}));
  account_overrides o;
  o.limits.push_back({override_scope::model, "gen4_turbo", job_limit(12), job_limit::unlimited(),
                      override_mode::shadow, {"ops", "trial"}});
  o.spend_caps.push_back({spend_cap(usd(50'000)), override_mode::enforced, {"finance", "PO 77"}});
  o.criteria.push_back({tier_id{4}, promotion_criteria{usd(500), std::chrono::days(2)}, {"sales", "ramp"}});
  write(dir, "overrides", 1, encode_tier_state(o));
  write(dir, "settings", 2,
        encode_tier_state(autobilling_settings{true, credits(1000), target_balance{credits(5000)}, usd(300)}));
  basic_autobilling_state<time_point> st;
  st.next_seq = 4;
  st.pending = basic_pending_recharge<time_point>{4, usd(25), t};
  st.recent = {{t, usd(10)}};
  st.last_error = "declined";
  write(dir, "state", 3, encode_tier_state(st));
  write(dir, "promotion", 4,
        encode_tier_state(basic_promotion<time_point>{"", tier_id{1}, tier_id{2}, t, promotion_cause::age}));
  std::ifstream table("data/runway-tiers.json", std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(table)), std::istreambuf_iterator<char>());
  write(dir, "table", 5, text);
  return 0;
}
