// Loading a catalog from JSON (optional adapter: needs nlohmann-json, and
// nothing in core/ or pricing/ includes it). A host that prices its own models
// writes them in the shape of data/runway-catalog.json (documented in
// docs/catalog-json.md) and loads the file at start-up. A bad file is refused
// whole with a catalog_error naming the source, the JSON path of the field
// (`models[3].rate.credits_per_second`) and the reason; nothing is half-loaded.
// Amounts are decimal strings ("12.5") or integers, never floating-point
// numbers; unknown fields and repeated keys are errors, so typos do not pass
// silently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "../core/money.hpp"
#include "../core/units.hpp"
#include "../pricing/catalog.hpp"
#include "../pricing/rates.hpp"
#include "../pricing/usage.hpp"
#include "detail/fields.hpp"
#include "file.hpp"
#include "strict.hpp"

namespace tollgate::json {

/**
 * A catalog file refused at start-up: source() (the file, or "<string>"),
 * path() (the JSON path of the field, e.g. "models[3].rate.credits_per_second",
 * or empty when the file as a whole is wrong) and reason(); what() is
 * "SOURCE: PATH: REASON".
 */
class catalog_error : public config_file_error {
 public:
  using config_file_error::config_file_error;
};

/// The largest catalog file load_catalog() reads: 16 MiB (the Runway
/// catalog is 3 KB).
inline constexpr std::size_t max_catalog_bytes = std::size_t{16} << 20;

/// The format version this loader reads (the file's "version" field).
inline constexpr int catalog_format_version = 1;

namespace detail {

// The generic field readers (detail/fields.hpp), shared with the tier table's loader.
using fields::bad_field;
using fields::fail;
using fields::find;
using fields::integer_at;
using fields::member;
using fields::object_at;
using fields::ojson;
using fields::required;
using fields::string_at;
using fields::type_name;

// A non-negative credit amount: a decimal string ("12.5") or an integer.
[[nodiscard]] inline credits credits_at(const ojson& v, const std::string& path) {
  credits c = fields::amount_at<credits>(v, path);
  if (c.is_negative()) fail(path, fmt::format("must not be negative, got {}", c.to_string()));
  return c;
}

// A positive dollar amount (the credit price).
[[nodiscard]] inline usd usd_at(const ojson& v, const std::string& path) {
  usd d = fields::amount_at<usd>(v, path, "0.01");
  if (!d.is_positive()) fail(path, fmt::format("must be positive, got {}", d.to_string()));
  return d;
}

// Seconds: a decimal string ("2.5", at most 3 decimals) or an integer.
[[nodiscard]] inline media_duration seconds_at(const ojson& v, const std::string& path) {
  if (v.is_string()) {
    auto r = parse_seconds(v.get<std::string>());
    if (!r) fail(path, r.error().message());
    return *r;
  }
  if (v.is_number_integer() || v.is_number_unsigned()) {
    const std::int64_t s = integer_at(v, path, (std::numeric_limits<std::int64_t>::min)());
    std::int64_t ms;
    if (__builtin_mul_overflow(s, 1000, &ms)) fail(path, "is too large");
    return media_duration{ms};
  }
  if (v.is_number_float())
    fail(path, "floating-point numbers are refused; write seconds as a decimal string such as \"2.5\"");
  fail(path, fmt::format("expected seconds as a decimal string or an integer, got {}", type_name(v)));
}

inline constexpr int max_rate_depth = 8;
// Parts of one sum/min/max. They are folded into nested two-part composites,
// so the length of a list is call depth when pricing: an unbounded list (a
// 30000-part "sum") overflowed the stack on the first quote.
inline constexpr std::size_t max_rate_parts = 16;

inline any_rate rate_at(const ojson& v, const std::string& path, int depth);

// Folds parts into one composite rate, right-nested: C(a, C(b, c)).
template <template <class...> class C>
[[nodiscard]] any_rate fold(std::vector<any_rate> parts) {
  any_rate r = std::move(parts.back());
  for (std::size_t i = parts.size() - 1; i-- > 0;) r = any_rate(C<any_rate, any_rate>(parts[i], r));
  return r;
}

inline any_rate rate_at(const ojson& v, const std::string& path, int depth) {
  if (depth > max_rate_depth)
    fail(path, fmt::format("rates nest more than {} deep", max_rate_depth));
  if (!v.is_object()) fail(path, fmt::format("expected an object, got {}", type_name(v)));
  const ojson* t = find(v, "type");
  if (!t)
    fail(member(path, "type"),
         "is missing; one of per_second, per_generation, per_characters, per_block, flat, sum, min, max");
  const std::string type = string_at(*t, member(path, "type"));
  try {
    if (type == "per_second") {
      object_at(v, path, {"type", "credits_per_second", "credits_per_second_with_audio"});
      credits price = credits_at(required(v, path, "credits_per_second"), member(path, "credits_per_second"));
      if (const ojson* a = find(v, "credits_per_second_with_audio"))
        return per_second(std::move(price), credits_at(*a, member(path, "credits_per_second_with_audio")));
      return per_second(std::move(price));
    }
    if (type == "per_generation") {
      object_at(v, path, {"type", "credits_per_output", "credits_by_resolution"});
      const ojson* one = find(v, "credits_per_output");
      const ojson* by = find(v, "credits_by_resolution");
      if (one && by)
        fail(member(path, "credits_by_resolution"),
             "give either credits_per_output or credits_by_resolution, not both");
      if (one) return per_generation(credits_at(*one, member(path, "credits_per_output")));
      if (!by) fail(member(path, "credits_per_output"), "is missing (or give credits_by_resolution)");
      const std::string bpath = member(path, "credits_by_resolution");
      if (!by->is_object()) fail(bpath, fmt::format("expected an object, got {}", type_name(*by)));
      if (by->empty()) fail(bpath, "needs at least one resolution");
      std::vector<resolution_price> prices;
      for (const auto& [name, amount] : by->items()) {
        if (name.empty()) fail(bpath, "a resolution name must not be empty");
        prices.push_back({name, credits_at(amount, member(bpath, name))});
      }
      return per_generation(std::move(prices));
    }
    if (type == "per_characters") {
      object_at(v, path, {"type", "credits", "characters"});
      return per_characters(credits_at(required(v, path, "credits"), member(path, "credits")),
                            integer_at(required(v, path, "characters"), member(path, "characters"), 1));
    }
    if (type == "per_block") {
      object_at(v, path, {"type", "credits", "seconds"});
      credits price = credits_at(required(v, path, "credits"), member(path, "credits"));
      const media_duration block = seconds_at(required(v, path, "seconds"), member(path, "seconds"));
      if (block.count() <= 0)
        fail(member(path, "seconds"), fmt::format("must be positive, got {}", format_seconds(block)));
      return per_block(std::move(price), block);
    }
    if (type == "flat") {
      object_at(v, path, {"type", "credits"});
      return flat(credits_at(required(v, path, "credits"), member(path, "credits")));
    }
    if (type == "sum" || type == "min" || type == "max") {
      object_at(v, path, {"type", "rates"});
      const std::string rpath = member(path, "rates");
      const ojson& list = required(v, path, "rates");
      if (!list.is_array()) fail(rpath, fmt::format("expected an array, got {}", type_name(list)));
      if (list.empty()) fail(rpath, "needs at least one rate");
      if (list.size() > max_rate_parts)
        fail(rpath, fmt::format("at most {} rates in one list, got {}", max_rate_parts, list.size()));
      std::vector<any_rate> parts;
      for (std::size_t i = 0; i < list.size(); ++i)
        parts.push_back(rate_at(list[i], fmt::format("{}[{}]", rpath, i), depth + 1));
      if (type == "sum") return fold<sum_of>(std::move(parts));
      if (type == "min") return fold<min_of>(std::move(parts));
      return fold<max_of>(std::move(parts));
    }
  } catch (const std::invalid_argument& e) {
    // A rate constructor refused a value the checks above let through.
    std::string what = e.what();
    if (what.rfind("tollgate: ", 0) == 0) what.erase(0, 10);
    fail(path, what);
  }
  fail(member(path, "type"),
       fmt::format("unknown rate type '{}'; one of per_second, per_generation, per_characters, "
                   "per_block, flat, sum, min, max",
                   type));
}

[[nodiscard]] inline media_kind kind_at(const ojson& v, const std::string& path) {
  const std::string k = string_at(v, path);
  if (k == "video") return media_kind::video;
  if (k == "image") return media_kind::image;
  if (k == "audio") return media_kind::audio;
  fail(path, fmt::format("unknown kind '{}'; one of video, image, audio", k));
}

[[nodiscard]] inline model_spec model_at(const ojson& v, const std::string& path) {
  object_at(v, path,
            {"id", "kind", "group", "rate", "seconds", "outputs", "resolutions", "audio", "text"});
  model_spec m;
  m.id = string_at(required(v, path, "id"), member(path, "id"));
  m.kind = kind_at(required(v, path, "kind"), member(path, "kind"));
  if (const ojson* g = find(v, "group")) {
    m.group = string_at(*g, member(path, "group"));
    if (m.group.empty()) fail(member(path, "group"), "must not be empty; leave the field out for no group");
  }
  m.rate = rate_at(required(v, path, "rate"), member(path, "rate"), 1);
  if (const ojson* s = find(v, "seconds")) {
    const std::string sp = member(path, "seconds");
    object_at(*s, sp, {"min", "max"});
    m.seconds = seconds_range{seconds_at(required(*s, sp, "min"), member(sp, "min")),
                              seconds_at(required(*s, sp, "max"), member(sp, "max"))};
  }
  if (const ojson* o = find(v, "outputs")) {
    const std::string op = member(path, "outputs");
    object_at(*o, op, {"max"});
    m.outputs = outputs_range{integer_at(required(*o, op, "max"), member(op, "max"), 1)};
  }
  if (const ojson* r = find(v, "resolutions")) {
    const std::string rp = member(path, "resolutions");
    if (!r->is_array()) fail(rp, fmt::format("expected an array of strings, got {}", type_name(*r)));
    for (std::size_t i = 0; i < r->size(); ++i)
      m.resolutions.push_back(string_at((*r)[i], fmt::format("{}[{}]", rp, i)));
  }
  if (const ojson* a = find(v, "audio")) {
    if (!a->is_boolean())
      fail(member(path, "audio"), fmt::format("expected true or false, got {}", type_name(*a)));
    m.audio = a->get<bool>();
  }
  if (const ojson* t = find(v, "text")) {
    const std::string tp = member(path, "text");
    object_at(*t, tp, {"max_characters"});
    m.text = text_range{integer_at(required(*t, tp, "max_characters"), member(tp, "max_characters"), 1)};
  }
  return m;
}

struct catalog_parts {
  std::vector<model_spec> models;
  credit_price price;
  std::string price_list_date;
};

[[nodiscard]] inline catalog_parts parts_of(std::string_view text) {
  const ojson doc = fields::parse_document(text);
  object_at(doc, "", {"version", "name", "price_list_date", "credit_price_usd", "models"});
  const std::int64_t version = integer_at(required(doc, "", "version"), "version", 1);
  if (version != catalog_format_version)
    fail("version", fmt::format("this build reads version {}, the file is version {}",
                                catalog_format_version, version));
  if (const ojson* n = find(doc, "name")) (void)string_at(*n, "name");
  catalog_parts parts;
  if (const ojson* d = find(doc, "price_list_date"))
    parts.price_list_date = string_at(*d, "price_list_date");
  if (const ojson* p = find(doc, "credit_price_usd"))
    parts.price = credit_price(usd_at(*p, "credit_price_usd"));
  const ojson& models = required(doc, "", "models");
  if (!models.is_array()) fail("models", fmt::format("expected an array, got {}", type_name(models)));
  for (std::size_t i = 0; i < models.size(); ++i)
    parts.models.push_back(model_at(models[i], fmt::format("models[{}]", i)));
  return parts;
}

}  // namespace detail

/**
 * Builds a catalog from JSON text (the shape of data/runway-catalog.json).
 *
 * @tparam R the Rounding policy of the catalog.
 * @param source names the text in errors (a file name; "<string>" by default).
 * @throws catalog_error naming the source, the JSON path of the field and the
 *         reason, for malformed JSON, a number too large to represent
 *         (`1e400`), a repeated key, an unknown field, a missing or mistyped
 *         field, a floating-point amount, a negative price, or a model the
 *         catalog refuses (see basic_catalog). Nothing is built unless the
 *         whole text is valid.
 */
template <Rounding R = round_up>
[[nodiscard]] basic_catalog<R> parse_catalog(std::string_view text, std::string_view source = "<string>") {
  try {
    detail::catalog_parts p = detail::parts_of(text);
    try {
      return basic_catalog<R>(std::move(p.models), std::move(p.price), std::move(p.price_list_date));
    } catch (const ::tollgate::catalog_error& e) {
      throw catalog_error(std::string(source), e.path(), e.reason());
    }
  } catch (const detail::bad_field& e) {
    throw catalog_error(std::string(source), e.path, e.reason);
  }
}

/**
 * Builds a catalog from the JSON file `file`; see parse_catalog.
 * @throws catalog_error (source = the file name) when the file cannot be read,
 *         is not a regular file (a FIFO, a device, a directory), is larger
 *         than max_catalog_bytes, or is refused.
 */
template <Rounding R = round_up>
[[nodiscard]] basic_catalog<R> load_catalog(const std::filesystem::path& file) {
  auto text = read_regular_file(file.string(), max_catalog_bytes);
  if (!text) throw catalog_error(file.string(), "", text.error().message());
  return parse_catalog<R>(*text, file.string());
}

}  // namespace tollgate::json
