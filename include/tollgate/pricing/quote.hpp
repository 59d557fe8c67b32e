// The answer to "what will this job cost?": a `quote` carries the exact cost,
// the charge after the catalog's rounding policy, its dollar value, and a
// line-by-line `breakdown` that says how the rate arrived at the exact cost.
// Quoting runs on every request, so the breakdown is a small fixed-capacity
// array of lines whose labels point at static or catalog-owned text: a quote
// never allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>

#include <fmt/format.h>

#include "../core/money.hpp"
#include "usage.hpp"

/// Marks the few small functions on the quote's hot path that must be
/// inlined: the compiler's size heuristics keep them out of line once error
/// paths are near, and a call with nine arguments costs more than the work.
/// TOLLGATE_NOINLINE keeps a slow path out of the hot function that calls it.
#if defined(__GNUC__) || defined(__clang__)
#define TOLLGATE_HOT_INLINE __attribute__((always_inline)) inline
#define TOLLGATE_NOINLINE __attribute__((noinline))
#else
#define TOLLGATE_HOT_INLINE inline
#define TOLLGATE_NOINLINE
#endif

namespace tollgate {

enum class quantity_unit : std::uint8_t;
class breakdown;

namespace detail {
void add_raw_line(breakdown* b, std::string_view item, std::string_view variant,
                  quantity_unit unit, std::int64_t used, std::int64_t block, std::int64_t blocks,
                  const credits& price, std::int64_t raw);
}  // namespace detail

/// The unit a breakdown line counts in.
enum class quantity_unit : std::uint8_t {
  milliseconds,  ///< media duration
  outputs,       ///< generated outputs
  characters,    ///< Unicode code points of text
  job,           ///< one per job (a flat fee)
};

/**
 * One line of a quote: `blocks = ceil(used / block)` blocks at `price` each
 * make `amount`.
 *
 * `item` and `variant` point at static text or at text owned by the rate, so
 * a line stays valid while the catalog that produced it lives.
 */
struct line {
  std::string_view item;     ///< what is billed: "seconds", "outputs", "characters", ...
  std::string_view variant;  ///< the priced variant ("1080p", "with audio"), or empty
  quantity_unit unit = quantity_unit::job;
  std::int64_t used = 0;     ///< quantity used, in `unit`
  std::int64_t block = 1;    ///< `unit`s per billed block
  std::int64_t blocks = 0;   ///< billed blocks: used / block, rounded up
  credits price;             ///< credits per block
  credits amount;            ///< blocks × price

  friend bool operator==(const line&, const line&) = default;
};

/**
 * The lines of a quote, at most `capacity` of them. Their amounts add up to
 * the quote's exact cost: when a composite rate yields more lines than fit,
 * the last line becomes "other charges" and absorbs the rest.
 */
class breakdown {
 public:
  static constexpr std::size_t capacity = 4;

  // User-provided on purpose: `= default` would let value-initialization
  // (`quote{}`) zero the whole spare capacity on every quote.
  breakdown() noexcept {}  // NOLINT(modernize-use-equals-default)
  // Copies only the lines in use: a quote is built on every request and most
  // have one line, so the spare capacity must cost nothing.
  breakdown(const breakdown& o) : size_(0) {
    for (const line& l : o) new (slot(size_++)) line(l);
  }
  breakdown& operator=(const breakdown& o) {
    if (this != &o) {
      size_ = 0;
      for (const line& l : o) new (slot(size_++)) line(l);
    }
    return *this;
  }
  ~breakdown() = default;  // line is trivially destructible (checked below)

  /// Appends a line (folding it into "other charges" when full). Throws
  /// std::overflow_error if the folded amount overflows.
  void push(const line& l) {
    add(l.item, l.variant, l.unit, l.used, l.block, l.blocks, l.price, l.amount);
  }
  /// Appends the line {item, variant, unit, used, block, blocks, price,
  /// amount}, built in place.
  TOLLGATE_HOT_INLINE void add(std::string_view item, std::string_view variant, quantity_unit unit,
                               std::int64_t used, std::int64_t block, std::int64_t blocks,
                               const credits& price, const credits& amount) {
    if (size_ < capacity) [[likely]] {
      new (slot(size_)) line{.item = item, .variant = variant, .unit = unit, .used = used,
                             .block = block, .blocks = blocks, .price = price, .amount = amount};
      ++size_;
      return;
    }
    fold(amount);
  }
  /// Appends every line of `other`.
  void append(const breakdown& other) {
    for (const line& l : other) push(l);
  }
  void clear() noexcept { size_ = 0; }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] const line& operator[](std::size_t i) const noexcept { return begin()[i]; }
  [[nodiscard]] const line* begin() const noexcept {
    return std::launder(reinterpret_cast<const line*>(storage_));
  }
  [[nodiscard]] const line* end() const noexcept { return begin() + size_; }

  /// The sum of the line amounts. Throws std::overflow_error on overflow.
  [[nodiscard]] credits total() const {
    credits t;
    for (const line& l : *this) t += l.amount;
    return t;
  }

 private:
  static_assert(std::is_trivially_destructible_v<line>,
                "breakdown never destroys its lines; line must stay trivially destructible");
  friend void detail::add_raw_line(breakdown*, std::string_view, std::string_view, quantity_unit,
                                   std::int64_t, std::int64_t, std::int64_t, const credits&,
                                   std::int64_t);

  // add() with the amount given as raw >= 0 micro-credits: the amount is
  // built in the line itself, not in a temporary that is then copied (the
  // int64 paths of the shipped rates; every store counts on a quote).
  TOLLGATE_HOT_INLINE void add_raw(std::string_view item, std::string_view variant,
                                   quantity_unit unit, std::int64_t used, std::int64_t block,
                                   std::int64_t blocks, const credits& price, std::int64_t raw) {
    if (size_ < capacity) [[likely]] {
      new (slot(size_)) line{.item = item, .variant = variant, .unit = unit, .used = used,
                             .block = block, .blocks = blocks, .price = price,
                             .amount = credits::from_raw(credits::rep(static_cast<std::uint64_t>(raw)))};
      ++size_;
      return;
    }
    fold(credits::from_raw(credits::rep(static_cast<std::uint64_t>(raw))));
  }

  // Full: the last line becomes "other charges" and absorbs `amount`.
  void fold(const credits& amount) {
    line& last = *std::launder(slot(capacity - 1));
    const credits sum = last.amount + amount;
    last = line{.item = "other charges", .variant = {}, .unit = quantity_unit::job,
                .used = 1, .block = 1, .blocks = 1, .price = sum, .amount = sum};
  }
  line* slot(std::size_t i) noexcept { return reinterpret_cast<line*>(storage_) + i; }

  alignas(line) unsigned char storage_[capacity * sizeof(line)];
  std::size_t size_ = 0;
};

/**
 * The price of one job.
 *
 * `exact` is what the rate says to the micro-credit; `charged` is `exact`
 * after the catalog's rounding policy (named by `rounding`) and is what a
 * ledger holds and captures; `usd` is `charged` through the catalog's
 * credit_price. `model` points into the catalog: a quote must not outlive the
 * catalog that made it.
 */
struct quote {
  // User-provided so that value-initialization (a result built in place)
  // does not zero the breakdown's spare capacity.
  quote() noexcept {}  // NOLINT(modernize-use-equals-default)

  std::string_view model;                ///< the model id, as stored in the catalog
  media_kind kind = media_kind::video;   ///< what the model produces
  credits exact;                         ///< the rate's exact cost
  credits charged;                       ///< exact after rounding: the charge
  ::tollgate::usd usd;                   ///< charged, in dollars
  std::string_view rounding;             ///< the rounding policy's name
  breakdown lines;                       ///< how the rate arrived at exact
};

/// A duration as decimal seconds with no trailing zeros: "10", "2.5", "-0.001".
[[nodiscard]] inline std::string format_seconds(media_duration d) {
  const std::int64_t ms = d.count();
  // Work on the magnitude of whole and fractional parts separately so that
  // INT64_MIN milliseconds prints too.
  const std::int64_t whole = ms / 1000;
  const std::int64_t frac = ms % 1000;
  std::string out = fmt::format("{}{}", ms < 0 && whole == 0 ? "-" : "", whole);
  if (frac != 0) {
    std::string f = fmt::format("{:03}", frac < 0 ? -frac : frac);
    while (f.back() == '0') f.pop_back();
    out += '.';
    out += f;
  }
  return out;
}

/**
 * The quantity of a line as a person reads it: "10 s", "2.5 s", "4 outputs",
 * "31 characters", "1 job".
 */
[[nodiscard]] inline std::string quantity_text(quantity_unit unit, std::int64_t n) {
  switch (unit) {
    case quantity_unit::milliseconds: return format_seconds(media_duration{n}) + " s";
    case quantity_unit::outputs: return fmt::format("{} output{}", n, n == 1 ? "" : "s");
    case quantity_unit::characters: return fmt::format("{} character{}", n, n == 1 ? "" : "s");
    case quantity_unit::job: return fmt::format("{} job{}", n, n == 1 ? "" : "s");
  }
  return fmt::format("{}", n);
}

/// The quantity used by a line ("10.5 s").
[[nodiscard]] inline std::string quantity_text(const line& l) {
  return quantity_text(l.unit, l.used);
}

/// What one block of a line is, as in "5 credits per s": "s", "6 s", "output",
/// "50 characters", "job".
[[nodiscard]] inline std::string block_text(const line& l) {
  switch (l.unit) {
    case quantity_unit::milliseconds:
      return l.block == 1000 ? std::string("s") : quantity_text(l.unit, l.block);
    case quantity_unit::outputs:
      return l.block == 1 ? std::string("output") : quantity_text(l.unit, l.block);
    case quantity_unit::characters:
      return l.block == 1 ? std::string("character") : quantity_text(l.unit, l.block);
    case quantity_unit::job:
      return l.block == 1 ? std::string("job") : quantity_text(l.unit, l.block);
  }
  return {};
}

}  // namespace tollgate
