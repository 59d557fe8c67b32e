// Ledger internals: the 128-bit integer the ledger computes in, conversions
// to and from the public money types, little-endian encoding with bounds
// checks (journal records and snapshots are untrusted input on the way back
// in), CRC32C, and the rules for account ids, idempotency keys and stored text.
#pragma once

#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <boost/crc.hpp>
#include <fmt/format.h>
#include <utf8.h>

#include "../../core/error.hpp"
#include "../../core/money.hpp"

namespace tollgate::ledger_detail {

using i128 = __int128;
using u128 = unsigned __int128;
using i64 = std::int64_t;
using u64 = std::uint64_t;
using u32 = std::uint32_t;
using u16 = std::uint16_t;
using u8 = std::uint8_t;

inline constexpr i128 i128_max = static_cast<i128>(~static_cast<u128>(0) >> 1);
inline constexpr i128 i128_min = -i128_max - 1;
/// "No deadline / never expires".
inline constexpr i64 never = std::numeric_limits<i64>::max();

// Checked arithmetic on the internal representation: false on overflow, so a
// caller can refuse the operation before anything changed.
[[nodiscard]] inline bool add_ok(i128 a, i128 b, i128& out) noexcept {
  return !__builtin_add_overflow(a, b, &out);
}
[[nodiscard]] inline bool sub_ok(i128 a, i128 b, i128& out) noexcept {
  return !__builtin_sub_overflow(a, b, &out);
}

/// The raw micro-units of an amount as i128, or nothing when out of range.
template <class Amount>
[[nodiscard]] std::optional<i128> to_i128(const Amount& a) noexcept {
  using rep = typename Amount::rep;
  if constexpr (std::is_integral_v<rep> || std::is_same_v<rep, __int128>) {
    return static_cast<i128>(a.raw());
  } else {
    try {
      return a.raw().template convert_to<i128>();
    } catch (...) {
      return std::nullopt;
    }
  }
}

[[nodiscard]] inline credits to_credits(i128 raw) { return credits::from_raw(credits::rep(raw)); }
[[nodiscard]] inline usd to_usd(i128 raw) { return usd::from_raw(usd::rep(raw)); }

/// Exact decimal text of raw micro-credits (for messages).
[[nodiscard]] inline std::string credit_text(i128 raw) { return to_credits(raw).to_string(); }
[[nodiscard]] inline std::string usd_text(i128 raw) { return to_usd(raw).to_string(); }

// ------------------------------------------------------------------ ids

/// Account ids and idempotency keys: 1 to 128 bytes of printable ASCII.
inline constexpr std::size_t max_id_bytes = 128;
/// Adjustment reasons: 1 to 1024 bytes of UTF-8, no control characters.
inline constexpr std::size_t max_reason_bytes = 1024;

// Unaligned little-endian loads for the word-at-a-time loops below.
[[nodiscard]] inline u64 load_u64(const char* p) noexcept {
  u64 w;
  std::memcpy(&w, p, 8);
  return w;
}
[[nodiscard]] inline u64 load_u32(const char* p) noexcept {
  std::uint32_t w;
  std::memcpy(&w, p, 4);
  return w;
}

/// Copies n bytes; for the short strings of ids and keys with fixed-size,
/// possibly overlapping, moves inside [dst, dst + n) instead of a library call.
inline void copy_bytes(void* dst, const void* src, std::size_t n) noexcept {
  auto* d = static_cast<unsigned char*>(dst);
  const auto* p = static_cast<const unsigned char*>(src);
  if (n > 16) {
    std::memcpy(d, p, n);
  } else if (n >= 8) {
    u64 a, b;
    std::memcpy(&a, p, 8);
    std::memcpy(&b, p + n - 8, 8);
    std::memcpy(d, &a, 8);
    std::memcpy(d + n - 8, &b, 8);
  } else if (n >= 4) {
    std::uint32_t a, b;
    std::memcpy(&a, p, 4);
    std::memcpy(&b, p + n - 4, 4);
    std::memcpy(d, &a, 4);
    std::memcpy(d + n - 4, &b, 4);
  } else if (n > 0) {
    const unsigned char a = p[0], b = p[n / 2], c = p[n - 1];
    d[0] = a;
    d[n / 2] = b;
    d[n - 1] = c;
  }
}

/// The bytes of a string of 1 to 7 bytes as one word, every byte present
/// (some twice) and the rest `pad`: for a given length, different strings
/// give different words. Fixed-size loads only: a variable-length memcpy
/// would be a library call, which costs more than the whole hash.
[[nodiscard]] inline u64 short_word(const char* p, std::size_t n, u64 pad) noexcept {
  if (n >= 4) return load_u32(p) | (load_u32(p + n - 4) << 32);
  const auto b = [p](std::size_t i) { return static_cast<u64>(static_cast<unsigned char>(p[i])); };
  return b(0) | (b(n / 2) << 8) | (b(n - 1) << 16) | (pad & ~u64{0xFFFFFF});
}

// Eight bytes at a time: non-zero when some byte of `w` is below 0x20 or
// above 0x7e. The first term is the classic "has a byte less than n" test
// (exact for n <= 0x80); the second sets a byte's high bit exactly at 0x7f
// once no byte has its high bit set, which the third term checks.
[[nodiscard]] constexpr u64 non_printable_bytes(u64 w) noexcept {
  constexpr u64 ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  return (((w - 0x20 * ones) & ~w) | (w + ones) | w) & highs;
}

[[nodiscard]] inline bool printable_ascii(std::string_view s) noexcept {
  const char* p = s.data();
  std::size_t n = s.size();
  if (n < 8) return n == 0 || non_printable_bytes(short_word(p, n, 0x4141414141414141ull)) == 0;
  u64 bad = non_printable_bytes(load_u64(p + n - 8));  // the last eight, maybe overlapping
  for (; n >= 8; p += 8, n -= 8) bad |= non_printable_bytes(load_u64(p));
  return bad == 0;
}

// The id is quoted in messages only when it is printable, so an operator's
// terminal never receives control bytes from a bad request.
[[nodiscard]] inline std::string quote_id(std::string_view s) {
  if (printable_ascii(s) && s.size() <= max_id_bytes) return fmt::format("'{}'", s);
  return fmt::format("<{} bytes, not printable ASCII>", s.size());
}

[[nodiscard]] inline result<void> check_id(std::string_view what, std::string_view s,
                                           errc code) {
  if (s.empty())
    return result<void>(code, fmt::format("{} is empty; use 1 to 128 printable ASCII characters", what));
  if (s.size() > max_id_bytes)
    return result<void>(code, fmt::format("{} is {} bytes long; the limit is 128 printable ASCII characters",
                                          what, s.size()));
  if (!printable_ascii(s))
    return result<void>(code, fmt::format("{} {} contains a byte outside printable ASCII (0x20-0x7e)",
                                          what, quote_id(s)));
  return {};
}

/// a == b, with word compares for short strings (ids, keys).
[[nodiscard]] inline bool same_bytes(std::string_view a, std::string_view b) noexcept {
  const std::size_t n = a.size();
  if (n != b.size()) return false;
  const char *p = a.data(), *q = b.data();
  if (n > 16) return std::memcmp(p, q, n) == 0;
  if (n >= 8) return ((load_u64(p) ^ load_u64(q)) | (load_u64(p + n - 8) ^ load_u64(q + n - 8))) == 0;
  if (n == 0) return true;
  return short_word(p, n, 0) == short_word(q, n, 0);
}

/// True when `s` is a valid account id or key (the fast test; check_id()
/// says what is wrong).
[[nodiscard]] inline bool valid_id(std::string_view s) noexcept {
  return !s.empty() && s.size() <= max_id_bytes && printable_ascii(s);
}

[[nodiscard]] inline result<void> check_account_id(std::string_view s) {
  return check_id("account id", s, errc::invalid_account);
}
[[nodiscard]] inline result<void> check_key(std::string_view s) {
  return check_id("idempotency key", s, errc::invalid_argument);
}

/**
 * Text the ledger stores for people (an adjustment's reason): valid UTF-8
 * (RFC 3629: no overlong forms, surrogates or code points past U+10FFFF)
 * without control characters, C0 (U+0000-U+001F), DEL and C1 (U+0080-U+009F,
 * e.g. U+0085 NEL) alike, so that every output path (terminal, JSON) can
 * show it as it is. `what` names the text in messages.
 * Errors: errc::invalid_utf8 (with the byte offset), errc::invalid_argument.
 */
[[nodiscard]] inline result<void> check_text(std::string_view what, std::string_view s) {
  if (printable_ascii(s)) return {};
  if (const auto bad = utf8::find_invalid(s.begin(), s.end()); bad != s.end())
    return result<void>(errc::invalid_utf8,
                        fmt::format("{} is not valid UTF-8 at byte {}; send the text as UTF-8", what,
                                    bad - s.begin()));
  for (auto it = s.begin(); it != s.end();) {
    const auto at = it - s.begin();
    const u32 cp = utf8::unchecked::next(it);
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
      return result<void>(errc::invalid_argument,
                          fmt::format("{} must not contain control characters; it has control "
                                      "character U+{:04X} at byte {}",
                                      what, cp, at));
  }
  return {};
}

/// An adjustment's reason: 1 to 1024 bytes of check_text().
[[nodiscard]] inline result<void> check_reason(std::string_view s) {
  if (s.empty() || s.size() > max_reason_bytes)
    return result<void>(errc::invalid_argument,
                        fmt::format("an adjustment needs a reason of 1 to {} bytes, got {}",
                                    max_reason_bytes, s.size()));
  return check_text("an adjustment reason", s);
}

// ------------------------------------------------------------------ CRC32C

/// CRC32C (Castagnoli) with Boost.CRC: the reference implementation.
[[nodiscard]] inline u32 crc32c_portable(const void* data, std::size_t n) noexcept {
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc;
  crc.process_bytes(data, n);
  return crc.checksum();
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// The same CRC with the SSE4.2 crc32 instruction, eight bytes at a time:
// about twenty times faster than a table, which matters for large batches.
__attribute__((target("sse4.2"))) inline u32 crc32c_sse42(const void* data, std::size_t n) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  u64 crc = 0xFFFFFFFFu;
  for (; n >= 8; p += 8, n -= 8) {
    u64 w;
    std::memcpy(&w, p, 8);
    crc = __builtin_ia32_crc32di(crc, w);
  }
  u32 c = static_cast<u32>(crc);
  for (; n > 0; ++p, --n) c = __builtin_ia32_crc32qi(c, *p);
  return c ^ 0xFFFFFFFFu;
}
#endif

/// CRC32C (Castagnoli), the checksum of journal records and snapshots: the
/// CPU's instruction where there is one, Boost.CRC otherwise (same values).
[[nodiscard]] inline u32 crc32c(const void* data, std::size_t n) noexcept {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  static const bool hw = __builtin_cpu_supports("sse4.2");
  if (hw) return crc32c_sse42(data, n);
#endif
  return crc32c_portable(data, n);
}

// ------------------------------------------------------------------ XXH64

/**
 * XXH64 (Yann Collet's xxHash, 64-bit; the published algorithm, seed
 * included): a fast 64-bit hash, here the value that chains journal records
 * (each record carries the previous one's), so that a record of another
 * history cannot pass for this one's by chance (2^-64). About 8 bytes a
 * cycle: a charge's record costs some 10 ns, a 1 MiB batch 0.1 ms.
 */
[[nodiscard]] inline u64 xxh64(const void* data, std::size_t n, u64 seed) noexcept {
  constexpr u64 p1 = 0x9E3779B185EBCA87ull, p2 = 0xC2B2AE3D27D4EB4Full, p3 = 0x165667B19E3779F9ull,
                p4 = 0x85EBCA77C2B2AE63ull, p5 = 0x27D4EB2F165667C5ull;
  const auto rotl = [](u64 x, int r) { return (x << r) | (x >> (64 - r)); };
  const auto round = [&](u64 acc, u64 in) { return rotl(acc + in * p2, 31) * p1; };
  const auto merge = [&](u64 acc, u64 v) { return (acc ^ round(0, v)) * p1 + p4; };
  // The value is persisted: words are read little-endian on every host.
  const auto load64 = [](const unsigned char* q) {
    u64 v;
    std::memcpy(&v, q, 8);
    if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
    return v;
  };
  const auto* p = static_cast<const unsigned char*>(data);
  const unsigned char* const end = p + n;
  u64 h;
  if (n >= 32) {
    u64 v1 = seed + p1 + p2, v2 = seed + p2, v3 = seed, v4 = seed - p1;
    for (; end - p >= 32; p += 32) {
      v1 = round(v1, load64(p));
      v2 = round(v2, load64(p + 8));
      v3 = round(v3, load64(p + 16));
      v4 = round(v4, load64(p + 24));
    }
    h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
    h = merge(merge(merge(merge(h, v1), v2), v3), v4);
  } else {
    h = seed + p5;
  }
  h += static_cast<u64>(n);
  for (; end - p >= 8; p += 8) h = rotl(h ^ round(0, load64(p)), 27) * p1 + p4;
  if (end - p >= 4) {
    u32 w;
    std::memcpy(&w, p, 4);
    if constexpr (std::endian::native == std::endian::big) w = __builtin_bswap32(w);
    h = rotl(h ^ (static_cast<u64>(w) * p1), 23) * p2 + p3;
    p += 4;
  }
  for (; p < end; ++p) h = rotl(h ^ (static_cast<u64>(*p) * p5), 11) * p1;
  h ^= h >> 33;
  h *= p2;
  h ^= h >> 29;
  h *= p3;
  h ^= h >> 32;
  return h;
}

// ------------------------------------------------------------- encoding

/**
 * The field encodings shared by writer and span_writer: each is written
 * little-endian through Derived::put(p, n), so the two cannot drift apart.
 */
template <class Derived>
class le_encoder {
 public:
  void u8v(u8 v) { self().put(&v, 1); }
  void u16v(u16 v) { le(v); }
  void u32v(u32 v) { le(v); }
  void u64v(u64 v) { le(v); }
  void i64v(i64 v) { le(static_cast<u64>(v)); }
  void i128v(i128 v) {
    const u128 u = static_cast<u128>(v);
    le(static_cast<u64>(u));
    le(static_cast<u64>(u >> 64));
  }
  void bytes(const void* p, std::size_t n) { self().put(p, n); }
  /// A string with a one-byte length (ids and keys: at most 255 bytes).
  void str8(std::string_view s) {
    u8v(static_cast<u8>(s.size()));
    bytes(s.data(), s.size());
  }
  /// A string with a four-byte length.
  void str32(std::string_view s) {
    u32v(static_cast<u32>(s.size()));
    bytes(s.data(), s.size());
  }

 private:
  Derived& self() noexcept { return static_cast<Derived&>(*this); }
  template <class U>
  void le(U v) {
    std::byte b[sizeof(U)];
    for (std::size_t i = 0; i < sizeof(U); ++i) b[i] = static_cast<std::byte>(v >> (8 * i));
    self().put(b, sizeof(U));
  }
};

/// Appends little-endian values to a byte vector.
class writer : public le_encoder<writer> {
 public:
  explicit writer(std::vector<std::byte>& out) noexcept : out_(out) {}
  [[nodiscard]] std::size_t size() const noexcept { return out_.size(); }

 private:
  friend class le_encoder<writer>;
  void put(const void* p, std::size_t n) {
    const auto* b = static_cast<const std::byte*>(p);
    out_.insert(out_.end(), b, b + n);
  }
  std::vector<std::byte>& out_;
};

/**
 * Writes little-endian values into bytes reserved beforehand (a journal
 * record, whose size is known before it is encoded): the same calls as
 * writer, plain stores instead of a vector append per field. Writing past
 * the end is a broken precondition (TOLLGATE_ASSERT), never an overflow.
 */
class span_writer : public le_encoder<span_writer> {
 public:
  span_writer(std::byte* begin, std::byte* end) noexcept : p_(begin), end_(end) {}
  /// As le_encoder::str8, with one bounds check for the length and the bytes.
  void str8(std::string_view s) {
    TOLLGATE_ASSERT(1 + s.size() <= static_cast<std::size_t>(end_ - p_),
                    "ledger: a record outgrew its reserved size");
    *p_ = static_cast<std::byte>(s.size());
    copy_bytes(p_ + 1, s.data(), s.size());
    p_ += 1 + s.size();
  }
  /// Where the next byte goes.
  [[nodiscard]] std::byte* position() const noexcept { return p_; }
  /// Moves back to `p` (an earlier position()): what followed is dropped.
  void rewind(std::byte* p) noexcept { p_ = p; }

 private:
  friend class le_encoder<span_writer>;
  void put(const void* p, std::size_t n) {
    TOLLGATE_ASSERT(n <= static_cast<std::size_t>(end_ - p_), "ledger: a record outgrew its reserved size");
    std::memcpy(p_, p, n);
    p_ += n;
  }
  std::byte* p_;
  std::byte* end_;
};

/// Reads little-endian values from untrusted bytes; any read past the end
/// sets a sticky failure instead of reading out of bounds.
class reader {
 public:
  reader(const std::byte* p, std::size_t n) noexcept : p_(p), n_(n) {}
  [[nodiscard]] bool ok() const noexcept { return ok_; }
  [[nodiscard]] std::size_t remaining() const noexcept { return ok_ ? n_ - pos_ : 0; }
  [[nodiscard]] std::size_t position() const noexcept { return pos_; }
  void fail() noexcept { ok_ = false; }

  u8 u8v() { return le<u8>(); }
  u16 u16v() { return le<u16>(); }
  u32 u32v() { return le<u32>(); }
  u64 u64v() { return le<u64>(); }
  i64 i64v() { return static_cast<i64>(le<u64>()); }
  i128 i128v() {
    const u64 lo = le<u64>();
    const u64 hi = le<u64>();
    return static_cast<i128>((static_cast<u128>(hi) << 64) | lo);
  }
  std::string_view str8() { return take(u8v()); }
  std::string_view str32() { return take(u32v()); }
  std::string_view take(std::size_t n) {
    if (!ok_ || n > n_ - pos_) {
      ok_ = false;
      return {};
    }
    std::string_view s(reinterpret_cast<const char*>(p_ + pos_), n);
    pos_ += n;
    return s;
  }

 private:
  template <class U>
  U le() {
    if (!ok_ || sizeof(U) > n_ - pos_) {
      ok_ = false;
      return 0;
    }
    U v = 0;
    for (std::size_t i = 0; i < sizeof(U); ++i)
      v |= static_cast<U>(static_cast<U>(static_cast<u8>(p_[pos_ + i])) << (8 * i));
    pos_ += sizeof(U);
    return v;
  }
  const std::byte* p_;
  std::size_t n_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

/// The index of the first non-zero byte of p[0, n), or n: eight bytes at a
/// time (recovery scans whole preallocated segments for data).
[[nodiscard]] inline std::size_t first_nonzero(const std::byte* p, std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    u64 w;
    std::memcpy(&w, p + i, 8);
    if (w != 0) break;
  }
  while (i < n && p[i] == std::byte{0}) ++i;
  return i;
}
/// One past the last non-zero byte of p[0, n), or 0 when all are zero.
[[nodiscard]] inline std::size_t nonzero_end(const std::byte* p, std::size_t n) noexcept {
  std::size_t e = n;
  for (; e >= 8; e -= 8) {
    u64 w;
    std::memcpy(&w, p + e - 8, 8);
    if (w != 0) break;
  }
  while (e > 0 && p[e - 1] == std::byte{0}) --e;
  return e;
}

/// Stores a little-endian value at a fixed place (journal headers).
template <class U>
inline void store_le(std::byte* p, U v) noexcept {
  for (std::size_t i = 0; i < sizeof(U); ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}
template <class U>
[[nodiscard]] inline U load_le(const std::byte* p) noexcept {
  U v = 0;
  for (std::size_t i = 0; i < sizeof(U); ++i)
    v |= static_cast<U>(static_cast<U>(static_cast<u8>(p[i])) << (8 * i));
  return v;
}

/// A string hash for the in-memory indexes (never persisted): eight bytes
/// at a time, seeded per process so that clients cannot pick keys that all
/// collide.
[[nodiscard]] inline u64 hash_seed() noexcept {
  static const u64 seed = [] {
    u64 x = 0x9E3779B97F4A7C15ull ^ reinterpret_cast<std::uintptr_t>(&x);
    x ^= static_cast<u64>(std::chrono::steady_clock::now().time_since_epoch().count());
    return x | 1;
  }();
  return seed;
}
[[nodiscard]] inline u64 hash_bytes(std::string_view s) noexcept {
  constexpr u64 m = 0x9E3779B97F4A7C15ull;
  u64 h = hash_seed() ^ (s.size() * m);
  const char* p = s.data();
  std::size_t n = s.size();
  for (; n >= 8; p += 8, n -= 8) {
    h = (h ^ load_u64(p)) * m;
    h ^= h >> 29;
  }
  // The tail (the length is in the seed, so the word is unambiguous).
  if (n > 0) h = (h ^ short_word(p, n, 0)) * m;
  h ^= h >> 32;
  h *= 0xD6E8FEB86659FD93ull;
  h ^= h >> 32;
  return h;
}

}  // namespace tollgate::ledger_detail
