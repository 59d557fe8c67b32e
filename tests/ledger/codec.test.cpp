// Ledger internals that everything else rests on: CRC32C (the hardware path
// agrees with Boost.CRC and with the published check value), little-endian
// encoding round trips and bounds-checked reading, the id rules, and the
// flat hash index under insertions and backward-shift deletions.
#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <string>
#include <vector>

#include <tollgate/ledger/detail/codec.hpp>
#include <tollgate/ledger/detail/hash_index.hpp>

namespace ld = tollgate::ledger_detail;

TEST_CASE("crc32c: the check value, and every implementation agrees", "[ledger][codec]") {
  const std::string check = "123456789";
  CHECK(ld::crc32c_portable(check.data(), check.size()) == 0xE3069283u);
  CHECK(ld::crc32c(check.data(), check.size()) == 0xE3069283u);
  std::mt19937_64 rng(1);
  for (std::size_t n = 0; n < 300; ++n) {
    std::vector<unsigned char> b(n);
    for (auto& x : b) x = static_cast<unsigned char>(rng());
    CHECK(ld::crc32c(b.data(), n) == ld::crc32c_portable(b.data(), n));
  }
}

TEST_CASE("codec: values round-trip and reads past the end fail", "[ledger][codec]") {
  std::vector<std::byte> buf;
  buf.reserve(64);  // (GCC 12 warns falsely about growing an empty vector here)
  ld::writer w(buf);
  const ld::i128 big = -(static_cast<ld::i128>(1) << 100) - 7;
  w.u8v(7), w.u16v(0xBEEF), w.u32v(0xDEADBEEF), w.u64v(~0ull), w.i64v(-5), w.i128v(big), w.str8("acme");
  ld::reader r(buf.data(), buf.size());
  CHECK(r.u8v() == 7);
  CHECK(r.u16v() == 0xBEEF);
  CHECK(r.u32v() == 0xDEADBEEF);
  CHECK(r.u64v() == ~0ull);
  CHECK(r.i64v() == -5);
  CHECK(r.i128v() == big);
  CHECK(r.str8() == "acme");
  CHECK(r.ok());
  CHECK(r.remaining() == 0);
  CHECK(r.u8v() == 0);
  CHECK_FALSE(r.ok());
  ld::reader r2(buf.data(), 3);
  CHECK(r2.u32v() == 0);
  CHECK_FALSE(r2.ok());
}

TEST_CASE("hash_index: finds what was inserted, forgets what was erased", "[ledger][codec]") {
  ld::hash_index idx;
  std::map<std::uint64_t, std::uint64_t> ref;  // value -> hash
  std::mt19937_64 rng(2);
  for (int step = 0; step < 20000; ++step) {
    // Few distinct hashes, so probe runs are long and wrap around.
    const std::uint64_t h = rng() % 97;
    const std::uint64_t v = rng() % 5000;
    if (rng() % 3 == 0) {
      auto it = ref.find(v);
      const bool had = it != ref.end();
      CHECK(idx.erase(had ? it->second : h, [&](std::uint64_t x) { return x == v; }) == had);
      if (had) ref.erase(it);
    } else if (!ref.count(v)) {
      idx.insert(h, v);
      ref[v] = h;
    }
    if (step % 1000 == 0)
      for (const auto& [val, hash] : ref)
        REQUIRE(idx.find(hash, [&](std::uint64_t x) { return x == val; }) == val);
  }
  CHECK(idx.size() == ref.size());
}

TEST_CASE("ids: printable ASCII, 1 to 128 bytes", "[ledger][codec]") {
  CHECK(ld::check_account_id("acme"));
  CHECK(ld::check_account_id(std::string(128, '~')));
  CHECK_FALSE(ld::check_account_id(""));
  CHECK_FALSE(ld::check_account_id(std::string(129, 'a')));
  CHECK_FALSE(ld::check_account_id("a\x7f"));
  CHECK(ld::quote_id("a\nb") == "<3 bytes, not printable ASCII>");
}
