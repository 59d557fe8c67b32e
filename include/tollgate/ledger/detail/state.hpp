// Ledger internals: the state machine behind basic_ledger. It holds every
// account, grant, hold, entry and idempotency key in flat vectors, applies one
// operation at a time deterministically (the same operations at the same
// times always give the same state, which is what makes journal replay
// exact), logs how to undo each mutation (so a failed operation, a failed
// linked chain or a failed fsync leaves the state exactly as it was), checks
// its named invariants, and writes and reads snapshots. It knows nothing of
// clocks, locks or files: basic_ledger supplies the time and the storage.
#pragma once

#include <algorithm>
#include <array>
#include <cstring>
#include <ctime>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include "../../core/error.hpp"
#include "../types.hpp"
#include "codec.hpp"
#include "hash_index.hpp"

namespace tollgate::ledger_detail {

/// Total credits issued by sales, grants or adjustments stay within 2^124
/// micro-credits (~2*10^31 credits), so no sum in the ledger can overflow
/// the 128-bit integers it computes in.
inline constexpr i128 issue_limit = static_cast<i128>(1) << 124;
/// The most one purchase may pay, in micro-dollars (about $1.7e26): the
/// credits it buys are computed as dollars * 10^6 / price in 128 bits.
inline constexpr i128 max_purchase_usd = i128_max / 1'000'000;
inline constexpr u32 no_account = ~u32{0};

/// "2.1e31": the order of magnitude of a non-negative amount of raw
/// micro-units, for messages beside the exact figure.
[[nodiscard]] inline std::string magnitude_text(i128 raw) {
  const std::string whole = fmt::format("{}", static_cast<u128>(raw / 1'000'000));
  if (whole.size() < 4) return whole;
  return fmt::format("{}.{}e{}", whole[0], whole[1], whole.size() - 1);
}

/// errc::overflow for an amount that would take the credits `issued` (by
/// sales, grants or adjustments) beyond the issue limit.
[[nodiscard]] inline tollgate::error beyond_issue_limit(std::string_view what, std::string_view issued) {
  return tollgate::error(
      errc::overflow,
      fmt::format("{} would take the credits {} beyond the ledger's limit of {} credits in total "
                  "(about {}); check the amount",
                  what, issued, credit_text(issue_limit), magnitude_text(issue_limit)));
}

/// errc::overflow for a purchase of more than max_purchase_usd.
[[nodiscard]] inline tollgate::error beyond_purchase_limit(i128 dollars) {
  return tollgate::error(
      errc::overflow,
      fmt::format("a purchase of ${} is more than one purchase can be: at most ${} (about ${}); "
                  "check the amount",
                  usd_text(dollars), usd_text(max_purchase_usd), magnitude_text(max_purchase_usd)));
}

/// Ledger time in messages: UTC for wall-clock times, seconds otherwise
/// (manual clocks start at their epoch).
[[nodiscard]] inline std::string time_text(i64 ns) {
  if (ns == never) return "never";
  constexpr i64 year_2000_ns = 946'684'800LL * 1'000'000'000LL;
  if (ns >= year_2000_ns) {
    const std::time_t secs = static_cast<std::time_t>(ns / 1'000'000'000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                       (ns % 1'000'000'000) / 1'000'000);
  }
  const bool neg = ns < 0;
  const u64 mag = neg ? static_cast<u64>(-(ns + 1)) + 1 : static_cast<u64>(ns);
  return fmt::format("{}{}.{:03}s", neg ? "-" : "", mag / 1'000'000'000,
                     (mag % 1'000'000'000) / 1'000'000);
}

[[nodiscard]] inline std::string duration_text(i64 ns) {
  const u64 mag = ns < 0 ? static_cast<u64>(-(ns + 1)) + 1 : static_cast<u64>(ns);
  return fmt::format("{}{}.{:03}s", ns < 0 ? "-" : "", mag / 1'000'000'000, (mag % 1'000'000'000) / 1'000'000);
}

// ------------------------------------------------------------------ records

struct grant_rec {
  u64 id = 0;           // the op id of the grant
  i64 expires = never;
  i128 granted = 0;
  i128 remaining = 0;
};

// Everything about an account that fits in a fixed-size block, so one copy
// is enough to undo any change to it.
struct account_scalars {
  i128 paid = 0;       // purchased and positively adjusted credits, never expire
  i128 granted = 0;    // sum of grants' remaining credits
  i128 held = 0;       // reserved by open holds
  i128 purchased = 0;  // credits bought to date
  i128 purchased_usd = 0;
  i128 price = 0;      // usd micro-units per credit; 0: the ledger's default
  i64 first_purchase = never;
  i64 next_hold_deadline = never;  // earliest deadline among open holds
  i64 next_grant_expiry = never;   // earliest expiry among grants with credits left
};

struct account_rec {
  std::string name;
  u64 hash = 0;
  account_scalars s;
  std::vector<grant_rec> grants;  // in draw order: soonest expiry first, then oldest
  std::vector<u64> open_holds;    // ascending ids
  std::vector<u64, huge_page_allocator<u64>> entries;  // indices into state::entries_, in time order
};

enum class hold_status : u8 { open = 0, captured = 1, released = 2, expired = 3 };

struct hold_part {
  u64 grant = 0;  // 0: the paid bucket
  i128 amount = 0;
};

struct hold_mut {
  hold_status status = hold_status::open;
  i64 closed = 0;
  i128 captured = 0;
};

struct hold_rec {
  u32 account = 0;
  u32 parts_count = 0;
  u64 parts_begin = 0;
  i64 created = 0;
  i64 deadline = never;
  i128 amount = 0;
  hold_mut m;
};

struct entry_rec {
  i128 amount = 0;
  i128 available_after = 0;
  i64 at = 0;
  u64 op = 0;
  u64 ref = 0;
  u32 account = 0;
  entry_kind kind{};
  party from{};
  party to{};
};

// What a key was used for: enough to tell a retry from a different request.
struct fingerprint {
  operation_kind kind{};
  bool relative = false;  // grant: aux is a duration after the operation
  u32 account = no_account;
  u64 hold = 0;
  i128 amount = 0;
  i64 aux = 0;
  u64 reason = 0;  // adjust: 1 + index into reasons_
};

struct receipt_rec {
  operation_kind kind{};
  u64 op = 0;
  u64 hold = 0;
  i128 amount = 0;
  i128 released = 0;
  i128 paid = 0;
  i64 at = 0;
  bool replayed = false;
  u64 record_seq = 0;  // the journal record that holds the operation (0: memory)
};

// One remembered idempotency key: the request it was used for and what the
// operation returned (the rest of the receipt follows from these). The key's
// bytes live in the state's key_bytes_ (a string_fifo), in the same order.
struct key_rec {
  u64 key_ref = 0;  // position in key_bytes_ << 8 | length
  u64 hash = 0;
  i64 at = 0;
  u64 record_seq = 0;
  fingerprint fp;
  u64 op = 0;
  u64 hold = 0;
  i128 amount = 0;
  i128 released = 0;

  [[nodiscard]] receipt_rec receipt() const {
    receipt_rec r;
    r.kind = fp.kind;
    r.op = op;
    r.hold = hold;
    r.amount = amount;
    r.released = released;
    if (fp.kind == operation_kind::purchase || fp.kind == operation_kind::set_price) r.paid = fp.amount;
    r.at = at;
    r.replayed = true;
    r.record_seq = record_seq;
    return r;
  }
};

// Appends a new chunk of `n` elements from `alloc` to `chunks` (strongly
// exception-safe: nothing leaks or changes if either allocation throws).
template <class T, class Alloc>
void push_chunk(std::vector<T*>& chunks, Alloc alloc, std::size_t n) {
  T* p = alloc.allocate(n);
  try {
    chunks.push_back(p);
  } catch (...) {
    alloc.deallocate(p, n);
    throw;
  }
}

// A FIFO in chunks of 2 MiB: keys are added at the back and forgotten at
// the front, one allocation per chunk rather than per key (std::deque
// allocates every few keys of this size). Slots are constructed when used
// and destroyed when popped, so a new chunk costs no more than its
// allocation. The chunks are ordinary pages, not transparent huge pages:
// they are written once, in order, so the TLB gains nothing, and a huge
// page fault here (2 MiB zeroed at once, sometimes compacted first) made a
// charge in memory up to 1.5x slower in half the runs (sys time
// 45-330 ns per charge, against 55-100 ns with 4 KiB pages). The first
// chunk starts at `First` slots (4 KiB) and doubles, its elements moved,
// up to a whole chunk: a small ledger (a test, a fuzz run) never maps 2 MiB
// it does not use.
template <class T, std::size_t Chunk = std::max<std::size_t>(1, (2u << 20) / sizeof(T)),
          std::size_t First = std::clamp<std::size_t>(4096 / sizeof(T), 1, Chunk)>
class chunked_fifo {
  static_assert(First >= 1 && First <= Chunk);

 public:
  chunked_fifo() = default;
  chunked_fifo(const chunked_fifo&) = delete;
  chunked_fifo& operator=(const chunked_fifo&) = delete;
  ~chunked_fifo() { clear(); }

  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  T& operator[](std::size_t i) { return *slot(head_ + i); }
  const T& operator[](std::size_t i) const { return *slot(head_ + i); }
  T& front() { return (*this)[0]; }
  const T& front() const { return (*this)[0]; }
  T& back() { return (*this)[size_ - 1]; }
  const T& back() const { return (*this)[size_ - 1]; }
  /// Constructs the new back element from `args` (T{args...}).
  template <class... Args>
  T& emplace_back(Args&&... args) {
    const std::size_t at = head_ + size_;
    if (at == capacity_) grow();
    T* p = new (slot(at)) T{std::forward<Args>(args)...};
    ++size_;
    return *p;
  }
  void push_back(T&& v) { emplace_back() = std::move(v); }
  void pop_front() {
    slot(head_)->~T();
    ++head_;
    --size_;
    if (size_ == 0) {
      clear();
    } else if (head_ == Chunk) {  // the first chunk is a whole one: head_ went through it
      free_chunk(0);
      chunks_.erase(chunks_.begin());
      capacity_ -= Chunk;
      head_ = 0;
    }
  }
  void pop_back() {
    slot(head_ + size_ - 1)->~T();
    --size_;
    if (size_ == 0) {
      clear();
      return;
    }
    while (chunks_.size() > needed(size_)) {  // never the first: size_ > 0
      free_chunk(chunks_.size() - 1);
      chunks_.pop_back();
      capacity_ -= Chunk;
    }
  }
  void clear() {
    for (std::size_t i = 0; i < size_; ++i) slot(head_ + i)->~T();
    for (std::size_t c = 0; c < chunks_.size(); ++c) free_chunk(c);
    chunks_.clear();
    head_ = 0;
    size_ = 0;
    capacity_ = 0;
  }

 private:
  // Room for one more slot: a whole new chunk, or while the first chunk is
  // the only one and not whole yet, a first chunk twice as large.
  void grow() {
    if (capacity_ >= Chunk) {
      push_chunk(chunks_, std::allocator<T>(), Chunk);
      capacity_ += Chunk;
      return;
    }
    const std::size_t cap = capacity_ == 0 ? First : std::min(2 * capacity_, Chunk);
    if (chunks_.empty()) {
      push_chunk(chunks_, std::allocator<T>(), cap);
      capacity_ = cap;
      return;
    }
    T* p = std::allocator<T>().allocate(cap);
    for (std::size_t i = head_; i < head_ + size_; ++i) {
      new (p + i) T(std::move(chunks_[0][i]));
      chunks_[0][i].~T();
    }
    free_chunk(0);
    chunks_[0] = p;
    capacity_ = cap;
  }
  // Chunk c's slots: the first chunk may be smaller while it is the only one.
  [[nodiscard]] std::size_t chunk_size(std::size_t c) const noexcept {
    return c == 0 && chunks_.size() == 1 ? capacity_ : Chunk;
  }
  void free_chunk(std::size_t c) noexcept { std::allocator<T>().deallocate(chunks_[c], chunk_size(c)); }
  [[nodiscard]] std::size_t needed(std::size_t n) const { return (head_ + n + Chunk - 1) / Chunk; }
  T* slot(std::size_t p) const { return chunks_[p / Chunk] + p % Chunk; }
  // A vector, not a deque: indexing it is what every access does, and
  // dropping the first of a few hundred chunk pointers (once per Chunk
  // elements) costs nothing.
  std::vector<T*> chunks_;
  std::size_t head_ = 0;      // index of the front element in the first chunk
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;  // slots from the first chunk's start to the last chunk's end
};

/**
 * An append-only array in chunks of one huge page, for the entries: a
 * std::vector that doubles copies everything it holds and asks the kernel
 * for twice the memory, all of it zeroed again, at every doubling (of a
 * ledger's entries, that was the largest single cost of a large batch:
 * page zeroing was 14% of the time of 1000-charge batches). Here every
 * byte is zeroed once, when its chunk is first touched, and nothing moves
 * once the first chunk is whole: it starts at `First` elements (4 KiB) and
 * doubles up to a chunk, so a small ledger never maps 2 MiB it does not
 * use. Elements are trivially copyable; pop_back() (rollback) keeps the
 * chunks.
 */
template <class T, std::size_t Chunk = (2u << 20) / sizeof(T),
          std::size_t First = std::clamp<std::size_t>(4096 / sizeof(T), 1, Chunk)>
class chunked_vector {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);
  static_assert(First >= 1 && First <= Chunk);

 public:
  chunked_vector() = default;
  chunked_vector(const chunked_vector&) = delete;
  chunked_vector& operator=(const chunked_vector&) = delete;
  ~chunked_vector() { clear(); }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] const T& operator[](std::size_t i) const noexcept { return chunks_[i / Chunk][i % Chunk]; }
  [[nodiscard]] const T& front() const noexcept { return (*this)[0]; }
  [[nodiscard]] const T& back() const noexcept { return (*this)[size_ - 1]; }
  void push_back(const T& v) {
    if (size_ == capacity_) grow();
    chunks_[size_ / Chunk][size_ % Chunk] = v;
    ++size_;
  }
  void pop_back() noexcept { --size_; }
  /// Nothing to prepare: growing never moves what is there.
  void reserve(std::size_t) noexcept {}
  void clear() noexcept {
    for (std::size_t c = 0; c < chunks_.size(); ++c)
      huge_page_allocator<T>().deallocate(chunks_[c], c == 0 && chunks_.size() == 1 ? capacity_ : Chunk);
    chunks_.clear();
    size_ = 0;
    capacity_ = 0;
  }

  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = const T*;
    using reference = const T&;
    const_iterator() = default;
    const_iterator(const chunked_vector* v, std::size_t i) noexcept : v_(v), i_(i) {}
    reference operator*() const noexcept { return (*v_)[i_]; }
    pointer operator->() const noexcept { return &(*v_)[i_]; }
    const_iterator& operator++() noexcept {
      ++i_;
      return *this;
    }
    const_iterator operator++(int) noexcept {
      const_iterator t = *this;
      ++i_;
      return t;
    }
    friend bool operator==(const const_iterator& a, const const_iterator& b) noexcept { return a.i_ == b.i_; }

   private:
    const chunked_vector* v_ = nullptr;
    std::size_t i_ = 0;
  };
  [[nodiscard]] const_iterator begin() const noexcept { return {this, 0}; }
  [[nodiscard]] const_iterator end() const noexcept { return {this, size_}; }

 private:
  // Room for one more element: a whole new chunk, or while the first chunk
  // is the only one and not whole yet, a first chunk twice as large.
  void grow() {
    huge_page_allocator<T> alloc;
    if (capacity_ >= Chunk) {
      push_chunk(chunks_, alloc, Chunk);
      capacity_ += Chunk;
      return;
    }
    const std::size_t cap = capacity_ == 0 ? First : std::min(2 * capacity_, Chunk);
    if (chunks_.empty()) {
      push_chunk(chunks_, alloc, cap);
    } else {
      T* p = alloc.allocate(cap);
      std::memcpy(static_cast<void*>(p), chunks_[0], size_ * sizeof(T));
      alloc.deallocate(chunks_[0], capacity_);
      chunks_[0] = p;
    }
    capacity_ = cap;
  }
  std::vector<T*> chunks_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;  // elements in the chunks
};

/**
 * Short byte strings (idempotency keys, at most 255 bytes) in FIFO order,
 * packed into 2 MiB chunks of ordinary pages (see chunked_fifo): appended at
 * the back, dropped from the front (keys past their retention) or the back
 * (rollback), each contiguous. The first chunk starts at `First` bytes and
 * doubles (its bytes copied) while it is the only one: a small ledger never
 * maps 2 MiB it does not use; views from get() last until the next push.
 * A key costs its length rather than a std::string (32 bytes, and a heap
 * block beyond 15 bytes). Positions are absolute and never reused.
 */
template <std::size_t Chunk = (2u << 20), std::size_t First = std::min<std::size_t>(4096, Chunk)>
class basic_string_fifo {
 public:
  static constexpr std::size_t chunk = Chunk;
  static constexpr std::size_t max_length = 255;

  static_assert(Chunk >= 255, "a chunk must hold the longest string");
  static_assert(First >= 1 && First <= Chunk);
  basic_string_fifo() = default;
  basic_string_fifo(const basic_string_fifo&) = delete;
  basic_string_fifo& operator=(const basic_string_fifo&) = delete;
  ~basic_string_fifo() { clear(); }

  /// Appends `s` (at most max_length bytes); returns its position.
  u64 push_back(std::string_view s) {
    if (s.size() > room_) make_room(s.size());
    copy_bytes(next_, s.data(), s.size());
    next_ += s.size();
    room_ -= s.size();
    const u64 pos = tail_;
    tail_ += s.size();
    return pos;
  }
  /// The `n` bytes at `pos` (as push_back returned it).
  [[nodiscard]] std::string_view get(u64 pos, std::size_t n) const noexcept {
    if (n == 0) return {};
    return {chunks_[pos / chunk - first_] + pos % chunk, n};
  }
  /// Drops everything before `pos` (the position of the oldest string kept,
  /// or end() when none is).
  void drop_front(u64 pos) {
    std::size_t n = 0;
    while (n < chunks_.size() && (first_ + n + 1) * chunk <= pos) ++n;
    if (n == 0) return;
    for (std::size_t c = 0; c < n; ++c) free_chunk(c);
    chunks_.erase(chunks_.begin(), chunks_.begin() + static_cast<std::ptrdiff_t>(n));
    first_ += n;
    first_size_ = chunk;  // the chunks after the first are whole
    if (chunks_.empty()) {
      first_ = tail_ / chunk;
      room_ = 0;
    }
  }
  /// Drops everything from `pos` on (rollback).
  void drop_back(u64 pos) {
    tail_ = pos;
    // Keep the chunks up to the one holding the byte before tail_.
    const u64 needed = tail_ <= first_ * chunk ? 0 : (tail_ + chunk - 1) / chunk - first_;
    while (chunks_.size() > needed) {
      free_chunk(chunks_.size() - 1);
      chunks_.pop_back();
    }
    room_ = 0;  // the next push_back finds its place again
  }
  [[nodiscard]] u64 end() const noexcept { return tail_; }
  void clear() {
    for (std::size_t c = 0; c < chunks_.size(); ++c) free_chunk(c);
    chunks_.clear();
    first_ = 0;
    tail_ = 0;
    room_ = 0;
  }

 private:
  // Points next_ at tail_ (moved to the next chunk if `n` bytes do not fit
  // in the rest of this one: a string never straddles two chunks), growing
  // the first chunk when it is the only one and too small.
  void make_room(std::size_t n) {
    TOLLGATE_ASSERT(n <= max_length, "ledger: a key longer than 255 bytes");
    if (tail_ % chunk + n > chunk) tail_ += chunk - tail_ % chunk;
    const u64 c = tail_ / chunk;
    const std::size_t need = tail_ % chunk + n;
    if (chunks_.empty()) {
      first_ = c;
      first_size_ = std::min(chunk, std::max(First, need));
      push_chunk(chunks_, std::allocator<char>(), first_size_);
    } else if (c == first_ && need > first_size_) {
      std::size_t size = first_size_;
      while (size < need) size = std::min(chunk, 2 * size);
      char* p = std::allocator<char>().allocate(size);
      std::memcpy(p, chunks_[0], tail_ % chunk);
      free_chunk(0);
      chunks_[0] = p;
      first_size_ = size;
    }
    while (first_ + chunks_.size() <= c) push_chunk(chunks_, std::allocator<char>(), chunk);
    next_ = chunks_[c - first_] + tail_ % chunk;
    room_ = (c == first_ ? first_size_ : chunk) - tail_ % chunk;
  }
  void free_chunk(std::size_t c) noexcept {
    std::allocator<char>().deallocate(chunks_[c], c == 0 ? first_size_ : chunk);
  }
  std::vector<char*> chunks_;      // few: one per 2 MiB of keys
  u64 first_ = 0;                  // the chunk number (position / chunk) of chunks_.front()
  std::size_t first_size_ = 0;     // bytes in chunks_.front() (the others have `chunk`)
  u64 tail_ = 0;                   // where the next string goes
  char* next_ = nullptr;           // tail_'s byte, when room_ > 0
  std::size_t room_ = 0;           // bytes free at next_ in its chunk
};
using string_fifo = basic_string_fifo<>;

/// One operation in the ledger's internal form (amounts as raw micro-units).
struct op_in {
  operation_kind kind{};
  std::string_view key;
  std::string_view account;
  std::string_view reason;
  i128 amount = 0;    // credits; purchase: dollars; set_price: dollars per credit
  i128 credits = 0;   // purchase on replay: the credits it bought
  i64 aux = -1;       // grant: expiry (never: none), or with `relative` the time after the
                      // operation; hold: timeout in ns (-1: none)
  bool relative = false;
  u64 hold = 0;       // capture/release: the hold; hold on replay: its id
  u64 key_hash = 0;   // set by state::hash_key(); 0: not computed yet
  u64 account_hash = 0;  // likewise, of the account id
};

struct savepoint {
  u64 undo = 0;
  u64 entries = 0;
  u64 holds = 0;
  u64 parts = 0;
  u64 accounts = 0;
  u64 reasons = 0;
  u64 purchases = 0;
  u64 keys_end = 0;
  u64 next_op = 0;
  i64 last_time = 0;
};

struct balance_view {
  i128 available = 0;
  i128 held = 0;
  i128 granted = 0;
  i128 purchased = 0;
  i128 purchased_usd = 0;
  i64 first_purchase = never;
};

// ------------------------------------------------------------------ state

class state {
 public:
  state(i128 default_price, i64 key_retention_ns)
      : default_price_(default_price), key_retention_(key_retention_ns) {}

  // ------------------------------------------------------------ queries

  [[nodiscard]] i64 last_time() const noexcept { return last_time_; }
  [[nodiscard]] u64 operations() const noexcept { return next_op_ - 1; }
  [[nodiscard]] std::size_t account_count() const noexcept { return accounts_.size(); }
  [[nodiscard]] const account_rec& account(u32 a) const { return accounts_[a]; }
  [[nodiscard]] const auto& entries() const noexcept { return entries_; }
  [[nodiscard]] const std::string& reason(u64 ref) const { return reasons_[ref - 1]; }
  /// The dollars of a purchase entry (its ref).
  [[nodiscard]] i128 purchase_usd(u64 ref) const { return purchase_usd_[ref - 1]; }
  [[nodiscard]] i128 system_balance(party p) const { return sys_[static_cast<u8>(p)]; }
  [[nodiscard]] std::size_t open_hold_count() const noexcept {
    std::size_t n = 0;
    for (const auto& a : accounts_) n += a.open_holds.size();
    return n;
  }
  [[nodiscard]] std::size_t key_count() const noexcept { return key_index_.size(); }

  [[nodiscard]] std::optional<u32> find_account(std::string_view name) const {
    return find_account(name, hash_bytes(name));
  }
  /// The same with the hash of `name` already computed.
  [[nodiscard]] std::optional<u32> find_account(std::string_view name, u64 h) const {
    auto v = account_index_.find(h, [&](u64 i) { return same_bytes(accounts_[i].name, name); });
    if (!v) return std::nullopt;
    return static_cast<u32>(*v);
  }

  /// The stored result of the operation that used `key`, if remembered.
  [[nodiscard]] std::optional<receipt_rec> lookup(std::string_view key) const {
    auto k = find_key(key, hash_bytes(key));
    if (!k) return std::nullopt;
    return key_at(*k).receipt();
  }

  /// The balance of `name` as of `now`, as if timed-out holds and expired
  /// grants had been settled (they are, for real, on the next write that
  /// touches the account). Mutates and rolls back: needs exclusive access.
  [[nodiscard]] std::optional<balance_view> balance(std::string_view name, i64 now) {
    auto a = find_account(name);
    if (!a) return std::nullopt;
    const account_scalars& s = accounts_[*a].s;
    if (s.next_hold_deadline > now && s.next_grant_expiry > now) return view(*a);
    const savepoint sp = mark();
    settle(*a, now, next_op_);
    balance_view v = view(*a);
    rollback(sp);
    return v;
  }

  // ------------------------------------------------------------ operations

  /// Hashes the key and the account id of `op` (basic_ledger does it before
  /// it takes its lock; a batch prefetches a few operations ahead).
  static void hash_key(op_in& op) noexcept {
    op.key_hash = hash_bytes(op.key);
    op.account_hash = hash_bytes(op.account);
  }
  /// Starts loading the index slot of a key hashed by hash_key().
  void prefetch_key(u64 key_hash) const noexcept { key_index_.prefetch(key_hash); }

  /// Journal records written from now on get this sequence number.
  void set_record_seq(u64 s) noexcept { record_seq_ = s; }

  /**
   * Applies `op` at ledger time `now` (>= last_time()). On an error nothing
   * changed. `replay` is for journal replay: the operation was accepted once,
   * so idempotency is not checked again and recorded results are verified.
   * noexcept: running out of memory half-way ends the process rather than
   * leave a half-applied operation behind.
   */
  [[nodiscard]] result<receipt_rec> apply(const op_in& op, i64 now, bool replay) noexcept {
    if (op.kind == operation_kind::expire || static_cast<u8>(op.kind) == 0 ||
        static_cast<u8>(op.kind) > static_cast<u8>(operation_kind::expire))
      return result<receipt_rec>(errc::invalid_argument, "unknown operation kind");
    if (!valid_id(op.key)) return check_key(op.key).error();
    const bool by_hold = op.kind == operation_kind::capture || op.kind == operation_kind::release;
    if (!by_hold && !valid_id(op.account)) return check_account_id(op.account).error();
    if (auto c = check_request(op); !c) return c.error();
    const u64 kh = op.key_hash != 0 ? op.key_hash : hash_bytes(op.key);
    if (!replay) {
      if (auto k = find_key(op.key, kh, key_hint_)) {
        const key_rec& kr = key_at(*k);
        if (same_request(kr.fp, op)) return kr.receipt();
        return result<receipt_rec>(
            errc::idempotency_conflict,
            fmt::format("idempotency key {} was already used for {}; this request is {}. "
                        "Use a new key for a new request",
                        quote_id(op.key), describe(kr.fp), describe(op)));
      }
    }
    const savepoint sp = mark();
    const u64 id = next_op_++;
    last_time_ = now;
    touched_ = no_account;
    result<receipt_rec> r = dispatch(op, id, now, replay);
    if (!r) {
      rollback(sp);
      return r;
    }
    r->op = id;
    r->at = now;
    r->kind = op.kind;
    register_key(op, kh, *r, now, replay);
    r->record_seq = record_seq_;
    return r;
  }

  /**
   * Checks what no state can change about an operation whose key and account
   * id are valid: the amount's sign and range (the issue limit, the largest
   * purchase), a hold's timeout, a reason's text. apply() checks it before
   * anything else (a retry of a valid request passes it too), and
   * basic_ledger::validate() lets a caller check before touching a ledger.
   */
  [[nodiscard]] static result<void> check_request(const op_in& op) {
    const auto amount = [&] { return credit_text(op.amount) + " credits"; };
    switch (op.kind) {
      case operation_kind::purchase:
        if (op.amount <= 0) return not_positive("a purchase", "$" + usd_text(op.amount));
        if (op.amount > max_purchase_usd) return beyond_purchase_limit(op.amount);
        return {};
      case operation_kind::set_price:
        if (op.amount <= 0) return not_positive("a credit price", "$" + usd_text(op.amount));
        return {};
      case operation_kind::grant:
        if (op.amount <= 0) return not_positive("a grant", amount());
        if (op.amount > issue_limit) return beyond_issue_limit("a grant of " + amount(), "granted");
        if (op.relative && op.aux <= 0)
          return result<void>(errc::invalid_argument,
                              fmt::format("a grant must expire some time after it is made; it says "
                                          "{} after",
                                          duration_text(op.aux)));
        return {};
      case operation_kind::hold:
        if (op.amount <= 0) return not_positive("a hold", amount());
        if (op.amount > issue_limit) return beyond_any_balance("a hold of " + amount());
        if (op.aux == 0)
          return result<void>(errc::invalid_argument,
                              "a hold timeout must be more than zero; omit it for a hold without "
                              "one");
        return {};
      case operation_kind::capture:
        if (op.amount < 0)
          return result<void>(errc::invalid_amount,
                              fmt::format("a capture must not be negative, got {}", amount()));
        if (op.amount > issue_limit) return beyond_any_balance("a capture of " + amount());
        return {};
      case operation_kind::release: return {};
      case operation_kind::charge:
        if (op.amount <= 0) return not_positive("a charge", amount());
        if (op.amount > issue_limit) return beyond_any_balance("a charge of " + amount());
        return {};
      case operation_kind::adjust:
        if (op.amount == 0)
          return result<void>(errc::invalid_amount, "an adjustment of 0 credits changes nothing");
        if (op.amount > issue_limit)
          return beyond_issue_limit("an adjustment of " + amount(), "added by adjustments");
        if (op.amount < -issue_limit) return beyond_any_balance("an adjustment of " + amount());
        return check_reason(op.reason);
      case operation_kind::expire: break;
    }
    return result<void>(errc::invalid_argument, "unknown operation kind");
  }

  /// Settles every timed-out hold and expired grant at `now`. Returns the
  /// number of settlement entries written (one per hold released, one per
  /// grant remainder written off); when 0, nothing changed at all.
  [[nodiscard]] u64 expire_all(i64 now) noexcept {
    const savepoint sp = mark();
    const u64 id = next_op_++;
    last_time_ = now;
    const std::size_t before = entries_.size();
    for (u32 a = 0; a < accounts_.size(); ++a) (void)settle(a, now, id);
    const u64 n = entries_.size() - before;
    if (n == 0) rollback(sp);
    return n;
  }

  /// Forgets idempotency keys older than the retention at `now`.
  void evict_keys(i64 now) {
    if (key_retention_ < 0) return;  // forever
    i64 cutoff;
    if (__builtin_sub_overflow(now, key_retention_, &cutoff)) return;
    while (!keys_.empty() && keys_.front().at < cutoff) {
      const u64 abs = keys_begin_;
      key_index_.erase(keys_.front().hash, [&](u64 v) { return v == abs; });
      keys_.pop_front();
      ++keys_begin_;
      key_bytes_.drop_front(keys_.empty() ? key_bytes_.end() : key_pos(keys_.front()));
    }
  }

  // ------------------------------------------------------------ undo

  [[nodiscard]] savepoint mark() const {
    return savepoint{undo_base_ + undo_.size(),
                     entries_.size(),
                     holds_.size(),
                     parts_.size(),
                     accounts_.size(),
                     reasons_.size(),
                     purchase_usd_.size(),
                     keys_begin_ + keys_.size(),
                     next_op_,
                     last_time_};
  }

  /// Undoes everything after `sp` (which must not have been forgotten).
  void rollback(const savepoint& sp) noexcept {
    TOLLGATE_ASSERT(sp.undo >= undo_base_, "ledger: rollback past a forgotten savepoint");
    while (undo_base_ + undo_.size() > sp.undo) {
      const undo_rec& u = undo_.back();
      switch (u.k) {
        case undo_kind::account:
          accounts_[u.account].s = undo_accounts_.back();
          undo_accounts_.pop_back();
          break;
        case undo_kind::available:
          accounts_[u.account].s.paid = u.p.available.paid;
          accounts_[u.account].s.granted = u.p.available.granted;
          break;
        case undo_kind::grant_set: accounts_[u.account].grants[u.index] = u.p.grant; break;
        case undo_kind::grant_insert: {
          auto& g = accounts_[u.account].grants;
          g.erase(g.begin() + u.index);
          break;
        }
        case undo_kind::hold_set: holds_[u.p.hold.id - 1].m = u.p.hold.m; break;
        case undo_kind::open_push: accounts_[u.account].open_holds.pop_back(); break;
        case undo_kind::open_erase: {
          auto& o = accounts_[u.account].open_holds;
          o.insert(o.begin() + u.index, u.p.id);
          break;
        }
        case undo_kind::system: sys_[u.index] = u.p.value; break;
        case undo_kind::usd_total: total_usd_ = u.p.value; break;
      }
      undo_.pop_back();
    }
    while (entries_.size() > sp.entries) {
      accounts_[entries_.back().account].entries.pop_back();
      entries_.pop_back();
    }
    holds_.resize(sp.holds);
    parts_.resize(sp.parts);
    reasons_.resize(sp.reasons);
    purchase_usd_.resize(sp.purchases);
    while (keys_begin_ + keys_.size() > sp.keys_end && !keys_.empty()) {
      const u64 abs = keys_begin_ + keys_.size() - 1;
      key_index_.erase(keys_.back().hash, [&](u64 v) { return v == abs; });
      key_bytes_.drop_back(key_pos(keys_.back()));
      keys_.pop_back();
    }
    if (keys_.empty() && keys_begin_ > sp.keys_end) keys_begin_ = sp.keys_end;
    while (accounts_.size() > sp.accounts) {
      const u64 idx = accounts_.size() - 1;
      account_index_.erase(accounts_.back().hash, [&](u64 v) { return v == idx; });
      accounts_.pop_back();
    }
    next_op_ = sp.next_op;
    last_time_ = sp.last_time;
  }

  /// Forgets how to undo anything before `sp` (it is durable now).
  void forget_undo_before(const savepoint& sp) {
    if (sp.undo <= undo_base_) return;
    const u64 n = std::min<u64>(sp.undo - undo_base_, undo_.size());
    const auto end = undo_.begin() + static_cast<std::ptrdiff_t>(n);
    const auto copies = std::count_if(undo_.begin(), end, [](const undo_rec& u) { return u.k == undo_kind::account; });
    undo_accounts_.erase(undo_accounts_.begin(), undo_accounts_.begin() + copies);
    undo_.erase(undo_.begin(), end);
    undo_base_ += n;
  }
  void forget_all_undo() {
    undo_base_ += undo_.size();
    undo_.clear();
    undo_accounts_.clear();
  }

  // ------------------------------------------------------------ invariants

  /**
   * Checks the named invariants. `deep` adds the O(entries) ones (every
   * balance equals the sum of its entries). Returns the first violation.
   */
  [[nodiscard]] result<void> check_invariants(bool deep) const {
    auto fail = [](std::string_view name, std::string what) {
      return result<void>(errc::corrupt_journal,
                          fmt::format("ledger invariant '{}' violated: {}", name, what));
    };
    // Sums are checked: a damaged snapshot may hold values that overflow.
    bool overflowed = false;
    auto add = [&overflowed](i128& acc, i128 v) {
      if (!add_ok(acc, v, acc)) overflowed = true;
    };
    i128 sum_available = 0, sum_held = 0, sum_purchased = 0;
    std::size_t open_total = 0;
    for (u32 a = 0; a < accounts_.size(); ++a) {
      const account_rec& acc = accounts_[a];
      const account_scalars& s = acc.s;
      if (s.paid < 0 || s.granted < 0 || s.held < 0)
        return fail("non_negative", fmt::format("account {} has paid {}, granted {}, held {}",
                                                quote_id(acc.name), credit_text(s.paid),
                                                credit_text(s.granted), credit_text(s.held)));
      i128 g = 0;
      i64 next_exp = never;
      for (std::size_t i = 0; i < acc.grants.size(); ++i) {
        const grant_rec& gr = acc.grants[i];
        if (gr.remaining < 0 || gr.remaining > gr.granted)
          return fail("non_negative", fmt::format("grant {} of account {} has {} of {} left", gr.id,
                                                  quote_id(acc.name), credit_text(gr.remaining),
                                                  credit_text(gr.granted)));
        if (i > 0 && std::pair(acc.grants[i - 1].expires, acc.grants[i - 1].id) >=
                         std::pair(gr.expires, gr.id))
          return fail("grant_order", fmt::format("grants of account {} are out of draw order",
                                                 quote_id(acc.name)));
        add(g, gr.remaining);
        if (gr.remaining > 0) next_exp = std::min(next_exp, gr.expires);
      }
      if (g != s.granted)
        return fail("grant_buckets", fmt::format("account {}: grants hold {} but the total says {}",
                                                 quote_id(acc.name), credit_text(g),
                                                 credit_text(s.granted)));
      if (next_exp != s.next_grant_expiry)
        return fail("grant_expiry_cache", fmt::format("account {}", quote_id(acc.name)));
      i128 held = 0;
      i64 next_dead = never;
      for (std::size_t i = 0; i < acc.open_holds.size(); ++i) {
        const u64 id = acc.open_holds[i];
        if (id == 0 || id > holds_.size() || (i > 0 && acc.open_holds[i - 1] >= id))
          return fail("open_holds", fmt::format("account {} lists hold {}", quote_id(acc.name), id));
        const hold_rec& h = holds_[id - 1];
        if (h.account != a || h.m.status != hold_status::open)
          return fail("open_holds", fmt::format("hold {} is listed open on account {}", id,
                                                quote_id(acc.name)));
        i128 parts = 0;
        for (u64 p = h.parts_begin; p < h.parts_begin + h.parts_count; ++p) {
          if (parts_[p].amount <= 0)
            return fail("hold_parts", fmt::format("hold {} has a non-positive part", id));
          if (parts_[p].grant != 0 && !find_grant(acc, parts_[p].grant))
            return fail("hold_parts", fmt::format("hold {} draws on unknown grant {}", id,
                                                  parts_[p].grant));
          add(parts, parts_[p].amount);
        }
        if (parts != h.amount)
          return fail("hold_parts", fmt::format("hold {} holds {} but its parts sum to {}", id,
                                                credit_text(h.amount), credit_text(parts)));
        add(held, h.amount);
        next_dead = std::min(next_dead, h.deadline);
      }
      open_total += acc.open_holds.size();
      if (held != s.held)
        return fail("held_matches_holds",
                    fmt::format("account {} says {} held, its open holds hold {}",
                                quote_id(acc.name), credit_text(s.held), credit_text(held)));
      if (next_dead != s.next_hold_deadline)
        return fail("hold_deadline_cache", fmt::format("account {}", quote_id(acc.name)));
      add(sum_available, s.paid);
      add(sum_available, s.granted);
      add(sum_held, s.held);
      add(sum_purchased, s.purchased);
      if (s.purchased < 0 || s.purchased_usd < 0 || (s.purchased > 0) != (s.first_purchase != never))
        return fail("purchases", fmt::format("account {}", quote_id(acc.name)));
    }
    std::size_t open_holds = 0;
    for (const hold_rec& h : holds_) {
      if (h.m.status == hold_status::open) ++open_holds;
      if (h.account >= accounts_.size() || h.parts_begin + h.parts_count > parts_.size())
        return fail("holds", "a hold refers to an unknown account or parts");
      if (h.m.status == hold_status::captured && (h.m.captured < 0 || h.m.captured > h.amount))
        return fail("holds", "a capture exceeds its hold");
    }
    if (open_holds != open_total)
      return fail("open_holds", fmt::format("{} holds are open but accounts list {}", open_holds,
                                            open_total));
    if (sys_[0] != 0) return fail("zero_sum", "the customer slot of the system balances is not 0");
    i128 total = sum_available;
    for (std::size_t p = 1; p < party_count; ++p) add(total, sys_[p]);
    if (overflowed) return fail("no_overflow", "balances sum beyond the 128-bit range");
    if (total != 0)
      return fail("zero_sum", fmt::format("customer and system balances sum to {}, not 0",
                                          credit_text(total)));
    if (sys_[static_cast<u8>(party::holds)] != sum_held)
      return fail("holds_escrow", fmt::format("the holds account has {} but accounts hold {}",
                                              credit_text(sys_[static_cast<u8>(party::holds)]),
                                              credit_text(sum_held)));
    if (-sys_[static_cast<u8>(party::sales)] != sum_purchased)
      return fail("sales_match_purchases",
                  fmt::format("sales issued {} but accounts purchased {}",
                              credit_text(-sys_[static_cast<u8>(party::sales)]),
                              credit_text(sum_purchased)));
    if (sys_[static_cast<u8>(party::usage)] < 0 || sys_[static_cast<u8>(party::expired)] < 0 ||
        sys_[static_cast<u8>(party::sales)] > 0 || sys_[static_cast<u8>(party::grants)] > 0)
      return fail("system_signs", "a system account has the wrong sign");
    if (!deep) return {};

    // Every balance is the sum of its entries.
    std::vector<i128> avail(accounts_.size(), 0);
    std::array<i128, party_count> sys{};
    i64 prev_at = entries_.empty() ? 0 : entries_.front().at;
    u64 prev_op = 0;
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      const entry_rec& e = entries_[i];
      if (e.account >= accounts_.size() || e.amount <= 0 || e.from == e.to ||
          static_cast<u8>(e.from) >= party_count || static_cast<u8>(e.to) >= party_count)
        return fail("entries", fmt::format("entry {} is malformed", i));
      if (e.at < prev_at || e.op < prev_op || e.op >= next_op_)
        return fail("entries_ordered", fmt::format("entry {} goes back in time or op", i));
      prev_at = e.at;
      prev_op = e.op;
      add(e.from == party::customer ? avail[e.account] : sys[static_cast<u8>(e.from)], -e.amount);
      add(e.to == party::customer ? avail[e.account] : sys[static_cast<u8>(e.to)], e.amount);
      if (overflowed) return fail("no_overflow", fmt::format("entry {} overflows a balance", i));
      if (avail[e.account] != e.available_after)
        return fail("entries_sum", fmt::format("entry {} says {} available after, the entries sum to {}",
                                               i, credit_text(e.available_after),
                                               credit_text(avail[e.account])));
    }
    if (!entries_.empty() && entries_.back().at > last_time_)
      return fail("entries_ordered", "an entry is later than the ledger's time");
    std::vector<i128> usd(accounts_.size(), 0);
    for (const entry_rec& e : entries_) {
      if (e.kind != entry_kind::purchase) continue;
      if (e.ref == 0 || e.ref > purchase_usd_.size())
        return fail("purchases", "a purchase entry has no dollar amount");
      add(usd[e.account], purchase_usd_[e.ref - 1]);
    }
    for (u32 a = 0; a < accounts_.size(); ++a) {
      const account_rec& acc = accounts_[a];
      if (usd[a] != acc.s.purchased_usd)
        return fail("purchases", fmt::format("account {}: its purchase entries paid ${}, its total says ${}",
                                             quote_id(acc.name), usd_text(usd[a]),
                                             usd_text(acc.s.purchased_usd)));
      if (avail[a] != acc.s.paid + acc.s.granted)
        return fail("entries_sum", fmt::format("account {} has {} available, its entries sum to {}",
                                               quote_id(acc.name),
                                               credit_text(acc.s.paid + acc.s.granted),
                                               credit_text(avail[a])));
      for (std::size_t i = 0; i < acc.entries.size(); ++i)
        if (acc.entries[i] >= entries_.size() || entries_[acc.entries[i]].account != a ||
            (i > 0 && acc.entries[i - 1] >= acc.entries[i]))
          return fail("entry_index", fmt::format("account {}", quote_id(acc.name)));
    }
    for (std::size_t p = 1; p < party_count; ++p)
      if (sys[p] != sys_[p])
        return fail("entries_sum", fmt::format("system account {} has {}, its entries sum to {}",
                                               to_string(static_cast<party>(p)),
                                               credit_text(sys_[p]), credit_text(sys[p])));
    for (std::size_t k = 0; k < keys_.size(); ++k) {
      const key_rec& kr = keys_[k];
      if (kr.fp.account != no_account && kr.fp.account >= accounts_.size())
        return fail("keys", "a key refers to an unknown account");
      if (kr.fp.reason > reasons_.size()) return fail("keys", "a key refers to an unknown reason");
    }
    return {};
  }

  // ------------------------------------------------------------ snapshots

  /// 2: a key's request says whether a grant's expiry is relative.
  static constexpr u32 snapshot_format = 2;

  /// Appends the whole state (not the undo log) to `out`.
  void serialize(std::vector<std::byte>& out) const {
    writer w(out);
    w.u32v(snapshot_format);
    w.u64v(next_op_);
    w.i64v(last_time_);
    for (i128 v : sys_) w.i128v(v);
    w.u64v(accounts_.size());
    for (const account_rec& a : accounts_) {
      w.str8(a.name);
      const account_scalars& s = a.s;
      for (i128 v : {s.paid, s.granted, s.held, s.purchased, s.purchased_usd, s.price}) w.i128v(v);
      w.i64v(s.first_purchase);
      w.i64v(s.next_hold_deadline);
      w.i64v(s.next_grant_expiry);
      w.u32v(static_cast<u32>(a.grants.size()));
      for (const grant_rec& g : a.grants) {
        w.u64v(g.id);
        w.i64v(g.expires);
        w.i128v(g.granted);
        w.i128v(g.remaining);
      }
      w.u32v(static_cast<u32>(a.open_holds.size()));
      for (u64 id : a.open_holds) w.u64v(id);
    }
    w.u64v(holds_.size());
    for (const hold_rec& h : holds_) {
      w.u32v(h.account);
      w.u32v(h.parts_count);
      w.u64v(h.parts_begin);
      w.i64v(h.created);
      w.i64v(h.deadline);
      w.i128v(h.amount);
      w.u8v(static_cast<u8>(h.m.status));
      w.i64v(h.m.closed);
      w.i128v(h.m.captured);
    }
    w.u64v(parts_.size());
    for (const hold_part& p : parts_) {
      w.u64v(p.grant);
      w.i128v(p.amount);
    }
    w.u64v(entries_.size());
    for (const entry_rec& e : entries_) {
      w.i128v(e.amount);
      w.i128v(e.available_after);
      w.i64v(e.at);
      w.u64v(e.op);
      w.u64v(e.ref);
      w.u32v(e.account);
      w.u8v(static_cast<u8>(e.kind));
      w.u8v(static_cast<u8>(e.from));
      w.u8v(static_cast<u8>(e.to));
    }
    w.u64v(reasons_.size());
    for (const std::string& r : reasons_) w.str32(r);
    w.u64v(purchase_usd_.size());
    for (i128 v : purchase_usd_) w.i128v(v);
    // A replay that meets a key again after its retention had passed (the
    // retention was shorter when the journal was written) keeps the older
    // record in the FIFO until it ages out, superseded in the index by the
    // newer one; only the one the index knows goes into the snapshot, which
    // refuses duplicate keys.
    auto current = [&](std::size_t i) {
      const auto v = find_key(key_of(keys_[i]), keys_[i].hash);
      return v && *v == keys_begin_ + i;
    };
    u64 live_keys = 0;
    for (std::size_t i = 0; i < keys_.size(); ++i) live_keys += current(i) ? 1 : 0;
    w.u64v(live_keys);
    for (std::size_t i = 0; i < keys_.size(); ++i) {
      if (!current(i)) continue;
      const key_rec& k = keys_[i];
      w.str8(key_of(k));
      w.i64v(k.at);
      w.u8v(static_cast<u8>(k.fp.kind));
      w.u8v(k.fp.relative);
      w.u32v(k.fp.account);
      w.u64v(k.fp.hold);
      w.i128v(k.fp.amount);
      w.i64v(k.fp.aux);
      w.u64v(k.fp.reason);
      w.u64v(k.op);
      w.u64v(k.hold);
      w.i128v(k.amount);
      w.i128v(k.released);
    }
  }

  /// Replaces the state with a serialized one; validates everything it reads
  /// and every invariant. On an error the state is empty.
  [[nodiscard]] result<void> deserialize(const std::byte* data, std::size_t n) {
    clear();
    auto r = read_all(data, n);
    if (!r) {
      clear();
      return r;
    }
    if (auto c = check_invariants(true); !c) {
      clear();
      return result<void>(errc::corrupt_journal, "snapshot: " + c.error().message());
    }
    return {};
  }

  void clear() {
    accounts_.clear();
    account_index_.clear();
    holds_.clear();
    parts_.clear();
    entries_.clear();
    reasons_.clear();
    purchase_usd_.clear();
    keys_.clear();
    key_bytes_.clear();
    keys_begin_ = 0;
    key_index_.clear();
    sys_ = {};
    total_usd_ = 0;
    undo_.clear();
    undo_accounts_.clear();
    undo_base_ = 0;
    next_op_ = 1;
    last_time_ = std::numeric_limits<i64>::min();
  }

  // ------------------------------------------------------------ op codec

  /// Bytes encode_op() will write for `op` (an upper bound before apply).
  [[nodiscard]] static std::size_t encoded_size(const op_in& op) noexcept {
    const std::size_t key = 1 + op.key.size(), acct = 1 + op.account.size();
    switch (op.kind) {
      case operation_kind::purchase: return 1 + key + acct + 32;
      case operation_kind::grant: return 1 + key + acct + 16 + 8 + 1;
      case operation_kind::hold: return 1 + key + acct + 16 + 8 + 8;
      case operation_kind::capture: return 1 + key + 8 + 16;
      case operation_kind::release: return 1 + key + 8;
      case operation_kind::charge: return 1 + key + acct + 16;
      case operation_kind::adjust: return 1 + key + acct + 16 + 4 + op.reason.size();
      case operation_kind::set_price: return 1 + key + acct + 16;
      case operation_kind::expire: return 1;
    }
    return 1;
  }

  /// Writes an applied operation with the results replay must reproduce.
  template <class Writer>
  static void encode_op(Writer& w, const op_in& op, const receipt_rec& r) {
    w.u8v(static_cast<u8>(op.kind));
    switch (op.kind) {
      case operation_kind::purchase:
        w.str8(op.key), w.str8(op.account), w.i128v(op.amount), w.i128v(r.amount);
        break;
      case operation_kind::grant:
        w.str8(op.key), w.str8(op.account), w.i128v(op.amount), w.i64v(op.aux), w.u8v(op.relative);
        break;
      case operation_kind::hold:
        w.str8(op.key), w.str8(op.account), w.i128v(op.amount), w.i64v(op.aux), w.u64v(r.hold);
        break;
      case operation_kind::capture: w.str8(op.key), w.u64v(op.hold), w.i128v(op.amount); break;
      case operation_kind::release: w.str8(op.key), w.u64v(op.hold); break;
      case operation_kind::charge: w.str8(op.key), w.str8(op.account), w.i128v(op.amount); break;
      case operation_kind::adjust:
        w.str8(op.key), w.str8(op.account), w.i128v(op.amount), w.str32(op.reason);
        break;
      case operation_kind::set_price: w.str8(op.key), w.str8(op.account), w.i128v(op.amount); break;
      case operation_kind::expire: break;
    }
  }

  /// Reads one operation; false when the bytes do not form one.
  [[nodiscard]] static bool decode_op(reader& rd, op_in& op) {
    op = op_in{};
    const u8 k = rd.u8v();
    if (!rd.ok() || k == 0 || k > static_cast<u8>(operation_kind::expire)) return false;
    op.kind = static_cast<operation_kind>(k);
    switch (op.kind) {
      case operation_kind::purchase:
        op.key = rd.str8(), op.account = rd.str8(), op.amount = rd.i128v(), op.credits = rd.i128v();
        break;
      case operation_kind::grant: {
        op.key = rd.str8(), op.account = rd.str8(), op.amount = rd.i128v(), op.aux = rd.i64v();
        const u8 form = rd.u8v();
        if (form > 1) return false;
        op.relative = form == 1;
        break;
      }
      case operation_kind::hold:
        op.key = rd.str8(), op.account = rd.str8(), op.amount = rd.i128v(), op.aux = rd.i64v();
        op.hold = rd.u64v();
        break;
      case operation_kind::capture: op.key = rd.str8(), op.hold = rd.u64v(), op.amount = rd.i128v(); break;
      case operation_kind::release: op.key = rd.str8(), op.hold = rd.u64v(); break;
      case operation_kind::charge: op.key = rd.str8(), op.account = rd.str8(), op.amount = rd.i128v(); break;
      case operation_kind::adjust:
        op.key = rd.str8(), op.account = rd.str8(), op.amount = rd.i128v(), op.reason = rd.str32();
        break;
      case operation_kind::set_price:
        op.key = rd.str8(), op.account = rd.str8(), op.amount = rd.i128v();
        break;
      case operation_kind::expire: break;
    }
    return rd.ok();
  }

  /// A person's description of an operation ("a charge of 5 credits to account 'acme'").
  [[nodiscard]] std::string describe(const op_in& op) const {
    const std::string acct = quote_id(op.account);
    switch (op.kind) {
      case operation_kind::purchase:
        return fmt::format("a purchase of ${} for account {}", usd_text(op.amount), acct);
      case operation_kind::grant:
        return fmt::format("a grant of {} credits to account {}{}", credit_text(op.amount), acct,
                           op.relative  ? " expiring " + duration_text(op.aux) + " after it was made"
                           : op.aux == never ? ""
                                             : " expiring at " + time_text(op.aux));
      case operation_kind::hold:
        return fmt::format("a hold of {} credits on account {}{}", credit_text(op.amount), acct,
                           op.aux < 0 ? "" : " with a timeout of " + duration_text(op.aux));
      case operation_kind::capture:
        return fmt::format("a capture of {} credits from hold {}", credit_text(op.amount), op.hold);
      case operation_kind::release: return fmt::format("a release of hold {}", op.hold);
      case operation_kind::charge:
        return fmt::format("a charge of {} credits to account {}", credit_text(op.amount), acct);
      case operation_kind::adjust:
        return fmt::format("an adjustment of {} credits to account {} (reason: {})",
                           credit_text(op.amount), acct, quote_id(op.reason));
      case operation_kind::set_price:
        return fmt::format("setting the credit price of account {} to ${}", acct,
                           usd_text(op.amount));
      case operation_kind::expire: return "an expiry sweep";
    }
    return "an unknown operation";
  }

 private:
  // ------------------------------------------------------------ undo log

  // One undo record is 64 bytes: a charge writes two (its account's
  // available credits and the usage account), a whole account copy goes to
  // undo_accounts_ (in the same order as its records), so the log of a large
  // batch stays small enough to stay in the cache.
  enum class undo_kind : u8 {
    account, available, grant_set, grant_insert, hold_set, open_push, open_erase, system, usd_total
  };
  struct available_undo {
    i128 paid;
    i128 granted;
  };
  struct hold_undo {
    hold_mut m;
    u64 id;
  };
  struct undo_rec {
    undo_kind k{};
    u32 account = 0;
    u32 index = 0;
    union payload {
      available_undo available;
      grant_rec grant;
      hold_undo hold;
      i128 value;
      u64 id;  // open_erase: the hold
      payload() : value(0) {}
    } p;
  };
  static_assert(sizeof(undo_rec) <= 64, "ledger: keep undo records small");

  // The account's scalars, to change any of them.
  account_scalars& acct_mut(u32 a) {
    undo_rec& u = undo_.emplace_back();
    u.k = undo_kind::account;
    u.account = a;
    undo_accounts_.push_back(accounts_[a].s);
    return accounts_[a].s;
  }
  // The account's scalars, to change `paid` and `granted` only (spending
  // and giving back): a smaller undo record than acct_mut().
  account_scalars& available_mut(u32 a) {
    undo_rec& u = undo_.emplace_back();
    u.k = undo_kind::available;
    u.account = a;
    u.p.available = available_undo{accounts_[a].s.paid, accounts_[a].s.granted};
    return accounts_[a].s;
  }
  grant_rec& grant_mut(u32 a, std::size_t i) {
    undo_rec& u = undo_.emplace_back();
    u.k = undo_kind::grant_set;
    u.account = a;
    u.index = static_cast<u32>(i);
    u.p.grant = accounts_[a].grants[i];
    return accounts_[a].grants[i];
  }
  void hold_set(u64 id, hold_mut m) {
    undo_rec& u = undo_.emplace_back();
    u.k = undo_kind::hold_set;
    u.p.hold = hold_undo{holds_[id - 1].m, id};
    holds_[id - 1].m = m;
  }
  void sys_add(party p, i128 delta) {
    const u8 i = static_cast<u8>(p);
    undo_rec& u = undo_.emplace_back();
    u.k = undo_kind::system;
    u.index = i;
    u.p.value = sys_[i];
    sys_[i] += delta;
  }

  // ------------------------------------------------------------ helpers

  [[nodiscard]] std::optional<u64> find_key(std::string_view key, u64 h) const {
    return key_index_.find(h, [&](u64 abs) { return same_bytes(key_of(keys_[abs - keys_begin_]), key); });
  }
  // The same, remembering where a miss stopped for register_key().
  [[nodiscard]] std::optional<u64> find_key(std::string_view key, u64 h, hash_index::hint& where) const {
    return key_index_.find(h, [&](u64 abs) { return same_bytes(key_of(keys_[abs - keys_begin_]), key); }, where);
  }
  [[nodiscard]] static u64 key_pos(const key_rec& k) noexcept { return k.key_ref >> 8; }
  [[nodiscard]] std::string_view key_of(const key_rec& k) const noexcept {
    return key_bytes_.get(k.key_ref >> 8, static_cast<std::size_t>(k.key_ref & 0xff));
  }
  // Stores the bytes of a new key (the newest of keys_).
  [[nodiscard]] u64 store_key(std::string_view key) {
    return key_bytes_.push_back(key) << 8 | key.size();
  }
  [[nodiscard]] const key_rec& key_at(u64 abs) const { return keys_[abs - keys_begin_]; }

  [[nodiscard]] static const grant_rec* find_grant(const account_rec& acc, u64 id) {
    for (const grant_rec& g : acc.grants)
      if (g.id == id) return &g;
    return nullptr;
  }

  [[nodiscard]] balance_view view(u32 a) const {
    const account_scalars& s = accounts_[a].s;
    return balance_view{s.paid + s.granted, s.held, s.granted, s.purchased, s.purchased_usd,
                        s.first_purchase};
  }

  // The hash of the operation's account id (computed before the lock when
  // the ledger could; a replayed or hand-made op_in has none yet).
  [[nodiscard]] static u64 account_hash(const op_in& op) noexcept {
    return op.account_hash != 0 ? op.account_hash : hash_bytes(op.account);
  }
  [[nodiscard]] std::optional<u32> find_account(const op_in& op) const {
    return find_account(op.account, account_hash(op));
  }

  u32 intern(const op_in& op) {
    const u64 h = account_hash(op);
    const std::string_view name = op.account;
    if (auto a = find_account(name, h)) return *a;
    const u32 idx = static_cast<u32>(accounts_.size());
    account_rec& acc = accounts_.emplace_back();
    acc.name.assign(name);
    acc.hash = h;
    account_index_.insert(h, idx);
    return idx;
  }

  // Records one movement and the system side of it; the customer side (the
  // buckets) has been changed by the caller already, so available_after is
  // what the account has now.
  void post(u32 a, entry_kind kind, party from, party to, i128 amount, u64 op, i64 now, u64 ref) {
    if (from != party::customer) sys_add(from, -amount);
    if (to != party::customer) sys_add(to, amount);
    const account_scalars& s = accounts_[a].s;
    entries_.push_back(entry_rec{amount, s.paid + s.granted, now, op, ref, a, kind, from, to});
    accounts_[a].entries.push_back(entries_.size() - 1);
  }

  void recompute_grant_expiry(u32 a) {
    i64 next = never;
    for (const grant_rec& g : accounts_[a].grants)
      if (g.remaining > 0) next = std::min(next, g.expires);
    if (next != accounts_[a].s.next_grant_expiry) acct_mut(a).next_grant_expiry = next;
  }
  void recompute_hold_deadline(u32 a) {
    i64 next = never;
    for (u64 id : accounts_[a].open_holds) next = std::min(next, holds_[id - 1].deadline);
    if (next != accounts_[a].s.next_hold_deadline) acct_mut(a).next_hold_deadline = next;
  }

  // Takes `amount` (<= available) out of the account's buckets: grants first,
  // soonest expiry first, then paid credits. Records the parts when asked.
  void draw(u32 a, i128 amount, i64 now, bool record_parts) {
    i128 need = amount;
    bool emptied = false;
    auto& grants = accounts_[a].grants;
    for (std::size_t i = 0; i < grants.size() && need > 0; ++i) {
      if (grants[i].remaining == 0 || grants[i].expires <= now) continue;
      const i128 take = std::min(need, grants[i].remaining);
      grant_rec& g = grant_mut(a, i);
      g.remaining -= take;
      emptied |= g.remaining == 0;
      if (record_parts) parts_.push_back(hold_part{g.id, take});
      need -= take;
    }
    account_scalars& s = available_mut(a);
    s.granted -= amount - need;
    if (need > 0) {
      s.paid -= need;
      if (record_parts) parts_.push_back(hold_part{0, need});
    }
    if (emptied) recompute_grant_expiry(a);
  }

  // Returns credits to the bucket they came from (an expired grant's share is
  // written off by the caller afterwards).
  void give_back(u32 a, u64 grant, i128 amount) {
    if (grant == 0) {
      available_mut(a).paid += amount;
      return;
    }
    auto& grants = accounts_[a].grants;
    for (std::size_t i = 0; i < grants.size(); ++i) {
      if (grants[i].id != grant) continue;
      const bool was_empty = grants[i].remaining == 0;
      grant_mut(a, i).remaining += amount;
      available_mut(a).granted += amount;
      if (was_empty) recompute_grant_expiry(a);
      return;
    }
    TOLLGATE_ASSERT(false, "ledger: a hold part refers to a grant the account does not have");
  }

  u64 write_off_expired(u32 a, i64 now, u64 op) {
    u64 n = 0;
    auto& grants = accounts_[a].grants;
    for (std::size_t i = 0; i < grants.size(); ++i) {
      if (grants[i].expires > now || grants[i].remaining == 0) continue;
      const i128 amount = grants[i].remaining;
      const u64 gid = grants[i].id;
      grant_mut(a, i).remaining = 0;
      available_mut(a).granted -= amount;
      post(a, entry_kind::grant_expired, party::customer, party::expired, amount, op, now, gid);
      ++n;
    }
    if (n > 0) recompute_grant_expiry(a);
    return n;
  }

  // Closes an open hold: `captured` goes to usage (taken from its parts in
  // draw order), the rest returns to the buckets it came from.
  void close_hold(u64 id, hold_status status, i128 captured, i64 now, u64 op) {
    const hold_rec h = holds_[id - 1];
    const u32 a = h.account;
    acct_mut(a).held -= h.amount;
    auto& open = accounts_[a].open_holds;
    const auto it = std::lower_bound(open.begin(), open.end(), id);
    TOLLGATE_ASSERT(it != open.end() && *it == id, "ledger: closing a hold that is not open");
    {
      undo_rec& u = undo_.emplace_back();
      u.k = undo_kind::open_erase;
      u.account = a;
      u.index = static_cast<u32>(it - open.begin());
      u.p.id = id;
    }
    open.erase(it);
    recompute_hold_deadline(a);
    hold_set(id, hold_mut{status, now, captured});
    // The capture entry comes first: it leaves available alone, so its
    // available_after is the balance before the remainder comes back.
    if (captured > 0) post(a, entry_kind::capture, party::holds, party::usage, captured, op, now, id);
    i128 to_capture = captured;
    for (u64 p = h.parts_begin; p < h.parts_begin + h.parts_count; ++p) {
      const hold_part part = parts_[p];
      const i128 take = std::min(part.amount, to_capture);
      to_capture -= take;
      if (part.amount > take) give_back(a, part.grant, part.amount - take);
    }
    if (h.amount > captured)
      post(a, status == hold_status::expired ? entry_kind::hold_expired : entry_kind::release,
           party::holds, party::customer, h.amount - captured, op, now, id);
    if (accounts_[a].s.next_grant_expiry <= now) write_off_expired(a, now, op);
  }

  // Releases the account's timed-out holds and writes off its expired grants.
  u64 settle(u32 a, i64 now, u64 op) {
    u64 n = 0;
    if (accounts_[a].s.next_hold_deadline <= now) {
      auto& open = accounts_[a].open_holds;
      for (std::size_t i = 0; i < open.size();) {
        if (holds_[open[i] - 1].deadline <= now) {
          close_hold(open[i], hold_status::expired, 0, now, op);
          ++n;
        } else {
          ++i;
        }
      }
    }
    if (accounts_[a].s.next_grant_expiry <= now) n += write_off_expired(a, now, op);
    return n;
  }

  [[nodiscard]] static result<receipt_rec> insufficient(std::string_view account, i128 available,
                                                        i128 held, i128 need,
                                                        std::string_view what) {
    std::string msg = fmt::format("account {} has {} credits available, {} needs {}",
                                  quote_id(account), credit_text(available), what, credit_text(need));
    if (held > 0) msg += fmt::format(" ({} more are held by open holds)", credit_text(held));
    msg += "; buy more credits or lower the cost";
    return result<receipt_rec>(errc::insufficient_credits, std::move(msg));
  }
  [[nodiscard]] static tollgate::error not_positive(std::string_view what, std::string text) {
    return tollgate::error(errc::invalid_amount, fmt::format("{} must be a positive amount, got {}", what, text));
  }
  // More than any balance can ever be (every balance is made of issued credits).
  [[nodiscard]] static tollgate::error beyond_any_balance(std::string_view what) {
    return tollgate::error(
        errc::overflow,
        fmt::format("{} is more than any account can ever have: the ledger issues at most {} credits "
                    "(about {}) by each of sales, grants and adjustments; check the amount",
                    what, credit_text(issue_limit), magnitude_text(issue_limit)));
  }
  [[nodiscard]] static result<receipt_rec> too_much(std::string_view what, std::string_view issued) {
    return result<receipt_rec>(beyond_issue_limit(what, issued));
  }
  [[nodiscard]] static bool within_issue_limit(i128 balance, i128 delta) {
    i128 r;
    return add_ok(balance, delta, r) && r <= issue_limit && r >= -issue_limit;
  }

  // ------------------------------------------------------------ dispatch

  result<receipt_rec> dispatch(const op_in& op, u64 id, i64 now, bool replay) {
    switch (op.kind) {
      case operation_kind::purchase: return do_purchase(op, id, now, replay);
      case operation_kind::grant: return do_grant(op, id, now);
      case operation_kind::hold: return do_hold(op, id, now, replay);
      case operation_kind::capture: return do_close(op, id, now, true);
      case operation_kind::release: return do_close(op, id, now, false);
      case operation_kind::charge: return do_charge(op, id, now);
      case operation_kind::adjust: return do_adjust(op, id, now);
      case operation_kind::set_price: return do_set_price(op);
      case operation_kind::expire: break;
    }
    return result<receipt_rec>(errc::invalid_argument, "unknown operation kind");
  }

  result<receipt_rec> do_purchase(const op_in& op, u64 id, i64 now, bool replay) {
    auto existing = find_account(op);
    const i128 price =
        existing && accounts_[*existing].s.price > 0 ? accounts_[*existing].s.price : default_price_;
    i128 c = op.credits;
    if (!replay) {
      // Dollars to credits truncates: a customer never gets credits they did
      // not pay for (credit_price::to_credits does the same).
      constexpr i128 unit = 1'000'000;
      c = op.amount * unit / price;
    }
    if (c <= 0)
      return result<receipt_rec>(
          errc::invalid_amount,
          fmt::format("${} buys no credits at ${} per credit; buy at least ${}",
                      usd_text(op.amount), usd_text(price), usd_text((price + 999'999) / 1'000'000)));
    if (!within_issue_limit(sys_[static_cast<u8>(party::sales)], -c))
      return too_much("a purchase of $" + usd_text(op.amount), "sold");
    if (!within_issue_limit(total_usd_, op.amount))
      return result<receipt_rec>(
          errc::overflow,
          fmt::format("a purchase of ${} would take the dollars paid for all purchases beyond the "
                      "ledger's limit of ${} (about ${}); check the amount",
                      usd_text(op.amount), usd_text(issue_limit), magnitude_text(issue_limit)));
    const u32 a = touched_ = intern(op);
    settle(a, now, id);
    account_scalars& s = acct_mut(a);
    s.paid += c;
    s.purchased += c;
    s.purchased_usd += op.amount;
    if (s.first_purchase == never) s.first_purchase = now;
    {
      undo_rec& u = undo_.emplace_back();
      u.k = undo_kind::usd_total;
      u.p.value = total_usd_;
    }
    total_usd_ += op.amount;
    purchase_usd_.push_back(op.amount);
    post(a, entry_kind::purchase, party::sales, party::customer, c, id, now, purchase_usd_.size());
    receipt_rec r;
    r.amount = c;
    r.paid = op.amount;
    return r;
  }

  result<receipt_rec> do_grant(const op_in& op, u64 id, i64 now) {
    i64 expires = op.aux;
    if (op.relative && (__builtin_add_overflow(now, op.aux, &expires) || expires == never))
      return result<receipt_rec>(errc::invalid_argument,
                                 fmt::format("a grant expiring {} after now ({}) is beyond the "
                                             "ledger's clock; omit the expiry for a grant that "
                                             "never expires",
                                             duration_text(op.aux), time_text(now)));
    if (expires != never && expires <= now)
      return result<receipt_rec>(
          errc::invalid_argument,
          fmt::format("a grant must expire after now ({}), it says {}", time_text(now),
                      time_text(expires)));
    if (!within_issue_limit(sys_[static_cast<u8>(party::grants)], -op.amount))
      return too_much("a grant of " + credit_text(op.amount) + " credits", "granted");
    const u32 a = touched_ = intern(op);
    settle(a, now, id);
    auto& grants = accounts_[a].grants;
    const grant_rec g{id, expires, op.amount, op.amount};
    const auto it = std::upper_bound(grants.begin(), grants.end(), g, [](const grant_rec& x, const grant_rec& y) {
      return std::pair(x.expires, x.id) < std::pair(y.expires, y.id);
    });
    const auto pos = static_cast<u32>(it - grants.begin());
    grants.insert(it, g);
    {
      undo_rec& u = undo_.emplace_back();
      u.k = undo_kind::grant_insert;
      u.account = a;
      u.index = pos;
    }
    account_scalars& s = acct_mut(a);
    s.granted += op.amount;
    s.next_grant_expiry = std::min(s.next_grant_expiry, expires);
    post(a, entry_kind::grant, party::grants, party::customer, op.amount, id, now, id);
    receipt_rec r;
    r.amount = op.amount;
    return r;
  }

  result<receipt_rec> do_hold(const op_in& op, u64 id, i64 now, bool replay) {
    i64 deadline = never;
    if (op.aux >= 0) {
      if (__builtin_add_overflow(now, op.aux, &deadline) || deadline == never)
        return result<receipt_rec>(errc::invalid_argument,
                                   fmt::format("a hold timeout must be positive and finite, got {}",
                                               duration_text(op.aux)));
    }
    auto found = find_account(op);
    if (!found) return insufficient(op.account, 0, 0, op.amount, "the hold");
    const u32 a = touched_ = *found;
    settle(a, now, id);
    const account_scalars& s0 = accounts_[a].s;
    if (s0.paid + s0.granted < op.amount)
      return insufficient(op.account, s0.paid + s0.granted, s0.held, op.amount, "the hold");
    const u64 hid = holds_.size() + 1;
    if (replay && op.hold != hid)
      return result<receipt_rec>(errc::corrupt_journal,
                                 fmt::format("the journal says this hold got id {}, replay gives {}",
                                             op.hold, hid));
    hold_rec h;
    h.account = a;
    h.parts_begin = parts_.size();
    draw(a, op.amount, now, true);
    h.parts_count = static_cast<u32>(parts_.size() - h.parts_begin);
    h.created = now;
    h.deadline = deadline;
    h.amount = op.amount;
    holds_.push_back(h);
    account_scalars& s = acct_mut(a);
    s.held += op.amount;
    s.next_hold_deadline = std::min(s.next_hold_deadline, deadline);
    accounts_[a].open_holds.push_back(hid);
    {
      undo_rec& u = undo_.emplace_back();
      u.k = undo_kind::open_push;
      u.account = a;
    }
    post(a, entry_kind::hold, party::customer, party::holds, op.amount, id, now, hid);
    receipt_rec r;
    r.hold = hid;
    r.amount = op.amount;
    return r;
  }

  result<receipt_rec> do_close(const op_in& op, u64 id, i64 now, bool capture) {
    if (op.hold == 0 || op.hold > holds_.size())
      return result<receipt_rec>(errc::unknown_hold,
                                 fmt::format("there is no hold {}; use the id a hold returned", op.hold));
    const u32 a = holds_[op.hold - 1].account;
    settle(a, now, id);
    const hold_rec& h = holds_[op.hold - 1];
    switch (h.m.status) {
      case hold_status::open: break;
      case hold_status::captured:
        return result<receipt_rec>(errc::unknown_hold,
                                   fmt::format("hold {} was already captured ({} credits) at {}",
                                               op.hold, credit_text(h.m.captured), time_text(h.m.closed)));
      case hold_status::released:
        return result<receipt_rec>(errc::unknown_hold, fmt::format("hold {} was already released at {}",
                                                                   op.hold, time_text(h.m.closed)));
      case hold_status::expired:
        return result<receipt_rec>(
            errc::unknown_hold,
            fmt::format("hold {} timed out at {} and its credits went back to account {}", op.hold,
                        time_text(h.deadline), quote_id(accounts_[a].name)));
    }
    const i128 amount = h.amount;
    if (capture && op.amount > amount)
      return result<receipt_rec>(errc::hold_exceeded,
                                 fmt::format("hold {} holds {} credits; it cannot capture {}", op.hold,
                                             credit_text(amount), credit_text(op.amount)));
    const i128 captured = capture ? op.amount : 0;
    close_hold(op.hold, capture ? hold_status::captured : hold_status::released, captured, now, id);
    receipt_rec r;
    r.hold = op.hold;
    r.amount = capture ? captured : amount;
    r.released = capture ? amount - captured : 0;
    return r;
  }

  result<receipt_rec> do_charge(const op_in& op, u64 id, i64 now) {
    auto found = find_account(op);
    if (!found) return insufficient(op.account, 0, 0, op.amount, "the charge");
    const u32 a = touched_ = *found;
    {
      const account_scalars& s = accounts_[a].s;
      if (s.next_hold_deadline <= now || s.next_grant_expiry <= now) settle(a, now, id);
    }
    const account_scalars& s = accounts_[a].s;
    if (s.paid + s.granted < op.amount)
      return insufficient(op.account, s.paid + s.granted, s.held, op.amount, "the charge");
    draw(a, op.amount, now, false);
    post(a, entry_kind::charge, party::customer, party::usage, op.amount, id, now, 0);
    receipt_rec r;
    r.amount = op.amount;
    return r;
  }

  result<receipt_rec> do_adjust(const op_in& op, u64 id, i64 now) {
    reasons_.emplace_back(op.reason);
    const u64 ref = reasons_.size();
    if (op.amount > 0) {
      if (!within_issue_limit(sys_[static_cast<u8>(party::adjustments)], -op.amount))
        return too_much("an adjustment of " + credit_text(op.amount) + " credits", "added by adjustments");
      const u32 a = touched_ = intern(op);
      settle(a, now, id);
      available_mut(a).paid += op.amount;
      post(a, entry_kind::adjustment, party::adjustments, party::customer, op.amount, id, now, ref);
    } else {
      const i128 take = -op.amount;
      auto found = find_account(op);
      if (!found) return insufficient(op.account, 0, 0, take, "the adjustment");
      const u32 a = touched_ = *found;
      settle(a, now, id);
      const account_scalars& s = accounts_[a].s;
      if (s.paid + s.granted < take)
        return insufficient(op.account, s.paid + s.granted, s.held, take, "the adjustment");
      draw(a, take, now, false);
      post(a, entry_kind::adjustment, party::customer, party::adjustments, take, id, now, ref);
    }
    receipt_rec r;
    r.amount = op.amount;
    return r;
  }

  result<receipt_rec> do_set_price(const op_in& op) {
    const u32 a = touched_ = intern(op);
    acct_mut(a).price = op.amount;
    receipt_rec r;
    r.paid = op.amount;
    return r;
  }

  // ------------------------------------------------------------ keys

  [[nodiscard]] bool same_request(const fingerprint& fp, const op_in& op) const {
    if (fp.kind != op.kind || fp.amount != op.amount) return false;
    switch (op.kind) {
      case operation_kind::capture: return fp.hold == op.hold;
      case operation_kind::release: return fp.hold == op.hold;
      default: break;
    }
    if (fp.account == no_account || accounts_[fp.account].name != op.account) return false;
    if (op.kind == operation_kind::grant || op.kind == operation_kind::hold)
      return fp.aux == op.aux && fp.relative == op.relative;
    if (op.kind == operation_kind::adjust)
      return fp.reason != 0 && reasons_[fp.reason - 1] == op.reason;
    return true;
  }

  [[nodiscard]] std::string describe(const fingerprint& fp) const {
    op_in op;
    op.kind = fp.kind;
    op.amount = fp.amount;
    op.aux = fp.aux;
    op.relative = fp.relative;
    op.hold = fp.hold;
    if (fp.account != no_account) op.account = accounts_[fp.account].name;
    if (fp.reason != 0) op.reason = reasons_[fp.reason - 1];
    return describe(op);
  }

  void register_key(const op_in& op, u64 h, const receipt_rec& r, i64 now, bool replay) {
    const u64 abs = keys_begin_ + keys_.size();
    // Replay may meet a key again that the live ledger had forgotten (its
    // retention passed) and reused: the newest use wins. A live operation
    // only gets here when the key is new.
    if (replay) key_index_.erase(h, [&](u64 v) { return same_bytes(key_of(keys_[v - keys_begin_]), op.key); });
    fingerprint fp{op.kind, op.relative, no_account, op.hold, op.amount, op.aux, 0};
    if (op.kind != operation_kind::capture && op.kind != operation_kind::release) {
      fp.account = touched_ != no_account ? touched_ : *find_account(op);
      fp.hold = 0;
    }
    if (op.kind == operation_kind::adjust) fp.reason = reasons_.size();
    // Built in its slot in one go (the slot is not zeroed first).
    keys_.emplace_back(store_key(op.key), h, now, record_seq_, fp, r.op, r.hold, r.amount, r.released);
    // A live operation's key was just looked up and missed: its slot is
    // known unless the index changed since (the hint checks).
    if (replay) key_index_.insert(h, abs);
    else key_index_.insert(h, abs, key_hint_);
  }

  // ------------------------------------------------------------ loading

  [[nodiscard]] result<void> read_all(const std::byte* data, std::size_t n) {
    reader rd(data, n);
    auto bad = [&](std::string_view what) {
      return result<void>(errc::corrupt_journal,
                          fmt::format("snapshot: {} (at byte {})", what, rd.position()));
    };
    // A count is plausible only if that many of the smallest element fit.
    auto count = [&](u64 c, std::size_t min_size) { return c <= rd.remaining() / min_size; };
    if (rd.u32v() != snapshot_format) return bad("unsupported snapshot format");
    next_op_ = rd.u64v();
    last_time_ = rd.i64v();
    for (i128& v : sys_) v = rd.i128v();
    if (!rd.ok() || next_op_ == 0) return bad("truncated header");
    const u64 na = rd.u64v();
    if (!count(na, 1 + 6 * 16 + 3 * 8 + 8) || na >= no_account) return bad("bad account count");
    accounts_.reserve(na);
    for (u64 i = 0; i < na; ++i) {
      account_rec& a = accounts_.emplace_back();
      a.name.assign(rd.str8());
      if (!rd.ok() || !check_account_id(a.name)) return bad("bad account id");
      a.hash = hash_bytes(a.name);
      if (find_account(a.name)) return bad("duplicate account id");
      account_index_.insert(a.hash, i);
      account_scalars& s = a.s;
      for (i128* v : {&s.paid, &s.granted, &s.held, &s.purchased, &s.purchased_usd, &s.price}) *v = rd.i128v();
      s.first_purchase = rd.i64v();
      s.next_hold_deadline = rd.i64v();
      s.next_grant_expiry = rd.i64v();
      const u32 ng = rd.u32v();
      if (!rd.ok() || !count(ng, 48)) return bad("bad grant count");
      for (u32 g = 0; g < ng; ++g) {
        grant_rec gr;
        gr.id = rd.u64v();
        gr.expires = rd.i64v();
        gr.granted = rd.i128v();
        gr.remaining = rd.i128v();
        a.grants.push_back(gr);
      }
      const u32 no = rd.u32v();
      if (!rd.ok() || !count(no, 8)) return bad("bad open hold count");
      for (u32 o = 0; o < no; ++o) a.open_holds.push_back(rd.u64v());
      if (s.price < 0 || !within_issue_limit(s.purchased_usd, 0)) return bad("bad account values");
      for (i128 v : {s.paid, s.granted, s.held, s.purchased})
        if (!within_issue_limit(v, 0)) return bad("bad account values");
      total_usd_ += s.purchased_usd;
      if (!within_issue_limit(total_usd_, 0)) return bad("bad account values");
    }
    for (i128 v : sys_)
      if (v > 4 * issue_limit || v < -4 * issue_limit) return bad("bad system balance");
    const u64 nh = rd.u64v();
    if (!rd.ok() || !count(nh, 4 + 4 + 8 + 8 + 8 + 16 + 1 + 8 + 16)) return bad("bad hold count");
    holds_.reserve(nh);
    for (u64 i = 0; i < nh; ++i) {
      hold_rec h;
      h.account = rd.u32v();
      h.parts_count = rd.u32v();
      h.parts_begin = rd.u64v();
      h.created = rd.i64v();
      h.deadline = rd.i64v();
      h.amount = rd.i128v();
      const u8 st = rd.u8v();
      h.m.closed = rd.i64v();
      h.m.captured = rd.i128v();
      if (st > 3 || h.account >= na || h.amount <= 0 || !within_issue_limit(h.amount, 0))
        return bad("bad hold");
      h.m.status = static_cast<hold_status>(st);
      holds_.push_back(h);
    }
    const u64 np = rd.u64v();
    if (!rd.ok() || !count(np, 24)) return bad("bad part count");
    parts_.reserve(np);
    for (u64 i = 0; i < np; ++i) {
      hold_part p;
      p.grant = rd.u64v();
      p.amount = rd.i128v();
      if (!within_issue_limit(p.amount, 0)) return bad("bad hold part");
      parts_.push_back(p);
    }
    for (const hold_rec& h : holds_)
      if (h.parts_begin > np || h.parts_count > np - h.parts_begin) return bad("bad hold parts");
    const u64 ne = rd.u64v();
    if (!rd.ok() || !count(ne, 16 + 16 + 8 + 8 + 8 + 4 + 3)) return bad("bad entry count");
    entries_.reserve(ne);
    for (u64 i = 0; i < ne; ++i) {
      entry_rec e;
      e.amount = rd.i128v();
      e.available_after = rd.i128v();
      e.at = rd.i64v();
      e.op = rd.u64v();
      e.ref = rd.u64v();
      e.account = rd.u32v();
      const u8 k = rd.u8v(), f = rd.u8v(), t = rd.u8v();
      if (!rd.ok() || e.account >= na || k == 0 || k > static_cast<u8>(entry_kind::grant_expired) ||
          f >= party_count || t >= party_count || !within_issue_limit(e.amount, 0) ||
          !within_issue_limit(e.available_after, 0))
        return bad("bad entry");
      e.kind = static_cast<entry_kind>(k);
      e.from = static_cast<party>(f);
      e.to = static_cast<party>(t);
      entries_.push_back(e);
      accounts_[e.account].entries.push_back(i);
    }
    const u64 nr = rd.u64v();
    if (!rd.ok() || !count(nr, 4)) return bad("bad reason count");
    for (u64 i = 0; i < nr; ++i) {
      reasons_.emplace_back(rd.str32());
      if (!rd.ok() || !check_reason(reasons_.back())) return bad("bad reason");
    }
    const u64 npu = rd.u64v();
    if (!rd.ok() || !count(npu, 16)) return bad("bad purchase count");
    for (u64 i = 0; i < npu; ++i) {
      purchase_usd_.push_back(rd.i128v());
      if (purchase_usd_.back() <= 0 || !within_issue_limit(purchase_usd_.back(), 0))
        return bad("bad purchase amount");
    }
    for (const entry_rec& e : entries_) {
      if (e.kind == entry_kind::adjustment && (e.ref == 0 || e.ref > nr)) return bad("bad reason ref");
      if (e.kind == entry_kind::purchase && (e.ref == 0 || e.ref > npu)) return bad("bad purchase ref");
    }
    const u64 nk = rd.u64v();
    if (!rd.ok() || !count(nk, 1 + 8 + 1 + 1 + 4 + 8 + 16 + 8 + 8 + 8 + 8 + 16 + 16)) return bad("bad key count");
    for (u64 i = 0; i < nk; ++i) {
      key_rec k;
      const std::string_view key = rd.str8();
      k.at = rd.i64v();
      const u8 fk = rd.u8v();
      const u8 relative = rd.u8v();
      k.fp.relative = relative == 1;
      k.fp.account = rd.u32v();
      k.fp.hold = rd.u64v();
      k.fp.amount = rd.i128v();
      k.fp.aux = rd.i64v();
      k.fp.reason = rd.u64v();
      k.op = rd.u64v();
      k.hold = rd.u64v();
      k.amount = rd.i128v();
      k.released = rd.i128v();
      if (!rd.ok() || !valid_id(key) || fk == 0 || fk >= static_cast<u8>(operation_kind::expire) ||
          relative > 1 || (relative == 1 && fk != static_cast<u8>(operation_kind::grant)) ||
          (k.fp.account != no_account && k.fp.account >= na) || k.fp.reason > nr)
        return bad("bad idempotency key");
      k.fp.kind = static_cast<operation_kind>(fk);
      if (!keys_.empty() && keys_.back().at > k.at) return bad("keys out of order");
      k.hash = hash_bytes(key);
      if (find_key(key, k.hash)) return bad("duplicate idempotency key");
      const u64 abs = keys_begin_ + keys_.size();
      k.key_ref = store_key(key);
      keys_.push_back(std::move(k));
      key_index_.insert(keys_.back().hash, abs);
    }
    if (!rd.ok()) return bad("truncated");
    if (rd.remaining() != 0) return bad("trailing bytes");
    return {};
  }

  // ------------------------------------------------------------ data

  i128 default_price_;
  i64 key_retention_;  // < 0: forever
  std::vector<account_rec> accounts_;
  hash_index account_index_;
  std::vector<hold_rec> holds_;
  std::vector<hold_part> parts_;
  chunked_vector<entry_rec> entries_;
  std::vector<std::string> reasons_;
  std::vector<i128> purchase_usd_;  // the dollars of each purchase entry (its ref - 1)
  chunked_fifo<key_rec> keys_;
  string_fifo key_bytes_;  // the bytes of keys_[i]'s key, in the same order
  u64 keys_begin_ = 0;
  hash_index key_index_;
  std::array<i128, party_count> sys_{};
  i128 total_usd_ = 0;
  std::vector<undo_rec> undo_;
  std::vector<account_scalars> undo_accounts_;  // the copies of undo_kind::account records
  u64 undo_base_ = 0;
  u64 next_op_ = 1;
  i64 last_time_ = std::numeric_limits<i64>::min();
  u64 record_seq_ = 0;
  u32 touched_ = no_account;  // the account the operation being applied works on
  hash_index::hint key_hint_;  // where the key of the operation being applied would go
};

}  // namespace tollgate::ledger_detail
