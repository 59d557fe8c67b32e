// Limiter decisions and what the limiters in limits/ share. A limiter that says
// no has not failed: every admission check returns a plain decision value
// (allowed, what remains, when to retry, and why not), never an error.
// Configuration that can never work (a zero rate, a zero burst, a period that
// is not a whole number of buckets) is refused at construction with a
// limit_config_error naming the component, the field and the reason. The
// limits::detail helpers here convert clock readings to integer nanoseconds,
// the one time unit every limiter computes in.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>

#include "../core/detail/integer.hpp"
#include "../core/error.hpp"
#include "../core/format.hpp"

namespace tollgate {

/// Why a limiter decided as it did.
enum class limit_reason : std::uint8_t {
  none,           ///< admitted
  limited,        ///< not enough capacity now; it frees up after retry_after
  exceeds_burst,  ///< larger than the limiter can ever admit at once; waiting does not help
  wait_too_long,  ///< reserve(): the wait would exceed the caller's maximum or the debt limit
  registry_full,  ///< keyed: a new key, and the registry is at its cap with nothing evictable
};

/// The name of a reason, for logs ("limited", "exceeds_burst", ...).
[[nodiscard]] constexpr std::string_view to_string(limit_reason r) noexcept {
  switch (r) {
    case limit_reason::none: return "none";
    case limit_reason::limited: return "limited";
    case limit_reason::exceeds_burst: return "exceeds_burst";
    case limit_reason::wait_too_long: return "wait_too_long";
    case limit_reason::registry_full: return "registry_full";
  }
  return "unknown";
}

/**
 * What a limiter decided about one request.
 *
 * @tparam Quantity what the limiter counts: tokens (std::uint64_t) for a token
 *         bucket, the window's amount type for a rolling window.
 *
 * `allowed` says whether the request was admitted (and its cost taken);
 * `remaining` is what is left for the next request right after this decision;
 * `retry_after` is, when refused with reason `limited`, the wait after which
 * the same request would be admitted if nothing else happened meanwhile; for
 * an admitted reserve() it is the wait before the reserved tokens are really
 * there. It is `nanoseconds::max()` when waiting can never help
 * (`exceeds_burst`). A value type.
 */
template <class Quantity>
struct [[nodiscard]] basic_limit_decision {
  bool allowed = false;
  Quantity remaining{};
  std::chrono::nanoseconds retry_after{0};
  limit_reason reason = limit_reason::none;

  /// True when admitted.
  explicit operator bool() const noexcept { return allowed; }
};

/// A token bucket's decision: whole tokens remaining.
using limit_decision = basic_limit_decision<std::uint64_t>;

/**
 * A limiter was configured with values that can never work (a rate of zero, a
 * burst of zero, a burst whose refill time does not fit the exact arithmetic,
 * a window period that is not a whole number of buckets). Thrown at
 * construction and by the setters; the limiter is unchanged when a setter
 * throws.
 */
class limit_config_error : public config_error {
 public:
  /// source() is the component ("token_rate", "keyed", ...), path() the field.
  limit_config_error(std::string_view component, std::string_view field, std::string_view reason)
      : config_error("tollgate: " + std::string(component) + ": " + std::string(field) + ": " + std::string(reason),
                     component, field, reason) {}

  /// The offending field ("rate", "burst", "period", ...): the same as path().
  [[nodiscard]] const std::string& field() const noexcept { return path(); }
};

namespace limits::detail {

// The integer helpers of core/detail/integer.hpp, under the names the
// limiters have always used.
using tollgate::detail::ceil_div;
using tollgate::detail::floor_div;
using tollgate::detail::gcd;
using tollgate::detail::i128;
using tollgate::detail::saturate_ns;
using tollgate::detail::to_ns;
using tollgate::detail::u128;

}  // namespace limits::detail
}  // namespace tollgate
