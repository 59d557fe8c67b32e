// The built-in Runway catalog: every model at its published rate, exactly, and
// the usage ranges it enforces.
#include <catch2/catch.hpp>

#include <map>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <tollgate/tollgate.hpp>

using namespace tollgate;

namespace {

struct case_ {
  std::string model;
  usage use;
  std::int64_t credits;
};

usage sec(std::int64_t ms, bool audio = false) {
  usage u;
  u.seconds = media_duration{ms};
  u.audio = audio;
  return u;
}
usage img(std::int64_t outputs, std::optional<std::string> resolution = std::nullopt) {
  usage u;
  u.outputs = count{outputs};
  u.resolution = std::move(resolution);
  return u;
}
usage txt(std::size_t characters) {
  usage u;
  u.text = std::string(characters, 'a');
  return u;
}

}  // namespace

TEST_CASE("every Runway model is priced at its published rate") {
  const catalog& c = runway_catalog();
  const std::vector<case_> cases = {
      // video, credits per second
      {"gen4.5", sec(10'000), 120},
      {"gen4.5", sec(2'000), 24},
      {"gen4_turbo", sec(10'000), 50},
      {"gen4_turbo", sec(5'000), 25},
      {"gen4_aleph", sec(5'000), 75},
      {"gen4_aleph", sec(4'200), 75},  // 4.2 s bills 5 s
      {"gen3a_turbo", sec(5'000), 25},
      {"gen3a_turbo", sec(10'000), 50},
      {"act_two", sec(30'000), 150},
      {"veo3", sec(8'000), 320},
      {"veo3.1", sec(8'000), 160},
      {"veo3.1", sec(8'000, true), 320},
      {"veo3.1", sec(4'000, true), 160},
      {"veo3.1_fast", sec(8'000), 80},
      {"veo3.1_fast", sec(8'000, true), 120},
      {"veo3.1_fast", sec(6'000), 60},
      {"upscale_v1", sec(40'000), 80},
      {"upscale_v1", sec(10'200), 22},
      // image, credits per output
      {"gen4_image", img(1, "720p"), 5},
      {"gen4_image", img(1, "1080p"), 8},
      {"gen4_image", img(4, "1080p"), 32},
      {"gen4_image", img(3, "720p"), 15},
      {"gen4_image_turbo", img(1), 2},
      {"gen4_image_turbo", img(4, "1080p"), 8},
      {"gemini_2.5_flash", img(1), 5},
      {"gemini_2.5_flash", img(3), 15},
      // audio
      {"eleven_multilingual_v2", txt(1), 1},
      {"eleven_multilingual_v2", txt(50), 1},
      {"eleven_multilingual_v2", txt(51), 2},
      {"eleven_multilingual_v2", txt(10'000), 200},
      {"eleven_voice_isolation", sec(6'000), 1},
      {"eleven_voice_isolation", sec(6'001), 2},
      {"eleven_voice_isolation", sec(3'600'000), 600},
      {"eleven_voice_dubbing", sec(2'000), 1},
      {"eleven_voice_dubbing", sec(3'000), 2},
      {"eleven_voice_dubbing", sec(60'000), 30},
      {"eleven_multilingual_sts_v2", sec(3'000), 1},
      {"eleven_multilingual_sts_v2", sec(3'500), 2},
      {"eleven_multilingual_sts_v2", sec(300'000), 100},
  };
  std::set<std::string> covered;
  for (const case_& k : cases) {
    INFO(k.model << " expecting " << k.credits << " credits");
    const auto q = c.quote(job{.model = k.model, .usage = k.use});
    REQUIRE(q);
    CHECK(q->exact == credits{k.credits});
    CHECK(q->charged == credits{k.credits});
    CHECK(q->usd == usd::from_raw(checked_int128_t(k.credits) * 10'000));  // $0.01 a credit
    CHECK(q->lines.total() == q->exact);
    covered.insert(k.model);
  }
  CHECK(covered.size() == c.models().size());  // every model has a case
}

TEST_CASE("the Runway catalog: models, kinds, date and defaults") {
  const catalog& c = runway_catalog();
  CHECK(c.models().size() == 16);
  CHECK(c.price_list_date() == "2026-11-01");
  CHECK(c.price() == credit_price{});
  CHECK(c.find("gen4_turbo")->kind == media_kind::video);
  CHECK(c.find("gen4_image")->kind == media_kind::image);
  CHECK(c.find("eleven_voice_dubbing")->kind == media_kind::audio);
  CHECK(c.find("gen4_image")->resolutions == std::vector<std::string>{"720p", "1080p"});
  CHECK(c.find("veo3.1")->audio);
  CHECK_FALSE(c.find("veo3")->audio);
  CHECK(&runway_catalog() == &c);  // built once
}

TEST_CASE("every Runway model is in the group whose tier limits apply to it") {
  // Runway's own video models share the video limits; Google's Veo models
  // (sold through the same API) have the video_premium limits; the upscaler
  // has its own; images and audio by what they produce.
  const std::map<std::string, std::string> group = {
      {"gen4.5", "video"},           {"gen4_turbo", "video"},
      {"gen4_aleph", "video"},       {"gen3a_turbo", "video"},
      {"act_two", "video"},          {"veo3", "video_premium"},
      {"veo3.1", "video_premium"},   {"veo3.1_fast", "video_premium"},
      {"upscale_v1", "upscale"},     {"gen4_image", "image"},
      {"gen4_image_turbo", "image"}, {"gemini_2.5_flash", "image"},
      {"eleven_multilingual_v2", "audio"},     {"eleven_voice_isolation", "audio"},
      {"eleven_voice_dubbing", "audio"},       {"eleven_multilingual_sts_v2", "audio"},
  };
  const catalog& c = runway_catalog();
  REQUIRE(group.size() == c.models().size());
  for (const model_spec& m : c.models()) {
    INFO(m.id);
    REQUIRE(group.count(m.id) == 1);
    CHECK(m.group == group.at(m.id));
  }
}

TEST_CASE("every Runway model refuses usage outside its range") {
  const catalog& c = runway_catalog();
  for (const model_spec& m : c.models()) {
    INFO(m.id);
    if (m.seconds) {
      CHECK(c.quote(job{.model = m.id, .usage = sec(m.seconds->max.count())}));
      CHECK(c.quote(job{.model = m.id, .usage = sec(m.seconds->min.count())}));
      CHECK(c.quote(job{.model = m.id, .usage = sec(m.seconds->max.count() + 1)}).code() ==
            errc::invalid_usage);
      CHECK(c.quote(job{.model = m.id, .usage = sec(m.seconds->min.count() - 1)}).code() ==
            errc::invalid_usage);
    }
    if (m.outputs) {
      usage u = img(m.outputs->max + 1, m.resolutions.empty() ? std::nullopt
                                                              : std::optional(m.resolutions[0]));
      CHECK(c.quote(job{.model = m.id, .usage = u}).code() == errc::invalid_usage);
    }
    if (m.text) {
      CHECK(c.quote(job{.model = m.id, .usage = txt(static_cast<std::size_t>(m.text->max_characters) + 1)})
                .code() == errc::invalid_usage);
    }
    // With no usage at all, only images whose price needs no resolution can be priced.
    const bool needs_nothing = m.id == "gen4_image_turbo" || m.id == "gemini_2.5_flash";
    CHECK(c.quote(job{.model = m.id, .usage = usage{}}).has_value() == needs_nothing);
  }
}

TEST_CASE("the consumer example: a gen4_turbo job of 10 s costs 50 credits, $0.50") {
  const auto& catalog = runway_catalog();
  job job{.model = "gen4_turbo", .usage = {.seconds = media_duration{10'000}}};
  auto q = catalog.quote(job);
  REQUIRE(q);
  CHECK(q->charged == credits{50});
  CHECK(q->usd.to_string() == "0.50");
  CHECK(q->exact.to_string() == "50");
}
