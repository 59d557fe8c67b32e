// Fault injection through the journal's file policy: a wrapper around the
// real posix_file_system that makes a chosen pwrite fail (ENOSPC), come up
// short (and then fail, or then succeed), or a chosen fdatasync/fsync fail
// (EIO). The journal's own error paths run for real, on a real file: the
// operation fails, the ledger's state is exactly what it was, the ledger turns
// read-only (and stays readable), and reopening the file gives a consistent
// ledger where a retry with the same key takes effect exactly once.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include <tollgate/ledger/ledger.hpp>

#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using namespace tollgate::literals;
using tollgate::errc;
using tollgate::manual_clock;
using tollgate::result;

struct fault_plan {
  enum class write_fault { fail, short_then_fail, short_then_ok };
  int write_countdown = -1;  // the pwrite that misbehaves: 0 = the next one
  write_fault mode = write_fault::fail;
  int datasync_countdown = -1;  // the fdatasync that fails: 0 = the next one
  int fsync_countdown = -1;     // the fsync (snapshots, creation) that fails
  bool fail_next_write = false;
  std::uint64_t fail_from_offset = ~std::uint64_t{0};  // every pwrite at or past it fails
  int injected = 0;
};

// The real file system with faults on cue.
struct faulty_fs : tollgate::posix_file_system {
  std::shared_ptr<fault_plan> plan = std::make_shared<fault_plan>();

  result<std::size_t> pwrite(int h, const void* buf, std::size_t n, std::uint64_t off) {
    fault_plan& p = *plan;
    if (p.fail_next_write || off >= p.fail_from_offset) {
      p.fail_next_write = false;
      ++p.injected;
      return result<std::size_t>(errc::storage_failure, "injected: No space left on device");
    }
    if (p.write_countdown >= 0 && p.write_countdown-- == 0) {
      ++p.injected;
      if (p.mode == fault_plan::write_fault::fail || n < 2)
        return result<std::size_t>(errc::storage_failure, "injected: No space left on device");
      // Really write the first half, then report it.
      auto r = posix_file_system::pwrite(h, buf, n / 2, off);
      if (p.mode == fault_plan::write_fault::short_then_fail) p.fail_next_write = true;
      return r;
    }
    return posix_file_system::pwrite(h, buf, n, off);
  }
  result<void> fdatasync(int h) {
    if (plan->datasync_countdown >= 0 && plan->datasync_countdown-- == 0) {
      ++plan->injected;
      return result<void>(errc::io_error, "injected: fdatasync: Input/output error");
    }
    return posix_file_system::fdatasync(h);
  }
  result<void> fsync(int h) {
    if (plan->fsync_countdown >= 0 && plan->fsync_countdown-- == 0) {
      ++plan->injected;
      return result<void>(errc::io_error, "injected: fsync: Input/output error");
    }
    return posix_file_system::fsync(h);
  }
};

using faulty_ledger = tollgate::basic_ledger<tollgate::ledger_traits<
    manual_clock, tollgate::journal_storage<faulty_fs>, tollgate::single_thread>>;
using real_ledger = tollgate::basic_ledger<
    tollgate::ledger_traits<manual_clock, tollgate::journal_storage<>, tollgate::single_thread>>;

struct fault_fixture {
  test_support::temp_dir dir{"fault"};
  manual_clock clock{manual_clock::time_point(1000s)};
  tollgate::basic_journal_config<faulty_fs> cfg;
  std::shared_ptr<fault_plan> plan;
  std::unique_ptr<faulty_ledger> l;

  explicit fault_fixture(tollgate::durability mode = tollgate::durability::every_op) {
    cfg.path = dir.file("ledger.journal");
    cfg.mode = mode;
    cfg.segment_bytes = 64 * 1024;
    plan = cfg.fs.plan;
    auto r = faulty_ledger::open(cfg, {}, clock);
    REQUIRE(r);
    l = std::move(*r);
    REQUIRE(l->purchase("acme", 1_usd, "p"));
    REQUIRE(l->hold("acme", 10_cr, "h"));
  }

  // The failed operation changed nothing and the ledger refuses writes.
  void expect_unchanged_and_read_only() {
    auto b = l->balance("acme");
    REQUIRE(b);
    CHECK(b->available == 90_cr);
    CHECK(b->held == 10_cr);
    CHECK(l->statement("acme").value().size() == 2);
    CHECK(l->totals().operations == 2);
    CHECK(l->check_invariants());
    CHECK(l->read_only());
    CHECK_FALSE(l->lookup("job"));
    auto again = l->charge("acme", 1_cr, "another");
    CHECK(again.code() == errc::read_only);
    CHECK(again.error().message().find("reopen") != std::string::npos);
    CHECK(l->balance("acme")->available == 90_cr);  // still readable
  }

  std::unique_ptr<real_ledger> reopen() {
    l.reset();
    tollgate::journal_config real;
    real.path = cfg.path;
    auto r = real_ledger::open(real, {}, clock);
    if (!r) FAIL(r.error().message());
    REQUIRE((*r)->check_invariants());
    return std::move(*r);
  }
};

}  // namespace

TEST_CASE("fault: ENOSPC on the record write", "[fault]") {
  fault_fixture f;
  f.plan->write_countdown = 0;
  auto r = f.l->charge("acme", 5_cr, "job");
  REQUIRE_FALSE(r);
  CHECK(r.error() == errc::storage_failure);
  CHECK(r.error().message().find("retry it with the same key") != std::string::npos);
  CHECK(f.plan->injected == 1);
  f.expect_unchanged_and_read_only();
  auto l = f.reopen();
  CHECK(l->balance("acme")->available == 90_cr);
  auto retry = l->charge("acme", 5_cr, "job");
  REQUIRE(retry);
  CHECK_FALSE(retry->replayed);
  CHECK(l->balance("acme")->available == 85_cr);
}

TEST_CASE("fault: a short write that cannot be completed", "[fault]") {
  fault_fixture f;
  f.plan->write_countdown = 0;
  f.plan->mode = fault_plan::write_fault::short_then_fail;
  auto r = f.l->charge("acme", 5_cr, "job");
  CHECK(r.code() == errc::storage_failure);
  CHECK(f.plan->injected == 2);
  f.expect_unchanged_and_read_only();
  auto l = f.reopen();
  CHECK(l->recovery().torn_tail);  // half a record was on disk
  CHECK(l->recovery().torn_tail_cut);
  CHECK(std::filesystem::file_size(l->recovery().torn_copy) == l->recovery().torn_bytes);
  CHECK(l->balance("acme")->available == 90_cr);
  REQUIRE(l->charge("acme", 5_cr, "job"));
  CHECK(l->balance("acme")->available == 85_cr);
}

TEST_CASE("fault: a short write whose rest succeeds is a success", "[fault]") {
  fault_fixture f;
  f.plan->write_countdown = 0;
  f.plan->mode = fault_plan::write_fault::short_then_ok;
  auto r = f.l->charge("acme", 5_cr, "job");
  REQUIRE(r);
  CHECK(f.plan->injected == 1);
  CHECK_FALSE(f.l->read_only());
  auto l = f.reopen();
  CHECK(l->balance("acme")->available == 85_cr);
  CHECK(l->charge("acme", 5_cr, "job")->replayed);
}

TEST_CASE("fault: EIO from fdatasync", "[fault]") {
  for (auto mode : {tollgate::durability::every_op, tollgate::durability::group_commit}) {
    INFO("durability " << tollgate::to_string(mode));
    fault_fixture f(mode);
    f.plan->datasync_countdown = 0;
    auto r = f.l->charge("acme", 5_cr, "job");
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::storage_failure);
    f.expect_unchanged_and_read_only();
    // The bytes reached the file before the sync failed, so the record may
    // be there after a reopen: the outcome was unknown, and a retry with the
    // same key settles it exactly once.
    auto l = f.reopen();
    auto retry = l->charge("acme", 5_cr, "job");
    REQUIRE(retry);
    CHECK(l->balance("acme")->available == 85_cr);
    auto twice = l->charge("acme", 5_cr, "job");
    CHECK(twice->replayed);
    CHECK(l->balance("acme")->available == 85_cr);
  }
}

TEST_CASE("fault: a failed segment extension", "[fault]") {
  fault_fixture f;
  // Writes inside the first segment succeed; zero-filling the next one fails.
  f.plan->fail_from_offset = std::filesystem::file_size(f.cfg.path);
  int i = 0;
  for (;; ++i) {
    REQUIRE(i < 5000);
    auto r = f.l->adjust("acme", 1_cr, "a" + std::to_string(i), "fill");
    if (r) continue;
    CHECK(r.error() == errc::storage_failure);
    break;
  }
  CHECK(i > 100);
  CHECK(f.l->read_only());
  CHECK(f.l->balance("acme")->available == 90_cr + tollgate::credits(i));
  auto l = f.reopen();
  CHECK(l->balance("acme")->available == 90_cr + tollgate::credits(i));
  REQUIRE(l->adjust("acme", 1_cr, "after", "fill"));
}

TEST_CASE("fault: a failing batch leaves nothing of any chain", "[fault]") {
  fault_fixture f;
  using op = faulty_ledger::operation;
  std::vector<op> ops{op::charge("acme", 1_cr, "b1"), op::purchase("globex", 1_usd, "b2").link(),
                      op::charge("globex", 5_cr, "b3")};
  f.plan->write_countdown = 0;
  auto r = f.l->apply(ops);
  REQUIRE(r.size() == 3);
  for (auto& x : r) CHECK(x.code() == errc::storage_failure);
  CHECK(f.l->accounts().size() == 1);
  CHECK(f.l->balance("acme")->available == 90_cr);
  CHECK_FALSE(f.l->lookup("b2"));
  CHECK(f.l->check_invariants());
  CHECK(f.l->read_only());
}

TEST_CASE("fault: durability none fails the same way", "[fault]") {
  fault_fixture f(tollgate::durability::none);
  f.plan->write_countdown = 0;
  CHECK(f.l->charge("acme", 5_cr, "job").code() == errc::storage_failure);
  f.expect_unchanged_and_read_only();
}

TEST_CASE("fault: a failed snapshot changes nothing", "[fault][snapshot]") {
  fault_fixture f;
  REQUIRE(f.l->snapshot());
  REQUIRE(f.l->charge("acme", 5_cr, "c1"));
  f.plan->fsync_countdown = 0;
  auto s = f.l->snapshot();
  REQUIRE_FALSE(s);
  CHECK(s.error() == errc::io_error);
  CHECK_FALSE(f.l->read_only());  // the journal itself is fine
  REQUIRE(f.l->charge("acme", 5_cr, "c2"));
  CHECK_FALSE(std::filesystem::exists(f.cfg.path + ".snapshot.tmp"));
  auto l = f.reopen();
  CHECK(l->recovery().snapshot_used);
  CHECK(l->recovery().records == 2);  // the old snapshot, then c1 and c2
  CHECK(l->balance("acme")->available == 80_cr);
}

TEST_CASE("fault: a snapshot whose journal fdatasync fails turns the ledger read-only",
          "[fault][snapshot]") {
  // With durability none the purchase and the hold are written but not
  // synced; the snapshot syncs the journal first, and that fails.
  fault_fixture f(tollgate::durability::none);
  f.plan->datasync_countdown = 0;
  auto s = f.l->snapshot();
  REQUIRE_FALSE(s);
  CHECK(f.plan->injected == 1);
  CHECK(s.error() == errc::storage_failure);
  CHECK(f.l->read_only());  // at once, not only after the next write fails
  CHECK(f.l->read_only_reason().find("Input/output error") != std::string::npos);
  CHECK(f.l->charge("acme", 1_cr, "c").code() == errc::read_only);
  CHECK(f.l->balance("acme")->available == 90_cr);
  CHECK_FALSE(std::filesystem::exists(f.cfg.path + ".snapshot"));
  auto l = f.reopen();
  CHECK(l->balance("acme")->available == 90_cr);
}

namespace {

// The real file system, except that reads and writes of the snapshot (and
// its temporary file) fail for real: the descriptor handed to the system
// call is not open (EBADF), so the message is the policy's own.
struct bad_snapshot_io_fs : tollgate::posix_file_system {
  std::shared_ptr<std::vector<int>> snapshot_handles = std::make_shared<std::vector<int>>();
  result<int> open(const std::string& path, tollgate::open_mode mode) {
    auto h = posix_file_system::open(path, mode);
    if (h && path.find(".snapshot") != std::string::npos) snapshot_handles->push_back(*h);
    return h;
  }
  bool is_snapshot(int h) const {
    return std::find(snapshot_handles->begin(), snapshot_handles->end(), h) != snapshot_handles->end();
  }
  result<std::size_t> pread(int h, void* buf, std::size_t n, std::uint64_t off) {
    return posix_file_system::pread(is_snapshot(h) ? -1 : h, buf, n, off);
  }
  result<std::size_t> pwrite(int h, const void* buf, std::size_t n, std::uint64_t off) {
    return posix_file_system::pwrite(is_snapshot(h) ? -1 : h, buf, n, off);
  }
};

}  // namespace

TEST_CASE("fault: snapshot read and write errors say snapshot, not the journal", "[fault][snapshot]") {
  test_support::temp_dir dir{"fault"};
  manual_clock clock{manual_clock::time_point(1000s)};
  using bad_ledger = tollgate::basic_ledger<tollgate::ledger_traits<
      manual_clock, tollgate::journal_storage<bad_snapshot_io_fs>, tollgate::single_thread>>;
  tollgate::basic_journal_config<bad_snapshot_io_fs> cfg;
  cfg.path = dir.file("ledger.journal");
  {
    auto l = bad_ledger::open(cfg, {}, clock);
    REQUIRE(l);
    REQUIRE((*l)->purchase("acme", 1_usd, "p"));
    auto s = (*l)->snapshot();
    REQUIRE_FALSE(s);
    const std::string m = s.error().message();
    INFO(m);
    CHECK(m.find("snapshot") != std::string::npos);
    CHECK(m.find(cfg.path + ".snapshot") != std::string::npos);
    CHECK(m.find("Bad file descriptor") != std::string::npos);
    CHECK(m.find("'the journal'") == std::string::npos);
  }
  {
    // A good snapshot, written with the real file system, that cannot be read.
    tollgate::journal_config real;
    real.path = cfg.path;
    auto l = real_ledger::open(real, {}, clock);
    REQUIRE(l);
    REQUIRE((*l)->snapshot());
  }
  auto l = bad_ledger::open(cfg, {}, clock);
  REQUIRE(l);
  const std::string notes = (*l)->recovery().notes;
  INFO(notes);
  CHECK_FALSE((*l)->recovery().snapshot_used);
  CHECK(notes.find("snapshot ignored") != std::string::npos);
  CHECK(notes.find(cfg.path + ".snapshot") != std::string::npos);
  CHECK(notes.find("Bad file descriptor") != std::string::npos);
  CHECK(notes.find("'the journal'") == std::string::npos);
  CHECK((*l)->balance("acme")->available == 100_cr);
}
