// Strict JSON parsing for configuration files (optional adapter: needs
// nlohmann-json). nlohmann's parser keeps the last of two equal keys in one
// object, so {"count": 2, "count": 3} would silently mean 3; a billing
// configuration must refuse that instead. parse_strict() parses with a
// callback that tracks the JSON path and reports the first repeated key by it.
// The catalog loader and the examples' plan files use it.
#pragma once

#include <concepts>
#include <cstddef>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace tollgate::json {

/**
 * Parses `text` into an ordered_json, calling `repeated(path)` for a key that
 * appears twice in one object (`path` names it, e.g. "jobs[1].count").
 *
 * @param repeated must not return normally: throw (the parse stops there).
 * @throws nlohmann::json::parse_error for text that is not JSON, and whatever
 *         `repeated` throws.
 */
template <std::invocable<const std::string&> OnRepeated>
[[nodiscard]] nlohmann::ordered_json parse_strict(std::string_view text, OnRepeated&& repeated) {
  using ojson = nlohmann::ordered_json;
  struct frame {
    bool array = false;
    std::size_t index = 0;
    std::string key{};
    std::set<std::string> keys{};
  };
  std::vector<frame> frames;
  auto path = [&] {
    std::string p;
    for (const frame& f : frames)
      p += f.array ? fmt::format("[{}]", f.index) : (p.empty() ? f.key : "." + f.key);
    return p;
  };
  auto child_done = [&] {
    if (!frames.empty() && frames.back().array) ++frames.back().index;
  };
  ojson::parser_callback_t cb = [&](int, ojson::parse_event_t event, ojson& parsed) {
    switch (event) {
      case ojson::parse_event_t::object_start: frames.push_back(frame{}); break;
      case ojson::parse_event_t::array_start: frames.push_back(frame{.array = true}); break;
      case ojson::parse_event_t::key: {
        frame& f = frames.back();
        f.key = parsed.get<std::string>();
        if (!f.keys.insert(f.key).second) {
          repeated(path());
          throw std::logic_error("tollgate::json::parse_strict: the repeated-key handler returned");
        }
        break;
      }
      case ojson::parse_event_t::object_end:
      case ojson::parse_event_t::array_end:
        frames.pop_back();
        child_done();
        break;
      case ojson::parse_event_t::value: child_done(); break;
    }
    return true;
  };
  return ojson::parse(text.begin(), text.end(), cb);
}

}  // namespace tollgate::json
