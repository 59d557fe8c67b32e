// The invariant checker catches what it claims to. Every other test calls
// check_invariants() on a sound ledger, where a checker that always said yes
// would pass too; here a sound state is written as a snapshot, one field is
// changed the way damage or a bug would change it (keeping everything else
// consistent, so only the invariant under test can notice), and loading must
// refuse it, naming that invariant. Through the ledger, a snapshot with a
// valid checksum but a broken invariant is ignored and the journal replayed.
#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

#include <tollgate/ledger/ledger.hpp>

#include "test_support.hpp"

namespace {

namespace ld = tollgate::ledger_detail;
using namespace std::chrono_literals;
using namespace tollgate::literals;
using tollgate::operation_kind;

constexpr ld::i64 t0 = 1'000'000'000'000;

// A small, sound history on account "acme": a purchase of 100 credits, a
// grant of 20, a hold of 30 and a charge of 5.
void build_sound_state(ld::state& s) {
  auto apply = [&](ld::op_in op, ld::i64 at) {
    auto r = s.apply(op, at, false);
    REQUIRE(r);
  };
  ld::op_in purchase{operation_kind::purchase, "p", "acme", {}, 1'000'000};
  ld::op_in grant{operation_kind::grant, "g", "acme", {}, 20'000'000};
  grant.aux = ld::never;
  ld::op_in hold{operation_kind::hold, "h", "acme", {}, 30'000'000};
  ld::op_in charge{operation_kind::charge, "c", "acme", {}, 5'000'000};
  apply(purchase, t0);
  apply(grant, t0 + 1);
  apply(hold, t0 + 2);
  apply(charge, t0 + 3);
  s.forget_all_undo();
  REQUIRE(s.check_invariants(true));
}

// Where the fields are in a snapshot payload (state::serialize): format,
// next op, last time, then the system balances, then the accounts.
constexpr std::size_t sys_at = 4 + 8 + 8;
std::size_t sys_offset(tollgate::party p) { return sys_at + 16 * static_cast<std::size_t>(p); }
constexpr std::size_t first_account_at = sys_at + 16 * tollgate::party_count + 8;
// The first account's scalars, after its name ("acme": one length byte + 4).
constexpr std::size_t scalars_at = first_account_at + 1 + 4;
constexpr std::size_t paid_at = scalars_at, granted_at = scalars_at + 16, held_at = scalars_at + 32;

ld::i128 get(const std::vector<std::byte>& b, std::size_t at) {
  ld::reader r(b.data() + at, 16);
  return r.i128v();
}
void add(std::vector<std::byte>& b, std::size_t at, ld::i128 delta) {
  std::vector<std::byte> v;
  ld::writer w(v);
  w.i128v(get(b, at) + delta);
  std::memcpy(b.data() + at, v.data(), 16);
}

std::string load_error(const std::vector<std::byte>& bytes) {
  ld::state s(10'000, -1);
  auto r = s.deserialize(bytes.data(), bytes.size());
  return r ? std::string("loaded") : r.error().message();
}

}  // namespace

TEST_CASE("invariants: a state that breaks one is refused, naming it", "[ledger][invariants]") {
  ld::state s(10'000, -1);
  build_sound_state(s);
  std::vector<std::byte> bytes;
  s.serialize(bytes);
  REQUIRE(load_error(bytes) == "loaded");
  // The offsets above really point at acme's buckets.
  REQUIRE(get(bytes, paid_at) == 85'000'000);  // 100 bought, 10 held (after the grant's 20), 5 charged
  REQUIRE(get(bytes, granted_at) == 0);
  REQUIRE(get(bytes, held_at) == 30'000'000);
  REQUIRE(get(bytes, sys_offset(tollgate::party::sales)) == -100'000'000);

  auto broken = bytes;
  SECTION("zero_sum: a system balance off by one micro-credit") {
    add(broken, sys_offset(tollgate::party::usage), 1);
    CHECK(load_error(broken).find("'zero_sum' violated") != std::string::npos);
  }
  SECTION("non_negative: a bucket below zero") {
    add(broken, paid_at, -96'000'000);
    add(broken, sys_offset(tollgate::party::adjustments), 96'000'000);  // still sums to zero
    CHECK(load_error(broken).find("'non_negative' violated") != std::string::npos);
  }
  SECTION("entries_sum: a balance that is not the sum of its entries") {
    add(broken, paid_at, 1);
    add(broken, sys_offset(tollgate::party::adjustments), -1);  // still sums to zero
    CHECK(load_error(broken).find("'entries_sum' violated") != std::string::npos);
  }
  SECTION("held_matches_holds: held credits without an open hold behind them") {
    add(broken, held_at, 1);
    add(broken, sys_offset(tollgate::party::holds), 1);
    add(broken, sys_offset(tollgate::party::adjustments), -1);
    CHECK(load_error(broken).find("'held_matches_holds' violated") != std::string::npos);
  }
  SECTION("holds_escrow: the holds account disagrees with the open holds") {
    add(broken, sys_offset(tollgate::party::holds), 1);
    add(broken, sys_offset(tollgate::party::adjustments), -1);
    CHECK(load_error(broken).find("'holds_escrow' violated") != std::string::npos);
  }
  SECTION("sales_match_purchases: credits sold that nobody bought") {
    add(broken, sys_offset(tollgate::party::sales), -1);
    add(broken, sys_offset(tollgate::party::adjustments), 1);
    CHECK(load_error(broken).find("'sales_match_purchases' violated") != std::string::npos);
  }
}

TEST_CASE("invariants: a checksummed snapshot that breaks one is ignored, the journal replayed",
          "[ledger][invariants][snapshot]") {
  using jledger = tollgate::basic_ledger<tollgate::ledger_traits<
      tollgate::manual_clock, tollgate::journal_storage<tollgate::memory_file_system>,
      tollgate::single_thread>>;
  tollgate::basic_journal_config<tollgate::memory_file_system> cfg;
  cfg.path = "ledger.journal";
  cfg.segment_bytes = 64 * 1024;
  tollgate::manual_clock clock{tollgate::manual_clock::time_point(1000s)};
  {
    auto l = jledger::open(cfg, {}, clock);
    REQUIRE(l);
    REQUIRE((*l)->purchase("acme", 1_usd, "p"));
    REQUIRE((*l)->charge("acme", 5_cr, "c"));
    REQUIRE((*l)->snapshot());
  }
  // Give acme a credit it never had, keep the book summing to zero, and
  // make both checksums right again: only the invariants can tell.
  auto file = cfg.fs.contents("ledger.journal.snapshot");
  REQUIRE(file.size() > ld::snapshot_header_size);
  std::vector<std::byte> payload(file.begin() + ld::snapshot_header_size, file.end());
  REQUIRE(get(payload, paid_at) == 95'000'000);
  add(payload, paid_at, 1'000'000);
  add(payload, sys_offset(tollgate::party::adjustments), -1'000'000);
  std::memcpy(file.data() + ld::snapshot_header_size, payload.data(), payload.size());
  ld::store_le<std::uint32_t>(file.data() + 72, ld::crc32c(payload.data(), payload.size()));
  ld::store_le<std::uint32_t>(file.data() + 76, ld::crc32c(file.data(), 76));
  cfg.fs.set_contents("ledger.journal.snapshot", file);

  auto l = jledger::open(cfg, {}, clock);
  REQUIRE(l);
  CHECK_FALSE((*l)->recovery().snapshot_used);
  CHECK((*l)->recovery().notes.find("'entries_sum' violated") != std::string::npos);
  CHECK((*l)->balance("acme")->available == 95_cr);
  CHECK((*l)->recovery().records == 2);
}
