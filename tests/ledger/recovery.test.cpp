// Recovery, systematically: a journal of twelve records (one operation each,
// every_op) is cut at every offset of its last three records, once shortened
// (head -c) and once zeroed from there on, and has every single bit of its
// last three records and of its header flipped; each copy is opened
// read-only (with no snapshot, as verify does) and writable. A cut inside the
// last record, or at its start, is a torn tail; anything that loses an
// acknowledged record, and any flip outside the last record, is refused
// (and a writable open leaves the file as it was); nothing is ever accepted
// with a history other than a prefix of the one written. Then every
// combination of {snapshot, no snapshot} x {journal restored from an older
// copy, journal whose last record was replaced}: the snapshot of the other
// history is never used, and a retry is never applied twice. Files live in
// memory (memory_file_system) and are small, so this runs in CI under the
// sanitizers too.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include <tollgate/ledger/ledger.hpp>

#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using namespace tollgate::literals;
using tollgate::credits;
using tollgate::errc;
using tollgate::manual_clock;
namespace ld = tollgate::ledger_detail;

using mledger = tollgate::basic_ledger<tollgate::ledger_traits<
    manual_clock, tollgate::journal_storage<tollgate::memory_file_system>, tollgate::single_thread>>;
using bytes = std::vector<std::byte>;

// What a ledger shows: enough to tell one history from another.
struct book {
  std::uint64_t operations = 0;
  credits acme, globex;
  std::vector<std::string> keys;  // of the operations applied
  bool operator==(const book&) const = default;
};

book book_of(const mledger& l, const std::vector<std::string>& all_keys) {
  book b;
  b.operations = l.totals().operations;
  b.acme = l.balance("acme")->available;
  b.globex = l.balance("globex")->available;
  for (const auto& k : all_keys)
    if (l.lookup(k)) b.keys.push_back(k);
  return b;
}

struct history {
  bytes file;
  std::vector<std::uint64_t> offs;  // where each record starts
  std::uint64_t end = 0;            // where the last one ends
  std::vector<book> after;          // after[k]: the book with records 1..k
  std::vector<std::string> keys;
};

tollgate::basic_journal_config<tollgate::memory_file_system> config(const tollgate::memory_file_system& fs) {
  tollgate::basic_journal_config<tollgate::memory_file_system> cfg;
  cfg.path = "j";
  cfg.segment_bytes = 4096;
  cfg.fs = fs;
  return cfg;
}

// Record k (from 1): a purchase or a charge on one of two accounts.
tollgate::result<mledger::receipt> operation(mledger& l, int k, const std::string& key) {
  if (k <= 2) return l.purchase(k == 1 ? "acme" : "globex", 10_usd, key);
  return l.charge(k % 2 == 1 ? "acme" : "globex", credits::from_raw(k * 1'000'000), key);
}

history write_history(int records) {
  tollgate::memory_file_system fs;
  manual_clock clock{manual_clock::time_point(1000s)};
  history h;
  for (int k = 1; k <= records; ++k) h.keys.push_back("op" + std::to_string(k));
  auto l = mledger::open(config(fs), {}, clock);
  REQUIRE(l);
  h.after.push_back(book_of(**l, h.keys));
  for (int k = 1; k <= records; ++k) {
    REQUIRE(operation(**l, k, h.keys[k - 1]));
    clock.advance(1s);
    h.after.push_back(book_of(**l, h.keys));
  }
  l->reset();
  h.file = fs.contents("j");
  h.offs = test_support::record_offsets(h.file);
  REQUIRE(h.offs.size() == static_cast<std::size_t>(records));
  h.end = h.offs.back() + ld::frame_header_size + ld::load_le<std::uint32_t>(h.file.data() + h.offs.back() + 4);
  return h;
}

// What opening a copy of a journal gave.
struct outcome {
  bool opened = false;
  tollgate::error error;
  book state;
  tollgate::recovery_report rep;
  bool file_unchanged = false;  // the journal's bytes after the open
  std::size_t files = 0;        // files in the file system afterwards
};

outcome open_copy(const history& h, const bytes& file, bool read_only) {
  tollgate::memory_file_system fs;
  fs.set_contents("j", file);
  auto cfg = config(fs);
  cfg.read_only = read_only;
  cfg.use_snapshot = false;
  manual_clock clock{manual_clock::time_point(100000s)};
  outcome o;
  {
    auto l = mledger::open(cfg, {}, clock);
    o.opened = l.has_value();
    if (l) {
      o.state = book_of(**l, h.keys);
      o.rep = (*l)->recovery();
      REQUIRE((*l)->check_invariants());
    } else {
      o.error = l.error();
    }
  }
  o.file_unchanged = fs.contents("j") == file;
  o.files = 1 + (fs.exists("j.torn-" + std::to_string(o.rep.torn_offset)) ? 1 : 0);
  return o;
}

// The copy is refused by both opens, and left as it was.
void expect_refused(const history& h, const bytes& file) {
  for (bool ro : {true, false}) {
    INFO((ro ? "read-only" : "writable") << " open");
    const outcome o = open_copy(h, file, ro);
    INFO((o.opened ? "opened, records: " + std::to_string(o.rep.records) + "; notes: " + o.rep.notes : o.error.message()));
    REQUIRE_FALSE(o.opened);
    CHECK(o.error == errc::corrupt_journal);
    CHECK(o.file_unchanged);
  }
}

// The copy opens with the first `k` records and nothing else; `torn` says
// whether the open reports a torn tail (a writable open cuts it).
void expect_history(const history& h, const bytes& file, std::size_t k, bool torn) {
  for (bool ro : {true, false}) {
    INFO((ro ? "read-only" : "writable") << " open");
    const outcome o = open_copy(h, file, ro);
    INFO((o.opened ? "notes: " + o.rep.notes : o.error.message()));
    REQUIRE(o.opened);
    CHECK(o.state == h.after[k]);
    CHECK(o.rep.records == k);
    CHECK(o.rep.torn_tail == torn);
    if (ro) CHECK(o.file_unchanged);
    if (!ro && torn) CHECK(o.rep.torn_tail_cut);
  }
}

}  // namespace

TEST_CASE("recovery: every cut in the last three records: a torn tail in the last, refused before",
          "[journal][recovery]") {
  const history h = write_history(12);
  const std::size_t n = h.offs.size();
  std::size_t refused = 0, torn = 0;
  for (std::uint64_t p = h.offs[n - 3]; p <= h.end; ++p) {
    for (bool shorten : {true, false}) {
      INFO("cut at offset " << p << (shorten ? " (file cut short)" : " (zeros from there on)"));
      bytes copy = h.file;
      // Zeroing bytes that were zeros changes nothing: what counts is the
      // first byte the cut takes away.
      std::uint64_t q = p;
      if (shorten) {
        copy.resize(p);
      } else {
        std::fill(copy.begin() + static_cast<long>(p), copy.end(), std::byte{0});
        while (q < h.end && h.file[q] == std::byte{0}) ++q;
      }
      if (q == h.end) {
        expect_history(h, copy, n, false);  // only zeros lost
      } else if (q >= h.offs[n - 1]) {
        expect_history(h, copy, n - 1, true);
        ++torn;
      } else {
        expect_refused(h, copy);
        ++refused;
      }
    }
  }
  CHECK(torn > 0);
  CHECK(refused > 0);
}

TEST_CASE("recovery: every bit flipped in the last three records and the header", "[journal][recovery]") {
  const history h = write_history(12);
  const std::size_t n = h.offs.size();
  std::vector<std::uint64_t> where;
  for (std::uint64_t i = 0; i < ld::journal_header_size; ++i) where.push_back(i);
  for (std::uint64_t i = h.offs[n - 3]; i < h.end; ++i) where.push_back(i);
  for (const std::uint64_t at : where) {
    for (int bit = 0; bit < 8; ++bit) {
      INFO("bit " << bit << " of offset " << at);
      bytes copy = h.file;
      copy[at] ^= static_cast<std::byte>(1 << bit);
      if (at >= h.offs[n - 1]) expect_history(h, copy, n - 1, true);
      else expect_refused(h, copy);
    }
  }
}

TEST_CASE("recovery: {snapshot, none} x {restored from an older copy, last record replaced}",
          "[journal][recovery][snapshot]") {
  for (bool with_snapshot : {false, true}) {
    for (bool restored : {true, false}) {
      INFO((with_snapshot ? "with a snapshot, " : "no snapshot, ")
           << (restored ? "journal restored from an older copy" : "last record replaced"));
      tollgate::memory_file_system fs;
      auto cfg = config(fs);
      manual_clock clock{manual_clock::time_point(1000s)};
      std::vector<std::string> keys;
      for (int k = 1; k <= 10; ++k) keys.push_back("op" + std::to_string(k));
      keys.push_back("new");
      bytes backup;
      {
        auto l = mledger::open(cfg, {}, clock);
        REQUIRE(l);
        for (int k = 1; k <= 10; ++k) {
          REQUIRE(operation(**l, k, keys[k - 1]));
          if (k == 6) backup = fs.contents("j");
        }
        if (with_snapshot) REQUIRE((*l)->snapshot());
      }
      // The journal now holds `kept` records of the history that was written.
      std::size_t kept = 0;
      if (restored) {
        fs.set_contents("j", backup);
        kept = 6;
      } else {
        auto file = fs.contents("j");
        const auto offs = test_support::record_offsets(file);
        file[offs.back() + ld::frame_header_size + 1] ^= std::byte{0x04};  // record 10 damaged
        fs.set_contents("j", file);
        kept = 9;
      }
      // A new operation whose record has the length of record kept + 1, at its offset.
      const int replaced = static_cast<int>(kept) + 1;
      const credits amount = credits::from_raw((replaced + 1) * 1'000'000);
      const char* account = replaced % 2 == 1 ? "acme" : "globex";
      book expected;
      {
        auto l = mledger::open(cfg, {}, clock);
        REQUIRE(l);
        CHECK_FALSE((*l)->recovery().snapshot_used);
        if (with_snapshot) CHECK((*l)->recovery().notes.find("snapshot ignored") != std::string::npos);
        CHECK((*l)->totals().operations == kept);
        REQUIRE((*l)->charge(account, amount, "new"));
        expected = book_of(**l, keys);
      }
      CHECK(expected.operations == kept + 1);
      CHECK(std::find(expected.keys.begin(), expected.keys.end(), keys[kept]) == expected.keys.end());
      for (bool use_snapshot : {true, false}) {
        for (bool ro : {true, false}) {
          INFO((use_snapshot ? "snapshot allowed" : "full replay") << (ro ? ", read-only" : ", writable"));
          cfg.use_snapshot = use_snapshot;
          cfg.read_only = ro;
          auto l = mledger::open(cfg, {}, clock);
          REQUIRE(l);
          CHECK_FALSE((*l)->recovery().snapshot_used);
          CHECK(book_of(**l, keys) == expected);
          if (!ro) {
            auto retry = (*l)->charge(account, amount, "new");
            REQUIRE(retry);
            CHECK(retry->replayed);
            CHECK(book_of(**l, keys) == expected);
          }
        }
      }
      cfg.use_snapshot = true;
      cfg.read_only = false;
    }
  }
}
