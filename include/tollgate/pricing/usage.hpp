// What a job uses, as a rate sees it. A `job` names a model of the catalog and
// carries its `usage`: seconds of media, number of outputs, a resolution, the
// audio switch, or input text. Both are plain aggregates, so a host writes
// `job{.model = "gen4_turbo", .usage = {.seconds = media_duration{10'000}}}`.
// A field left empty is "not given"; the catalog checks which fields a model
// takes, and rates read only the fields they price (`usage_fields`).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "../core/format.hpp"
#include "../core/units.hpp"

namespace tollgate {

/// What a model produces.
enum class media_kind : std::uint8_t { video, image, audio };

/// "video", "image" or "audio".
[[nodiscard]] constexpr std::string_view to_string(media_kind k) noexcept {
  switch (k) {
    case media_kind::video: return "video";
    case media_kind::image: return "image";
    case media_kind::audio: return "audio";
  }
  return "unknown";
}

/**
 * The usage of one job: what a rate prices.
 *
 * Every field is optional in the sense of "not given": a model takes some of
 * them (see model_spec) and refuses the others. `audio = false` is the same as
 * not asking for audio. Value type; compares equal field by field.
 */
struct usage {
  /// Seconds of media (output video, input audio), millisecond resolution.
  std::optional<media_duration> seconds{};
  /// Number of outputs (images); a model that takes outputs defaults to 1.
  std::optional<count> outputs{};
  /// A resolution such as "720p" or "1080p".
  std::optional<std::string> resolution{};
  /// Asks for generated audio (priced by models that offer it).
  bool audio = false;
  /// Input text (speech synthesis), UTF-8; priced per Unicode code point.
  std::optional<std::string> text{};

  friend bool operator==(const usage&, const usage&) = default;
};

/// One unit of work to price: a model id of the catalog and its usage.
struct job {
  std::string model{};
  tollgate::usage usage{};

  friend bool operator==(const job&, const job&) = default;
};

/**
 * A set of usage fields: which fields a rate reads or a model takes.
 * `unknown` marks a user-defined rate that does not say (the catalog then
 * trusts the model's declaration alone).
 */
enum class usage_fields : std::uint8_t {
  none = 0,
  seconds = 1,
  outputs = 2,
  resolution = 4,
  audio = 8,
  text = 16,
  unknown = 0x80,
};

[[nodiscard]] constexpr usage_fields operator|(usage_fields a, usage_fields b) noexcept {
  return static_cast<usage_fields>(static_cast<std::uint8_t>(a) | static_cast<std::uint8_t>(b));
}
[[nodiscard]] constexpr usage_fields operator&(usage_fields a, usage_fields b) noexcept {
  return static_cast<usage_fields>(static_cast<std::uint8_t>(a) & static_cast<std::uint8_t>(b));
}
/// Every field not in `a`.
[[nodiscard]] constexpr usage_fields operator~(usage_fields a) noexcept {
  return static_cast<usage_fields>(static_cast<std::uint8_t>(~static_cast<std::uint8_t>(a)));
}
/// True when every field of `b` is in `a`.
[[nodiscard]] constexpr bool contains(usage_fields a, usage_fields b) noexcept {
  return (a & b) == b;
}

/// The name of one field as it appears in usage, messages and JSON.
[[nodiscard]] constexpr std::string_view field_name(usage_fields f) noexcept {
  switch (f) {
    case usage_fields::seconds: return "seconds";
    case usage_fields::outputs: return "outputs";
    case usage_fields::resolution: return "resolution";
    case usage_fields::audio: return "audio";
    case usage_fields::text: return "text";
    default: return "?";
  }
}

/// The fields that `u` gives (audio only when true).
[[nodiscard]] inline usage_fields given_fields(const usage& u) noexcept {
  // Shifts and ors of the five flags, not five branches: every quote asks.
  const auto bit = [](bool given, usage_fields f) {
    return static_cast<unsigned>(given) * static_cast<unsigned>(f);
  };
  return static_cast<usage_fields>(
      bit(u.seconds.has_value(), usage_fields::seconds) |
      bit(u.outputs.has_value(), usage_fields::outputs) |
      bit(u.resolution.has_value(), usage_fields::resolution) |
      bit(u.audio, usage_fields::audio) | bit(u.text.has_value(), usage_fields::text));
}

}  // namespace tollgate
