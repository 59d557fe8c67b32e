// Ledger internals: a flat open-addressing hash index from a 64-bit hash to a
// 64-bit value (an index into a vector the caller owns, which holds the real
// key). Linear probing with backward-shift deletion keeps lookups to one or
// two cache lines and needs no tombstones; it allocates only when it grows.
// This is what keeps account lookup and idempotency checks off the heap on the
// hot path (the Boost in Debian 12 predates boost::unordered_flat_map).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <new>
#include <optional>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace tollgate::ledger_detail {

/**
 * An allocator that asks for transparent huge pages for large blocks: the
 * ledger's big tables are read at random (the key index) or grow without end
 * (entries, keys), and with 4 KiB pages each random access also misses the
 * TLB, which under virtualisation costs as much again as the cache miss.
 */
template <class T>
struct huge_page_allocator {
  using value_type = T;
  static constexpr std::size_t huge = 2u << 20;
  huge_page_allocator() = default;
  template <class U>
  huge_page_allocator(const huge_page_allocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    const std::size_t bytes = n * sizeof(T);
    if (bytes < huge) return std::allocator<T>().allocate(n);
    const std::size_t rounded = (bytes + huge - 1) / huge * huge;
    void* p = std::aligned_alloc(huge, rounded);
    if (!p) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    ::madvise(p, rounded, MADV_HUGEPAGE);
#endif
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t n) noexcept {
    if (n * sizeof(T) < huge) std::allocator<T>().deallocate(p, n);
    else std::free(p);
  }
  template <class U>
  friend bool operator==(const huge_page_allocator&, const huge_page_allocator<U>&) noexcept {
    return true;
  }
};

class hash_index {
 public:
  static constexpr std::uint64_t empty = ~std::uint64_t{0};

  /// Where a find() that missed stopped: the free slot an insert of the
  /// same hash would take, as long as the index has not changed since.
  struct hint {
    std::size_t slot = ~std::size_t{0};
    std::uint64_t version = 0;
  };

  /// The value whose slot has hash `h` and for which `eq(value)` holds.
  template <class Eq>
  [[nodiscard]] std::optional<std::uint64_t> find(std::uint64_t h, Eq&& eq) const {
    hint unused;
    return find(h, eq, unused);
  }
  /// The same, and on a miss where an insert of `h` would go.
  template <class Eq>
  [[nodiscard]] std::optional<std::uint64_t> find(std::uint64_t h, Eq&& eq, hint& where) const {
    where = hint{};
    if (slots_.empty()) return std::nullopt;
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const slot& s = slots_[i];
      if (s.value == empty) {
        where = hint{i, version_};
        return std::nullopt;
      }
      if (s.hash == h && eq(s.value)) return s.value;
    }
  }

  /// Adds (h, v). The caller has checked that no equal key is present.
  void insert(std::uint64_t h, std::uint64_t v) {
    if ((size_ + 1) * 4 > slots_.size() * 3) grow();
    place(h, v);
    ++size_;
    ++version_;
  }
  /// insert(h, v) where a missed find(h, ..., where) stopped: no second
  /// probe when nothing changed in between (otherwise a plain insert).
  void insert(std::uint64_t h, std::uint64_t v, const hint& where) {
    if (where.version != version_ || where.slot >= slots_.size() || (size_ + 1) * 4 > slots_.size() * 3) {
      insert(h, v);
      return;
    }
    slots_[where.slot] = slot{h, v};
    ++size_;
    ++version_;
  }

  /// Removes the slot with hash `h` whose value satisfies `eq`; false if none.
  template <class Eq>
  bool erase(std::uint64_t h, Eq&& eq) {
    if (slots_.empty()) return false;
    std::size_t i = h & mask_;
    for (;; i = (i + 1) & mask_) {
      if (slots_[i].value == empty) return false;
      if (slots_[i].hash == h && eq(slots_[i].value)) break;
    }
    // Backward-shift: move later members of the probe run into the hole so
    // that every remaining entry stays reachable from its home slot.
    std::size_t hole = i;
    for (std::size_t j = (hole + 1) & mask_;; j = (j + 1) & mask_) {
      if (slots_[j].value == empty) break;
      const std::size_t home = slots_[j].hash & mask_;
      const bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
      if (movable) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole] = slot{};
    --size_;
    ++version_;
    return true;
  }

  /// Starts loading the home slot of `h`, so a lookup soon after does not
  /// wait for memory (the key table outgrows the caches quickly).
  void prefetch(std::uint64_t h) const noexcept {
    if (!slots_.empty()) __builtin_prefetch(&slots_[h & mask_]);
  }

  void clear() {
    slots_.clear();
    mask_ = 0;
    size_ = 0;
    ++version_;
  }
  void reserve(std::size_t n) {
    while (n * 4 > slots_.size() * 3) grow();
    ++version_;
  }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  struct slot {
    std::uint64_t hash = 0;
    std::uint64_t value = empty;
  };
  void place(std::uint64_t h, std::uint64_t v) {
    std::size_t i = h & mask_;
    while (slots_[i].value != empty) i = (i + 1) & mask_;
    slots_[i] = slot{h, v};
  }
  void grow() {
    std::vector<slot, huge_page_allocator<slot>> old = std::move(slots_);
    const std::size_t cap = old.empty() ? 64 : old.size() * 2;
    slots_.assign(cap, slot{});
    mask_ = cap - 1;
    for (const slot& s : old)
      if (s.value != empty) place(s.hash, s.value);
  }

  std::vector<slot, huge_page_allocator<slot>> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
  std::uint64_t version_ = 1;  // changes with every change of slots_ (hints check it)
};

}  // namespace tollgate::ledger_detail
