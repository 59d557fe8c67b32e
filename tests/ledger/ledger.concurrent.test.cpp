// Concurrency stress for the ledger (built under ThreadSanitizer in CI):
// several threads hold, capture, release and charge on a few accounts while
// a reader watches balances. No balance ever goes negative, every credit is
// accounted for (the totals equal what the threads' receipts add up to), a
// key raced by two threads takes effect once, group commit shares fdatasyncs
// between callers and survives a reopen, and a failed group fdatasync fails
// every caller waiting on it and leaves a consistent, read-only ledger.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <tollgate/ledger/ledger.hpp>

#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using namespace tollgate::literals;
using tollgate::credits;
using tollgate::errc;

constexpr const char* account_names[] = {"acme", "globex", "initech"};

// What one thread's receipts say it did, per account. Catch2's assertions
// are not thread-safe, so threads note surprises here and the test checks
// them after joining.
struct tally {
  std::map<std::string, credits> used;      // charged + captured
  std::map<std::string, credits> held;      // still held by this thread's open holds
  std::vector<std::string> surprises;
};

// Runs `threads` workers doing random holds/captures/releases/charges.
template <class L>
std::vector<tally> stress(L& l, int threads, int ops_per_thread, std::uint64_t seed,
                          std::atomic<bool>& stop_reader) {
  std::vector<tally> tallies(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::mt19937_64 rng(seed + static_cast<std::uint64_t>(t));
      struct open_hold {
        tollgate::hold_id id;
        std::string account;
        credits amount;
      };
      std::vector<open_hold> mine;
      tally& me = tallies[t];
      for (int i = 0; i < ops_per_thread; ++i) {
        const std::string key = "t" + std::to_string(t) + "-" + std::to_string(i);
        const std::string acct = account_names[rng() % 3];
        const int what = static_cast<int>(rng() % 100);
        const credits amount = credits::from_raw(static_cast<long long>(1 + rng() % 5'000'000));
        if (what < 35) {
          auto r = l.hold(acct, amount, key);
          if (r) {
            mine.push_back({r->hold, acct, amount});
            me.held[acct] += amount;
          } else if (r.error() != errc::insufficient_credits) {
            me.surprises.push_back("hold: " + r.error().message());
          }
        } else if (what < 60 && !mine.empty()) {
          const std::size_t k = rng() % mine.size();
          const open_hold h = mine[k];
          mine.erase(mine.begin() + static_cast<long>(k));
          const credits take = credits::from_raw(h.amount.raw() * static_cast<long long>(rng() % 4) / 3);
          auto r = l.capture(h.id, take, key);
          if (!r) {
            me.surprises.push_back("capture: " + r.error().message());
            continue;
          }
          if (r->amount + r->released != h.amount) me.surprises.push_back("capture: parts do not add up");
          me.used[h.account] += take;
          me.held[h.account] -= h.amount;
        } else if (what < 70 && !mine.empty()) {
          const std::size_t k = rng() % mine.size();
          const open_hold h = mine[k];
          mine.erase(mine.begin() + static_cast<long>(k));
          if (auto r = l.release(h.id, key); !r) {
            me.surprises.push_back("release: " + r.error().message());
            continue;
          }
          me.held[h.account] -= h.amount;
        } else {
          auto r = l.charge(acct, amount, key);
          if (r) me.used[acct] += amount;
          else if (r.error() != errc::insufficient_credits)
            me.surprises.push_back("charge: " + r.error().message());
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  stop_reader = true;
  return tallies;
}

template <class L>
std::thread reader(L& l, std::atomic<bool>& stop, std::atomic<long>& negatives) {
  return std::thread([&] {
    while (!stop) {
      for (const char* a : account_names) {
        auto b = l.balance(a);
        if (!b || b->available.is_negative() || b->held.is_negative()) ++negatives;
      }
      std::this_thread::yield();
    }
  });
}

template <class L>
void check_totals(L& l, const std::vector<tally>& tallies, const credits& funded_each) {
  for (const auto& t : tallies)
    for (const auto& s : t.surprises) FAIL_CHECK(s);
  REQUIRE(l.check_invariants());
  credits used_total;
  for (const char* a : account_names) {
    credits used, held;
    for (const auto& t : tallies) {
      if (auto it = t.used.find(a); it != t.used.end()) used += it->second;
      if (auto it = t.held.find(a); it != t.held.end()) held += it->second;
    }
    used_total += used;
    auto b = l.balance(a).value();
    INFO("account " << a);
    CHECK(b.held == held);
    CHECK(b.available == funded_each - used - held);
    CHECK_FALSE(b.available.is_negative());
  }
  CHECK(l.totals().balances[static_cast<int>(tollgate::party::usage)] == used_total);
  CHECK(l.totals().operations > 1000);  // the stress really ran
}

// The real file system, counting fdatasyncs; each takes a little while, as
// on a disk, so concurrent callers have something to share.
struct slow_sync_fs : tollgate::posix_file_system {
  std::shared_ptr<std::atomic<int>> syncs = std::make_shared<std::atomic<int>>(0);
  std::shared_ptr<std::atomic<int>> fail_at = std::make_shared<std::atomic<int>>(-1);
  tollgate::result<void> fdatasync(int h) {
    const int n = syncs->fetch_add(1);
    std::this_thread::sleep_for(300us);
    if (n == fail_at->load()) return tollgate::result<void>(errc::io_error, "injected: EIO");
    return posix_file_system::fdatasync(h);
  }
};

using mem_ledger = tollgate::ledger;
using gc_ledger = tollgate::basic_ledger<tollgate::ledger_traits<
    std::chrono::system_clock, tollgate::journal_storage<slow_sync_fs>, tollgate::multi_thread>>;

/// A group-commit journal in `dir` on the slow-fsync file system.
tollgate::basic_journal_config<slow_sync_fs> group_commit_config(const test_support::temp_dir& dir,
                                                                 std::size_t segment_bytes = 0) {
  tollgate::basic_journal_config<slow_sync_fs> cfg;
  cfg.path = dir.file("ledger.journal");
  cfg.mode = tollgate::durability::group_commit;
  if (segment_bytes != 0) cfg.segment_bytes = segment_bytes;
  return cfg;
}

}  // namespace

TEST_CASE("concurrent: holds, captures, releases and charges never overdraw", "[ledger][concurrent]") {
  mem_ledger l;
  for (const char* a : account_names) REQUIRE(l.purchase(a, 40_usd, std::string("fund-") + a));
  std::atomic<bool> stop{false};
  std::atomic<long> negatives{0};
  std::thread watcher = reader(l, stop, negatives);
  const auto tallies = stress(l, 4, 3000, test_support::seed(77), stop);
  watcher.join();
  CHECK(negatives == 0);
  check_totals(l, tallies, 4000_cr);
}

TEST_CASE("concurrent: a key raced by several threads takes effect once", "[ledger][concurrent]") {
  mem_ledger l;
  REQUIRE(l.purchase("acme", 1_usd, "fund"));
  for (int round = 0; round < 50; ++round) {
    const std::string key = "job-" + std::to_string(round);
    std::atomic<int> fresh{0}, replayed{0}, failed{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
      ts.emplace_back([&] {
        auto r = l.charge("acme", 1_cr, key);
        if (!r) ++failed;
        else (r->replayed ? replayed : fresh)++;
      });
    for (auto& t : ts) t.join();
    CHECK(failed == 0);
    CHECK(fresh == 1);
    CHECK(replayed == 3);
  }
  CHECK(l.balance("acme")->available == 50_cr);
}

TEST_CASE("concurrent: group commit shares fdatasyncs and loses nothing", "[ledger][concurrent][journal]") {
  test_support::temp_dir dir("group");
  auto cfg = group_commit_config(dir, 256 * 1024);
  auto syncs = cfg.fs.syncs;
  std::vector<tally> tallies;
  std::uint64_t ops = 0;
  {
    auto opened = gc_ledger::open(cfg);
    REQUIRE(opened);
    gc_ledger& l = **opened;
    for (const char* a : account_names) REQUIRE(l.purchase(a, 40_usd, std::string("fund-") + a));
    const int before = syncs->load();
    std::atomic<bool> stop{false};
    std::atomic<long> negatives{0};
    std::thread watcher = reader(l, stop, negatives);
    tallies = stress(l, 6, 250, test_support::seed(99), stop);
    watcher.join();
    CHECK(negatives == 0);
    ops = l.totals().operations;
    check_totals(l, tallies, 4000_cr);
    const int shared = syncs->load() - before;
    INFO(ops << " operations, " << shared << " fdatasyncs");
    // Callers really did share: fewer syncs than operations. (Typically about
    // a third; the bound is loose so a loaded CI machine cannot flake it.)
    CHECK(static_cast<std::uint64_t>(shared) < ops);
    std::fprintf(stderr, "group commit: %llu operations, %d fdatasyncs\n",
                 static_cast<unsigned long long>(ops), shared);
  }
  // Each record says how far the journal was durable when it was framed:
  // never as far as itself, never less than the record before, and records
  // framed while their group waited for one fdatasync vouch for none of
  // each other (so a torn group is cut, not taken for damage).
  {
    namespace ld = tollgate::ledger_detail;
    const auto f = test_support::read_file(cfg.path);
    std::uint64_t records = 0, behind = 0, last_mark = 0;
    for (const std::uint64_t off : test_support::record_offsets(f)) {
      const auto seq = ld::load_le<std::uint64_t>(f.data() + off + 8);
      const auto mark = ld::load_le<std::uint64_t>(f.data() + off + 16);
      REQUIRE(seq == records + 1);
      REQUIRE(mark < seq);
      REQUIRE(mark >= last_mark);
      if (mark + 1 < seq) ++behind;
      last_mark = mark;
      ++records;
    }
    CHECK(records > 100);
    CHECK(behind > 0);  // some records shared a group
  }
  auto again = gc_ledger::open(cfg);
  REQUIRE(again);
  CHECK((*again)->totals().operations == ops);
  check_totals(**again, tallies, 4000_cr);
}

TEST_CASE("concurrent: a failed group fdatasync fails every waiter and stops writes",
          "[ledger][concurrent][journal]") {
  test_support::temp_dir dir("groupfail");
  auto cfg = group_commit_config(dir);
  auto opened = gc_ledger::open(cfg);
  REQUIRE(opened);
  gc_ledger& l = **opened;
  REQUIRE(l.purchase("acme", 100_usd, "fund"));
  *cfg.fs.fail_at = cfg.fs.syncs->load() + 3;
  std::atomic<int> ok{0}, failed{0}, other{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 6; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        auto r = l.charge("acme", 1_cr, "c" + std::to_string(t) + "-" + std::to_string(i));
        if (r) ++ok;
        else if (r.error() == errc::storage_failure || r.error() == errc::read_only) ++failed;
        else ++other;
      }
    });
  for (auto& t : ts) t.join();
  CHECK(other == 0);
  CHECK(failed > 0);
  CHECK(l.read_only());
  REQUIRE(l.check_invariants());
  // What the ledger shows is exactly what it acknowledged.
  CHECK(l.balance("acme")->available == 10000_cr - credits(ok.load()));
}

TEST_CASE("concurrent: snapshots while group-commit callers wait", "[ledger][concurrent][journal]") {
  test_support::temp_dir dir("groupsnap");
  auto cfg = group_commit_config(dir);
  auto opened = gc_ledger::open(cfg);
  REQUIRE(opened);
  gc_ledger& l = **opened;
  REQUIRE(l.purchase("acme", 100_usd, "fund"));
  std::atomic<int> ok{0}, failed{0}, snaps{0}, snap_failures{0};
  std::atomic<bool> stop{false};
  // A snapshot flushes what is pending itself; the callers waiting for those
  // records must be woken, not left waiting for a flush that never comes.
  std::thread snapper([&] {
    while (!stop) {
      (l.snapshot() ? snaps : snap_failures)++;
      std::this_thread::sleep_for(200us);
    }
  });
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < 150; ++i) {
        // Halfway, wait for a snapshot, so at least one provably overlaps the
        // callers whatever the scheduler does.
        if (i == 75)
          while (snaps.load() == 0 && snap_failures.load() == 0) std::this_thread::yield();
        (l.charge("acme", 1_cr, "s" + std::to_string(t) + "-" + std::to_string(i)) ? ok : failed)++;
      }
    });
  for (auto& t : ts) t.join();
  stop = true;
  snapper.join();
  CHECK(failed == 0);
  CHECK(ok == 600);
  CHECK(snaps > 0);
  CHECK(snap_failures == 0);
  opened->reset();
  auto again = gc_ledger::open(cfg);
  REQUIRE(again);
  CHECK((*again)->balance("acme")->available == 9400_cr);
}

TEST_CASE("concurrent: every member at once under group commit", "[ledger][concurrent][journal]") {
  // Writers charge under fresh keys, retry each other's keys, apply linked
  // pairs, hold with short timeouts and capture or release, and sweep
  // expiries; a reader calls every read; another thread takes snapshots.
  // Request n is always the same charge (account and amount follow from n),
  // so a retry from any thread is the same request. Afterwards: no key took
  // effect twice, linked pairs were all-or-nothing, usage equals what the
  // receipts say, every invariant holds, and a reopen shows the same book.
  test_support::temp_dir dir("everything");
  auto cfg = group_commit_config(dir, 256 * 1024);
  auto opened = gc_ledger::open(cfg);
  REQUIRE(opened);
  gc_ledger& l = **opened;
  for (const char* a : account_names) REQUIRE(l.purchase(a, 20_usd, std::string("fund-") + a));
  auto request = [](std::uint64_t n) {
    return std::pair<std::string, credits>(account_names[n % 3],
                                           credits::from_raw(static_cast<long long>(1 + n % 7) * 1'000'000));
  };
  constexpr int writers = 4, rounds = 150;
  std::atomic<std::uint64_t> next_n{0};
  std::atomic<bool> stop{false};
  std::mutex m;  // guards what the threads report
  std::map<std::uint64_t, int> fresh_of;  // request -> fresh successes
  std::vector<std::string> surprises;
  credits used;
  auto note = [&](std::string s) {
    std::lock_guard lk(m);
    surprises.push_back(std::move(s));
  };
  auto charged = [&](std::uint64_t n, const gc_ledger::receipt& r) {
    std::lock_guard lk(m);
    if (!r.replayed) {
      ++fresh_of[n];
      used += request(n).second;
    }
  };
  std::vector<std::thread> ts;
  for (int t = 0; t < writers; ++t)
    ts.emplace_back([&, t] {
      std::mt19937_64 rng(test_support::seed(5) + static_cast<std::uint64_t>(t));
      struct open_hold {
        tollgate::hold_id id;
        credits amount;
      };
      std::vector<open_hold> mine;
      for (int i = 0; i < rounds; ++i) {
        const std::string k = "w" + std::to_string(t) + "-" + std::to_string(i);
        const int what = static_cast<int>(rng() % 100);
        if (what < 35) {  // a fresh charge
          const std::uint64_t n = next_n++;
          const auto [acct, amount] = request(n);
          auto r = l.charge(acct, amount, "c-" + std::to_string(n));
          if (r) charged(n, *r);
          else if (r.error() != errc::insufficient_credits) note("charge: " + r.error().message());
        } else if (what < 55) {  // a retry of anyone's request
          const std::uint64_t top = next_n.load();
          if (top == 0) continue;
          const std::uint64_t n = rng() % top;
          const auto [acct, amount] = request(n);
          auto r = l.charge(acct, amount, "c-" + std::to_string(n));
          if (r) charged(n, *r);
          else if (r.error() != errc::insufficient_credits) note("retry: " + r.error().message());
        } else if (what < 70) {  // a linked pair: both or neither
          const std::uint64_t a = next_n++, b = next_n++;
          // An operation views its strings: accounts and keys must outlive apply().
          const auto req_a = request(a), req_b = request(b);
          const std::string key_a = "c-" + std::to_string(a), key_b = "c-" + std::to_string(b);
          std::vector<gc_ledger::operation> ops{
              gc_ledger::operation::charge(req_a.first, req_a.second, key_a).link(),
              gc_ledger::operation::charge(req_b.first, req_b.second, key_b)};
          auto r = l.apply(ops);
          if (static_cast<bool>(r[0]) != static_cast<bool>(r[1])) note("a linked pair came apart");
          if (r[0] && r[1]) {
            charged(a, *r[0]);
            charged(b, *r[1]);
          } else if (r[0].code() != errc::insufficient_credits) {
            note("pair: " + r[0].error().message());
          }
        } else if (what < 82) {  // a hold that may time out before it is closed
          const credits amount = credits::from_raw(static_cast<long long>(1 + rng() % 3'000'000));
          auto r = l.hold(account_names[rng() % 3], amount, k,
                          std::chrono::microseconds(200 + rng() % 3000));
          if (r) mine.push_back({r->hold, amount});
          else if (r.error() != errc::insufficient_credits) note("hold: " + r.error().message());
        } else if (what < 95 && !mine.empty()) {
          const open_hold h = mine.back();
          mine.pop_back();
          if (rng() % 2) {
            const credits take = credits::from_raw(h.amount.raw() / 2);
            auto r = l.capture(h.id, take, k);
            if (r) {
              std::lock_guard lk(m);
              used += r->amount;
            } else if (r.error() != errc::unknown_hold) {
              note("capture: " + r.error().message());
            }
          } else if (auto r = l.release(h.id, k); !r && r.error() != errc::unknown_hold) {
            note("release: " + r.error().message());
          }
        } else if (auto r = l.expire_holds(); !r) {
          note("expire_holds: " + r.error().message());
        }
      }
    });
  std::thread reader([&] {
    while (!stop) {
      for (const char* a : account_names) {
        auto b = l.balance(a);
        if (!b || b->available.is_negative() || b->held.is_negative()) note("a bad balance");
        (void)l.statement(a);
      }
      (void)l.totals();
      (void)l.accounts();
      (void)l.lookup("c-1");
      (void)l.read_only();
      std::this_thread::yield();
    }
  });
  std::thread snapper([&] {
    while (!stop) {
      if (auto s = l.snapshot(); !s) note("snapshot: " + s.error().message());
      std::this_thread::sleep_for(1ms);
    }
  });
  for (auto& t : ts) t.join();
  stop = true;
  reader.join();
  snapper.join();
  for (const auto& s : surprises) FAIL_CHECK(s);
  for (const auto& [n, count] : fresh_of) {
    INFO("request c-" << n);
    CHECK(count == 1);
  }
  REQUIRE(l.check_invariants());
  const auto before = l.totals();
  CHECK(before.balances[static_cast<int>(tollgate::party::usage)] == used);
  opened->reset();
  auto again = gc_ledger::open(cfg);
  REQUIRE(again);
  const auto after = (*again)->totals();
  CHECK(after.operations == before.operations);
  CHECK(after.entries == before.entries);
  for (std::size_t p = 0; p < tollgate::party_count; ++p) CHECK(after.balances[p] == before.balances[p]);
}
