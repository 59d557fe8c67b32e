// Strict JSON parsing for configuration files (optional adapter: needs
// nlohmann-json). nlohmann's parser keeps the last of two equal keys in one
// object, so {"count": 2, "count": 3} would silently mean 3; a billing
// configuration must refuse that instead. parse_strict() parses with a
// callback that tracks the JSON path and reports the first repeated key by it.
// Whatever nlohmann throws while reading the text (a syntax error, but also a
// number too large for a double, `1e400`, which is an out_of_range and not a
// parse_error) comes out as one exception, bad_json, so a caller cannot catch
// one kind and let the other escape. The catalog loader and the examples'
// plan files use it.
#pragma once

#include <concepts>
#include <cstddef>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace tollgate::json {

/**
 * Text parse_strict() could not read: not JSON (the reason gives the line and
 * column), or a number too large to represent (the path names the value).
 * what() is "PATH: REASON", or "REASON" when the path is empty.
 */
class bad_json : public std::runtime_error {
 public:
  bad_json(std::string path, std::string reason, bool syntax)
      : std::runtime_error(path.empty() ? reason : fmt::format("{}: {}", path, reason)),
        path_(std::move(path)),
        reason_(std::move(reason)),
        syntax_(syntax) {}

  /// The JSON path of the offending value ("jobs[1].seconds"); empty when
  /// the text is not JSON at all (the reason then gives line and column).
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  /// nlohmann's message without its "[json.exception...]" prefix, e.g.
  /// "parse error at line 3, column 5: ..." or "number overflow parsing '1e400'".
  [[nodiscard]] const std::string& reason() const noexcept { return reason_; }
  /// True when the text is not JSON (a syntax error), false when it is JSON
  /// whose content cannot be represented (a number out of range).
  [[nodiscard]] bool syntax() const noexcept { return syntax_; }

 private:
  std::string path_;
  std::string reason_;
  bool syntax_;
};

/**
 * Parses `text` into an ordered_json, calling `repeated(path)` for a key that
 * appears twice in one object (`path` names it, e.g. "jobs[1].count").
 *
 * @param repeated must not return normally: throw (the parse stops there).
 * @throws bad_json for text that is not JSON or holds a number out of range
 *         (every nlohmann::json::exception the parser raises), and whatever
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
  try {
    return ojson::parse(text.begin(), text.end(), cb);
  } catch (const nlohmann::json::exception& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line 3, column 5: ...".
    std::string what = e.what();
    if (const auto p = what.find("] "); p != std::string::npos) what.erase(0, p + 2);
    // A syntax error carries its line and column; the frames may name a key
    // already finished, so no path. Anything else (out_of_range 406, a number
    // that overflows a double) is raised while the value is read: the frames
    // name exactly that value.
    const bool syntax = dynamic_cast<const nlohmann::json::parse_error*>(&e) != nullptr;
    throw bad_json(syntax ? std::string() : path(), std::move(what), syntax);
  }
}

}  // namespace tollgate::json
