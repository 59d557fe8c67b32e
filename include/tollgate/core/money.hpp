// Exact money. `credits` and `usd` are fixed-point decimals (6 places by
// default) over a checked integer, so every amount parses, adds and prints
// exactly and an overflow is an error, never a wrap. The two currencies are
// distinct types that cannot be mixed; `credit_price` is the only bridge.
// Rounding is a policy (`round_up`, `half_up`, `exact`) applied once, where a
// charge is made. No constructor takes a floating-point value.
#pragma once

#include <algorithm>
#include <compare>
#include <concepts>
#include <cstdint>
#include <limits>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include <boost/multiprecision/cpp_int.hpp>
#include <fmt/format.h>

#include "detail/integer.hpp"
#include "error.hpp"

namespace tollgate {

/// The default representation of amounts: a 128-bit integer whose arithmetic
/// throws std::overflow_error instead of wrapping.
using checked_int128_t = boost::multiprecision::checked_int128_t;

namespace detail {

template <class Rep>
inline constexpr bool is_builtin_rep_v =
    std::is_integral_v<Rep> || std::is_same_v<Rep, __int128>;

[[noreturn]] inline void throw_overflow(const char* what) {
  throw std::overflow_error(what);
}

// Checked arithmetic that works the same for builtin integers (which would
// wrap or be undefined) and for Boost's checked numbers (which throw).
template <class Rep>
Rep checked_add(const Rep& a, const Rep& b) {
  if constexpr (is_builtin_rep_v<Rep>) {
    Rep r;
    if (__builtin_add_overflow(a, b, &r)) throw_overflow("overflow in addition");
    return r;
  } else {
    return a + b;
  }
}
template <class Rep>
Rep checked_sub(const Rep& a, const Rep& b) {
  if constexpr (is_builtin_rep_v<Rep>) {
    Rep r;
    if (__builtin_sub_overflow(a, b, &r)) throw_overflow("overflow in subtraction");
    return r;
  } else {
    return a - b;
  }
}
template <class Rep>
Rep checked_mul(const Rep& a, const Rep& b) {
  if constexpr (is_builtin_rep_v<Rep>) {
    Rep r;
    if (__builtin_mul_overflow(a, b, &r)) throw_overflow("overflow in multiplication");
    return r;
  } else {
    return a * b;
  }
}
template <class Rep>
Rep checked_neg(const Rep& a) {
  return checked_sub(Rep(0), a);
}

// An integer as a Rep, or std::overflow_error when it does not fit. A plain
// Rep(v) would wrap silently for builtin representations (uint64 max into an
// int64 is -1, 2^32 into an int32 is 0).
template <class Rep, std::integral I>
Rep to_rep(I v) {
  if constexpr (std::is_same_v<I, bool>) {
    return Rep(v ? 1 : 0);
  } else if constexpr (is_builtin_rep_v<Rep>) {
    Rep r;
    // The builtin computes v + 0 exactly and reports whether it fits in r.
    if (__builtin_add_overflow(v, I(0), &r)) throw_overflow("integer out of the amount's range");
    return r;
  } else {
    return Rep(v);
  }
}

// Boost's unchecked fixed-width integers (int128_t, ...) wrap on overflow,
// which is exactly what amounts must never do. (`auto` bit counts: Boost
// changed their type from unsigned to std::size_t in 1.79.)
template <class Rep>
struct wraps_on_overflow : std::false_type {};
template <auto MinBits, auto MaxBits, boost::multiprecision::cpp_integer_type Sign,
          class Alloc, boost::multiprecision::expression_template_option ET>
struct wraps_on_overflow<boost::multiprecision::number<
    boost::multiprecision::cpp_int_backend<MinBits, MaxBits, Sign, boost::multiprecision::unchecked,
                                           Alloc>,
    ET>>
    : std::bool_constant<std::numeric_limits<boost::multiprecision::number<
          boost::multiprecision::cpp_int_backend<MinBits, MaxBits, Sign,
                                                 boost::multiprecision::unchecked, Alloc>,
          ET>>::is_bounded> {};
template <class Rep>
inline constexpr bool wraps_on_overflow_v = wraps_on_overflow<Rep>::value;

template <class Rep>
Rep pow10(int n) {
  Rep r = 1;
  for (int i = 0; i < n; ++i) r = checked_mul(r, Rep(10));
  return r;
}

// Decimal digits of the magnitude of `v` (no sign). Exact for the most
// negative builtin value too, whose magnitude the signed type cannot hold.
template <class Rep>
std::string magnitude_digits(const Rep& v) {
  if constexpr (is_builtin_rep_v<Rep>) {
    using U = std::make_unsigned_t<Rep>;
    U u = static_cast<U>(v);
    if constexpr (static_cast<Rep>(-1) < Rep(0))
      if (v < Rep(0)) u = static_cast<U>(U(0) - u);  // modulo 2^N: the exact magnitude
    char buf[48];
    char* p = buf + sizeof buf;
    do {
      *--p = static_cast<char>('0' + static_cast<int>(u % 10));
      u /= 10;
    } while (u != 0);
    return std::string(p, buf + sizeof buf);
  } else {
    std::string s = v.str();
    if (!s.empty() && s.front() == '-') s.erase(0, 1);
    return s;
  }
}

}  // namespace detail

/// Tag of the credits currency.
struct credits_tag {
  static constexpr std::string_view name = "credits";
  static constexpr int min_print_decimals = 0;
};
/// Tag of the US dollar currency; printed with at least two decimals.
struct usd_tag {
  static constexpr std::string_view name = "USD";
  static constexpr int min_print_decimals = 2;
};

/**
 * A fixed-point decimal amount of the currency `Tag`: raw() units of
 * 10^-Scale.
 *
 * @tparam Tag   the currency (credits_tag, usd_tag); amounts of different
 *               tags never mix.
 * @tparam Rep   a signed integer: a builtin one or a checked (or unbounded)
 *               Boost.Multiprecision number; Boost's unchecked fixed-width
 *               integers wrap and are refused at compile time. Arithmetic is
 *               checked either way and throws std::overflow_error rather than
 *               wrap.
 * @tparam Scale decimal places, 0 to 18.
 *
 * Construct from an integer number of whole units (`credits{50}`), from a raw
 * count of the smallest unit (`credits::from_raw(500000)`), or by parsing an
 * exact decimal string (`credits::parse("12.5")`). Not thread-safe to mutate;
 * a value type.
 */
template <class Tag, class Rep, int Scale>
class basic_amount {
  static_assert(Scale >= 0 && Scale <= 18, "tollgate: Scale must be 0..18");
  static_assert(!detail::wraps_on_overflow_v<Rep>,
                "tollgate: Rep wraps on overflow; use a checked Boost integer such as "
                "boost::multiprecision::checked_int128_t, or a builtin integer");

 public:
  using rep = Rep;
  using tag = Tag;
  static constexpr int scale = Scale;

  /// Zero.
  basic_amount() = default;

  /// A whole number of units (`credits{50}` is fifty credits). Throws
  /// std::overflow_error when out of range (also when `whole` does not fit
  /// in Rep at all: an unsigned or wider integer never wraps).
  template <std::integral I>
  explicit basic_amount(I whole)
      : raw_(detail::checked_mul(detail::to_rep<Rep>(whole), unit())) {}

  /// Deleted: a binary floating-point value is not an exact amount. Use
  /// parse("12.5") or from_raw() instead.
  template <std::floating_point F>
  basic_amount(F) = delete;

  /// The amount of `raw` units of 10^-Scale.
  [[nodiscard]] static basic_amount from_raw(Rep raw) {
    basic_amount a;
    a.raw_ = std::move(raw);
    return a;
  }

  /// One whole unit in raw units (10^Scale).
  [[nodiscard]] static const Rep& unit() {
    static const Rep u = detail::pow10<Rep>(Scale);
    return u;
  }

  /// The largest representable amount.
  [[nodiscard]] static basic_amount max() {
    return from_raw((std::numeric_limits<Rep>::max)());
  }

  /**
   * Parses a plain decimal: an optional '-', one or more digits, optionally a
   * '.' followed by one to Scale digits. No spaces, '+', exponent, or digit
   * separators.
   * @return the exact amount, or errc::invalid_amount (malformed, too many
   *         decimal places) or errc::overflow (too large to represent).
   */
  [[nodiscard]] static result<basic_amount> parse(std::string_view s) {
    const std::string_view original = s;
    auto bad = [&](std::string_view why) {
      return result<basic_amount>(
          errc::invalid_amount,
          fmt::format("invalid {} amount '{}': {}", Tag::name, original, why));
    };
    bool negative = false;
    if (!s.empty() && s.front() == '-') {
      negative = true;
      s.remove_prefix(1);
    }
    if (s.empty()) return bad("expected digits such as 12.5");
    const auto dot = s.find('.');
    std::string_view whole = s.substr(0, dot);
    std::string_view frac =
        dot == std::string_view::npos ? std::string_view{} : s.substr(dot + 1);
    auto all_digits = [](std::string_view d) {
      return std::all_of(d.begin(), d.end(),
                         [](char c) { return c >= '0' && c <= '9'; });
    };
    if (whole.empty()) return bad("expected a digit before the decimal point");
    if (!all_digits(whole)) return bad("only digits and one decimal point are allowed");
    if (dot != std::string_view::npos) {
      if (frac.empty()) return bad("expected a digit after the decimal point");
      if (!all_digits(frac)) return bad("only digits and one decimal point are allowed");
      if (frac.size() > static_cast<std::size_t>(Scale))
        return bad(fmt::format("at most {} decimal places are allowed", Scale));
    }
    try {
      // Accumulate toward the sign of the result, so the most negative value
      // of a builtin Rep (whose magnitude does not fit) parses too.
      const auto step = [negative](const Rep& acc, const Rep& d) {
        return negative ? detail::checked_sub(acc, d) : detail::checked_add(acc, d);
      };
      Rep raw = 0;
      for (char c : whole) raw = step(detail::checked_mul(raw, Rep(10)), Rep(c - '0'));
      raw = detail::checked_mul(raw, unit());
      Rep f = 0;
      for (char c : frac)
        f = detail::checked_add(detail::checked_mul(f, Rep(10)), Rep(c - '0'));
      f = detail::checked_mul(f, detail::pow10<Rep>(Scale - static_cast<int>(frac.size())));
      raw = step(raw, f);
      return from_raw(std::move(raw));
    } catch (const std::overflow_error&) {
      return result<basic_amount>(
          errc::overflow,
          fmt::format("{} amount '{}' is too large to represent", Tag::name, original));
    }
  }

  /// The raw count of 10^-Scale units.
  [[nodiscard]] const Rep& raw() const noexcept { return raw_; }

  [[nodiscard]] bool is_zero() const { return raw_ == 0; }
  [[nodiscard]] bool is_negative() const { return raw_ < 0; }
  [[nodiscard]] bool is_positive() const { return raw_ > 0; }
  /// True when the amount has no fractional part.
  [[nodiscard]] bool is_whole() const { return raw_ % unit() == 0; }

  /**
   * Exact decimal text: "12.5", "50", "-0.000001". At least
   * `min_decimals` places are printed (default: none for credits, two for
   * usd), more only where the value needs them; trailing zeros beyond that
   * are dropped.
   */
  [[nodiscard]] std::string to_string(int min_decimals = Tag::min_print_decimals) const {
    // Division truncates toward zero, so whole and frac share raw's sign and
    // nothing is negated (the most negative builtin value has no negation).
    const bool negative = raw_ < 0;
    const Rep whole = raw_ / unit();
    const Rep frac = raw_ % unit();
    std::string out;
    if (negative) out.push_back('-');
    out += detail::magnitude_digits(whole);
    if constexpr (Scale > 0) {
      std::string f = detail::magnitude_digits(frac);
      f.insert(0, static_cast<std::size_t>(Scale) - f.size(), '0');
      std::size_t keep = f.size();
      const std::size_t min_keep =
          static_cast<std::size_t>(std::clamp(min_decimals, 0, Scale));
      while (keep > min_keep && f[keep - 1] == '0') --keep;
      if (keep > 0) {
        out.push_back('.');
        out.append(f, 0, keep);
      }
    }
    return out;
  }

  /// Writes to_string() (so test frameworks can print amounts).
  friend std::ostream& operator<<(std::ostream& os, const basic_amount& a) {
    return os << a.to_string();
  }

  friend bool operator==(const basic_amount& a, const basic_amount& b) {
    return a.raw_ == b.raw_;
  }
  friend std::strong_ordering operator<=>(const basic_amount& a, const basic_amount& b) {
    if (a.raw_ < b.raw_) return std::strong_ordering::less;
    if (b.raw_ < a.raw_) return std::strong_ordering::greater;
    return std::strong_ordering::equal;
  }

  /// Arithmetic throws std::overflow_error instead of wrapping.
  friend basic_amount operator+(const basic_amount& a, const basic_amount& b) {
    return from_raw(detail::checked_add(a.raw_, b.raw_));
  }
  friend basic_amount operator-(const basic_amount& a, const basic_amount& b) {
    return from_raw(detail::checked_sub(a.raw_, b.raw_));
  }
  friend basic_amount operator-(const basic_amount& a) {
    return from_raw(detail::checked_neg(a.raw_));
  }
  basic_amount& operator+=(const basic_amount& b) { return *this = *this + b; }
  basic_amount& operator-=(const basic_amount& b) { return *this = *this - b; }

  /// Scaling by a count (jobs, blocks, seconds).
  template <std::integral I>
  friend basic_amount operator*(const basic_amount& a, I n) {
    return from_raw(detail::checked_mul(a.raw_, detail::to_rep<Rep>(n)));
  }
  template <std::integral I>
  friend basic_amount operator*(I n, const basic_amount& a) {
    return a * n;
  }
  template <std::floating_point F>
  friend basic_amount operator*(const basic_amount&, F) = delete;  // not exact

 private:
  Rep raw_ = 0;
};

/// Credits with a chosen representation and number of decimal places.
template <class Rep = checked_int128_t, int Scale = 6>
using basic_credits = basic_amount<credits_tag, Rep, Scale>;
/// Dollars with a chosen representation and number of decimal places.
template <class Rep = checked_int128_t, int Scale = 6>
using basic_usd = basic_amount<usd_tag, Rep, Scale>;

/// Credits in micro-credits over a checked 128-bit integer.
using credits = basic_credits<>;
/// US dollars in micro-dollars over a checked 128-bit integer.
using usd = basic_usd<>;

template <class T>
inline constexpr bool is_amount_v = false;
template <class Tag, class Rep, int Scale>
inline constexpr bool is_amount_v<basic_amount<Tag, Rep, Scale>> = true;

/// An amount type such as credits or usd.
template <class T>
concept Amount = is_amount_v<T>;

// ---------------------------------------------------------------- rounding

/// Rounds up (toward +infinity) to a whole unit: the default for charges.
struct round_up {
  static constexpr std::string_view name = "round_up";
  template <Amount A>
  [[nodiscard]] static A apply(const A& a) {
    return A::from_raw(detail::checked_mul(detail::ceil_div(a.raw(), A::unit()), A::unit()));
  }
};

/// Rounds to the nearest whole unit, halves away from zero.
struct half_up {
  static constexpr std::string_view name = "half_up";
  template <Amount A>
  [[nodiscard]] static A apply(const A& a) {
    using R = typename A::rep;
    const R& u = A::unit();
    const bool neg = a.raw() < 0;
    R mag = neg ? detail::checked_neg(a.raw()) : a.raw();
    R q = mag / u;
    if (detail::checked_mul(R(mag % u), R(2)) >= u) q = detail::checked_add(q, R(1));
    R r = detail::checked_mul(q, u);
    return A::from_raw(neg ? detail::checked_neg(r) : r);
  }
};

/// No rounding: charges the exact amount to the last decimal place.
struct exact {
  static constexpr std::string_view name = "exact";
  template <Amount A>
  [[nodiscard]] static A apply(const A& a) {
    return a;
  }
};

/// A rounding policy: `R::apply(amount) -> amount`, plus a printable name.
template <class R>
concept Rounding = requires(const credits& c) {
  { R::apply(c) } -> std::same_as<credits>;
  { R::name } -> std::convertible_to<std::string_view>;
};

// ------------------------------------------------------------ credit price

/**
 * The price of one credit in dollars: the only bridge between credits and usd.
 *
 * Dollars to credits truncates toward zero at the last credit decimal (a
 * customer never receives credits they did not pay for); credits to dollars
 * rounds half-up at the last dollar decimal (exact for every price with at
 * most six decimals times any amount of whole credits).
 */
template <class Credits = credits, class Usd = usd>
class basic_credit_price {
 public:
  using credits_type = Credits;
  using usd_type = Usd;
  using rep = typename Credits::rep;

  /// $0.01 per credit.
  basic_credit_price() : per_credit_(Usd::from_raw(detail::pow10<rep>(Usd::scale - 2))) {}

  /// Throws std::invalid_argument unless `per_credit` is positive.
  explicit basic_credit_price(Usd per_credit) : per_credit_(per_credit) {
    if (!per_credit_.is_positive())
      throw std::invalid_argument("tollgate: a credit price must be positive, got $" +
                                  per_credit_.to_string());
  }

  [[nodiscard]] const Usd& per_credit() const noexcept { return per_credit_; }

  /// The dollar value of `c`. Throws std::overflow_error when out of range.
  [[nodiscard]] Usd to_usd(const Credits& c) const {
    // usd_raw = c_raw * p_raw / 10^credit_scale, rounded half away from zero.
    const rep prod = detail::checked_mul(c.raw(), per_credit_.raw());
    const rep& d = Credits::unit();
    const bool neg = prod < 0;
    rep mag = neg ? detail::checked_neg(prod) : prod;
    rep q = mag / d;
    if (detail::checked_mul(rep(mag % d), rep(2)) >= d) q = detail::checked_add(q, rep(1));
    return Usd::from_raw(neg ? detail::checked_neg(q) : q);
  }

  /// The credits that `d` dollars buy, truncated toward zero.
  [[nodiscard]] Credits to_credits(const Usd& d) const {
    const rep num = detail::checked_mul(d.raw(), Credits::unit());
    return Credits::from_raw(num / per_credit_.raw());
  }

  friend bool operator==(const basic_credit_price&, const basic_credit_price&) = default;

 private:
  Usd per_credit_;
};

using credit_price = basic_credit_price<>;

namespace literals {
/// `50_cr`: fifty credits.
inline credits operator""_cr(unsigned long long n) { return credits(n); }
/// `10_usd`: ten dollars.
inline usd operator""_usd(unsigned long long n) { return usd(n); }
}  // namespace literals

}  // namespace tollgate

/// Formats an amount exactly, honouring string format specs ("{:>12}").
template <class Tag, class Rep, int Scale>
struct fmt::formatter<tollgate::basic_amount<Tag, Rep, Scale>>
    : fmt::formatter<std::string_view> {
  template <class FormatContext>
  auto format(const tollgate::basic_amount<Tag, Rep, Scale>& a, FormatContext& ctx) const {
    const std::string s = a.to_string();
    return fmt::formatter<std::string_view>::format(std::string_view(s), ctx);
  }
};
