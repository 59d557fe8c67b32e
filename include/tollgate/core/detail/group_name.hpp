// The rule for a model group's name, shared by the catalog (which puts each
// model in a group) and the tier table (which gives each group its limits),
// so that both accept exactly the same names: 1 to 64 of a-z 0-9 _ - .
#pragma once

#include <algorithm>
#include <cstddef>
#include <string_view>

namespace tollgate::detail {

/// The longest model group name.
inline constexpr std::size_t max_group_name_size = 64;

[[nodiscard]] constexpr bool valid_group_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

/// True when `name` is a valid model group name.
[[nodiscard]] constexpr bool valid_group_name(std::string_view name) noexcept {
  return !name.empty() && name.size() <= max_group_name_size &&
         std::all_of(name.begin(), name.end(), valid_group_char);
}

}  // namespace tollgate::detail
