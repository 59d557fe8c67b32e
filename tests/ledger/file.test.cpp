// The file policy and what the journal opens through it: anything that is not
// a regular file (a FIFO, a directory, a device) is refused at once, whether
// it is where the journal, its snapshot or a copy of a torn tail should be,
// and never blocks (a FIFO opened without O_NONBLOCK waits for a writer
// forever). The check is made on the opened descriptor, so a FIFO swapped in
// between a check and the open is caught too.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include <sys/stat.h>
#include <sys/types.h>

#include <tollgate/ledger/ledger.hpp>

#include "journal_fixture.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using namespace tollgate::literals;
using tollgate::errc;
namespace fs = std::filesystem;


struct file_fixture : test_support::journal_fixture {
  file_fixture() : journal_fixture("file") {}
  void make_fifo(const std::string& p) { REQUIRE(::mkfifo(p.c_str(), 0644) == 0); }
};

}  // namespace

TEST_CASE("file: a journal that is not a regular file is refused at once", "[file]") {
  file_fixture f;
  std::string kind;
  SECTION("a FIFO") {
    f.make_fifo(f.cfg.path);
    kind = "a FIFO";
  }
  SECTION("a directory") {
    REQUIRE(fs::create_directory(f.cfg.path));
    kind = "a directory";
  }
  SECTION("a character device") {
    f.cfg.path = "/dev/null";
    kind = "a character device";
    SUCCEED("the journal path is /dev/null");
  }
  test_support::watchdog guard("opening a journal that is not a regular file", 20);
  for (bool ro : {true, false}) {
    INFO((ro ? "read-only" : "writable") << " open of " << kind);
    f.cfg.read_only = ro;
    auto r = f.try_open();
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::io_error);
    const std::string m = r.error().message();
    INFO(m);
    CHECK(m.find(f.cfg.path) != std::string::npos);
    CHECK(m.find("not a regular file") != std::string::npos);
    CHECK(m.find(kind) != std::string::npos);
  }
}

TEST_CASE("file: the policy checks the opened file, not the name", "[file]") {
  // A check by name (stat, then open) leaves a window in which a FIFO can be
  // swapped in; the policy opens without blocking and checks the descriptor.
  file_fixture f;
  f.make_fifo(f.cfg.path);
  tollgate::posix_file_system pfs;
  test_support::watchdog guard("posix_file_system::open on a FIFO", 20);
  for (auto mode : {tollgate::open_mode::read_only, tollgate::open_mode::read_write,
                    tollgate::open_mode::create_truncate}) {
    auto h = pfs.open(f.cfg.path, mode);
    REQUIRE_FALSE(h);
    CHECK(h.error().message().find("not a regular file (a FIFO)") != std::string::npos);
  }
  CHECK(pfs.open(f.dir.file("new"), tollgate::open_mode::create_exclusive));
}

TEST_CASE("file: a FIFO where the snapshot or a torn copy should be never blocks", "[file]") {
  file_fixture f;
  {
    auto l = f.open();
    REQUIRE(l->purchase("acme", 1_usd, "p"));
  }
  test_support::watchdog guard("a FIFO beside the journal", 20);
  SECTION("the snapshot is a FIFO: ignored, with a note") {
    f.make_fifo(f.cfg.path + ".snapshot");
    for (bool ro : {true, false}) {
      f.cfg.read_only = ro;
      auto l = f.open();
      CHECK_FALSE(l->recovery().snapshot_used);
      CHECK(l->recovery().notes.find("snapshot ignored") != std::string::npos);
      CHECK(l->recovery().notes.find("not a regular file (a FIFO)") != std::string::npos);
      CHECK(l->balance("acme")->available == 100_cr);
    }
  }
  SECTION("a FIFO where the snapshot's temporary file would go: the snapshot is still written") {
    f.make_fifo(f.cfg.path + ".snapshot.tmp");
    {
      auto l = f.open();
      REQUIRE(l->snapshot());
    }
    auto l = f.open();
    CHECK(l->recovery().snapshot_used);
  }
  SECTION("a FIFO where a torn tail's copy would go: the copy takes the next name") {
    const auto f0 = test_support::read_file(f.cfg.path);
    const auto offs = test_support::record_offsets(f0);
    REQUIRE(offs.size() == 1);
    const std::uint64_t end = offs[0] + tollgate::ledger_detail::frame_header_size +
                              tollgate::ledger_detail::load_le<std::uint32_t>(f0.data() + offs[0] + 4);
    {
      std::fstream out(f.cfg.path, std::ios::binary | std::ios::in | std::ios::out);
      out.seekp(static_cast<std::streamoff>(end));
      out << "torn";
    }
    const std::string copy = fmt::format("{}.torn-{}", f.cfg.path, end);
    f.make_fifo(copy);
    f.make_fifo(copy + ".2.tmp");
    auto l = f.open();
    CHECK(l->recovery().torn_tail_cut);
    CHECK(l->recovery().torn_copy == copy + ".2");
    CHECK(test_support::read_file(copy + ".2").size() == 4);
  }
}
