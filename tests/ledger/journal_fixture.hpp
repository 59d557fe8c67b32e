// A ledger on a journal in a fresh temporary directory, for the tests of the
// journal and of the files it opens: small segments and tear window, a
// manual clock, open() that fails the test with the error's message, and a
// little history of purchases, holds, captures and charges.
#pragma once

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>

#include <tollgate/ledger/ledger.hpp>

#include "test_support.hpp"

namespace test_support {

using jledger = tollgate::basic_ledger<tollgate::ledger_traits<
    tollgate::manual_clock, tollgate::journal_storage<>, tollgate::single_thread>>;

struct journal_fixture {
  temp_dir dir;
  tollgate::manual_clock clock{tollgate::manual_clock::time_point(std::chrono::seconds(1000))};
  tollgate::journal_config cfg;
  explicit journal_fixture(const std::string& tag = "journal") : dir(tag) {
    cfg.path = dir.file("ledger.journal");
    cfg.segment_bytes = 64 * 1024;
    cfg.tear_window = 64 * 1024;
  }
  std::unique_ptr<jledger> open() {
    auto r = jledger::open(cfg, {}, clock);
    if (!r) FAIL(r.error().message());
    return std::move(*r);
  }
  tollgate::result<std::unique_ptr<jledger>> try_open() { return jledger::open(cfg, {}, clock); }
  // A little history: purchases, holds, captures, charges.
  void history(jledger& l, int n, int first = 0) {
    using namespace tollgate::literals;
    for (int i = first; i < first + n; ++i) {
      const std::string k = std::to_string(i);
      REQUIRE(l.purchase("acme", 1_usd, "p" + k));
      auto h = l.hold("acme", 10_cr, "h" + k);
      REQUIRE(h);
      REQUIRE(l.capture(h->hold, 4_cr, "c" + k));
      REQUIRE(l.charge("acme", 1_cr, "x" + k));
      clock.advance(std::chrono::seconds(1));
    }
  }
};

}  // namespace test_support
