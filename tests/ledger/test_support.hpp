// Helpers shared by the ledger tests: temporary directories (on tmpfs when
// there is one, so journal tests stay fast), seeds that CI fixes and a person
// can override (TOLLGATE_SEED), and conversions between the ledger's money
// types and the reference model's integers.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <unistd.h>

#include <tollgate/core/money.hpp>
#include <tollgate/ledger/journal_storage.hpp>

namespace test_support {

/// A fresh directory, removed with everything in it on destruction.
class temp_dir {
 public:
  explicit temp_dir(const std::string& tag = "ledger") {
    namespace fs = std::filesystem;
    const fs::path base = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    static std::uint64_t counter = 0;
    path_ = base / ("tollgate-" + tag + "-" + std::to_string(::getpid()) + "-" +
                    std::to_string(++counter) + "-" +
                    std::to_string(std::random_device{}()));
    fs::create_directories(path_);
  }
  /// A directory on the real disk (for tests of durability costs).
  static temp_dir on_disk(const std::string& tag) {
    temp_dir d(tag, 0);
    return d;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(temp_dir&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  temp_dir(const temp_dir&) = delete;
  [[nodiscard]] std::string file(const std::string& name) const { return (path_ / name).string(); }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  temp_dir(const std::string& tag, int) {
    static std::uint64_t counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("tollgate-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    std::filesystem::create_directories(path_);
  }
  std::filesystem::path path_;
};

/// The seed for a randomized test: TOLLGATE_SEED if set, else `fixed`.
inline std::uint64_t seed(std::uint64_t fixed) {
  if (const char* s = std::getenv("TOLLGATE_SEED")) return std::strtoull(s, nullptr, 0);
  return fixed;
}

/// An integer from the environment, or a default.
inline long env_int(const char* name, long fallback) {
  if (const char* s = std::getenv(name)) return std::strtol(s, nullptr, 0);
  return fallback;
}

/// Turns a hang into a failure: aborts the test program, naming `what`, if
/// it is still alive `seconds` after construction (a hung call usually holds
/// the ledger's lock, so there is nothing to recover).
class watchdog {
 public:
  watchdog(const char* what, int seconds) : what_(what) {
    t_ = std::thread([this, seconds] {
      for (int i = 0; i < seconds * 20 && !done_; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (!done_) {
        std::fprintf(stderr, "watchdog: %s did not return within %d s\n", what_, seconds);
        std::abort();
      }
    });
  }
  ~watchdog() {
    done_ = true;
    t_.join();
  }
  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;

 private:
  const char* what_;
  std::atomic<bool> done_{false};
  std::thread t_;
};

inline long long raw(const tollgate::credits& c) { return c.raw().convert_to<long long>(); }
inline long long raw(const tollgate::usd& c) { return c.raw().convert_to<long long>(); }
inline tollgate::credits cr(long long micro) { return tollgate::credits::from_raw(micro); }
inline tollgate::usd dollars(long long micro) { return tollgate::usd::from_raw(micro); }

/// The bytes of the file at `p` (empty when it cannot be read).
inline std::vector<std::byte> read_file(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<char> v((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(v.size());
  std::memcpy(out.data(), v.data(), v.size());
  return out;
}

/// Offsets of the records in the journal file `f`, up to the first zero length.
inline std::vector<std::uint64_t> record_offsets(const std::vector<std::byte>& f) {
  namespace ld = tollgate::ledger_detail;
  std::vector<std::uint64_t> out;
  std::uint64_t off = ld::journal_header_size;
  while (off + ld::frame_header_size <= f.size()) {
    const auto len = ld::load_le<std::uint32_t>(f.data() + off + 4);
    if (len == 0) break;
    out.push_back(off);
    off += ld::frame_header_size + len;
  }
  return out;
}
inline std::vector<std::uint64_t> record_offsets(const std::string& p) { return record_offsets(read_file(p)); }

/// The chain value a record appended to the journal file `f` must name: the
/// last record's, or with none the journal id's.
inline std::uint64_t chain_at_end(const std::vector<std::byte>& f) {
  namespace ld = tollgate::ledger_detail;
  const auto offs = record_offsets(f);
  if (offs.empty())
    return ld::initial_chain(ld::load_le<std::uint64_t>(f.data() + 24), ld::load_le<std::uint64_t>(f.data() + 32));
  const auto len = ld::load_le<std::uint32_t>(f.data() + offs.back() + 4);
  return ld::frame_chain(f.data() + offs.back(), ld::frame_header_size + len);
}

/// Files beside the journal whose names start with `JOURNAL.torn-` (the
/// copies of torn tails that a writable open cut); none when the directory
/// cannot be read.
inline std::vector<std::string> torn_copies(const std::string& journal) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  const std::string prefix = fs::path(journal).filename().string() + ".torn-";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::path(journal).parent_path(), ec))
    if (e.path().filename().string().rfind(prefix, 0) == 0) out.push_back(e.path().string());
  return out;
}

}  // namespace test_support
