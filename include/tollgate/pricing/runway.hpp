// The built-in catalog: Runway's published API price list (in credits, $0.01
// a credit), compiled in so a host can quote with no file at hand. The same
// list ships as data/runway-catalog.json (load it with tollgate/json/catalog.hpp)
// and a test proves the two agree model by model. Usage ranges follow the
// published API where it states them; elsewhere they are generous bounds that
// only reject absurd values (see docs/pricing.md for which is which).
#pragma once

#include <string_view>
#include <vector>

#include "../core/money.hpp"
#include "../core/units.hpp"
#include "catalog.hpp"
#include "rates.hpp"
#include "usage.hpp"

namespace tollgate {

/// The date of the price list that runway_models() encodes.
inline constexpr std::string_view runway_price_list_date = "2026-11-01";

/**
 * Runway's models, rates and usage ranges, in the order of the price list:
 * video (per second), image (per generation), audio (per characters of text,
 * per block of seconds).
 *
 * Build a catalog with another rounding policy or credit price from it:
 * `basic_catalog<half_up>(runway_models(), credit_price{...})`.
 */
[[nodiscard]] inline std::vector<model_spec> runway_models() {
  using s = media_duration;
  const auto video = [](const char* id, credits per_sec, s min, s max, const char* group = "video") {
    return model_spec{.id = id, .kind = media_kind::video, .rate = per_second{std::move(per_sec)},
                      .seconds = seconds_range{min, max}, .group = group};
  };
  const auto video_audio = [](const char* id, credits per_sec, credits with_audio, s min, s max) {
    return model_spec{.id = id, .kind = media_kind::video,
                      .rate = per_second{std::move(per_sec), std::move(with_audio)},
                      .seconds = seconds_range{min, max}, .audio = true, .group = "video_premium"};
  };
  const auto audio_blocks = [](const char* id, credits per_block_price, s block, s max) {
    return model_spec{.id = id, .kind = media_kind::audio,
                      .rate = per_block{std::move(per_block_price), block},
                      .seconds = seconds_range{s{1}, max}, .group = "audio"};
  };
  constexpr int max_images = 4;  // not published: the bound of one request here
  std::vector<model_spec> m;
  m.reserve(17);
  // Video, per second of output. Ranges: the durations the API accepts.
  // Groups (tier limits): Runway's own video models are "video"; Google's Veo
  // models, sold through the same API, are "video_premium"; the upscaler has
  // its own table, "upscale" (docs/pricing.md, "Model groups").
  m.push_back(video("gen4.5", credits{12}, s{2'000}, s{10'000}));
  m.push_back(video("gen4_turbo", credits{5}, s{2'000}, s{10'000}));
  // Video to video: priced per second of the input clip (any length up to the bound).
  m.push_back(video("gen4_aleph", credits{15}, s{1}, s{30'000}));
  m.push_back(video("gen3a_turbo", credits{5}, s{5'000}, s{10'000}));
  m.push_back(video("act_two", credits{5}, s{1}, s{30'000}));
  m.push_back(video("veo3", credits{40}, s{8'000}, s{8'000}, "video_premium"));
  m.push_back(video_audio("veo3.1", credits{20}, credits{40}, s{4'000}, s{8'000}));
  m.push_back(video_audio("veo3.1_fast", credits{10}, credits{15}, s{4'000}, s{8'000}));
  m.push_back(video("upscale_v1", credits{2}, s{1}, s{40'000}, "upscale"));
  // Image, per generated output.
  m.push_back(model_spec{
      .id = "gen4_image", .kind = media_kind::image,
      .rate = per_generation{std::vector<resolution_price>{{"720p", credits{5}}, {"1080p", credits{8}}}},
      .outputs = outputs_range{max_images}, .group = "image"});
  m.push_back(model_spec{.id = "gen4_image_turbo", .kind = media_kind::image,
                         .rate = per_generation{credits{2}},
                         .outputs = outputs_range{max_images}, .resolutions = {"720p", "1080p"},
                         .group = "image"});
  m.push_back(model_spec{.id = "gemini_2.5_flash", .kind = media_kind::image,
                         .rate = per_generation{credits{5}}, .outputs = outputs_range{max_images},
                         .group = "image"});
  // Audio: speech per block of input characters, audio tools per block of input seconds.
  m.push_back(model_spec{.id = "eleven_multilingual_v2", .kind = media_kind::audio,
                         .rate = per_characters{credits{1}, 50},
                         .text = text_range{10'000}, .group = "audio"});
  m.push_back(audio_blocks("eleven_voice_isolation", credits{1}, s{6'000}, s{3'600'000}));
  m.push_back(audio_blocks("eleven_voice_dubbing", credits{1}, s{2'000}, s{3'600'000}));
  m.push_back(audio_blocks("eleven_multilingual_sts_v2", credits{1}, s{3'000}, s{300'000}));
  return m;
}

/**
 * The built-in Runway catalog: runway_models() at $0.01 a credit, charges
 * rounded up to a whole credit, dated runway_price_list_date. Built once, on
 * first use (thread-safe); lives until the program ends.
 */
[[nodiscard]] inline const catalog& runway_catalog() {
  static const catalog c(runway_models(), credit_price{}, std::string(runway_price_list_date));
  return c;
}

}  // namespace tollgate
