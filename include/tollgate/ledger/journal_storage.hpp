// journal_storage: the ledger's durable storage, one append-only file.
//
// Layout. A 4096-byte header: a fixed part (magic "TGJOURNL", format version,
// header size, the tear window, a random journal id, CRC32C) and, in a sector
// of its own, a copy of the durable watermark (which records had been synced,
// and how far the last write reached), rewritten with every fdatasync. Then
// records, each framed as [u32 crc32c][u32 payload length][u64 sequence
// number][u64 durable through][u64 chain of the previous record][payload]: the
// CRC covers everything after itself, sequence numbers count up from 1
// without gaps, "durable through" is the highest sequence number whose
// fdatasync had returned success when the record was framed (every_op: the
// previous record's), and the chain value of a record is XXH64 of its bytes
// after the CRC (so it covers the previous record's, and so on back to the
// journal's id): one record's chain value names its whole history. The file
// is grown in zero-filled segments written ahead of time, so committing a
// record is a pwrite into space that already exists plus an fdatasync that
// has no file size to update.
//
// Recovery. Replay reads records until the first one that is not intact. The
// watermark in the header says which records had been acknowledged: if one of
// them is missing (the file was cut short, zeroed, or damaged) the open is
// refused. A record that is intact but does not follow the one before it
// (another history) is refused too. If only zeros follow the last record,
// that is the end of the data. If non-zero bytes follow but all within one
// "tear window" (the most any single unsynced write can span: the writer never
// has more than that in flight), it is a torn write that was never
// acknowledged, unless an intact record after it says the bad one had already
// been synced: then the bad record was acknowledged and has been damaged
// since, and the open is refused. A torn write is reported and, on a writable
// open, copied to FILE.torn-OFFSET (synced) and then zeroed. Anything else (a
// bad record followed by more data than one write could leave) is damage, and
// the open is refused with the offset, the reason and what to do. A record no
// later record and no watermark vouches for (the last one; with group commit,
// the others of the last group) is the one case left: damage to it looks like
// a torn write, and the copy is what keeps it. Keeping only the records before
// damage is an operator's explicit choice: repair(), which copies the rest to
// FILE.cut-OFFSET first.
//
// A snapshot (FILE.snapshot: header, the ledger state, CRC32C) names the last
// record it covers by offset, sequence number and chain value; it is written
// to a temporary file, fsynced, renamed into place and the directory fsynced,
// and on open it is used only if the journal holds exactly the history it
// covers (that record, with that chain value), so a bad or stale snapshot, or
// one of another history, costs time, never data. An exclusive flock stops a
// second writer. After a failed write or fdatasync the storage refuses every
// further write.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <unistd.h>

#include <fmt/format.h>

#include "../core/error.hpp"
#include "detail/codec.hpp"
#include "file.hpp"
#include "storage.hpp"
#include "types.hpp"

namespace tollgate {

namespace ledger_detail {
inline constexpr char journal_magic[8] = {'T', 'G', 'J', 'O', 'U', 'R', 'N', 'L'};
inline constexpr char snapshot_magic[8] = {'T', 'G', 'S', 'N', 'A', 'P', 'S', 'H'};
/// Version 3: records are chained and the header keeps a copy of the durable
/// watermark (version 2 had neither; version 1 no durable mark at all).
inline constexpr u32 journal_format = 3;
/// Version 2: the snapshot names the chain value of the last record it covers.
inline constexpr u32 snapshot_file_format = 2;
inline constexpr u64 journal_header_size = 4096;
/// The header's fixed part is bytes 0 .. 507, its CRC32C at 508.
inline constexpr std::size_t header_fixed_size = 508;
/// The watermark: 32 bytes and their CRC32C at offset 512, a sector of its
/// own, so that rewriting it can never tear the fixed part.
inline constexpr std::size_t watermark_offset = 512;
inline constexpr std::size_t watermark_size = 36;
/// crc32c, payload length, sequence number, durable through, previous chain.
inline constexpr std::size_t frame_header_size = 32;
inline constexpr std::size_t snapshot_header_size = 80;
/// The smallest record payload: version, time and an operation count.
inline constexpr std::size_t min_payload_size = 13;
/// The smallest whole record.
inline constexpr std::size_t min_record_size = frame_header_size + min_payload_size;
inline constexpr u32 min_tear_window = 64 * 1024;
inline constexpr u32 max_tear_window = 16 * 1024 * 1024;

/// The chain value of the framed record `frame` (`n` bytes): XXH64 of its
/// bytes after the CRC, which hold the previous record's chain value.
[[nodiscard]] inline u64 frame_chain(const std::byte* frame, std::size_t n) noexcept {
  return xxh64(frame + 4, n - 4, 0);
}
/// The chain value before record 1: XXH64 of the journal's id.
[[nodiscard]] inline u64 initial_chain(u64 id_hi, u64 id_lo) noexcept {
  std::byte id[16];
  store_le<u64>(id, id_hi);
  store_le<u64>(id + 8, id_lo);
  return xxh64(id, sizeof id, 0);
}

/**
 * The copy of the durable watermark in the journal's header. Written before
 * each fdatasync with what was known then, so it never claims more than the
 * records themselves do, and a truncation cannot take it away with them.
 */
struct watermark {
  u64 durable = 0;                        ///< every record through this one had been synced
  u64 durable_end = journal_header_size;  ///< where record `durable` ends
  u64 written = 0;                        ///< the last record written when it was stored
  u64 written_end = journal_header_size;  ///< where record `written` ends

  void encode(std::byte* p) const noexcept {
    store_le<u64>(p, durable);
    store_le<u64>(p + 8, durable_end);
    store_le<u64>(p + 16, written);
    store_le<u64>(p + 24, written_end);
    store_le<u32>(p + 32, crc32c(p, 32));
  }
  /// False when the checksum does not match or the fields contradict each other.
  [[nodiscard]] bool decode(const std::byte* p) noexcept {
    durable = load_le<u64>(p);
    durable_end = load_le<u64>(p + 8);
    written = load_le<u64>(p + 16);
    written_end = load_le<u64>(p + 24);
    return crc32c(p, 32) == load_le<u32>(p + 32) && durable <= written &&
           durable_end >= journal_header_size && durable_end <= written_end &&
           (durable == 0) == (durable_end == journal_header_size) &&
           (written == 0) == (written_end == journal_header_size);
  }
};
}  // namespace ledger_detail

/**
 * Settings of a journal. Only `path` is required.
 * @tparam FileSystem the file policy (file.hpp): posix_file_system, or a
 *         test's fault-injecting wrapper, or memory_file_system.
 */
template <class FileSystem = posix_file_system>
struct basic_journal_config {
  std::string path;                       ///< the journal file; FILE.snapshot beside it
  durability mode = durability::every_op; ///< when an operation is acknowledged
  bool read_only = false;                 ///< no lock, no writes, torn tails left alone
  bool create = true;                     ///< create the journal when it does not exist
  bool use_snapshot = true;               ///< start from FILE.snapshot when it matches
  std::uint64_t segment_bytes = 16u << 20;  ///< zero-filled growth step
  std::uint32_t tear_window = 1u << 20;     ///< for new journals: largest unsynced write
  FileSystem fs{};                          ///< the file policy instance
};

/**
 * Append-only, checksummed, crash-safe journal storage (see the file comment
 * for the format and the recovery rules). Used by basic_ledger, which
 * serialises all calls: not thread-safe on its own.
 */
template <class FileSystem = posix_file_system>
class journal_storage {
 public:
  using config = basic_journal_config<FileSystem>;
  using file_system = FileSystem;
  using handle = typename FileSystem::handle;
  static constexpr bool persistent = true;

  /**
   * Opens (or creates) the journal and checks its header; replay() must
   * follow. Errors: errc::locked (another writer), errc::corrupt_journal
   * (not a journal, damaged header, newer format), errc::io_error.
   */
  [[nodiscard]] static result<journal_storage> open(config c) {
    using namespace ledger_detail;
    if (c.path.empty()) return result<journal_storage>(errc::invalid_argument, "the journal path is empty");
    if (c.segment_bytes < 4096) c.segment_bytes = 4096;
    c.tear_window = std::clamp(c.tear_window, min_tear_window, max_tear_window);
    journal_storage s(std::move(c));
    if (!s.cfg_.fs.exists(s.cfg_.path)) {
      if (s.cfg_.read_only || !s.cfg_.create)
        return result<journal_storage>(errc::io_error,
                                       fmt::format("there is no journal at '{}'", s.cfg_.path));
      if (auto r = s.create_file(); !r) return r.error();
    }
    auto fd = s.cfg_.fs.open(s.cfg_.path, s.cfg_.read_only ? open_mode::read_only : open_mode::read_write);
    if (!fd) return fd.error();
    s.fd_ = *fd;
    s.open_ = true;
    if (!s.cfg_.read_only) {
      if (auto r = s.cfg_.fs.lock(s.fd_); !r)
        return result<journal_storage>(tollgate::error(
            r.error().code(),
            fmt::format("cannot open journal '{}' for writing: {}; close the other writer, or open "
                        "it read-only",
                        s.cfg_.path, r.error().message())));
    }
    auto size = s.cfg_.fs.size(s.fd_);
    if (!size) return s.in_journal(size.error());
    s.capacity_ = *size;
    if (auto r = s.read_header(); !r) return r.error();
    s.tail_ = journal_header_size;
    return s;
  }

  journal_storage(journal_storage&& o) noexcept
      : cfg_(std::move(o.cfg_)),
        fd_(o.fd_),
        open_(std::exchange(o.open_, false)),
        tear_window_(o.tear_window_),
        id_hi_(o.id_hi_),
        id_lo_(o.id_lo_),
        wm_(o.wm_),
        wm_problem_(std::move(o.wm_problem_)),
        tail_(o.tail_),
        capacity_(o.capacity_),
        next_seq_(o.next_seq_),
        last_record_start_(o.last_record_start_),
        chain_(o.chain_),
        unsynced_(o.unsynced_),
        durable_end_(o.durable_end_),
        durable_through_(o.durable_through_.load(std::memory_order_relaxed)),
        failed_(o.failed_),
        failure_(std::move(o.failure_)) {}
  journal_storage& operator=(journal_storage&&) = delete;
  ~journal_storage() {
    if (!open_) return;
    if (!cfg_.read_only && !failed_ && unsynced_ > 0) (void)sync();
    cfg_.fs.close(fd_);
  }

  /**
   * Replays the journal into `sink`: `sink.snapshot(bytes) -> result<void>`
   * (the snapshot's state; on an error replay falls back to the whole
   * journal after `sink.reset()`), then `sink.record(seq, bytes) ->
   * result<void>` for every record, then `sink.replayed() -> result<void>`
   * (if it has one: the check of the state replayed, made before anything is
   * written, so a journal refused is left as it was). On a writable open, copies a torn tail
   * to FILE.torn-OFFSET and cuts it, then syncs the journal (so everything
   * replayed counts as durable). Errors: errc::corrupt_journal (damage, an
   * acknowledged record missing, a record of another history, with the
   * offset and what to do), errc::storage_failure (the torn tail could not
   * be copied aside: nothing was cut), errc::io_error.
   */
  template <class Sink>
  [[nodiscard]] result<recovery_report> replay(Sink& sink) {
    recovery_report rep;
    position at = start_position();
    if (cfg_.use_snapshot) at = load_snapshot(sink, rep).value_or(at);
    scanner sc(*this);
    auto stop = replay_records(sink, sc, at, rep);
    if (!stop) return stop.error();
    if (auto r = check_history(*stop, at); !r) return r.error();
    if constexpr (requires { sink.replayed(); })
      if (auto r = sink.replayed(); !r) return r.error();
    if (auto r = settle_tail(sc, *stop, at, rep); !r) return r.error();
    if (!cfg_.read_only)
      if (auto r = make_durable(at); !r) return r.error();
    tail_ = at.off;
    next_seq_ = at.seq;
    chain_ = at.chain;
    last_record_start_ = at.last;
    rep.end_offset = at.off;
    return rep;
  }

  /**
   * Keeps the records before offset `truncate_at` and cuts the rest: the
   * operator's choice for a journal refused as damaged or incomplete, when
   * no backup holds what was lost. Everything from `truncate_at` to the last
   * non-zero byte is first copied to FILE.cut-OFFSET (FILE.cut-OFFSET.2, ...
   * when that name holds other bytes; synced and linked into place), then
   * zeroed, and the header's watermark is rewritten to say the records kept
   * are the whole history. `truncate_at` must be where an intact record
   * ends (or the end of the header, to keep none), with every record before
   * it intact and in order. A snapshot covering records that are cut is
   * ignored from then on (it no longer matches). Errors: errc::invalid_argument
   * (the offset is not such a boundary: the message names the nearest ones),
   * errc::corrupt_journal (the header's fixed part is damaged: restore from
   * a backup), errc::locked, errc::storage_failure (the copy could not be
   * made: nothing was cut), errc::io_error.
   */
  [[nodiscard]] static result<repair_report> repair(config c, std::uint64_t truncate_at) {
    c.read_only = false;
    c.create = false;
    auto opened = open(std::move(c));
    if (!opened) return opened.error();
    return opened->cut_at(truncate_at);
  }

  // ------------------------------------------------------------ writing

  /// Reserves a frame header at the end of `buf`; returns where it starts.
  static std::size_t begin_frame(std::vector<std::byte>& buf) {
    const std::size_t pos = buf.size();
    buf.resize(pos + ledger_detail::frame_header_size);
    return pos;
  }
  /**
   * Completes the frame begun at `pos` (the payload is everything after it)
   * as record `seq`, following the record whose chain value is `prev`
   * (chain() after replay, then what the previous end_frame returned).
   * `durable_through` is the highest sequence number known durable now
   * (durable_through(), read when the record is framed); it must be below
   * `seq`. Recovery trusts it: a record that says record k was durable
   * proves that a bad record k is damage, not a torn write. Returns the
   * record's chain value.
   */
  static std::uint64_t end_frame(std::vector<std::byte>& buf, std::size_t pos, std::uint64_t seq,
                                 std::uint64_t durable_through, std::uint64_t prev) {
    using namespace ledger_detail;
    TOLLGATE_ASSERT(durable_through < seq, "journal: a record framed as durable before it is written");
    std::byte* p = buf.data() + pos;
    const auto len = static_cast<u32>(buf.size() - pos - frame_header_size);
    store_le<u32>(p + 4, len);
    store_le<u64>(p + 8, seq);
    store_le<u64>(p + 16, durable_through);
    store_le<u64>(p + 24, prev);
    store_le<u32>(p, crc32c(p + 4, frame_header_size - 4 + len));
    return frame_chain(p, frame_header_size + len);
  }

  /// The largest payload one record may have.
  [[nodiscard]] std::size_t max_payload() const noexcept {
    return tear_window_ - ledger_detail::frame_header_size;
  }
  /// The most bytes one write() may take.
  [[nodiscard]] std::size_t max_write() const noexcept { return tear_window_; }
  [[nodiscard]] durability mode() const noexcept { return cfg_.mode; }
  [[nodiscard]] bool read_only() const noexcept { return cfg_.read_only; }
  [[nodiscard]] bool failed() const noexcept { return failed_; }
  /// The sequence number the next record must carry.
  [[nodiscard]] std::uint64_t next_seq() const noexcept { return next_seq_; }
  /// The chain value of the last record replayed (the journal id's before record 1).
  [[nodiscard]] std::uint64_t chain() const noexcept { return chain_; }
  /**
   * The highest sequence number made durable by an fdatasync that returned
   * success (after a writable open: every record replayed). Thread-safe: a
   * ledger framing records may read it while another thread syncs.
   */
  [[nodiscard]] std::uint64_t durable_through() const noexcept {
    return durable_through_.load(std::memory_order_acquire);
  }
  [[nodiscard]] std::uint64_t end_offset() const noexcept { return tail_; }
  [[nodiscard]] const std::string& path() const noexcept { return cfg_.path; }
  [[nodiscard]] FileSystem& file_system_instance() noexcept { return cfg_.fs; }

  /**
   * Appends whole frames (at most max_write() bytes, sequence numbers
   * continuing next_seq()). Not durable until sync(). A failure (including a
   * short write that cannot be completed) makes the storage refuse every
   * later write.
   */
  [[nodiscard]] result<void> write(std::span<const std::byte> frames) {
    using namespace ledger_detail;
    if (auto r = writable(); !r) return r;
    const std::size_t n = frames.size();
    TOLLGATE_ASSERT(n <= tear_window_, "journal: a write larger than the tear window");
    // Never leave more than one tear window unsynced: recovery relies on it.
    if (unsynced_ > 0 && unsynced_ + n > tear_window_)
      if (auto r = sync(); !r) return r;
    if (tail_ + n > capacity_)
      if (auto r = extend(tail_ + n); !r) return r;
    std::size_t done = 0;
    while (done < n) {
      auto w = cfg_.fs.pwrite(fd_, frames.data() + done, n - done, tail_ + done);
      if (!w) return fail(w.error().message());
      if (*w == 0) return fail(fmt::format("a write of {} bytes at offset {} wrote nothing", n - done, tail_ + done));
      // A short write is retried for the rest; if the rest fails (a full
      // disk usually), the error above ends it.
      done += *w;
    }
    for (std::size_t pos = 0; pos < n;) {
      last_record_start_ = tail_ + pos;
      pos += frame_header_size + load_le<u32>(frames.data() + pos + 4);
      ++next_seq_;
    }
    tail_ += n;
    unsynced_ += n;
    return {};
  }

  /**
   * Makes every written record durable (fdatasync). The header's watermark
   * is rewritten first, in the same fdatasync, with what was known before
   * it: the records durable so far, and how far the writes reached.
   */
  [[nodiscard]] result<void> sync() {
    using namespace ledger_detail;
    if (auto r = writable(); !r) return r;
    if (unsynced_ == 0) return {};
    const watermark wm{durable_through_.load(std::memory_order_relaxed), durable_end_, next_seq_ - 1, tail_};
    if (auto r = write_watermark(wm); !r) return fail(r.error().message());
    if (auto r = cfg_.fs.fdatasync(fd_); !r) return fail(r.error().message());
    mark_durable();
    return {};
  }

  /**
   * Replaces the snapshot with `state`, covering every record written so far
   * (synced first). A failure leaves the old snapshot and the journal intact.
   */
  [[nodiscard]] result<void> write_snapshot(std::span<const std::byte> state) {
    using namespace ledger_detail;
    if (auto r = sync(); !r) return r;
    std::vector<std::byte> buf(snapshot_header_size);
    std::byte* h = buf.data();
    std::memcpy(h, snapshot_magic, 8);
    store_le<u32>(h + 8, snapshot_file_format);
    store_le<u32>(h + 12, static_cast<u32>(snapshot_header_size));
    store_le<u64>(h + 16, id_hi_);
    store_le<u64>(h + 24, id_lo_);
    auto chain = last_chain();
    if (!chain) return chain.error();
    store_le<u64>(h + 32, next_seq_ - 1);
    store_le<u64>(h + 40, next_seq_ > 1 ? last_record_start_ : 0);
    store_le<u64>(h + 48, tail_);
    store_le<u64>(h + 56, *chain);
    store_le<u64>(h + 64, state.size());
    store_le<u32>(h + 72, crc32c(state.data(), state.size()));
    store_le<u32>(h + 76, crc32c(h, 76));
    buf.insert(buf.end(), state.begin(), state.end());
    const std::string final_path = snapshot_path();
    const std::string tmp = final_path + ".tmp";
    auto fd = open_fresh(tmp);
    result<void> w = fd ? result<void>() : result<void>(fd.error());
    if (w) {
      w = write_all(*fd, buf.data(), buf.size(), 0);
      if (w) w = cfg_.fs.fsync(*fd);
      cfg_.fs.close(*fd);
      if (!w) w = in_file(tmp, w.error());
    }
    if (w) w = cfg_.fs.rename(tmp, final_path);
    if (w) w = cfg_.fs.sync_directory(directory());
    if (!w) {
      (void)cfg_.fs.remove(tmp);
      return result<void>(errc::io_error,
                          fmt::format("snapshot '{}' not written: {}; the previous snapshot, if any, "
                                      "is unchanged",
                                      final_path, w.error().message()));
    }
    return {};
  }

  [[nodiscard]] std::string snapshot_path() const { return cfg_.path + ".snapshot"; }

 private:
  using u8 = ledger_detail::u8;
  using u32 = ledger_detail::u32;
  using u64 = ledger_detail::u64;

  explicit journal_storage(config c) : cfg_(std::move(c)) {}

  struct snapshot_file {
    u64 seq = 0, last = 0, end = 0, chain = 0;
    std::vector<std::byte> payload;
  };

  // An intact record that proves an earlier one was durable.
  struct durable_proof {
    u64 offset = 0, seq = 0, durable = 0;
  };

  // Where replay stands: the next record's offset and sequence number, the
  // chain value it must name, and where the last record replayed starts.
  struct position {
    u64 off = 0, seq = 1, chain = 0, last = 0;
  };

  // Why the records stopped: the first record that is not intact and why,
  // or nothing (zeros).
  struct stop {
    std::string why;
    bool other_history = false;  // an intact record that does not follow the one before
  };

  // Reads ahead in large chunks so replay costs few system calls.
  class scanner {
   public:
    explicit scanner(journal_storage& j) : j_(j) {}
    result<const std::byte*> get(u64 off, std::size_t n) {
      if (off >= begin_ && off + n <= begin_ + len_) return buf_.get() + (off - begin_);
      const std::size_t want = std::max<std::size_t>(
          n, static_cast<std::size_t>(std::min<u64>(chunk(), j_.capacity_ > off ? j_.capacity_ - off : 0)));
      if (size_ < want) {
        buf_.reset(new std::byte[want]);  // not zeroed first: pread fills what is used
        size_ = want;
      }
      auto r = j_.cfg_.fs.pread(j_.fd_, buf_.get(), want, off);
      if (!r) return j_.in_journal(r.error());
      begin_ = off;
      len_ = *r;
      if (len_ < n)
        return result<const std::byte*>(errc::io_error,
                                        fmt::format("journal '{}' ended while reading offset {}",
                                                    j_.cfg_.path, off));
      return buf_.get();
    }
    // The first non-zero byte at or after `from` and the end of the last one
    // (both `from` when everything after it is zero).
    result<std::pair<u64, u64>> nonzero_range(u64 from) {
      u64 first = from, end = from;
      bool any = false;
      for (u64 off = from; off < j_.capacity_;) {
        const std::size_t n = static_cast<std::size_t>(std::min<u64>(chunk(), j_.capacity_ - off));
        auto p = get(off, n);
        if (!p) return p.error();
        if (!any) {
          const std::size_t i = ledger_detail::first_nonzero(*p, n);
          any = i < n;
          first = off + i;
        }
        if (const std::size_t e = ledger_detail::nonzero_end(*p, n); e > 0) end = off + e;
        off += n;
      }
      return std::pair<u64, u64>{first, end};
    }
    // The first intact record starting in (from, to) whose durable mark
    // covers record `k`, where `from` is where record k starts (it is not
    // intact) and `to` the end of the non-zero bytes. Every offset is tried,
    // since record k's length may be the damaged part. Records k, k+1, ...
    // lie back to back from `from`, each at least min_record_size bytes, so
    // a record at offset y has a sequence number in (k, k + (y - from) /
    // min_record_size]; the length, that bound and the mark are checked
    // before the checksum, so random bytes and records that prove nothing
    // (a torn group commit: marks below k) cost no CRC. At most one tear
    // window of offsets.
    result<std::optional<durable_proof>> find_durable_proof(u64 from, u64 to, u64 k) {
      using namespace ledger_detail;
      const u64 cap = j_.capacity_;
      const u64 max_len = j_.tear_window_ - frame_header_size;
      for (u64 y = from + min_record_size; y < to && cap - y >= frame_header_size; ++y) {
        // get()'s fast path, without a result per offset.
        const std::byte* p = y >= begin_ && y + frame_header_size <= begin_ + len_ ? buf_.get() + (y - begin_) : nullptr;
        if (!p) {
          auto q = get(y, frame_header_size);
          if (!q) return q.error();
          p = *q;
        }
        const u32 len = load_le<u32>(p + 4);
        if (len < min_payload_size || len > max_len || len > cap - y - frame_header_size) continue;
        const u64 s = load_le<u64>(p + 8);
        if (s <= k || s - k > (y - from) / min_record_size) continue;
        const u64 durable = load_le<u64>(p + 16);
        if (durable < k || durable >= s) continue;
        const u32 crc = load_le<u32>(p);
        auto f = get(y, frame_header_size + len);
        if (!f) return f.error();
        if (crc32c(*f + 4, frame_header_size - 4 + len) != crc) continue;
        return std::optional<durable_proof>(durable_proof{y, s, durable});
      }
      return std::optional<durable_proof>{};
    }

   private:
    std::size_t chunk() const { return std::max<std::size_t>(j_.tear_window_, 1u << 20); }
    journal_storage& j_;
    std::unique_ptr<std::byte[]> buf_;
    std::size_t size_ = 0;  // of buf_
    u64 begin_ = 0;
    std::size_t len_ = 0;   // bytes of buf_ read from begin_ on
  };

  [[nodiscard]] position start_position() const {
    return {ledger_detail::journal_header_size, 1, ledger_detail::initial_chain(id_hi_, id_lo_), 0};
  }

  [[nodiscard]] result<void> corrupt(std::string message) const {
    return result<void>(errc::corrupt_journal, std::move(message));
  }

  // The state in the snapshot, if there is one and the journal holds the
  // history it covers; otherwise a note, and replay starts at record 1.
  template <class Sink>
  [[nodiscard]] std::optional<position> load_snapshot(Sink& sink, recovery_report& rep) {
    auto snap = read_snapshot();
    std::string why;
    if (!snap) {
      why = snap.error().message();
    } else if (!snap->has_value()) {
      return std::nullopt;
    } else if (auto a = check_anchor(**snap); !a) {
      why = a.error().message();
    } else if (auto r = sink.snapshot(std::span<const std::byte>((*snap)->payload)); !r) {
      why = r.error().message();
      sink.reset();
    }
    if (!why.empty()) {
      rep.notes += fmt::format("snapshot ignored: {}\n", why);
      return std::nullopt;
    }
    const snapshot_file& sf = **snap;
    rep.snapshot_used = true;
    rep.snapshot_records = sf.seq;
    return position{sf.end, sf.seq + 1, sf.chain, sf.last};
  }

  // Replays every intact record from `at` on, moving `at` past each; returns
  // why they stopped. A record that does not replay, or that contradicts
  // the watermark, refuses the open.
  template <class Sink>
  [[nodiscard]] result<stop> replay_records(Sink& sink, scanner& sc, position& at, recovery_report& rep) {
    using namespace ledger_detail;
    while (true) {
      if (capacity_ - at.off < frame_header_size) return stop{"a record header is cut off by the end of the file"};
      auto h = sc.get(at.off, frame_header_size);
      if (!h) return h.error();
      const u32 len = load_le<u32>(*h + 4);
      const u64 s = load_le<u64>(*h + 8), durable = load_le<u64>(*h + 16), prev = load_le<u64>(*h + 24);
      if (first_nonzero(*h, frame_header_size) == frame_header_size)
        return stop{};  // zeros: the end, unless data follows
      if (len < min_payload_size || len > tear_window_ - frame_header_size ||
          len > capacity_ - at.off - frame_header_size)
        return stop{fmt::format("record length {} is out of range", len)};
      auto f = sc.get(at.off, frame_header_size + len);
      if (!f) return f.error();
      if (crc32c(*f + 4, frame_header_size - 4 + len) != load_le<u32>(*f)) return stop{"checksum mismatch"};
      if (s != at.seq) return stop{fmt::format("sequence number {} where {} was expected", s, at.seq)};
      if (durable >= s)
        return stop{fmt::format("record {} says record {} was durable before it was written", s, durable)};
      if (prev != at.chain)
        return stop{fmt::format("is intact but does not follow record {}: it names the chain value "
                                "{:016x} for it, and the journal's record {} has {:016x}",
                                s - 1, prev, s - 1, at.chain),
                    true};
      if (auto r = sink.record(s, std::span<const std::byte>(*f + frame_header_size, len)); !r)
        return result<stop>(errc::corrupt_journal,
                            fmt::format("journal '{}': record {} at offset {} does not replay: {}",
                                        cfg_.path, s, at.off, r.error().message()));
      const u64 end = at.off + frame_header_size + len;
      if (s == wm_.durable && end != wm_.durable_end && wm_problem_.empty())
        return result<stop>(errc::corrupt_journal,
                            fmt::format("journal '{}': its header says record {} ends at offset {}, "
                                        "but it ends at offset {}: the header and the records are "
                                        "not of one journal. Restore the file from a backup",
                                        cfg_.path, s, wm_.durable_end, end));
      at = position{end, s + 1, frame_chain(*f, frame_header_size + len), at.off};
      ++rep.records;
    }
  }

  // The records replayed must be of one history, and checked against a
  // watermark that can be trusted.
  [[nodiscard]] result<void> check_history(const stop& st, const position& at) const {
    const u64 kept = at.seq - 1;
    const std::string why = st.why.empty() ? std::string("it reads as zeros") : st.why;
    if (!wm_problem_.empty())
      return corrupt(fmt::format(
          "journal '{}': {}, so the open cannot tell whether records it had acknowledged are "
          "missing. The intact records end at offset {} after record {} (record {}: {}). If they are "
          "the whole history, {}; otherwise restore the file from a backup",
          cfg_.path, wm_problem_, at.off, kept, at.seq, why, keep_advice(at.off, kept)));
    if (st.other_history)
      return corrupt(fmt::format(
          "journal '{}' is damaged at offset {}: record {} {}; records of two histories are mixed "
          "(part of another copy of the journal written over this one?). Restore the file from a "
          "backup, or {}",
          cfg_.path, at.off, at.seq, st.why, keep_advice(at.off, kept)));
    return {};
  }

  // Every record the watermark says was acknowledged must be here.
  [[nodiscard]] result<void> check_acknowledged(const stop& st, const position& at) const {
    const u64 kept = at.seq - 1;
    if (kept >= wm_.durable) return {};
    return corrupt(fmt::format(
        "journal '{}' is missing acknowledged records: the records stop at offset {} after record {} "
        "(record {}: {}), but its header says every record through {} had been made durable "
        "(acknowledged), ending at offset {}{}. Restore the file from a backup, or {} ({} and any "
        "after them would be lost)",
        cfg_.path, at.off, kept, at.seq, st.why.empty() ? std::string("it reads as zeros") : st.why,
        wm_.durable, wm_.durable_end, cut_short_note(), keep_advice(at.off, kept),
        at.seq == wm_.durable ? fmt::format("record {}", at.seq)
                              : fmt::format("records {} to {}", at.seq, wm_.durable)));
  }

  // What an operator can do to keep the `kept` records before offset `off`.
  [[nodiscard]] std::string keep_advice(u64 off, u64 kept) const {
    return fmt::format("keep the {} records before offset {} with `tollgate-ledger {} repair "
                       "--truncate-at {}` (journal_storage::repair), which first copies everything "
                       "from offset {} on to '{}.cut-{}'",
                       kept, off, cfg_.path, off, off, cfg_.path, off);
  }
  [[nodiscard]] std::string cut_short_note() const {
    if (capacity_ >= wm_.written_end) return {};
    return fmt::format("; the file is {} bytes, shorter than its last write reached (offset {}): it "
                       "was cut short",
                       capacity_, wm_.written_end);
  }

  // What follows the last intact record: nothing; a torn write (reported,
  // and on a writable open copied aside and zeroed); or damage, or the loss
  // of records the watermark says were acknowledged (refused).
  [[nodiscard]] result<void> settle_tail(scanner& sc, const stop& st, const position& at,
                                         recovery_report& rep) {
    auto tail = sc.nonzero_range(at.off);
    if (!tail) return tail.error();
    const auto [first_nz, end_nz] = *tail;
    // The watermark names records written after the last one here.
    const bool write_lost = wm_.written >= at.seq;
    if (end_nz <= at.off && !write_lost) return {};
    if (end_nz > at.off)
      if (auto r = check_torn(sc, st, at, first_nz, end_nz); !r) return r;
    if (auto r = check_acknowledged(st, at); !r) return r;
    rep.torn_tail = true;
    rep.torn_offset = at.off;
    rep.torn_bytes = end_nz > at.off ? end_nz - at.off : 0;
    if (!cfg_.read_only) {
      // Keep the bytes before zeroing them: damage to the last record looks
      // exactly like a torn write (nothing after it can vouch for it), so
      // this copy is the only way back to it.
      if (rep.torn_bytes > 0) {
        auto kept = keep_bytes(at.off, end_nz, "torn");
        if (!kept) return kept.error();
        rep.torn_copy = *kept;
        if (auto r = zero_range(at.off, end_nz); !r) return in_journal(r.error());
      }
      rep.torn_tail_cut = true;
    }
    rep.notes += torn_note(st, at, rep, first_nz);
    return {};
  }

  // Non-zero bytes after the last intact record: a torn write, unless they
  // reach beyond one tear window or a later record vouches for the bad one.
  [[nodiscard]] result<void> check_torn(scanner& sc, const stop& st, const position& at, u64 first_nz,
                                        u64 end_nz) {
    const u64 kept = at.seq - 1;
    const std::string why = !st.why.empty() ? st.why
                                            : fmt::format("the records stop (zeros), but non-zero "
                                                          "bytes follow at offset {}",
                                                          first_nz);
    if (end_nz - at.off > tear_window_)
      return corrupt(fmt::format(
          "journal '{}' is damaged at offset {}: {}; data continues to offset {}, more than one "
          "unacknowledged write ({} bytes) can leave behind, so acknowledged records would be lost. "
          "Restore the file from a backup, or {}",
          cfg_.path, at.off, why, end_nz, tear_window_, keep_advice(at.off, kept)));
    // Within one tear window this looks like a torn write. It is not if a
    // later record, intact, says record at.seq had been synced before it
    // was framed: then record at.seq was acknowledged, and is damaged.
    auto proof = sc.find_durable_proof(at.off, end_nz, at.seq);
    if (!proof) return proof.error();
    if (!*proof) return {};
    return corrupt(fmt::format(
        "journal '{}' is damaged at offset {}: record {} is not intact ({}), but it had been "
        "acknowledged: record {} at offset {} is intact and says every record through {} was "
        "durable when it was written. Restore the file from a backup, or {} (record {} and the "
        "records after it, at least through record {}, would be lost)",
        cfg_.path, at.off, at.seq, why, (*proof)->seq, (*proof)->offset, (*proof)->durable,
        keep_advice(at.off, kept), at.seq, (*proof)->seq));
  }

  [[nodiscard]] std::string torn_note(const stop& st, const position& at, const recovery_report& rep,
                                      u64 first_nz) const {
    const std::string done = cfg_.read_only ? std::string("left as is (read-only)")
                             : rep.torn_bytes > 0 ? fmt::format("copied to '{}', then zeroed", rep.torn_copy)
                                                  : std::string("forgotten");
    if (rep.torn_bytes == 0)
      return fmt::format(
          "torn tail: the last write (records {} to {}, offsets {} to {}) is not in the journal "
          "(it reads as zeros{}); it was never acknowledged as far as the journal can tell (its "
          "header says records through {} were durable, and they are here); {}\n",
          at.seq, wm_.written, at.off, wm_.written_end, cut_short_note(), wm_.durable, done);
    return fmt::format(
        "torn tail: {} bytes at offset {} are the remains of a write that was never acknowledged "
        "({}{}); {}\n",
        rep.torn_bytes, at.off,
        st.why.empty() ? fmt::format("a hole, then data at offset {}", first_nz) : st.why,
        cut_short_note(), done);
  }

  // A writable open: whatever the last writer left unsynced is synced now,
  // and the watermark no longer names records that were cut, so every
  // record replayed is durable and the next record may say so.
  [[nodiscard]] result<void> make_durable(const position& at) {
    using namespace ledger_detail;
    const watermark wm{wm_.durable, wm_.durable_end, at.seq - 1, at.off};
    if (wm.written != wm_.written || wm.written_end != wm_.written_end)
      if (auto r = write_watermark(wm); !r) return in_journal(r.error());
    if (auto r = cfg_.fs.fdatasync(fd_); !r) return in_journal(r.error());
    wm_ = wm;
    durable_end_ = at.off;
    durable_through_.store(at.seq - 1, std::memory_order_release);
    return {};
  }

  // The state after a successful fdatasync: everything written is durable.
  void mark_durable() noexcept {
    unsynced_ = 0;
    durable_end_ = tail_;
    durable_through_.store(next_seq_ - 1, std::memory_order_release);
  }

  [[nodiscard]] result<void> write_watermark(const ledger_detail::watermark& wm) {
    std::byte b[ledger_detail::watermark_size];
    wm.encode(b);
    return write_all(fd_, b, sizeof b, ledger_detail::watermark_offset);
  }

  // The chain value of the last record written (read back from the file).
  [[nodiscard]] result<u64> last_chain() {
    using namespace ledger_detail;
    if (next_seq_ == 1) return initial_chain(id_hi_, id_lo_);
    std::vector<std::byte> f(static_cast<std::size_t>(tail_ - last_record_start_));
    auto r = cfg_.fs.pread(fd_, f.data(), f.size(), last_record_start_);
    if (!r) return in_journal(r.error());
    if (*r != f.size())
      return result<u64>(errc::io_error, fmt::format("journal '{}' ended while reading offset {}",
                                                     cfg_.path, last_record_start_));
    return frame_chain(f.data(), f.size());
  }

  // repair(): keeps the records before `truncate_at`, cuts the rest.
  [[nodiscard]] result<repair_report> cut_at(u64 truncate_at) {
    using namespace ledger_detail;
    scanner sc(*this);
    position at = start_position();
    while (at.off < truncate_at) {
      auto next = next_intact(sc, at);
      if (!next) return next.error();
      if (next->off > truncate_at)
        return result<repair_report>(
            errc::invalid_argument,
            fmt::format("journal '{}': offset {} is inside record {} (offsets {} to {}); records "
                        "can only be kept whole: truncate at offset {} or {}",
                        cfg_.path, truncate_at, at.seq, at.off, next->off, at.off, next->off));
      at = *next;
    }
    if (at.off != truncate_at)
      return result<repair_report>(errc::invalid_argument,
                                   fmt::format("journal '{}': offset {} is inside the header; the "
                                               "records start at offset {}",
                                               cfg_.path, truncate_at, at.off));
    return cut_records(sc, at);
  }

  // The record at `at`, if it is intact and follows; else why not.
  [[nodiscard]] result<position> next_intact(scanner& sc, const position& at) {
    using namespace ledger_detail;
    auto bad = [&](std::string why) {
      return result<position>(
          errc::invalid_argument,
          fmt::format("journal '{}': record {} at offset {} is not intact ({}); only the records "
                      "before it can be kept: truncate at offset {} or before",
                      cfg_.path, at.seq, at.off, why, at.off));
    };
    if (capacity_ - at.off < frame_header_size) return bad("the file ends in its header");
    auto h = sc.get(at.off, frame_header_size);
    if (!h) return h.error();
    const u32 len = load_le<u32>(*h + 4);
    if (len < min_payload_size || len > tear_window_ - frame_header_size ||
        len > capacity_ - at.off - frame_header_size)
      return bad(fmt::format("record length {} is out of range", len));
    auto f = sc.get(at.off, frame_header_size + len);
    if (!f) return f.error();
    if (crc32c(*f + 4, frame_header_size - 4 + len) != load_le<u32>(*f)) return bad("checksum mismatch");
    if (load_le<u64>(*f + 8) != at.seq) return bad("wrong sequence number");
    if (load_le<u64>(*f + 16) >= at.seq) return bad("a durable mark not below its sequence number");
    if (load_le<u64>(*f + 24) != at.chain) return bad("it does not follow the record before it");
    return position{at.off + frame_header_size + len, at.seq + 1, frame_chain(*f, frame_header_size + len),
                    at.off};
  }

  // Copies everything non-zero from `at` on aside, zeroes it, and rewrites
  // the watermark (and the rest of the header after the fixed part) to say
  // the records before `at` are the whole history.
  [[nodiscard]] result<repair_report> cut_records(scanner& sc, const position& at) {
    using namespace ledger_detail;
    repair_report rep;
    rep.records = at.seq - 1;
    rep.cut_offset = at.off;
    auto tail = sc.nonzero_range(at.off);
    if (!tail) return tail.error();
    if (const u64 end_nz = tail->second; end_nz > at.off) {
      auto kept = keep_bytes(at.off, end_nz, "cut");
      if (!kept) return kept.error();
      rep.copy = *kept;
      rep.cut_bytes = end_nz - at.off;
      if (auto r = zero_range(at.off, end_nz); !r) return in_journal(r.error());
      if (auto r = cfg_.fs.fdatasync(fd_); !r) return in_journal(r.error());
    }
    std::vector<std::byte> rest(journal_header_size - watermark_offset);
    const watermark wm{at.seq - 1, at.off, at.seq - 1, at.off};
    wm.encode(rest.data());
    if (auto r = write_all(fd_, rest.data(), rest.size(), watermark_offset); !r) return in_journal(r.error());
    if (auto r = cfg_.fs.fdatasync(fd_); !r) return in_journal(r.error());
    return rep;
  }

  [[nodiscard]] std::string directory() const {
    auto dir = std::filesystem::path(cfg_.path).parent_path().string();
    return dir.empty() ? std::string(".") : dir;
  }

  [[nodiscard]] result<void> writable() const {
    if (cfg_.read_only)
      return result<void>(errc::read_only, fmt::format("journal '{}' was opened read-only", cfg_.path));
    if (failed_)
      return result<void>(errc::read_only,
                          fmt::format("journal '{}' refuses writes after a storage failure ({}); "
                                      "reopen it to continue",
                                      cfg_.path, failure_));
    return {};
  }

  // An error from a call on a handle (which does not know its file), with
  // the file named.
  [[nodiscard]] static tollgate::error in_file(const std::string& path, const tollgate::error& e) {
    return tollgate::error(e.code(), fmt::format("'{}': {}", path, e.message()));
  }
  [[nodiscard]] tollgate::error in_journal(const tollgate::error& e) const {
    return tollgate::error(e.code(), fmt::format("journal '{}': {}", cfg_.path, e.message()));
  }

  [[nodiscard]] result<void> fail(std::string why) {
    failed_ = true;
    failure_ = std::move(why);
    return result<void>(errc::storage_failure,
                        fmt::format("journal '{}': {}; the outcome of the operation is unknown "
                                    "until the journal is reopened (retry it with the same key "
                                    "then); the ledger refuses writes until then",
                                    cfg_.path, failure_));
  }

  [[nodiscard]] result<void> write_all(handle fd, const std::byte* p, std::size_t n, u64 off) {
    std::size_t done = 0;
    while (done < n) {
      auto w = cfg_.fs.pwrite(fd, p + done, n - done, off + done);
      if (!w) return w.error();
      if (*w == 0) return result<void>(errc::storage_failure, "a write wrote nothing");
      done += *w;
    }
    return {};
  }

  // Copies the bytes [from, to) of the journal, about to be cut (`kind`:
  // "torn" for a torn tail, "cut" for repair), to FILE.KIND-FROM
  // (FILE.KIND-FROM.2, ... when that name holds other bytes), through a
  // temporary file that is fsynced and linked into place, then syncs the
  // directory. A copy with the same bytes, left by an attempt that stopped
  // before cutting, is reused. Returns the copy's path.
  [[nodiscard]] result<std::string> keep_bytes(u64 from, u64 to, std::string_view kind) {
    auto failed = [&](const std::string& where, const std::string& why) {
      return result<std::string>(
          errc::storage_failure,
          fmt::format("journal '{}': {} at offset {} ({} bytes) could not be copied to '{}' ({}), "
                      "so nothing was cut. Make room or fix the permissions of the journal's "
                      "directory and try again{}",
                      cfg_.path, kind == "torn" ? "the torn tail" : "the bytes to cut", from,
                      to - from, where, why, kind == "torn" ? ", or open it read-only" : ""));
    };
    std::vector<std::byte> bytes(static_cast<std::size_t>(to - from));
    auto r = cfg_.fs.pread(fd_, bytes.data(), bytes.size(), from);
    if (!r) return in_journal(r.error());
    if (*r != bytes.size())
      return result<std::string>(errc::io_error, fmt::format("journal '{}' ended while reading offset {}",
                                                             cfg_.path, from));
    const std::string base = fmt::format("{}.{}-{}", cfg_.path, kind, from);
    constexpr int max_copies = 1000;
    for (int n = 1; n <= max_copies; ++n) {
      const std::string p = n == 1 ? base : fmt::format("{}.{}", base, n);
      if (cfg_.fs.exists(p)) {
        if (same_contents(p, bytes)) return p;
        continue;
      }
      const std::string tmp = p + ".tmp";
      auto fd = open_fresh(tmp);
      if (!fd) return failed(p, fd.error().message());
      auto w = write_all(*fd, bytes.data(), bytes.size(), 0);
      if (w) w = cfg_.fs.fsync(*fd);
      cfg_.fs.close(*fd);
      if (w) w = cfg_.fs.link(tmp, p);
      (void)cfg_.fs.remove(tmp);
      if (w) w = cfg_.fs.sync_directory(directory());
      if (!w) return failed(p, w.error().message());
      return p;
    }
    return failed(base, fmt::format("{} copies of other bytes cut at that offset exist already; "
                                    "move them elsewhere",
                                    max_copies));
  }

  // Creates the temporary file `tmp` afresh: whatever an earlier attempt
  // left under that name (a file, or a FIFO someone put there) is removed
  // first, and the exclusive create then guarantees a new regular file, so
  // nothing swapped in meanwhile is written to or blocks.
  [[nodiscard]] result<handle> open_fresh(const std::string& tmp) {
    if (auto r = cfg_.fs.remove(tmp); !r) return r.error();
    return cfg_.fs.open(tmp, open_mode::create_exclusive);
  }

  // Whether the file at `p` holds exactly `bytes` (false when unreadable).
  [[nodiscard]] bool same_contents(const std::string& p, const std::vector<std::byte>& bytes) {
    auto fd = cfg_.fs.open(p, open_mode::read_only);
    if (!fd) return false;
    bool same = false;
    if (auto size = cfg_.fs.size(*fd); size && *size == bytes.size()) {
      std::vector<std::byte> have(bytes.size());
      auto r = cfg_.fs.pread(*fd, have.data(), have.size(), 0);
      same = r && *r == have.size() && have == bytes;
    }
    cfg_.fs.close(*fd);
    return same;
  }

  [[nodiscard]] result<void> zero_range(u64 from, u64 to) {
    static const std::vector<std::byte> zeros(1u << 20);
    for (u64 off = from; off < to;) {
      const std::size_t n = static_cast<std::size_t>(std::min<u64>(zeros.size(), to - off));
      if (auto r = write_all(fd_, zeros.data(), n, off); !r) return r;
      off += n;
    }
    return {};
  }

  // Grows the file by zero-filled segments and syncs, so that later record
  // writes land in allocated, already-sized space.
  [[nodiscard]] result<void> extend(u64 min_end) {
    u64 cap = capacity_;
    while (cap < min_end) cap += cfg_.segment_bytes;
    if (auto r = zero_range(capacity_, cap); !r) return fail(r.error().message());
    if (auto r = cfg_.fs.fdatasync(fd_); !r) return fail(r.error().message());
    capacity_ = cap;
    mark_durable();
    return {};
  }

  [[nodiscard]] result<void> create_file() {
    using namespace ledger_detail;
    // The temporary name is unique to this attempt, not just to the
    // process: two ledgers of one process creating the same journal at once
    // must not share it (the second would remove the first one's file and
    // the first would link the second's half-written one into place, whose
    // zero-filling then wipes records the first had already acknowledged).
    static std::atomic<u64> attempts{0};
    std::random_device rd;
    const std::string tmp =
        fmt::format("{}.creating.{}.{}.{:08x}{:08x}", cfg_.path, ::getpid(), ++attempts, rd(), rd());
    auto fd = cfg_.fs.open(tmp, open_mode::create_exclusive);
    if (!fd) return fd.error();
    std::vector<std::byte> header(journal_header_size);
    std::byte* h = header.data();
    std::memcpy(h, journal_magic, 8);
    store_le<u32>(h + 8, journal_format);
    store_le<u32>(h + 12, static_cast<u32>(journal_header_size));
    store_le<u32>(h + 16, cfg_.tear_window);
    const u64 hi = (static_cast<u64>(rd()) << 32) | rd();
    const u64 lo = (static_cast<u64>(rd()) << 32) | rd();
    store_le<u64>(h + 24, hi);
    store_le<u64>(h + 32, lo);
    store_le<u32>(h + header_fixed_size, crc32c(h, header_fixed_size));
    watermark{}.encode(h + watermark_offset);
    handle f = *fd;
    auto r = write_all(f, header.data(), header.size(), 0);
    if (r) {
      static const std::vector<std::byte> zeros(1u << 20);
      for (u64 off = journal_header_size; r && off < journal_header_size + cfg_.segment_bytes;) {
        const std::size_t n = static_cast<std::size_t>(
            std::min<u64>(zeros.size(), journal_header_size + cfg_.segment_bytes - off));
        r = write_all(f, zeros.data(), n, off);
        off += n;
      }
    }
    if (r) r = cfg_.fs.fsync(f);
    cfg_.fs.close(f);
    // link() never replaces: if another process created the journal first,
    // its file (and anything already in it) wins.
    if (r) {
      r = cfg_.fs.link(tmp, cfg_.path);
      if (!r && cfg_.fs.exists(cfg_.path)) r = result<void>();
    }
    (void)cfg_.fs.remove(tmp);
    if (r) r = cfg_.fs.sync_directory(directory());
    if (!r)
      return result<void>(tollgate::error(
          r.error().code(),
          fmt::format("cannot create journal '{}': {}", cfg_.path, r.error().message())));
    return {};
  }

  // Checks the header's fixed part (a damaged one refuses the open) and
  // reads the watermark (a damaged one, or bytes where the header has none,
  // refuse the open only after replay, which names the end of the intact
  // records for repair()).
  [[nodiscard]] result<void> read_header() {
    using namespace ledger_detail;
    auto bad = [&](std::string why) {
      return result<void>(errc::corrupt_journal,
                          fmt::format("journal '{}' cannot be opened: {}", cfg_.path, why));
    };
    if (capacity_ < journal_header_size)
      return bad(fmt::format("the file is {} bytes, shorter than the {}-byte journal header; it is "
                             "not a tollgate journal or it was truncated",
                             capacity_, journal_header_size));
    std::array<std::byte, journal_header_size> h;
    auto r = cfg_.fs.pread(fd_, h.data(), h.size(), 0);
    if (!r) return in_journal(r.error());
    if (*r != h.size()) return bad("the header could not be read in full");
    if (std::memcmp(h.data(), journal_magic, 8) != 0)
      return bad("it is not a tollgate journal (bad magic at offset 0)");
    const u32 version = load_le<u32>(h.data() + 8);
    if (version != journal_format)
      return bad(fmt::format(
          "journal format version {} is not supported: this build reads and writes version {} "
          "only ({}); open it with the build that wrote it",
          version, journal_format,
          version < journal_format
              ? "it was written by an older build, and older formats are not read: their records "
                "lack what recovery now relies on, such as the chain of records and the header's "
                "copy of the durable watermark of version 3"
              : "it was written by a newer build"));
    if (crc32c(h.data(), header_fixed_size) != load_le<u32>(h.data() + header_fixed_size))
      return bad("the header checksum does not match (damage at offset 0). Restore the file from a "
                 "backup");
    if (load_le<u32>(h.data() + 12) != journal_header_size) return bad("unexpected header size");
    tear_window_ = load_le<u32>(h.data() + 16);
    if (tear_window_ < min_tear_window || tear_window_ > max_tear_window)
      return bad(fmt::format("tear window {} is out of range", tear_window_));
    id_hi_ = load_le<u64>(h.data() + 24);
    id_lo_ = load_le<u64>(h.data() + 32);
    if (auto w = read_watermark(h); !w) return w;
    static_assert(header_fixed_size + 4 == watermark_offset, "the watermark follows the fixed part");
    constexpr std::size_t rest = watermark_offset + watermark_size;
    if (const std::size_t i = first_nonzero(h.data() + rest, h.size() - rest); rest + i < h.size())
      wm_problem_ = fmt::format("its header has a non-zero byte at offset {}, where it has none: it is "
                                "damaged",
                                rest + i);
    return {};
  }

  // The watermark from the header bytes `h`. A writer may be rewriting it
  // while a reader reads: a checksum mismatch is read again a few times
  // before it counts as damage.
  [[nodiscard]] result<void> read_watermark(std::array<std::byte, ledger_detail::journal_header_size>& h) {
    using namespace ledger_detail;
    constexpr int attempts = 100;
    for (int i = 0; !wm_.decode(h.data() + watermark_offset); ++i) {
      if (i == attempts) {
        wm_ = watermark{};
        wm_problem_ = fmt::format("the durable watermark in its header (offset {}) is damaged",
                                  watermark_offset);
        return {};
      }
      auto r = cfg_.fs.pread(fd_, h.data() + watermark_offset, watermark_size, watermark_offset);
      if (!r) return in_journal(r.error());
    }
    return {};
  }

  // The snapshot, if there is one; an error when it exists but is unusable.
  [[nodiscard]] result<std::optional<snapshot_file>> read_snapshot() {
    using namespace ledger_detail;
    const std::string p = snapshot_path();
    if (!cfg_.fs.exists(p)) return std::optional<snapshot_file>{};
    auto fd = cfg_.fs.open(p, open_mode::read_only);
    if (!fd) return fd.error();
    struct closer {
      FileSystem& fs;
      handle h;
      ~closer() { fs.close(h); }
    } close_it{cfg_.fs, *fd};
    auto size = cfg_.fs.size(*fd);
    if (!size) return in_file(p, size.error());
    auto bad = [&](std::string why) {
      return result<std::optional<snapshot_file>>(errc::corrupt_journal,
                                                  fmt::format("'{}': {}", p, why));
    };
    if (*size < snapshot_header_size) return bad("shorter than a snapshot header");
    std::byte h[snapshot_header_size];
    auto r = cfg_.fs.pread(*fd, h, snapshot_header_size, 0);
    if (!r) return in_file(p, r.error());
    if (*r != snapshot_header_size) return bad("header could not be read");
    if (std::memcmp(h, snapshot_magic, 8) != 0) return bad("not a tollgate snapshot");
    if (load_le<u32>(h + 8) != snapshot_file_format) return bad("unsupported snapshot format");
    if (crc32c(h, 76) != load_le<u32>(h + 76)) return bad("header checksum mismatch");
    if (load_le<u64>(h + 16) != id_hi_ || load_le<u64>(h + 24) != id_lo_)
      return bad("it belongs to a different journal");
    snapshot_file sf;
    sf.seq = load_le<u64>(h + 32);
    sf.last = load_le<u64>(h + 40);
    sf.end = load_le<u64>(h + 48);
    sf.chain = load_le<u64>(h + 56);
    const u64 len = load_le<u64>(h + 64);
    if (len != *size - snapshot_header_size) return bad("payload length does not match the file size");
    sf.payload.resize(static_cast<std::size_t>(len));
    r = cfg_.fs.pread(*fd, sf.payload.data(), sf.payload.size(), snapshot_header_size);
    if (!r) return in_file(p, r.error());
    if (*r != len) return bad("payload could not be read");
    if (crc32c(sf.payload.data(), sf.payload.size()) != load_le<u32>(h + 72))
      return bad("payload checksum mismatch");
    return std::optional<snapshot_file>(std::move(sf));
  }

  // A snapshot is used only if the journal holds exactly the history it
  // covers: the record it ends with, intact, where it says, with the chain
  // value it names (which covers every record before it).
  [[nodiscard]] result<void> check_anchor(const snapshot_file& sf) {
    using namespace ledger_detail;
    auto bad = [&](std::string why) {
      return result<void>(errc::corrupt_journal, fmt::format("it does not match the journal: {}", why));
    };
    if (sf.seq == 0) {
      if (sf.end != journal_header_size || sf.chain != initial_chain(id_hi_, id_lo_))
        return bad("an empty snapshot must end at the header");
      return {};
    }
    if (sf.last < journal_header_size || sf.end > capacity_ || sf.last >= sf.end ||
        sf.end - sf.last < min_record_size || sf.end - sf.last > tear_window_)
      return bad("its journal offsets are out of range");
    std::vector<std::byte> f(static_cast<std::size_t>(sf.end - sf.last));
    auto r = cfg_.fs.pread(fd_, f.data(), f.size(), sf.last);
    if (!r) return in_journal(r.error());
    if (*r != f.size()) return bad("the journal is shorter than the snapshot");
    const u32 len = load_le<u32>(f.data() + 4);
    if (frame_header_size + len != f.size() || load_le<u64>(f.data() + 8) != sf.seq ||
        crc32c(f.data() + 4, f.size() - 4) != load_le<u32>(f.data()))
      return bad(fmt::format("record {} is not at offset {}", sf.seq, sf.last));
    if (frame_chain(f.data(), f.size()) != sf.chain)
      return bad(fmt::format("the journal's record {} is not the one the snapshot covers: the "
                             "journal holds another history (restored from an older copy, or its "
                             "last record was cut and written again)",
                             sf.seq));
    return {};
  }

  config cfg_;
  handle fd_{};
  bool open_ = false;
  u32 tear_window_ = 0;
  u64 id_hi_ = 0, id_lo_ = 0;
  ledger_detail::watermark wm_;  // as read on open (make_durable() and repair keep it current)
  std::string wm_problem_;       // why the header's watermark cannot be trusted ("" when it can)
  u64 tail_ = 0;
  u64 capacity_ = 0;
  u64 next_seq_ = 1;
  u64 last_record_start_ = 0;
  u64 chain_ = 0;  // the chain value of the last record replayed
  u64 unsynced_ = 0;
  u64 durable_end_ = ledger_detail::journal_header_size;  // where record durable_through_ ends
  // Invariant: when unsynced_ is 0 (and nothing failed), it is next_seq_ - 1.
  std::atomic<u64> durable_through_{0};
  bool failed_ = false;
  std::string failure_;
};

/// The journal config with the real file system.
using journal_config = basic_journal_config<>;

}  // namespace tollgate
