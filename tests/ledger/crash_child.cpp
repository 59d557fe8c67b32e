// The child process of the crash test: opens the journal, applies the crash
// test's operations from index START on (every_op durability), and after each
// one writes "INDEX CODE..." to stdout (0 for success, else the errc value),
// so the parent knows exactly what was acknowledged. It never stops on its
// own: the parent kills it with SIGKILL at a random moment. Every 37
// operations it also writes a snapshot, so kills land inside snapshots too.
//
// Usage: tollgate-ledger-crash-child JOURNAL SEED START
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <tollgate/ledger/ledger.hpp>

#include "crash_ops.hpp"
#include "model_bridge.hpp"

using child_ledger = tollgate::basic_ledger<tollgate::ledger_traits<
    tollgate::manual_clock, tollgate::journal_storage<>, tollgate::single_thread>>;

static void say(const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    const ssize_t w = ::write(1, s.data() + done, s.size() - done);
    if (w <= 0) std::_Exit(4);
    done += static_cast<std::size_t>(w);
  }
}

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s JOURNAL SEED START\n", argv[0]);
    return 2;
  }
  const std::uint64_t seed = std::strtoull(argv[2], nullptr, 0);
  std::uint64_t i = std::strtoull(argv[3], nullptr, 0);
  tollgate::manual_clock clock;
  tollgate::journal_config cfg;
  cfg.path = argv[1];
  cfg.mode = tollgate::durability::every_op;
  cfg.segment_bytes = 64 * 1024;
  cfg.tear_window = 64 * 1024;
  auto opened = child_ledger::open(cfg, {}, clock);
  if (!opened) {
    say("fatal " + opened.error().message() + "\n");
    return 3;
  }
  child_ledger& l = **opened;
  for (;; ++i) {
    clock.set(tollgate::manual_clock::time_point(std::chrono::nanoseconds(crash_ops::time_of(i))));
    const auto ops = crash_ops::ops_for(seed, i);
    std::string line = std::to_string(i);
    std::vector<tollgate::result<child_ledger::receipt>> rs;
    if (ops.size() == 1) {
      rs.push_back(model_bridge::call(l, ops[0]));
    } else {
      std::vector<child_ledger::operation> batch;
      for (const auto& o : ops) batch.push_back(model_bridge::to_operation<child_ledger>(o));
      rs = l.apply(batch);
    }
    for (const auto& r : rs) {
      if (!r && (r.error() == tollgate::errc::storage_failure || r.error() == tollgate::errc::read_only)) {
        say("fatal " + r.error().message() + "\n");
        return 3;
      }
      line += " " + std::to_string(r ? 0 : r.code().value());
    }
    say(line + "\n");
    if (i % 37 == 36) {
      if (auto s = l.snapshot(); !s) {
        say("fatal snapshot: " + s.error().message() + "\n");
        return 3;
      }
    }
  }
}
