// examples/embedded_service.cpp and docs/getting-started.md: every part of
// the example marked "getting started" appears, line for line, as a code
// block of the page, so the page never shows code that does not compile.
// (The program itself runs under ctest: examples.embedded_service.)
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::string project_file(const std::string& name) {
  std::ifstream in(std::string(TOLLGATE_TEST_DATA_DIR) + "/../" + name, std::ios::binary);
  REQUIRE(in);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The parts between "// [getting started: NAME]" and "// [getting started:
// end]", each without the indentation its lines share.
std::vector<std::string> marked_parts(const std::string& source) {
  std::vector<std::string> parts;
  std::vector<std::string> part;
  bool inside = false;
  for (const std::string& line : lines_of(source)) {
    const auto mark = line.find("// [getting started: ");
    if (mark != std::string::npos) {
      if (inside) {
        std::size_t indent = std::string::npos;
        for (const std::string& l : part)
          if (!l.empty()) indent = std::min(indent, l.find_first_not_of(' '));
        std::string text;
        for (const std::string& l : part) text += (l.empty() ? l : l.substr(indent)) + "\n";
        parts.push_back(text);
        part.clear();
      }
      inside = line.find("// [getting started: end]") == std::string::npos;
      continue;
    }
    if (inside) part.push_back(line);
  }
  return parts;
}

// The ```cpp blocks of a Markdown page.
std::vector<std::string> cpp_blocks(const std::string& page) {
  std::vector<std::string> blocks;
  std::string block;
  bool inside = false;
  for (const std::string& line : lines_of(page)) {
    if (!inside && line == "```cpp") {
      inside = true;
      block.clear();
    } else if (inside && line == "```") {
      inside = false;
      blocks.push_back(block);
    } else if (inside) {
      block += line + "\n";
    }
  }
  return blocks;
}

}  // namespace

TEST_CASE("docs/getting-started.md shows the lines embedded_service.cpp compiles") {
  const std::vector<std::string> parts = marked_parts(project_file("examples/embedded_service.cpp"));
  REQUIRE(parts.size() == 2);
  const std::vector<std::string> blocks = cpp_blocks(project_file("docs/getting-started.md"));
  for (const std::string& part : parts) {
    INFO("the part:\n" << part);
    CHECK(std::find(blocks.begin(), blocks.end(), part) != blocks.end());
  }
  // "Embedding in 20 lines": the two parts, blank lines and comments aside.
  std::size_t code = 0;
  for (const std::string& part : parts)
    for (const std::string& line : lines_of(part))
      if (!line.empty() && line.rfind("//", 0) != 0) ++code;
  CHECK(code <= 22);
}
