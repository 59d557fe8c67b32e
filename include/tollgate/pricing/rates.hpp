// Rate policies: how one model prices one job's usage. A `Rate` is anything
// with `cost(const usage&) -> result<credits>`; the shipped ones are
// `per_second`, `per_generation`, `per_characters`, `per_block` and `flat`, and
// they compose with `sum_of`, `min_of` and `max_of` (a `max_of(rate, flat{..})`
// is a minimum charge). A catalog holds its models' rates as `any_rate`, a
// small type-erased handle, so built-in, composed, user-defined and
// JSON-loaded rates live side by side. Every rate is exact: quantities are
// integers, prices are credits, and overflow is errc::overflow, never a wrap.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "../core/detail/integer.hpp"
#include "../core/error.hpp"
#include "../core/money.hpp"
#include "../core/units.hpp"
#include "quote.hpp"
#include "usage.hpp"

namespace tollgate {

/**
 * A rate: prices one job's usage exactly.
 *
 * Required: `r.cost(u)` returning `result<credits>` (errc::invalid_usage when
 * a field it needs is missing or out of its domain, errc::invalid_utf8 for bad
 * text, errc::overflow when the cost is not representable). Optional, used by
 * catalogs when present: `itemize(u, breakdown*)` (cost plus breakdown lines),
 * `fields()` (the usage_fields it reads), `describe()` (one line of text),
 * `resolutions()` (the resolution values it prices) and
 * `itemize_raw(u, breakdown*, int64&)` (an int64 fast path that may decline).
 * A rate must be safe to call from many threads at once (const, no mutable
 * state), as catalogs share it; catalogs take it by value (move-constructible).
 * The requirements in full: docs/policies-reference.md.
 */
template <class R>
concept Rate = requires(const R& r, const usage& u) {
  { r.cost(u) } -> std::same_as<result<credits>>;
} && std::move_constructible<R>;  // second: a type without cost() never asks (any_rate's constructor would recurse)

/// A Rate that can also explain itself line by line and name the fields it reads.
template <class R>
concept ItemizedRate = Rate<R> && requires(const R& r, const usage& u, breakdown* b) {
  { r.itemize(u, b) } -> std::same_as<result<credits>>;
  { r.fields() } -> std::same_as<usage_fields>;
};

namespace detail {

// Runs `f` (which returns result<credits>) and turns the overflow exception of
// checked arithmetic into errc::overflow, so no rate ever throws it.
template <class F>
[[nodiscard]] result<credits> guard_overflow(F&& f) {
  try {
    return std::forward<F>(f)();
  } catch (const std::overflow_error&) {
    return result<credits>(errc::overflow,
                           "the cost is too large to represent in credits");
  }
}

// The raw micro-credits of `v` as an int64 when they fit.
[[nodiscard]] inline bool to_int64(const credits::rep& v, std::int64_t& out) {
  static const credits::rep lo((std::numeric_limits<std::int64_t>::min)());
  static const credits::rep hi((std::numeric_limits<std::int64_t>::max)());
  if (v < lo || hi < v) return false;
  out = static_cast<std::int64_t>(v);
  return true;
}

// A price that also keeps its raw micro-credits as an int64 when they fit, so
// multiplying it by a count is one overflow-checked machine multiply; the
// 128-bit checked multiply (an order of magnitude slower) is the fallback.
class fast_price {
 public:
  fast_price() = default;
  explicit fast_price(credits c) : value_(std::move(c)) { small_ = to_int64(value_.raw(), raw_); }

  [[nodiscard]] const credits& value() const noexcept { return value_; }

  // value × n in raw micro-credits, when it fits an int64.
  [[nodiscard]] bool times_raw(std::int64_t n, std::int64_t& out) const noexcept {
    return small_ && !__builtin_mul_overflow(raw_, n, &out);
  }

  // value × n, exactly; throws std::overflow_error when not representable.
  [[nodiscard]] credits times(std::int64_t n) const {
    std::int64_t r;
    if (small_ && !__builtin_mul_overflow(raw_, n, &r)) return credits::from_raw(credits::rep(r));
    return value_ * n;
  }

 private:
  credits value_;
  std::int64_t raw_ = 0;
  bool small_ = true;
};

[[nodiscard]] inline std::string credits_text(const credits& c) {
  return fmt::format("{} credit{}", c.to_string(), c == credits{1} ? "" : "s");
}

inline void require_non_negative(const credits& c, std::string_view what) {
  if (c.is_negative())
    throw std::invalid_argument(
        fmt::format("tollgate: {} must not be negative, got {}", what, c.to_string()));
}

[[nodiscard]] inline result<credits> needs(std::string_view field) {
  return result<credits>(errc::invalid_usage, fmt::format("needs '{}'", field));
}

[[nodiscard]] inline result<credits> positive_seconds(const media_duration& d) {
  return result<credits>(errc::invalid_usage,
                         fmt::format("'seconds' must be positive, got {}", format_seconds(d)));
}

// The raw fast path of any Rate (see per_second::itemize_raw); false when it has none.
template <class R>
[[nodiscard]] bool itemize_raw(const R& r, const usage& u, breakdown* b, std::int64_t& raw) {
  if constexpr (requires { { r.itemize_raw(u, b, raw) } -> std::same_as<bool>; })
    return r.itemize_raw(u, b, raw);
  else
    return false;
}

// The amount of `raw` >= 0 raw units, built from an unsigned value so that
// the 128-bit sign-magnitude representation needs no sign test.
template <class A>
[[nodiscard]] TOLLGATE_HOT_INLINE A from_nonnegative_raw(std::int64_t raw) {
  return A::from_raw(typename A::rep(static_cast<std::uint64_t>(raw)));
}

// A line whose amount is `raw` >= 0 micro-credits (a non-negative price
// times a positive count: what every shipped int64 path computes).
TOLLGATE_HOT_INLINE void add_raw_line(breakdown* b, std::string_view item, std::string_view variant,
                                      quantity_unit unit, std::int64_t used, std::int64_t block,
                                      std::int64_t blocks, const credits& price, std::int64_t raw) {
  if (b) b->add_raw(item, variant, unit, used, block, blocks, price, raw);
}

// Itemizes any Rate: through itemize() when it has one, else as one line.
template <Rate R>
[[nodiscard]] result<credits> itemize(const R& r, const usage& u, breakdown* b) {
  if constexpr (ItemizedRate<R>) {
    return r.itemize(u, b);
  } else {
    auto c = r.cost(u);
    if (c && b) {
      return guard_overflow([&]() -> result<credits> {
        b->add("rate", std::string_view{}, quantity_unit::job, 1, 1, 1, *c, *c);
        return c;
      });
    }
    return c;
  }
}

template <class R>
[[nodiscard]] usage_fields fields_of(const R& r) {
  if constexpr (requires { { r.fields() } -> std::same_as<usage_fields>; })
    return r.fields();
  else
    return usage_fields::unknown;
}

template <class R>
[[nodiscard]] std::string describe_of(const R& r) {
  if constexpr (requires { { r.describe() } -> std::convertible_to<std::string>; })
    return r.describe();
  else
    return "custom rate";
}

template <class R>
[[nodiscard]] std::vector<std::string_view> resolutions_of(const R& r) {
  if constexpr (requires { { r.resolutions() } -> std::convertible_to<std::vector<std::string_view>>; })
    return r.resolutions();
  else
    return {};
}

inline void add_unique(std::vector<std::string_view>& to, const std::vector<std::string_view>& from) {
  for (std::string_view s : from)
    if (std::find(to.begin(), to.end(), s) == to.end()) to.push_back(s);
}

}  // namespace detail

// ------------------------------------------------------------------ per_second

/**
 * Credits per second of media, billing whole seconds: a fraction of a second
 * is billed as a whole one (10.2 s costs 11 seconds).
 *
 * Reads `seconds` (required, positive) and, when an audio price is set,
 * `audio`: with `audio = true` the with-audio price applies instead of the
 * base price. Immutable; thread-safe.
 */
class per_second {
 public:
  /// `price` credits per second. Throws std::invalid_argument if negative.
  explicit per_second(credits price) : price_(std::move(price)) {
    detail::require_non_negative(price_.value(), "credits_per_second");
  }
  /// `price` credits per second, `with_audio` per second when audio is asked for.
  per_second(credits price, credits with_audio)
      : price_(std::move(price)), with_audio_(detail::fast_price(std::move(with_audio))) {
    detail::require_non_negative(price_.value(), "credits_per_second");
    detail::require_non_negative(with_audio_->value(), "credits_per_second_with_audio");
  }

  [[nodiscard]] result<credits> cost(const usage& u) const { return itemize(u, nullptr); }

  /// The cost, appending one line to `*b` when `b` is not null.
  [[nodiscard]] result<credits> itemize(const usage& u, breakdown* b) const {
    if (!u.seconds) return detail::needs("seconds");
    const std::int64_t ms = u.seconds->count();
    if (ms <= 0) return detail::positive_seconds(*u.seconds);
    const std::int64_t secs = detail::ceil_div(ms, 1000);
    const bool audio = u.audio && with_audio_.has_value();
    const detail::fast_price& p = audio ? *with_audio_ : price_;
    return detail::guard_overflow([&]() -> result<credits> {
      credits amount = p.times(secs);
      if (b)
        b->add("seconds", audio ? std::string_view("with audio") : std::string_view(),
               quantity_unit::milliseconds, ms, 1000, secs, p.value(), amount);
      return amount;
    });
  }

  /**
   * The fast path of itemize(): when the usage is valid and the cost fits an
   * int64 of micro-credits, writes it to `raw`, appends the line and returns
   * true; otherwise returns false having changed nothing, and itemize() gives
   * the answer (an error, or the 128-bit result).
   */
  [[nodiscard]] TOLLGATE_HOT_INLINE bool itemize_raw(const usage& u, breakdown* b,
                                                   std::int64_t& raw) const {
    if (!u.seconds || u.seconds->count() <= 0) return false;
    const std::int64_t ms = u.seconds->count();
    const std::int64_t secs = detail::ceil_div(ms, 1000);
    const bool audio = u.audio && with_audio_.has_value();
    const detail::fast_price& p = audio ? *with_audio_ : price_;
    if (!p.times_raw(secs, raw)) return false;
    detail::add_raw_line(b, "seconds", audio ? std::string_view("with audio") : std::string_view(),
                         quantity_unit::milliseconds, ms, 1000, secs, p.value(), raw);
    return true;
  }

  [[nodiscard]] usage_fields fields() const noexcept {
    return with_audio_ ? usage_fields::seconds | usage_fields::audio : usage_fields::seconds;
  }
  [[nodiscard]] std::string describe() const {
    std::string s = fmt::format("{} per second", detail::credits_text(price_.value()));
    if (with_audio_) s += fmt::format(" ({} with audio)", with_audio_->value().to_string());
    return s;
  }
  /// Credits per second (without audio).
  [[nodiscard]] const credits& price() const noexcept { return price_.value(); }
  /// Credits per second with audio, if the rate has an audio price.
  [[nodiscard]] std::optional<credits> with_audio() const {
    return with_audio_ ? std::optional<credits>(with_audio_->value()) : std::nullopt;
  }

 private:
  detail::fast_price price_;
  std::optional<detail::fast_price> with_audio_;
};

// -------------------------------------------------------------- per_generation

/// The price of one output at one resolution.
struct resolution_price {
  std::string resolution;
  credits price;
};

/**
 * Credits per generated output, optionally by resolution.
 *
 * Reads `outputs` (default 1, at least 1) and, when priced by resolution,
 * `resolution` (required, one of the priced values). Immutable; thread-safe.
 */
class per_generation {
 public:
  /// `price` credits per output. Throws std::invalid_argument if negative.
  explicit per_generation(credits price) : price_(std::move(price)) {
    detail::require_non_negative(price_.value(), "credits_per_output");
  }
  /// A price per output for each resolution, in the order given. Throws
  /// std::invalid_argument when empty, a name repeats or is empty, or a price
  /// is negative.
  explicit per_generation(std::vector<resolution_price> by_resolution)
      : by_resolution_(std::move(by_resolution)) {
    fast_by_resolution_.reserve(by_resolution_.size());
    if (by_resolution_.empty())
      throw std::invalid_argument("tollgate: credits_by_resolution needs at least one resolution");
    for (std::size_t i = 0; i < by_resolution_.size(); ++i) {
      const auto& r = by_resolution_[i];
      if (r.resolution.empty())
        throw std::invalid_argument("tollgate: a resolution name must not be empty");
      detail::require_non_negative(r.price, "credits_by_resolution." + r.resolution);
      for (std::size_t j = 0; j < i; ++j)
        if (by_resolution_[j].resolution == r.resolution)
          throw std::invalid_argument(
              fmt::format("tollgate: resolution '{}' is priced twice", r.resolution));
      fast_by_resolution_.emplace_back(r.price);
    }
  }

  [[nodiscard]] result<credits> cost(const usage& u) const { return itemize(u, nullptr); }

  /// The cost, appending one line to `*b` when `b` is not null.
  [[nodiscard]] result<credits> itemize(const usage& u, breakdown* b) const {
    const std::int64_t n = u.outputs ? u.outputs->value : 1;
    if (n < 1)
      return result<credits>(errc::invalid_usage,
                             fmt::format("'outputs' must be at least 1, got {}", n));
    const detail::fast_price* p = &price_;
    std::string_view variant;
    if (!by_resolution_.empty()) {
      if (!u.resolution)
        return result<credits>(errc::invalid_usage,
                               fmt::format("needs 'resolution' (one of {})", names()));
      const auto it = std::find_if(by_resolution_.begin(), by_resolution_.end(),
                                   [&](const resolution_price& r) { return r.resolution == *u.resolution; });
      if (it == by_resolution_.end())
        return result<credits>(errc::invalid_usage,
                               fmt::format("'resolution' must be one of {}, got '{}'", names(),
                                           *u.resolution));
      p = &fast_by_resolution_[static_cast<std::size_t>(it - by_resolution_.begin())];
      variant = it->resolution;
    }
    return detail::guard_overflow([&]() -> result<credits> {
      credits amount = p->times(n);
      if (b)
        b->add("outputs", variant, quantity_unit::outputs, n, 1, n, p->value(), amount);
      return amount;
    });
  }

  /// The int64 fast path of itemize(); see per_second::itemize_raw.
  [[nodiscard]] TOLLGATE_HOT_INLINE bool itemize_raw(const usage& u, breakdown* b,
                                                   std::int64_t& raw) const {
    const std::int64_t n = u.outputs ? u.outputs->value : 1;
    if (n < 1) return false;
    const detail::fast_price* p = &price_;
    std::string_view variant;
    if (!by_resolution_.empty()) {
      if (!u.resolution) return false;
      std::size_t i = 0;
      while (i < by_resolution_.size() && by_resolution_[i].resolution != *u.resolution) ++i;
      if (i == by_resolution_.size()) return false;
      p = &fast_by_resolution_[i];
      variant = by_resolution_[i].resolution;
    }
    if (!p->times_raw(n, raw)) return false;
    detail::add_raw_line(b, "outputs", variant, quantity_unit::outputs, n, 1, n, p->value(), raw);
    return true;
  }

  [[nodiscard]] usage_fields fields() const noexcept {
    return by_resolution_.empty() ? usage_fields::outputs
                                  : usage_fields::outputs | usage_fields::resolution;
  }
  [[nodiscard]] std::string describe() const {
    if (by_resolution_.empty())
      return fmt::format("{} per output", detail::credits_text(price_.value()));
    std::string s;
    for (const auto& r : by_resolution_)
      s += fmt::format("{}{} per output at {}", s.empty() ? "" : ", ",
                       detail::credits_text(r.price), r.resolution);
    return s;
  }
  /// The priced resolutions, in order (empty for a single price).
  [[nodiscard]] std::vector<std::string_view> resolutions() const {
    std::vector<std::string_view> v;
    for (const auto& r : by_resolution_) v.push_back(r.resolution);
    return v;
  }
  /// Credits per output (when not priced by resolution).
  [[nodiscard]] const credits& price() const noexcept { return price_.value(); }
  /// Credits per output by resolution (empty for a single price).
  [[nodiscard]] const std::vector<resolution_price>& by_resolution() const noexcept {
    return by_resolution_;
  }

 private:
  std::string names() const {
    std::string s;
    for (const auto& r : by_resolution_) s += fmt::format("{}{}", s.empty() ? "" : ", ", r.resolution);
    return s;
  }

  detail::fast_price price_;
  std::vector<resolution_price> by_resolution_;
  std::vector<detail::fast_price> fast_by_resolution_;  // parallel to by_resolution_
};

// -------------------------------------------------------------- per_characters

/**
 * `price` credits per block of `characters` Unicode code points of input
 * text, blocks rounded up (1 credit per 50 characters: 51 characters cost 2).
 *
 * Reads `text` (required, non-empty, valid UTF-8). Immutable; thread-safe.
 */
class per_characters {
 public:
  /// Throws std::invalid_argument if `price` is negative or `characters` < 1.
  per_characters(credits price, std::int64_t characters)
      : price_(std::move(price)), block_(characters) {
    detail::require_non_negative(price_.value(), "credits");
    if (block_ < 1)
      throw std::invalid_argument(
          fmt::format("tollgate: characters per block must be at least 1, got {}", block_));
  }

  [[nodiscard]] result<credits> cost(const usage& u) const { return itemize(u, nullptr); }

  /// The cost, appending one line to `*b` when `b` is not null.
  [[nodiscard]] result<credits> itemize(const usage& u, breakdown* b) const {
    if (!u.text) return detail::needs("text");
    auto chars = count_characters(*u.text);
    if (!chars) return chars.error();
    return itemize_counted(*chars, b);
  }

  /// The cost of `chars` characters already counted (and validated) by the caller.
  [[nodiscard]] result<credits> itemize_counted(characters chars, breakdown* b) const {
    if (chars.value <= 0) return result<credits>(errc::invalid_usage, "'text' is empty");
    const std::int64_t blocks = detail::ceil_div(chars.value, block_);
    return detail::guard_overflow([&]() -> result<credits> {
      credits amount = price_.times(blocks);
      if (b)
        b->add("characters", std::string_view{}, quantity_unit::characters, chars.value, block_,
               blocks, price_.value(), amount);
      return amount;
    });
  }

  [[nodiscard]] usage_fields fields() const noexcept { return usage_fields::text; }
  [[nodiscard]] std::string describe() const {
    return fmt::format("{} per {} character{}", detail::credits_text(price_.value()), block_,
                       block_ == 1 ? "" : "s");
  }
  /// Credits per block of characters.
  [[nodiscard]] const credits& price() const noexcept { return price_.value(); }
  [[nodiscard]] std::int64_t characters_per_block() const noexcept { return block_; }

 private:
  detail::fast_price price_;
  std::int64_t block_;
};

// ------------------------------------------------------------------- per_block

/**
 * `price` credits per block of `block` media time, blocks rounded up (1 credit
 * per 6 seconds: 6.001 s costs 2).
 *
 * Reads `seconds` (required, positive). Immutable; thread-safe.
 */
class per_block {
 public:
  /// Throws std::invalid_argument if `price` is negative or `block` is not positive.
  per_block(credits price, media_duration block) : price_(std::move(price)), block_(block) {
    detail::require_non_negative(price_.value(), "credits");
    if (block_.count() <= 0)
      throw std::invalid_argument(fmt::format("tollgate: a block must be longer than 0 s, got {} s",
                                              format_seconds(block_)));
  }

  [[nodiscard]] result<credits> cost(const usage& u) const { return itemize(u, nullptr); }

  /// The cost, appending one line to `*b` when `b` is not null.
  [[nodiscard]] result<credits> itemize(const usage& u, breakdown* b) const {
    if (!u.seconds) return detail::needs("seconds");
    const std::int64_t ms = u.seconds->count();
    if (ms <= 0) return detail::positive_seconds(*u.seconds);
    const std::int64_t blocks = detail::ceil_div(ms, block_.count());
    return detail::guard_overflow([&]() -> result<credits> {
      credits amount = price_.times(blocks);
      if (b)
        b->add("seconds", std::string_view{}, quantity_unit::milliseconds, ms, block_.count(),
               blocks, price_.value(), amount);
      return amount;
    });
  }

  /// The int64 fast path of itemize(); see per_second::itemize_raw.
  [[nodiscard]] TOLLGATE_HOT_INLINE bool itemize_raw(const usage& u, breakdown* b,
                                                   std::int64_t& raw) const {
    if (!u.seconds || u.seconds->count() <= 0) return false;
    const std::int64_t ms = u.seconds->count();
    const std::int64_t blocks = detail::ceil_div(ms, block_.count());
    if (!price_.times_raw(blocks, raw)) return false;
    detail::add_raw_line(b, "seconds", {}, quantity_unit::milliseconds, ms, block_.count(), blocks,
                         price_.value(), raw);
    return true;
  }

  [[nodiscard]] usage_fields fields() const noexcept { return usage_fields::seconds; }
  [[nodiscard]] std::string describe() const {
    return fmt::format("{} per {} seconds", detail::credits_text(price_.value()),
                       format_seconds(block_));
  }
  /// Credits per block.
  [[nodiscard]] const credits& price() const noexcept { return price_.value(); }
  [[nodiscard]] media_duration block() const noexcept { return block_; }

 private:
  detail::fast_price price_;
  media_duration block_;
};

// ------------------------------------------------------------------------ flat

/// The same price for every job, whatever its usage. Immutable; thread-safe.
class flat {
 public:
  /// Throws std::invalid_argument if `price` is negative.
  explicit flat(credits price) : price_(std::move(price)) {
    detail::require_non_negative(price_, "credits");
  }

  [[nodiscard]] result<credits> cost(const usage& u) const { return itemize(u, nullptr); }

  /// The price, appending one line to `*b` when `b` is not null.
  [[nodiscard]] result<credits> itemize(const usage&, breakdown* b) const {
    return detail::guard_overflow([&]() -> result<credits> {
      if (b)
        b->add("flat fee", std::string_view{}, quantity_unit::job, 1, 1, 1, price_, price_);
      return price_;
    });
  }

  [[nodiscard]] usage_fields fields() const noexcept { return usage_fields::none; }
  [[nodiscard]] std::string describe() const {
    return fmt::format("{} per job", detail::credits_text(price_));
  }
  [[nodiscard]] const credits& price() const noexcept { return price_; }

 private:
  credits price_;
};

// ------------------------------------------------------------------ composites

namespace detail {

template <class Derived, Rate... Rs>
class composite {
  static_assert(sizeof...(Rs) >= 1, "tollgate: a composite rate needs at least one rate");

 public:
  explicit composite(Rs... rs) : parts_(std::move(rs)...) {}

  [[nodiscard]] usage_fields fields() const {
    usage_fields f = usage_fields::none;
    std::apply([&](const auto&... p) { ((f = f | detail::fields_of(p)), ...); }, parts_);
    return f;
  }
  [[nodiscard]] std::vector<std::string_view> resolutions() const {
    std::vector<std::string_view> v;
    std::apply([&](const auto&... p) { (detail::add_unique(v, detail::resolutions_of(p)), ...); },
               parts_);
    return v;
  }
  [[nodiscard]] std::string describe() const {
    std::string s;
    auto add = [&](const auto& p) {
      if (!s.empty()) s += Derived::separator;
      s += detail::describe_of(p);
    };
    std::apply([&](const auto&... p) { (add(p), ...); }, parts_);
    return fmt::format("{}{}{}", Derived::open, s, Derived::close);
  }
  [[nodiscard]] const std::tuple<Rs...>& parts() const noexcept { return parts_; }

 protected:
  std::tuple<Rs...> parts_;
};

// Picks the part whose cost compares best by `better(candidate, best)`; ties
// keep the earlier part. Only the chosen part's lines reach `b`.
template <class Better, class... Rs>
[[nodiscard]] result<credits> pick(const std::tuple<Rs...>& parts, const usage& u, breakdown* b,
                                   Better better) {
  std::optional<credits> best;
  breakdown best_lines;
  breakdown scratch;
  std::optional<tollgate::error> failure;
  auto try_one = [&](const auto& part) {
    if (failure) return;
    scratch.clear();
    auto c = detail::itemize(part, u, b ? &scratch : nullptr);
    if (!c) {
      failure = c.error();
      return;
    }
    if (!best || better(*c, *best)) {
      best = *c;
      if (b) best_lines = scratch;
    }
  };
  std::apply([&](const auto&... p) { (try_one(p), ...); }, parts);
  if (failure) return *failure;
  return guard_overflow([&]() -> result<credits> {
    if (b) b->append(best_lines);
    return *best;
  });
}

}  // namespace detail

/**
 * The sum of several rates: each part prices the same usage and the costs
 * add up (a per-second price plus a flat fee). Fails with the first failing
 * part's error. Immutable; thread-safe when its parts are.
 */
template <Rate... Rs>
class sum_of : public detail::composite<sum_of<Rs...>, Rs...> {
  using base = detail::composite<sum_of<Rs...>, Rs...>;

 public:
  static constexpr std::string_view open = "", separator = " + ", close = "";
  using base::base;

  [[nodiscard]] result<credits> cost(const usage& u) const { return itemize(u, nullptr); }
  [[nodiscard]] result<credits> itemize(const usage& u, breakdown* b) const {
    credits total;
    std::optional<tollgate::error> failure;
    auto add = [&](const auto& part) {
      if (failure) return;
      auto c = detail::itemize(part, u, b);
      if (!c) {
        failure = c.error();
        return;
      }
      total += *c;
    };
    return detail::guard_overflow([&]() -> result<credits> {
      std::apply([&](const auto&... p) { (add(p), ...); }, this->parts_);
      if (failure) return *failure;
      return total;
    });
  }
};
template <class... Rs>
sum_of(Rs...) -> sum_of<Rs...>;

/**
 * The least of several rates (a cap: "5 credits per second, at most 40 per
 * job" is `min_of(per_second{5}, flat{40})`). Only the chosen rate's lines
 * appear in a breakdown. Immutable; thread-safe when its parts are.
 */
template <Rate... Rs>
class min_of : public detail::composite<min_of<Rs...>, Rs...> {
  using base = detail::composite<min_of<Rs...>, Rs...>;

 public:
  static constexpr std::string_view open = "the least of (", separator = "; ", close = ")";
  using base::base;

  [[nodiscard]] result<credits> cost(const usage& u) const { return itemize(u, nullptr); }
  [[nodiscard]] result<credits> itemize(const usage& u, breakdown* b) const {
    return detail::pick(this->parts_, u, b,
                        [](const credits& c, const credits& best) { return c < best; });
  }
};
template <class... Rs>
min_of(Rs...) -> min_of<Rs...>;

/**
 * The greatest of several rates: a minimum charge ("5 credits per second, at
 * least 20 per job" is `max_of(per_second{5}, flat{20})`). Only the chosen
 * rate's lines appear in a breakdown. Immutable; thread-safe when its parts are.
 */
template <Rate... Rs>
class max_of : public detail::composite<max_of<Rs...>, Rs...> {
  using base = detail::composite<max_of<Rs...>, Rs...>;

 public:
  static constexpr std::string_view open = "the greatest of (", separator = "; ", close = ")";
  using base::base;

  [[nodiscard]] result<credits> cost(const usage& u) const { return itemize(u, nullptr); }
  [[nodiscard]] result<credits> itemize(const usage& u, breakdown* b) const {
    return detail::pick(this->parts_, u, b,
                        [](const credits& c, const credits& best) { return best < c; });
  }
};
template <class... Rs>
max_of(Rs...) -> max_of<Rs...>;

// -------------------------------------------------------------------- any_rate

class any_rate;

namespace detail {
/// any_rate::itemize_raw() when the rate is one of the shipped ones (called
/// directly, inlinable); false, without a call, for any other rate.
inline bool itemize_shipped_raw(const any_rate& r, const usage& u, breakdown* b, std::int64_t& raw);
}  // namespace detail

/**
 * Any Rate behind one type: what a catalog stores for each model.
 *
 * Copies share one immutable rate (a reference-counted pointer), so copying
 * is cheap and pricing through any copy is thread-safe when the rate is. The
 * optional members of the wrapped rate (itemize, fields, describe,
 * resolutions) are forwarded when present. A default-constructed any_rate is
 * empty and prices nothing (errc::invalid_argument); catalogs refuse it.
 */
class any_rate {
 public:
  any_rate() = default;

  /// Wraps `r`.
  // Not any_rate itself, checked before Rate<R>: Rate asks whether R is
  // move-constructible, which for any_rate would consider this constructor.
  template <class R>
    requires(!std::same_as<std::remove_cvref_t<R>, any_rate>) && Rate<R>
  any_rate(R r)  // NOLINT: implicit on purpose, so `.rate = per_second{credits{5}}` reads naturally
  {
    auto m = std::make_shared<const model<R>>(std::move(r));
    if constexpr (std::same_as<R, per_second>) {
      known_ = known::per_second;
    } else if constexpr (std::same_as<R, per_block>) {
      known_ = known::per_block;
    } else if constexpr (std::same_as<R, per_generation>) {
      known_ = known::per_generation;
    }
    rate_ = &m->rate;
    impl_ = std::move(m);
  }

  any_rate(const any_rate&) = default;
  any_rate& operator=(const any_rate&) = default;
  /// Leaves `o` empty (its direct pointer too, so it cannot price through
  /// a rate it no longer owns).
  any_rate(any_rate&& o) noexcept
      : impl_(std::move(o.impl_)),
        rate_(std::exchange(o.rate_, nullptr)),
        known_(std::exchange(o.known_, known::other)) {}
  any_rate& operator=(any_rate&& o) noexcept {
    impl_ = std::move(o.impl_);
    rate_ = std::exchange(o.rate_, nullptr);
    known_ = std::exchange(o.known_, known::other);
    return *this;
  }
  ~any_rate() = default;

  [[nodiscard]] bool empty() const noexcept { return impl_ == nullptr; }
  explicit operator bool() const noexcept { return impl_ != nullptr; }

  [[nodiscard]] result<credits> cost(const usage& u) const { return itemize(u, nullptr); }
  [[nodiscard]] result<credits> itemize(const usage& u, breakdown* b) const {
    if (!impl_) return result<credits>(errc::invalid_argument, "no rate");
    return impl_->itemize(u, b);
  }
  /// The int64 fast path of itemize() when the rate has one (see
  /// per_second::itemize_raw); false otherwise, having changed nothing.
  [[nodiscard]] TOLLGATE_HOT_INLINE bool itemize_raw(const usage& u, breakdown* b,
                                                   std::int64_t& raw) const {
    // The shipped rates with an int64 path are called directly, so the
    // compiler can inline them into the caller; anything else goes through
    // the virtual call.
    if (known_ != known::other) return itemize_shipped_raw(u, b, raw);
    return impl_ && impl_->itemize_raw(u, b, raw);
  }
  /// The fields the rate reads; usage_fields::unknown when it does not say.
  [[nodiscard]] usage_fields fields() const {
    return impl_ ? impl_->fields() : usage_fields::none;
  }
  [[nodiscard]] std::string describe() const { return impl_ ? impl_->describe() : "no rate"; }
  [[nodiscard]] std::vector<std::string_view> resolutions() const {
    return impl_ ? impl_->resolutions() : std::vector<std::string_view>{};
  }
  /// The wrapped rate if it is an R, else null (as std::function::target).
  template <class R>
  [[nodiscard]] const R* target() const noexcept {
    const auto* m = dynamic_cast<const model<R>*>(impl_.get());
    return m ? &m->rate : nullptr;
  }

 private:
  struct base {
    virtual ~base() = default;
    virtual result<credits> itemize(const usage&, breakdown*) const = 0;
    virtual bool itemize_raw(const usage&, breakdown*, std::int64_t&) const = 0;
    virtual usage_fields fields() const = 0;
    virtual std::string describe() const = 0;
    virtual std::vector<std::string_view> resolutions() const = 0;
  };
  template <class R>
  struct model final : base {
    explicit model(R r) : rate(std::move(r)) {}
    result<credits> itemize(const usage& u, breakdown* b) const override {
      return detail::itemize(rate, u, b);
    }
    bool itemize_raw(const usage& u, breakdown* b, std::int64_t& raw) const override {
      return detail::itemize_raw(rate, u, b, raw);
    }
    usage_fields fields() const override { return detail::fields_of(rate); }
    std::string describe() const override { return detail::describe_of(rate); }
    std::vector<std::string_view> resolutions() const override {
      return detail::resolutions_of(rate);
    }
    R rate;
  };

  friend bool detail::itemize_shipped_raw(const any_rate&, const usage&, breakdown*,
                                          std::int64_t&);

  // itemize_raw() of the shipped rate held, called directly; false for any
  // other rate (without the virtual call, so that a caller's hot path makes
  // no call at all).
  [[nodiscard]] TOLLGATE_HOT_INLINE bool itemize_shipped_raw(const usage& u, breakdown* b,
                                                           std::int64_t& raw) const {
    switch (known_) {
      [[likely]] case known::per_second:  // most video models
        return static_cast<const per_second*>(rate_)->itemize_raw(u, b, raw);
      case known::per_block: return static_cast<const per_block*>(rate_)->itemize_raw(u, b, raw);
      case known::per_generation:
        return static_cast<const per_generation*>(rate_)->itemize_raw(u, b, raw);
      case known::other: break;
    }
    return false;
  }

  // Which shipped rate impl_ holds, if one with an int64 path, and a
  // pointer to it inside *impl_. Copies share *impl_, so the pointer stays
  // valid in every copy.
  enum class known : std::uint8_t { other, per_second, per_block, per_generation };

  std::shared_ptr<const base> impl_;
  const void* rate_ = nullptr;
  known known_ = known::other;
};

TOLLGATE_HOT_INLINE bool detail::itemize_shipped_raw(const any_rate& r, const usage& u, breakdown* b,
                                                     std::int64_t& raw) {
  return r.itemize_shipped_raw(u, b, raw);
}

static_assert(Rate<per_second> && ItemizedRate<per_second>);
static_assert(ItemizedRate<per_generation> && ItemizedRate<per_characters>);
static_assert(ItemizedRate<per_block> && ItemizedRate<flat> && ItemizedRate<any_rate>);

}  // namespace tollgate
