// Crash test with real processes. A child (tollgate-ledger-crash-child)
// applies a deterministic stream of operations to a journal with every_op
// durability and reports each acknowledgement over a pipe; the parent kills it
// with SIGKILL after a random delay (during startup and replay, writes,
// fdatasyncs, segment growth, snapshots), reopens the journal and checks:
// every acknowledged operation is there with the result the child saw, the
// one operation in flight is either wholly there or wholly absent (linked
// chains included), nothing after it is there, the state equals the
// reference model's, and every invariant holds. Then it starts a new child
// where the journal left off, at least 200 times.
//
// The journal lives in the system's temporary directory (a real disk here).
// TOLLGATE_SEED, TOLLGATE_CRASH_ITERATIONS and TOLLGATE_CRASH_DIR override the
// defaults.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <tollgate/ledger/ledger.hpp>

#include "crash_ops.hpp"
#include "model_bridge.hpp"
#include "reference_model.hpp"
#include "test_support.hpp"

#ifndef TOLLGATE_LEDGER_CRASH_CHILD
#error "TOLLGATE_LEDGER_CRASH_CHILD must name the crash child program (tests/ledger/CMakeLists.txt)"
#endif

namespace {

using crash_ledger = tollgate::basic_ledger<tollgate::ledger_traits<
    tollgate::manual_clock, tollgate::journal_storage<>, tollgate::single_thread>>;

struct child_run {
  std::string output;
  int status = 0;
};

// Starts the child and kills it: `delay` after it starts, or (when
// `after_first_ack`) `delay` after its first acknowledgement, so a slow
// start on a loaded machine does not turn every kill into a kill at startup.
child_run run_child(const std::string& journal, std::uint64_t seed, std::uint64_t start,
                    std::chrono::microseconds delay, bool after_first_ack) {
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  const std::string seed_s = std::to_string(seed), start_s = std::to_string(start);
  // posix_spawn, not fork: copying a sanitizer-instrumented parent is slow.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  const char* argv[] = {TOLLGATE_LEDGER_CRASH_CHILD, journal.c_str(), seed_s.c_str(),
                        start_s.c_str(), nullptr};
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, TOLLGATE_LEDGER_CRASH_CHILD, &actions, nullptr,
                               const_cast<char* const*>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE(rc == 0);
  ::close(fds[1]);
  child_run run;
  char buf[65536];
  using clock = std::chrono::steady_clock;
  auto deadline = clock::now() + (after_first_ack ? std::chrono::microseconds(20'000'000) : delay);
  bool acked = false;
  for (;;) {
    if (after_first_ack && !acked && run.output.find('\n') != std::string::npos) {
      acked = true;
      deadline = clock::now() + delay;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    if (left.count() <= 0) break;
    pollfd p{fds[0], POLLIN, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::max<long>(1, left.count())));
    if (n <= 0) continue;
    const ssize_t r = ::read(fds[0], buf, sizeof buf);
    if (r <= 0) break;  // the child exited by itself: checked below
    run.output.append(buf, static_cast<std::size_t>(r));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &run.status, 0);
  for (;;) {
    const ssize_t r = ::read(fds[0], buf, sizeof buf);
    if (r <= 0) break;
    run.output.append(buf, static_cast<std::size_t>(r));
  }
  ::close(fds[0]);
  return run;
}

}  // namespace

TEST_CASE("crash: SIGKILL at random moments loses nothing acknowledged", "[ledger][crash]") {
  const std::uint64_t seed = test_support::seed(4242);
  const long iterations = test_support::env_int("TOLLGATE_CRASH_ITERATIONS", 220);
  // On the real disk by default, so fdatasync costs what it costs and kills
  // land inside it; TOLLGATE_CRASH_DIR picks another directory.
  test_support::temp_dir tmp = test_support::temp_dir::on_disk("crash");
  const char* dir_env = std::getenv("TOLLGATE_CRASH_DIR");
  const std::string journal =
      dir_env ? std::string(dir_env) + "/tollgate-crash-" + std::to_string(::getpid()) + ".journal"
              : tmp.file("crash.journal");
  struct cleanup {
    std::string j;
    ~cleanup() {
      std::remove(j.c_str());
      std::remove((j + ".snapshot").c_str());
      std::remove((j + ".snapshot.tmp").c_str());
      // Copies of the torn tails that reopening cut (FILE.torn-OFFSET...).
      for (const auto& c : test_support::torn_copies(j)) std::remove(c.c_str());
    }
  } cleanup_files{journal};

  model::ledger m(10'000, 7LL * 24 * 3600 * crash_ops::second);
  std::mt19937_64 rng(seed);
  std::uint64_t next = 0;  // the first operation not known to be in the journal
  std::vector<std::vector<char>> ok_of;  // per operation: which of its parts succeeded
  long acked = 0, in_flight_found = 0, torn = 0, snapshots = 0, early_kills = 0;
  tollgate::manual_clock clock;

  for (long it = 0; it < iterations; ++it) {
    INFO("seed " << seed << " (set TOLLGATE_SEED to repeat), iteration " << it << ", next op " << next);
    // A few kills right at startup (open, replay, torn-tail repair); most
    // while it runs.
    const bool at_startup = rng() % 10 == 0;
    const auto delay = std::chrono::microseconds(at_startup ? rng() % 15000 : rng() % 40000);
    const child_run run = run_child(journal, seed, next, delay, !at_startup);
    REQUIRE(WIFSIGNALED(run.status));  // it must not have stopped by itself
    std::istringstream lines(run.output);
    std::string line;
    std::uint64_t got = 0;
    while (std::getline(lines, line)) {
      if (lines.eof()) break;  // a line cut short was never acknowledged
      INFO("child said: " << line);
      REQUIRE(line.rfind("fatal", 0) != 0);
      std::istringstream fields(line);
      std::uint64_t index = 0;
      fields >> index;
      REQUIRE(index == next);
      const auto ops = crash_ops::ops_for(seed, index);
      const auto want = m.apply_batch(ops, crash_ops::time_of(index));
      ok_of.emplace_back();
      for (const auto& w : want) {
        ok_of.back().push_back(w.ok ? 1 : 0);
        int code = -1;
        fields >> code;
        REQUIRE(code == (w.ok ? 0 : static_cast<int>(w.code)));
      }
      ++next;
      ++got;
    }
    acked += static_cast<long>(got);
    if (got == 0) ++early_kills;

    tollgate::journal_config cfg;
    cfg.path = journal;
    cfg.segment_bytes = 64 * 1024;
    auto opened = crash_ledger::open(cfg, {}, clock);
    if (!opened) FAIL("reopen after the kill failed: " << opened.error().message());
    crash_ledger& l = **opened;
    if (l.recovery().torn_tail) ++torn;
    if (l.recovery().snapshot_used) ++snapshots;

    // The operation in flight: all of it, or none of it.
    {
      model::ledger after = m;
      const auto ops = crash_ops::ops_for(seed, next);
      const auto want = after.apply_batch(ops, crash_ops::time_of(next));
      std::size_t present = 0, applied = 0;
      for (std::size_t k = 0; k < ops.size(); ++k) {
        if (!want[k].ok) continue;
        ++applied;
        if (l.lookup(ops[k].key)) ++present;
      }
      INFO("operation in flight: " << applied << " would apply, " << present << " present");
      REQUIRE((present == 0 || present == applied));
      if (applied > 0 && present == applied) {
        m = after;
        ok_of.emplace_back();
        for (const auto& w : want) ok_of.back().push_back(w.ok ? 1 : 0);
        ++next;
        ++in_flight_found;
      }
    }
    // Nothing later than that ever started.
    for (const auto& o : crash_ops::ops_for(seed, next + 1)) REQUIRE_FALSE(l.lookup(o.key));

    // Every acknowledged success is there (the latest few hundred each time:
    // each was checked on the iterations after it was acknowledged).
    for (std::uint64_t i = next > 300 ? next - 300 : 0; i < next; ++i) {
      const auto ops = crash_ops::ops_for(seed, i);
      for (std::size_t k = 0; k < ops.size(); ++k) {
        INFO("operation " << i << "." << k);
        REQUIRE(static_cast<bool>(l.lookup(ops[k].key)) == (ok_of[i][k] != 0));
      }
    }
    clock.set(tollgate::manual_clock::time_point(std::chrono::nanoseconds(crash_ops::time_of(next))));
    std::set<std::string> names;
    for (const auto& a : m.accounts()) names.insert(a);
    for (const auto& a : l.accounts()) names.insert(a);
    for (const auto& name : names) {
      const auto want = m.balance_of(name, crash_ops::time_of(next));
      const auto got_b = l.balance(name).value();
      INFO("account " << name);
      REQUIRE(model_bridge::raw(got_b.available) == want.available);
      REQUIRE(model_bridge::raw(got_b.held) == want.held);
      REQUIRE(model_bridge::raw(got_b.purchased) == want.purchased);
      REQUIRE(got_b.available.raw() >= 0);
    }
    REQUIRE(l.totals().operations == m.operations());
    REQUIRE(l.check_invariants());
  }
  std::fprintf(stderr,
               "crash test: %ld iterations, %ld operations acknowledged, %ld in-flight found durable, "
               "%ld torn tails, %ld reopens from a snapshot, %ld kills before any acknowledgement\n",
               iterations, acked, in_flight_found, torn, snapshots, early_kills);
  INFO(acked << " operations acknowledged, " << in_flight_found << " in-flight operations found durable, "
             << torn << " torn tails, " << snapshots << " reopens from a snapshot, " << early_kills
             << " kills before the first acknowledgement");
  CHECK(acked >= iterations);
  CHECK(early_kills <= iterations / 5);
}
