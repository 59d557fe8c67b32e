// Reading a configuration or input file whole, safely (optional adapter, with
// the JSON loaders; POSIX). Only a regular file is read, and only up to a
// limit the caller names: /dev/zero used to be read until memory ran out, a
// FIFO blocked for ever waiting for a writer, and a directory read as empty.
// The file is opened with O_NONBLOCK and checked on the descriptor (fstat),
// so nothing swapped in after a check by name gets through and opening a
// FIFO returns at once.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "../core/error.hpp"

namespace tollgate::json {

namespace detail {

[[nodiscard]] inline std::string_view file_type_name(mode_t m) noexcept {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

// Closes a descriptor when it goes out of scope.
struct fd_closer {
  int fd;
  ~fd_closer() { ::close(fd); }
};

}  // namespace detail

/**
 * The contents of the regular file `path`, at most `max_bytes` long.
 * @return the bytes, or errc::io_error with a message that says what is
 *         wrong (the caller names the file): it cannot be opened
 *         (strerror), it is not a regular file (a directory, a FIFO, a
 *         device, a socket), it is larger than `max_bytes` (checked on what
 *         is read, so a file that grows meanwhile is caught too), or a read
 *         failed. `max_bytes` must be less than SIZE_MAX. Thread-safe.
 */
[[nodiscard]] inline result<std::string> read_regular_file(const std::string& path,
                                                           std::size_t max_bytes) {
  const auto fail = [&](std::string_view why) {
    return result<std::string>(errc::io_error, std::string(why));
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return fail(fmt::format("cannot open it: {}", std::strerror(errno)));
  const detail::fd_closer closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail(fmt::format("cannot stat it: {}", std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) return fail(fmt::format("is {}, not a regular file", detail::file_type_name(st.st_mode)));
  const auto too_large = [&] {
    return fail(fmt::format("is larger than the limit of {} bytes", max_bytes));
  };
  if (static_cast<unsigned long long>(st.st_size) > max_bytes) return too_large();
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  for (;;) {
    if (got == text.size()) {
      if (got > max_bytes) return too_large();
      // The file grew, or st_size was 0 (as in /proc): read on, up to one byte
      // past the limit.
      text.resize(std::min(max_bytes + 1, got + std::max<std::size_t>(got, 4096)));
    }
    const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(fmt::format("cannot read it: {}", std::strerror(errno)));
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got > max_bytes) return too_large();
  text.resize(got);
  return text;
}

}  // namespace tollgate::json
