// What the example command-line tools share: their exit statuses, the
// exception that means "bad input", and one-line error messages.
#pragma once

#include <stdexcept>
#include <string>

namespace tollgate::examples {

constexpr int exit_ok = 0;         ///< success
constexpr int exit_refused = 1;    ///< the library said no, or an internal error
constexpr int exit_bad_input = 2;  ///< malformed input: nothing was done

/// Bad input: reported as one line on stderr, exit status 2, nothing written.
struct bad_input : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// A message on one line, whatever produced it.
inline std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

}  // namespace tollgate::examples
