// Writes the seed inputs of journal_replay.fuzz.cpp (tests/fuzz/journal_replay.seeds/): a
// small journal written by the ledger itself (every operation kind, a batch, an expiry), cut
// into the shapes the fuzz target takes (its first byte picks the mode, see there). Run it
// again whenever the journal, record or snapshot format changes, so the seeds stay valid
// inputs that reach deep into replay:
//   clang++-14 -std=c++20 -O1 -g -Iinclude tests/fuzz/journal_replay_seeds.cpp \
//     -o build/journal_replay_seeds -lfmt
//   build/journal_replay_seeds tests/fuzz/journal_replay.seeds
//
//   journal, journal-ro        the whole file up to the end of its records (mode 0;
//                              0x80: opened read-only)
//   records                    its record area (mode 1)
//   records-torn               the same, its last record cut in half: a torn write
//   records-damaged            a bit flipped in record 6 of 13, every_op: the records after
//                              it say it was durable, so the open is refused
//   records-unsynced-damaged   the same flip in a journal written with durability none
//                              (nothing synced): a torn write, cut
//   payloads                   the record payloads, to be framed by the target (mode 2)
//   snapshot                   a snapshot's payload: the state after all of it (mode 3)
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <tollgate/ledger/ledger.hpp>

namespace {

namespace ld = tollgate::ledger_detail;
using namespace std::chrono_literals;
using namespace tollgate::literals;
using seed_ledger = tollgate::basic_ledger<tollgate::ledger_traits<
    tollgate::manual_clock, tollgate::journal_storage<tollgate::memory_file_system>,
    tollgate::single_thread>>;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "journal_replay_seeds: %s failed\n", what);
    std::exit(1);
  }
}

template <class R>
void check(const R& r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "journal_replay_seeds: %s: %s\n", what, r.error().message().c_str());
    std::exit(1);
  }
}

struct written {
  std::vector<std::byte> file, snapshot;
};

// The journal (and its snapshot) after a little of everything.
written write_journal(tollgate::durability mode) {
  tollgate::memory_file_system fs;
  tollgate::basic_journal_config<tollgate::memory_file_system> cfg;
  cfg.path = "j";
  cfg.mode = mode;
  cfg.segment_bytes = 4096;
  cfg.tear_window = ld::min_tear_window;
  cfg.fs = fs;
  tollgate::manual_clock clock{tollgate::manual_clock::time_point(1000s)};
  {
    auto opened = seed_ledger::open(cfg, {}, clock);
    check(opened, "open");
    seed_ledger& l = **opened;
    const auto t0 = clock.now();
    check(l.purchase("acme", 10_usd, "p1"), "purchase");
    check(l.grant("acme", 50_cr, "g1", t0 + 100s), "grant");
    check(l.grant("globex", 5_cr, "g2"), "grant");
    auto h1 = l.hold("acme", 30_cr, "h1", 20s);
    check(h1, "hold");
    auto h2 = l.hold("acme", 20_cr, "h2");
    check(h2, "hold");
    clock.advance(5s);
    check(l.capture(h1->hold, 12_cr, "c1"), "capture");
    check(l.charge("acme", 3_cr, "x1"), "charge");
    check(l.adjust("acme", -2_cr, "a1", "ticket 9"), "adjust");
    check(l.set_price("globex", tollgate::credit_price(tollgate::usd::from_raw(20'000)), "sp"), "set_price");
    check(l.purchase("globex", 1_usd, "p2"), "purchase");
    using op = seed_ledger::operation;
    for (const auto& r : l.apply(std::vector<op>{op::purchase("initech", 1_usd, "b1").link(),
                                                 op::charge("initech", 10_cr, "b2")}))
      check(r, "batch");
    clock.advance(200s);
    auto e = l.expire_holds();
    check(e, "expire_holds");
    check(*e == 1, "expiring grant g1");
    check(l.release(h2->hold, "r1"), "release");
    check(l.snapshot(), "snapshot");
  }
  return {fs.contents("j"), fs.contents("j.snapshot")};
}

std::vector<std::uint64_t> record_offsets(const std::vector<std::byte>& f) {
  std::vector<std::uint64_t> out;
  for (std::uint64_t off = ld::journal_header_size; off + ld::frame_header_size <= f.size();) {
    const auto len = ld::load_le<std::uint32_t>(f.data() + off + 4);
    if (len == 0) break;
    out.push_back(off);
    off += ld::frame_header_size + len;
  }
  return out;
}

std::uint64_t records_end(const std::vector<std::byte>& f) {
  const auto offs = record_offsets(f);
  return offs.back() + ld::frame_header_size + ld::load_le<std::uint32_t>(f.data() + offs.back() + 4);
}

void put(const std::string& dir, const std::string& name, std::uint8_t mode,
         const std::vector<std::byte>& body) {
  std::ofstream out(dir + "/" + name, std::ios::binary | std::ios::trunc);
  out.put(static_cast<char>(mode));
  out.write(reinterpret_cast<const char*>(body.data()), static_cast<std::streamsize>(body.size()));
  check(static_cast<bool>(out), "writing a seed file");
}

// The journal id of the fuzz target's header (journal_replay.fuzz.cpp): the
// records of mode 1 follow it, so they must chain from it.
constexpr std::uint64_t id_hi = 0x0123456789abcdefull, id_lo = 0xfedcba9876543210ull;

// The record area of `f` (after the header, up to the end of the last
// record), its records chained again from the fuzz target's journal id.
std::vector<std::byte> record_area(const std::vector<std::byte>& f) {
  std::vector<std::byte> area(f.begin() + ld::journal_header_size, f.begin() + static_cast<long>(records_end(f)));
  std::uint64_t chain = ld::initial_chain(id_hi, id_lo);
  for (std::uint64_t off : record_offsets(f)) {
    std::byte* p = area.data() + (off - ld::journal_header_size);
    const std::size_t n = ld::frame_header_size + ld::load_le<std::uint32_t>(p + 4);
    ld::store_le<std::uint64_t>(p + 24, chain);
    ld::store_le<std::uint32_t>(p, ld::crc32c(p + 4, n - 4));
    chain = ld::frame_chain(p, n);
  }
  return area;
}

// Flips a bit in the payload of record `index` (from 0) of a record area.
std::vector<std::byte> flipped(const std::vector<std::byte>& file, std::size_t index) {
  auto area = record_area(file);
  const auto at = record_offsets(file).at(index) - ld::journal_header_size + ld::frame_header_size + 3;
  area.at(at) ^= std::byte{0x08};
  return area;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s SEED_DIRECTORY\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const written w = write_journal(tollgate::durability::every_op);
  const written unsynced = write_journal(tollgate::durability::none);
  const auto offs = record_offsets(w.file);
  check(offs.size() == 13, "13 records");

  // The whole file up to the end of its records: the preallocated zeros
  // after them are not needed (and cost the fuzzer time on every input).
  const std::vector<std::byte> whole(w.file.begin(), w.file.begin() + static_cast<long>(records_end(w.file)));
  put(dir, "journal", 0x00, whole);
  put(dir, "journal-ro", 0x80, whole);
  const auto area = record_area(w.file);
  put(dir, "records", 0x01, area);
  // Half of the last record (its last bytes are zeros, so cutting fewer
  // would tear nothing: the target pads the area with zeros).
  const auto last = static_cast<long>(offs.back() - ld::journal_header_size);
  put(dir, "records-torn", 0x01,
      std::vector<std::byte>(area.begin(), area.begin() + last + (static_cast<long>(area.size()) - last) / 2));
  put(dir, "records-damaged", 0x01, flipped(w.file, 5));
  put(dir, "records-unsynced-damaged", 0x01, flipped(unsynced.file, 5));
  // Mode 2: each payload as one length byte (length - 1) and its bytes.
  std::vector<std::byte> payloads;
  for (std::size_t i = 0; i < offs.size(); ++i) {
    const auto len = ld::load_le<std::uint32_t>(w.file.data() + offs[i] + 4);
    check(len >= 1 && len <= 256, "a payload of at most 256 bytes");
    payloads.push_back(static_cast<std::byte>(len - 1));
    const auto* p = w.file.data() + offs[i] + ld::frame_header_size;
    payloads.insert(payloads.end(), p, p + len);
  }
  put(dir, "payloads", 0x02, payloads);
  check(w.snapshot.size() > ld::snapshot_header_size, "a snapshot");
  put(dir, "snapshot", 0x03,
      std::vector<std::byte>(w.snapshot.begin() + ld::snapshot_header_size, w.snapshot.end()));
  std::printf("wrote the seeds of journal_replay.fuzz.cpp to %s\n", dir.c_str());
  return 0;
}
