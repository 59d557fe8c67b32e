// A small well-formedness check of XML text (the simulator's SVG), written
// here so the tests need no XML library: one root element, every tag closed
// in order, names of the XML name characters used in SVG, attributes quoted
// and not repeated, only the five predefined entities and character
// references, no '<' or raw '&' in text or attribute values, comments and
// one leading XML declaration. Returns what is wrong and where, or nothing.
#pragma once

#include <cstddef>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace tollgate::test {

namespace detail {

[[nodiscard]] inline bool name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
[[nodiscard]] inline bool name_char(char c) {
  return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}
[[nodiscard]] inline bool space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

// Checks character data (text or an attribute value) for '<' and bad '&'.
[[nodiscard]] inline std::optional<std::string> check_chars(std::string_view s, std::size_t at) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '<') return fmt::format("'<' in character data at byte {}", at + i);
    if (s[i] != '&') continue;
    const std::size_t end = s.find(';', i);
    if (end == std::string_view::npos) return fmt::format("'&' without ';' at byte {}", at + i);
    const std::string_view ref = s.substr(i + 1, end - i - 1);
    const bool named = ref == "amp" || ref == "lt" || ref == "gt" || ref == "quot" || ref == "apos";
    bool numeric = ref.size() >= 2 && ref[0] == '#';
    for (std::size_t k = 1; numeric && k < ref.size(); ++k) numeric = ref[k] >= '0' && ref[k] <= '9';
    if (!named && !numeric) return fmt::format("unknown entity '&{};' at byte {}", ref, at + i);
    i = end;
  }
  return std::nullopt;
}

}  // namespace detail

/// What is wrong with `xml` as a well-formed document, or nothing.
[[nodiscard]] inline std::optional<std::string> xml_problem(std::string_view xml) {
  using namespace detail;
  std::vector<std::string> open;
  bool root_seen = false;
  std::size_t i = 0;
  if (xml.substr(0, 5) == "<?xml") {
    const std::size_t end = xml.find("?>");
    if (end == std::string_view::npos) return "unterminated XML declaration";
    i = end + 2;
  }
  while (i < xml.size()) {
    if (xml[i] != '<') {
      const std::size_t next = std::min(xml.find('<', i), xml.size());
      const std::string_view text = xml.substr(i, next - i);
      if (open.empty()) {
        for (char c : text)
          if (!space(c)) return fmt::format("text outside the root element at byte {}", i);
      } else if (auto p = check_chars(text, i)) {
        return p;
      }
      i = next;
      continue;
    }
    if (xml.substr(i, 4) == "<!--") {
      const std::size_t end = xml.find("-->", i + 4);
      if (end == std::string_view::npos) return fmt::format("unterminated comment at byte {}", i);
      i = end + 3;
      continue;
    }
    const bool closing = i + 1 < xml.size() && xml[i + 1] == '/';
    std::size_t p = i + (closing ? 2 : 1);
    const std::size_t name_at = p;
    if (p >= xml.size() || !name_start(xml[p])) return fmt::format("bad tag name at byte {}", i);
    while (p < xml.size() && name_char(xml[p])) ++p;
    const std::string name(xml.substr(name_at, p - name_at));
    if (closing) {
      while (p < xml.size() && space(xml[p])) ++p;
      if (p >= xml.size() || xml[p] != '>') return fmt::format("bad closing tag at byte {}", i);
      if (open.empty() || open.back() != name)
        return fmt::format("</{}> at byte {} closes {}", name, i, open.empty() ? "nothing" : "<" + open.back() + ">");
      open.pop_back();
      i = p + 1;
      continue;
    }
    if (open.empty() && root_seen) return fmt::format("a second root element <{}> at byte {}", name, i);
    std::set<std::string> attributes;
    for (;;) {
      const std::size_t before = p;
      while (p < xml.size() && space(xml[p])) ++p;
      if (p >= xml.size()) return fmt::format("unterminated tag <{}> at byte {}", name, i);
      if (xml[p] == '>' || (xml[p] == '/' && p + 1 < xml.size() && xml[p + 1] == '>')) break;
      if (p == before) return fmt::format("no space before an attribute of <{}> at byte {}", name, p);
      const std::size_t an = p;
      if (!name_start(xml[p])) return fmt::format("bad attribute name in <{}> at byte {}", name, p);
      while (p < xml.size() && name_char(xml[p])) ++p;
      const std::string attribute(xml.substr(an, p - an));
      if (!attributes.insert(attribute).second)
        return fmt::format("attribute '{}' repeated in <{}> at byte {}", attribute, name, an);
      if (p + 1 >= xml.size() || xml[p] != '=' || (xml[p + 1] != '"' && xml[p + 1] != '\''))
        return fmt::format("attribute '{}' of <{}> is not name=\"value\" at byte {}", attribute, name, an);
      const char quote = xml[p + 1];
      const std::size_t end = xml.find(quote, p + 2);
      if (end == std::string_view::npos) return fmt::format("unterminated attribute value at byte {}", p);
      if (auto bad = check_chars(xml.substr(p + 2, end - p - 2), p + 2)) return bad;
      p = end + 1;
    }
    root_seen = true;
    if (xml[p] == '/') {
      i = p + 2;
    } else {
      open.push_back(name);
      i = p + 1;
    }
  }
  if (!open.empty()) return fmt::format("<{}> is never closed", open.back());
  if (!root_seen) return "no root element";
  return std::nullopt;
}

}  // namespace tollgate::test
