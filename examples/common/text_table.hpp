// An aligned text table for the example tools' reports: a column
// alignment per column ('l' or 'r'), two spaces between columns, trailing
// spaces dropped.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "cli_support.hpp"

namespace tollgate::examples {

// A small aligned text table: 'l' or 'r' per column, two spaces between.
// Cells are made printable (no control bytes reach the terminal) and kept
// in one buffer, NUL-separated (printable() escapes NUL): a plan of 10^6
// jobs is 10^6 rows.
class table {
 public:
  explicit table(std::string align) : align_(std::move(align)), width_(align_.size(), 0) {}
  void row(std::vector<std::string> cells) {
    cells.resize(align_.size());
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const std::string cell = printable(cells[i]);
      width_[i] = std::max(width_[i], cell.size());
      cells_ += cell;
      cells_ += '\0';
    }
  }
  [[nodiscard]] std::string str() const {
    std::string out;
    std::string_view rest = cells_;
    while (!rest.empty()) {
      std::string line;
      for (std::size_t i = 0; i < align_.size(); ++i) {
        const std::size_t end = rest.find('\0');
        const std::string_view cell = rest.substr(0, end);
        rest.remove_prefix(end + 1);
        if (i > 0) line += "  ";
        line += align_[i] == 'r' ? fmt::format("{:>{}}", cell, width_[i])
                                 : fmt::format("{:<{}}", cell, width_[i]);
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += line + '\n';
    }
    return out;
  }

 private:
  std::string align_;
  std::vector<std::size_t> width_;
  std::string cells_;
};

}  // namespace tollgate::examples
