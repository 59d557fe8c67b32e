// Loading a tier table from JSON (optional adapter: needs nlohmann-json; nothing
// in core/ or tiers/ includes it). A host with its own tiers writes them in the
// shape of data/runway-tiers.json (documented in docs/tiers.md) and loads the
// file at start-up. A bad file is refused whole with a tier_table_error naming
// the source, the JSON path of the field (`tiers[2].limits.video.max_daily`)
// and the reason. Dollar amounts are decimal strings or integers, never
// floating-point numbers; `null` means unlimited; unknown fields and repeated
// keys are errors.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstddef>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "../core/money.hpp"
#include "../tiers/tier_table.hpp"
#include "detail/fields.hpp"
#include "file.hpp"

namespace tollgate::json {

/**
 * A tier table file refused at start-up: source(), path() (the JSON path of
 * the field, e.g. "tiers[2].criteria.purchased_usd", or empty) and reason();
 * what() is "SOURCE: PATH: REASON".
 */
class tier_table_error : public config_file_error {
 public:
  using config_file_error::config_file_error;
};

/// The format version this loader reads (the file's "version" field).
inline constexpr int tier_table_format_version = 1;

/// The largest tier table file load_tier_table() reads: 1 MiB (the default
/// table is 2.5 KB).
inline constexpr std::size_t max_tier_table_bytes = std::size_t{1} << 20;

namespace detail {

using fields::ojson;

// A count limit: a positive integer, or null for unlimited (0 is left to the
// table, which says why it refuses it).
[[nodiscard]] inline job_limit job_limit_at(const ojson& v, const std::string& path) {
  if (v.is_null()) return job_limit::unlimited();
  return job_limit(static_cast<std::uint64_t>(fields::integer_at(v, path, 0)));
}

[[nodiscard]] inline promotion_criteria criteria_at(const ojson* v, const std::string& path) {
  promotion_criteria c;
  if (!v || v->is_null()) return c;
  fields::object_at(*v, path, {"purchased_usd", "min_days"});
  if (const ojson* p = fields::find(*v, "purchased_usd"))
    c.purchased = fields::amount_at<usd>(*p, fields::member(path, "purchased_usd"));
  if (const ojson* d = fields::find(*v, "min_days"))
    c.min_age = std::chrono::days(fields::integer_at(*d, fields::member(path, "min_days"), 0,
                                                     tier_table::max_min_age.count()));
  return c;
}

[[noreturn]] inline void fail_unknown_group(const std::string& path,
                                            const std::vector<std::string>& groups) {
  std::string list;
  for (const auto& g : groups) list += fmt::format("{}{}", list.empty() ? "" : ", ", g);
  fields::fail(path, fmt::format("unknown group; the groups are {}", list));
}

[[nodiscard]] inline std::vector<group_limits> limits_at(const ojson& v, const std::string& path,
                                                         const std::vector<std::string>& groups) {
  // Keyed by group name: each key is checked against the groups below.
  if (!v.is_object()) fields::fail(path, fmt::format("expected an object, got {}", fields::type_name(v)));
  std::vector<group_limits> out(groups.size());
  std::vector<bool> seen(groups.size(), false);
  for (const auto& [name, lv] : v.items()) {
    const std::string gp = fields::member(path, name);
    std::size_t g = 0;
    while (g < groups.size() && groups[g] != name) ++g;
    if (g == groups.size()) fail_unknown_group(gp, groups);
    fields::object_at(lv, gp, {"max_concurrent", "max_daily"});
    out[g].concurrent = job_limit_at(fields::required(lv, gp, "max_concurrent"),
                                     fields::member(gp, "max_concurrent"));
    out[g].daily = job_limit_at(fields::required(lv, gp, "max_daily"), fields::member(gp, "max_daily"));
    seen[g] = true;
  }
  for (std::size_t g = 0; g < groups.size(); ++g)
    if (!seen[g]) fields::fail(fields::member(path, groups[g]), "is missing (every tier gives limits for every group)");
  return out;
}

[[nodiscard]] inline tier tier_at(const ojson& v, const std::string& path,
                                  const std::vector<std::string>& groups) {
  fields::object_at(v, path, {"id", "name", "criteria", "max_spend_usd", "limits"});
  tier t;
  t.id = tier_id{static_cast<std::uint32_t>(fields::integer_at(
      fields::required(v, path, "id"), fields::member(path, "id"), 1,
      (std::numeric_limits<std::uint32_t>::max)()))};
  t.name = fields::string_at(fields::required(v, path, "name"), fields::member(path, "name"));
  t.criteria = criteria_at(fields::find(v, "criteria"), fields::member(path, "criteria"));
  const ojson& cap = fields::required(v, path, "max_spend_usd");
  if (!cap.is_null()) t.max_spend = spend_cap(fields::amount_at<usd>(cap, fields::member(path, "max_spend_usd")));
  t.limits = limits_at(fields::required(v, path, "limits"), fields::member(path, "limits"), groups);
  return t;
}

[[nodiscard]] inline tier_table table_of(std::string_view text) {
  const ojson doc = fields::parse_document(text);
  fields::object_at(doc, "", {"version", "name", "groups", "tiers"});
  const std::int64_t version = fields::integer_at(fields::required(doc, "", "version"), "version", 1);
  if (version != tier_table_format_version)
    fields::fail("version", fmt::format("this build reads version {}, the file is version {}",
                                        tier_table_format_version, version));
  if (const ojson* n = fields::find(doc, "name")) (void)fields::string_at(*n, "name");
  const ojson& gs = fields::array_at(fields::required(doc, "", "groups"), "groups");
  std::vector<std::string> groups;
  for (std::size_t i = 0; i < gs.size(); ++i) groups.push_back(fields::string_at(gs[i], fields::element("groups", i)));
  const ojson& ts = fields::array_at(fields::required(doc, "", "tiers"), "tiers");
  std::vector<tier> tiers;
  try {
    // Before the tiers: limits keyed by a bad group name would otherwise be
    // reported first, and less clearly.
    tier_table::check_groups(groups);
  } catch (const ::tollgate::tier_table_error& e) {
    fields::fail(e.field(), e.reason());
  }
  for (std::size_t i = 0; i < ts.size(); ++i) tiers.push_back(tier_at(ts[i], fields::element("tiers", i), groups));
  try {
    return tier_table(std::move(groups), std::move(tiers));
  } catch (const ::tollgate::tier_table_error& e) {
    fields::fail(e.field(), e.reason());
  }
}

}  // namespace detail

/**
 * Builds a tier table from JSON text (the shape of data/runway-tiers.json).
 *
 * @param source names the text in errors (a file name; "<string>" by default).
 * @throws tier_table_error naming the source, the JSON path of the field and
 *         the reason, for malformed JSON, a repeated key, an unknown field or
 *         group, a missing or mistyped field, a floating-point amount, and a
 *         table that tier_table refuses. Nothing is built unless the whole text
 *         is valid.
 */
[[nodiscard]] inline tier_table parse_tier_table(std::string_view text, std::string_view source = "<string>") {
  try {
    return detail::table_of(text);
  } catch (const fields::bad_field& e) {
    throw tier_table_error(std::string(source), e.path, e.reason);
  }
}

/**
 * Builds a tier table from the JSON file `file`; see parse_tier_table.
 * @throws tier_table_error (source = the file name) when the file cannot be
 *         read, is not a regular file (a FIFO, a device, a directory), is
 *         larger than max_tier_table_bytes, or is refused.
 */
[[nodiscard]] inline tier_table load_tier_table(const std::filesystem::path& file) {
  auto text = read_regular_file(file.string(), max_tier_table_bytes);
  if (!text) throw tier_table_error(file.string(), "", text.error().message());
  return parse_tier_table(*text, file.string());
}

}  // namespace tollgate::json
