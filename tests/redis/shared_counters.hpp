// Counters the worker processes of the many-instances tests share with the
// test through a memory-mapped file: lock-free atomics work across processes.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace redis_test {

inline constexpr int kModels = 2;

struct shared_counters {
  std::atomic<std::uint64_t> running[kModels];     // tasks a worker knows hold a slot now
  std::atomic<std::uint64_t> max_running[kModels];  // the most ever seen at once
  std::atomic<std::uint64_t> admitted[kModels];
  std::atomic<std::uint64_t> errors;
  std::atomic<std::uint64_t> lost;  // a queued task that left without starting
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

/// Maps (creating and zeroing when `create`) the counters file.
inline shared_counters* map_counters(const std::string& path, bool create) {
  const int fd = ::open(path.c_str(), O_RDWR | (create ? O_CREAT | O_TRUNC : 0), 0600);
  if (fd < 0) throw std::runtime_error("cannot open " + path);
  if (create && ::ftruncate(fd, sizeof(shared_counters)) != 0) throw std::runtime_error("ftruncate " + path);
  void* p = ::mmap(nullptr, sizeof(shared_counters), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) throw std::runtime_error("mmap " + path);
  return static_cast<shared_counters*>(p);  // zero-filled file: every counter starts at 0
}

}  // namespace redis_test
