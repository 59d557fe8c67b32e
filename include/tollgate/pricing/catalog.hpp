// The price list a host quotes from: model id -> what the model produces, its
// rate, and which usage it takes within which ranges. `basic_catalog<Rounding>`
// checks a job's usage against the model (naming the model and the field when
// it is wrong, suggesting the closest ids when the model is unknown), prices it
// through the model's rate, rounds the charge once with its rounding policy and
// converts it to dollars through its credit_price. A catalog is immutable
// after construction; quoting is thread-safe and does not allocate unless it
// fails. Bad configuration is refused at construction with catalog_error.
#pragma once

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "../core/detail/integer.hpp"
#include "../core/error.hpp"
#include "../core/money.hpp"
#include "../core/units.hpp"
#include "../core/detail/group_name.hpp"
#include "quote.hpp"
#include "rates.hpp"
#include "usage.hpp"

namespace tollgate {

/// The seconds a model takes: from `min` to `max` inclusive, `min` > 0.
struct seconds_range {
  media_duration min{1};
  media_duration max{1};
  friend bool operator==(const seconds_range&, const seconds_range&) = default;
};

/// The outputs a model takes: 1 to `max` (when not given, 1).
struct outputs_range {
  std::int64_t max = 1;
  friend bool operator==(const outputs_range&, const outputs_range&) = default;
};

/// The text a model takes: 1 to `max_characters` Unicode code points.
struct text_range {
  std::int64_t max_characters = 1;
  friend bool operator==(const text_range&, const text_range&) = default;
};

/**
 * One model of a catalog: its id, what it produces, its rate, and the usage
 * it takes. A field whose range is empty (or `resolutions` empty, `audio`
 * false) is a field the model does not take: giving it is an error.
 *
 * When the rate is priced by resolution and `resolutions` is empty, the
 * catalog takes the rate's priced resolutions as the allowed ones.
 */
struct model_spec {
  std::string id{};                          ///< letters, digits and . _ - / :
  media_kind kind = media_kind::video;     ///< what the model produces
  any_rate rate{};                           ///< how a job is priced
  std::optional<seconds_range> seconds{};    ///< takes seconds in this range
  std::optional<outputs_range> outputs{};    ///< takes outputs in this range
  std::vector<std::string> resolutions{};    ///< takes one of these resolutions
  bool audio = false;                      ///< takes the audio switch
  std::optional<text_range> text{};          ///< takes text of this length
  /// The model group whose tier limits apply to it ("video", "image", ...;
  /// 1 to 64 of a-z 0-9 _ - .), or empty when the host uses no tiers. The
  /// catalog only carries it: the gate looks the group up in the tier table.
  std::string group{};
};

/**
 * A catalog refused at construction: which model (its index and id, when the
 * problem is in one), which field (named as in the JSON shape, e.g.
 * "seconds.min"), and why. A config_error whose source() is "catalog" and
 * whose path() is the field from the catalog's root ("models[3].seconds.min").
 */
class catalog_error : public config_error {
 public:
  static constexpr std::size_t no_model = static_cast<std::size_t>(-1);

  catalog_error(std::size_t index, std::string model, std::string field, std::string reason)
      : config_error(index == no_model ? fmt::format("invalid catalog: {}: {}", field, reason)
                                       : fmt::format("invalid catalog: model '{}' (models[{}]): {}: {}", model,
                                                     index, field, reason),
                     "catalog", index == no_model ? field : fmt::format("models[{}].{}", index, field), reason),
        index_(index),
        model_(std::move(model)),
        field_(std::move(field)) {}

  /// The index of the model in the list given to the catalog, or no_model.
  [[nodiscard]] std::size_t index() const noexcept { return index_; }
  [[nodiscard]] const std::string& model() const noexcept { return model_; }
  /// The field, relative to the model ("seconds.max", "rate", "id").
  [[nodiscard]] const std::string& field() const noexcept { return field_; }

 private:
  std::size_t index_;
  std::string model_;
  std::string field_;
};

namespace detail {

// A model id as two words and its length: the first and the last eight bytes
// (overlapping when shorter than 16; for ids under 8 bytes, overlapping
// 4-byte or single-byte loads), read with fixed-size loads only. For an id of
// at most 16 bytes the three together are the id: two such ids are equal
// exactly when their keys are. Lookups compare keys, not strings, so a long
// unknown id costs no more than a short one.
struct id_key {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::size_t size = 0;

  static constexpr std::size_t exact_size = 16;  ///< keys of ids up to this long are exact

  [[nodiscard]] static id_key of(std::string_view s) noexcept {
    const char* p = s.data();
    const std::size_t n = s.size();
    using tollgate::detail::load_native;
    auto load8 = [](const char* q) { return load_native<std::uint64_t>(q); };
    auto load4 = [](const char* q) { return std::uint64_t{load_native<std::uint32_t>(q)}; };
    id_key k;
    k.size = n;
    if (n >= 8) {
      k.first = load8(p);
      k.last = load8(p + n - 8);
    } else if (n >= 4) {
      k.first = load4(p) | (load4(p + n - 4) << 32);
    } else if (n > 0) {
      k.first = static_cast<std::uint64_t>(static_cast<unsigned char>(p[0])) |
                (static_cast<std::uint64_t>(static_cast<unsigned char>(p[n / 2])) << 8) |
                (static_cast<std::uint64_t>(static_cast<unsigned char>(p[n - 1])) << 16);
    }
    return k;
  }

  // Fibonacci hashing: the high bits of one multiply depend on every input bit.
  [[nodiscard]] std::uint64_t hash() const noexcept {
    constexpr std::uint64_t k = 0x9E3779B97F4A7C15ull;
    return (first ^ ((last << 29) | (last >> 35)) ^ size) * k;
  }

  friend bool operator==(const id_key&, const id_key&) = default;
};

// An open-addressing table from model id to its index in the catalog's list,
// at most half full. A slot holds the id's key, so a lookup of an id of at
// most 16 bytes reads no string at all; longer ids with the same key are
// compared in full. It stores indices, not pointers, so a copied catalog's
// index stays valid.
class model_index {
 public:
  void reserve(std::size_t n) {
    std::size_t cap = 8;
    shift_ = 61;
    while (cap < 2 * n) {
      cap *= 2;
      --shift_;
    }
    slots_.assign(cap, slot{});
    mask_ = cap - 1;
  }

  // Looks `id` up among `ids(i)`; returns the index or npos.
  template <class Ids>
  [[nodiscard]] std::size_t find(std::string_view id, const Ids& ids) const noexcept {
    if (slots_.empty()) return npos;
    const id_key k = id_key::of(id);
    for (std::size_t i = k.hash() >> shift_;; i = (i + 1) & mask_) {
      const slot& s = slots_[i];
      if (s.index_plus_one == 0) return npos;
      if (s.key == k && (k.size <= id_key::exact_size || ids(s.index_plus_one - 1) == id))
        return s.index_plus_one - 1;
    }
  }

  // Adds `id` as `index` unless present; returns the index already there, or npos.
  template <class Ids>
  std::size_t insert(std::string_view id, std::size_t index, const Ids& ids) {
    const id_key k = id_key::of(id);
    for (std::size_t i = k.hash() >> shift_;; i = (i + 1) & mask_) {
      slot& s = slots_[i];
      if (s.index_plus_one == 0) {
        s = slot{k, index + 1};
        return npos;
      }
      if (s.key == k && (k.size <= id_key::exact_size || ids(s.index_plus_one - 1) == id))
        return s.index_plus_one - 1;
    }
  }

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

 private:
  struct slot {
    id_key key{};
    std::size_t index_plus_one = 0;  // 0: empty
  };
  std::vector<slot> slots_;
  std::size_t mask_ = 0;
  int shift_ = 61;  // 64 - log2(capacity): the hash's top bits pick the slot
};

/**
 * The shipped rounding policies and credits-to-dollars over int64 raw
 * micro-units, with the scale a compile-time constant so each division is a
 * multiply: the arithmetic of every quote. It must agree exactly with
 * R::apply and basic_credit_price::to_usd (the tests compare them on random
 * and extreme values). Returns false, writing nothing, for any other policy
 * or when a step would overflow int64; the caller then takes the 128-bit path.
 */
template <class R>
[[nodiscard]] constexpr bool fast_charge(std::int64_t raw, std::int64_t usd_per_credit_raw,
                                         std::int64_t& charged_raw, std::int64_t& usd_raw) noexcept {
  static_assert(credits::scale == 6, "fast_charge assumes micro-credits");
  constexpr std::int64_t unit = 1'000'000;
  constexpr std::int64_t min = (std::numeric_limits<std::int64_t>::min)();
  std::int64_t c = 0;
  if constexpr (std::same_as<R, round_up> || std::same_as<R, half_up>) {
    // A whole number of credits w: its dollars are w × price exactly (to_usd
    // divides w × 10^6 × price by 10^6, leaving no remainder to round), so
    // no division is needed.
    std::int64_t w;
    if constexpr (std::same_as<R, round_up>) {
      if (raw >= 0) {
        // (raw + unit - 1) cannot overflow unsigned; one unsigned division.
        w = static_cast<std::int64_t>((static_cast<std::uint64_t>(raw) + (unit - 1)) /
                                      static_cast<std::uint64_t>(unit));
      } else {
        w = raw / unit;  // truncates toward zero: the ceiling of a negative quotient
      }
    } else {
      if (raw == min) return false;
      const std::int64_t mag = raw < 0 ? -raw : raw;
      w = mag / unit;
      if ((mag % unit) * 2 >= unit) ++w;
      if (raw < 0) w = -w;
    }
    std::int64_t d;
    if (__builtin_mul_overflow(w, unit, &c) || __builtin_mul_overflow(w, usd_per_credit_raw, &d))
      return false;
    charged_raw = c;
    usd_raw = d;
    return true;
  } else if constexpr (std::same_as<R, exact>) {
    c = raw;
  } else {
    return false;
  }
  // Dollars: c × price / 10^6, rounded half away from zero (as to_usd).
  std::int64_t prod;
  if (__builtin_mul_overflow(c, usd_per_credit_raw, &prod) || prod == min) return false;
  const std::int64_t mag = prod < 0 ? -prod : prod;
  std::int64_t q = mag / unit;
  if ((mag % unit) * 2 >= unit) ++q;
  charged_raw = c;
  usd_raw = prod < 0 ? -q : q;
  return true;
}

[[nodiscard]] constexpr char ascii_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

/// Optimal-string-alignment edit distance (insert, delete, substitute, swap
/// two neighbours), ASCII case-insensitive.
[[nodiscard]] inline std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev2(b.size() + 1), prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const bool same = ascii_lower(a[i - 1]) == ascii_lower(b[j - 1]);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (same ? 0 : 1)});
      if (i > 1 && j > 1 && ascii_lower(a[i - 1]) == ascii_lower(b[j - 2]) &&
          ascii_lower(a[i - 2]) == ascii_lower(b[j - 1]))
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
    }
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

/// The longest model id a catalog takes.
inline constexpr std::size_t max_model_id_size = 128;

[[nodiscard]] inline bool valid_model_id_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '.' || c == '_' || c == '-' || c == '/' || c == ':';
}

[[nodiscard]] inline std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += fmt::format("{}{}", s.empty() ? "" : ", ", x);
  return s;
}

}  // namespace detail

/**
 * A price list: model id -> model_spec, quoting jobs exactly.
 *
 * @tparam R the Rounding policy applied once to each job's exact cost to get
 *           the charge (round_up to a whole credit by default; half_up,
 *           exact).
 *
 * Immutable after construction: every member is const and thread-safe. A
 * quote points into the catalog (the model id, breakdown labels), so it must
 * not outlive it.
 */
template <Rounding R = round_up>
class basic_catalog {
 public:
  using rounding = R;

  /**
   * Builds a catalog of `models` (in this order), charging through `price`,
   * for the price list of `price_list_date` ("YYYY-MM-DD", or empty).
   *
   * Throws catalog_error naming the model and field when a model is
   * inconsistent: an empty or malformed or repeated id, no rate, a malformed
   * group name, an empty or reversed range, a rate that reads a field the
   * model does not take (seconds, text, audio, resolution), an allowed
   * resolution the rate does not price; and for a `price_list_date` that is not a calendar day in
   * the form YYYY-MM-DD (2026-02-30 and 2026-13-01 are refused).
   */
  explicit basic_catalog(std::vector<model_spec> models, credit_price price = {},
                         std::string price_list_date = {})
      : models_(std::move(models)), price_(std::move(price)), date_(std::move(price_list_date)) {
    check_date();
    if (std::int64_t raw; detail::to_int64(price_.per_credit().raw(), raw)) fast_per_credit_ = raw;
    entries_.reserve(models_.size());
    index_.reserve(models_.size());
    for (std::size_t i = 0; i < models_.size(); ++i) entries_.push_back(check(i));
  }

  /// A copy of `other` with another rounding policy.
  template <Rounding R2>
  explicit basic_catalog(const basic_catalog<R2>& other)
      : basic_catalog(other.models(), other.price(), std::string(other.price_list_date())) {}

  /**
   * Prices `j`.
   * @return the quote, or: errc::unknown_model (the message lists the closest
   *         known ids), errc::invalid_usage (naming the model and the field:
   *         missing, out of range, not taken by the model, unknown option
   *         value), errc::invalid_utf8 (text; with the byte offset),
   *         errc::overflow (the cost or its dollar value is not representable).
   */
  [[nodiscard]] result<::tollgate::quote> quote(const job& j) const {
    return quote(j.model, j.usage);
  }

  /// Prices `u` on `model`; see quote(const job&).
  [[nodiscard]] result<::tollgate::quote> quote(std::string_view model, const usage& u) const {
    // One named result returned on every path, so it is built in place in the
    // caller's storage (a quote is large; a copy would cost more than pricing).
    result<::tollgate::quote> out{std::in_place};
    if (auto e = price_into(model, u, *out)) out = result<::tollgate::quote>(std::move(*e));
    return out;
  }

  /// The model `id`, or null when the catalog has none.
  [[nodiscard]] const model_spec* find(std::string_view id) const noexcept {
    const std::size_t i = index_.find(id, id_of());
    return i == detail::model_index::npos ? nullptr : &models_[i];
  }
  [[nodiscard]] bool contains(std::string_view id) const noexcept { return find(id) != nullptr; }

  /// Every model, in the order given at construction.
  [[nodiscard]] const std::vector<model_spec>& models() const noexcept { return models_; }
  /// The bridge from charged credits to dollars.
  [[nodiscard]] const credit_price& price() const noexcept { return price_; }
  /// The date of the price list ("2026-11-01"), or empty.
  [[nodiscard]] std::string_view price_list_date() const noexcept { return date_; }

  /**
   * Up to `n` known ids closest to `id` by edit distance (case-insensitive,
   * a swap of two neighbouring letters counts as one edit), nearest first;
   * ties keep catalog order.
   */
  [[nodiscard]] std::vector<std::string_view> closest(std::string_view id, std::size_t n = 3) const {
    std::vector<std::pair<std::size_t, std::size_t>> scored;  // (distance, index)
    scored.reserve(models_.size());
    for (std::size_t i = 0; i < models_.size(); ++i)
      scored.emplace_back(detail::edit_distance(id, models_[i].id), i);
    std::stable_sort(scored.begin(), scored.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::string_view> out;
    for (std::size_t i = 0; i < scored.size() && i < n; ++i)
      out.push_back(models_[scored[i].second].id);
    return out;
  }

 private:
  // What the catalog derives from each model at construction.
  struct entry {
    usage_fields takes = usage_fields::none;
    bool needs_resolution = false;
    // For quick_price: the fields it handles itself (takes ∩ {seconds,
    // outputs, audio}), the fields the model cannot do without (seconds,
    // text, a priced resolution), and copies of the ranges beside them.
    usage_fields quick_takes = usage_fields::none;
    usage_fields needs = usage_fields::none;
    seconds_range seconds{};
    std::int64_t outputs_max = 0;
  };

  // Checks `u` against `model` and prices it into `q`; the error, if any.
  [[nodiscard]] std::optional<error> price_into(std::string_view model, const usage& u,
                                                ::tollgate::quote& q) const {
    if (const std::size_t i = index_.find(model, id_of());
        i != detail::model_index::npos && quick_price(i, u, q)) [[likely]]
      return std::nullopt;
    // Out of line, from the model id again: the path above then makes no
    // call at all, so it needs no registers saved and spills nothing (on a
    // quote, stores are what costs).
    return slow_price_into(model, u, q);
  }

  TOLLGATE_NOINLINE std::optional<error> slow_price_into(std::string_view model, const usage& u,
                                                         ::tollgate::quote& q) const {
    const std::size_t i = index_.find(model, id_of());
    if (i == detail::model_index::npos) return unknown_model(model);
    return checked_price(models_[i], entries_[i], u, q);
  }

  // The common case in few instructions and no call: usage that plainly
  // passes every check of checked_price (only seconds, outputs and audio
  // given, each in its range, everything the model needs given) on one of
  // the shipped rates with an int64 path, whose charge fits int64. For
  // anything else it returns false with `q` as it was, and checked_price
  // decides from scratch, with every message. (A test compares the two
  // paths on random usage.)
  [[nodiscard]] TOLLGATE_HOT_INLINE bool quick_price(std::size_t i, const usage& u,
                                                   ::tollgate::quote& q) const {
    const entry& e = entries_[i];
    const usage_fields given = given_fields(u);
    // needs ⊆ given ⊆ quick_takes (resolution and text are never in quick_takes).
    if (static_cast<std::uint8_t>((given & ~e.quick_takes) | (e.needs & ~given)) != 0) return false;
    // Given implies taken, so the range exists; seconds.min > 0 (checked at
    // construction) makes the range check also the positivity check.
    if (tollgate::contains(given, usage_fields::seconds) &&
        (*u.seconds < e.seconds.min || e.seconds.max < *u.seconds))
      return false;
    if (tollgate::contains(given, usage_fields::outputs) &&
        (u.outputs->value < 1 || u.outputs->value > e.outputs_max))
      return false;
    const model_spec& m = models_[i];
    std::int64_t raw, charged, dollars;
    // Already empty; saying so lets the compiler drop the "breakdown full"
    // branch (and its call) from this path.
    q.lines.clear();
    if (!fast_per_credit_ || !detail::itemize_shipped_raw(m.rate, u, &q.lines, raw)) return false;
    // A negative cost is an error (checked_price says so); with raw >= 0 and
    // a positive credit price, the charge and its dollars are >= 0 too.
    if (raw < 0 || !detail::fast_charge<R>(raw, *fast_per_credit_, charged, dollars)) {
      q.lines.clear();
      return false;
    }
    q.model = m.id;
    q.kind = m.kind;
    q.rounding = R::name;
    q.exact = detail::from_nonnegative_raw<credits>(raw);
    q.charged = detail::from_nonnegative_raw<credits>(charged);
    q.usd = detail::from_nonnegative_raw<::tollgate::usd>(dollars);
    return true;
  }

  // Checks `u` against `m` with a message for each problem and prices it
  // into `q` (the int64 path first, then the general one); the error, if any.
  [[nodiscard]] std::optional<error> checked_price(const model_spec& m, const entry& e,
                                                   const usage& u, ::tollgate::quote& q) const {
    if (const usage_fields given = given_fields(u); !tollgate::contains(e.takes, given))
      return not_taken(m, given, e.takes);
    if (m.seconds) {
      if (!u.seconds)
        return invalid(m, fmt::format("needs 'seconds' ({} to {})", format_seconds(m.seconds->min),
                                      format_seconds(m.seconds->max)));
      if (u.seconds->count() <= 0)
        return invalid(m, fmt::format("'seconds' must be positive, got {}",
                                      format_seconds(*u.seconds)));
      if (*u.seconds < m.seconds->min || *u.seconds > m.seconds->max)
        return invalid(m, fmt::format("'seconds' must be between {} and {}, got {}",
                                      format_seconds(m.seconds->min),
                                      format_seconds(m.seconds->max), format_seconds(*u.seconds)));
    }
    if (u.outputs) {
      if (u.outputs->value < 1)
        return invalid(m, fmt::format("'outputs' must be at least 1, got {}", u.outputs->value));
      if (u.outputs->value > m.outputs->max)
        return invalid(m, fmt::format("'outputs' must be at most {}, got {}", m.outputs->max,
                                      u.outputs->value));
    }
    if (u.resolution) {
      if (std::find(m.resolutions.begin(), m.resolutions.end(), *u.resolution) ==
          m.resolutions.end())
        return invalid(m, fmt::format("'resolution' must be one of {}, got '{}'",
                                      detail::join(m.resolutions), *u.resolution));
    } else if (e.needs_resolution) {
      return invalid(m, fmt::format("needs 'resolution' (one of {})", detail::join(m.resolutions)));
    }
    if (m.text) {
      if (!u.text) return invalid(m, "needs 'text'");
      const auto chars = count_characters(*u.text);
      if (!chars) return text_error(m, chars.error());
      if (chars->value == 0) return invalid(m, "'text' is empty");
      if (chars->value > m.text->max_characters)
        return invalid(m, fmt::format("'text' must have at most {} characters, got {}",
                                      m.text->max_characters, chars->value));
    }

    q.model = m.id;
    q.kind = m.kind;
    q.rounding = R::name;
    // The hot path: the rate prices in int64 micro-credits and the charge
    // rounds and converts in int64 too. Anything that does not fit (or any
    // error) takes the general path below, from scratch.
    if (std::int64_t raw, charged, dollars;
        fast_per_credit_ && m.rate.itemize_raw(u, &q.lines, raw)) {
      // A negative cost takes the general path, which refuses it.
      if (raw >= 0 && detail::fast_charge<R>(raw, *fast_per_credit_, charged, dollars)) {
        q.exact = credits::from_raw(credits::rep(raw));
        q.charged = credits::from_raw(credits::rep(charged));
        q.usd = ::tollgate::usd::from_raw(::tollgate::usd::rep(dollars));
        return std::nullopt;
      }
      q.lines.clear();
    }
    // A user-defined rate may let checked arithmetic throw; it is still an
    // overflow error for the caller, never an exception.
    try {
      auto cost = m.rate.itemize(u, &q.lines);
      if (!cost)
        return error(cost.error().code(), fmt::format("model '{}': {}", m.id, cost.error().message()));
      if (cost->is_negative())
        return error(errc::invalid_argument,
                     fmt::format("model '{}': the rate returned a negative cost ({})", m.id,
                                 cost->to_string()));
      charge(*cost, q);
    } catch (const std::overflow_error&) {
      return error(errc::overflow,
                   fmt::format("model '{}': the cost is too large to represent", m.id));
    }
    return std::nullopt;
  }

  [[nodiscard]] auto id_of() const noexcept {
    return [this](std::size_t i) -> std::string_view { return models_[i].id; };
  }

  // Sets the exact cost, rounds it into the charge and converts that to
  // dollars (throws std::overflow_error).
  void charge(const credits& exact, ::tollgate::quote& q) const {
    std::int64_t raw, charged, dollars;
    if (fast_per_credit_ && detail::to_int64(exact.raw(), raw) &&
        detail::fast_charge<R>(raw, *fast_per_credit_, charged, dollars)) {
      // From the integers at hand rather than copies of `exact`.
      q.exact = credits::from_raw(credits::rep(raw));
      q.charged = credits::from_raw(credits::rep(charged));
      q.usd = ::tollgate::usd::from_raw(::tollgate::usd::rep(dollars));
      return;
    }
    q.charged = R::apply(exact);
    q.usd = price_.to_usd(q.charged);
    q.exact = exact;
  }

  [[nodiscard]] static error invalid(const model_spec& m, std::string_view what) {
    return error(errc::invalid_usage, fmt::format("model '{}': {}", m.id, what));
  }

  // "text is not valid UTF-8: ..." from count_characters, with the model.
  [[nodiscard]] static error text_error(const model_spec& m, const error& e) {
    std::string msg = e.message();
    constexpr std::string_view prefix = "text ";
    if (msg.compare(0, prefix.size(), prefix) == 0) msg.erase(0, prefix.size());
    return error(e.code(), fmt::format("model '{}': 'text' {}", m.id, msg));
  }

  [[nodiscard]] error unknown_model(std::string_view model) const {
    // The id comes from the caller's request. One longer than any valid id
    // is shown and compared by its start only: the edit distance costs
    // length x length, so a megabyte-long id would otherwise take most of a
    // second and echo a megabyte back.
    const std::string_view head = model.substr(0, detail::max_model_id_size);
    const std::string shown = head.size() == model.size()
                                  ? fmt::format("'{}'", model)
                                  : fmt::format("'{}...' ({} bytes)", head, model.size());
    if (models_.empty())
      return error(errc::unknown_model, fmt::format("unknown model {}: the catalog is empty", shown));
    std::string names;
    for (std::string_view s : closest(head))
      names += fmt::format("{}{}", names.empty() ? "" : ", ", s);
    return error(errc::unknown_model,
                 fmt::format("unknown model {}; closest known: {}", shown, names));
  }

  [[nodiscard]] static error not_taken(const model_spec& m, usage_fields given, usage_fields takes) {
    for (usage_fields f : {usage_fields::seconds, usage_fields::outputs, usage_fields::resolution,
                           usage_fields::audio, usage_fields::text})
      if (tollgate::contains(given, f) && !tollgate::contains(takes, f))
        return invalid(m, fmt::format("does not take '{}'", field_name(f)));
    return invalid(m, "does not take a given field");
  }

  [[noreturn]] void fail(std::size_t i, std::string field, std::string reason) const {
    throw catalog_error(i, i == catalog_error::no_model ? std::string() : models_[i].id,
                        std::move(field), std::move(reason));
  }

  // "YYYY-MM-DD" naming a real calendar day: the shape alone let 2026-99-99
  // and 2026-02-30 through.
  void check_date() const {
    if (date_.empty()) return;
    const auto digits = [&](std::size_t at, std::size_t n) {
      unsigned v = 0;
      for (std::size_t k = at; k < at + n; ++k) {
        if (date_[k] < '0' || date_[k] > '9') return -1;
        v = v * 10 + static_cast<unsigned>(date_[k] - '0');
      }
      return static_cast<int>(v);
    };
    const int y = date_.size() == 10 ? digits(0, 4) : -1;
    const int m = y >= 0 && date_[4] == '-' ? digits(5, 2) : -1;
    const int d = m >= 0 && date_[7] == '-' ? digits(8, 2) : -1;
    if (d < 0)
      fail(catalog_error::no_model, "price_list_date",
           fmt::format("expected a date as YYYY-MM-DD, got '{}'", date_));
    const std::chrono::year_month_day date{std::chrono::year{y},
                                           std::chrono::month{static_cast<unsigned>(m)},
                                           std::chrono::day{static_cast<unsigned>(d)}};
    if (date.ok()) return;
    if (!date.month().ok())
      fail(catalog_error::no_model, "price_list_date",
           fmt::format("'{}' is not a calendar date: there is no month {}", date_, m));
    const unsigned last = static_cast<unsigned>(
        std::chrono::year_month_day_last{date.year(), std::chrono::month_day_last{date.month()}}.day());
    fail(catalog_error::no_model, "price_list_date",
         fmt::format("'{}' is not a calendar date: {} has {} days", date_, date_.substr(0, 7), last));
  }

  entry check(std::size_t i) {
    model_spec& m = models_[i];
    if (m.id.empty()) fail(i, "id", "must not be empty");
    if (m.id.size() > detail::max_model_id_size)
      fail(i, "id", fmt::format("must be at most {} characters", detail::max_model_id_size));
    if (!std::all_of(m.id.begin(), m.id.end(), detail::valid_model_id_char))
      fail(i, "id", "may use only ASCII letters, digits and . _ - / :");
    if (const std::size_t first = index_.insert(m.id, i, id_of()); first != detail::model_index::npos)
      fail(i, "id", fmt::format("repeats models[{}]", first));
    if (m.rate.empty()) fail(i, "rate", "is missing");
    if (!m.group.empty() && !detail::valid_group_name(m.group))
      fail(i, "group", fmt::format("'{}': a group name has 1 to {} of a-z 0-9 _ - .", m.group,
                                   detail::max_group_name_size));
    if (m.seconds) {
      if (m.seconds->min.count() <= 0)
        fail(i, "seconds.min", fmt::format("must be positive, got {}", format_seconds(m.seconds->min)));
      if (m.seconds->max < m.seconds->min)
        fail(i, "seconds.max", fmt::format("must not be less than seconds.min ({}), got {}",
                                           format_seconds(m.seconds->min),
                                           format_seconds(m.seconds->max)));
    }
    if (m.outputs && m.outputs->max < 1)
      fail(i, "outputs.max", fmt::format("must be at least 1, got {}", m.outputs->max));
    if (m.text && m.text->max_characters < 1)
      fail(i, "text.max_characters", fmt::format("must be at least 1, got {}", m.text->max_characters));
    for (std::size_t r = 0; r < m.resolutions.size(); ++r) {
      if (m.resolutions[r].empty()) fail(i, fmt::format("resolutions[{}]", r), "must not be empty");
      for (std::size_t s = 0; s < r; ++s)
        if (m.resolutions[s] == m.resolutions[r])
          fail(i, fmt::format("resolutions[{}]", r), fmt::format("repeats '{}'", m.resolutions[r]));
    }

    entry e;
    const usage_fields reads = m.rate.fields();
    if (!tollgate::contains(reads, usage_fields::unknown)) {
      const auto priced = m.rate.resolutions();
      if (tollgate::contains(reads, usage_fields::resolution)) {
        e.needs_resolution = true;
        if (m.resolutions.empty()) {
          for (std::string_view s : priced) m.resolutions.emplace_back(s);
        } else {
          for (std::size_t r = 0; r < m.resolutions.size(); ++r)
            if (std::find(priced.begin(), priced.end(), m.resolutions[r]) == priced.end())
              fail(i, fmt::format("resolutions[{}]", r),
                   fmt::format("'{}' has no price in the rate", m.resolutions[r]));
        }
      }
      if (tollgate::contains(reads, usage_fields::seconds) && !m.seconds)
        fail(i, "seconds", "the rate prices seconds, so the model needs a seconds range");
      if (tollgate::contains(reads, usage_fields::text) && !m.text)
        fail(i, "text", "the rate prices text, so the model needs a text range");
      if (tollgate::contains(reads, usage_fields::audio) && !m.audio)
        fail(i, "audio", "the rate has an audio price, so the model must take audio");
    }
    if (m.seconds) e.takes = e.takes | usage_fields::seconds;
    if (m.outputs) e.takes = e.takes | usage_fields::outputs;
    if (!m.resolutions.empty()) e.takes = e.takes | usage_fields::resolution;
    if (m.audio) e.takes = e.takes | usage_fields::audio;
    if (m.text) e.takes = e.takes | usage_fields::text;
    e.quick_takes = e.takes & (usage_fields::seconds | usage_fields::outputs | usage_fields::audio);
    if (m.seconds) {
      e.needs = e.needs | usage_fields::seconds;
      e.seconds = *m.seconds;
    }
    if (m.text) e.needs = e.needs | usage_fields::text;
    if (e.needs_resolution) e.needs = e.needs | usage_fields::resolution;
    if (m.outputs) e.outputs_max = m.outputs->max;
    return e;
  }

  std::vector<model_spec> models_;
  std::vector<entry> entries_;
  detail::model_index index_;
  credit_price price_;
  std::optional<std::int64_t> fast_per_credit_;  // price_ in raw micro-dollars, when it fits
  std::string date_;
};

/// A catalog that rounds each charge up to a whole credit.
using catalog = basic_catalog<>;

}  // namespace tollgate
