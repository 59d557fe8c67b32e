// Validation of the generation requests, field by field against the types of
// the provider's official client (@runwayml/sdk 4.20.1; /work/notes or
// docs/server.md list them), and their translation into a tollgate::job the
// catalog prices. A body is refused at its first wrong field with the field's
// path and why ("promptImage[0].position: expected one of \"first\", got
// \"last\""). Unknown fields are refused too: the client sends whatever its
// caller passes, so a typo must not pass silently.
//
// Only models the catalog prices are offered: a model the client knows but
// the catalog does not price is refused with the list of models the endpoint
// offers. Where the price depends on an input medium's length (voice
// isolation, dubbing, speech to speech, upscaling, character performance),
// the length comes from a media probe; the simulated one reads a
// `duration=SECONDS` parameter in the URI's query or fragment, or assumes the
// configured default (simulation.input_seconds).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <tollgate/json/detail/fields.hpp>
#include <tollgate/pricing/catalog.hpp>

namespace tollgate_server {

using ojson = nlohmann::ordered_json;

/// A request body refused: the field's path ("" for the body) and why.
struct invalid_input {
  std::string field;
  std::string message;
  [[nodiscard]] std::string text() const { return field.empty() ? message : fmt::format("{}: {}", field, message); }
};

/// Finds the length of an input medium (the price of some models depends on it).
using media_probe = std::function<tollgate::media_duration(std::string_view uri)>;

namespace requests_detail {

[[noreturn]] inline void fail(std::string field, std::string message) {
  throw invalid_input{std::move(field), std::move(message)};
}

using tollgate::json::fields::type_name;

[[nodiscard]] inline std::string quoted_list(std::span<const std::string_view> values) {
  std::string out;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += i + 1 == values.size() ? " or " : ", ";
    out += fmt::format("\"{}\"", values[i]);
  }
  return out;
}

[[nodiscard]] inline std::string shown(std::string_view s) {
  return s.size() > 40 ? std::string(s.substr(0, 40)) + "..." : std::string(s);
}

/**
 * The fields of one JSON object, each read at most once; finish() refuses
 * every field that was not read. Paths are those of the request body.
 */
class object_reader {
 public:
  object_reader(const ojson& v, std::string path) : v_(v), path_(std::move(path)) {
    if (!v.is_object()) fail(path_, fmt::format("expected an object, got {}", type_name(v)));
  }
  [[nodiscard]] std::string path(std::string_view key) const {
    return path_.empty() ? std::string(key) : fmt::format("{}.{}", path_, key);
  }
  /// The field, or null when absent.
  [[nodiscard]] const ojson* optional(std::string_view key) {
    read_.emplace_back(key);
    const auto it = v_.find(std::string(key));
    return it == v_.end() ? nullptr : &*it;
  }
  /// The field; refused when absent.
  [[nodiscard]] const ojson& required(std::string_view key) {
    const ojson* f = optional(key);
    if (f == nullptr) fail(path(key), "is required");
    return *f;
  }
  /// Refuses the first field that was not read.
  void finish(std::string_view owner) const {
    for (const auto& [key, _] : v_.items()) {
      if (std::find(read_.begin(), read_.end(), key) != read_.end()) continue;
      std::vector<std::string_view> known(read_.begin(), read_.end());
      std::sort(known.begin(), known.end());
      std::string list;
      for (auto k : known) list += fmt::format("{}{}", list.empty() ? "" : ", ", k);
      fail(path(key), fmt::format("unknown field; {} takes {}", owner, list));
    }
  }

 private:
  const ojson& v_;
  std::string path_;
  std::vector<std::string> read_;
};

/// UTF-16 code units of valid UTF-8 text (the client's prompt limits count them).
[[nodiscard]] inline std::size_t utf16_units(std::string_view s) {
  std::size_t n = 0;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c & 0xC0) != 0x80) n += c >= 0xF0 ? 2 : 1;  // a 4-byte sequence is a surrogate pair
  }
  return n;
}

/// A non-empty string of at most `max_units` UTF-16 code units.
[[nodiscard]] inline std::string text(const ojson& v, const std::string& path, std::size_t max_units) {
  if (!v.is_string()) fail(path, fmt::format("expected a string, got {}", type_name(v)));
  const auto& s = v.get_ref<const std::string&>();
  if (s.empty()) fail(path, "must not be empty");
  if (const auto n = utf16_units(s); n > max_units)
    fail(path, fmt::format("must be at most {} characters (UTF-16 code units), got {}", max_units, n));
  return s;
}

/// What kind of medium a URI must name.
enum class medium : std::uint8_t { image, video, audio };

[[nodiscard]] inline std::string_view to_string(medium m) {
  return m == medium::image ? "image" : m == medium::video ? "video" : "audio";
}

/// An HTTPS URL, a Runway upload URI or a base64 data URI of the medium (up to 5 MB).
inline void uri(const ojson& v, const std::string& path, medium m) {
  if (!v.is_string()) fail(path, fmt::format("expected a URI string, got {}", type_name(v)));
  const auto& s = v.get_ref<const std::string&>();
  const auto starts = [&](std::string_view p) { return s.size() > p.size() && s.compare(0, p.size(), p) == 0; };
  if (starts("https://") || starts("runway://")) {
    if (s.size() > 2048) fail(path, "a URL may have at most 2048 characters");
    for (const char c : s)
      if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F) fail(path, "a URL has no spaces or control characters");
    return;
  }
  const std::string prefix = fmt::format("data:{}/", to_string(m));
  if (starts(prefix)) {
    const auto comma = s.find(";base64,");
    if (comma == std::string::npos) fail(path, "a data URI must be base64 (data:TYPE;base64,...)");
    const std::size_t payload = s.size() - comma - 8;
    if (payload / 4 * 3 > 5'000'000) fail(path, "a data URI may carry at most 5 MB");
    return;
  }
  fail(path, fmt::format("expected an HTTPS URL, a runway:// upload URI or a {} data URI, got \"{}\"", to_string(m),
                         shown(s)));
}

/// One of `values`.
[[nodiscard]] inline std::string one_of(const ojson& v, const std::string& path,
                                        std::span<const std::string_view> values) {
  const std::span<const std::string_view> list = values;
  if (!v.is_string()) fail(path, fmt::format("expected one of {}, got {}", quoted_list(list), type_name(v)));
  const auto& s = v.get_ref<const std::string&>();
  if (std::find(values.begin(), values.end(), s) == values.end())
    fail(path, fmt::format("expected one of {}, got \"{}\"", quoted_list(list), shown(s)));
  return s;
}

[[nodiscard]] inline std::string one_of(const ojson& v, const std::string& path,
                                        std::initializer_list<std::string_view> values) {
  return one_of(v, path, std::span<const std::string_view>(values.begin(), values.size()));
}

/// An integer in [min, max] (a JSON number without a fraction).
[[nodiscard]] inline std::int64_t integer(const ojson& v, const std::string& path, std::int64_t min, std::int64_t max) {
  if (!v.is_number()) fail(path, fmt::format("expected an integer from {} to {}, got {}", min, max, type_name(v)));
  std::int64_t i = 0;
  if (v.is_number_integer() && !v.is_number_unsigned()) {
    i = v.get<std::int64_t>();
  } else if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(max)) fail(path, fmt::format("must be an integer from {} to {}, got {}", min, max, u));
    i = static_cast<std::int64_t>(u);
  } else {
    const double d = v.get<double>();
    if (d != static_cast<double>(static_cast<std::int64_t>(d)) || d < static_cast<double>(min) || d > static_cast<double>(max))
      fail(path, fmt::format("must be an integer from {} to {}, got {}", min, max, v.dump()));
    i = static_cast<std::int64_t>(d);
  }
  if (i < min || i > max) fail(path, fmt::format("must be an integer from {} to {}, got {}", min, max, i));
  return i;
}

/// A number in [min, max].
inline void number(const ojson& v, const std::string& path, double min, double max) {
  if (!v.is_number()) fail(path, fmt::format("expected a number from {} to {}, got {}", min, max, type_name(v)));
  const double d = v.get<double>();
  if (!(d >= min && d <= max)) fail(path, fmt::format("must be from {} to {}, got {}", min, max, v.dump()));
}

[[nodiscard]] inline bool boolean(const ojson& v, const std::string& path) {
  if (!v.is_boolean()) fail(path, fmt::format("expected true or false, got {}", type_name(v)));
  return v.get<bool>();
}

/// One of the integers `values` (4 | 6 | 8).
[[nodiscard]] inline std::int64_t integer_of(const ojson& v, const std::string& path,
                                             std::initializer_list<std::int64_t> values) {
  std::string list;
  for (auto x : values) list += fmt::format("{}{}", list.empty() ? "" : ", ", x);
  if (!v.is_number_integer()) fail(path, fmt::format("expected one of {}, got {}", list, v.is_number() ? v.dump() : std::string(type_name(v))));
  const auto i = v.get<std::int64_t>();
  if (std::find(values.begin(), values.end(), i) == values.end()) fail(path, fmt::format("expected one of {}, got {}", list, i));
  return i;
}

/// The optional seed every model takes.
inline void seed(object_reader& r) {
  if (const ojson* f = r.optional("seed")) (void)integer(*f, r.path("seed"), 0, 4'294'967'295);
}

/// `contentModeration: {publicFigureThreshold?: 'auto' | 'low'}`.
inline void content_moderation(object_reader& r) {
  const ojson* f = r.optional("contentModeration");
  if (f == nullptr) return;
  object_reader m(*f, r.path("contentModeration"));
  if (const ojson* t = m.optional("publicFigureThreshold")) (void)one_of(*t, m.path("publicFigureThreshold"), {"auto", "low"});
  m.finish("contentModeration");
}

/// `promptImage`: a URI, or an array of {uri, position} with distinct
/// positions from `positions`, the first of which is required.
inline void prompt_image(object_reader& r, std::initializer_list<std::string_view> positions) {
  const std::string path = r.path("promptImage");
  const ojson& v = r.required("promptImage");
  if (v.is_string()) return uri(v, path, medium::image);
  if (!v.is_array()) fail(path, fmt::format("expected a URI string or an array of {{uri, position}}, got {}", type_name(v)));
  if (v.empty() || v.size() > positions.size())
    fail(path, fmt::format("expected 1 to {} images, got {}", positions.size(), v.size()));
  std::vector<std::string> seen;
  for (std::size_t i = 0; i < v.size(); ++i) {
    object_reader img(v[i], fmt::format("{}[{}]", path, i));
    uri(img.required("uri"), img.path("uri"), medium::image);
    std::string pos = one_of(img.required("position"), img.path("position"), positions);
    if (std::find(seen.begin(), seen.end(), pos) != seen.end()) fail(img.path("position"), fmt::format("\"{}\" is given twice", pos));
    seen.push_back(std::move(pos));
    img.finish("a prompt image");
  }
  if (std::find(seen.begin(), seen.end(), *positions.begin()) == seen.end())
    fail(path, fmt::format("needs a \"{}\" image", *positions.begin()));
}

/// `referenceImages`: `min` to `max` of {uri, tag?}.
inline void reference_images(object_reader& r, std::size_t min, std::size_t max) {
  const std::string path = r.path("referenceImages");
  const ojson* v = min > 0 ? &r.required("referenceImages") : r.optional("referenceImages");
  if (v == nullptr) return;
  if (!v->is_array()) fail(path, fmt::format("expected an array of {{uri, tag?}}, got {}", type_name(*v)));
  if (v->size() < min || v->size() > max) fail(path, fmt::format("expected {} to {} images, got {}", min, max, v->size()));
  for (std::size_t i = 0; i < v->size(); ++i) {
    object_reader img((*v)[i], fmt::format("{}[{}]", path, i));
    uri(img.required("uri"), img.path("uri"), medium::image);
    if (const ojson* t = img.optional("tag")) {
      if (!t->is_string()) fail(img.path("tag"), fmt::format("expected a string, got {}", type_name(*t)));
      const auto& tag = t->get_ref<const std::string&>();
      const bool ok = tag.size() >= 3 && tag.size() <= 16 && std::isalpha(static_cast<unsigned char>(tag[0])) &&
                      std::all_of(tag.begin(), tag.end(), [](char c) {
                        return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                      });
      if (!ok) fail(img.path("tag"), "a tag has 3 to 16 letters, digits or underscores and starts with a letter");
    }
    img.finish("a reference image");
  }
}

/// `voice: {type: 'runway-preset', presetId}`.
inline void preset_voice(object_reader& r) {
  object_reader v(r.required("voice"), r.path("voice"));
  (void)one_of(v.required("type"), v.path("type"), {"runway-preset"});
  (void)one_of(v.required("presetId"), v.path("presetId"),
               {"Maya",    "Arjun",  "Serene", "Bernard", "Billy",   "Mark",   "Clint",  "Mabel",   "Chad",
                "Leslie",  "Eleanor", "Elias",  "Elliot",  "Grungle", "Brodie", "Sandra", "Kirk",    "Kylie",
                "Lara",    "Lisa",   "Malachi", "Marlene", "Martin",  "Miriam", "Monster", "Paula",  "Pip",
                "Rusty",   "Ragnar", "Xylar",  "Maggie",  "Jack",    "Katie",  "Noah",   "James",   "Rina",
                "Ella",    "Mariah", "Frank",  "Claudia", "Niki",    "Vincent", "Kendrick", "Myrna", "Tom",
                "Wanda",   "Benjamin", "Kiana", "Rachel"});
  v.finish("voice");
}

/// A `{type, uri}` medium object whose type is one of `types`.
[[nodiscard]] inline std::string typed_medium(object_reader& r, std::string_view key,
                                              std::initializer_list<std::string_view> types) {
  object_reader m(r.required(key), r.path(key));
  const std::string type = one_of(m.required("type"), m.path("type"), types);
  const medium kind = type == "image" ? medium::image : type == "video" ? medium::video : medium::audio;
  uri(m.required("uri"), m.path("uri"), kind);
  std::string u = m.required("uri").get<std::string>();
  m.finish(key);
  return u;
}

/// `outputFormat`: the catalog prices mp4 only (the other formats carry a
/// surcharge it does not know).
inline void output_format(object_reader& r) {
  const ojson* f = r.optional("outputFormat");
  if (f == nullptr) return;
  if (!f->is_string() || f->get_ref<const std::string&>() != "mp4")
    fail(r.path("outputFormat"), fmt::format("only \"mp4\" is offered: this server's catalog does not price the "
                                             "surcharge of other formats, got {}", f->dump()));
}

/// The length of an input medium, checked against [min, max] milliseconds.
[[nodiscard]] inline tollgate::media_duration input_length(const media_probe& probe, std::string_view uri,
                                                           const std::string& path, std::int64_t min_ms,
                                                           std::int64_t max_ms) {
  const tollgate::media_duration d = probe(uri);
  if (d.count() < min_ms || d.count() > max_ms)
    fail(path, fmt::format("the medium lasts {} s; this model takes {} to {} s", tollgate::format_seconds(d),
                           tollgate::format_seconds(tollgate::media_duration(min_ms)),
                           tollgate::format_seconds(tollgate::media_duration(max_ms))));
  return d;
}

// -------------------------------------------------------------- the models

using tollgate::media_duration;
using tollgate::usage;

constexpr std::size_t prompt_units = 1000;

inline constexpr std::string_view gen4_ratios[] = {"1280:720", "720:1280", "1104:832",
                                                                        "832:1104", "960:960",  "1584:672"};
inline constexpr std::string_view veo_ratios[] = {"1280:720", "720:1280", "1080:1920", "1920:1080"};
inline constexpr std::string_view gen4_image_ratios[] = {
    "1024:1024", "1080:1080", "1168:880", "1360:768", "1440:1080", "1080:1440", "1808:768", "1920:1080",
    "1080:1920", "2112:912",  "1280:720", "720:1280", "720:720",   "960:720",   "720:960",  "1680:720"};

/// What a model reader gets besides the body.
struct context {
  const media_probe& probe;
};

using model_reader = usage (*)(object_reader&, const context&);

// gen4.5: image to video (with_image, six ratios) and text to video (two).
template <bool with_image>
usage gen4_5(object_reader& r, const context&) {
  if constexpr (with_image) prompt_image(r, {"first"});
  (void)text(r.required("promptText"), r.path("promptText"), prompt_units);
  if constexpr (with_image) (void)one_of(r.required("ratio"), r.path("ratio"), gen4_ratios);
  else (void)one_of(r.required("ratio"), r.path("ratio"), {"1280:720", "720:1280"});
  const auto seconds = integer(r.required("duration"), r.path("duration"), 2, 10);
  content_moderation(r);
  output_format(r);
  if (const ojson* p = r.optional("proresProfile"))
    fail(r.path("proresProfile"), fmt::format("only valid with a ProRes outputFormat, which is not offered; got {}", p->dump()));
  seed(r);
  return usage{.seconds = media_duration(seconds * 1000)};
}

inline usage i2v_gen4_turbo(object_reader& r, const context&) {
  prompt_image(r, {"first"});
  (void)one_of(r.required("ratio"), r.path("ratio"), gen4_ratios);
  std::int64_t seconds = 10;
  if (const ojson* d = r.optional("duration")) seconds = integer(*d, r.path("duration"), 2, 10);
  if (const ojson* t = r.optional("promptText")) (void)text(*t, r.path("promptText"), prompt_units);
  content_moderation(r);
  seed(r);
  return usage{.seconds = media_duration(seconds * 1000)};
}

// veo3.1 and veo3.1_fast: image to video (with_image) and text to video.
template <bool with_image>
usage veo(object_reader& r, const context&) {
  if constexpr (with_image) {
    prompt_image(r, {"first", "last"});
    if (const ojson* t = r.optional("promptText")) (void)text(*t, r.path("promptText"), prompt_units);
  } else {
    (void)text(r.required("promptText"), r.path("promptText"), prompt_units);
  }
  (void)one_of(r.required("ratio"), r.path("ratio"), veo_ratios);
  bool audio = false;
  if (const ojson* a = r.optional("audio")) audio = boolean(*a, r.path("audio"));
  std::int64_t seconds = 8;
  if (const ojson* d = r.optional("duration")) seconds = integer_of(*d, r.path("duration"), {4, 6, 8});
  if (const ojson* n = r.optional("negativePrompt")) (void)text(*n, r.path("negativePrompt"), prompt_units);
  seed(r);
  return usage{.seconds = media_duration(seconds * 1000), .audio = audio};
}

/// The catalog's resolution of a gen4 image ratio: a short side of 720 or
/// less is 720p, larger is 1080p.
[[nodiscard]] inline std::string image_resolution(std::string_view ratio) {
  const auto colon = ratio.find(':');
  const int w = std::stoi(std::string(ratio.substr(0, colon)));
  const int h = std::stoi(std::string(ratio.substr(colon + 1)));
  return std::min(w, h) <= 720 ? "720p" : "1080p";
}

// gen4_image (0 to 3 reference images) and gen4_image_turbo (1 to 3).
template <std::size_t min_references>
usage t2i_gen4(object_reader& r, const context&) {
  (void)text(r.required("promptText"), r.path("promptText"), prompt_units);
  const std::string ratio = one_of(r.required("ratio"), r.path("ratio"), gen4_image_ratios);
  reference_images(r, min_references, 3);
  content_moderation(r);
  seed(r);
  return usage{.outputs = tollgate::count{1}, .resolution = image_resolution(ratio)};
}

inline usage t2i_gemini_2_5_flash(object_reader& r, const context&) {
  (void)text(r.required("promptText"), r.path("promptText"), prompt_units);
  (void)one_of(r.required("ratio"), r.path("ratio"),
               {"1344:768", "768:1344", "1024:1024", "1184:864", "864:1184", "1536:672", "832:1248", "1248:832",
                "896:1152", "1152:896"});
  reference_images(r, 0, 3);
  return usage{.outputs = tollgate::count{1}};
}

inline usage tts_eleven_multilingual_v2(object_reader& r, const context&) {
  std::string prompt = text(r.required("promptText"), r.path("promptText"), prompt_units);
  preset_voice(r);
  return usage{.text = std::move(prompt)};
}

inline usage voice_isolation(object_reader& r, const context& c) {
  uri(r.required("audioUri"), r.path("audioUri"), medium::audio);
  // "Audio duration must be greater than 4.6 seconds and less than 3600 seconds."
  return usage{.seconds = input_length(c.probe, r.required("audioUri").get<std::string>(), r.path("audioUri"), 4'601, 3'599'999)};
}

inline usage voice_dubbing(object_reader& r, const context& c) {
  uri(r.required("audioUri"), r.path("audioUri"), medium::audio);
  (void)one_of(r.required("targetLang"), r.path("targetLang"),
               {"en", "hi", "pt", "zh", "es", "fr", "de", "ja", "ar", "ru", "ko", "id", "it", "nl", "tr",
                "pl", "sv", "fil", "ms", "ro", "uk", "el", "cs", "da", "fi", "bg", "hr", "sk", "ta"});
  if (const ojson* f = r.optional("disableVoiceCloning")) (void)boolean(*f, r.path("disableVoiceCloning"));
  if (const ojson* f = r.optional("dropBackgroundAudio")) (void)boolean(*f, r.path("dropBackgroundAudio"));
  if (const ojson* f = r.optional("numSpeakers")) (void)integer(*f, r.path("numSpeakers"), 1, 100);
  return usage{.seconds = input_length(c.probe, r.required("audioUri").get<std::string>(), r.path("audioUri"), 1, 3'600'000)};
}

inline usage speech_to_speech(object_reader& r, const context& c) {
  const std::string media = typed_medium(r, "media", {"audio", "video"});
  preset_voice(r);
  if (const ojson* f = r.optional("removeBackgroundNoise")) (void)boolean(*f, r.path("removeBackgroundNoise"));
  return usage{.seconds = input_length(c.probe, media, r.path("media.uri"), 1, 300'000)};
}

inline usage video_upscale_v1(object_reader& r, const context& c) {
  uri(r.required("videoUri"), r.path("videoUri"), medium::video);
  return usage{.seconds = input_length(c.probe, r.required("videoUri").get<std::string>(), r.path("videoUri"), 1, 40'000)};
}

inline usage act_two(object_reader& r, const context& c) {
  (void)typed_medium(r, "character", {"image", "video"});
  const std::string reference = typed_medium(r, "reference", {"video"});
  if (const ojson* f = r.optional("bodyControl")) (void)boolean(*f, r.path("bodyControl"));
  content_moderation(r);
  if (const ojson* f = r.optional("expressionIntensity")) (void)integer(*f, r.path("expressionIntensity"), 1, 5);
  if (const ojson* f = r.optional("ratio")) (void)one_of(*f, r.path("ratio"), {"1280:720", "720:1280", "960:960", "1104:832", "832:1104", "1584:672"});
  seed(r);
  // "The video must be between 3 and 30 seconds in duration."
  return usage{.seconds = input_length(c.probe, reference, r.path("reference.uri"), 3'000, 30'000)};
}

struct model_entry {
  std::string_view model;
  model_reader read;
};

struct endpoint_entry {
  std::string_view name;  ///< the path after /v1/
  std::vector<model_entry> models;
};

/// Every endpoint and model the server knows how to validate.
[[nodiscard]] inline const std::vector<endpoint_entry>& endpoints() {
  static const std::vector<endpoint_entry> all = {
      {"image_to_video",
       {{"gen4.5", gen4_5<true>}, {"gen4_turbo", i2v_gen4_turbo}, {"veo3.1", veo<true>}, {"veo3.1_fast", veo<true>}}},
      {"text_to_video", {{"gen4.5", gen4_5<false>}, {"veo3.1", veo<false>}, {"veo3.1_fast", veo<false>}}},
      {"text_to_image",
       {{"gen4_image_turbo", t2i_gen4<1>}, {"gen4_image", t2i_gen4<0>}, {"gemini_2.5_flash", t2i_gemini_2_5_flash}}},
      {"text_to_speech", {{"eleven_multilingual_v2", tts_eleven_multilingual_v2}}},
      {"voice_isolation", {{"eleven_voice_isolation", voice_isolation}}},
      {"voice_dubbing", {{"eleven_voice_dubbing", voice_dubbing}}},
      {"speech_to_speech", {{"eleven_multilingual_sts_v2", speech_to_speech}}},
      {"video_upscale", {{"upscale_v1", video_upscale_v1}}},
      {"character_performance", {{"act_two", act_two}}},
  };
  return all;
}

}  // namespace requests_detail

/// The endpoint `name` ("image_to_video"), or null.
[[nodiscard]] inline const requests_detail::endpoint_entry* find_endpoint(std::string_view name) {
  for (const auto& e : requests_detail::endpoints())
    if (e.name == name) return &e;
  return nullptr;
}

/// The models of an endpoint that `catalog` prices, in the endpoint's order.
template <class Catalog>
[[nodiscard]] std::vector<std::string_view> offered_models(const requests_detail::endpoint_entry& e, const Catalog& catalog) {
  std::vector<std::string_view> out;
  for (const auto& m : e.models)
    if (catalog.contains(m.model)) out.push_back(m.model);
  return out;
}

/**
 * Validates the body of POST /v1/{endpoint} and returns the job to price.
 * Throws invalid_input at the first wrong field.
 */
template <class Catalog>
[[nodiscard]] tollgate::job read_generation(const requests_detail::endpoint_entry& e, const ojson& body,
                                            const Catalog& catalog, const media_probe& probe) {
  using namespace requests_detail;
  object_reader r(body, "");
  const ojson& model_field = r.required("model");
  if (!model_field.is_string()) fail("model", fmt::format("expected a model id string, got {}", type_name(model_field)));
  const auto& model = model_field.get_ref<const std::string&>();
  const model_entry* entry = nullptr;
  for (const auto& m : e.models)
    if (m.model == model && catalog.contains(m.model)) entry = &m;
  if (entry == nullptr) {
    const auto offered = offered_models(e, catalog);
    fail("model", fmt::format("\"{}\" is not offered on /v1/{}; expected {}", shown(model), e.name,
                              offered.empty() ? std::string("none (the catalog prices no model of this endpoint)")
                                              : quoted_list(offered)));
  }
  const context c{probe};
  tollgate::job job{.model = std::string(entry->model), .usage = entry->read(r, c)};
  r.finish(fmt::format("model \"{}\" on /v1/{}", entry->model, e.name));
  return job;
}

/**
 * The simulated media probe: the length given by a `duration=SECONDS`
 * parameter of the URI's query or fragment (decimal, up to 3 decimals), or
 * `fallback` milliseconds. A real deployment measures the medium instead.
 */
[[nodiscard]] inline media_probe simulated_probe(std::int64_t fallback_ms) {
  return [fallback_ms](std::string_view uri) {
    if (uri.rfind("data:", 0) == 0) return tollgate::media_duration(fallback_ms);
    const auto at = uri.find("duration=");
    if (at == std::string_view::npos || at == 0 || (uri[at - 1] != '?' && uri[at - 1] != '&' && uri[at - 1] != '#'))
      return tollgate::media_duration(fallback_ms);
    std::int64_t ms = 0;
    int decimals = -1;
    for (std::size_t i = at + 9; i < uri.size() && uri[i] != '&' && uri[i] != '#'; ++i) {
      const char ch = uri[i];
      if (ch == '.' && decimals < 0) {
        decimals = 0;
        continue;
      }
      if (ch < '0' || ch > '9' || decimals >= 3 || ms > 1'000'000'000'000) return tollgate::media_duration(fallback_ms);
      ms = ms * 10 + (ch - '0');
      if (decimals >= 0) ++decimals;
    }
    for (int d = decimals < 0 ? 0 : decimals; d < 3; ++d) ms *= 10;
    return tollgate::media_duration(ms);
  };
}

}  // namespace tollgate_server
