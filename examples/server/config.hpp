// The configuration of tollgate-server: one JSON file (docs/server.md,
// "Configuration"; data/server-sample.json is a complete example). Read
// strictly: unknown fields, repeated keys, wrong types and out-of-range
// values are refused with the field's JSON path ("http.max_connections:
// must be at least 1, got 0"), so a typo never passes silently. Paths in the
// file are relative to the file's directory.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <tollgate/core/money.hpp>
#include <tollgate/json/detail/fields.hpp>
#include <tollgate/json/file.hpp>
#include <tollgate/ledger/types.hpp>

#include "http.hpp"

namespace tollgate_server {

/// A configuration refused: the file, the JSON path of the field and why
/// (what() is "FILE: PATH: REASON").
class config_error : public tollgate::json::config_file_error {
 public:
  using config_file_error::config_file_error;
};

/// An API key and the account it acts for.
struct api_key {
  std::string key;
  std::string account;
};

/// Where time comes from.
enum class clock_mode : std::uint8_t {
  system,  ///< the system clock; generation runs in real time
  manual,  ///< a test clock that starts at `start` and moves only by POST /admin/clock
};

/// The simulated generator (configuration `simulation`).
struct simulation_settings {
  clock_mode clock = clock_mode::system;
  /// The manual clock's start (milliseconds since the Unix epoch, UTC).
  std::chrono::milliseconds start{0};
  /// How long a task runs, per model; `default_generation` for the others.
  std::map<std::string, std::chrono::milliseconds, std::less<>> generation{};
  std::chrono::milliseconds default_generation{5'000};
  /// How long a task that got its slot stays PENDING before a simulated
  /// worker claims it (gate start(): RUNNING). 0: claimed at once.
  std::chrono::milliseconds pickup{0};
  /// The share of tasks that fail (refunded in full), in parts per million.
  std::uint32_t failure_ppm = 0;
  /// Seeds which tasks fail (a task fails or not by its id and this seed).
  std::uint64_t seed = 1;
  /// The duration assumed for an input medium whose URI does not say
  /// (a `duration=SECONDS` parameter in its query or fragment), milliseconds.
  std::int64_t input_ms = 10'000;
  /// The base of the fake output URLs.
  std::string output_url = "https://media.tollgate.invalid/outputs";
};

/// The whole configuration.
struct server_config {
  std::string source;                   ///< the file it was read from
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::string admin_key;
  std::vector<api_key> api_keys;
  std::vector<std::string> runway_versions{"2024-11-06"};
  std::filesystem::path journal;        ///< the ledger's journal (absolute)
  tollgate::durability durability = tollgate::durability::group_commit;
  std::optional<std::filesystem::path> catalog;  ///< a catalog file; the built-in one when absent
  http_settings http{};
  unsigned workers = 64;                ///< threads for requests that block (journal writes)
  simulation_settings simulation{};
};

namespace config_detail {

using ojson = nlohmann::ordered_json;
using tollgate::json::fields::bad_field;
using tollgate::json::fields::fail;
using tollgate::json::fields::find;
using tollgate::json::fields::integer_at;
using tollgate::json::fields::member;
using tollgate::json::fields::object_at;
using tollgate::json::fields::string_at;
using tollgate::json::fields::type_name;

[[nodiscard]] inline bool bool_at(const ojson& v, const std::string& path) {
  if (!v.is_boolean()) fail(path, fmt::format("expected true or false, got {}", type_name(v)));
  return v.get<bool>();
}

/// A decimal string ("0.05", "12.5"), as an integer count of 10^-`places`.
[[nodiscard]] inline std::int64_t decimal_at(const ojson& v, const std::string& path, int places, std::int64_t max_units) {
  const std::string s = string_at(v, path);
  const auto bad = [&] {
    fail(path, fmt::format("expected a plain decimal string with at most {} decimals such as \"0.05\", got \"{}\"",
                           places, s.substr(0, 40)));
  };
  std::size_t i = 0;
  std::int64_t units = 0;
  int decimals = -1;
  if (s.empty()) bad();
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '.') {
      if (decimals >= 0 || i == 0 || i + 1 == s.size()) bad();
      decimals = 0;
      continue;
    }
    if (c < '0' || c > '9') bad();
    if (decimals >= 0 && ++decimals > places) bad();
    if (units > max_units) fail(path, "is too large");
    units = units * 10 + (c - '0');
  }
  for (int d = decimals < 0 ? 0 : decimals; d < places; ++d) {
    if (units > max_units) fail(path, "is too large");
    units *= 10;
  }
  if (units > max_units) fail(path, "is too large");
  return units;
}

/// A UTC instant "YYYY-MM-DDTHH:MM:SSZ", as milliseconds since the epoch.
[[nodiscard]] inline std::chrono::milliseconds instant_at(const ojson& v, const std::string& path) {
  const std::string s = string_at(v, path);
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
  char z = 0;
  if (s.size() != 20 || std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &se, &z) != 7 ||
      z != 'Z' || s[4] != '-' || s[7] != '-' || s[10] != 'T')
    fail(path, fmt::format("expected a UTC time such as \"2026-01-05T00:00:00Z\", got \"{}\"", s.substr(0, 40)));
  const std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(static_cast<unsigned>(mo)),
                                        std::chrono::day(static_cast<unsigned>(d))};
  if (!ymd.ok() || y < 1970 || h > 23 || mi > 59 || se > 59) fail(path, fmt::format("'{}' is not a valid time", s));
  const auto t = std::chrono::sys_days(ymd) + std::chrono::hours(h) + std::chrono::minutes(mi) + std::chrono::seconds(se);
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch());
}

/// A key: 16 to 256 printable ASCII bytes without spaces.
[[nodiscard]] inline std::string key_at(const ojson& v, const std::string& path) {
  std::string k = string_at(v, path);
  if (k.size() < 16 || k.size() > 256) fail(path, fmt::format("a key has 16 to 256 characters, got {}", k.size()));
  for (const char c : k)
    if (c < 0x21 || c > 0x7E) fail(path, "a key has printable ASCII characters only, without spaces");
  return k;
}

/// An account id: 1 to 64 of A-Z a-z 0-9 _ . - (it appears in URLs and logs).
[[nodiscard]] inline bool valid_account(std::string_view a) {
  if (a.empty() || a.size() > 64) return false;
  for (const char c : a)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
      return false;
  return a != "." && a != "..";
}

[[nodiscard]] inline std::chrono::milliseconds millis_at(const ojson& v, const std::string& path, std::int64_t min,
                                                         std::int64_t max) {
  return std::chrono::milliseconds(integer_at(v, path, min, max));
}

inline void read_listen(const std::string& text, const std::string& path, server_config& c) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) fail(path, fmt::format("expected HOST:PORT such as 127.0.0.1:8080, got \"{}\"", text));
  const std::string port = text.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port) > 65535 || (port.size() > 1 && port[0] == '0'))
    fail(path, fmt::format("the port must be a decimal number from 0 to 65535, got \"{}\"", port.substr(0, 10)));
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  if (ec) fail(path, fmt::format("'{}' is not an IP address (write 127.0.0.1, not a host name)", host));
  c.host = host;
  c.port = static_cast<std::uint16_t>(std::stoul(port));
}

inline void read_http(const ojson& v, const std::string& path, http_settings& h) {
  object_at(v, path, {"max_body_bytes", "max_header_bytes", "idle_timeout_ms", "header_timeout_ms", "body_timeout_ms",
                      "write_timeout_ms", "max_connections", "max_buffered_bytes", "io_threads", "log_requests"});
  constexpr std::int64_t day_ms = 86'400'000;
  if (auto* f = find(v, "max_body_bytes")) h.max_body_bytes = static_cast<std::size_t>(integer_at(*f, member(path, "max_body_bytes"), 1, std::int64_t{1} << 30));
  if (auto* f = find(v, "max_header_bytes")) h.max_header_bytes = static_cast<std::size_t>(integer_at(*f, member(path, "max_header_bytes"), 1024, std::int64_t{1} << 20));
  if (auto* f = find(v, "idle_timeout_ms")) h.idle_timeout = millis_at(*f, member(path, "idle_timeout_ms"), 1, day_ms);
  if (auto* f = find(v, "header_timeout_ms")) h.header_timeout = millis_at(*f, member(path, "header_timeout_ms"), 1, day_ms);
  if (auto* f = find(v, "body_timeout_ms")) h.body_timeout = millis_at(*f, member(path, "body_timeout_ms"), 1, day_ms);
  if (auto* f = find(v, "write_timeout_ms")) h.write_timeout = millis_at(*f, member(path, "write_timeout_ms"), 1, day_ms);
  if (auto* f = find(v, "max_connections")) h.max_connections = static_cast<std::size_t>(integer_at(*f, member(path, "max_connections"), 1, 1'000'000));
  if (auto* f = find(v, "max_buffered_bytes")) h.max_buffered_bytes = static_cast<std::size_t>(integer_at(*f, member(path, "max_buffered_bytes"), 1, std::int64_t{1} << 40));
  if (auto* f = find(v, "io_threads")) h.io_threads = static_cast<unsigned>(integer_at(*f, member(path, "io_threads"), 1, 256));
  if (auto* f = find(v, "log_requests")) h.log_requests = bool_at(*f, member(path, "log_requests"));
}

inline void read_simulation(const ojson& v, const std::string& path, simulation_settings& s) {
  object_at(v, path, {"clock", "start", "generation_ms", "pickup_ms", "failure_rate", "seed", "input_seconds",
                     "output_url"});
  if (auto* f = find(v, "clock")) {
    const std::string m = string_at(*f, member(path, "clock"));
    if (m == "system") s.clock = clock_mode::system;
    else if (m == "manual") s.clock = clock_mode::manual;
    else fail(member(path, "clock"), fmt::format("expected \"system\" or \"manual\", got \"{}\"", m.substr(0, 40)));
  }
  if (auto* f = find(v, "start")) {
    if (s.clock != clock_mode::manual) fail(member(path, "start"), "only a manual clock takes a start");
    s.start = instant_at(*f, member(path, "start"));
  } else if (s.clock == clock_mode::manual) {
    s.start = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::sys_days(std::chrono::year(2026) / 1 / 5).time_since_epoch());
  }
  if (auto* f = find(v, "generation_ms")) {
    const std::string p = member(path, "generation_ms");
    if (!f->is_object()) fail(p, fmt::format("expected an object of model: milliseconds, got {}", type_name(*f)));
    for (const auto& [model, ms] : f->items()) {
      const auto d = millis_at(ms, member(p, model), 0, 86'400'000);
      if (model == "default") s.default_generation = d;
      else s.generation.emplace(model, d);
    }
  }
  if (auto* f = find(v, "pickup_ms")) s.pickup = millis_at(*f, member(path, "pickup_ms"), 0, 86'400'000);
  if (auto* f = find(v, "failure_rate"))
    s.failure_ppm = static_cast<std::uint32_t>(decimal_at(*f, member(path, "failure_rate"), 6, 1'000'000));
  if (auto* f = find(v, "seed")) s.seed = static_cast<std::uint64_t>(integer_at(*f, member(path, "seed"), 0));
  if (auto* f = find(v, "input_seconds")) {
    s.input_ms = decimal_at(*f, member(path, "input_seconds"), 3, 86'400'000);
    if (s.input_ms == 0) fail(member(path, "input_seconds"), "must be more than 0");
  }
  if (auto* f = find(v, "output_url")) {
    s.output_url = string_at(*f, member(path, "output_url"));
    if (s.output_url.rfind("https://", 0) != 0 && s.output_url.rfind("http://", 0) != 0)
      fail(member(path, "output_url"), "must start with https:// or http://");
    while (!s.output_url.empty() && s.output_url.back() == '/') s.output_url.pop_back();
  }
}

inline void read_api_keys(const ojson& v, const std::string& path, server_config& c) {
  if (!v.is_array()) fail(path, fmt::format("expected an array, got {}", type_name(v)));
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string p = fmt::format("{}[{}]", path, i);
    object_at(v[i], p, {"key", "account"});
    api_key k;
    if (auto* f = find(v[i], "key")) k.key = key_at(*f, member(p, "key"));
    else fail(member(p, "key"), "is missing");
    if (auto* f = find(v[i], "account")) k.account = string_at(*f, member(p, "account"));
    else fail(member(p, "account"), "is missing");
    if (!valid_account(k.account))
      fail(member(p, "account"), "an account id has 1 to 64 of A-Z a-z 0-9 _ . -");
    for (std::size_t j = 0; j < c.api_keys.size(); ++j)
      if (c.api_keys[j].key == k.key) fail(member(p, "key"), fmt::format("repeats {}[{}].key", path, j));
    if (k.key == c.admin_key) fail(member(p, "key"), "is the admin key; give the admin its own key");
    c.api_keys.push_back(std::move(k));
  }
}

inline void read_document(const ojson& doc, const std::filesystem::path& dir, server_config& c) {
  object_at(doc, "", {"listen", "admin_key", "api_keys", "runway_versions", "journal", "durability", "catalog", "http",
                      "workers", "simulation"});
  if (auto* f = find(doc, "listen")) read_listen(string_at(*f, "listen"), "listen", c);
  if (auto* f = find(doc, "admin_key")) c.admin_key = key_at(*f, "admin_key");
  else fail("admin_key", "is missing");
  if (auto* f = find(doc, "api_keys")) read_api_keys(*f, "api_keys", c);
  else fail("api_keys", "is missing");
  if (auto* f = find(doc, "runway_versions")) {
    if (!f->is_array() || f->empty()) fail("runway_versions", "expected a non-empty array of version strings");
    c.runway_versions.clear();
    for (std::size_t i = 0; i < f->size(); ++i) c.runway_versions.push_back(string_at((*f)[i], fmt::format("runway_versions[{}]", i)));
  }
  if (auto* f = find(doc, "journal")) {
    const std::string j = string_at(*f, "journal");
    if (j.empty()) fail("journal", "must not be empty");
    c.journal = std::filesystem::absolute(dir / j).lexically_normal();
  } else {
    fail("journal", "is missing (the file the ledger keeps its journal in, relative to this file)");
  }
  if (auto* f = find(doc, "durability")) {
    const std::string d = string_at(*f, "durability");
    if (d == "every_op") c.durability = tollgate::durability::every_op;
    else if (d == "group_commit") c.durability = tollgate::durability::group_commit;
    else if (d == "none") c.durability = tollgate::durability::none;
    else fail("durability", fmt::format("expected \"every_op\", \"group_commit\" or \"none\", got \"{}\"", d.substr(0, 40)));
  }
  if (auto* f = find(doc, "catalog")) c.catalog = std::filesystem::absolute(dir / string_at(*f, "catalog")).lexically_normal();
  if (auto* f = find(doc, "http")) read_http(*f, "http", c.http);
  if (auto* f = find(doc, "workers")) c.workers = static_cast<unsigned>(integer_at(*f, "workers", 1, 1024));
  if (auto* f = find(doc, "simulation")) read_simulation(*f, "simulation", c.simulation);
}

}  // namespace config_detail

/// Reads a configuration from `text`; `source` names it in errors and `dir`
/// anchors relative paths. Throws config_error.
[[nodiscard]] inline server_config parse_config(std::string_view text, std::string source, const std::filesystem::path& dir) {
  server_config c;
  c.source = source;
  try {
    config_detail::read_document(tollgate::json::fields::parse_document(text), dir, c);
  } catch (const config_detail::bad_field& e) {
    throw config_error(source, e.path, e.reason);
  }
  return c;
}

/// Reads the configuration file `file` (a regular file of at most 1 MiB).
[[nodiscard]] inline server_config load_config(const std::filesystem::path& file) {
  auto text = tollgate::json::read_regular_file(file.string(), std::size_t{1} << 20);
  if (!text) throw config_error(file.string(), "", text.error().message());
  return parse_config(*text, file.string(), std::filesystem::absolute(file).parent_path());
}

}  // namespace tollgate_server
