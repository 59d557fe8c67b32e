// Ledger internals that everything else rests on: CRC32C (the hardware path
// agrees with Boost.CRC and with the published check value), little-endian
// encoding round trips and bounds-checked reading (both writers), the id
// rules and the word-at-a-time string helpers against byte-by-byte
// references, the flat hash index under insertions and backward-shift
// deletions (with and without insert hints), the key bytes' FIFO and the
// entries' chunked array.
#include <catch2/catch.hpp>

#include <algorithm>
#include <deque>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <tollgate/ledger/detail/codec.hpp>
#include <tollgate/ledger/detail/hash_index.hpp>
#include <tollgate/ledger/detail/state.hpp>

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

TEST_CASE("xxh64: the published algorithm (the journal's record chain)", "[ledger][codec]") {
  // Values from xxhsum -H64 (the reference implementation) of the bytes
  // 0, 1, ..., n-1: each length takes a different path (the 32-byte
  // stripes, then 8-, 4- and 1-byte tails).
  const std::vector<std::pair<std::size_t, std::uint64_t>> known{
      {0, 0xef46db3751d8e999ull},  {1, 0xe934a84adb052768ull},  {4, 0xffced8604453cc1eull},
      {7, 0x14cc643f630c72d2ull},  {8, 0x884a173614b81b8dull},  {31, 0xc346d2b59b4d8ee1ull},
      {32, 0xcbf59c5116ff32b4ull}, {33, 0x0c535d1acafb8eadull}, {64, 0xf7c67301db6713f0ull},
      {100, 0x6ac1e58032166597ull}};
  std::vector<unsigned char> bytes(100);
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<unsigned char>(i);
  for (const auto& [n, h] : known) {
    INFO("length " << n);
    CHECK(ld::xxh64(bytes.data(), n, 0) == h);
  }
  CHECK(ld::xxh64("abc", 3, 0) == 0x44bc2cf5ad770999ull);
  CHECK(ld::xxh64("abc", 3, 1) != ld::xxh64("abc", 3, 0));  // the seed takes part
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

TEST_CASE("ids: the word-at-a-time test agrees with byte by byte", "[ledger][codec]") {
  auto reference = [](std::string_view s) {
    for (char c : s)
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) return false;
    return true;
  };
  // Every byte value at every position of every length up to 20 (the
  // length-specific loads and the overlapping last word), then longer ones.
  for (std::size_t n = 1; n <= 20; ++n)
    for (std::size_t at = 0; at < n; ++at)
      for (int b = 0; b < 256; ++b) {
        std::string s(n, 'a');
        s[at] = static_cast<char>(b);
        INFO("length " << n << ", byte " << b << " at " << at);
        REQUIRE(ld::printable_ascii(s) == reference(s));
        REQUIRE(ld::valid_id(s) == bool(ld::check_key(s)));
      }
  std::mt19937_64 rng(3);
  for (int i = 0; i < 20000; ++i) {
    std::string s(rng() % 140, ' ');
    for (char& c : s) c = static_cast<char>(0x20 + rng() % 0x5f);
    if (!s.empty() && rng() % 2) s[rng() % s.size()] = static_cast<char>(rng());
    REQUIRE(ld::printable_ascii(s) == reference(s));
    REQUIRE(ld::valid_id(s) == (bool(ld::check_key(s))));
    REQUIRE(ld::valid_id(s) == (!s.empty() && s.size() <= 128 && reference(s)));
  }
  CHECK(ld::printable_ascii(""));
  CHECK_FALSE(ld::valid_id(""));
}

TEST_CASE("codec: short strings are compared, copied and hashed word-wise correctly", "[ledger][codec]") {
  std::mt19937_64 rng(4);
  for (int i = 0; i < 20000; ++i) {
    const std::size_t n = rng() % 40;
    std::string a(n, ' '), b;
    for (char& c : a) c = static_cast<char>(rng() % 4);  // few values: near misses
    b = a;
    if (n > 0 && rng() % 2) b[rng() % n] ^= static_cast<char>(1 + rng() % 3);
    REQUIRE(ld::same_bytes(a, b) == (a == b));
    REQUIRE_FALSE(ld::same_bytes(a, a + "x"));
    if (a == b) REQUIRE(ld::hash_bytes(a) == ld::hash_bytes(b));
    // copy_bytes writes exactly [dst, dst + n).
    std::string dst(n + 16, '#');
    ld::copy_bytes(dst.data() + 8, a.data(), n);
    REQUIRE(dst.substr(0, 8) == std::string(8, '#'));
    REQUIRE(dst.substr(8, n) == a);
    REQUIRE(dst.substr(8 + n) == std::string(8, '#'));
  }
  // For a given length the tail word keeps every byte: no two strings of up
  // to seven bytes collide in it.
  for (std::size_t n = 1; n < 8; ++n) {
    std::set<std::uint64_t> words;
    std::set<std::string> strings;
    for (int i = 0; i < 5000; ++i) {
      std::string s(n, ' ');
      for (char& c : s) c = static_cast<char>(rng() % 3);
      if (strings.insert(s).second) REQUIRE(words.insert(ld::short_word(s.data(), n, 0)).second);
    }
  }
}

TEST_CASE("codec: span_writer writes what writer writes, and rewinds", "[ledger][codec]") {
  std::vector<std::byte> a;
  a.reserve(256);
  ld::writer w(a);
  std::vector<std::byte> b(256);
  ld::span_writer s(b.data(), b.data() + b.size());
  const ld::i128 big = -(static_cast<ld::i128>(1) << 100) - 7;
  const std::string long_key(130, 'k');
  auto both = [&](auto f) { f(w), f(s); };
  both([&](auto& x) { x.u8v(7), x.u16v(0xBEEF), x.u32v(0xDEADBEEF), x.u64v(~0ull), x.i64v(-5); });
  both([&](auto& x) { x.i128v(big), x.str8(""), x.str8("acme"), x.str8("key-1234"), x.str8(long_key); });
  std::byte* mark = s.position();
  s.str32("dropped");
  s.rewind(mark);
  both([&](auto& x) { x.str32("a reason"); });
  const auto n = static_cast<std::size_t>(s.position() - b.data());
  REQUIRE(n == a.size());
  CHECK(std::equal(a.begin(), a.end(), b.begin()));
}

TEST_CASE("hash_index: an insert at a hint is an insert, a stale hint is ignored", "[ledger][codec]") {
  ld::hash_index idx, ref;
  std::mt19937_64 rng(5);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> in;
  for (std::uint64_t v = 0; v < 5000; ++v) {
    const std::uint64_t h = rng() % 300;  // long probe runs
    ld::hash_index::hint where;
    REQUIRE_FALSE(idx.find(h, [&](std::uint64_t) { return false; }, where));
    if (v % 7 == 3 && !in.empty()) {
      // Something changes between the lookup and the insert: the hint must
      // not be used (here: an erase that may free the hinted run's slots).
      const auto [eh, ev] = in.back();
      in.pop_back();
      REQUIRE(idx.erase(eh, [&](std::uint64_t x) { return x == ev; }));
    }
    idx.insert(h, v, where);
    in.emplace_back(h, v);
    for (std::size_t i = in.size() > 50 ? in.size() - 50 : 0; i < in.size(); ++i)
      REQUIRE(idx.find(in[i].first, [&](std::uint64_t x) { return x == in[i].second; }) == in[i].second);
  }
  for (const auto& [h, v] : in) REQUIRE(idx.find(h, [&](std::uint64_t x) { return x == v; }) == v);
  CHECK(idx.size() == in.size());
}

TEMPLATE_TEST_CASE("string_fifo: strings stay intact across chunks, pushed and dropped at both ends",
                   "[ledger][codec]", ld::basic_string_fifo<512>, (ld::basic_string_fifo<512, 16>),
                   (ld::basic_string_fifo<512, 512>)) {
  TestType f;  // small chunks: many boundaries; a first chunk that grows, or not
  std::deque<std::pair<std::uint64_t, std::string>> ref;
  std::mt19937_64 rng(6);
  for (int step = 0; step < 60000; ++step) {
    // Growing, then shrinking, then back and forth around empty.
    const auto r = rng() % 10;
    const unsigned push = step < 20000 ? 6 : step < 40000 ? 4 : 5;
    if (r < push || ref.empty()) {
      std::string s(rng() % 256, ' ');
      for (char& c : s) c = static_cast<char>('a' + rng() % 26);
      ref.emplace_back(f.push_back(s), s);
    } else if (r < 8) {
      ref.pop_front();
      f.drop_front(ref.empty() ? f.end() : ref.front().first);
    } else {
      const std::uint64_t pos = ref.back().first;
      ref.pop_back();
      f.drop_back(pos);
    }
    if (step % 4999 == 0 || ref.size() < 3) {
      for (const auto& [pos, s] : ref) REQUIRE(f.get(pos, s.size()) == s);
    } else {
      for (int i = 0; i < 4; ++i) {
        const auto& [pos, s] = ref[rng() % ref.size()];
        REQUIRE(f.get(pos, s.size()) == s);
      }
      REQUIRE(f.get(ref.front().first, ref.front().second.size()) == ref.front().second);
      REQUIRE(f.get(ref.back().first, ref.back().second.size()) == ref.back().second);
    }
  }
  f.clear();
  CHECK(f.end() == 0);
  CHECK(f.get(f.push_back("again"), 5) == "again");
}

TEMPLATE_TEST_CASE("chunked_vector: an append-only array across chunks", "[ledger][codec]",
                   (ld::chunked_vector<std::uint64_t, 8>), (ld::chunked_vector<std::uint64_t, 8, 1>),
                   (ld::chunked_vector<std::uint64_t, 64, 3>)) {
  TestType v;  // small chunks: many boundaries; a first chunk that grows
  std::vector<std::uint64_t> ref;
  std::mt19937_64 rng(7);
  for (int step = 0; step < 5000; ++step) {
    if (ref.empty() || rng() % 3 != 0) {
      const std::uint64_t x = rng();
      v.push_back(x);
      ref.push_back(x);
    } else {
      v.pop_back();
      ref.pop_back();
    }
    REQUIRE(v.size() == ref.size());
    REQUIRE(v.empty() == ref.empty());
    if (!ref.empty()) {
      REQUIRE(v.front() == ref.front());
      REQUIRE(v.back() == ref.back());
      const std::size_t i = rng() % ref.size();
      REQUIRE(v[i] == ref[i]);
    }
  }
  CHECK(std::equal(v.begin(), v.end(), ref.begin(), ref.end()));
  v.clear();
  CHECK(v.empty());
  CHECK(v.begin() == v.end());
  v.push_back(42);
  CHECK(v[0] == 42);
}

TEMPLATE_TEST_CASE("chunked_fifo: elements stay intact while the first chunk grows and chunks come and go",
                   "[ledger][codec]", (ld::chunked_fifo<std::string, 8>), (ld::chunked_fifo<std::string, 8, 1>),
                   (ld::chunked_fifo<std::string, 64, 3>)) {
  TestType f;  // a type with a destructor: every slot is built and destroyed once
  std::deque<std::string> ref;
  std::mt19937_64 rng(8);
  for (int step = 0; step < 20000; ++step) {
    const auto r = rng() % 10;
    const unsigned push = step < 8000 ? 6 : step < 14000 ? 4 : 5;
    if (r < push || ref.empty()) {
      std::string s(rng() % 40, static_cast<char>('a' + rng() % 26));  // some beyond SSO
      f.emplace_back(s);
      ref.push_back(s);
    } else if (r < 8) {
      f.pop_front();
      ref.pop_front();
    } else {
      f.pop_back();
      ref.pop_back();
    }
    REQUIRE(f.size() == ref.size());
    if (!ref.empty()) {
      REQUIRE(f.front() == ref.front());
      REQUIRE(f.back() == ref.back());
      const std::size_t i = rng() % ref.size();
      REQUIRE(f[i] == ref[i]);
    }
  }
  f.clear();
  CHECK(f.empty());
  f.emplace_back("again");
  CHECK(f.front() == "again");
}
