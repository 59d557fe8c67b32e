// The seed of the randomized limiter tests: a fixed default so runs are
// reproducible, overridden by the environment variable TOLLGATE_TEST_SEED.
// Tests INFO() it, so every failure report carries the seed to replay.
#pragma once

#include <cstdint>
#include <cstdlib>

namespace tollgate_test {

inline std::uint64_t test_seed(std::uint64_t fallback = 0x7011'6a7e'2024ULL) {
  if (const char* s = std::getenv("TOLLGATE_TEST_SEED"); s != nullptr && *s != '\0')
    return std::strtoull(s, nullptr, 0);
  return fallback;
}

}  // namespace tollgate_test
