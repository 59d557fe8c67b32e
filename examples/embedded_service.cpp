// tollgate-embedded-service: what a host service does with tollgate, in one
// short program to copy from. A gate on a journal (every operation durable
// in a file before it is acknowledged) with an observer that counts every
// decision; a purchase; jobs through their whole life: submitted and
// started, queued behind the tier's one slot, completed (the actual cost
// captured, the rest returned), failed (refunded in full), cancelled
// (refunded in full); a refusal; the organization view; then the journal
// reopened, as after a restart, with the same balance.
//
//   tollgate-embedded-service [JOURNAL]
//
// JOURNAL: where to create the journal (a new file; by default one in a new
// temporary folder, removed at the end). Exit status 0; 1 when the gate
// refuses something this program expects it to accept (the message says
// what); 2 on a bad argument.
//
// The lines between the "getting started" marks are the ones
// docs/getting-started.md shows (a test checks they match).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#include <fmt/format.h>

// [getting started: traits]
#include <tollgate/gate.hpp>
#include <tollgate/ledger/ledger.hpp>

// The host's policies, chosen at compile time: what it does not name keeps
// its default (system clock, in-process limits, per-account locks).
struct service_traits : tollgate::gate_traits<> {
  using ledger = tollgate::journal_ledger<>;     // the ledger's state in a journal file
  using observer = tollgate::counters_observer;  // counts every decision (Prometheus text)
};
using service_gate = tollgate::basic_gate<service_traits>;
// [getting started: end]

namespace {

// A 5-credits-a-second video job of `seconds` seconds (gen4_turbo).
tollgate::job video(int seconds) {
  return {.model = "gen4_turbo", .usage = {.seconds = tollgate::media_duration{seconds * 1000}}};
}

// Reports what the gate refused. The message says what happened and what to
// do; e.code() is the errc to branch on (e == tollgate::errc::daily_limit).
int refused(const char* what, const tollgate::error& e) {
  fmt::print(stderr, "tollgate-embedded-service: {} refused: {}\n", what, e.message());
  return 1;
}

void show(const char* step, const service_gate::task& t) {
  fmt::print("{:<34} task {} {:<9} estimate {:>3} cost {:>3}{}\n", step, t.id.substr(0, 8), to_string(t.status),
             t.estimate.to_string(0), t.cost.to_string(0),
             t.status == tollgate::task_status::throttled ? fmt::format(" (place {} in the queue)", t.position)
                                                          : std::string());
}

// The life of a few jobs on a gate over the journal at `journal`.
int serve(const std::string& journal) {
  // Tasks that get a slot wait, PENDING, until the host starts them (when a
  // worker picks the job up); without this they are RUNNING at once.
  tollgate::basic_gate_options<> options;
  options.explicit_start = true;

  // [getting started: open]
  auto ledger = service_gate::ledger_type::open(tollgate::journal_config{.path = journal});
  if (!ledger) return refused("open", ledger.error());  // locked, corrupt_journal (offset, what to do), io_error
  tollgate::counters_observer counters;  // copies share one set of figures
  service_gate gate(std::move(*ledger), options, {}, counters);

  auto bought = gate.purchase("acme", tollgate::usd(10), "order-1001");  // $10: 1,000 credits
  if (!bought) return refused("purchase", bought.error());               // e.g. over the 30-day spend cap
  const tollgate::job clip{.model = "gen4_turbo", .usage = {.seconds = tollgate::media_duration{10'000}}};
  auto task = gate.submit("acme", clip, "request-1");  // prices it (50 credits), holds them, takes the slot
  if (!task) return refused("submit", task.error());  // insufficient_credits, daily_limit (retry_after), ...
  auto running = gate.start(*task);                    // a worker picked it up: RUNNING
  if (!running) return refused("start", running.error());
  // ... the job runs; it made 8 seconds of video, not 10:
  auto done = gate.complete(*task, {.seconds = tollgate::media_duration{8'000}});  // captures 40, returns 10
  if (!done) return refused("complete", done.error());
  // [getting started: end]
  fmt::print("bought ${} of credits: {} credits, {} available, {}\n", bought->paid.to_string(),
             bought->amount.to_string(0), bought->available.to_string(0), fmt::format("tier {}", bought->tier.value));
  show("submitted (slot free)", *task);
  show("started", *running);
  show("completed with 8 s of 10", done->task);
  fmt::print("{:<34} {} credits returned\n", "", done->refunded.to_string(0));

  // Tier 1 runs one gen4_turbo job at a time: more wait in a FIFO queue,
  // their credits held (THROTTLED). A retry with the same key is the same
  // task (replayed), never a second one.
  auto first = gate.submit("acme", video(5), "request-2");
  auto second = gate.submit("acme", video(5), "request-3");
  auto third = gate.submit("acme", video(5), "request-4");
  auto retry = gate.submit("acme", video(5), "request-3");
  for (const auto* s : {&first, &second, &third, &retry})
    if (!*s) return refused("submit", s->error());
  auto started = gate.start(*first);
  if (!started) return refused("start", started.error());
  show("submitted and started", *started);
  show("submitted while it runs", *second);
  show("submitted behind it", *third);
  fmt::print("{:<34} task {} again (replayed: {})\n", "the same key again", retry->id.substr(0, 8), retry->replayed);

  // The running job fails: refunded in full; the queue moves on and the
  // next task takes the slot (PENDING: the host starts it).
  auto failed = gate.fail(*first, "the model returned an error");
  if (!failed) return refused("fail", failed.error());
  show("failed", failed->task);
  fmt::print("{:<34} {} credits refunded; {} task(s) took the slot\n", "", failed->refunded.to_string(0),
             failed->started.size());
  // The customer cancels both others: the one still queued, then the one
  // holding the slot. Each is refunded in full.
  for (const auto* t : {&third, &second}) {
    auto c = gate.cancel(**t);
    if (!c) return refused("cancel", c.error());
    show("cancelled", c->task);
  }

  // A refusal changes nothing: no hold, no count, no slot.
  auto unknown = gate.submit("acme", {.model = "gen5_turbo", .usage = {}}, "request-5");
  if (unknown) {
    std::fputs("tollgate-embedded-service: a job of an unknown model was accepted\n", stderr);
    return 1;
  }
  fmt::print("refused: {}\n", unknown.error().message());

  // Where the account stands: the provider's organization view, and more.
  auto org = gate.organization("acme");
  if (!org) return refused("organization", org.error());
  fmt::print("\n{}", to_text(*org));

  // What the observer counted (prometheus_text() serves it on /metrics).
  const auto f = counters.read();
  using kind = tollgate::task_event_kind;
  fmt::print("\ncounted: {} admitted, {} throttled, {} completed, {} failed, {} cancelled, {} refused; "
             "{} credits captured, {} returned\n",
             f.task(kind::admitted), f.task(kind::throttled), f.task(kind::completed), f.task(kind::failed),
             f.task(kind::cancelled), f.refused(tollgate::errc::unknown_model),
             tollgate::credits::from_raw(f.captured_micro).to_string(0),
             tollgate::credits::from_raw(f.refunded_micro).to_string(0));
  return 0;
}

// The journal opened again, as a restarted service would: the balance, the
// purchases (the tier) and the open tasks come back from it.
int reopen(const std::string& journal) {
  auto ledger = service_gate::ledger_type::open(tollgate::journal_config{.path = journal});
  if (!ledger) return refused("reopen", ledger.error());
  service_gate gate(std::move(*ledger));
  auto org = gate.organization("acme");
  if (!org) return refused("organization", org.error());
  fmt::print("\nafter a restart: {} credits available, {} held, {} open tasks, {}\n", org->credit_balance.to_string(0),
             org->held.to_string(0), gate.tasks("acme").size(), org->tier_name);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 2) {
    std::fputs("usage: tollgate-embedded-service [JOURNAL]\n", stderr);
    return 2;
  }
  std::error_code ec;
  std::filesystem::path folder;  // a temporary folder of ours, removed at the end
  std::string journal;
  if (argc == 2) {
    journal = argv[1];
    if (journal.empty() || std::filesystem::exists(journal, ec)) {
      fmt::print(stderr, "tollgate-embedded-service: '{}': give the path of a new file (the example uses the same "
                         "keys on every run)\n", journal);
      return 2;
    }
  } else {
    std::string pattern = (std::filesystem::temp_directory_path(ec) / "tollgate-embedded-XXXXXX").string();
    if (ec || ::mkdtemp(pattern.data()) == nullptr) {
      std::fputs("tollgate-embedded-service: cannot make a temporary folder\n", stderr);
      return 1;
    }
    folder = pattern;
    journal = (folder / "ledger.journal").string();
  }
  fmt::print("journal: {}\n\n", argc == 2 ? journal : "ledger.journal in a new temporary folder");
  int status = serve(journal);  // the gate and its ledger close when it returns
  if (status == 0) status = reopen(journal);
  if (!folder.empty()) std::filesystem::remove_all(folder, ec);
  return status;
}
