// Per-account state of the tier engine, keyed by account id and looked up by
// std::string_view without building a std::string.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace tollgate::tiers::detail {

struct string_hash {
  using is_transparent = void;
  [[nodiscard]] std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

/// account id -> V, with heterogeneous lookup.
template <class V>
using account_map = std::unordered_map<std::string, V, string_hash, std::equal_to<>>;

/// The state of `account` in `m`, made (default) when it has none.
template <class V>
V& state_of(account_map<V>& m, std::string_view account) {
  auto it = m.find(account);
  if (it == m.end()) it = m.emplace(std::string(account), V{}).first;
  return it->second;
}

}  // namespace tollgate::tiers::detail
