// Reading the fields of a configuration document (optional adapter: needs
// nlohmann-json): typed accessors that refuse anything unexpected and name the
// offending field by its JSON path. A loader throws bad_field from anywhere
// inside and its entry point adds the source; unknown fields, wrong types and
// floating-point amounts are all refused, so a typo never passes silently.
// The catalog's loader and the tier table's read through these.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "../../core/money.hpp"
#include "../strict.hpp"

namespace tollgate::json {

/**
 * A configuration file refused at start-up: the file (or "<string>"), the
 * JSON path of the offending field (empty when the file as a whole is wrong)
 * and why; what() is "SOURCE: PATH: REASON". The base of each loader's own
 * error type (and of the examples' configuration errors), itself a
 * tollgate::config_error. A class, not an alias: derived classes inherit its
 * constructors by this name (`using config_file_error::config_file_error;`).
 */
class config_file_error : public ::tollgate::config_error {
 public:
  using config_error::config_error;
};

}  // namespace tollgate::json

namespace tollgate::json::fields {

using ojson = nlohmann::ordered_json;

/// A field refused: its JSON path and why. The loaders' entry points catch it.
struct bad_field {
  std::string path;
  std::string reason;
};

[[noreturn]] inline void fail(std::string path, std::string reason) {
  throw bad_field{std::move(path), std::move(reason)};
}

/// "a.b" (or "b" at the top).
[[nodiscard]] inline std::string member(std::string_view path, std::string_view key) {
  return path.empty() ? std::string(key) : fmt::format("{}.{}", path, key);
}
/// "a[3]".
[[nodiscard]] inline std::string element(std::string_view path, std::size_t i) {
  return fmt::format("{}[{}]", path, i);
}

[[nodiscard]] inline std::string_view type_name(const ojson& v) {
  switch (v.type()) {
    case ojson::value_t::null: return "null";
    case ojson::value_t::object: return "an object";
    case ojson::value_t::array: return "an array";
    case ojson::value_t::string: return "a string";
    case ojson::value_t::boolean: return "a boolean";
    case ojson::value_t::number_integer:
    case ojson::value_t::number_unsigned: return "an integer";
    case ojson::value_t::number_float: return "a floating-point number";
    default: return "an unsupported value";
  }
}

/// Parses `text` strictly (a repeated key is refused by its path).
[[nodiscard]] inline ojson parse_document(std::string_view text) {
  try {
    return json::parse_strict(text, [](const std::string& path) { fail(path, "repeated key"); });
  } catch (const json::bad_json& e) {
    if (e.syntax()) fail("", fmt::format("not valid JSON: {}", e.reason()));
    fail(e.path(), e.reason());
  }
}

/// `v`, which must be an object whose keys are all in `allowed`.
inline const ojson& object_at(const ojson& v, const std::string& path,
                              std::initializer_list<std::string_view> allowed) {
  if (!v.is_object()) fail(path, fmt::format("expected an object, got {}", type_name(v)));
  for (const auto& [key, _] : v.items()) {
    bool known = false;
    for (std::string_view a : allowed) known = known || a == key;
    if (known) continue;
    std::string list;
    for (std::string_view a : allowed) list += fmt::format("{}{}", list.empty() ? "" : ", ", a);
    fail(member(path, key), fmt::format("unknown field; expected one of {}", list));
  }
  return v;
}

/// `v`, which must be an array.
inline const ojson& array_at(const ojson& v, const std::string& path) {
  if (!v.is_array()) fail(path, fmt::format("expected an array, got {}", type_name(v)));
  return v;
}

[[nodiscard]] inline const ojson* find(const ojson& obj, std::string_view key) {
  const auto it = obj.find(std::string(key));
  return it == obj.end() ? nullptr : &*it;
}

[[nodiscard]] inline const ojson& required(const ojson& obj, const std::string& path,
                                           std::string_view key) {
  const ojson* v = find(obj, key);
  if (!v) fail(member(path, key), "is missing");
  return *v;
}

[[nodiscard]] inline std::string string_at(const ojson& v, const std::string& path) {
  if (!v.is_string()) fail(path, fmt::format("expected a string, got {}", type_name(v)));
  return v.get<std::string>();
}

/// An integer in [min, max].
[[nodiscard]] inline std::int64_t integer_at(const ojson& v, const std::string& path, std::int64_t min,
                                             std::int64_t max = (std::numeric_limits<std::int64_t>::max)()) {
  std::int64_t i = 0;
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>((std::numeric_limits<std::int64_t>::max)())) fail(path, "is too large");
    i = static_cast<std::int64_t>(u);
  } else if (v.is_number_integer()) {
    i = v.get<std::int64_t>();
  } else {
    fail(path, fmt::format("expected an integer, got {}", type_name(v)));
  }
  if (i < min) fail(path, fmt::format("must be at least {}, got {}", min, i));
  if (i > max) fail(path, fmt::format("must be at most {}, got {}", max, i));
  return i;
}

/// An amount of `A` (credits, usd): a decimal string ("12.5") or an integer,
/// never a floating-point number (it would not be exact). `example` is the
/// decimal string the message suggests instead.
template <Amount A>
[[nodiscard]] A amount_at(const ojson& v, const std::string& path, std::string_view example = "12.5") {
  if (v.is_string()) {
    auto r = A::parse(v.get<std::string>());
    if (!r) fail(path, r.error().message());
    return *r;
  }
  if (v.is_number_integer() || v.is_number_unsigned())
    return A(integer_at(v, path, (std::numeric_limits<std::int64_t>::min)()));
  if (v.is_number_float())
    fail(path, fmt::format("floating-point numbers are refused; write the amount as a decimal string such as \"{}\"",
                           example));
  fail(path, fmt::format("expected a decimal string or an integer, got {}", type_name(v)));
}

}  // namespace tollgate::json::fields
