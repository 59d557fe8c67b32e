// Enterprise overrides: per model and per group, each field on its own,
// unlimited, shadow mode (what would apply, reported, not enforced), custom
// spend caps and criteria, who set each and why, and what validation refuses.
#include <catch2/catch.hpp>

#include <tollgate/tiers/overrides.hpp>
#include <tollgate/tiers/promotion.hpp>
#include <tollgate/tiers/runway.hpp>

#include "support.hpp"

using namespace tollgate;
using namespace tiers_test;
using Catch::Matchers::Contains;

namespace {

const tier_table& table() { return runway_tier_table(); }
const std::size_t video = *runway_tier_table().group_index("video");
const std::size_t image = *runway_tier_table().group_index("image");
const override_note note{"ops:alice", "contract 2026-114"};

limit_override on_model(std::string model, std::optional<job_limit> c, std::optional<job_limit> d,
                        override_mode mode = override_mode::enforced) {
  return limit_override{override_scope::model, std::move(model), c, d, mode, note};
}
limit_override on_group(std::string group, std::optional<job_limit> c, std::optional<job_limit> d,
                        override_mode mode = override_mode::enforced) {
  return limit_override{override_scope::group, std::move(group), c, d, mode, note};
}

}  // namespace

TEST_CASE("without overrides a model gets its group's limits from its tier") {
  const auto r = resolve_limits(table(), 0, nullptr, "gen4_turbo", video);
  CHECK(r.enforced == group_limits{job_limit(1), job_limit(50)});
  CHECK_FALSE(r.shadow);
  CHECK(r.concurrent_from == nullptr);
  const account_overrides none;
  CHECK(resolve_limits(table(), 2, &none, "gen4_image", image).enforced == group_limits{job_limit(5), job_limit(2000)});
}

TEST_CASE("a model override beats its group's, each field on its own; other models keep the table") {
  account_overrides o;
  o.limits.push_back(on_group("video", job_limit(7), job_limit(700)));
  o.limits.push_back(on_model("gen4_turbo", job_limit(12), std::nullopt));
  REQUIRE(validate_overrides(o));
  const auto turbo = resolve_limits(table(), 0, &o, "gen4_turbo", video);
  CHECK(turbo.enforced == group_limits{job_limit(12), job_limit(700)});
  CHECK(turbo.concurrent_from == &o.limits[1]);
  CHECK(turbo.daily_from == &o.limits[0]);
  CHECK(turbo.daily_from->note.set_by == "ops:alice");
  CHECK(turbo.daily_from->note.reason == "contract 2026-114");
  CHECK(resolve_limits(table(), 0, &o, "gen4.5", video).enforced == group_limits{job_limit(7), job_limit(700)});
  CHECK(resolve_limits(table(), 0, &o, "gen4_image", image).enforced == group_limits{job_limit(2), job_limit(200)});
}

TEST_CASE("an override may lift a limit entirely") {
  account_overrides o;
  o.limits.push_back(on_model("veo3", job_limit::unlimited(), job_limit::unlimited()));
  const auto r = resolve_limits(table(), 0, &o, "veo3", *table().group_index("video_premium"));
  CHECK(r.enforced.concurrent.is_unlimited());
  CHECK(r.enforced.daily.is_unlimited());
  CHECK(r.enforced.daily.allows(1'000'000'000));
}

TEST_CASE("shadow overrides are computed beside the enforced limits, not instead of them") {
  account_overrides o;
  o.limits.push_back(on_group("video", std::nullopt, job_limit(40), override_mode::shadow));
  o.limits.push_back(on_model("gen4_turbo", job_limit(2), std::nullopt, override_mode::shadow));
  o.limits.push_back(on_model("gen4_turbo", std::nullopt, job_limit(45)));
  REQUIRE(validate_overrides(o));
  const auto r = resolve_limits(table(), 0, &o, "gen4_turbo", video);
  CHECK(r.enforced == group_limits{job_limit(1), job_limit(45)});
  REQUIRE(r.shadow);
  // Shadow view: the model's shadow concurrency; its enforced daily (more
  // specific than the group's shadow daily).
  CHECK(*r.shadow == group_limits{job_limit(2), job_limit(45)});
  const auto aleph = resolve_limits(table(), 0, &o, "gen4_aleph", video);
  CHECK(aleph.enforced == group_limits{job_limit(1), job_limit(50)});
  CHECK(*aleph.shadow == group_limits{job_limit(1), job_limit(40)});
  CHECK_FALSE(resolve_limits(table(), 0, &o, "gen4_image", image).shadow);
  // The gate decides against both; e.g. the 46th job of the day:
  CHECK_FALSE(r.enforced.daily.allows(46));
  CHECK(basic_shadow_decision_event<time_point>{"acme", "gen4_aleph", "daily", aleph.enforced.daily.allows(45),
                                                aleph.shadow->daily.allows(45), start()}
            .differs());
}

TEST_CASE("custom spend caps, enforced and shadow") {
  account_overrides o;
  o.spend_caps.push_back({spend_cap(dollars("50000")), override_mode::enforced, note});
  o.spend_caps.push_back({spend_cap::unlimited(), override_mode::shadow, {"ops:bob", "what if no cap"}});
  REQUIRE(validate_overrides(o));
  const auto r = resolve_spend_cap(table(), 0, &o);
  CHECK(r.enforced == spend_cap(dollars("50000")));
  CHECK(r.from == &o.spend_caps[0]);
  CHECK(r.shadow == spend_cap::unlimited());
  CHECK(resolve_spend_cap(table(), 2, nullptr).enforced == spend_cap(dollars("2000")));
  CHECK_FALSE(resolve_spend_cap(table(), 2, nullptr).shadow);
}

TEST_CASE("custom criteria replace one tier's, in any order") {
  account_overrides o;
  o.criteria.push_back({tier_id{4}, promotion_criteria{dollars("200"), std::chrono::days(2)}, note});
  const account_criteria c{&table(), &o};
  CHECK(c(3).purchased == dollars("200"));
  CHECK(c(2).purchased == dollars("100"));  // the table's
  const time_point t0 = start();
  const basic_account_facts<time_point> f{dollars("200"), t0, {}};
  // Tier 4 before tier 3's 7 days: the highest tier whose criteria hold.
  CHECK(table().at(tier_for(table(), f, t0 + 48h, c)).id == tier_id{4});
  CHECK(table().at(tier_for(table(), f, t0 + 48h)).id == tier_id{2});
}

TEST_CASE("validation refuses what cannot be meant, naming the override") {
  const auto refused = [](const account_overrides& o) {
    const auto r = validate_overrides(o);
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::invalid_argument);
    return r.error().message();
  };
  account_overrides o;
  o.limits.push_back(on_model("gen4_turbo", std::nullopt, std::nullopt));
  CHECK_THAT(refused(o), Contains("override limits[0]: overrides nothing"));
  o.limits[0] = on_group("Video Models", job_limit(1), std::nullopt);
  CHECK_THAT(refused(o), Contains("is not a group name"));
  o.limits[0] = on_model("", job_limit(1), std::nullopt);
  CHECK_THAT(refused(o), Contains("target"));
  o.limits[0] = on_model("gen4_turbo", job_limit(0), std::nullopt);
  CHECK_THAT(refused(o), Contains("concurrent: must be at least 1"));
  o.limits[0] = on_model("gen4_turbo", job_limit(3), std::nullopt);
  o.limits.push_back(on_model("gen4_turbo", std::nullopt, job_limit(3)));
  CHECK_THAT(refused(o), Contains("limits[1]: repeats limits[0]"));
  o.limits[1].mode = override_mode::shadow;  // the same target in the other mode is fine
  CHECK(validate_overrides(o));
  o.limits[1].note.set_by = "";
  CHECK_THAT(refused(o), Contains("note.set_by: must not be empty"));
  o.limits[1].note = {"ops", "bad \x01 reason"};
  CHECK_THAT(refused(o), Contains("note.reason: must not contain control characters"));
  o.limits[1].note = {"ops", "\xff\xfe"};
  CHECK_THAT(refused(o), Contains("not valid UTF-8"));
  o.limits[1].note = {"ops", std::string(1025, 'r')};
  CHECK_THAT(refused(o), Contains("at most 1024 bytes"));
  o.limits[1].note = note;
  o.limits[1].mode = static_cast<override_mode>(9);
  CHECK_THAT(refused(o), Contains("mode: unknown mode"));
  o.limits.pop_back();

  o.spend_caps.push_back({spend_cap(usd{}), override_mode::enforced, note});
  CHECK_THAT(refused(o), Contains("spend_caps[0]: cap: must be positive"));
  o.spend_caps[0].cap = spend_cap(dollars("10"));
  o.spend_caps.push_back({spend_cap(dollars("20")), override_mode::enforced, note});
  CHECK_THAT(refused(o), Contains("spend_caps[1]: repeats spend_caps[0]"));
  o.spend_caps.pop_back();

  o.criteria.push_back({tier_id{0}, {}, note});
  CHECK_THAT(refused(o), Contains("criteria[0]: tier: must be at least 1"));
  o.criteria[0] = {tier_id{3}, promotion_criteria{dollars("-1"), {}}, note};
  CHECK_THAT(refused(o), Contains("purchased: must not be negative"));
  o.criteria[0] = {tier_id{3}, promotion_criteria{{}, std::chrono::days(40'000)}, note};
  CHECK_THAT(refused(o), Contains("min_age: must be 0 to 36500 days"));
  o.criteria[0] = {tier_id{3}, {}, note};
  o.criteria.push_back({tier_id{3}, {}, note});
  CHECK_THAT(refused(o), Contains("criteria[1]: repeats criteria[0] (tier 3)"));
}
