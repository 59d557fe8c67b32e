// journal_storage on real files: reopening, the header checks (other format
// versions refused), the exclusive lock, the durable mark each record carries,
// torn tails (cut, reported, their bytes copied beside the journal) versus
// damage (refused with the offset: beyond the tear window, or inside it when a
// later record says the bad one was durable), snapshots (used when they match,
// ignored when they do not), keys surviving restarts, the durability modes and
// the preallocated segments.
#include <catch2/catch.hpp>

#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <fstream>
#include <string>
#include <vector>

#include <tollgate/ledger/ledger.hpp>

#include "journal_fixture.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using namespace tollgate::literals;
using tollgate::errc;
using tollgate::manual_clock;
namespace fs = std::filesystem;
namespace ld = tollgate::ledger_detail;

using test_support::jledger;
using test_support::journal_fixture;

using test_support::read_file;
using test_support::record_offsets;
using test_support::torn_copies;
void write_at(const std::string& p, std::uint64_t off, const std::vector<std::byte>& bytes) {
  std::fstream f(p, std::ios::binary | std::ios::in | std::ios::out);
  f.seekp(static_cast<std::streamoff>(off));
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}
std::vector<std::byte> bytes(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int b : v) out.push_back(static_cast<std::byte>(b));
  return out;
}
// Sets the format version in a journal's header (and its checksum).
void set_version(const std::string& p, std::uint32_t version) {
  auto h = read_file(p);
  ld::store_le<std::uint32_t>(h.data() + 8, version);
  ld::store_le<std::uint32_t>(h.data() + ld::header_fixed_size, ld::crc32c(h.data(), ld::header_fixed_size));
  write_at(p, 0, std::vector<std::byte>(h.begin(), h.begin() + 4096));
}

}  // namespace

TEST_CASE("journal: what was written is there after reopening", "[journal]") {
  journal_fixture f;
  {
    auto l = f.open();
    f.history(*l, 10);
    CHECK(l->balance("acme")->available == 950_cr);
  }
  auto l = f.open();
  CHECK(l->recovery().records == 40);
  CHECK_FALSE(l->recovery().torn_tail);
  CHECK(l->balance("acme")->available == 950_cr);
  CHECK(l->statement("acme").value().size() == 50);
  CHECK(l->charge("acme", 1_cr, "x3")->replayed);  // keys survive the restart
  CHECK(l->charge("acme", 2_cr, "x3").code() == errc::idempotency_conflict);
  CHECK(l->check_invariants());
  // The next hold id continues where it left off.
  CHECK(l->hold("acme", 1_cr, "h-new")->hold == tollgate::hold_id{11});
}

TEST_CASE("journal: the header is checked", "[journal]") {
  journal_fixture f;
  SECTION("not a journal") {
    std::ofstream(f.cfg.path) << std::string(5000, 'x');
    auto r = f.try_open();
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::corrupt_journal);
    CHECK(r.error().message().find("not a tollgate journal") != std::string::npos);
  }
  SECTION("too short") {
    std::ofstream(f.cfg.path) << "hello";
    auto r = f.try_open();
    CHECK(r.code() == errc::corrupt_journal);
    CHECK(r.error().message().find("shorter than the 4096-byte journal header") != std::string::npos);
  }
  SECTION("a newer format") {
    f.open();
    set_version(f.cfg.path, ld::journal_format + 1);
    auto r = f.try_open();
    CHECK(r.code() == errc::corrupt_journal);
    CHECK(r.error().message().find(fmt::format("version {} is not supported", ld::journal_format + 1)) !=
          std::string::npos);
    CHECK(r.error().message().find(fmt::format("reads and writes version {} only", ld::journal_format)) !=
          std::string::npos);
  }
  SECTION("an older format (version 2: records not chained, no watermark in the header)") {
    {
      auto l = f.open();
      REQUIRE(l->purchase("acme", 1_usd, "p"));
    }
    set_version(f.cfg.path, 2);
    const auto before = read_file(f.cfg.path);
    for (bool ro : {false, true}) {
      f.cfg.read_only = ro;
      auto r = f.try_open();
      REQUIRE_FALSE(r);
      CHECK(r.error() == errc::corrupt_journal);
      const std::string m = r.error().message();
      CHECK(m.find("journal format version 2 is not supported") != std::string::npos);
      CHECK(m.find("reads and writes version 3 only") != std::string::npos);
      CHECK(m.find("older build") != std::string::npos);
    }
    CHECK(read_file(f.cfg.path) == before);  // refused, not rewritten
  }
  SECTION("damage in the header") {
    f.open();
    write_at(f.cfg.path, 30, bytes({0x55}));
    auto r = f.try_open();
    CHECK(r.code() == errc::corrupt_journal);
    CHECK(r.error().message().find("damage at offset 0") != std::string::npos);
  }
  SECTION("a missing journal is created, unless asked not to or read-only") {
    f.cfg.create = false;
    CHECK(f.try_open().code() == errc::io_error);
    f.cfg.create = true;
    f.cfg.read_only = true;
    CHECK(f.try_open().code() == errc::io_error);
    CHECK_FALSE(fs::exists(f.cfg.path));
  }
}

TEST_CASE("journal: one writer at a time, readers any time", "[journal]") {
  journal_fixture f;
  auto writer = f.open();
  REQUIRE(writer->purchase("acme", 1_usd, "p"));
  auto second = f.try_open();
  REQUIRE_FALSE(second);
  CHECK(second.error() == errc::locked);
  CHECK(second.error().message().find("open for writing") != std::string::npos);
  f.cfg.read_only = true;
  auto reader = f.open();
  CHECK(reader->balance("acme")->available == 100_cr);
  CHECK(reader->read_only());
  auto w = reader->charge("acme", 1_cr, "c");
  CHECK(w.code() == errc::read_only);
  writer.reset();
  f.cfg.read_only = false;
  CHECK(f.try_open());
}

TEST_CASE("journal: a torn last write is cut off and reported", "[journal]") {
  journal_fixture f;
  std::uint64_t end;
  {
    auto l = f.open();
    f.history(*l, 3);
    end = l->recovery().end_offset;  // 4096 on a new journal
  }
  const auto offs = record_offsets(f.cfg.path);
  REQUIRE(offs.size() == 12);
  const auto full = read_file(f.cfg.path);
  end = offs.back() + ld::frame_header_size + ld::load_le<std::uint32_t>(full.data() + offs.back() + 4);
  SECTION("half a record") {
    // Copy the last record's first bytes past the end: a write cut short.
    std::vector<std::byte> half(full.begin() + static_cast<long>(offs[5]),
                                full.begin() + static_cast<long>(offs[5]) + 30);
    ld::store_le<std::uint64_t>(half.data() + 8, 13);
    write_at(f.cfg.path, end, half);
    SUCCEED("half of a record written past the end");
  }
  SECTION("a hole, then data (pages written out of order)") {
    std::vector<std::byte> junk(200, std::byte{0x7f});
    write_at(f.cfg.path, end + 4000, junk);
    SUCCEED("junk written after a hole past the end");
  }
  {
    f.cfg.read_only = true;
    auto r = f.open();
    CHECK(r->recovery().torn_tail);
    CHECK_FALSE(r->recovery().torn_tail_cut);
    CHECK(r->recovery().torn_offset == end);
    CHECK(r->balance("acme")->available == 285_cr);
    f.cfg.read_only = false;
  }
  {
    auto l = f.open();
    CHECK(l->recovery().torn_tail);
    CHECK(l->recovery().torn_tail_cut);
    CHECK(l->recovery().torn_offset == end);
    CHECK(l->recovery().notes.find("torn tail") != std::string::npos);
    CHECK(l->balance("acme")->available == 285_cr);
    REQUIRE(l->charge("acme", 5_cr, "after"));
  }
  auto l = f.open();
  CHECK_FALSE(l->recovery().torn_tail);
  CHECK(l->balance("acme")->available == 280_cr);
}

TEST_CASE("journal: damage before the last write refuses the open with the offset", "[journal]") {
  journal_fixture f;
  {
    auto l = f.open();
    f.history(*l, 400);  // ~ 40000 records: far more than one tear window
  }
  const auto offs = record_offsets(f.cfg.path);
  REQUIRE(offs.size() == 1600);
  SECTION("a flipped bit") {
    auto b = read_file(f.cfg.path);
    write_at(f.cfg.path, offs[1] + 20, {b[offs[1] + 20] ^ std::byte{0x04}});
    auto r = f.try_open();
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::corrupt_journal);
    const std::string m = r.error().message();
    CHECK(m.find(fmt::format("damaged at offset {}", offs[1])) != std::string::npos);
    CHECK(m.find("checksum mismatch") != std::string::npos);
    CHECK(m.find("keep the 1 records before") != std::string::npos);
  }
  SECTION("a zeroed page in the middle") {
    write_at(f.cfg.path, offs[100], std::vector<std::byte>(4096));
    auto r = f.try_open();
    REQUIRE_FALSE(r);
    CHECK(r.error().message().find(fmt::format("damaged at offset {}", offs[100])) != std::string::npos);
  }
  SECTION("a record out of sequence") {
    auto b = read_file(f.cfg.path);
    // Copy record 1 (the first purchase) over record 5 (the second purchase,
    // same size): a valid checksum, the wrong sequence number.
    REQUIRE(offs[1] - offs[0] == offs[5] - offs[4]);
    write_at(f.cfg.path, offs[4], std::vector<std::byte>(b.begin() + static_cast<long>(offs[0]),
                                                         b.begin() + static_cast<long>(offs[1])));
    auto r = f.try_open();
    REQUIRE_FALSE(r);
    CHECK(r.error().message().find("sequence number 1 where 5 was expected") != std::string::npos);
  }
  SECTION("data far beyond the end") {
    auto l = f.try_open();
    REQUIRE(l);
    const auto end = (*l)->recovery().end_offset;
    l->reset();
    write_at(f.cfg.path, end + 200 * 1024, bytes({1, 2, 3}));
    auto r = f.try_open();
    REQUIRE_FALSE(r);
    CHECK(r.error().message().find("non-zero bytes follow") != std::string::npos);
  }
}

TEST_CASE("journal: a record that does not replay refuses the open", "[journal]") {
  journal_fixture f;
  std::uint64_t end;
  {
    auto l = f.open();
    REQUIRE(l->purchase("acme", 1_usd, "p"));
    end = record_offsets(f.cfg.path).back();
  }
  // A well-formed record charging more than the account has.
  std::vector<std::byte> buf;
  const auto pos = tollgate::journal_storage<>::begin_frame(buf);
  ld::writer w(buf);
  w.u8v(1);
  w.i64v(2000LL * 1'000'000'000);
  w.u32v(1);
  ld::state::encode_op(w, ld::op_in{tollgate::operation_kind::charge, "k2", "acme", {}, 500'000'000},
                       ld::receipt_rec{});
  const auto first = read_file(f.cfg.path);
  tollgate::journal_storage<>::end_frame(buf, pos, 2, 1, test_support::chain_at_end(first));
  write_at(f.cfg.path, end + ld::frame_header_size + ld::load_le<std::uint32_t>(first.data() + end + 4), buf);
  auto r = f.try_open();
  REQUIRE_FALSE(r);
  CHECK(r.error() == errc::corrupt_journal);
  CHECK(r.error().message().find("record 2 at offset") != std::string::npos);
  CHECK(r.error().message().find("has 100 credits available") != std::string::npos);
}

TEST_CASE("journal: snapshots are used when they match and ignored when they do not", "[journal][snapshot]") {
  journal_fixture f;
  {
    auto l = f.open();
    f.history(*l, 20);
    REQUIRE(l->snapshot());
    f.history(*l, 1, 20);  // 4 records after the snapshot
  }
  const std::string snap = f.cfg.path + ".snapshot";
  REQUIRE(fs::exists(snap));
  CHECK_FALSE(fs::exists(snap + ".tmp"));
  SECTION("it matches") {
    auto l = f.open();
    CHECK(l->recovery().snapshot_used);
    CHECK(l->recovery().snapshot_records == 80);
    CHECK(l->recovery().records == 4);
    CHECK(l->balance("acme")->available == 2 * 1000_cr + 100_cr - 105_cr);
    CHECK(l->charge("acme", 1_cr, "x0")->replayed);  // keys come from the snapshot
    CHECK(l->statement("acme").value().size() == 105);
  }
  SECTION("a damaged snapshot is ignored: the journal is replayed") {
    auto s = read_file(snap);
    write_at(snap, s.size() - 10, {s[s.size() - 10] ^ std::byte{1}});
    auto l = f.open();
    CHECK_FALSE(l->recovery().snapshot_used);
    CHECK(l->recovery().notes.find("snapshot ignored") != std::string::npos);
    CHECK(l->recovery().records == 84);
    CHECK(l->balance("acme")->available == 1995_cr);
  }
  SECTION("another journal's snapshot is ignored") {
    journal_fixture other;
    {
      auto l = other.open();
      REQUIRE(l->purchase("zed", 1_usd, "p"));
      REQUIRE(l->snapshot());
    }
    fs::copy_file(other.cfg.path + ".snapshot", snap, fs::copy_options::overwrite_existing);
    auto l = f.open();
    CHECK_FALSE(l->recovery().snapshot_used);
    CHECK(l->recovery().notes.find("different journal") != std::string::npos);
    CHECK(l->balance("zed")->available == 0_cr);
    CHECK(l->balance("acme")->available == 1995_cr);
  }
  SECTION("a snapshot can be skipped") {
    f.cfg.use_snapshot = false;
    auto l = f.open();
    CHECK_FALSE(l->recovery().snapshot_used);
    CHECK(l->recovery().records == 84);
  }
}

TEST_CASE("journal: every durability mode replays the same", "[journal]") {
  for (auto mode : {tollgate::durability::every_op, tollgate::durability::group_commit,
                    tollgate::durability::none}) {
    journal_fixture f;
    f.cfg.mode = mode;
    {
      auto l = f.open();
      f.history(*l, 5);
    }
    f.cfg.mode = tollgate::durability::every_op;
    auto l = f.open();
    CHECK(l->recovery().records == 20);
    CHECK(l->balance("acme")->available == 475_cr);
  }
}

TEST_CASE("journal: grows in zero-filled segments; a batch must fit one record", "[journal]") {
  journal_fixture f;
  auto l = f.open();
  CHECK(fs::file_size(f.cfg.path) == 4096 + 64 * 1024);
  f.history(*l, 400);
  const auto size = fs::file_size(f.cfg.path);
  CHECK((size - 4096) % (64 * 1024) == 0);
  CHECK(size > 4096 + 64 * 1024);
  std::vector<std::string> keys;
  for (int i = 0; i < 1000; ++i) keys.push_back(std::string(100, 'k') + std::to_string(i));
  std::vector<jledger::operation> ops;
  for (const auto& k : keys) ops.push_back(jledger::operation::charge("acme", 1_cr, k));
  const auto before = l->balance("acme")->available;
  auto r = l->apply(ops);
  CHECK(r[0].code() == errc::invalid_argument);
  CHECK(r[0].error().message().find("split the batch") != std::string::npos);
  CHECK(l->balance("acme")->available == before);
}

TEST_CASE("journal: a failed chain that retries its own key returns", "[journal][batch]") {
  // The second charge is a retry of the first (same key, same request) and
  // gets its receipt; then the chain fails, so the record the retry would
  // wait for is never written. apply() used to wait for it forever.
  for (auto mode : {tollgate::durability::every_op, tollgate::durability::group_commit,
                    tollgate::durability::none}) {
    INFO("durability " << tollgate::to_string(mode));
    journal_fixture f;
    f.cfg.mode = mode;
    auto l = f.open();
    REQUIRE(l->purchase("acme", 1_usd, "p"));
    using op = jledger::operation;
    std::vector<op> ops{op::charge("acme", 1_cr, "k").link(), op::charge("acme", 1_cr, "k").link(),
                        op::charge("acme", 1000_cr, "too-much")};
    std::vector<tollgate::result<jledger::receipt>> r;
    {
      test_support::watchdog w("apply() of a failed chain with a retry inside", 20);
      r = l->apply(ops);
    }
    REQUIRE(r.size() == 3);
    for (const auto& x : r) CHECK(x.code() == errc::insufficient_credits);
    CHECK_FALSE(l->lookup("k"));
    CHECK(l->balance("acme")->available == 100_cr);
    // Beside a chain that stands, the retry of a key from the same batch
    // waits for this batch's own record.
    std::vector<op> mixed{op::charge("acme", 1_cr, "k"), op::charge("acme", 1_cr, "k").link(),
                          op::charge("acme", 1000_cr, "too-much")};
    {
      test_support::watchdog w("apply() of a retry beside a failed chain", 20);
      r = l->apply(mixed);
    }
    REQUIRE(r[0]);
    CHECK_FALSE(r[0]->replayed);
    CHECK(r[1].code() == errc::insufficient_credits);
    CHECK(l->balance("acme")->available == 99_cr);
    REQUIRE(l->charge("acme", 1_cr, "k")->replayed);
    REQUIRE(l->check_invariants());
    l.reset();
    auto again = f.open();
    CHECK(again->balance("acme")->available == 99_cr);
    CHECK(again->charge("acme", 1_cr, "k")->replayed);
  }
}

namespace {

// Two ledgers of one process creating the same journal at once, in the
// interleaving that used to lose data: A has written its new file and is
// about to link it into place when B starts creating its own; A then opens
// the journal and acknowledges a purchase while B is still zero-filling.
struct create_race {
  std::mutex m;
  std::condition_variable cv;
  bool a_synced = false, a_ready = false, b_paused = false, b_writing = false, a_wrote = false,
       b_done = false;
  void set(bool& flag) {
    {
      std::lock_guard lk(m);
      flag = true;
    }
    cv.notify_all();
  }
  void wait(bool& flag) {
    std::unique_lock lk(m);
    cv.wait_for(lk, std::chrono::seconds(10), [&] { return flag; });
  }
};

struct racing_fs : tollgate::posix_file_system {
  std::shared_ptr<create_race> race;
  int role = 0;  // 1: A, 2: B
  tollgate::result<void> fsync(int h) {
    // A's first fsync is of its finished temporary file, just before link().
    if (role == 1 && !race->a_synced) {
      race->a_synced = true;
      race->set(race->a_ready);
      race->wait(race->b_writing);
    }
    return posix_file_system::fsync(h);
  }
  tollgate::result<std::size_t> pwrite(int h, const void* b, std::size_t n, std::uint64_t off) {
    // B's first write past the header starts zero-filling its new file.
    if (role == 2 && off >= ld::journal_header_size && !race->b_paused) {
      race->b_paused = true;
      race->set(race->b_writing);
      race->wait(race->a_wrote);
    }
    return posix_file_system::pwrite(h, b, n, off);
  }
};

}  // namespace

TEST_CASE("journal: a batch records exactly what it applied, and replays the same", "[journal][batch]") {
  // apply() encodes each operation as it applies and drops the encoding of
  // a chain that fails: the record must hold the applied operations only,
  // and a batch that applies nothing must leave no record at all.
  for (auto mode : {tollgate::durability::every_op, tollgate::durability::group_commit,
                    tollgate::durability::none}) {
    INFO("durability " << tollgate::to_string(mode));
    journal_fixture f;
    f.cfg.mode = mode;
    using op = jledger::operation;
    const std::string long_key(128, 'q');
    {
      auto l = f.open();
      REQUIRE(l->purchase("acme", 1_usd, "p"));
      auto h = l->hold("acme", 10_cr, "h");
      REQUIRE(h);
      const auto records = record_offsets(f.cfg.path).size();
      std::vector<op> ops{op::charge("acme", 1_cr, "a"),
                          op::charge("acme", 1_cr, "a"),  // a retry inside the batch
                          op::charge("acme", 2_cr, "b").link(),
                          op::grant("acme", 5_cr, "g").link(),
                          op::charge("acme", 1000_cr, "c"),  // fails, and with it b and g
                          op::charge("acme", 3_cr, long_key),
                          op::charge("acme", 1_cr, ""),  // an invalid key fails alone
                          op::capture(h->hold, 4_cr, "cap"),
                          op::purchase("acme", 1_usd, "p"),  // a retry of an earlier call
                          op::charge("beta", 1_cr, "no-such-account")};
      auto r = l->apply(ops);
      REQUIRE(r.size() == ops.size());
      CHECK(r[0]);
      CHECK(r[1]->replayed);
      CHECK(r[2].code() == errc::insufficient_credits);
      CHECK(r[3].code() == errc::insufficient_credits);
      CHECK(r[4].code() == errc::insufficient_credits);
      CHECK(r[5]);
      CHECK(r[6].code() == errc::invalid_argument);
      CHECK(r[7]);
      CHECK(r[8]->replayed);
      CHECK(r[9].code() == errc::insufficient_credits);
      CHECK(record_offsets(f.cfg.path).size() == records + 1);
      // Nothing new: no record.
      r = l->apply(std::vector<op>{op::charge("acme", 1_cr, "a"), op::charge("acme", 1000_cr, "c")});
      CHECK(r[0]->replayed);
      CHECK_FALSE(r[1]);
      CHECK(record_offsets(f.cfg.path).size() == records + 1);
      CHECK(l->balance("acme")->available == 100_cr - 10_cr - 1_cr - 3_cr + 6_cr);
    }
    auto l = f.open();
    CHECK(l->balance("acme")->available == 92_cr);
    CHECK(l->lookup("a"));
    CHECK(l->lookup(long_key));
    CHECK(l->lookup("cap"));
    CHECK_FALSE(l->lookup("b"));
    CHECK_FALSE(l->lookup("g"));
    CHECK_FALSE(l->lookup("c"));
    CHECK(l->charge("acme", 3_cr, long_key)->replayed);
    CHECK(l->check_invariants());
  }
}

TEST_CASE("journal: two ledgers creating the same journal at once lose nothing", "[journal]") {
  using racing_ledger = tollgate::basic_ledger<tollgate::ledger_traits<
      manual_clock, tollgate::journal_storage<racing_fs>, tollgate::single_thread>>;
  test_support::temp_dir dir("create-race");
  const std::string path = dir.file("ledger.journal");
  auto race = std::make_shared<create_race>();
  auto config = [&](int role) {
    tollgate::basic_journal_config<racing_fs> c;
    c.path = path;
    c.segment_bytes = 64 * 1024;
    c.fs.race = race;
    c.fs.role = role;
    return c;
  };
  std::string a_result, b_result;
  std::thread a([&] {
    auto l = racing_ledger::open(config(1));
    if (!l) {
      a_result = "open: " + l.error().message();
      race->set(race->a_wrote);
      return;
    }
    auto p = (*l)->purchase("acme", 1_usd, "p");
    a_result = p ? "ok" : p.error().message();
    race->set(race->a_wrote);
    race->wait(race->b_done);  // keep the journal open (and locked) meanwhile
  });
  std::thread b([&] {
    race->wait(race->a_ready);
    auto l = racing_ledger::open(config(2));
    b_result = l ? "opened" : l.error().message();
    race->set(race->b_done);
  });
  a.join();
  b.join();
  REQUIRE(a_result == "ok");
  CHECK(b_result.find("open for writing") != std::string::npos);  // locked out
  CHECK(race->b_paused);  // the interleaving really happened
  tollgate::journal_config cfg;
  cfg.path = path;
  auto l = jledger::open(cfg);
  if (!l) FAIL(l.error().message());
  CHECK((*l)->lookup("p"));  // the acknowledged purchase survived
  CHECK((*l)->balance("acme")->available == 100_cr);
}

TEST_CASE("journal: a snapshot still loads after the key retention grew", "[journal][snapshot]") {
  journal_fixture f;
  tollgate::ledger_options short_keys;
  short_keys.key_retention = 1h;
  {
    auto l = jledger::open(f.cfg, short_keys, f.clock);
    REQUIRE(l);
    REQUIRE((*l)->purchase("acme", 1_usd, "k"));
    f.clock.advance(2h);
    auto r = (*l)->charge("acme", 1_cr, "k");  // "k" was forgotten: a new operation
    REQUIRE(r);
    CHECK_FALSE(r->replayed);
  }
  {
    // With the default seven days, replay meets "k" twice; the newer use wins.
    auto l = f.open();
    REQUIRE(l->lookup("k"));
    CHECK(l->lookup("k")->kind == tollgate::operation_kind::charge);
    REQUIRE(l->snapshot());
  }
  auto l = f.open();
  CHECK(l->recovery().snapshot_used);
  CHECK(l->recovery().notes.empty());
  CHECK(l->lookup("k")->kind == tollgate::operation_kind::charge);
  CHECK(l->charge("acme", 1_cr, "k")->replayed);
  CHECK(l->balance("acme")->available == 99_cr);
  CHECK(l->check_invariants());
}

namespace {

// The sequence number and durable mark of the record at `off`.
std::pair<std::uint64_t, std::uint64_t> frame_marks(const std::vector<std::byte>& f, std::uint64_t off) {
  return {ld::load_le<std::uint64_t>(f.data() + off + 8), ld::load_le<std::uint64_t>(f.data() + off + 16)};
}

// Where the records of the journal at `p` end.
std::uint64_t records_end(const std::string& p) {
  const auto f = read_file(p);
  const auto offs = record_offsets(p);
  if (offs.empty()) return ld::journal_header_size;
  return offs.back() + ld::frame_header_size + ld::load_le<std::uint32_t>(f.data() + offs.back() + 4);
}

// One past the last non-zero byte of `f` (0 when all are zero).
std::uint64_t end_of_data(const std::vector<std::byte>& f) {
  std::uint64_t end = f.size();
  while (end > 0 && f[end - 1] == std::byte{0}) --end;
  return end;
}

// A framed charge record, as the ledger writes it, after the record whose
// chain value is `chain` (which becomes this record's).
std::vector<std::byte> charge_record(std::uint64_t seq, std::uint64_t durable, const std::string& key,
                                     long long seconds, std::uint64_t& chain) {
  std::vector<std::byte> buf;
  const auto pos = tollgate::journal_storage<>::begin_frame(buf);
  ld::writer w(buf);
  w.u8v(1);
  w.i64v(seconds * 1'000'000'000);
  w.u32v(1);
  ld::state::encode_op(w, ld::op_in{tollgate::operation_kind::charge, key, "acme", {}, 1'000'000},
                       ld::receipt_rec{});
  chain = tollgate::journal_storage<>::end_frame(buf, pos, seq, durable, chain);
  return buf;
}

// The real file system, except that copies of torn tails cannot be made.
struct no_torn_copies_fs : tollgate::posix_file_system {
  tollgate::result<int> open(const std::string& path, tollgate::open_mode mode) {
    if (mode != tollgate::open_mode::read_only && path.find(".torn-") != std::string::npos)
      return tollgate::result<int>(errc::storage_failure,
                                   fmt::format("cannot open '{}': No space left on device", path));
    return posix_file_system::open(path, mode);
  }
};

}  // namespace

TEST_CASE("journal: every record says how far the journal was durable", "[journal]") {
  SECTION("every_op and group commit with one caller: through the record before") {
    for (auto mode : {tollgate::durability::every_op, tollgate::durability::group_commit}) {
      INFO("durability " << tollgate::to_string(mode));
      journal_fixture f;
      f.cfg.mode = mode;
      {
        auto l = f.open();
        f.history(*l, 2);
      }
      {
        auto l = f.open();  // reopening syncs: the next record vouches for all before it
        f.history(*l, 1, 2);
      }
      const auto file = read_file(f.cfg.path);
      const auto offs = record_offsets(f.cfg.path);
      REQUIRE(offs.size() == 12);
      for (std::size_t i = 0; i < offs.size(); ++i) {
        const auto [seq, durable] = frame_marks(file, offs[i]);
        CHECK(seq == i + 1);
        CHECK(durable == i);
      }
    }
  }
  SECTION("none: what was last synced (nothing, then all replayed after a reopen)") {
    journal_fixture f;
    f.cfg.mode = tollgate::durability::none;
    {
      auto l = f.open();
      f.history(*l, 2);
    }
    {
      auto l = f.open();
      f.history(*l, 1, 2);
    }
    const auto file = read_file(f.cfg.path);
    const auto offs = record_offsets(f.cfg.path);
    REQUIRE(offs.size() == 12);
    for (std::size_t i = 0; i < offs.size(); ++i) CHECK(frame_marks(file, offs[i]).second == (i < 8 ? 0u : 8u));
  }
}

TEST_CASE("journal: damage in the last tear window that a later record vouches for refuses the open",
          "[journal]") {
  // every_op: each record was synced before the next was written, and says
  // so; a bad record with an intact one after it was acknowledged. It used
  // to be taken for a torn write and cut, with every record after it.
  journal_fixture f;
  {
    auto l = f.open();
    f.history(*l, 3);  // 12 records, all inside one 64 KiB tear window
  }
  const auto offs = record_offsets(f.cfg.path);
  REQUIRE(offs.size() == 12);
  const auto original = read_file(f.cfg.path);
  const std::uint64_t at = offs[5];  // record 6
  std::string reason;
  SECTION("a flipped bit in the payload") {
    write_at(f.cfg.path, at + ld::frame_header_size + 3,
             {original[at + ld::frame_header_size + 3] ^ std::byte{0x08}});
    reason = "checksum mismatch";
    SUCCEED("one bit of record 6's payload flipped");
  }
  SECTION("a flipped bit in the length (the scan cannot trust it to find the next record)") {
    write_at(f.cfg.path, at + 6, {original[at + 6] ^ std::byte{0x40}});
    reason = "out of range";
    SUCCEED("record 6's length made far too large");
  }
  SECTION("a flipped bit in the length that still looks plausible") {
    write_at(f.cfg.path, at + 4, {original[at + 4] ^ std::byte{0x02}});
    reason = "checksum mismatch";
    SUCCEED("record 6's length off by two");
  }
  SECTION("the record reads back as zeros (a lost sector)") {
    write_at(f.cfg.path, at, std::vector<std::byte>(offs[6] - at));
    reason = "non-zero bytes follow";
    SUCCEED("record 6 zeroed");
  }
  const auto damaged = read_file(f.cfg.path);
  for (bool ro : {true, false}) {
    INFO((ro ? "read-only" : "writable") << " open");
    f.cfg.read_only = ro;
    auto r = f.try_open();
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::corrupt_journal);
    const std::string m = r.error().message();
    INFO(m);
    CHECK(m.find(fmt::format("damaged at offset {}", at)) != std::string::npos);
    CHECK(m.find("record 6 is not intact") != std::string::npos);
    CHECK(m.find(reason) != std::string::npos);
    CHECK(m.find(fmt::format("record 7 at offset {} is intact", offs[6])) != std::string::npos);
    CHECK(m.find("every record through 6 was durable") != std::string::npos);
    CHECK(m.find(fmt::format("keep the 5 records before offset {}", at)) != std::string::npos);
    CHECK(m.find(fmt::format("repair --truncate-at {}", at)) != std::string::npos);
    CHECK(read_file(f.cfg.path) == damaged);  // nothing cut, nothing zeroed
    CHECK(torn_copies(f.cfg.path).empty());
  }
}

TEST_CASE("journal: a torn last record is cut, and its bytes are kept beside the journal", "[journal]") {
  journal_fixture f;
  {
    auto l = f.open();
    f.history(*l, 3);
  }
  const auto offs = record_offsets(f.cfg.path);
  REQUIRE(offs.size() == 12);
  const auto original = read_file(f.cfg.path);
  const std::uint64_t last_len = ld::load_le<std::uint32_t>(original.data() + offs[11] + 4);
  const std::uint64_t end = offs[11] + ld::frame_header_size + last_len;
  std::uint64_t cut_at = 0;
  std::uint64_t records = 0;
  SECTION("the last record half written (the rest still zeros)") {
    // Nothing after record 12 can vouch for it: this is also what a bit
    // flip in the last record looks like, which is why the copy is kept.
    const std::uint64_t half = offs[11] + (ld::frame_header_size + last_len) / 2;
    write_at(f.cfg.path, half, std::vector<std::byte>(end - half));
    cut_at = offs[11];
    records = 11;
    SUCCEED("the second half of record 12 zeroed");
  }
  SECTION("garbage after the last good record") {
    std::vector<std::byte> junk(300, std::byte{0x5a});
    write_at(f.cfg.path, end + 100, junk);
    cut_at = end;
    records = 12;
    SUCCEED("junk written after a hole past the end");
  }
  const auto before = read_file(f.cfg.path);
  const std::uint64_t cut_end = end_of_data(before);
  REQUIRE(cut_end > cut_at);
  const std::vector<std::byte> cut(before.begin() + static_cast<long>(cut_at),
                                   before.begin() + static_cast<long>(cut_end));
  const std::string copy = fmt::format("{}.torn-{}", f.cfg.path, cut_at);
  {
    f.cfg.read_only = true;  // reported, left alone, no copy
    auto r = f.open();
    CHECK(r->recovery().torn_tail);
    CHECK(r->recovery().torn_offset == cut_at);
    CHECK(r->recovery().torn_copy.empty());
    CHECK(torn_copies(f.cfg.path).empty());
    CHECK(read_file(f.cfg.path) == before);
    f.cfg.read_only = false;
  }
  {
    auto l = f.open();
    const auto& rep = l->recovery();
    CHECK(rep.records == records);
    CHECK(rep.torn_tail);
    CHECK(rep.torn_tail_cut);
    CHECK(rep.torn_offset == cut_at);
    CHECK(rep.torn_bytes == cut_end - cut_at);
    CHECK(rep.torn_copy == copy);
    CHECK(rep.notes.find(fmt::format("copied to '{}'", copy)) != std::string::npos);
    CHECK(read_file(copy) == cut);  // exactly the bytes cut
    const auto after = read_file(f.cfg.path);
    CHECK(end_of_data(after) <= cut_at);  // zeroed from the torn record on
    // The records before the cut are as they were (the header's watermark
    // now says where the records end).
    CHECK(std::equal(after.begin() + ld::journal_header_size, after.begin() + static_cast<long>(cut_at),
                     before.begin() + ld::journal_header_size));
    CHECK(l->lookup("x2").has_value() == (records == 12));
    REQUIRE(l->charge("acme", 1_cr, "after"));
  }
  auto l = f.open();
  CHECK_FALSE(l->recovery().torn_tail);
  CHECK(l->lookup("after"));
  CHECK(torn_copies(f.cfg.path) == std::vector<std::string>{copy});
  CHECK(read_file(copy) == cut);
}

TEST_CASE("journal: copies of torn tails never replace one another", "[journal]") {
  journal_fixture f;
  {
    auto l = f.open();
    f.history(*l, 1);
  }
  const std::uint64_t end = records_end(f.cfg.path);
  const std::vector<std::byte> junk(50, std::byte{0x33});
  write_at(f.cfg.path, end, junk);
  const std::string copy = fmt::format("{}.torn-{}", f.cfg.path, end);
  SECTION("the name holds other bytes: the copy gets the next name") {
    {
      std::ofstream(copy) << "an earlier torn tail at the same offset";
    }
    auto l = f.open();
    CHECK(l->recovery().torn_copy == copy + ".2");
    CHECK(read_file(copy + ".2") == junk);
    CHECK(read_file(copy).size() == 39);
  }
  SECTION("the name holds these very bytes (an open stopped before cutting): it is reused") {
    {
      std::ofstream out(copy, std::ios::binary);
      out.write(reinterpret_cast<const char*>(junk.data()), static_cast<std::streamsize>(junk.size()));
    }
    auto l = f.open();
    CHECK(l->recovery().torn_copy == copy);
    CHECK(torn_copies(f.cfg.path).size() == 1);
  }
  SECTION("the copy cannot be made: the open fails and nothing is cut") {
    using guarded_ledger = tollgate::basic_ledger<tollgate::ledger_traits<
        manual_clock, tollgate::journal_storage<no_torn_copies_fs>, tollgate::single_thread>>;
    tollgate::basic_journal_config<no_torn_copies_fs> cfg;
    cfg.path = f.cfg.path;
    const auto before = read_file(f.cfg.path);
    auto r = guarded_ledger::open(cfg, {}, f.clock);
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::storage_failure);
    CHECK(r.error().message().find("could not be copied") != std::string::npos);
    CHECK(r.error().message().find("nothing was cut") != std::string::npos);
    CHECK(read_file(f.cfg.path) == before);
    CHECK(torn_copies(f.cfg.path).empty());
    auto l = f.open();  // with the copy possible, the same open succeeds
    CHECK(l->recovery().torn_tail_cut);
    CHECK(read_file(copy) == junk);
  }
}

TEST_CASE("journal: a torn group commit is cut unless a later record vouches for the bad one",
          "[journal]") {
  // Records 2 and 3 are written by hand after record 1. Record 2 is damaged;
  // record 3 is intact and says how far the journal was durable when it was
  // framed: below 2 (a group commit writing 2 and 3 together, torn before
  // its fdatasync returned), or 2 (record 2 had been synced: acknowledged).
  journal_fixture f;
  {
    auto l = f.open();
    REQUIRE(l->purchase("acme", 1_usd, "p"));
  }
  const std::uint64_t end = records_end(f.cfg.path);
  const std::uint64_t chain1 = test_support::chain_at_end(read_file(f.cfg.path));
  const auto add = [&](std::uint64_t durable3, bool damage2) {
    std::uint64_t chain = chain1;
    auto r2 = charge_record(2, 1, "k2", 2000, chain);
    auto r3 = charge_record(3, durable3, "k3", 2000, chain);
    if (damage2) r2[ld::frame_header_size + 5] ^= std::byte{0x01};
    std::vector<std::byte> both = r2;
    both.insert(both.end(), r3.begin(), r3.end());
    write_at(f.cfg.path, end, both);
    return both;
  };
  SECTION("nothing damaged: both replay") {
    add(1, false);
    auto l = f.open();
    CHECK(l->recovery().records == 3);
    CHECK(l->balance("acme")->available == 98_cr);
  }
  SECTION("record 3 does not vouch for record 2: a torn write, both cut") {
    auto both = add(1, true);
    both.resize(end_of_data(both));  // the copy ends with the last non-zero byte
    auto l = f.open();
    CHECK(l->recovery().records == 1);
    CHECK(l->recovery().torn_tail_cut);
    CHECK(l->recovery().torn_offset == end);
    CHECK(l->recovery().torn_bytes == both.size());
    CHECK(read_file(l->recovery().torn_copy) == both);
    CHECK_FALSE(l->lookup("k2"));
    CHECK_FALSE(l->lookup("k3"));
    CHECK(l->balance("acme")->available == 100_cr);
  }
  SECTION("record 3 vouches for record 2: damage, refused") {
    add(2, true);
    const auto before = read_file(f.cfg.path);
    auto r = f.try_open();
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::corrupt_journal);
    const std::string m = r.error().message();
    CHECK(m.find(fmt::format("damaged at offset {}: record 2 is not intact", end)) != std::string::npos);
    CHECK(m.find("record 3 at offset") != std::string::npos);
    CHECK(read_file(f.cfg.path) == before);
  }
  SECTION("a record that says it was durable before it was written is not intact") {
    // end_frame refuses to build one; patch record 3's mark and checksum.
    auto both = add(1, false);
    std::uint64_t chain = 0;
    const std::size_t r3 = both.size() - charge_record(3, 1, "k3", 2000, chain).size();
    ld::store_le<std::uint64_t>(both.data() + r3 + 16, 3);
    ld::store_le<std::uint32_t>(both.data() + r3,
                                ld::crc32c(both.data() + r3 + 4, both.size() - r3 - 4));
    write_at(f.cfg.path, end, both);
    f.cfg.read_only = true;
    auto l = f.open();
    CHECK(l->recovery().records == 2);
    CHECK(l->recovery().notes.find("says record 3 was durable before it was written") != std::string::npos);
  }
}

namespace {

// Replaces the file at `p` with `bytes` (a restore from a backup, a copy
// made with head -c).
void write_file(const std::string& p, const std::vector<std::byte>& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

TEST_CASE("journal: a snapshot of another history is never used (no double charge)",
          "[journal][snapshot]") {
  // The snapshot used to be checked against "an intact record at the offset
  // it names": a journal restored from a backup, or whose damaged last
  // record was cut, took a new record of the same length at that offset and
  // the snapshot of the other history was loaded: the charge in it counted,
  // the new one did not, and its retry was charged again.
  journal_fixture f;
  {
    auto l = f.open();
    REQUIRE(l->purchase("acme", 10_usd, "p1"));
  }
  const auto backup = read_file(f.cfg.path);
  {
    auto l = f.open();
    REQUIRE(l->charge("acme", 1_cr, "A1"));
    REQUIRE(l->snapshot());
  }
  SECTION("the journal restored from a backup taken before the snapshot") {
    write_file(f.cfg.path, backup);
    SUCCEED("cp j.bak j");
  }
  SECTION("the damaged last record cut as a torn tail") {
    const auto offs = record_offsets(f.cfg.path);
    REQUIRE(offs.size() == 2);
    auto b = read_file(f.cfg.path);
    write_at(f.cfg.path, offs[1] + ld::frame_header_size + 2,
             {b[offs[1] + ld::frame_header_size + 2] ^ std::byte{0x20}});
    auto l = f.open();
    CHECK(l->recovery().torn_tail_cut);
    SUCCEED("record 2 (A1) damaged, cut as a torn tail");
  }
  {
    auto l = f.open();
    CHECK_FALSE(l->recovery().snapshot_used);
    REQUIRE(l->charge("acme", 9_cr, "B1"));  // the same length as A1's record, at its offset
  }
  for (bool ro : {true, false}) {
    f.cfg.read_only = ro;
    auto l = f.open();
    INFO(l->recovery().notes);
    CHECK_FALSE(l->recovery().snapshot_used);
    CHECK(l->recovery().notes.find("snapshot ignored") != std::string::npos);
    CHECK(l->balance("acme")->available == 991_cr);
    CHECK_FALSE(l->lookup("A1"));
    CHECK(l->lookup("B1"));
  }
  f.cfg.read_only = false;
  auto l = f.open();
  auto retry = l->charge("acme", 9_cr, "B1");
  REQUIRE(retry);
  CHECK(retry->replayed);
  CHECK(l->balance("acme")->available == 991_cr);
}

TEST_CASE("journal: a journal cut short inside an earlier record is refused, not shortened",
          "[journal]") {
  // head -c 4700 j > w on a ten-record journal used to open with the records
  // after the cut missing, though later records had vouched for them, and
  // the next write cut the rest and freed their keys for reuse.
  journal_fixture f;
  {
    auto l = f.open();
    REQUIRE(l->purchase("acme", 10_usd, "p"));
    for (int i = 1; i < 10; ++i) REQUIRE(l->charge("acme", 1_cr, "c" + std::to_string(i)));
  }
  const auto full = read_file(f.cfg.path);
  const auto offs = record_offsets(f.cfg.path);
  REQUIRE(offs.size() == 10);
  const std::string w = f.dir.file("w.journal");
  // Inside record 7 (of 10): records 1 to 6 survive whole.
  const std::uint64_t cut = offs[6] + 20;
  std::string kind;
  SECTION("the file cut short (head -c)") {
    write_file(w, std::vector<std::byte>(full.begin(), full.begin() + static_cast<long>(cut)));
    kind = "head -c";
    SUCCEED("the journal copied up to the cut");
  }
  SECTION("the file as long as before, zeros from the cut on") {
    auto z = full;
    std::fill(z.begin() + static_cast<long>(cut), z.end(), std::byte{0});
    write_file(w, z);
    kind = "zeroed";
    SUCCEED("the journal copied, zeros from the cut on");
  }
  const auto before = read_file(w);
  f.cfg.path = w;
  for (bool ro : {true, false}) {
    INFO(kind << (ro ? ", read-only" : ", writable"));
    f.cfg.read_only = ro;
    auto r = f.try_open();
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::corrupt_journal);
    const std::string m = r.error().message();
    INFO(m);
    CHECK(m.find(fmt::format("offset {}", offs[6])) != std::string::npos);
    CHECK(m.find("record 7") != std::string::npos);
    CHECK(m.find("acknowledged") != std::string::npos);
    CHECK(m.find(fmt::format("repair --truncate-at {}", offs[6])) != std::string::npos);
    CHECK(read_file(w) == before);
    CHECK(torn_copies(w).empty());
  }
}

namespace {

ld::watermark watermark_of(const std::string& p) {
  const auto f = read_file(p);
  ld::watermark wm;
  REQUIRE(wm.decode(f.data() + ld::watermark_offset));
  return wm;
}

}  // namespace

TEST_CASE("journal: the header keeps a copy of the durable watermark, rewritten with every sync",
          "[journal]") {
  journal_fixture f;
  auto l = f.open();
  for (int i = 1; i <= 5; ++i) {
    REQUIRE(l->purchase("acme", 1_usd, "p" + std::to_string(i)));
    const auto offs = record_offsets(f.cfg.path);
    const auto file = read_file(f.cfg.path);
    const auto end = [&](std::size_t k) {
      return k == 0 ? ld::journal_header_size
                    : offs[k - 1] + ld::frame_header_size + ld::load_le<std::uint32_t>(file.data() + offs[k - 1] + 4);
    };
    // Written with record i, before its fdatasync: record i - 1 was durable.
    const auto wm = watermark_of(f.cfg.path);
    CHECK(wm.durable == static_cast<std::uint64_t>(i - 1));
    CHECK(wm.durable_end == end(i - 1));
    CHECK(wm.written == static_cast<std::uint64_t>(i));
    CHECK(wm.written_end == end(i));
  }
}

TEST_CASE("journal: repair keeps the records before an offset and copies the rest aside", "[journal]") {
  journal_fixture f;
  {
    auto l = f.open();
    REQUIRE(l->purchase("acme", 10_usd, "p"));
    for (int i = 1; i < 10; ++i) REQUIRE(l->charge("acme", 1_cr, "c" + std::to_string(i)));
  }
  const auto offs = record_offsets(f.cfg.path);
  REQUIRE(offs.size() == 10);
  const auto full = read_file(f.cfg.path);
  SECTION("a journal cut short inside record 7") {
    const std::uint64_t cut = offs[6] + 20;
    write_file(f.cfg.path, std::vector<std::byte>(full.begin(), full.begin() + static_cast<long>(cut)));
    REQUIRE(f.try_open().code() == errc::corrupt_journal);
    // Not a record boundary: refused, naming the boundaries around it.
    auto inside = jledger::repair(f.cfg, offs[5] + 3);
    REQUIRE_FALSE(inside);
    CHECK(inside.error() == errc::invalid_argument);
    CHECK(inside.error().message().find(fmt::format("truncate at offset {} or {}", offs[5], offs[6])) !=
          std::string::npos);
    // Past the last intact record: refused.
    auto past = jledger::repair(f.cfg, cut);
    REQUIRE_FALSE(past);
    CHECK(past.error().message().find(fmt::format("record 7 at offset {} is not intact", offs[6])) !=
          std::string::npos);
    CHECK(read_file(f.cfg.path).size() == cut);  // nothing changed
    auto r = jledger::repair(f.cfg, offs[6]);
    REQUIRE(r);
    CHECK(r->records == 6);
    CHECK(r->cut_offset == offs[6]);
    // What was cut, up to its last non-zero byte, is in the copy.
    const std::uint64_t data_end = end_of_data(std::vector<std::byte>(full.begin(), full.begin() + static_cast<long>(cut)));
    CHECK(r->cut_bytes == data_end - offs[6]);
    CHECK(r->copy == fmt::format("{}.cut-{}", f.cfg.path, offs[6]));
    CHECK(read_file(r->copy) == std::vector<std::byte>(full.begin() + static_cast<long>(offs[6]),
                                                       full.begin() + static_cast<long>(data_end)));
    auto l = f.open();
    CHECK(l->recovery().records == 6);
    CHECK_FALSE(l->recovery().torn_tail);
    CHECK(l->balance("acme")->available == 995_cr);
    REQUIRE(l->charge("acme", 1_cr, "after"));
    CHECK_FALSE(l->lookup("c6"));
  }
  SECTION("damage the watermark cannot be trusted with: repair at the end of the records rewrites it") {
    auto b = read_file(f.cfg.path);
    write_at(f.cfg.path, ld::watermark_offset + 3, {b[ld::watermark_offset + 3] ^ std::byte{0x10}});
    auto refused = f.try_open();
    REQUIRE_FALSE(refused);
    const std::uint64_t end = records_end(f.cfg.path);
    CHECK(refused.error().message().find("watermark") != std::string::npos);
    CHECK(refused.error().message().find(fmt::format("repair --truncate-at {}", end)) != std::string::npos);
    auto r = jledger::repair(f.cfg, end);
    REQUIRE(r);
    CHECK(r->records == 10);
    CHECK(r->cut_bytes == 0);
    CHECK(r->copy.empty());
    auto l = f.open();
    CHECK(l->recovery().records == 10);
    CHECK(l->balance("acme")->available == 991_cr);
  }
  SECTION("a journal another ledger has open for writing is not repaired") {
    auto l = f.open();
    CHECK(jledger::repair(f.cfg, offs[9]).code() == errc::locked);
  }
}

TEST_CASE("journal: a grant's relative expiry survives replay and snapshots as asked", "[journal][snapshot]") {
  journal_fixture f;
  const auto t0 = f.clock.now();
  {
    auto l = f.open();
    REQUIRE(l->grant("acme", 5_cr, "g", 100s));
  }
  for (bool snapshot : {false, true}) {
    INFO((snapshot ? "from a snapshot" : "replayed"));
    f.clock.advance(10s);
    auto l = f.open();
    CHECK(l->recovery().snapshot_used == snapshot);
    auto again = l->grant("acme", 5_cr, "g", 100s);
    REQUIRE(again);
    CHECK(again->replayed);
    CHECK(again->at == t0);
    CHECK(l->grant("acme", 5_cr, "g", 101s).code() == errc::idempotency_conflict);
    CHECK(l->balance("acme")->available == 5_cr);
    REQUIRE(l->snapshot());
  }
  f.clock.advance(80s);  // 100 s after the grant
  auto l = f.open();
  CHECK(l->balance("acme")->available == 0_cr);
}
