// The task_backend of tollgate-server on tollgate::basic_gate: the gate on a
// ledger journal admits, holds, queues and settles every task, sells credits
// under the tier's spend cap, applies enterprise overrides and autobilling,
// and reports the organization view and the usage report; the simulated
// generator (simulator.hpp) runs what the gate starts and tells the gate how
// each task ended. The wiring is event-driven: the gate's observer hears
// every decision (after the gate's locks are released, on the thread that
// caused it) and hands each task that takes a slot to the generator, so tasks
// started from a queue (a freed slot, a promotion, an override) run without
// the API layer knowing. docs/server.md, "On the gate", describes what
// survives a restart and what does not yet.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <tollgate/gate.hpp>
#include <tollgate/json/report.hpp>
#include <tollgate/ledger/journal_storage.hpp>
#include <tollgate/ledger/ledger.hpp>

#include "clock.hpp"
#include "config.hpp"
#include "requests.hpp"
#include "simulator.hpp"
#include "task_backend.hpp"

namespace tollgate_server {

/// The payment gateway of the simulation: every automatic recharge is
/// approved (no money moves; a real deployment calls its payment provider
/// here, idempotently under the request's key).
struct simulated_payments {
  [[nodiscard]] tollgate::payment_result charge(const tollgate::payment_request&) const {
    return {tollgate::payment_status::succeeded, "approved (simulated payments)"};
  }
};

/// Hears the gate: counts everything (counters_observer, for GET /metrics)
/// and forwards each task event to the backend. Copies share both.
struct gate_events {
  using time_point = server_clock::time_point;
  using task_sink = std::function<void(const tollgate::basic_task_event<time_point>&)>;

  tollgate::counters_observer counters{};
  std::shared_ptr<task_sink> sink = std::make_shared<task_sink>();

  void on(const tollgate::basic_task_event<time_point>& e) {
    counters.on(e);
    if (*sink) (*sink)(e);
  }
  template <class Event>
  void on(const Event& e) {
    counters.on(e);
  }
};

/// The gate's policies in the server: the server's clock everywhere, the
/// ledger on its journal, limits in process, simulated payments.
struct server_gate_traits : tollgate::gate_traits<server_clock> {
  using ledger = tollgate::basic_ledger<
      tollgate::ledger_traits<server_clock, tollgate::journal_storage<>, tollgate::multi_thread>>;
  using backend = tollgate::basic_local_backend<server_clock, tollgate::multi_thread>;
  using gateway = simulated_payments;
  using observer = gate_events;
};
using server_gate = tollgate::basic_gate<server_gate_traits>;
static_assert(tollgate::GateObserver<gate_events, server_clock::time_point>);

/// What opening the journal found (logged at start).
struct gate_recovery {
  std::size_t accounts = 0;            ///< accounts in the ledger
  std::size_t tasks = 0;               ///< open tasks the gate brought back
  std::size_t orphan_holds = 0;        ///< open holds no task owned: released (refunded)
  tollgate::credits orphan_credits{};  ///< what those held
};

/// The gate backend (see the file comment). Thread-safe.
class gate_backend final : public task_backend {
 public:
  using ledger_type = server_gate_traits::ledger;
  using time_point = server_clock::time_point;

  /**
   * Opens (creates or replays) the journal and the gate on it, and starts the
   * generator. Throws std::runtime_error with the ledger's message when the
   * journal cannot be opened, or when it cannot release an orphan hold.
   */
  gate_backend(const std::filesystem::path& journal, tollgate::durability mode, const tollgate::catalog& catalog,
               simulation_settings simulation, server_clock clock)
      : clock_(clock), simulator_(simulation, clock) {
    tollgate::basic_gate_options<> options;
    options.catalog = catalog;
    // A task that gets a slot is PENDING until a worker of the generator
    // claims it (start(): RUNNING), as the provider's tasks are.
    options.explicit_start = true;
    tollgate::ledger_options lo;
    lo.price = catalog.price();
    options.ledger = lo;
    tollgate::journal_config config;
    config.path = journal.string();
    config.mode = mode;
    auto l = ledger_type::open(std::move(config), lo, clock);
    if (!l) throw std::runtime_error(fmt::format("journal '{}': {}", journal.string(), l.error().message()));
    gate_events events;
    *events.sink = [this](const tollgate::basic_task_event<time_point>& e) { on_task_event(e); };
    counters_ = events.counters;
    gate_ = std::make_unique<server_gate>(std::move(*l), std::move(options), simulated_payments{}, std::move(events));
    recover();
    simulator_.run([this](const std::string& task, const generation_result& r) { on_generated(task, r); },
                   [this](std::string_view task) { return on_claimed(task); });
    if (!clock_.manual()) upkeep_ = std::thread([this] { upkeep_loop(); });
  }

  gate_backend(const gate_backend&) = delete;
  gate_backend& operator=(const gate_backend&) = delete;

  /// Stops the generator and the upkeep thread; the gate closes the journal.
  /// Tasks still running keep their holds (the next start deals with them).
  ~gate_backend() override {
    {
      std::lock_guard lk(upkeep_mutex_);
      stopping_ = true;
    }
    upkeep_wake_.notify_all();
    if (upkeep_.joinable()) upkeep_.join();
    simulator_.stop();
  }

  [[nodiscard]] const gate_recovery& recovery() const noexcept { return recovery_; }
  [[nodiscard]] server_gate& gate() noexcept { return *gate_; }
  [[nodiscard]] simulated_generator& generator() noexcept { return simulator_; }

  // ------------------------------------------------------------ tasks

  outcome<created_task> submit(const submission& s) override {
    // A create without Idempotency-Key is a new task: a key no one repeats
    // (this process's random prefix and a counter). With one, the gate makes
    // it exactly-once per account; the body's digest catches a key reused
    // with another request that prices the same (another prompt).
    char generated[48];
    std::string keyed;
    std::string_view key;
    bool claimed = false;
    if (s.idempotency_key.empty()) {
      const auto n = fmt::format_to_n(generated, sizeof generated, "a:{:x}:{:x}", boot_,
                                      sequence_.fetch_add(1, std::memory_order_relaxed));
      key = std::string_view(generated, n.size);  // on the stack: no allocation per create
    } else {
      keyed = "i:" + s.idempotency_key;
      key = keyed;
      auto c = claim_key(s.account, s.idempotency_key, s.body_digest);
      if (auto* e = std::get_if<refusal>(&c)) return *e;
      claimed = std::get<bool>(c);
    }
    pending_job() = &s.job;
    auto r = gate_->submit(s.account, s.job, key);
    pending_job() = nullptr;
    if (!r) {
      if (claimed) unclaim_key(s.account, s.idempotency_key);
      refusal out = refusal_of(r.error());
      if (r.code() == tollgate::errc::daily_limit && r.retry_after()) {
        const auto wait = std::chrono::ceil<std::chrono::seconds>(*r.retry_after());
        out.retry_after = std::max(wait, std::chrono::seconds(1));
      }
      return out;
    }
    return created_task{r->id, r->estimate};
  }

  outcome<task_view> get(std::string_view account, std::string_view id) override {
    if (deleted(account, id)) return unknown_task(id);
    auto t = gate_->get(tollgate::task_ref{account, id});
    if (!t) return unknown_task(id);
    return view_of(std::move(*t));
  }

  /// DELETE /v1/tasks/{id}, as the client's docs describe tasks.delete: an
  /// open task (PENDING, THROTTLED, RUNNING) is cancelled (refunded in full),
  /// any other is deleted; either way it cannot be fetched again (404). Its
  /// credits and the ledger's record of them are untouched.
  outcome<done> cancel(std::string_view account, std::string_view id) override {
    const tollgate::task_ref ref{account, id};
    if (deleted(account, id)) return unknown_task(id);
    auto t = gate_->get(ref);
    if (!t) return unknown_task(id);
    if (!tollgate::is_final(t->status)) {
      auto c = gate_->cancel(ref);
      if (!c) {
        // It ended between the two calls (the generator finished it): delete it.
        auto again = gate_->get(ref);
        if (!again || !tollgate::is_final(again->status)) return refusal_of(c.error());
      }
    }
    mark_deleted(account, id);
    return done{};
  }

  // ------------------------------------------------------------ reports

  outcome<organization_view> organization(std::string_view account) override {
    auto o = gate_->organization(account);
    if (!o) return refusal_of(o.error());
    organization_view v;
    v.balance = o->credit_balance;
    v.max_monthly_spend = o->max_monthly_credit_spend;
    for (const auto& m : o->models) {
      model_view mv;
      if (!m.max_concurrent.is_unlimited()) mv.max_concurrent = m.max_concurrent.max();
      if (!m.max_daily.is_unlimited()) mv.max_daily = m.max_daily.max();
      mv.daily_generations = m.daily_generations;
      v.models.emplace(m.model, mv);
    }
    v.extensions = tollgate::json::organization_json(*o)["tollgate"];
    return v;
  }

  outcome<usage_view> usage(std::string_view account, utc_day first, utc_day before) override {
    auto u = gate_->usage(account, first, before - std::chrono::days(1));
    if (!u) return refusal_of(u.error());
    usage_view v;
    v.models = u->models;
    for (const auto& d : u->results) v.results.push_back({tollgate::report_detail::day_text(d.date), d.used});
    return v;
  }

  // ------------------------------------------------------------ administration

  outcome<purchase_view> purchase(std::string_view account, const tollgate::usd& dollars,
                                  std::string_view key) override {
    auto r = gate_->purchase(account, dollars, key);
    if (!r) return refusal_of(r.error());
    return purchase_view{r->paid, r->amount, r->available, r->replayed};
  }

  outcome<account_view> account(std::string_view account) override {
    auto b = gate_->ledger().balance(account);
    if (!b) return refusal_of(b.error());
    return account_view{b->available, b->held, b->purchased, b->purchased_usd};
  }

  outcome<task_record> task_credits(std::string_view account, std::string_view id) override {
    using tollgate::gate_detail::task_key;
    task_record out;
    if (auto t = gate_->get(tollgate::task_ref{account, id}); t && !deleted(account, id)) out.task = view_of(std::move(*t));
    const auto& ledger = gate_->ledger();
    // The gate's ledger keys of a task's steps (gate/detail/ids.hpp); a hold
    // released at start as an orphan has the server's key (recover()).
    const auto hold = ledger.lookup(task_key("h", id));
    if (!hold) {
      out.hold = "none";
      return out;
    }
    out.held = hold->amount;
    if (const auto c = ledger.lookup(task_key("c", id))) {
      out.hold = "captured";
      out.captured = c->amount;
    } else if (ledger.lookup(task_key("r", id)) || ledger.lookup(fmt::format("orphan:{}", hold->hold.value))) {
      out.hold = "released";
    } else {
      out.hold = "open";
    }
    return out;
  }

  outcome<done> set_override(std::string_view account, const override_spec& spec) override {
    tollgate::account_overrides o;
    const tollgate::override_note note{"admin-api", fmt::format("PUT /admin/accounts/{}/override", account)};
    if (!spec.clear) {
      const auto job_limit = [](const std::optional<std::uint64_t>& v) {
        return v ? tollgate::job_limit(*v) : tollgate::job_limit::unlimited();
      };
      for (const auto& [model, m] : spec.models)
        o.limits.push_back(tollgate::limit_override{tollgate::override_scope::model, model, job_limit(m.max_concurrent),
                                                    job_limit(m.max_daily), tollgate::override_mode::enforced, note});
      if (spec.monthly_spend)
        o.spend_caps.push_back(
            tollgate::spend_cap_override{*spec.monthly_spend, tollgate::override_mode::enforced, note});
    }
    if (auto r = gate_->set_overrides(account, std::move(o)); !r) return refusal_of(r.error());
    return done{};
  }

  outcome<done> set_autobilling(std::string_view account, const autobilling_spec& spec) override {
    tollgate::autobilling_settings s;
    if (spec.enabled) {
      s.enabled = true;
      s.threshold = spec.threshold;
      s.recharge = tollgate::fixed_recharge{spec.amount};
    } else if (auto old = gate_->autobilling(account)) {
      s = *old;
      s.enabled = false;
    } else {
      s.recharge = tollgate::fixed_recharge{*tollgate::usd::parse("0.01")};  // off: the amount is never used
    }
    if (auto r = gate_->set_autobilling(account, std::move(s)); !r) return refusal_of(r.error());
    return done{};
  }

  std::string metrics_text() override {
    const auto t = gate_->ledger().totals();
    std::string out = counters_.prometheus_text();
    out += fmt::format(
        "# HELP tollgate_ledger_accounts Accounts in the ledger.\n# TYPE tollgate_ledger_accounts gauge\n"
        "tollgate_ledger_accounts {}\n"
        "# HELP tollgate_ledger_operations Operations recorded in the ledger.\n# TYPE tollgate_ledger_operations counter\n"
        "tollgate_ledger_operations {}\n"
        "# HELP tollgate_ledger_available_credits Credits available over all accounts.\n"
        "# TYPE tollgate_ledger_available_credits gauge\ntollgate_ledger_available_credits {}\n"
        "# HELP tollgate_ledger_held_credits Credits held by open holds.\n# TYPE tollgate_ledger_held_credits gauge\n"
        "tollgate_ledger_held_credits {}\n"
        "# HELP tollgate_generator_running Tasks the simulated generator is running.\n"
        "# TYPE tollgate_generator_running gauge\ntollgate_generator_running {}\n",
        t.accounts, t.operations, t.available.to_string(), t.held.to_string(), simulator_.running());
    return out;
  }

  void tick() override {
    simulator_.run_due();
    (void)gate_->sweep();
  }

 private:
  struct open_task {
    std::string account;
    tollgate::usage usage;
    tollgate::media_kind kind = tollgate::media_kind::video;
  };

  // The job being submitted on this thread: the admission event takes its usage.
  static const tollgate::job*& pending_job() {
    thread_local const tollgate::job* j = nullptr;
    return j;
  }

  static refusal unknown_task(std::string_view id) {
    return refusal{404, "not_found", fmt::format("no task '{}' (unknown, of another account, or finished more than "
                                                 "24 hours ago)", requests_detail::shown(id)),
                   std::nullopt};
  }

  [[nodiscard]] tollgate::media_kind kind_of(std::string_view model) const {
    const auto* m = gate_->catalog().find(model);
    return m ? m->kind : tollgate::media_kind::video;
  }

  [[nodiscard]] task_view view_of(server_gate::task&& t) const {
    task_view v;
    v.created_at = t.created_at;
    v.estimate = t.estimate;
    v.cost = t.cost;
    v.status = t.status;
    switch (t.status) {
      case tollgate::task_status::pending:
      case tollgate::task_status::throttled:
      case tollgate::task_status::cancelled: break;
      case tollgate::task_status::running:
        v.progress = simulator_.progress(t.id).value_or(0.0);
        break;
      case tollgate::task_status::succeeded:
        v.output = simulator_.outputs(t.id, kind_of(t.model));
        break;
      case tollgate::task_status::failed: {
        // fail()'s reason is "CODE message" (see on_generated); a reason of
        // another shape (a recovered task released by the gate) is all message.
        const std::string& r = t.failure;
        const auto space = r.find(' ');
        const bool coded = space != std::string::npos && space > 0 &&
                           std::all_of(r.begin(), r.begin() + static_cast<std::ptrdiff_t>(space), [](char c) {
                             return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_';
                           });
        v.failure_code = coded ? r.substr(0, space) : std::string();
        v.failure = coded ? r.substr(space + 1) : r.empty() ? std::string("The task failed.") : r;
        break;
      }
    }
    v.id = std::move(t.id);
    return v;
  }

  // ------------------------------------------------------------ events

  // Called by the gate's observer, with no gate lock held.
  void on_task_event(const tollgate::basic_task_event<time_point>& e) {
    using k = tollgate::task_event_kind;
    switch (e.kind) {
      case k::admitted: {
        const tollgate::job* j = pending_job();
        std::lock_guard lk(open_mutex_);
        open_task& o = open_[std::string(e.task)];
        o.account = std::string(e.account);
        if (j != nullptr) o.usage = j->usage;
        o.kind = kind_of(e.model);
        break;
      }
      case k::started:
        if (tollgate::holds_slot(e.status)) simulator_.start(e.task, e.model, kind_of(e.model));
        break;
      case k::completed:
      case k::failed:
      case k::cancelled:
      case k::orphaned: {
        if (e.kind != k::completed && e.kind != k::failed) (void)simulator_.forget(e.task);
        std::lock_guard lk(open_mutex_);
        if (const auto it = open_.find(e.task); it != open_.end()) open_.erase(it);
        break;
      }
      default: break;
    }
  }

  // A worker of the generator begins a task: the gate's start() (PENDING ->
  // RUNNING). False when the task ended meanwhile (cancelled).
  bool on_claimed(std::string_view id) {
    std::string account;
    {
      std::lock_guard lk(open_mutex_);
      const auto it = open_.find(id);
      if (it == open_.end()) return false;
      account = it->second.account;
    }
    auto r = gate_->start(tollgate::task_ref{account, id});
    if (!r && r.code() != tollgate::errc::invalid_argument)  // invalid_argument: it ended meanwhile
      fmt::print(stderr, "tollgate-server: starting task {}: {}\n", id, r.error().message());
    return r.has_value();
  }

  // The generator finished a task: capture its cost, or refund it.
  void on_generated(const std::string& id, const generation_result& r) {
    open_task o;
    {
      std::lock_guard lk(open_mutex_);
      const auto it = open_.find(id);
      if (it == open_.end()) return;  // cancelled meanwhile
      o = it->second;
    }
    const tollgate::task_ref ref{o.account, id};
    if (r.succeeded) {
      auto c = gate_->complete(ref, o.usage);
      if (!c && c.code() != tollgate::errc::invalid_argument)  // invalid_argument: cancelled meanwhile
        fmt::print(stderr, "tollgate-server: completing task {}: {}\n", id, c.error().message());
    } else {
      auto f = gate_->fail(ref, r.failure_code.empty() ? r.failure : r.failure_code + " " + r.failure);
      if (!f && f.code() != tollgate::errc::invalid_argument)
        fmt::print(stderr, "tollgate-server: failing task {}: {}\n", id, f.error().message());
    }
  }

  // ------------------------------------------------------------ idempotency

  // Reserves (account, key) for a request with `digest`: true when this call
  // reserved it, false when the same request holds it (a retry), a 409 when
  // another request does. Entries live as long as the gate keeps a finished
  // task (24 hours); they do not survive a restart (the gate's own check of
  // the model and usage does).
  outcome<bool> claim_key(const std::string& account, const std::string& key, std::uint64_t digest) {
    const time_point now = clock_.now();
    std::lock_guard lk(keys_mutex_);
    while (!key_order_.empty() && key_order_.front().first + std::chrono::hours(24) <= now) {
      keys_.erase(key_order_.front().second);
      key_order_.pop_front();
    }
    std::string k = account + '\n' + key;
    const auto it = keys_.find(k);
    if (it != keys_.end()) {
      if (it->second == digest) return false;
      return refusal{409, "idempotency_conflict",
                     fmt::format("Idempotency-Key '{}' was used for another request; a new request needs a new key", key),
                     std::nullopt};
    }
    keys_.emplace(k, digest);
    key_order_.emplace_back(now, std::move(k));
    return true;
  }

  void unclaim_key(const std::string& account, const std::string& key) {
    std::lock_guard lk(keys_mutex_);
    keys_.erase(account + '\n' + key);  // its place in key_order_ goes when it expires
  }

  // ------------------------------------------------------------ deleted tasks

  // Tasks deleted (or cancelled) through DELETE: the gate keeps a finished
  // task readable for its retention, the provider does not. Kept as long as
  // the gate keeps the task (a task is deleted after it finished, so its
  // entry outlives the gate's record); by id, each with its account.
  bool deleted(std::string_view account, std::string_view id) {
    if (deleted_count_.load(std::memory_order_acquire) == 0) return false;  // the common case: no lock
    std::lock_guard lk(deleted_mutex_);
    const auto it = deleted_.find(id);
    return it != deleted_.end() && it->second == account;
  }

  void mark_deleted(std::string_view account, std::string_view id) {
    const time_point now = clock_.now();
    std::lock_guard lk(deleted_mutex_);
    while (!deleted_order_.empty() && deleted_order_.front().first + gate_->options().task_retention <= now) {
      deleted_.erase(deleted_order_.front().second);
      deleted_order_.pop_front();
    }
    if (deleted_.emplace(std::string(id), std::string(account)).second) deleted_order_.emplace_back(now, std::string(id));
    deleted_count_.store(deleted_.size(), std::memory_order_release);
  }

  // ------------------------------------------------------------ recovery

  // After the journal is open: hands the open tasks the gate brought back to
  // the generator, and releases (refunds) every open hold that no task owns:
  // the holds of tasks that were open when the process stopped, which this
  // gate cannot rebuild (docs/server.md).
  void recover() {
    auto& ledger = gate_->ledger();
    std::set<std::uint64_t> owned;
    std::vector<std::pair<std::uint64_t, tollgate::credits>> orphans;
    const auto accounts = ledger.accounts();
    recovery_.accounts = accounts.size();
    for (const std::string& account : accounts) {
      for (const auto& t : gate_->tasks(account)) {
        owned.insert(t.hold.value);
        ++recovery_.tasks;
        {
          std::lock_guard lk(open_mutex_);
          open_task& o = open_[t.id];
          o.account = account;
          o.kind = kind_of(t.model);
        }
        if (tollgate::holds_slot(t.status)) simulator_.start(t.id, t.model, kind_of(t.model));  // claimed by a worker
      }
      auto st = ledger.statement(account);
      if (!st) throw std::runtime_error(fmt::format("reading account '{}': {}", account, st.error().message()));
      std::map<std::uint64_t, tollgate::credits> open;
      for (const auto& e : *st) {
        if (e.kind == tollgate::entry_kind::hold) open[e.ref] = e.amount;
        else if (e.kind == tollgate::entry_kind::capture || e.kind == tollgate::entry_kind::release ||
                 e.kind == tollgate::entry_kind::hold_expired)
          open.erase(e.ref);
      }
      for (const auto& [hold, amount] : open)
        if (owned.count(hold) == 0) orphans.push_back({hold, amount});
    }
    // Released in batches: one journal record (and one sync) per batch, not per hold.
    constexpr std::size_t batch = 256;
    for (std::size_t from = 0; from < orphans.size(); from += batch) {
      const std::size_t to = std::min(orphans.size(), from + batch);
      std::vector<std::string> keys;
      std::vector<ledger_type::operation> ops;
      keys.reserve(to - from);
      for (std::size_t i = from; i < to; ++i) keys.push_back(fmt::format("orphan:{}", orphans[i].first));
      for (std::size_t i = from; i < to; ++i)
        ops.push_back(ledger_type::operation::release(tollgate::hold_id{orphans[i].first}, keys[i - from]));
      const auto results = ledger.apply(ops);
      for (std::size_t i = from; i < to; ++i) {
        const auto& r = results[i - from];
        if (!r && r.code() != tollgate::errc::unknown_hold)
          throw std::runtime_error(fmt::format("releasing hold {}: {}", orphans[i].first, r.error().message()));
        ++recovery_.orphan_holds;
        recovery_.orphan_credits += orphans[i].second;
      }
    }
  }

  // ------------------------------------------------------------ upkeep

  // On the system clock: promotions by age (and the queued tasks they
  // release) once a minute.
  void upkeep_loop() {
    std::unique_lock lk(upkeep_mutex_);
    while (!stopping_) {
      upkeep_wake_.wait_for(lk, std::chrono::seconds(60), [this] { return stopping_; });
      if (stopping_) break;
      lk.unlock();
      (void)gate_->sweep();
      lk.lock();
    }
  }

  server_clock clock_;
  simulated_generator simulator_;
  tollgate::counters_observer counters_;
  std::unique_ptr<server_gate> gate_;
  gate_recovery recovery_;
  std::mutex open_mutex_;
  struct id_hash : std::hash<std::string_view> {
    using is_transparent = void;
  };
  std::unordered_map<std::string, open_task, id_hash, std::equal_to<>> open_;  // by task id
  std::mutex keys_mutex_;
  std::unordered_map<std::string, std::uint64_t> keys_;
  std::deque<std::pair<time_point, std::string>> key_order_;
  const std::uint64_t boot_ = std::random_device{}() * 0x100000000ull + std::random_device{}();
  std::atomic<std::uint64_t> sequence_{0};
  std::mutex deleted_mutex_;
  std::unordered_map<std::string, std::string, id_hash, std::equal_to<>> deleted_;  // task id -> account
  std::deque<std::pair<time_point, std::string>> deleted_order_;
  std::atomic<std::size_t> deleted_count_{0};
  std::mutex upkeep_mutex_;
  std::condition_variable upkeep_wake_;
  bool stopping_ = false;
  std::thread upkeep_;
};

}  // namespace tollgate_server
