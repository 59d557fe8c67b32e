// Ledger time at the end of the clock's range. The ledger stores times as
// nanoseconds in an int64 whose largest value means "never" (no first
// purchase, a grant without expiry). A clock reading its largest time point
// must not record an operation at "never", and a record that says it was
// made then is damage: refused, with the journal left exactly as it was.
// (Found by the journal_replay fuzz target: a purchase at that time replayed,
// broke the invariant 'purchases', and the open cut the torn tail before
// refusing the journal.)
#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include <tollgate/ledger/ledger.hpp>

#include "journal_fixture.hpp"
#include "test_support.hpp"

namespace {

using namespace tollgate::literals;
using tollgate::errc;
using tollgate::manual_clock;
namespace ld = tollgate::ledger_detail;

using test_support::journal_fixture;
using test_support::read_file;
using test_support::record_offsets;
using test_support::torn_copies;

void write_file(const std::string& p, const std::vector<std::byte>& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

TEST_CASE("time limit: a clock at its largest time point records operations that replay",
          "[journal][time]") {
  journal_fixture f;
  f.clock.set(manual_clock::time_point::max());
  {
    auto l = f.open();
    REQUIRE(l->purchase("acme", 1_usd, "p1"));
    REQUIRE(l->grant("acme", 5_cr, "g1"));
    auto h = l->hold("acme", 10_cr, "h1");
    REQUIRE(h);
    REQUIRE(l->capture(h->hold, 4_cr, "c1"));
    REQUIRE(l->charge("acme", 1_cr, "x1"));
    REQUIRE(l->expire_holds(manual_clock::time_point::max()));
    CHECK(l->check_invariants());
    const auto b = l->balance("acme");
    REQUIRE(b);
    CHECK(b->first_purchase.has_value());
    CHECK(b->available == 100_cr);
  }
  auto again = f.try_open();
  REQUIRE(again);
  CHECK((*again)->recovery().records == 5);
  CHECK((*again)->balance("acme")->available == 100_cr);
  CHECK((*again)->charge("acme", 1_cr, "x1")->replayed);
}

TEST_CASE("time limit: a record at the time that means 'never' is refused, nothing changed",
          "[journal][time]") {
  journal_fixture f;
  {
    auto l = f.open();
    REQUIRE(l->purchase("acme", 1_usd, "p1"));
  }
  // The ledger's own record, its time set to the largest there is (checksum
  // fixed), followed by the bytes of a write torn after it: a writable open
  // that accepted the record would cut and copy them.
  auto file = read_file(f.cfg.path);
  const auto off = record_offsets(file).back();
  const auto len = ld::load_le<std::uint32_t>(file.data() + off + 4);
  ld::store_le<std::int64_t>(file.data() + off + ld::frame_header_size + 1, ld::never);
  ld::store_le<std::uint32_t>(file.data() + off,
                              ld::crc32c(file.data() + off + 4, ld::frame_header_size - 4 + len));
  const auto end = off + ld::frame_header_size + len;
  for (std::size_t i = 0; i < 100; ++i) file[end + i] = std::byte{0xab};
  write_file(f.cfg.path, file);

  auto opened = f.try_open();
  REQUIRE_FALSE(opened);
  CHECK(opened.error() == errc::corrupt_journal);
  CHECK_THAT(opened.error().message(), Catch::Contains("record 1") && Catch::Contains("largest"));
  const bool unchanged = read_file(f.cfg.path) == file;
  CHECK(unchanged);
  CHECK(torn_copies(f.cfg.path).empty());
}
