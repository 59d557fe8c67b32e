// The budget planner (planner.hpp, which joins pricing/ and tiers/ beside
// the gate; the tier tests' helpers serve it): the sample plan's schedule at every tier of
// the default table with the default generation times, the outlook of a
// fresh account (which tier finishes first, counting the wait to reach it),
// and each job priced on the other models of its kind.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include <tollgate/planner.hpp>
#include <tollgate/pricing/runway.hpp>
#include <tollgate/tiers/runway.hpp>

#include "../tiers/support.hpp"

using namespace tollgate;
using namespace tiers_test;
using namespace std::chrono_literals;
using ms = std::chrono::milliseconds;
using std::chrono::days;

namespace {

const tier_table& table() { return runway_tier_table(); }

// data/sample-plan.json, model by model, with the default generation times.
std::vector<model_demand> sample_plan() {
  std::vector<model_demand> out;
  const auto add = [&](const char* model, std::uint64_t jobs) {
    const model_spec* m = runway_catalog().find(model);
    REQUIRE(m != nullptr);
    out.push_back({m->id, m->group, jobs, default_generation_time(m->kind)});
  };
  add("gen4_turbo", 200);
  add("gen4.5", 40);
  add("veo3.1", 25);
  add("gen4_image", 100);
  add("eleven_multilingual_v2", 300);
  add("upscale_v1", 30);
  return out;
}

std::vector<std::string> models_of(const std::vector<quote>& qs) {
  std::vector<std::string> out;
  for (const quote& q : qs) out.emplace_back(q.model);
  return out;
}

}  // namespace

TEST_CASE("the default generation times, by kind") {
  CHECK(default_generation_time(media_kind::video) == ms(60s));
  CHECK(default_generation_time(media_kind::image) == ms(15s));
  CHECK(default_generation_time(media_kind::audio) == ms(10s));
}

TEST_CASE("the sample plan at tier 1: 4 days of submissions, done 3 days 00:50 after the first") {
  const auto demand = sample_plan();
  const auto s = schedule_plan(table(), 0, demand);
  REQUIRE(s);
  CHECK(s->days == 4);
  CHECK(s->duration == ms(days(3) + 50min));
  REQUIRE(s->models.size() == 6);
  struct want {
    std::uint64_t concurrent, daily, days;
    ms duration;
  };
  const want expected[] = {
      {1, 50, 4, days(3) + 50min},  // gen4_turbo: 4 windows of 50, one at a time
      {1, 50, 1, 40min},            // gen4.5
      {1, 50, 1, 25min},            // veo3.1 (video_premium)
      {2, 200, 1, 750s},            // gen4_image: 50 rounds of 2 images
      {2, 200, 2, days(1) + 50 * 10s},  // speech: 100 the second day, 2 at a time
      {1, 50, 1, 30min},            // upscale_v1
  };
  for (std::size_t i = 0; i < 6; ++i) {
    INFO(s->models[i].model);
    CHECK(s->models[i].limits.concurrent.max() == expected[i].concurrent);
    CHECK(s->models[i].limits.daily.max() == expected[i].daily);
    CHECK(s->models[i].run.days == expected[i].days);
    CHECK(s->models[i].run.duration == expected[i].duration);
  }
}

TEST_CASE("the sample plan at tiers 2 to 5: one day; the longest model is gen4_turbo's 200 videos") {
  const auto demand = sample_plan();
  const ms expected[] = {67min, 40min, 20min, 10min};  // ceil(200 / 3, 5, 10, 20) minutes
  for (std::size_t i = 1; i < 5; ++i) {
    const auto s = schedule_plan(table(), i, demand);
    REQUIRE(s);
    CHECK(s->days == 1);
    CHECK(s->duration == expected[i - 1]);
  }
}

TEST_CASE("a model without a group has no tier limits; a group the table lacks is refused") {
  const model_demand free_model{"house_model", "", 1000, 30s};
  const auto s = schedule_plan(table(), 0, std::span(&free_model, 1));
  REQUIRE(s);
  CHECK(s->days == 1);
  CHECK(s->duration == ms(30s));
  const model_demand stray{"x", "hologram", 1, 30s};
  const auto e = schedule_plan(table(), 0, std::span(&stray, 1));
  REQUIRE_FALSE(e);
  CHECK(e.error().code() == errc::invalid_argument);
  CHECK(e.error().message() ==
        "model 'x' is in group 'hologram', which the tier table does not have (it has video, image, audio, "
        "video_premium, upscale)");
}

TEST_CASE("a fresh account and the sample plan ($246.80): tier 2 finishes first") {
  const auto demand = sample_plan();
  const auto o = plan_outlook(table(), account_just_promoted(table(), 0, start()), start(), demand, dollars("246.80"));
  REQUIRE(o);
  REQUIRE(o->tiers.size() == 5);
  // Ready: the plan's credits bought and the tier reached, buying as fast as the caps allow.
  const days ready[] = {days(1), days(1), days(7), days(14), days(30)};
  const ms run[] = {days(3) + 50min, 67min, 40min, 20min, 10min};
  for (std::size_t i = 0; i < 5; ++i) {
    INFO("tier " << i + 1);
    CHECK(o->tiers[i].schedule.tier == i);
    CHECK(o->tiers[i].purchases.done_at == start() + ready[i]);
    CHECK(o->tiers[i].finish == start() + ready[i] + run[i]);
  }
  REQUIRE(o->soonest);
  CHECK(*o->soonest == 1);
  // From an account already at tier 3 the outlook starts there.
  const auto at3 = plan_outlook(table(), account_just_promoted(table(), 2, start()), start(), demand, dollars("246.80"));
  REQUIRE(at3);
  REQUIRE(at3->tiers.size() == 3);
  CHECK(at3->tiers[0].schedule.tier == 2);
  CHECK(at3->tiers[0].finish == start() + 40min);  // $246.80 fits under $2,000 at once
  CHECK(at3->soonest == 0);
}

TEST_CASE("alternatives: the other models of the kind that take the same usage, cheapest first") {
  const catalog& c = runway_catalog();
  SECTION("gen4_turbo, 10 s: the 8-second Veo models do not take 10 s; ties keep catalog order") {
    const auto a = alternatives(c, job{"gen4_turbo", {.seconds = media_duration{10'000}}});
    REQUIRE(a);
    CHECK(models_of(*a) == std::vector<std::string>{"upscale_v1", "gen3a_turbo", "act_two", "gen4.5", "gen4_aleph"});
    CHECK((*a)[0].charged == credits(20));
    CHECK((*a)[3].charged == credits(120));
    CHECK((*a)[4].usd == *usd::parse("1.50"));
  }
  SECTION("veo3.1, 8 s with audio: only veo3.1_fast takes audio") {
    const auto a = alternatives(c, job{"veo3.1", {.seconds = media_duration{8'000}, .audio = true}});
    REQUIRE(a);
    CHECK(models_of(*a) == std::vector<std::string>{"veo3.1_fast"});
    CHECK((*a)[0].charged == credits(120));
  }
  SECTION("gen4_image, four at 1080p: gemini takes no resolution") {
    const auto a = alternatives(c, job{"gen4_image", {.outputs = count{4}, .resolution = "1080p"}});
    REQUIRE(a);
    CHECK(models_of(*a) == std::vector<std::string>{"gen4_image_turbo"});
    CHECK((*a)[0].charged == credits(8));
  }
  SECTION("speech: no other model takes text") {
    const auto a = alternatives(c, job{"eleven_multilingual_v2", {.text = "Hello"}});
    REQUIRE(a);
    CHECK(a->empty());
  }
  SECTION("an unknown model is the catalog's unknown_model") {
    const auto a = alternatives(c, job{"gen4_trubo", {.seconds = media_duration{10'000}}});
    REQUIRE_FALSE(a);
    CHECK(a.error().code() == errc::unknown_model);
  }
}
