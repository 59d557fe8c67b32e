// What the example command-line tools share: their exit statuses, the
// exceptions that mean "bad input" and "refused", and one-line error messages
// that are safe on a terminal whatever bytes went into them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace tollgate::examples {

constexpr int exit_ok = 0;         ///< success
constexpr int exit_refused = 1;    ///< the library said no, or an internal error
constexpr int exit_bad_input = 2;  ///< malformed input: nothing was done

namespace detail {

// The length of the well-formed UTF-8 sequence at the start of `s` (RFC 3629:
// no overlong forms, no surrogates, nothing above U+10FFFF), or 0 when it is
// ill-formed; `cp` receives its code point.
[[nodiscard]] inline std::size_t utf8_sequence(std::string_view s, char32_t& cp) noexcept {
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  std::size_t n;
  char32_t min;
  if (c < 0x80) return cp = c, 1;
  if (c >= 0xC2 && c <= 0xDF) n = 2, min = 0x80, cp = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF) n = 3, min = 0x800, cp = c & 0x0F;
  else if (c >= 0xF0 && c <= 0xF4) n = 4, min = 0x10000, cp = c & 0x07;
  else return 0;
  if (s.size() < n) return 0;
  for (std::size_t i = 1; i < n; ++i) {
    if ((b(i) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

}  // namespace detail

/**
 * `s` made safe to print on one line of a terminal: valid UTF-8 text passes
 * unchanged; control characters (C0, DEL and C1, U+0080-U+009F) and the bytes
 * of ill-formed UTF-8 become escapes (`\x00`, `\xff`, `\u0085`). The result
 * passes a second pass unchanged, so every layer a message goes through may
 * make it printable. Newlines become spaces
 * when `newline_as_space` (a multi-line message), escapes otherwise. Longer
 * than `max_bytes`: cut there (on a character boundary) with "...".
 */
[[nodiscard]] inline std::string printable(std::string_view s, bool newline_as_space = false,
                                           std::size_t max_bytes = SIZE_MAX) {
  std::string out;
  out.reserve(s.size());
  while (!s.empty()) {
    if (out.size() >= max_bytes) {
      out += "...";
      break;
    }
    char32_t cp = 0;
    const std::size_t n = detail::utf8_sequence(s, cp);
    if (n == 0) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(s[0]));
    } else if ((cp == '\n' || cp == '\r') && newline_as_space) {
      out += ' ';
    } else if (cp < 0x20 || cp == 0x7F) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned>(cp));
    } else if (cp >= 0x80 && cp <= 0x9F) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(cp));
    } else {
      out.append(s.data(), n);
    }
    s.remove_prefix(n == 0 ? 1 : n);
  }
  return out;
}

/// A message on one line, whatever produced it: newlines become spaces,
/// other control bytes and ill-formed UTF-8 become escapes (a NUL in a model
/// name no longer cuts the message short), trailing spaces are dropped.
inline std::string one_line(std::string_view s) {
  std::string out = printable(s, /*newline_as_space=*/true);
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

/// An argument quoted for a message: 'text', escaped by printable() and cut
/// after 64 bytes (an argument can be megabytes long).
inline std::string quoted(std::string_view s) { return "'" + printable(s, false, 64) + "'"; }

/// Bad input: reported as one line on stderr, exit status 2, nothing written.
/// The message is made one safe line here: what() is a C string, and a NUL
/// inside the message would otherwise end it.
struct bad_input : std::runtime_error {
  explicit bad_input(std::string_view message) : std::runtime_error(one_line(message)) {}
};

}  // namespace tollgate::examples
