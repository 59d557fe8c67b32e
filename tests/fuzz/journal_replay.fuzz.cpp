// libFuzzer target: journal replay on untrusted bytes. Random bytes must
// never crash, hang or leak: a journal is either refused with an error or
// replayed up to its last good record, and a ledger that opened must pass
// its invariant check, accept a new operation and open again afterwards.
// A journal refused as damaged is left exactly as it was; a torn tail that
// a writable open cut is zeroed and its bytes are in the copy it names.
//
// The first input byte picks what the rest is:
//   0: a whole journal file (header included);
//   1: the record area after a valid header (exercises framing, torn tails,
//      damage that later records vouch for);
//   2: record payloads, each framed with a valid checksum, sequence number
//      and chain value (so the fuzzer reaches the operation decoder and the
//      replay logic), each saying the record before it was durable (bit 0x40
//      of the first byte set: saying nothing was);
//   3: the payload of a snapshot with a valid header (the state loader).
// Bit 0x80 of the first byte opens read-only. Files live in memory
// (memory_file_system), so each run is fast. The seeds
// (journal_replay.seeds/) are written by journal_replay_seeds.cpp.
//
// Built by scripts/test.sh:
//   clang++-14 -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -Iinclude SRC -lfmt
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <tollgate/ledger/ledger.hpp>

namespace {

namespace ld = tollgate::ledger_detail;
using fuzz_ledger = tollgate::basic_ledger<tollgate::ledger_traits<
    tollgate::manual_clock, tollgate::journal_storage<tollgate::memory_file_system>,
    tollgate::single_thread>>;

constexpr std::uint64_t id_hi = 0x0123456789abcdefull, id_lo = 0xfedcba9876543210ull;

std::vector<std::byte> make_header() {
  std::vector<std::byte> h(ld::journal_header_size);
  std::memcpy(h.data(), ld::journal_magic, 8);
  ld::store_le<std::uint32_t>(h.data() + 8, ld::journal_format);
  ld::store_le<std::uint32_t>(h.data() + 12, static_cast<std::uint32_t>(ld::journal_header_size));
  ld::store_le<std::uint32_t>(h.data() + 16, ld::min_tear_window);
  ld::store_le<std::uint64_t>(h.data() + 24, id_hi);
  ld::store_le<std::uint64_t>(h.data() + 32, id_lo);
  ld::store_le<std::uint32_t>(h.data() + ld::header_fixed_size, ld::crc32c(h.data(), ld::header_fixed_size));
  ld::watermark{}.encode(h.data() + ld::watermark_offset);  // nothing written yet
  return h;
}

// A valid header of an empty journal (made once: no work per run that the
// input does not need).
const std::vector<std::byte>& valid_header() {
  static const std::vector<std::byte> h = make_header();
  return h;
}

// A snapshot file with a valid header around `payload`, built in `f`.
void snapshot_file(std::vector<std::byte>& f, const std::byte* payload, std::size_t n) {
  f.assign(ld::snapshot_header_size, std::byte{0});
  std::byte* h = f.data();
  std::memcpy(h, ld::snapshot_magic, 8);
  ld::store_le<std::uint32_t>(h + 8, ld::snapshot_file_format);
  ld::store_le<std::uint32_t>(h + 12, static_cast<std::uint32_t>(ld::snapshot_header_size));
  ld::store_le<std::uint64_t>(h + 16, id_hi);
  ld::store_le<std::uint64_t>(h + 24, id_lo);
  ld::store_le<std::uint64_t>(h + 32, 0);  // covers no record: replay starts after the header
  ld::store_le<std::uint64_t>(h + 40, 0);
  ld::store_le<std::uint64_t>(h + 48, ld::journal_header_size);
  ld::store_le<std::uint64_t>(h + 56, ld::initial_chain(id_hi, id_lo));
  ld::store_le<std::uint64_t>(h + 64, n);
  ld::store_le<std::uint32_t>(h + 72, ld::crc32c(payload, n));
  ld::store_le<std::uint32_t>(h + 76, ld::crc32c(h, 76));
  f.insert(f.end(), payload, payload + n);
}

// The bytes of a file, read into `buf` (which keeps its capacity from run
// to run: contents() would allocate a copy each time).
const std::vector<std::byte>& read(tollgate::memory_file_system& fs, const std::string& path,
                                   std::vector<std::byte>& buf) {
  buf.clear();
  auto h = fs.open(path, tollgate::open_mode::read_only);
  if (!h) return buf;
  buf.resize(static_cast<std::size_t>(fs.size(*h).value()));
  (void)fs.pread(*h, buf.data(), buf.size(), 0);
  fs.close(*h);
  return buf;
}

// Byte vectors compared with memcmp (an element loop would cost an
// instrumented comparison per byte).
bool same(const std::vector<std::byte>& a, const std::byte* b, std::size_t n) {
  return a.size() == n && (n == 0 || std::memcmp(a.data(), b, n) == 0);
}

[[noreturn]] void bug(const char* what, const std::string& detail) {
  std::fprintf(stderr, "journal_replay fuzz: %s: %s\n", what, detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const int mode = data[0] % 4;
  const bool read_only = (data[0] & 0x80) != 0;
  const bool marks_nothing_durable = (data[0] & 0x40) != 0;
  const auto* in = reinterpret_cast<const std::byte*>(data + 1);
  const std::size_t n = size - 1;

  // Buffers kept from run to run (their capacity): no allocation per run
  // that the input does not need.
  static std::vector<std::byte> file, snapshot, now, copy;
  tollgate::memory_file_system fs;
  switch (mode) {
    case 0: file.assign(in, in + n); break;
    case 1:
      file.assign(valid_header().begin(), valid_header().end());
      file.insert(file.end(), in, in + n);
      file.resize(file.size() + 64);  // some preallocated zeros
      break;
    case 2: {
      file.assign(valid_header().begin(), valid_header().end());
      std::uint64_t seq = 1, chain = ld::initial_chain(id_hi, id_lo);
      for (std::size_t pos = 0; pos < n;) {
        const std::size_t len = std::min<std::size_t>(static_cast<std::uint8_t>(in[pos]) + 1, n - pos - 1);
        ++pos;
        const auto at = tollgate::journal_storage<>::begin_frame(file);  // framed in place
        file.insert(file.end(), in + pos, in + pos + len);
        chain = tollgate::journal_storage<>::end_frame(file, at, seq, marks_nothing_durable ? 0 : seq - 1, chain);
        ++seq;
        pos += len;
      }
      file.resize(file.size() + 64);
      break;
    }
    case 3:
      file.assign(valid_header().begin(), valid_header().end());
      file.resize(file.size() + 64);
      snapshot_file(snapshot, in, n);
      fs.set_contents("j.snapshot", snapshot);
      break;
  }
  fs.set_contents("j", file);

  tollgate::basic_journal_config<tollgate::memory_file_system> cfg;
  cfg.path = "j";
  cfg.read_only = read_only;
  cfg.segment_bytes = 4096;
  cfg.fs = fs;
  tollgate::manual_clock clock;
  auto opened = fuzz_ledger::open(cfg, {}, clock);
  if (!opened) {
    if (opened.error().message().empty()) bug("an error without a message", "");
    if (opened.error() == tollgate::errc::corrupt_journal && !same(read(fs, "j", now), file.data(), file.size()))
      bug("a journal refused as damaged was changed", opened.error().message());
    return 0;
  }
  fuzz_ledger& l = **opened;
  if (const auto& rep = l.recovery(); rep.torn_tail_cut && rep.torn_bytes > 0) {
    read(fs, "j", now);
    const auto from = static_cast<long>(rep.torn_offset), to = static_cast<long>(rep.torn_offset + rep.torn_bytes);
    if (rep.torn_bytes == 0 || to > static_cast<long>(file.size())) bug("a torn tail out of range", rep.notes);
    if (!same(read(fs, rep.torn_copy, copy), file.data() + from, static_cast<std::size_t>(to - from)))
      bug("the copy of a torn tail does not hold the bytes cut", rep.torn_copy);
    if (ld::first_nonzero(now.data() + from, static_cast<std::size_t>(to - from)) != static_cast<std::size_t>(to - from))
      bug("a torn tail was not zeroed", rep.notes);
    if (rep.notes.find(rep.torn_copy) == std::string::npos) bug("the notes do not name the copy", rep.notes);
  } else if (!read_only && rep.torn_tail && !rep.torn_tail_cut) {
    bug("a writable open left a torn tail", rep.notes);
  }
  // (Opening checked every invariant already: check_invariants_on_open.)
  (void)l.totals();
  for (const auto& a : l.accounts()) {
    auto b = l.balance(a);
    if (!b || b->available.is_negative()) bug("a bad balance", a);
    (void)l.statement(a);
  }
  if (read_only) return 0;
  // What replays must also take new writes and replay again with them.
  using namespace tollgate::literals;
  const auto ops_before = l.totals().operations;
  auto p = l.purchase("fuzz", 1_usd, "fuzz-key-1");
  auto c = l.charge("fuzz", 1_cr, "fuzz-key-2");
  const bool wrote = p.has_value() && !p->replayed;
  opened->reset();
  auto again = fuzz_ledger::open(cfg, {}, clock);
  if (!again) bug("reopening after a write failed", again.error().message());
  if (wrote && (*again)->totals().operations < ops_before + 1)
    bug("an acknowledged write is missing after reopening", "");
  (void)c;
  return 0;
}
