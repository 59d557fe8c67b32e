// tollgate-ledger: the operator's tool for a ledger journal.
//
//   tollgate-ledger FILE purchase ACCOUNT USD --key K [--json]
//   tollgate-ledger FILE charge ACCOUNT CREDITS --key K [--json]
//   tollgate-ledger FILE grant ACCOUNT CREDITS --key K [--expires-in SECONDS] [--json]
//   tollgate-ledger FILE hold ACCOUNT CREDITS --key K [--timeout SECONDS] [--json]
//   tollgate-ledger FILE capture HOLD CREDITS --key K [--json]
//   tollgate-ledger FILE release HOLD --key K [--json]
//   tollgate-ledger FILE adjust ACCOUNT CREDITS --key K --reason TEXT [--json]
//   tollgate-ledger FILE balance ACCOUNT [--json]
//   tollgate-ledger FILE statement ACCOUNT [--json]
//   tollgate-ledger FILE verify [--json]
//   tollgate-ledger FILE snapshot
//   tollgate-ledger FILE repair --truncate-at OFFSET
//
// Writes go through the journal with every_op durability (the command returns
// once the operation is on disk) and create FILE if it does not exist; reads
// open FILE read-only, so they work while a service has it open for writing.
// Amounts are exact decimals; with --json every amount is an exact decimal
// string. Every number (hold ids, amounts, durations) is plain decimal, in
// range, or bad input (examples/common/arguments.hpp; docs/tools.md). Exit status: 0 on success (for verify: the journal is sound); 1 when
// the ledger refuses the operation or the journal is damaged, locked or
// unreadable (verify names the offset); 2 on bad input, with one line on
// stderr, and then nothing is written.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <tollgate/ledger/ledger.hpp>

#include "../common/arguments.hpp"
#include "../common/cli_support.hpp"
#include "../common/json_output.hpp"

namespace {

using tollgate::credits;
using tollgate::errc;
using tollgate::usd;
using ojson = nlohmann::ordered_json;
using cli_ledger = tollgate::journal_ledger<>;
namespace ld = tollgate::ledger_detail;

using tollgate::examples::bad_input;
using tollgate::examples::exit_bad_input;
using tollgate::examples::exit_ok;
using tollgate::examples::exit_refused;
using tollgate::examples::json_text;
using tollgate::examples::one_line;
using tollgate::examples::or_bad_input;

// The ledger or the journal said no: one line on stderr, exit status 1.
struct refused : std::runtime_error {
  explicit refused(std::string_view message) : std::runtime_error(one_line(message)) {}
};

// Errors that mean the request itself was malformed.
bool is_bad_input(const tollgate::error& e) {
  return e == errc::invalid_amount || e == errc::invalid_account || e == errc::invalid_argument ||
         e == errc::overflow || e == errc::invalid_utf8;
}

[[noreturn]] void fail(const tollgate::error& e) {
  if (is_bad_input(e)) throw bad_input(e.message());
  throw refused(e.message());
}

void check_account(const std::string& a) {
  if (auto r = ld::check_account_id(a); !r) throw bad_input(r.error().message());
}
void check_key(const std::string& k) {
  if (auto r = ld::check_key(k); !r) throw bad_input(r.error().message());
}

std::string time_text(std::chrono::system_clock::time_point t) {
  return ld::time_text(std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

// ------------------------------------------------------------ opening

struct context {
  std::string path;
  bool json = false;
  tollgate::durability mode = tollgate::durability::every_op;
};

std::unique_ptr<cli_ledger> open_for_write(const context& ctx) {
  tollgate::journal_config cfg;
  cfg.path = ctx.path;
  cfg.mode = ctx.mode;
  auto l = cli_ledger::open(cfg);
  if (!l) throw refused(l.error().message());
  // A torn tail was cut: say where its bytes were kept.
  if ((*l)->recovery().torn_tail_cut) {
    std::string_view notes = (*l)->recovery().notes;
    while (!notes.empty()) {
      const auto nl = std::min(notes.find('\n'), notes.size());
      fmt::print(stderr, "tollgate-ledger: note: {}\n", one_line(notes.substr(0, nl)));
      notes.remove_prefix(std::min(nl + 1, notes.size()));
    }
  }
  return std::move(*l);
}

std::unique_ptr<cli_ledger> open_for_read(const context& ctx, bool use_snapshot = true) {
  if (!std::filesystem::exists(ctx.path)) throw bad_input(fmt::format("there is no journal at '{}'", ctx.path));
  tollgate::journal_config cfg;
  cfg.path = ctx.path;
  cfg.read_only = true;
  cfg.use_snapshot = use_snapshot;
  auto l = cli_ledger::open(cfg);
  if (!l) throw refused(l.error().message());
  return std::move(*l);
}

// ------------------------------------------------------------ output

void print_receipt(const context& ctx, std::string_view account, const cli_ledger::receipt& r) {
  if (ctx.json) {
    ojson j;
    j["op"] = r.op;
    j["kind"] = std::string(tollgate::to_string(r.kind));
    if (!account.empty()) j["account"] = std::string(account);
    if (r.hold.value != 0) j["hold"] = r.hold.value;
    j["credits"] = r.amount.to_string();
    if (r.kind == tollgate::operation_kind::capture) j["released"] = r.released.to_string();
    if (r.kind == tollgate::operation_kind::purchase) j["usd"] = r.paid.to_string();
    j["at"] = time_text(r.at);
    j["replayed"] = r.replayed;
    fmt::print("{}\n", json_text(j));
    return;
  }
  std::string what;
  switch (r.kind) {
    case tollgate::operation_kind::purchase:
      what = fmt::format("purchased {} credits for ${} on account {}", r.amount, r.paid, account);
      break;
    case tollgate::operation_kind::grant:
      what = fmt::format("granted {} credits to account {}", r.amount, account);
      break;
    case tollgate::operation_kind::hold:
      what = fmt::format("hold {}: {} credits held on account {}", r.hold, r.amount, account);
      break;
    case tollgate::operation_kind::capture:
      what = fmt::format("hold {}: captured {} credits, released {}", r.hold, r.amount, r.released);
      break;
    case tollgate::operation_kind::release:
      what = fmt::format("hold {}: released {} credits", r.hold, r.amount);
      break;
    case tollgate::operation_kind::charge:
      what = fmt::format("charged {} credits to account {}", r.amount, account);
      break;
    case tollgate::operation_kind::adjust:
      what = fmt::format("adjusted account {} by {} credits", account, r.amount);
      break;
    default: what = std::string(tollgate::to_string(r.kind)); break;
  }
  fmt::print("{} (operation {}{})\n", what, r.op,
             r.replayed ? "; this key was used before, nothing changed" : "");
}

// Applies the request `op`. It is checked first (validate: everything that
// does not depend on the ledger's state), because opening the journal for
// writing cuts a torn tail: bad input must leave every file as it was. When
// FILE does not exist yet it is tried on an empty in-memory ledger too: a
// request the ledger refuses (a charge to an account that has nothing) must
// not leave a new journal behind, and an empty in-memory ledger answers
// exactly as an empty journal would.
int run_op(const context& ctx, std::string_view account, const cli_ledger::operation& op) {
  if (auto v = cli_ledger::validate(op); !v) throw bad_input(v.error().message());
  if (!std::filesystem::exists(ctx.path)) {
    using dry_ledger = tollgate::basic_ledger<tollgate::ledger_traits<
        std::chrono::system_clock, tollgate::memory_storage, tollgate::single_thread>>;
    dry_ledger dry;
    if (auto r = dry.apply(std::span(&op, 1)); !r[0]) fail(r[0].error());
  }
  auto l = open_for_write(ctx);
  auto r = l->apply(std::span(&op, 1));
  if (!r[0]) fail(r[0].error());
  print_receipt(ctx, account, *r[0]);
  return exit_ok;
}

int balance_cmd(const context& ctx, const std::string& account) {
  check_account(account);
  auto l = open_for_read(ctx);
  auto b = l->balance(account);
  if (!b) fail(b.error());
  if (ctx.json) {
    ojson j;
    j["account"] = account;
    j["available"] = b->available.to_string();
    j["held"] = b->held.to_string();
    j["granted"] = b->granted.to_string();
    j["purchased"] = b->purchased.to_string();
    j["purchased_usd"] = b->purchased_usd.to_string();
    j["first_purchase"] = b->first_purchase ? ojson(time_text(*b->first_purchase)) : ojson(nullptr);
    fmt::print("{}\n", json_text(j));
  } else {
    fmt::print("account {}: {} credits available ({} from grants), {} held; {} purchased for ${}{}\n",
               account, b->available, b->granted, b->held, b->purchased, b->purchased_usd,
               b->first_purchase ? ", first on " + time_text(*b->first_purchase) : std::string());
  }
  return exit_ok;
}

int statement_cmd(const context& ctx, const std::string& account) {
  check_account(account);
  auto l = open_for_read(ctx);
  auto st = l->statement(account);
  if (!st) fail(st.error());
  if (ctx.json) {
    ojson j;
    j["account"] = account;
    j["entries"] = ojson::array();
    for (const auto& e : *st) {
      ojson x;
      x["op"] = e.op;
      x["at"] = time_text(e.at);
      x["kind"] = std::string(tollgate::to_string(e.kind));
      x["from"] = std::string(tollgate::to_string(e.from));
      x["to"] = std::string(tollgate::to_string(e.to));
      x["credits"] = e.amount.to_string();
      x["available_after"] = e.available_after.to_string();
      if (e.ref != 0) x["ref"] = e.ref;
      if (!e.reason.empty()) x["reason"] = e.reason;
      j["entries"].push_back(std::move(x));
    }
    fmt::print("{}\n", json_text(j));
    return exit_ok;
  }
  fmt::print("{:>6}  {:<24}  {:<13}  {:>11} -> {:<11}  {:>14}  {:>14}  {}\n", "op", "time (UTC)", "kind",
             "from", "to", "credits", "available", "ref / reason");
  for (const auto& e : *st)
    fmt::print("{:>6}  {:<24}  {:<13}  {:>11} -> {:<11}  {:>14}  {:>14}  {}\n", e.op, time_text(e.at),
               tollgate::to_string(e.kind), tollgate::to_string(e.from), tollgate::to_string(e.to),
               e.amount, e.available_after,
               e.reason.empty() ? (e.ref ? std::to_string(e.ref) : std::string())
                                : tollgate::examples::printable(e.reason));
  return exit_ok;
}

int verify_cmd(const context& ctx) {
  // Replays the whole journal, ignoring any snapshot, and checks every
  // invariant; then checks that the snapshot (if any) agrees.
  if (!std::filesystem::exists(ctx.path)) throw bad_input(fmt::format("there is no journal at '{}'", ctx.path));
  tollgate::journal_config cfg;
  cfg.path = ctx.path;
  cfg.read_only = true;
  cfg.use_snapshot = false;
  auto opened = cli_ledger::open(cfg);
  if (!opened) {
    if (ctx.json) {
      ojson j;
      j["ok"] = false;
      j["error"] = opened.error().message();
      fmt::print("{}\n", json_text(j));
    }
    throw refused(opened.error().message());
  }
  cli_ledger& l = **opened;
  auto inv = l.check_invariants();
  const auto t = l.totals();
  const auto& rep = l.recovery();
  std::string snapshot_state = "none";
  if (std::filesystem::exists(ctx.path + ".snapshot")) {
    cfg.use_snapshot = true;
    auto s = cli_ledger::open(cfg);
    if (!s || !(*s)->recovery().snapshot_used) {
      snapshot_state = "ignored: " + (s ? one_line((*s)->recovery().notes) : s.error().message());
    } else {
      const auto st = (*s)->totals();
      bool same = st.operations == t.operations && st.entries == t.entries && st.accounts == t.accounts;
      for (std::size_t p = 0; p < tollgate::party_count; ++p) same = same && st.balances[p] == t.balances[p];
      snapshot_state = same ? fmt::format("agrees (covers {} records)", (*s)->recovery().snapshot_records)
                            : "DISAGREES with the journal";
      if (!same && inv) inv = tollgate::result<void>(errc::corrupt_journal, "the snapshot disagrees with the journal");
    }
  }
  auto balance = [&](tollgate::party p) { return t.balances[static_cast<int>(p)]; };
  if (ctx.json) {
    ojson j;
    j["ok"] = static_cast<bool>(inv);
    if (!inv) j["error"] = inv.error().message();
    j["records"] = rep.records;
    j["operations"] = t.operations;
    j["accounts"] = t.accounts;
    j["entries"] = t.entries;
    j["open_holds"] = t.open_holds;
    j["end_offset"] = rep.end_offset;
    j["torn_tail"] = rep.torn_tail;
    if (rep.torn_tail) {
      j["torn_offset"] = rep.torn_offset;
      j["torn_bytes"] = rep.torn_bytes;
    }
    j["snapshot"] = snapshot_state;
    ojson totals;
    totals["available"] = t.available.to_string();
    totals["held"] = t.held.to_string();
    totals["purchased"] = t.purchased.to_string();
    totals["purchased_usd"] = t.purchased_usd.to_string();
    for (std::size_t p = 1; p < tollgate::party_count; ++p)
      totals[std::string(tollgate::to_string(static_cast<tollgate::party>(p)))] = t.balances[p].to_string();
    j["totals"] = totals;
    fmt::print("{}\n", json_text(j));
  } else {
    fmt::print("journal {}: {} records, {} operations, {} accounts, {} entries, {} open holds\n",
               tollgate::examples::printable(ctx.path), rep.records, t.operations, t.accounts, t.entries, t.open_holds);
    fmt::print("  sold {} credits for ${}; granted {}; adjusted {}\n", t.purchased, t.purchased_usd,
               -balance(tollgate::party::grants), -balance(tollgate::party::adjustments));
    fmt::print("  used {}, expired {}, held {}, available {}\n", balance(tollgate::party::usage),
               balance(tollgate::party::expired), t.held, t.available);
    if (rep.torn_tail && rep.torn_bytes == 0)  // records the watermark names, not in the file
      fmt::print("  {}\n", one_line(rep.notes.substr(rep.notes.find("torn tail"))));
    else if (rep.torn_tail)
      fmt::print("  torn tail: {} bytes at offset {} from a write that was never acknowledged "
                 "(cut off on the next writable open, which first copies them to {}.torn-{})\n",
                 rep.torn_bytes, rep.torn_offset, tollgate::examples::printable(ctx.path), rep.torn_offset);
    fmt::print("  snapshot: {}\n", snapshot_state);
    fmt::print("  {}\n", inv ? "every invariant holds" : inv.error().message());
  }
  if (!inv) throw refused(inv.error().message());
  return exit_ok;
}

// Keeps the records before `offset` (the one a refused open names), after
// copying the rest beside the journal: the operator's explicit choice.
int repair_cmd(const context& ctx, const std::string& offset) {
  const std::uint64_t at = or_bad_input(tollgate::examples::parse_whole(offset, "--truncate-at"));
  if (!std::filesystem::exists(ctx.path)) throw bad_input(fmt::format("there is no journal at '{}'", ctx.path));
  tollgate::journal_config cfg;
  cfg.path = ctx.path;
  auto r = cli_ledger::repair(cfg, at);
  if (!r) fail(r.error());
  if (r->cut_bytes == 0)
    fmt::print("journal {}: kept its {} records, nothing after offset {}; its header now says so\n",
               ctx.path, r->records, r->cut_offset);
  else
    fmt::print("journal {}: kept the {} records before offset {}; the {} bytes cut from there are in {}\n",
               ctx.path, r->records, r->cut_offset, r->cut_bytes, r->copy);
  return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tollgate-ledger: purchases, charges, balances and checks on a ledger journal"};
  app.require_subcommand(1);
  context ctx;
  // Every argument is taken as text and parsed by arguments.hpp: CLI11's
  // own number parsing took `012` as octal, `0x1` as hex, wrapped negative
  // numbers and clamped large ones.
  std::string account, amount, key, reason, expires_in, timeout, hold_text;
  app.add_option("journal", ctx.path, "the journal file")->required();
  std::string mode = "every_op";
  app.add_option("--durability", mode, "every_op (default), group_commit or none")
      ->check(CLI::IsMember({"every_op", "group_commit", "none"}));

  auto add_json = [&](CLI::App* c) { c->add_flag("--json", ctx.json, "print JSON"); };
  auto* purchase = app.add_subcommand("purchase", "buy credits with dollars at the account's price");
  purchase->add_option("account", account)->required();
  purchase->add_option("usd", amount, "dollars, e.g. 10 or 12.50")->required();
  purchase->add_option("--key", key, "idempotency key")->required();
  add_json(purchase);
  auto* charge = app.add_subcommand("charge", "take credits from the account (hold + capture)");
  charge->add_option("account", account)->required();
  charge->add_option("credits", amount)->required();
  charge->add_option("--key", key, "idempotency key")->required();
  add_json(charge);
  auto* grant = app.add_subcommand("grant", "give promotional credits");
  grant->add_option("account", account)->required();
  grant->add_option("credits", amount)->required();
  grant->add_option("--key", key, "idempotency key")->required();
  auto* o_expires_in = grant->add_option("--expires-in", expires_in, "seconds until the grant expires");
  add_json(grant);
  auto* hold_cmd = app.add_subcommand("hold", "reserve credits for a job");
  hold_cmd->add_option("account", account)->required();
  hold_cmd->add_option("credits", amount)->required();
  hold_cmd->add_option("--key", key, "idempotency key")->required();
  auto* o_timeout = hold_cmd->add_option("--timeout", timeout, "seconds after which the hold is released");
  add_json(hold_cmd);
  auto* capture = app.add_subcommand("capture", "take (part of) a hold, release the rest");
  capture->add_option("hold", hold_text, "the id a hold returned")->required();
  capture->add_option("credits", amount)->required();
  capture->add_option("--key", key, "idempotency key")->required();
  add_json(capture);
  auto* release = app.add_subcommand("release", "return a whole hold");
  release->add_option("hold", hold_text, "the id a hold returned")->required();
  release->add_option("--key", key, "idempotency key")->required();
  add_json(release);
  auto* adjust = app.add_subcommand("adjust", "an operator's correction (negative removes credits)");
  adjust->add_option("account", account)->required();
  adjust->add_option("credits", amount)->required();
  adjust->add_option("--key", key, "idempotency key")->required();
  adjust->add_option("--reason", reason, "why, for the statement")->required();
  add_json(adjust);
  auto* balance = app.add_subcommand("balance", "an account's balance");
  balance->add_option("account", account)->required();
  add_json(balance);
  auto* statement = app.add_subcommand("statement", "an account's entries");
  statement->add_option("account", account)->required();
  add_json(statement);
  auto* verify = app.add_subcommand("verify", "replay the journal and check every invariant");
  add_json(verify);
  auto* snapshot = app.add_subcommand("snapshot", "write a snapshot so the journal opens fast");
  std::string truncate_at;
  auto* repair = app.add_subcommand(
      "repair", "keep the records before an offset a refused open named, copying the rest to FILE.cut-OFFSET");
  repair->add_option("--truncate-at", truncate_at, "where the records to keep end")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line, as for every other bad input (CLI11's app.exit() adds a
    // second, "Run with --help for more information.").
    fmt::print(stderr, "tollgate-ledger: {} (see --help)\n", one_line(e.what()));
    return exit_bad_input;
  }
  ctx.mode = mode == "group_commit" ? tollgate::durability::group_commit
             : mode == "none"       ? tollgate::durability::none
                                    : tollgate::durability::every_op;
  try {
    // Everything about the request is checked before the journal is opened
    // for writing (which would create it).
    if (purchase->parsed()) {
      check_account(account);
      check_key(key);
      const usd d = or_bad_input(tollgate::examples::parse_usd(amount, "dollars"));
      return run_op(ctx, account, cli_ledger::operation::purchase(account, d, key));
    }
    if (charge->parsed()) {
      check_account(account);
      check_key(key);
      const credits c = or_bad_input(tollgate::examples::parse_credits(amount, "credits"));
      return run_op(ctx, account, cli_ledger::operation::charge(account, c, key));
    }
    if (grant->parsed()) {
      check_account(account);
      check_key(key);
      const credits c = or_bad_input(tollgate::examples::parse_credits(amount, "credits"));
      std::optional<std::chrono::nanoseconds> in;
      if (*o_expires_in) in = or_bad_input(tollgate::examples::parse_duration(expires_in, "--expires-in"));
      // The expiry stays relative: the ledger adds it to the operation's
      // time, so a retry of the same command is the same request.
      return run_op(ctx, account,
                    in ? cli_ledger::operation::grant(account, c, key,
                                                      std::chrono::duration_cast<cli_ledger::duration>(*in))
                       : cli_ledger::operation::grant(account, c, key));
    }
    if (hold_cmd->parsed()) {
      check_account(account);
      check_key(key);
      const credits c = or_bad_input(tollgate::examples::parse_credits(amount, "credits"));
      std::optional<cli_ledger::duration> t;
      // Given and empty is an error, not "no timeout".
      if (*o_timeout)
        t = std::chrono::duration_cast<cli_ledger::duration>(
            or_bad_input(tollgate::examples::parse_duration(timeout, "--timeout")));
      return run_op(ctx, account, cli_ledger::operation::hold_credits(account, c, key, t));
    }
    if (capture->parsed()) {
      check_key(key);
      const tollgate::hold_id hold{or_bad_input(tollgate::examples::parse_hold_id(hold_text))};
      const credits c = or_bad_input(
          tollgate::examples::parse_credits(amount, "credits", tollgate::examples::amount_sign::non_negative));
      return run_op(ctx, "", cli_ledger::operation::capture(hold, c, key));
    }
    if (release->parsed()) {
      check_key(key);
      const tollgate::hold_id hold{or_bad_input(tollgate::examples::parse_hold_id(hold_text))};
      return run_op(ctx, "", cli_ledger::operation::release(hold, key));
    }
    if (adjust->parsed()) {
      check_account(account);
      check_key(key);
      const credits c = or_bad_input(
          tollgate::examples::parse_credits(amount, "credits", tollgate::examples::amount_sign::non_zero));
      if (reason.empty()) throw bad_input("an adjustment needs a --reason");
      return run_op(ctx, account, cli_ledger::operation::adjust(account, c, key, reason));
    }
    if (balance->parsed()) return balance_cmd(ctx, account);
    if (statement->parsed()) return statement_cmd(ctx, account);
    if (verify->parsed()) return verify_cmd(ctx);
    if (repair->parsed()) return repair_cmd(ctx, truncate_at);
    if (snapshot->parsed()) {
      if (!std::filesystem::exists(ctx.path))
        throw bad_input(fmt::format("there is no journal at '{}'", ctx.path));
      auto l = open_for_write(ctx);
      if (auto s = l->snapshot(); !s) fail(s.error());
      fmt::print("snapshot written: {} operations\n", l->totals().operations);
      return exit_ok;
    }
  } catch (const bad_input& e) {
    fmt::print(stderr, "tollgate-ledger: {}\n", one_line(e.what()));
    return exit_bad_input;
  } catch (const refused& e) {
    fmt::print(stderr, "tollgate-ledger: {}\n", one_line(e.what()));
    return exit_refused;
  } catch (const std::exception& e) {
    fmt::print(stderr, "tollgate-ledger: internal error: {}\n", one_line(e.what()));
    return exit_refused;
  }
  return exit_bad_input;
}
