// File policies for journal_storage: every system call the journal makes
// goes through one small object, so a test can put a fault-injecting wrapper
// in its place (short writes, ENOSPC, EIO from fdatasync) and exercise the
// journal's real error paths, and a fuzzer can run replay on bytes in memory.
// `posix_file_system` is the real thing; `memory_file_system` keeps files in
// memory (for fuzzing and fast tests; it never fails and never loses data).
//
// A FileSystem policy provides, with `handle` a copyable file handle (calls
// on a handle do not know its path: their errors say what failed and why,
// and the journal adds which file):
//   open(path, open_mode) -> result<handle>      close(handle)
//   pread(h, buf, n, offset) -> result<size_t>   reads up to n; fewer only at end of file
//   pwrite(h, buf, n, offset) -> result<size_t>  one attempt; may write fewer than n
//   fdatasync(h), fsync(h) -> result<void>       size(h) -> result<uint64_t>
//   lock(h) -> result<void>                      exclusive, non-blocking; errc::locked if taken
//   link(from, to), rename(from, to), remove(path), sync_directory(dir) -> result<void>
//   exists(path) -> bool
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "../core/error.hpp"

namespace tollgate {

/// How a journal file is opened.
enum class open_mode : std::uint8_t {
  read_only,         ///< must exist
  read_write,        ///< must exist
  create_exclusive,  ///< must not exist; created read-write
  create_truncate,   ///< created or emptied, read-write (snapshot temporaries)
};

/**
 * The real file system: POSIX calls, errors reported with the path and
 * strerror. Stateless. Thread-safe (the calls are).
 */
struct posix_file_system {
  using handle = int;

  /**
   * Opens a regular file. Anything else (a FIFO, a directory, a device, a
   * socket) is errc::io_error at once: the file is opened with O_NONBLOCK,
   * so a FIFO cannot block the open, and the opened descriptor is checked
   * (fstat), so nothing swapped in after a check by name gets through.
   */
  [[nodiscard]] result<handle> open(const std::string& path, open_mode mode) {
    int flags = O_CLOEXEC | O_NONBLOCK;
    switch (mode) {
      case open_mode::read_only: flags |= O_RDONLY; break;
      case open_mode::read_write: flags |= O_RDWR; break;
      case open_mode::create_exclusive: flags |= O_RDWR | O_CREAT | O_EXCL; break;
      case open_mode::create_truncate: flags |= O_RDWR | O_CREAT | O_TRUNC; break;
    }
    int fd;
    do fd = ::open(path.c_str(), flags, 0644);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
      // A directory (EISDIR) or a socket (ENXIO) fails here: say what it is.
      const int e = errno;
      struct stat st {};
      if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) return not_regular(path, st.st_mode);
      errno = e;
      return sys_error("cannot open", path);
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int e = errno;
      ::close(fd);
      errno = e;
      return sys_error("cannot stat", path);
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      return not_regular(path, st.st_mode);
    }
    // A regular file ignores O_NONBLOCK; it is cleared all the same, so the
    // descriptor behaves exactly as one opened without it.
    if (const int fl = ::fcntl(fd, F_GETFL); fl >= 0) (void)::fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
  }
  void close(handle h) noexcept { ::close(h); }

  [[nodiscard]] result<std::size_t> pread(handle h, void* buf, std::size_t n, std::uint64_t off) {
    std::size_t done = 0;
    while (done < n) {
      const ssize_t r = ::pread(h, static_cast<char*>(buf) + done, n - done,
                                static_cast<off_t>(off + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return handle_error(fmt::format("cannot read {} bytes at offset {}", n, off));
      }
      if (r == 0) break;
      done += static_cast<std::size_t>(r);
    }
    return done;
  }
  [[nodiscard]] result<std::size_t> pwrite(handle h, const void* buf, std::size_t n,
                                           std::uint64_t off) {
    ssize_t r;
    do r = ::pwrite(h, buf, n, static_cast<off_t>(off));
    while (r < 0 && errno == EINTR);
    if (r < 0)
      return handle_error(fmt::format("cannot write {} bytes at offset {}", n, off));
    return static_cast<std::size_t>(r);
  }
  [[nodiscard]] result<void> fdatasync(handle h) {
    if (::fdatasync(h) != 0) return handle_error("fdatasync failed");
    return {};
  }
  [[nodiscard]] result<void> fsync(handle h) {
    if (::fsync(h) != 0) return handle_error("fsync failed");
    return {};
  }
  [[nodiscard]] result<std::uint64_t> size(handle h) {
    struct stat st {};
    if (::fstat(h, &st) != 0) return handle_error("fstat failed");
    return static_cast<std::uint64_t>(st.st_size);
  }
  [[nodiscard]] result<void> lock(handle h) {
    if (::flock(h, LOCK_EX | LOCK_NB) == 0) return {};
    if (errno == EWOULDBLOCK)
      return result<void>(errc::locked, "another process (or another ledger in this process) "
                                        "has this journal open for writing");
    return handle_error("flock failed");
  }
  [[nodiscard]] result<void> link(const std::string& from, const std::string& to) {
    if (::link(from.c_str(), to.c_str()) != 0) return sys_error_void("cannot link", to);
    return {};
  }
  [[nodiscard]] result<void> rename(const std::string& from, const std::string& to) {
    if (::rename(from.c_str(), to.c_str()) != 0)
      return sys_error_void(fmt::format("cannot rename '{}' to", from), to);
    return {};
  }
  [[nodiscard]] result<void> remove(const std::string& path) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return sys_error_void("cannot remove", path);
    return {};
  }
  [[nodiscard]] result<void> sync_directory(const std::string& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return sys_error_void("cannot open directory", dir);
    const int r = ::fsync(fd);
    const int e = errno;
    ::close(fd);
    if (r != 0) {
      errno = e;
      return sys_error_void("fsync failed on directory", dir);
    }
    return {};
  }
  [[nodiscard]] bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
  }

 private:
  static tollgate::error not_regular(const std::string& path, mode_t m) {
    const char* kind = S_ISFIFO(m)  ? "a FIFO"
                       : S_ISDIR(m) ? "a directory"
                       : S_ISCHR(m) ? "a character device"
                       : S_ISBLK(m) ? "a block device"
                       : S_ISSOCK(m) ? "a socket"
                                     : "an unknown kind of file";
    return tollgate::error(errc::io_error,
                           fmt::format("'{}' is not a regular file ({}); a journal, its snapshot and "
                                       "the copies of torn tails are regular files: move it away",
                                       path, kind));
  }
  static tollgate::error make(std::string_view what, std::string_view path) {
    const int e = errno;
    return tollgate::error(e == ENOSPC || e == EDQUOT ? errc::storage_failure : errc::io_error,
                           fmt::format("{} '{}': {}", what, path, std::strerror(e)));
  }
  static tollgate::error sys_error(std::string_view what, std::string_view path) {
    return make(what, path);
  }
  // Calls on a handle do not know its file: the caller names it.
  static tollgate::error handle_error(std::string_view what) {
    const int e = errno;
    return tollgate::error(e == ENOSPC || e == EDQUOT ? errc::storage_failure : errc::io_error,
                           fmt::format("{}: {}", what, std::strerror(e)));
  }
  static result<void> sys_error_void(std::string_view what, std::string_view path) {
    return make(what, path);
  }
};

/**
 * Files in memory, shared by copies of the object: for fuzzing replay and
 * for fast tests. Never fails, never loses data, locks like flock (one
 * writer per file). Thread-safe.
 */
class memory_file_system {
 public:
  using handle = int;

  memory_file_system() : d_(std::make_shared<data>()) {}

  /// The bytes of a file (empty if it does not exist).
  [[nodiscard]] std::vector<std::byte> contents(const std::string& path) const {
    std::lock_guard lk(d_->m);
    auto it = d_->files.find(path);
    return it == d_->files.end() ? std::vector<std::byte>{} : *it->second;
  }
  /// Creates or replaces a file.
  void set_contents(const std::string& path, std::vector<std::byte> bytes) {
    std::lock_guard lk(d_->m);
    d_->files[path] = std::make_shared<std::vector<std::byte>>(std::move(bytes));
  }

  [[nodiscard]] result<handle> open(const std::string& path, open_mode mode) {
    std::lock_guard lk(d_->m);
    auto it = d_->files.find(path);
    switch (mode) {
      case open_mode::read_only:
      case open_mode::read_write:
        if (it == d_->files.end())
          return result<handle>(errc::io_error,
                                fmt::format("cannot open '{}': No such file or directory", path));
        break;
      case open_mode::create_exclusive:
        if (it != d_->files.end())
          return result<handle>(errc::io_error, fmt::format("cannot open '{}': File exists", path));
        it = d_->files.emplace(path, std::make_shared<std::vector<std::byte>>()).first;
        break;
      case open_mode::create_truncate:
        if (it == d_->files.end())
          it = d_->files.emplace(path, std::make_shared<std::vector<std::byte>>()).first;
        else
          it->second->clear();
        break;
    }
    const int h = d_->next++;
    d_->open[h] = it->second;
    return h;
  }
  void close(handle h) noexcept {
    std::lock_guard lk(d_->m);
    auto it = d_->open.find(h);
    if (it == d_->open.end()) return;
    if (d_->locked.count(it->second.get()) && d_->locked[it->second.get()] == h)
      d_->locked.erase(it->second.get());
    d_->open.erase(it);
  }
  [[nodiscard]] result<std::size_t> pread(handle h, void* buf, std::size_t n, std::uint64_t off) {
    std::lock_guard lk(d_->m);
    const auto& f = *d_->open.at(h);
    if (off >= f.size()) return std::size_t{0};
    const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(n, f.size() - off));
    std::memcpy(buf, f.data() + off, k);
    return k;
  }
  [[nodiscard]] result<std::size_t> pwrite(handle h, const void* buf, std::size_t n,
                                           std::uint64_t off) {
    std::lock_guard lk(d_->m);
    auto& f = *d_->open.at(h);
    if (off + n > f.size()) f.resize(off + n);
    std::memcpy(f.data() + off, buf, n);
    return n;
  }
  [[nodiscard]] result<void> fdatasync(handle) { return {}; }
  [[nodiscard]] result<void> fsync(handle) { return {}; }
  [[nodiscard]] result<std::uint64_t> size(handle h) {
    std::lock_guard lk(d_->m);
    return static_cast<std::uint64_t>(d_->open.at(h)->size());
  }
  [[nodiscard]] result<void> lock(handle h) {
    std::lock_guard lk(d_->m);
    auto* f = d_->open.at(h).get();
    auto it = d_->locked.find(f);
    if (it != d_->locked.end() && it->second != h)
      return result<void>(errc::locked, "the journal is open for writing elsewhere");
    d_->locked[f] = h;
    return {};
  }
  [[nodiscard]] result<void> link(const std::string& from, const std::string& to) {
    std::lock_guard lk(d_->m);
    auto it = d_->files.find(from);
    if (it == d_->files.end() || d_->files.count(to))
      return result<void>(errc::io_error, fmt::format("cannot link '{}'", to));
    d_->files[to] = it->second;
    return {};
  }
  [[nodiscard]] result<void> rename(const std::string& from, const std::string& to) {
    std::lock_guard lk(d_->m);
    auto it = d_->files.find(from);
    if (it == d_->files.end())
      return result<void>(errc::io_error, fmt::format("cannot rename '{}'", from));
    auto f = it->second;
    d_->files.erase(it);
    d_->files[to] = std::move(f);
    return {};
  }
  [[nodiscard]] result<void> remove(const std::string& path) {
    std::lock_guard lk(d_->m);
    d_->files.erase(path);
    return {};
  }
  [[nodiscard]] result<void> sync_directory(const std::string&) { return {}; }
  [[nodiscard]] bool exists(const std::string& path) {
    std::lock_guard lk(d_->m);
    return d_->files.count(path) != 0;
  }

 private:
  using file = std::shared_ptr<std::vector<std::byte>>;
  struct data {
    std::mutex m;
    std::map<std::string, file> files;
    std::map<int, file> open;
    std::map<const std::vector<std::byte>*, int> locked;
    int next = 3;
  };
  std::shared_ptr<data> d_;
};

}  // namespace tollgate
