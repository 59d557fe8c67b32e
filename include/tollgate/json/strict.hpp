// Strict JSON parsing for configuration files (optional adapter: needs
// nlohmann-json). nlohmann's parser keeps the last of two equal keys in one
// object, so {"count": 2, "count": 3} would silently mean 3; a billing
// configuration must refuse that instead. parse_strict() reads the text with
// nlohmann's SAX interface, tracks the JSON path, and reports the first
// repeated key by it. It is linear in the text: the callback parser it
// replaced rescanned the parent array at the end of every object (160,000
// empty objects took 4.5 s). An integer literal too large for 64 bits is
// refused (nlohmann would read it as a double, silently losing digits), and
// whatever else the parser raises while reading the text (a syntax error, a
// number too large for a double, `1e400`) comes out as one exception,
// bad_json, so a caller cannot catch one kind and let the other escape. The
// catalog loader uses it; json_path and the number helpers below also serve
// SAX readers of other shapes (tollgate-estimate's plans).
#pragma once

#include <concepts>
#include <cstddef>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
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

namespace detail {

/// nlohmann's message without its "[json.exception.parse_error.101] " prefix.
[[nodiscard]] inline std::string exception_reason(const std::exception& e) {
  std::string what = e.what();
  if (const auto p = what.find("] "); p != std::string::npos && what.front() == '[') what.erase(0, p + 2);
  return what;
}

/// The error for a NUL byte in JSON text, if it has one. JSON text never
/// holds a raw NUL (a string writes it \u0000), and nlohmann's reader takes
/// one for the end of the input: `{}` followed by a NUL and anything at all
/// was read as `{}`.
[[nodiscard]] inline std::optional<bad_json> nul_byte(std::string_view text) {
  const auto at = text.find('\0');
  if (at == std::string_view::npos) return std::nullopt;
  return bad_json("", fmt::format("a NUL byte at offset {}; JSON text holds none (write \\u0000 in a string)", at),
                  true);
}

/// True when a number nlohmann read as a double was written as an integer
/// (no fraction, no exponent): an integer that does not fit in 64 bits.
[[nodiscard]] inline bool integer_literal(std::string_view raw) noexcept {
  return raw.find_first_of(".eE") == std::string_view::npos;
}

/// The reason given for such an integer.
[[nodiscard]] inline std::string integer_too_large(std::string_view raw) {
  return fmt::format("the integer {} is too large (more than 64 bits); write a large amount as a "
                     "decimal string such as \"{}\"",
                     raw.size() > 40 ? std::string(raw.substr(0, 40)) + "..." : std::string(raw),
                     raw.size() > 40 ? "12.5" : std::string(raw));
}

/**
 * Where a SAX reader is in a document: the JSON path of the value being read
 * ("jobs[1].count") and, for each open object, the keys seen so far (so a
 * repeated key is found in O(log n)). The reader calls open_object() or
 * open_array() when a container starts, key() for each key, value_done()
 * after each scalar, close() when a container ends.
 */
class json_path {
 public:
  void open_object() { frames_.push_back(frame{}); }
  void open_array() { frames_.push_back(frame{.array = true}); }
  /// Records a key of the innermost object; false when it was seen before.
  [[nodiscard]] bool key(const std::string& k) {
    frame& f = frames_.back();
    f.key = k;
    return f.keys.insert(k).second;
  }
  /// A scalar value ended: the enclosing array moves to its next index.
  void value_done() {
    if (!frames_.empty() && frames_.back().array) ++frames_.back().index;
  }
  /// The innermost container ended; it was a value of its parent.
  void close() {
    frames_.pop_back();
    value_done();
  }
  /// "jobs[1].count"; empty at the top level.
  [[nodiscard]] std::string str() const {
    std::string p;
    for (const frame& f : frames_) {
      if (f.array) {
        p += fmt::format("[{}]", f.index);
      } else if (!f.key.empty() || !f.keys.empty()) {
        if (!p.empty()) p += '.';
        p += f.key;
      }
    }
    return p;
  }

 private:
  struct frame {
    bool array = false;
    std::size_t index = 0;
    std::string key{};
    std::set<std::string> keys{};
  };
  std::vector<frame> frames_;
};

/// The bad_json for an error nlohmann's parser reported to a SAX reader at
/// `path`: a syntax error has no path (its reason gives line and column; the
/// path may name a key already finished); anything else (out_of_range 406, a
/// number that overflows a double) is raised while that value is read.
[[nodiscard]] inline bad_json parser_failure(const nlohmann::json::exception& e, std::string path) {
  const bool syntax = dynamic_cast<const nlohmann::json::parse_error*>(&e) != nullptr;
  return bad_json(syntax ? std::string() : std::move(path), exception_reason(e), syntax);
}

// A SAX reader that builds the whole document, with json_path's checks.
template <class OnRepeated>
class strict_dom_builder {
 public:
  using ojson = nlohmann::ordered_json;

  explicit strict_dom_builder(OnRepeated& repeated) : repeated_(repeated) {}
  ojson take() { return std::move(root_); }

  bool null() { return scalar(ojson(nullptr)); }
  bool boolean(bool v) { return scalar(ojson(v)); }
  bool number_integer(ojson::number_integer_t v) { return scalar(ojson(v)); }
  bool number_unsigned(ojson::number_unsigned_t v) { return scalar(ojson(v)); }
  bool number_float(ojson::number_float_t v, const std::string& raw) {
    if (integer_literal(raw)) throw bad_json(path_.str(), integer_too_large(raw), false);
    return scalar(ojson(v));
  }
  bool string(std::string& v) { return scalar(ojson(std::move(v))); }
  bool binary(ojson::binary_t&) { return false; }  // not produced by the JSON reader
  bool start_object(std::size_t) { return open(ojson::object()), path_.open_object(), true; }
  bool start_array(std::size_t) { return open(ojson::array()), path_.open_array(), true; }
  bool key(std::string& k) {
    if (!path_.key(k)) {
      repeated_(path_.str());
      throw std::logic_error("tollgate::json::parse_strict: the repeated-key handler returned");
    }
    key_ = std::move(k);
    return true;
  }
  bool end_object() { return stack_.pop_back(), path_.close(), true; }
  bool end_array() { return stack_.pop_back(), path_.close(), true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::json::exception& e) {
    throw parser_failure(e, path_.str());
  }

 private:
  // Puts `v` where the parser is, and returns where it went.
  ojson* place(ojson&& v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    ojson& parent = *stack_.back();
    if (parent.is_array()) {
      parent.get_ref<ojson::array_t&>().push_back(std::move(v));
      return &parent.get_ref<ojson::array_t&>().back();
    }
    // The key is new (json_path checked): append without ordered_map's
    // linear search for it, which made an object of n keys O(n^2).
    auto& members = static_cast<std::vector<std::pair<const std::string, ojson>>&>(
        parent.get_ref<ojson::object_t&>());
    members.emplace_back(std::move(key_), std::move(v));
    return &members.back().second;
  }
  bool scalar(ojson&& v) {
    place(std::move(v));
    path_.value_done();
    return true;
  }
  void open(ojson&& v) { stack_.push_back(place(std::move(v))); }

  OnRepeated& repeated_;
  ojson root_;
  std::vector<ojson*> stack_;  // the open containers (stable: each is in its parent's storage
                               // only until a sibling is added, and none is added to a parent
                               // while a child is open)
  std::string key_;
  json_path path_;
};

}  // namespace detail

/**
 * Parses `text` into an ordered_json, calling `repeated(path)` for a key that
 * appears twice in one object (`path` names it, e.g. "jobs[1].count").
 * Linear in the length of the text.
 *
 * @param repeated must not return normally: throw (the parse stops there).
 * @throws bad_json for text that is not JSON (a NUL byte included), holds a
 *         number too large for a double (`1e400`) or an integer literal too
 *         large for 64 bits (every nlohmann::json::exception the parser
 *         raises is one), and whatever `repeated` throws.
 */
template <std::invocable<const std::string&> OnRepeated>
[[nodiscard]] nlohmann::ordered_json parse_strict(std::string_view text, OnRepeated&& repeated) {
  if (auto nul = detail::nul_byte(text)) throw std::move(*nul);
  detail::strict_dom_builder<std::remove_reference_t<OnRepeated>> builder(repeated);
  try {
    nlohmann::ordered_json::sax_parse(text.begin(), text.end(), &builder);
  } catch (const nlohmann::json::exception& e) {
    // Raised outside the SAX callbacks (none is expected; kept so that no
    // nlohmann exception can escape as itself).
    throw bad_json("", detail::exception_reason(e), true);
  }
  return builder.take();
}

}  // namespace tollgate::json
