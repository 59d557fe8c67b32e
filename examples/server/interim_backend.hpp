// The task_backend of tollgate-server until tollgate::basic_gate exists
// (issue 12). It does what the pieces on main do without the gate: the
// ledger on its journal buys credits for an account (POST
// /admin/accounts/{account}/purchase, idempotent by its key) and reads the
// balance (GET /admin/accounts/{account}). Everything that needs the gate
// (creating, reading and cancelling tasks, the organization view, the usage
// report, enterprise overrides, autobilling, the tier's monthly spend cap on
// purchases) answers 501 not_implemented, after the API layer has validated
// and priced the request. Delete this file when gate_backend lands.
#pragma once

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <tollgate/ledger/journal_storage.hpp>
#include <tollgate/ledger/ledger.hpp>

#include "clock.hpp"
#include "task_backend.hpp"

namespace tollgate_server {

/// The interim backend (see the file comment). Thread-safe.
class interim_backend final : public task_backend {
 public:
  using ledger_type =
      tollgate::basic_ledger<tollgate::ledger_traits<server_clock, tollgate::journal_storage<>, tollgate::multi_thread>>;

  /// Opens (creates or replays) the journal. Throws std::runtime_error with
  /// the ledger's message when it cannot.
  interim_backend(const std::filesystem::path& journal, tollgate::durability mode, server_clock clock) {
    tollgate::journal_config config;
    config.path = journal.string();
    config.mode = mode;
    auto l = ledger_type::open(std::move(config), tollgate::ledger_options{}, std::move(clock));
    if (!l) throw std::runtime_error(fmt::format("journal '{}': {}", journal.string(), l.error().message()));
    ledger_ = std::move(*l);
  }

  outcome<created_task> submit(const submission&) override { return waits_for_gate("creating a task"); }
  outcome<task_view> get(std::string_view, std::string_view) override { return waits_for_gate("reading a task"); }
  outcome<done> cancel(std::string_view, std::string_view) override { return waits_for_gate("cancelling a task"); }
  outcome<organization_view> organization(std::string_view) override {
    return waits_for_gate("the organization view (tier limits and daily generations)");
  }
  outcome<usage_view> usage(std::string_view, utc_day, utc_day) override {
    return waits_for_gate("the usage report");
  }

  outcome<purchase_view> purchase(std::string_view account, const tollgate::usd& dollars,
                                  std::string_view key) override {
    const std::string ledger_key = fmt::format("purchase/{}/{}", account, key);
    auto r = ledger_->purchase(account, dollars, ledger_key);
    if (!r) return refusal_of(r.error());
    auto b = ledger_->balance(account);
    if (!b) return refusal_of(b.error());
    return purchase_view{r->paid, r->amount, b->available, r->replayed};
  }

  outcome<account_view> account(std::string_view account) override {
    auto b = ledger_->balance(account);
    if (!b) return refusal_of(b.error());
    return account_view{b->available, b->held, b->purchased, b->purchased_usd};
  }

  outcome<done> set_override(std::string_view, const override_spec&) override {
    return waits_for_gate("an enterprise override");
  }
  outcome<done> set_autobilling(std::string_view, const autobilling_spec&) override {
    return waits_for_gate("autobilling");
  }

  std::string metrics_text() override {
    const auto t = ledger_->totals();
    return fmt::format(
        "# HELP tollgate_ledger_accounts Accounts in the ledger.\n# TYPE tollgate_ledger_accounts gauge\n"
        "tollgate_ledger_accounts {}\n"
        "# HELP tollgate_ledger_operations Operations recorded in the ledger.\n# TYPE tollgate_ledger_operations counter\n"
        "tollgate_ledger_operations {}\n"
        "# HELP tollgate_ledger_available_credits Credits available over all accounts.\n"
        "# TYPE tollgate_ledger_available_credits gauge\ntollgate_ledger_available_credits {}\n"
        "# HELP tollgate_ledger_held_credits Credits held by open holds.\n# TYPE tollgate_ledger_held_credits gauge\n"
        "tollgate_ledger_held_credits {}\n",
        t.accounts, t.operations, t.available.to_string(), t.held.to_string());
  }

  void tick() override {}

 private:
  std::unique_ptr<ledger_type> ledger_;
};

}  // namespace tollgate_server
