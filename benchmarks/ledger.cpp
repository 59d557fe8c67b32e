// Ledger benchmarks, each contender beside its baseline. A "charge" is the
// ledger's charge(): an idempotency-keyed, balance-checked, double-entry
// debit (hold + capture in one). Throughput is in items (charges) per second.
//
//   BM_Ledger_Charge_Memory                 in memory, one core, no locking
//   BM_Ledger_Charge_Journal/every_op/N     journal on disk, batches of N
//                                           charges, one fdatasync per batch
//   BM_Ledger_Charge_Journal/group_commit/N the same with four callers at once,
//                                           sharing fdatasyncs (group commit)
//   BM_Sqlite_Charge/N                      what many teams would use instead:
//                                           SQLite, WAL, synchronous=FULL,
//                                           prepared statements, a balance
//                                           check and a unique key, one
//                                           transaction per batch of N
//   BM_RawDurableWrite                      the floor: pwrite of one record of
//                                           the same size into a preallocated,
//                                           zero-filled file + fdatasync
//
// The disk benchmarks write under TOLLGATE_BENCH_DIR (default: the system's
// temporary directory, which should be a real disk, not tmpfs).
#include <benchmark/benchmark.h>
#include <sqlite3.h>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <tollgate/ledger/ledger.hpp>

namespace {

using namespace tollgate::literals;
namespace fs = std::filesystem;

std::string bench_dir() {
  const char* d = std::getenv("TOLLGATE_BENCH_DIR");
  fs::path p = d ? fs::path(d) : fs::temp_directory_path();
  p /= "tollgate-bench-" + std::to_string(::getpid());
  fs::create_directories(p);
  return p.string();
}

// "k" + a number, without allocating (fits the small-string buffer).
struct key_maker {
  char buf[24];
  std::string_view operator()(const char* prefix, std::uint64_t n) {
    std::size_t len = std::strlen(prefix);
    std::memcpy(buf, prefix, len);
    auto r = std::to_chars(buf + len, buf + sizeof buf, n);
    return std::string_view(buf, static_cast<std::size_t>(r.ptr - buf));
  }
};

// ------------------------------------------------------------ in memory

void BM_Ledger_Charge_Memory(benchmark::State& state) {
  using mem_ledger = tollgate::basic_ledger<tollgate::ledger_traits<
      std::chrono::system_clock, tollgate::memory_storage, tollgate::single_thread>>;
  mem_ledger l;
  if (!l.purchase("acme", tollgate::usd(1'000'000'000), "fund")) state.SkipWithError("purchase");
  const tollgate::credits one = 1_cr;
  key_maker key;
  std::uint64_t i = 0;
  for (auto _ : state) {
    auto r = l.charge("acme", one, key("k", i++));
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Ledger_Charge_Memory);

// ------------------------------------------------------------ journal

using bench_ledger = tollgate::basic_ledger<tollgate::ledger_traits<
    std::chrono::system_clock, tollgate::journal_storage<>, tollgate::multi_thread>>;

void BM_Ledger_Charge_Journal(benchmark::State& state, tollgate::durability mode) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  const std::string dir = bench_dir();
  tollgate::journal_config cfg;
  cfg.path = dir + "/bench.journal";
  cfg.mode = mode;
  auto opened = bench_ledger::open(cfg);
  if (!opened) {
    state.SkipWithError(opened.error().message().c_str());
    return;
  }
  bench_ledger& l = **opened;
  (void)l.purchase("acme", tollgate::usd(1'000'000'000), "fund");
  // A batch of charges with fresh keys, built in place (the host has to
  // make its keys too, so this is inside the timed loop, as for SQLite).
  auto make_batch = [batch](const char* prefix, std::uint64_t round, std::vector<std::string>& keys,
                            std::vector<bench_ledger::operation>& ops) {
    keys.resize(batch);
    ops.resize(batch);
    key_maker key;
    for (std::size_t k = 0; k < batch; ++k) {
      keys[k].assign(key(prefix, round * batch + k));
      ops[k] = bench_ledger::operation::charge("acme", 1_cr, keys[k]);
    }
  };
  // Group commit: three more callers submit batches the whole time, so that
  // concurrent calls have something to share; their charges count too.
  const int helpers = mode == tollgate::durability::group_commit ? 3 : 0;
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> helper_items{0};
  std::vector<std::thread> threads;
  std::atomic<bool> measuring{false};
  for (int t = 0; t < helpers; ++t)
    threads.emplace_back([&, t] {
      std::vector<std::string> keys;
      std::vector<bench_ledger::operation> ops;
      for (std::uint64_t round = 0; !stop; ++round) {
        const char* prefixes[] = {"h0-", "h1-", "h2-"};
        make_batch(prefixes[t], round, keys, ops);
        auto r = l.apply(ops);
        if (measuring) helper_items += r.size();
      }
    });
  std::vector<std::string> keys;
  std::vector<bench_ledger::operation> ops;
  std::uint64_t round = 0;
  measuring = true;
  for (auto _ : state) {
    make_batch("m-", round++, keys, ops);
    auto r = l.apply(ops);
    if (!r[0]) state.SkipWithError(r[0].error().message().c_str());
  }
  measuring = false;
  stop = true;
  for (auto& t : threads) t.join();
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch + helper_items.load()));
  state.counters["callers"] = 1 + helpers;
  opened->reset();
  fs::remove_all(dir);
}
BENCHMARK_CAPTURE(BM_Ledger_Charge_Journal, every_op, tollgate::durability::every_op)
    ->Arg(1)->Arg(100)->Arg(1000)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Ledger_Charge_Journal, group_commit, tollgate::durability::group_commit)
    ->Arg(1)->Arg(100)->Arg(1000)->UseRealTime()->Unit(benchmark::kMicrosecond);

// ------------------------------------------------------------ SQLite

struct sqlite_db {
  sqlite3* db = nullptr;
  sqlite3_stmt* debit = nullptr;
  sqlite3_stmt* entry = nullptr;
  sqlite3_stmt* begin = nullptr;
  sqlite3_stmt* commit = nullptr;
  explicit sqlite_db(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) throw std::runtime_error("sqlite open");
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");
    exec("CREATE TABLE accounts(id TEXT PRIMARY KEY, balance INTEGER NOT NULL CHECK(balance >= 0))");
    exec("CREATE TABLE entries(key TEXT NOT NULL UNIQUE, account TEXT NOT NULL, amount INTEGER NOT "
         "NULL, at INTEGER NOT NULL)");
    exec("INSERT INTO accounts VALUES('acme', 1000000000000000000)");
    prepare("UPDATE accounts SET balance = balance - ?1 WHERE id = ?2 AND balance >= ?1", &debit);
    prepare("INSERT INTO entries(key, account, amount, at) VALUES(?1, ?2, ?3, ?4)", &entry);
    prepare("BEGIN IMMEDIATE", &begin);
    prepare("COMMIT", &commit);
  }
  ~sqlite_db() {
    for (auto* s : {debit, entry, begin, commit}) sqlite3_finalize(s);
    sqlite3_close(db);
  }
  void exec(const char* sql) {
    if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK)
      throw std::runtime_error(sqlite3_errmsg(db));
  }
  void prepare(const char* sql, sqlite3_stmt** s) {
    if (sqlite3_prepare_v2(db, sql, -1, s, nullptr) != SQLITE_OK)
      throw std::runtime_error(sqlite3_errmsg(db));
  }
  bool step(sqlite3_stmt* s) {
    const int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE;
  }
  // One charge: the balance check and debit, then the keyed entry.
  bool charge(std::string_view key, std::int64_t amount, std::int64_t at) {
    sqlite3_bind_int64(debit, 1, amount);
    sqlite3_bind_text(debit, 2, "acme", 4, SQLITE_STATIC);
    if (!step(debit) || sqlite3_changes(db) != 1) return false;
    sqlite3_bind_text(entry, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(entry, 2, "acme", 4, SQLITE_STATIC);
    sqlite3_bind_int64(entry, 3, amount);
    sqlite3_bind_int64(entry, 4, at);
    return step(entry);
  }
};

void BM_Sqlite_Charge(benchmark::State& state) {
  const auto batch = state.range(0);
  const std::string dir = bench_dir();
  {
    sqlite_db db(dir + "/bench.sqlite");
    key_maker key;
    std::uint64_t i = 0;
    for (auto _ : state) {
      db.step(db.begin);
      for (std::int64_t k = 0; k < batch; ++k) {
        const auto at = std::chrono::system_clock::now().time_since_epoch().count();
        if (!db.charge(key("k", i++), 1'000'000, at)) state.SkipWithError("charge failed");
      }
      if (!db.step(db.commit)) state.SkipWithError("commit failed");
    }
    state.SetItemsProcessed(state.iterations() * batch);
  }
  fs::remove_all(dir);
}
BENCHMARK(BM_Sqlite_Charge)->Arg(1)->Arg(100)->Arg(1000)->UseRealTime()->Unit(benchmark::kMicrosecond);

// ------------------------------------------------------------ the floor

// The size of one charge record in the journal, measured, not guessed.
std::size_t charge_record_size() {
  namespace ld = tollgate::ledger_detail;
  std::vector<std::byte> buf;
  const auto pos = tollgate::journal_storage<>::begin_frame(buf);
  ld::writer w(buf);
  w.u8v(1);
  w.i64v(0);
  w.u32v(1);
  ld::op_in op{tollgate::operation_kind::charge, "k1234567", "acme", {}, 1'000'000};
  ld::state::encode_op(w, op, ld::receipt_rec{});
  (void)tollgate::journal_storage<>::end_frame(buf, pos, 1, 0, 0);
  return buf.size() - pos;
}

void BM_RawDurableWrite(benchmark::State& state) {
  const std::string dir = bench_dir();
  const std::string path = dir + "/raw.bin";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  constexpr std::size_t file_size = 64u << 20;
  std::vector<char> zeros(1u << 20, 0);
  for (std::size_t off = 0; off < file_size; off += zeros.size())
    if (::pwrite(fd, zeros.data(), zeros.size(), static_cast<off_t>(off)) < 0) state.SkipWithError("pwrite");
  ::fsync(fd);
  const std::size_t n = charge_record_size();
  std::vector<char> record(n, 'r');
  std::size_t off = 0;
  for (auto _ : state) {
    if (::pwrite(fd, record.data(), n, static_cast<off_t>(off)) != static_cast<ssize_t>(n))
      state.SkipWithError("pwrite");
    if (::fdatasync(fd) != 0) state.SkipWithError("fdatasync");
    off += n;
    if (off + n > file_size) off = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["record_bytes"] = static_cast<double>(n);
  ::close(fd);
  fs::remove_all(dir);
}
BENCHMARK(BM_RawDurableWrite)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
