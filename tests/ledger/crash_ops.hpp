// The operation sequence of the crash test, shared by the parent (which runs
// it against the reference model) and the child process (which runs it
// against a journal until it is killed). Operation `i` depends only on the
// seed and `i`, and runs at ledger time `time_of(i)`, so both sides agree on
// every step without talking to each other.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "reference_model.hpp"

namespace crash_ops {

inline constexpr long long second = 1'000'000'000;

inline long long time_of(std::uint64_t i) { return 1'000 * second + static_cast<long long>(i) * second; }

/// Operation `i`: one operation, or a linked chain of two or three.
inline std::vector<model::op> ops_for(std::uint64_t seed, std::uint64_t i) {
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + i);
  auto pick = [&](long long lo, long long hi) {
    return std::uniform_int_distribution<long long>(lo, hi)(rng);
  };
  static const char* accounts[] = {"acme", "globex", "initech"};
  auto one = [&](int salt) {
    model::op o;
    o.key = "op" + std::to_string(i) + "." + std::to_string(salt);
    o.account = accounts[pick(0, 2)];
    const long long k = pick(1, 100);
    if (k <= 22) {
      o.kind = tollgate::operation_kind::purchase;
      o.amount = pick(1, 5) * 1'000'000;
    } else if (k <= 30) {
      o.kind = tollgate::operation_kind::grant;
      o.amount = pick(1, 30) * 1'000'000;
      o.aux = pick(0, 1) ? model::never : time_of(i) + pick(5, 60) * second;
    } else if (k <= 50) {
      o.kind = tollgate::operation_kind::hold;
      o.amount = pick(1, 40) * 1'000'000;
      o.aux = pick(0, 1) ? -1 : pick(3, 30) * second;
    } else if (k <= 62) {
      o.kind = tollgate::operation_kind::capture;
      o.hold = static_cast<std::uint64_t>(pick(1, static_cast<long long>(i / 3 + 2)));
      o.amount = pick(0, 20) * 1'000'000;
    } else if (k <= 68) {
      o.kind = tollgate::operation_kind::release;
      o.hold = static_cast<std::uint64_t>(pick(1, static_cast<long long>(i / 3 + 2)));
    } else if (k <= 94) {
      o.kind = tollgate::operation_kind::charge;
      o.amount = pick(1, 25'000'000);
    } else {
      o.kind = tollgate::operation_kind::adjust;
      o.amount = pick(0, 1) ? pick(1, 5) * 1'000'000 : -pick(1, 5) * 1'000'000;
      o.reason = "crash test";
    }
    return o;
  };
  std::vector<model::op> ops;
  const int n = pick(1, 10) <= 7 ? 1 : static_cast<int>(pick(2, 3));
  for (int j = 0; j < n; ++j) {
    ops.push_back(one(j));
    ops.back().linked = j + 1 < n;
  }
  return ops;
}

}  // namespace crash_ops
