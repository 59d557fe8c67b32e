// Enums format through fmt by name. Every tollgate enum with a `to_string`
// (limit_reason, task_status, payment_status, ...) gets `format_as` from the
// one template below, found by argument-dependent lookup, so
// fmt::format("{}", limit_reason::limited) is "limited" and a format spec
// applies to the name ("{:>12}"). fmt 10 and later format any type through a
// `format_as` that returns a formattable value; fmt 9 (Debian 12) only
// through one that returns an integer, so for fmt before 10 one constrained
// fmt::formatter specialisation does the same. A header that declares such
// an enum includes this one.
#pragma once

#include <concepts>
#include <string_view>
#include <type_traits>

#include <fmt/format.h>

namespace tollgate {

namespace detail {

/// An enum with a `to_string(e)` that returns its name, found by
/// argument-dependent lookup.
template <class E>
concept named_enum = std::is_enum_v<E> && requires(E e) {
  { to_string(e) } -> std::same_as<std::string_view>;
};

}  // namespace detail

/// The name of `e` as fmt prints it: `to_string(e)`.
template <detail::named_enum E>
[[nodiscard]] constexpr std::string_view format_as(E e) noexcept(noexcept(to_string(e))) {
  return to_string(e);
}

}  // namespace tollgate

#if FMT_VERSION < 100000
/// fmt 9: formats an enum through a `format_as` that returns a string_view
/// (found by argument-dependent lookup: tollgate's above, or a host's own),
/// as fmt 10 does natively. Specs are those of string_view.
template <class E>
  requires std::is_enum_v<E> && requires(E e) {
    { format_as(e) } -> std::same_as<std::string_view>;
  }
struct fmt::formatter<E, char> : fmt::formatter<std::string_view, char> {
  template <class FormatContext>
  auto format(E e, FormatContext& ctx) const {
    return fmt::formatter<std::string_view, char>::format(format_as(e), ctx);
  }
};
#endif
