// journal_storage: the ledger's durable storage, one append-only file.
//
// Layout. A 4096-byte header (magic "TGJOURNL", format version, header size,
// the tear window, a random journal id, CRC32C), then records, each framed as
// [u32 crc32c][u32 payload length][u64 sequence number][u64 durable through]
// [payload]; the CRC covers everything after itself, sequence numbers count up
// from 1 without gaps, and "durable through" is the highest sequence number
// whose fdatasync had returned success when the record was framed (every_op:
// the previous record's). The file is grown in zero-filled segments written
// ahead of time, so committing a record is a pwrite into space that already
// exists plus an fdatasync that has no file size to update.
//
// Recovery. Replay reads records until the first one that is not intact. If
// only zeros follow, that is the end of the data. If non-zero bytes follow but
// all within one "tear window" (the most any single unsynced write can span:
// the writer never has more than that in flight), it is a torn write that was
// never acknowledged, unless an intact record after it says the bad one had
// already been synced: then the bad record was acknowledged and has been
// damaged since, and the open is refused. A torn write is reported and, on a
// writable open, copied to FILE.torn-OFFSET (synced) and then zeroed. Anything
// else (a bad record followed by more data than one write could leave) is
// damage, and the open is refused with the offset and the reason. A record
// no later record vouches for (the last one; with group commit, the others
// of the last group) is the one case left: damage to it looks like a torn
// write, and the copy is what keeps it.
//
// A snapshot (FILE.snapshot: header, the ledger state, CRC32C) records which
// journal record it covers; it is written to a temporary file, fsynced,
// renamed into place and the directory fsynced, and on open it is used only
// if it matches the journal, so a bad or stale snapshot costs time, never
// data. An exclusive flock stops a second writer. After a failed write or
// fdatasync the storage refuses every further write.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <filesystem>
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
/// Version 2: record frames carry the durable watermark (version 1 did not).
inline constexpr u32 journal_format = 2;
inline constexpr u32 snapshot_file_format = 1;
inline constexpr u64 journal_header_size = 4096;
/// crc32c, payload length, sequence number, durable through.
inline constexpr std::size_t frame_header_size = 24;
inline constexpr std::size_t snapshot_header_size = 72;
/// The smallest record payload: version, time and an operation count.
inline constexpr std::size_t min_payload_size = 13;
/// The smallest whole record.
inline constexpr std::size_t min_record_size = frame_header_size + min_payload_size;
inline constexpr u32 min_tear_window = 64 * 1024;
inline constexpr u32 max_tear_window = 16 * 1024 * 1024;
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
        tail_(o.tail_),
        capacity_(o.capacity_),
        next_seq_(o.next_seq_),
        last_record_start_(o.last_record_start_),
        unsynced_(o.unsynced_),
        durable_through_(o.durable_through_.load(std::memory_order_relaxed)),
        failed_(o.failed_),
        failure_(std::move(o.failure_)) {}
  journal_storage& operator=(journal_storage&&) = delete;
  ~journal_storage() {
    if (!open_) return;
    if (!cfg_.read_only && !failed_ && unsynced_ > 0) (void)cfg_.fs.fdatasync(fd_);
    cfg_.fs.close(fd_);
  }

  /**
   * Replays the journal into `sink`: `sink.snapshot(bytes) -> result<void>`
   * (the snapshot's state; on an error replay falls back to the whole
   * journal after `sink.reset()`), then `sink.record(seq, bytes) ->
   * result<void>` for every record. On a writable open, copies a torn tail
   * to FILE.torn-OFFSET and cuts it, then syncs the journal (so everything
   * replayed counts as durable). Errors: errc::corrupt_journal (damage, with
   * the offset and what to do), errc::storage_failure (the torn tail could
   * not be copied aside: nothing was cut), errc::io_error.
   */
  template <class Sink>
  [[nodiscard]] result<recovery_report> replay(Sink& sink) {
    using namespace ledger_detail;
    recovery_report rep;
    u64 off = journal_header_size;
    u64 seq = 1;
    last_record_start_ = 0;
    if (cfg_.use_snapshot) {
      auto snap = read_snapshot();
      if (!snap) {
        rep.notes += fmt::format("snapshot ignored: {}\n", snap.error().message());
      } else if (snap->has_value()) {
        const snapshot_file& sf = **snap;
        if (auto a = check_anchor(sf); !a) {
          rep.notes += fmt::format("snapshot ignored: {}\n", a.error().message());
        } else if (auto r = sink.snapshot(std::span<const std::byte>(sf.payload)); !r) {
          rep.notes += fmt::format("snapshot ignored: {}\n", r.error().message());
          sink.reset();
        } else {
          off = sf.end;
          seq = sf.seq + 1;
          last_record_start_ = sf.last;
          rep.snapshot_used = true;
          rep.snapshot_records = sf.seq;
        }
      }
    }
    scanner sc(*this);
    std::string bad;
    while (true) {
      if (capacity_ - off < frame_header_size) {
        bad = "a record header is cut off by the end of the file";
        break;
      }
      auto h = sc.get(off, frame_header_size);
      if (!h) return h.error();
      const u32 crc = load_le<u32>(*h);
      const u32 len = load_le<u32>(*h + 4);
      const u64 s = load_le<u64>(*h + 8);
      const u64 durable = load_le<u64>(*h + 16);
      if (crc == 0 && len == 0 && s == 0 && durable == 0) break;  // zeros: the end, unless data follows
      if (len < min_payload_size || len > tear_window_ - frame_header_size ||
          len > capacity_ - off - frame_header_size) {
        bad = fmt::format("record length {} is out of range", len);
        break;
      }
      auto f = sc.get(off, frame_header_size + len);
      if (!f) return f.error();
      if (crc32c(*f + 4, frame_header_size - 4 + len) != crc) {
        bad = "checksum mismatch";
        break;
      }
      if (s != seq) {
        bad = fmt::format("sequence number {} where {} was expected", s, seq);
        break;
      }
      if (durable >= s) {
        bad = fmt::format("record {} says record {} was durable before it was written", s, durable);
        break;
      }
      if (auto r = sink.record(seq, std::span<const std::byte>(*f + frame_header_size, len)); !r)
        return result<recovery_report>(
            errc::corrupt_journal,
            fmt::format("journal '{}': record {} at offset {} does not replay: {}", cfg_.path, seq,
                        off, r.error().message()));
      last_record_start_ = off;
      off += frame_header_size + len;
      ++seq;
      ++rep.records;
    }
    // Classify what follows the last intact record.
    auto tail = sc.nonzero_range(off);
    if (!tail) return tail.error();
    const auto [first_nz, end_nz] = *tail;
    const std::string why = !bad.empty() ? bad
                                         : fmt::format("the records stop (zeros), but non-zero bytes "
                                                       "follow at offset {}",
                                                       first_nz);
    if (end_nz > off) {
      if (end_nz - off > tear_window_)
        return result<recovery_report>(
            errc::corrupt_journal,
            fmt::format("journal '{}' is damaged at offset {}: {}; data continues to offset {}, "
                        "more than one unacknowledged write ({} bytes) can leave behind, so "
                        "acknowledged records would be lost. Restore the file from a backup, or "
                        "copy it aside and truncate it at offset {} to keep the {} records before "
                        "the damage",
                        cfg_.path, off, why, end_nz, tear_window_, off, seq - 1));
      // Within one tear window this looks like a torn write. It is not if a
      // later record, intact, says record `seq` had been synced before it
      // was framed: then record `seq` was acknowledged, and is damaged.
      auto proof = sc.find_durable_proof(off, end_nz, seq);
      if (!proof) return proof.error();
      if (*proof)
        return result<recovery_report>(
            errc::corrupt_journal,
            fmt::format("journal '{}' is damaged at offset {}: record {} is not intact ({}), but it "
                        "had been acknowledged: record {} at offset {} is intact and says every "
                        "record through {} was durable when it was written. Restore the file from "
                        "a backup, or copy it aside and truncate it at offset {} to keep the {} "
                        "records before the damage (record {} and the records after it, at least "
                        "through record {}, would be lost)",
                        cfg_.path, off, seq, why, (*proof)->seq, (*proof)->offset,
                        (*proof)->durable, off, seq - 1, seq, (*proof)->seq));
      rep.torn_tail = true;
      rep.torn_offset = off;
      rep.torn_bytes = end_nz - off;
      if (!cfg_.read_only) {
        // Keep the bytes before zeroing them: damage to the last record looks
        // exactly like a torn write (nothing after it can vouch for it), so
        // this copy is the only way back to it.
        auto kept = keep_torn(off, end_nz);
        if (!kept) return kept.error();
        rep.torn_copy = *kept;
        if (auto r = zero_range(off, end_nz); !r) return in_journal(r.error());
        rep.torn_tail_cut = true;
      }
      rep.notes += fmt::format(
          "torn tail: {} bytes at offset {} are the remains of a write that was never "
          "acknowledged ({}); {}\n",
          end_nz - off, off, bad.empty() ? "a hole, then data" : bad,
          cfg_.read_only ? std::string("left as is (read-only)")
                         : fmt::format("copied to '{}', then zeroed", rep.torn_copy));
    }
    if (!cfg_.read_only) {
      // Whatever the last writer left unsynced is synced now, so every
      // record replayed is durable and the next record may say so.
      if (auto r = cfg_.fs.fdatasync(fd_); !r) return in_journal(r.error());
      durable_through_.store(seq - 1, std::memory_order_release);
    }
    tail_ = off;
    next_seq_ = seq;
    rep.end_offset = off;
    return rep;
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
   * as record `seq`. `durable_through` is the highest sequence number known
   * durable now (durable_through(), read when the record is framed); it
   * must be below `seq`. Recovery trusts it: a record that says record k
   * was durable proves that a bad record k is damage, not a torn write.
   */
  static void end_frame(std::vector<std::byte>& buf, std::size_t pos, std::uint64_t seq,
                        std::uint64_t durable_through) {
    using namespace ledger_detail;
    TOLLGATE_ASSERT(durable_through < seq, "journal: a record framed as durable before it is written");
    std::byte* p = buf.data() + pos;
    const auto len = static_cast<u32>(buf.size() - pos - frame_header_size);
    store_le<u32>(p + 4, len);
    store_le<u64>(p + 8, seq);
    store_le<u64>(p + 16, durable_through);
    store_le<u32>(p, crc32c(p + 4, frame_header_size - 4 + len));
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

  /// Makes every written record durable (fdatasync).
  [[nodiscard]] result<void> sync() {
    if (auto r = writable(); !r) return r;
    if (unsynced_ == 0) return {};
    if (auto r = cfg_.fs.fdatasync(fd_); !r) return fail(r.error().message());
    unsynced_ = 0;
    durable_through_.store(next_seq_ - 1, std::memory_order_release);
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
    store_le<u64>(h + 32, next_seq_ - 1);
    store_le<u64>(h + 40, next_seq_ > 1 ? last_record_start_ : 0);
    store_le<u64>(h + 48, tail_);
    store_le<u64>(h + 56, state.size());
    store_le<u32>(h + 64, crc32c(state.data(), state.size()));
    store_le<u32>(h + 68, crc32c(h, 68));
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
    u64 seq = 0, last = 0, end = 0;
    std::vector<std::byte> payload;
  };

  // An intact record that proves an earlier one was durable.
  struct durable_proof {
    u64 offset = 0, seq = 0, durable = 0;
  };

  // Reads ahead in large chunks so replay costs few system calls.
  class scanner {
   public:
    explicit scanner(journal_storage& j) : j_(j) {}
    result<const std::byte*> get(u64 off, std::size_t n) {
      if (off >= begin_ && off + n <= begin_ + len_) return buf_.data() + (off - begin_);
      const std::size_t want = std::max<std::size_t>(
          n, static_cast<std::size_t>(std::min<u64>(chunk(), j_.capacity_ > off ? j_.capacity_ - off : 0)));
      if (buf_.size() < want) buf_.resize(want);
      auto r = j_.cfg_.fs.pread(j_.fd_, buf_.data(), want, off);
      if (!r) return j_.in_journal(r.error());
      begin_ = off;
      len_ = *r;
      if (len_ < n)
        return result<const std::byte*>(errc::io_error,
                                        fmt::format("journal '{}' ended while reading offset {}",
                                                    j_.cfg_.path, off));
      return buf_.data();
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
        for (std::size_t i = 0; i < n; ++i) {
          if ((*p)[i] == std::byte{0}) continue;
          if (!any) first = off + i;
          any = true;
          end = off + i + 1;
        }
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
        auto p = get(y, frame_header_size);
        if (!p) return p.error();
        const u32 len = load_le<u32>(*p + 4);
        if (len < min_payload_size || len > max_len || len > cap - y - frame_header_size) continue;
        const u64 s = load_le<u64>(*p + 8);
        if (s <= k || s - k > (y - from) / min_record_size) continue;
        const u64 durable = load_le<u64>(*p + 16);
        if (durable < k || durable >= s) continue;
        const u32 crc = load_le<u32>(*p);
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
    std::vector<std::byte> buf_;
    u64 begin_ = 0;
    std::size_t len_ = 0;
  };

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

  // Copies the bytes [from, to) of the journal, about to be cut as a torn
  // tail, to FILE.torn-FROM (FILE.torn-FROM.2, ... when that name holds
  // other bytes), through a temporary file that is fsynced and linked into
  // place, then syncs the directory. A copy with the same bytes, left by an
  // open that stopped before cutting, is reused. Returns the copy's path.
  [[nodiscard]] result<std::string> keep_torn(u64 from, u64 to) {
    auto failed = [&](const std::string& where, const std::string& why) {
      return result<std::string>(
          errc::storage_failure,
          fmt::format("journal '{}': the torn tail at offset {} ({} bytes) could not be copied to "
                      "'{}' ({}), so nothing was cut. Make room or fix the permissions of the "
                      "journal's directory and open it again, or open it read-only",
                      cfg_.path, from, to - from, where, why));
    };
    std::vector<std::byte> bytes(static_cast<std::size_t>(to - from));
    auto r = cfg_.fs.pread(fd_, bytes.data(), bytes.size(), from);
    if (!r) return in_journal(r.error());
    if (*r != bytes.size())
      return result<std::string>(errc::io_error, fmt::format("journal '{}' ended while reading offset {}",
                                                             cfg_.path, from));
    const std::string base = fmt::format("{}.torn-{}", cfg_.path, from);
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
    return failed(base, fmt::format("{} copies of other torn tails at that offset exist already; "
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
    unsynced_ = 0;
    durable_through_.store(next_seq_ - 1, std::memory_order_release);
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
    store_le<u32>(h + journal_header_size - 4, crc32c(h, journal_header_size - 4));
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
    std::vector<std::byte> h(journal_header_size);
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
                "lack what recovery now relies on, such as the durable watermark of version 2"
              : "it was written by a newer build"));
    if (crc32c(h.data(), journal_header_size - 4) != load_le<u32>(h.data() + journal_header_size - 4))
      return bad("the header checksum does not match (damage at offset 0)");
    if (load_le<u32>(h.data() + 12) != journal_header_size) return bad("unexpected header size");
    tear_window_ = load_le<u32>(h.data() + 16);
    if (tear_window_ < min_tear_window || tear_window_ > max_tear_window)
      return bad(fmt::format("tear window {} is out of range", tear_window_));
    id_hi_ = load_le<u64>(h.data() + 24);
    id_lo_ = load_le<u64>(h.data() + 32);
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
    if (crc32c(h, 68) != load_le<u32>(h + 68)) return bad("header checksum mismatch");
    if (load_le<u64>(h + 16) != id_hi_ || load_le<u64>(h + 24) != id_lo_)
      return bad("it belongs to a different journal");
    snapshot_file sf;
    sf.seq = load_le<u64>(h + 32);
    sf.last = load_le<u64>(h + 40);
    sf.end = load_le<u64>(h + 48);
    const u64 len = load_le<u64>(h + 56);
    if (len != *size - snapshot_header_size) return bad("payload length does not match the file size");
    sf.payload.resize(static_cast<std::size_t>(len));
    r = cfg_.fs.pread(*fd, sf.payload.data(), sf.payload.size(), snapshot_header_size);
    if (!r) return in_file(p, r.error());
    if (*r != len) return bad("payload could not be read");
    if (crc32c(sf.payload.data(), sf.payload.size()) != load_le<u32>(h + 64))
      return bad("payload checksum mismatch");
    return std::optional<snapshot_file>(std::move(sf));
  }

  // A snapshot is used only if the journal still has the record it ends
  // with, intact, where it says.
  [[nodiscard]] result<void> check_anchor(const snapshot_file& sf) {
    using namespace ledger_detail;
    auto bad = [&](std::string why) {
      return result<void>(errc::corrupt_journal, fmt::format("it does not match the journal: {}", why));
    };
    if (sf.seq == 0) {
      if (sf.end != journal_header_size) return bad("an empty snapshot must end at the header");
      return {};
    }
    if (sf.last < journal_header_size || sf.end > capacity_ || sf.last >= sf.end ||
        sf.end - sf.last < min_record_size ||
        sf.end - sf.last > tear_window_)
      return bad("its journal offsets are out of range");
    std::vector<std::byte> f(static_cast<std::size_t>(sf.end - sf.last));
    auto r = cfg_.fs.pread(fd_, f.data(), f.size(), sf.last);
    if (!r) return in_journal(r.error());
    if (*r != f.size()) return bad("the journal is shorter than the snapshot");
    const u32 len = load_le<u32>(f.data() + 4);
    if (frame_header_size + len != f.size() || load_le<u64>(f.data() + 8) != sf.seq ||
        crc32c(f.data() + 4, f.size() - 4) != load_le<u32>(f.data()))
      return bad(fmt::format("record {} is not at offset {}", sf.seq, sf.last));
    return {};
  }

  config cfg_;
  handle fd_{};
  bool open_ = false;
  u32 tear_window_ = 0;
  u64 id_hi_ = 0, id_lo_ = 0;
  u64 tail_ = 0;
  u64 capacity_ = 0;
  u64 next_seq_ = 1;
  u64 last_record_start_ = 0;
  u64 unsynced_ = 0;
  // Invariant: when unsynced_ is 0 (and nothing failed), it is next_seq_ - 1.
  std::atomic<u64> durable_through_{0};
  bool failed_ = false;
  std::string failure_;
};

/// The journal config with the real file system.
using journal_config = basic_journal_config<>;

}  // namespace tollgate
