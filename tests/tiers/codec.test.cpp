// Tier state as bytes: every stored type round-trips exactly; any damage
// (a cut at every byte, a byte more, a flipped tag, a newer version, a length
// larger than the blob) is refused with the field's name, never misread; an
// older blob reads with the defaults of the fields added since.
#include <catch2/catch.hpp>

#include <random>

#include <tollgate/tiers/codec.hpp>

#include "support.hpp"

using namespace tollgate;
using namespace tiers_test;
using Catch::Matchers::Contains;
using record = basic_tier_record<time_point>;
using promotion = basic_promotion<time_point>;
using ab_state = basic_autobilling_state<time_point>;

namespace {

account_overrides sample_overrides() {
  account_overrides o;
  o.limits.push_back({override_scope::model, "gen4_turbo", job_limit(12), std::nullopt, override_mode::enforced,
                      {"ops:alice", "contract 2026-114: launch week"}});
  o.limits.push_back({override_scope::group, "video_premium", job_limit::unlimited(), job_limit(9000),
                      override_mode::shadow, {"ops:bob", "trying more Veo"}});
  o.spend_caps.push_back({spend_cap(dollars("250000.50")), override_mode::enforced, {"finance", "signed PO 77"}});
  o.spend_caps.push_back({spend_cap::unlimited(), override_mode::shadow, {"finance", "what if"}});
  o.criteria.push_back({tier_id{5}, promotion_criteria{dollars("2500"), std::chrono::days(3)}, {"sales:eve", "ramp"}});
  return o;
}

autobilling_settings sample_settings() {
  return autobilling_settings{true, cr("500"), target_balance{cr("2500.5")}, dollars("1000")};
}

ab_state sample_state() {
  ab_state s;
  s.next_seq = 7;
  s.pending = basic_pending_recharge<time_point>{7, dollars("20.25"), start() + 5s};
  s.failures = 2;
  s.low = true;
  s.recent = {{start(), dollars("10")}, {start() + 1h, dollars("30.01")}};
  s.last_error = "card declined";
  return s;
}

template <class T>
void round_trip(const T& v) {
  const std::string bytes = encode_tier_state(v);
  const auto back = decode_tier_state<T>(bytes);
  REQUIRE(back);
  CHECK(*back == v);
  CHECK(encode_tier_state(*back) == bytes);
}

// Every damage of `bytes` is refused (or, for a flip, refused or read as some
// valid value that encodes back to exactly those bytes: never a misread).
template <class T>
void refuses_damage(const std::string& bytes) {
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    INFO("cut to " << n << " bytes");
    CHECK_FALSE(decode_tier_state<T>(bytes.substr(0, n)));
  }
  CHECK_THAT(decode_tier_state<T>(bytes + "x").error().message(), Contains("1 bytes left over"));
  for (std::size_t i = 0; i < bytes.size(); ++i)
    for (int bit = 0; bit < 8; ++bit) {
      std::string b = bytes;
      b[i] = static_cast<char>(b[i] ^ (1 << bit));
      const auto r = decode_tier_state<T>(b);
      if (r) CHECK(encode_tier_state(*r) == b);
    }
}

}  // namespace

TEST_CASE("every stored type round-trips exactly") {
  round_trip(record{});
  round_trip(record{tier_id{4}, start() + 123456789ns, 2});
  round_trip(promotion{"", tier_id{1}, tier_id{3}, start() - 1ns, promotion_cause::age});
  round_trip(account_overrides{});
  round_trip(sample_overrides());
  round_trip(sample_settings());
  round_trip(autobilling_settings{false, credits{}, fixed_recharge{dollars("25")}, std::nullopt});
  round_trip(ab_state{});
  round_trip(sample_state());
}

TEST_CASE("the account is the ledger's key for a promotion's bytes, not part of them") {
  const auto back = decode_tier_state<promotion>(encode_tier_state(promotion{"acme", {2}, {3}, start(), promotion_cause::purchase}));
  REQUIRE(back);
  CHECK(back->account.empty());
  CHECK(back->to == tier_id{3});
}

TEST_CASE("damaged bytes are refused, never misread") {
  refuses_damage<record>(encode_tier_state(record{tier_id{4}, start(), 1}));
  refuses_damage<account_overrides>(encode_tier_state(sample_overrides()));
  refuses_damage<autobilling_settings>(encode_tier_state(sample_settings()));
  refuses_damage<ab_state>(encode_tier_state(sample_state()));
}

TEST_CASE("another type's bytes, a newer version or an impossible value are refused by name") {
  const std::string rec = encode_tier_state(record{tier_id{2}, start(), 0});
  CHECK_THAT(decode_tier_state<account_overrides>(rec).error().message(),
             Contains("account overrides record: the record's tag is 1, expected 2"));
  std::string newer = rec;
  newer[1] = 2;
  CHECK_THAT(decode_tier_state<record>(newer).error().message(),
             Contains("version 2; this build reads versions 1 to 1"));
  std::string zero = rec;
  zero[1] = 0;
  CHECK_FALSE(decode_tier_state<record>(zero));
  std::string level = encode_tier_state(record{tier_id{2}, std::nullopt, 3});
  level.back() = 4;
  CHECK_THAT(decode_tier_state<record>(level).error().message(), Contains("spend_alert_level: 0 to 3"));
  // A limit override whose mode byte is unknown: the type's own check refuses it.
  account_overrides o = sample_overrides();
  o.limits.resize(1);
  o.spend_caps.clear();
  o.criteria.clear();
  std::string b = encode_tier_state(o);
  // Before the note's two texts and the two empty lists after it.
  const auto mode_at = b.size() - 4 - 4 - (4 + 30) - (4 + 9) - 1;
  REQUIRE(static_cast<int>(b[mode_at]) == 1);
  b[mode_at] = 7;
  CHECK_THAT(decode_tier_state<account_overrides>(b).error().message(), Contains("mode: unknown mode"));
}

TEST_CASE("a length beyond the bytes is refused before anything is allocated") {
  std::string b = encode_tier_state(account_overrides{});
  // limits' count: 4 bytes after the 3-byte header.
  b[3] = '\xff';
  b[4] = '\xff';
  b[5] = '\xff';
  b[6] = '\x7f';
  CHECK_THAT(decode_tier_state<account_overrides>(b).error().message(), Contains("limits: 2147483647 elements promised"));
  std::string s = encode_tier_state(autobilling_settings{true, cr("1"), fixed_recharge{dollars("1")}, std::nullopt});
  s[4] = '\x7f';  // the threshold's text length
  CHECK_THAT(decode_tier_state<autobilling_settings>(s).error().message(), Contains("threshold: a text of"));
}

TEST_CASE("random bytes never crash the decoder and never decode to something else") {
  const std::uint64_t sd = seed();
  INFO("seed " << sd);
  std::mt19937_64 rng(sd);
  const std::string seeds[] = {encode_tier_state(sample_overrides()), encode_tier_state(sample_state()),
                               encode_tier_state(sample_settings())};
  for (int i = 0; i < 3000; ++i) {
    std::string b = seeds[i % 3];
    for (int k = 0, n = static_cast<int>(rng() % 4) + 1; k < n; ++k) b[rng() % b.size()] = static_cast<char>(rng());
    if (const auto r = decode_tier_state<account_overrides>(b)) CHECK(encode_tier_state(*r) == b);
    if (const auto r = decode_tier_state<ab_state>(b)) CHECK(encode_tier_state(*r) == b);
    if (const auto r = decode_tier_state<autobilling_settings>(b)) CHECK(encode_tier_state(*r) == b);
  }
}

// A type of this test in two versions: how a field is added later.
namespace evolve {
struct v1 {
  std::uint32_t a = 0;
  friend bool operator==(const v1&, const v1&) = default;
};
struct v2 {
  std::uint32_t a = 0;
  std::string b = "default";
  friend bool operator==(const v2&, const v2&) = default;
};
}  // namespace evolve

template <>
struct tollgate::tiers::detail::schema<evolve::v1> {
  static constexpr std::string_view name = "evolving";
  static constexpr std::uint8_t tag = 200;
  static constexpr std::uint16_t version = 1;
  static constexpr auto fields = std::make_tuple(field<&evolve::v1::a>{"a"});
};
template <>
struct tollgate::tiers::detail::schema<evolve::v2> {
  static constexpr std::string_view name = "evolving";
  static constexpr std::uint8_t tag = 200;
  static constexpr std::uint16_t version = 2;
  static constexpr auto fields = std::make_tuple(field<&evolve::v2::a>{"a"}, field<&evolve::v2::b>{"b", 2});
};

TEST_CASE("a field added later: old bytes read with its default, new bytes are refused by the old build") {
  const std::string old_bytes = encode_tier_state(evolve::v1{42});
  const auto read_new = decode_tier_state<evolve::v2>(old_bytes);
  REQUIRE(read_new);
  CHECK(*read_new == evolve::v2{42, "default"});
  const std::string new_bytes = encode_tier_state(evolve::v2{42, "x"});
  CHECK_THAT(decode_tier_state<evolve::v1>(new_bytes).error().message(), Contains("a newer tollgate wrote it?"));
  CHECK(decode_tier_state<evolve::v2>(new_bytes)->b == "x");
}
