// basic_gate: the one admission path for every job. It prices a job with the
// catalog, checks the account's tier limits (jobs created in the rolling 24
// hours, then a concurrency slot or a place in the FIFO queue, in one call to
// the limiter backend), holds the quoted credits in the ledger, and settles at
// the end (capture the actual cost, or refund in full), starting the next
// queued task. Each step happens whole or not at all: a refused submission
// leaves no hold, no count and no slot. Around it: purchases under the 30-day
// spend cap with promotions, enterprise overrides (shadow ones reported, not
// enforced), autobilling that rescues a submission short of credits, the
// organization view and the usage report (report.hpp), and one observer that
// hears every decision (gate/observer.hpp).
//
// The ledger is the source of truth: a task is a hold tagged with its model
// whose note carries what the gate needs to rebuild it; tier state lives in
// the ledger's account settings. The clock, the ledger, the limiter backend,
// the payment gateway, the observer and the locking are policies named by
// one traits struct (gate_traits); `tollgate::gate` works out of the box.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/money.hpp"
#include "core/sync.hpp"
#include "gate/detail/ids.hpp"
#include "gate/observer.hpp"
#include "gate/types.hpp"
#include "ledger/ledger.hpp"
#include "limits/backend.hpp"
#include "limits/local_backend.hpp"
#include "pricing/catalog.hpp"
#include "report.hpp"
#include "tiers/autobilling.hpp"
#include "tiers/book.hpp"
#include "tiers/overrides.hpp"
#include "tiers/promotion.hpp"
#include "tiers/spend_cap.hpp"
#include "tiers/tier_table.hpp"

namespace tollgate {

/// The payment gateway of a host that configures none: every recharge is
/// declined (so autobilling switches itself off after three tries).
struct no_payment_gateway {
  [[nodiscard]] payment_result charge(const payment_request&) const {
    return {payment_status::declined, "no payment gateway is configured"};
  }
};

/**
 * What the gate needs of a ledger.
 *
 * | expression | type | meaning |
 * | --- | --- | --- |
 * | `L::clock_type`, `L::time_point`, `L::receipt` | | the ledger's clock and receipt |
 * | `l.purchase(a, d, k)` | `result<receipt>` | credits bought with `d` dollars, idempotent under `k` |
 * | `l.hold(a, c, k)` | `result<receipt>` | reserve `c` credits (`receipt.hold`) |
 * | `l.capture(h, c, k)` | `result<receipt>` | take `c` of hold `h`, return the rest |
 * | `l.release(h, k)` | `result<receipt>` | return hold `h` whole |
 * | `l.balance(a)` | `result<balance>` | available, held, purchased dollars, first purchase |
 * | `l.statement(a, from, to)` | `result<vector<entry>>` | the account's entries in [from, to) |
 * | `l.lookup(k)` | `optional<receipt>` | the operation that used key `k`, if remembered |
 * | `l.clock()` | `const clock_type&` | the ledger's clock |
 *
 * Every call is thread-safe and idempotent under its key (the same key with
 * another request is errc::idempotency_conflict). basic_ledger models it.
 */
template <class L>
concept GateLedger = requires(L& l, const L& cl, std::string_view a, const credits& c, const usd& d,
                              std::string_view k, hold_id h, typename L::time_point t) {
  typename L::clock_type;
  typename L::time_point;
  typename L::receipt;
  { l.purchase(a, d, k) } -> std::same_as<result<typename L::receipt>>;
  { l.hold(a, c, k) } -> std::same_as<result<typename L::receipt>>;
  { l.capture(h, c, k) } -> std::same_as<result<typename L::receipt>>;
  { l.release(h, k) } -> std::same_as<result<typename L::receipt>>;
  { cl.balance(a) };
  { cl.statement(a, t, t) };
  { cl.lookup(k) } -> std::same_as<std::optional<typename L::receipt>>;
  { cl.clock() };
};

/**
 * The policies of a gate. Derive from it and override what you change:
 * `struct my_traits : tollgate::gate_traits<> { using observer = tollgate::counters_observer; };`
 *
 * - `clock`: the Clock of every decision (the ledger's and the backend's too).
 * - `ledger`: a GateLedger (default: basic_ledger in memory, thread-safe).
 * - `backend`: a LimiterBackend (default: basic_local_backend; tollgate::redis
 *   for limits shared by many processes).
 * - `gateway`: a PaymentGateway for autobilling (default: declines all).
 * - `observer`: a GateObserver (default: null_gate_observer).
 * - `sync`: multi_thread (per-account locks) or single_thread.
 * - `catalog`: the catalog type (its Rounding policy).
 */
template <Clock C = std::chrono::system_clock>
struct gate_traits {
  using clock = C;
  using ledger = basic_ledger<ledger_traits<C, memory_storage, multi_thread>>;
  using backend = basic_local_backend<C, multi_thread>;
  using gateway = no_payment_gateway;
  using observer = null_gate_observer;
  using sync = multi_thread;
  using catalog = ::tollgate::catalog;
};

/**
 * The gate: prices, admits, holds, queues and settles jobs; buys credits;
 * reports (see the file comment and docs/gate.md).
 *
 * @tparam Traits a gate_traits (or any struct with the same member types).
 *
 * Thread-safe with Sync = multi_thread: each account has its own lock, held
 * for one step of one of its tasks; unrelated accounts meet only in the
 * ledger and the backend, which guard themselves. Observers are called with
 * no gate lock held.
 */
template <class Traits = gate_traits<>>
class basic_gate {
 public:
  using traits_type = Traits;
  using clock_type = typename Traits::clock;
  using time_point = typename clock_type::time_point;
  using duration = typename clock_type::duration;
  using ledger_type = typename Traits::ledger;
  using backend_type = typename Traits::backend;
  using gateway_type = typename Traits::gateway;
  using observer_type = typename Traits::observer;
  using sync_type = typename Traits::sync;
  using catalog_type = typename Traits::catalog;
  using options_type = basic_gate_options<catalog_type>;
  using task = basic_task<time_point>;
  using settlement = basic_settlement<time_point>;
  using submission = basic_submission<time_point>;
  using purchase_receipt = basic_purchase_receipt<time_point>;
  using organization_type = basic_organization<time_point>;

  static_assert(Clock<clock_type>, "tollgate: Traits::clock must model Clock");
  static_assert(GateLedger<ledger_type>, "tollgate: Traits::ledger must model GateLedger (see gate.hpp)");
  static_assert(LimiterBackend<backend_type>, "tollgate: Traits::backend must model LimiterBackend (limits/backend.hpp)");
  static_assert(PaymentGateway<gateway_type>, "tollgate: Traits::gateway must model PaymentGateway (tiers/autobilling.hpp)");
  static_assert(GateObserver<observer_type, time_point>,
                "tollgate: Traits::observer must model GateObserver (gate/observer.hpp)");
  static_assert(Sync<sync_type>, "tollgate: Traits::sync must model Sync");
  static_assert(std::is_same_v<typename ledger_type::time_point, time_point>,
                "tollgate: the ledger's clock must be the gate's clock");
  static_assert(std::is_same_v<typename backend_type::time_point, time_point>,
                "tollgate: the backend's clock must be the gate's clock");

  /// A gate on a ledger it makes in memory (nothing survives the process).
  explicit basic_gate(options_type options = {}, clock_type clock = {}, gateway_type gateway = {},
                      observer_type observer = {})
    requires(!ledger_type::persistent)
      : basic_gate(std::make_unique<ledger_type>(ledger_options_of(options), clock), std::move(options),
                   std::move(gateway), std::move(observer)) {}

  /**
   * A gate on `ledger` (opened by the host, e.g. on a journal): balances,
   * holds, tiers, the jobs of the last 24 hours, the spend of the last 30
   * days and the open tasks come back from it. The clock is the ledger's.
   * `backend`: the limiter backend (null: one made from the clock).
   */
  explicit basic_gate(std::unique_ptr<ledger_type> ledger, options_type options = {}, gateway_type gateway = {},
                      observer_type observer = {}, std::unique_ptr<backend_type> backend = nullptr)
      : options_(std::move(options)),
        ledger_(std::move(ledger)),
        clock_(ledger_->clock()),
        backend_(backend ? std::move(backend) : make_backend(clock_)),
        gateway_(std::move(gateway)),
        observer_(std::move(observer)),
        table_(std::make_shared<const tier_table>(options_.tiers)),
        book_(options_.tiers, tier_sink{&observer_}),
        port_{this},
        autobiller_(gateway_, port_, clock_, options_.autobilling, tier_sink{&observer_}) {
    index_models();
  }

  basic_gate(const basic_gate&) = delete;
  basic_gate& operator=(const basic_gate&) = delete;

  // ------------------------------------------------------------ jobs

  /// Prices `j` (pure: the catalog and the model's rate). Thread-safe.
  [[nodiscard]] result<quote> estimate(const job& j) const { return options_.catalog.quote(j); }

  /**
   * Submits a job for `account` under the host's idempotency `key` (1-128
   * printable ASCII bytes, per account): prices it, checks the daily cap,
   * takes a slot or a queue place, holds the quoted credits. Returns the task
   * (RUNNING, PENDING with explicit_start, or THROTTLED with its place), or
   * a refusal: invalid_account, invalid_argument (the key), unknown_model,
   * invalid_usage, invalid_utf8, overflow, daily_limit (with retry_after),
   * insufficient_credits (after autobilling, if configured, could not
   * rescue it), idempotency_conflict (the key was used for another job),
   * storage_failure, read_only, unavailable (the backend). A refusal leaves
   * nothing behind. Thread-safe.
   */
  [[nodiscard]] submission submit(std::string_view account, const job& j, std::string_view key) {
    if (auto c = ledger_detail::check_account_id(account); !c) return refuse(account, j.model, c.error());
    if (auto c = ledger_detail::check_key(key); !c) return refuse(account, j.model, c.error());
    auto q = options_.catalog.quote(j);
    if (!q) return refuse(account, j.model, q.error());
    const request req{account, j, *q, gate_detail::digest_of(account, key), gate_detail::fingerprint(j),
                      model_index(q->model)};
    for (int attempt = 0;; ++attempt) {
      events ev;
      bool short_of_credits = false;
      submission out = submit_locked(req, ev, short_of_credits);
      notify(ev);
      if (short_of_credits && attempt == 0 && has_autobilling(account)) {
        const recharge_outcome r = autobiller_.on_balance_change(account, q->charged);
        if (r.status == recharge_status::recharged) continue;  // once more, with the credits bought
      }
      if (!out) {
        notify_refusal(account, q->model, out.error(), out.retry_after());
      } else if (!out->replayed && has_autobilling(account)) {
        (void)autobiller_.on_balance_change(account);  // the hold may leave the balance under the threshold
      }
      return out;
    }
  }

  /**
   * Marks a task the host starts: PENDING -> RUNNING (made durable). A
   * RUNNING task stays RUNNING; a recovered task is claimed (the orphan
   * timeout no longer applies). Errors: unknown_task (invalid_argument),
   * a THROTTLED or final task (invalid_argument). Thread-safe.
   */
  [[nodiscard]] result<task> start(task_ref t) {
    auto found = lock_task(t);
    if (!found) return found.error();
    account_state* const a = found->account;
    task_rec& r = *found->rec;
    if (r.status == task_status::throttled || is_final(r.status))
      return result<task>(errc::invalid_argument,
                          fmt::format("task {} of account '{}' is {}: only a PENDING or RUNNING task can start",
                                      r.id, a->name, to_string(r.status)));
    r.orphan_at.reset();
    r.status = task_status::running;
    return view(*a, r);
  }

  /**
   * Completes a task that holds a slot with the usage it actually used:
   * captures its cost (never more than was held: a larger actual cost is
   * capped at the hold), returns the rest, frees the slot and starts the next
   * queued task(s). Completing a SUCCEEDED task again returns its settlement.
   * Errors: unknown task, a THROTTLED or refunded task (invalid_argument),
   * the actual usage refused by the catalog (nothing changes),
   * storage_failure, read_only. Thread-safe.
   */
  [[nodiscard]] result<settlement> complete(task_ref t, const ::tollgate::usage& actual) {
    events ev;
    auto out = complete_locked(t, actual, ev);
    notify(ev);
    if (out && has_autobilling(t.account)) (void)autobiller_.on_balance_change(t.account);
    return out;
  }

  /// Fails a task (the host's job failed): refunds it in full, frees its
  /// slot or queue place. `reason` is kept with it. Thread-safe.
  [[nodiscard]] result<settlement> fail(task_ref t, std::string_view reason = {}) {
    return refund(t, task_status::failed, reason);
  }

  /// Cancels a task (queued or running): refunds it in full, frees its slot
  /// or queue place. Thread-safe.
  [[nodiscard]] result<settlement> cancel(task_ref t) { return refund(t, task_status::cancelled, {}); }

  /**
   * The task now (a THROTTLED task with its current place), open or
   * finished within the task retention. Errors: unknown task. Thread-safe.
   */
  [[nodiscard]] result<task> get(task_ref t) {
    events ev;
    auto out = get_locked(t, ev);
    notify(ev);
    return out;
  }

  /// The account's open tasks (running, pending, throttled), oldest first.
  [[nodiscard]] std::vector<task> tasks(std::string_view account) {
    std::vector<task> out;
    auto* a = find_account(account);
    if (!a) return out;
    std::unique_lock lk(a->m);
    std::vector<const task_rec*> open;
    for (const auto& [id, r] : a->tasks)
      if (!is_final(r.status)) open.push_back(&r);
    std::sort(open.begin(), open.end(), [](const task_rec* x, const task_rec* y) { return x->hold < y->hold; });
    for (const task_rec* r : open) out.push_back(view(*a, *r));
    return out;
  }

  // ------------------------------------------------------------ money

  /**
   * Buys credits for `account` with `dollars` under the host's `key`: refused
   * with monthly_spend_limit (saying what can be bought now and when more
   * frees up) when it would take the purchases of the rolling 30 days over
   * the account's cap; then the tier is re-evaluated (a promotion raises the
   * limits at once and starts queued tasks). The same key again returns the
   * first purchase (`replayed`). Thread-safe.
   */
  [[nodiscard]] result<purchase_receipt> purchase(std::string_view account, const usd& dollars, std::string_view key) {
    if (auto c = ledger_detail::check_account_id(account); !c) return c.error();
    if (auto c = ledger_detail::check_key(key); !c) return c.error();
    return purchase_impl(account, dollars, gate_detail::purchase_key(account, key), false);
  }

  /**
   * Sets `account`'s enterprise overrides (empty: none): limits per model or
   * group, a spend cap, criteria; shadow ones are reported, not enforced.
   * Raised limits start queued tasks at once. Errors: validate_overrides().
   */
  [[nodiscard]] result<void> set_overrides(std::string_view account, account_overrides o) {
    if (auto c = ledger_detail::check_account_id(account); !c) return c.error();
    if (auto v = validate_overrides(o); !v) return v;
    const time_point now = clock_.now();
    auto shared = o.empty() ? nullptr : std::make_shared<const account_overrides>(o);
    account_state& a = account_of(account);
    {
      std::unique_lock lk(a.m);
      ensure_loaded(a, now);
      a.overrides = shared;
    }
    if (auto r = book_.set_overrides(account, std::move(o), now); !r) return r;
    after_tier_change(a, now);
    return {};
  }

  /// `account`'s overrides (empty when none).
  [[nodiscard]] account_overrides overrides(std::string_view account) const { return book_.overrides(account); }

  /**
   * Sets `account`'s autobilling (threshold, recharge, monthly budget,
   * enabled). Errors: validate_autobilling().
   */
  [[nodiscard]] result<void> set_autobilling(std::string_view account, autobilling_settings s) {
    if (auto c = ledger_detail::check_account_id(account); !c) return c.error();
    const bool enabled = s.enabled;
    if (auto r = autobiller_.configure(account, std::move(s)); !r) return r;
    account_state& a = account_of(account);
    std::unique_lock lk(a.m);
    a.autobilling = enabled;
    return {};
  }

  /// `account`'s autobilling settings, if it has any.
  [[nodiscard]] std::optional<autobilling_settings> autobilling(std::string_view account) const {
    return autobiller_.settings(account);
  }

  // ------------------------------------------------------------ reports

  /// The organization view of `account` now (report.hpp). Thread-safe.
  [[nodiscard]] result<organization_type> organization(std::string_view account) {
    if (auto c = ledger_detail::check_account_id(account); !c) return c.error();
    const time_point now = clock_.now();
    account_state& a = account_of(account);
    std::unique_lock lk(a.m);
    ensure_loaded(a, now);
    return organization_locked(a, now);
  }

  /**
   * Credits used per model per UTC day over [first, last] (inclusive; at
   * most 90 days), net of refunds. Errors: invalid_account,
   * invalid_argument (a reversed or longer range). Thread-safe.
   */
  [[nodiscard]] result<usage_report> usage(std::string_view account, std::chrono::sys_days first,
                                           std::chrono::sys_days last) {
    if (auto c = ledger_detail::check_account_id(account); !c) return c.error();
    if (last < first || last - first >= std::chrono::days(90))
      return result<usage_report>(
          errc::invalid_argument,
          fmt::format("usage: the range {} to {} must run forward and span at most 90 days",
                      report_detail::day_text(first), report_detail::day_text(last)));
    usage_report rep;
    rep.account = std::string(account);
    rep.first = first;
    rep.last = last;
    std::map<std::string, bool> seen;
    auto* a = find_account(account);
    for (auto d = first; d <= last; d += std::chrono::days(1)) {
      usage_day day{d, {}};
      if (a) {
        std::unique_lock lk(a->m);
        for (auto it = a->used.lower_bound({day_number(d), 0}); it != a->used.end() && it->first.first == day_number(d);
             ++it) {
          if (it->second.is_zero()) continue;
          day.used.emplace_back(std::string(models_[it->first.second].id), it->second);
          seen[std::string(models_[it->first.second].id)] = true;
        }
      }
      rep.results.push_back(std::move(day));
    }
    for (const auto& [m, _] : seen) rep.models.push_back(m);
    return rep;
  }

  /// The usage of the last 30 UTC days, today included.
  [[nodiscard]] result<usage_report> usage(std::string_view account) {
    const auto today = std::chrono::floor<std::chrono::days>(sys_of(clock_.now()));
    return usage(account, today - std::chrono::days(29), today);
  }

  // ------------------------------------------------------------ upkeep

  /**
   * What is due at the clock's now: promotions by age (O(accounts due)),
   * starting the queued tasks they release. Call it every minute or so.
   * @return the number of accounts promoted.
   */
  std::size_t sweep() {
    const time_point now = clock_.now();
    const auto promoted = book_.due_promotions(now);
    for (const auto& p : promoted) after_tier_change(account_of(p.account), now);
    return promoted.size();
  }

  // ------------------------------------------------------------ parts

  [[nodiscard]] ledger_type& ledger() noexcept { return *ledger_; }
  [[nodiscard]] const ledger_type& ledger() const noexcept { return *ledger_; }
  [[nodiscard]] backend_type& backend() noexcept { return *backend_; }
  [[nodiscard]] gateway_type& gateway() noexcept { return gateway_; }
  [[nodiscard]] observer_type& observer() noexcept { return observer_; }
  [[nodiscard]] const clock_type& clock() const noexcept { return clock_; }
  [[nodiscard]] const catalog_type& catalog() const noexcept { return options_.catalog; }
  [[nodiscard]] const tier_table& tiers() const noexcept { return *table_; }
  [[nodiscard]] const options_type& options() const noexcept { return options_; }

 private:
  using mutex_type = typename sync_type::mutex_type;
  using u64 = std::uint64_t;
  using spend_entry = basic_spend_entry<time_point>;
  using receipt = typename ledger_type::receipt;
  static constexpr bool hears = !std::is_same_v<observer_type, null_gate_observer>;

  // ------------------------------------------------------------ state

  struct task_rec {
    std::string id;
    std::uint32_t model = 0;  // index into the catalog's models
    task_status status = task_status::running;
    hold_id hold{};
    credits held{};
    credits cost{};
    time_point created_at{};
    std::optional<time_point> finished_at{};
    u64 fingerprint = 0;
    std::optional<time_point> orphan_at{};  // recovered, not yet claimed
    std::string failure{};
  };

  template <class V>
  using string_map = std::unordered_map<std::string, V, tiers::detail::string_hash, std::equal_to<>>;

  struct account_state {
    explicit account_state(std::string n) : name(std::move(n)) {}
    mutable mutex_type m;
    const std::string name;
    bool loaded = false;
    // The tier facts, beside the account (the hot path reads no shared map).
    usd purchased{};
    std::optional<time_point> first_purchase{};
    tier_id recorded{};
    std::shared_ptr<const account_overrides> overrides{};
    bool autobilling = false;
    string_map<task_rec> tasks{};                               // open, and finished within the retention
    std::deque<std::pair<time_point, std::string>> finished{};  // finished tasks, oldest first
    std::map<std::pair<std::int64_t, std::uint32_t>, credits> used{};  // (UTC day, model) -> credits
  };

  static constexpr std::size_t stripe_count = 64;
  struct stripe {
    mutex_type m;
    string_map<std::unique_ptr<account_state>> accounts;
  };

  struct model_info {
    std::string_view id;
    std::optional<std::size_t> group;  // in the tier table; none: unlimited
  };

  // One validated, priced submission.
  struct request {
    std::string_view account;
    const job& j;
    const quote& q;
    gate_detail::digest digest;
    u64 fingerprint;
    std::uint32_t model;
  };

  // The limits in force for one (account, model), enforced and shadow.
  struct limits_now {
    key_limits enforced{};
    std::optional<key_limits> shadow{};
    bool promotion_due = false;
  };

  // Events gathered under an account's lock, told after it.
  struct owned_task_event {
    task_event_kind kind;
    std::string account, model, task;
    task_status status;
    credits amount, refunded;
    u64 position;
    time_point at;
  };
  struct owned_shadow {
    std::string account, subject;
    std::string_view limit;
    bool enforced, shadow;
    time_point at;
  };
  struct events {
    std::vector<owned_task_event> tasks;
    std::vector<owned_shadow> shadows;
    std::vector<std::string> promote;  // accounts whose promotion is to be recorded
  };

  // Forwards the tier engine's events to the gate's observer.
  struct tier_sink {
    observer_type* o;
    template <class E>
    void on(const E& e) {
      o->on(e);
    }
  };

  // The RechargeLedger of the autobilling engine: the ledger, the spend cap.
  struct recharge_port {
    basic_gate* g;
    [[nodiscard]] credits available(std::string_view a) const {
      auto b = g->ledger_->balance(a);
      return b ? b->available : credits{};
    }
    [[nodiscard]] limit<usd> spend_room(std::string_view a) const { return g->spend_room_of(a); }
    [[nodiscard]] credit_price price(std::string_view) const { return g->options_.catalog.price(); }
    [[nodiscard]] result<void> buy(std::string_view a, const usd& d, std::string_view k) {
      auto r = g->purchase_impl(a, d, k, true);
      if (!r) return r.error();
      return {};
    }
  };

  // ------------------------------------------------------------ set-up

  static ledger_options ledger_options_of(const options_type& o) {
    ledger_options l = o.ledger;
    l.price = o.catalog.price();
    return l;
  }

  static std::unique_ptr<backend_type> make_backend(const clock_type& c) {
    if constexpr (std::is_constructible_v<backend_type, clock_type>) return std::make_unique<backend_type>(c);
    else return std::make_unique<backend_type>();
  }

  void index_models() {
    for (const model_spec& m : options_.catalog.models()) {
      model_info info{m.id, std::nullopt};
      if (!m.group.empty()) info.group = table_->group_index(m.group);
      models_.push_back(info);
    }
  }

  [[nodiscard]] std::uint32_t model_index(std::string_view id) const {
    const model_spec* m = options_.catalog.find(id);
    TOLLGATE_ASSERT(m != nullptr, "gate: a quoted model is in the catalog");
    return static_cast<std::uint32_t>(m - options_.catalog.models().data());
  }

  // ------------------------------------------------------------ accounts

  [[nodiscard]] stripe& stripe_of(std::string_view name) {
    return stripes_[std::hash<std::string_view>{}(name) % stripe_count];
  }

  account_state& account_of(std::string_view name) {
    stripe& s = stripe_of(name);
    std::unique_lock lk(s.m);
    auto it = s.accounts.find(name);
    if (it == s.accounts.end())
      it = s.accounts.emplace(std::string(name), std::make_unique<account_state>(std::string(name))).first;
    return *it->second;
  }

  account_state* find_account(std::string_view name) {
    stripe& s = stripe_of(name);
    std::unique_lock lk(s.m);
    auto it = s.accounts.find(name);
    return it == s.accounts.end() ? nullptr : it->second.get();
  }

  bool has_autobilling(std::string_view name) {
    auto* a = find_account(name);
    if (!a) return false;
    std::unique_lock lk(a->m);
    return a->autobilling;
  }

  // First touch of an account in this process: its purchase figures.
  void ensure_loaded(account_state& a, time_point) {
    if (a.loaded) return;
    if (auto b = ledger_->balance(a.name)) {
      a.purchased = b->purchased_usd;
      a.first_purchase = b->first_purchase;
    }
    a.recorded = book_.record(a.name).tier;
    a.loaded = true;
  }

  // Drops finished tasks past the retention.
  void prune(account_state& a, time_point now) {
    while (!a.finished.empty() && a.finished.front().first + options_.task_retention <= now) {
      a.tasks.erase(a.finished.front().second);
      a.finished.pop_front();
    }
  }

  // ------------------------------------------------------------ tiers

  [[nodiscard]] basic_account_facts<time_point> facts(const account_state& a) const {
    return {a.purchased, a.first_purchase, a.recorded};
  }

  // The account's tier now (a position in the table); `due` says whether
  // that is above what the book recorded (a promotion to record).
  std::size_t tier_now(const account_state& a, time_point now, bool* due = nullptr) const {
    const std::size_t i = tier_for(*table_, facts(a), now, account_criteria{table_.get(), a.overrides.get()});
    if (due) *due = i > table_->floor_index(a.recorded);
    return i;
  }

  limits_now limits_of(const account_state& a, std::uint32_t model, time_point now) const {
    limits_now l;
    const std::size_t tier = tier_now(a, now, &l.promotion_due);
    const model_info& m = models_[model];
    if (!m.group) return l;  // a model outside the tier table: unlimited
    const resolved_limits r = resolve_limits(*table_, tier, a.overrides.get(), m.id, *m.group);
    l.enforced = key_limits_of(r.enforced);
    if (r.shadow) l.shadow = key_limits_of(*r.shadow);
    return l;
  }

  static key_limits key_limits_of(const group_limits& g) {
    key_limits k;
    if (!g.daily.is_unlimited()) k.daily = g.daily.max();
    if (!g.concurrent.is_unlimited()) k.concurrency = g.concurrent.max();
    return k;
  }

  // After the account's tier may have risen (a purchase, overrides, the
  // sweep): records a promotion the figures call for, and starts the queued
  // tasks the new limits let in.
  void after_tier_change(account_state& a, time_point now) {
    events ev;
    {
      std::unique_lock lk(a.m);
      ensure_loaded(a, now);
      a.recorded = std::max(a.recorded, book_.record(a.name).tier);
      bool due = false;
      (void)tier_now(a, now, &due);
      if (due) ev.promote.push_back(a.name);
      poll_queues(a, now, ev);
    }
    notify(ev);
  }

  // Records promotions found under a lock (after it).
  void record_promotions(const std::vector<std::string>& accounts) {
    for (const std::string& name : accounts) {
      account_state& a = account_of(name);
      usd purchased;
      std::optional<time_point> first;
      {
        std::unique_lock lk(a.m);
        purchased = a.purchased;
        first = a.first_purchase;
      }
      (void)book_.touch(name, purchased, first, clock_.now());
      after_tier_change(a, clock_.now());
    }
  }

  // Starts what the current limits let in, for every model with queued tasks.
  void poll_queues(account_state& a, time_point now, events& ev) {
    std::vector<std::uint32_t> queued_models;
    for (const auto& [id, r] : a.tasks)
      if (r.status == task_status::throttled &&
          std::find(queued_models.begin(), queued_models.end(), r.model) == queued_models.end())
        queued_models.push_back(r.model);
    for (std::uint32_t m : queued_models) {
      const limits_now l = limits_of(a, m, now);
      auto c = backend_->poll(limiter_key{a.name, models_[m].id}, l.enforced, now);
      if (c) on_started(a, c->started, now, ev);
    }
  }

  // Queued tasks the backend started: RUNNING (PENDING with explicit_start).
  void on_started(account_state& a, const std::vector<std::string>& started, time_point now, events& ev) {
    for (const std::string& id : started) {
      auto it = a.tasks.find(id);
      if (it == a.tasks.end() || it->second.status != task_status::throttled) continue;
      task_rec& r = it->second;
      r.status = options_.explicit_start ? task_status::pending : task_status::running;
      add_event(ev, task_event_kind::started, a, r, now);
    }
  }

  // ------------------------------------------------------------ submit

  submission submit_locked(const request& q, events& ev, bool& short_of_credits) {
    const time_point now = clock_.now();
    account_state& a = account_of(q.account);
    std::unique_lock lk(a.m);
    ensure_loaded(a, now);
    prune(a, now);
    const std::string id = gate_detail::task_id_of(q.digest);
    if (auto it = a.tasks.find(id); it != a.tasks.end()) return replay(a, it->second, q);
    const std::string hold_key = gate_detail::task_key("h", id);
    if (ledger_->lookup(hold_key))
      return refused(errc::idempotency_conflict,
                     fmt::format("account '{}': the key of task {} was used for a task that finished more than "
                                 "the task retention ago; submit with a new key",
                                 a.name, id));
    const limits_now l = limits_of(a, q.model, now);
    if (l.promotion_due) ev.promote.push_back(a.name);
    const limiter_key key{a.name, models_[q.model].id};
    std::optional<key_usage> before;
    if (l.shadow) before = usage_of(key, now);
    auto adm = backend_->admit(key, id, l.enforced, now);
    if (!adm) return adm.error();
    // Queued tasks the backend started under limits raised since this key
    // was last touched: started whatever becomes of this submission (a
    // refusal below must not leave them THROTTLED here and running there).
    on_started(a, adm->started, now, ev);
    if (l.shadow) shadow_decisions(a, q.model, *l.shadow, *before, *adm, now, ev);
    if (adm->status == admit_status::daily_limit) return daily_refusal(a, q, *adm);
    if (adm->status == admit_status::duplicate)
      return refused(errc::idempotency_conflict,
                     fmt::format("account '{}': the limiter already holds task {} that this gate does not know",
                                 a.name, id));
    auto held = ledger_->hold(a.name, q.q.charged, hold_key);
    if (!held || held->replayed) {
      auto back = backend_->revoke(key, id, adm->created_at, l.enforced, now);
      if (back) on_started(a, back->started, now, ev);
      if (!held) {
        short_of_credits = held.error() == errc::insufficient_credits;
        return held.error();
      }
      return refused(errc::idempotency_conflict,
                     fmt::format("account '{}': the key of task {} was already used", a.name, id));
    }
    task_rec& r = a.tasks.emplace(id, task_rec{}).first->second;
    r.id = id;
    r.model = q.model;
    r.status = adm->status == admit_status::queued ? task_status::throttled
               : options_.explicit_start          ? task_status::pending
                                                  : task_status::running;
    r.hold = held->hold;
    r.held = held->amount;
    r.created_at = now;
    r.fingerprint = q.fingerprint;
    add_event(ev, task_event_kind::admitted, a, r, now);
    if (r.status == task_status::throttled) add_event(ev, task_event_kind::throttled, a, r, now, adm->position);
    else add_event(ev, task_event_kind::started, a, r, now);
    task out = view(a, r);
    out.position = adm->position;
    return out;
  }

  submission replay(const account_state& a, const task_rec& r, const request& q) {
    if (r.fingerprint != q.fingerprint || r.model != q.model)
      return refused(errc::idempotency_conflict,
                     fmt::format("account '{}': the key was used for task {} with another job ({}); a new job "
                                 "needs a new key",
                                 a.name, r.id, models_[r.model].id));
    task out = view(a, r);
    out.replayed = true;
    return out;
  }

  submission daily_refusal(const account_state& a, const request& q, const basic_admission<time_point>& adm) {
    const auto wait = adm.retry_after;
    const std::string when = wait == std::chrono::nanoseconds::max()
                                 ? std::string("never (the limit is 0)")
                                 : "in " + tiers::detail::span(wait.count());
    return submission(tollgate::error(errc::daily_limit,
                                      fmt::format("account '{}' created {} jobs of {} in the last 24 hours, its "
                                                  "limit; one more fits {}",
                                                  a.name, adm.created, models_[q.model].id, when)),
                      wait);
  }

  std::optional<key_usage> usage_of(const limiter_key& k, time_point now) {
    auto s = backend_->state(k, now);
    if (!s) return key_usage{};
    return *s;
  }

  // Decisions against a shadow override: what it would have decided.
  void shadow_decisions(const account_state& a, std::uint32_t model, const key_limits& shadow,
                        const key_usage& before, const basic_admission<time_point>& adm, time_point now,
                        events& ev) {
    const bool daily_ok = !shadow.daily || before.created < *shadow.daily;
    const bool enforced_daily = adm.status != admit_status::daily_limit;
    const bool slot_ok = !shadow.concurrency || (before.running < *shadow.concurrency && before.queued == 0);
    const bool enforced_slot = adm.status == admit_status::running;
    if constexpr (hears) {
      ev.shadows.push_back({a.name, std::string(models_[model].id), "daily", enforced_daily, daily_ok, now});
      if (enforced_daily)
        ev.shadows.push_back({a.name, std::string(models_[model].id), "concurrent", enforced_slot, slot_ok, now});
    }
  }

  // ------------------------------------------------------------ settle

  result<settlement> complete_locked(task_ref t, const ::tollgate::usage& actual, events& ev) {
    const time_point now = clock_.now();
    auto found = lock_task(t);
    if (!found) return found.error();
    account_state* const a = found->account;
    task_rec& r = *found->rec;
    if (r.status == task_status::succeeded) return settlement{view(*a, r), credits{}, {}};
    if (!holds_slot(r.status))
      return result<settlement>(
          errc::invalid_argument,
          fmt::format("task {} of account '{}' is {}: only a PENDING or RUNNING task can complete{}", r.id, a->name,
                      to_string(r.status), r.status == task_status::throttled ? " (cancel a queued one)" : ""));
    auto q = options_.catalog.quote(models_[r.model].id, actual);
    if (!q) return q.error();
    const credits amount = std::min(q->charged, r.held);
    auto cap = ledger_->capture(r.hold, amount, gate_detail::task_key("c", r.id));
    if (!cap) return cap.error();
    settlement s;
    s.refunded = cap->released;
    r.cost = amount;
    finish(*a, r, task_status::succeeded, now, s, ev);
    a->used[{day_number(now), r.model}] += amount;
    add_event(ev, task_event_kind::completed, *a, r, now, 0, amount, s.refunded);
    s.task = view(*a, r);
    return s;
  }

  result<settlement> refund(task_ref t, task_status to, std::string_view reason) {
    events ev;
    auto out = refund_locked(t, to, reason, ev);
    notify(ev);
    return out;
  }

  result<settlement> refund_locked(task_ref t, task_status to, std::string_view reason, events& ev) {
    const time_point now = clock_.now();
    auto found = lock_task(t);
    if (!found) return found.error();
    account_state* const a = found->account;
    task_rec& r = *found->rec;
    if (r.status == to) return settlement{view(*a, r), credits{}, {}};
    if (is_final(r.status))
      return result<settlement>(errc::invalid_argument,
                                fmt::format("task {} of account '{}' is already {}", r.id, a->name, to_string(r.status)));
    auto rel = ledger_->release(r.hold, gate_detail::task_key("r", r.id));
    if (!rel) return rel.error();
    settlement s;
    s.refunded = rel->amount;
    r.cost = credits{};
    r.failure = std::string(reason);
    finish(*a, r, to, now, s, ev);
    add_event(ev, to == task_status::failed ? task_event_kind::failed : task_event_kind::cancelled, *a, r, now, 0,
              r.held);
    add_event(ev, task_event_kind::refunded, *a, r, now, 0, s.refunded);
    s.task = view(*a, r);
    return s;
  }

  // The task leaves its slot or queue place; the queue moves on.
  void finish(account_state& a, task_rec& r, task_status to, time_point now, settlement& s, events& ev) {
    const limits_now l = limits_of(a, r.model, now);
    if (l.promotion_due) ev.promote.push_back(a.name);
    r.status = to;
    r.finished_at = now;
    r.orphan_at.reset();
    a.finished.emplace_back(now, r.id);
    auto rel = backend_->finish(limiter_key{a.name, models_[r.model].id}, r.id, l.enforced, now);
    if (rel) {
      on_started(a, rel->started, now, ev);
      s.started = std::move(rel->started);
    }
  }

  result<task> get_locked(task_ref t, events& ev) {
    const time_point now = clock_.now();
    auto found = lock_task(t);
    if (!found) return found.error();
    account_state* const a = found->account;
    task_rec& r = *found->rec;
    std::uint64_t position = 0;
    if (r.status == task_status::throttled) {
      const limits_now l = limits_of(*a, r.model, now);
      auto w = backend_->renew(limiter_key{a->name, models_[r.model].id}, r.id, l.enforced, now);
      if (w) {
        on_started(*a, w->started, now, ev);
        position = w->position;
      }
    }
    task out = view(*a, r);
    if (out.status == task_status::throttled) out.position = position;
    return out;
  }

  // ------------------------------------------------------------ purchase

  result<purchase_receipt> purchase_impl(std::string_view account, const usd& dollars, std::string_view ledger_key,
                                         bool automatic) {
    const time_point now = clock_.now();
    account_state& a = account_of(account);
    std::vector<spend_entry> window;
    usd purchased;
    std::optional<time_point> first;
    typename ledger_type::receipt r;
    {
      std::unique_lock lk(a.m);
      ensure_loaded(a, now);
      const bool retry = ledger_->lookup(ledger_key).has_value();
      window = purchase_window(a.name, now);
      if (!retry) {
        if (auto c = book_.check_purchase(a.name, dollars, window, now); !c) {
          lk.unlock();
          notify_refusal(account, {}, c.error(), std::nullopt);
          return c.error();
        }
      }
      auto p = ledger_->purchase(a.name, dollars, ledger_key);
      if (!p) return p.error();
      r = *p;
      if (!r.replayed) {
        a.purchased += r.paid;
        if (!a.first_purchase) a.first_purchase = r.at;
        window.push_back(spend_entry{r.at, r.paid});
      }
      purchased = a.purchased;
      first = a.first_purchase;
    }
    purchase_receipt out;
    out.paid = r.paid;
    out.amount = r.amount;
    out.replayed = r.replayed;
    out.at = r.at;
    if (!r.replayed) {
      const tier_id before = book_.record(account).tier;
      (void)book_.after_purchase(account, purchased, first, window, now);
      out.promoted = book_.record(account).tier > before;
      after_tier_change(a, now);
      if constexpr (hears) observer_.on(basic_purchase_event<time_point>{account, r.paid, r.amount, automatic, r.at});
    }
    {
      std::unique_lock lk(a.m);
      out.tier = table_->at(tier_now(a, now)).id;
    }
    if (auto b = ledger_->balance(account)) out.available = b->available;
    return out;
  }

  // The account's purchases of the rolling 30 days ending now, oldest first.
  std::vector<spend_entry> purchase_window(std::string_view account, time_point now) const {
    std::vector<spend_entry> w;
    const time_point from = now - std::chrono::duration_cast<duration>(spend_window);
    auto st = ledger_->statement(account, from, time_point::max());
    if (!st) return w;
    for (const auto& e : *st)
      if (e.kind == entry_kind::purchase) w.push_back(spend_entry{e.at, e.paid});
    return w;
  }

  limit<usd> spend_room_of(std::string_view account) {
    const time_point now = clock_.now();
    account_state& a = account_of(account);
    std::unique_lock lk(a.m);
    ensure_loaded(a, now);
    const std::size_t tier = tier_now(a, now);
    const spend_cap cap = resolve_spend_cap(*table_, tier, a.overrides.get()).enforced;
    const auto w = purchase_window(a.name, now);
    return spend_room(std::span<const spend_entry>(w), cap, now).room;
  }

  // ------------------------------------------------------------ reports

  organization_type organization_locked(account_state& a, time_point now) {
    organization_type o;
    o.account = a.name;
    o.at = now;
    const std::size_t tier = tier_now(a, now);
    const struct tier& t = table_->at(tier);
    o.tier = t.id;
    o.tier_name = t.name;
    o.tier_count = table_->size();
    if (auto b = ledger_->balance(a.name)) {
      o.credit_balance = b->available;
      o.held = b->held;
    }
    o.purchased = a.purchased;
    o.first_purchase = a.first_purchase;
    o.max_monthly_spend = resolve_spend_cap(*table_, tier, a.overrides.get()).enforced;
    if (!o.max_monthly_spend.is_unlimited())
      o.max_monthly_credit_spend = options_.catalog.price().to_credits(o.max_monthly_spend.max());
    const auto w = purchase_window(a.name, now);
    const auto room = spend_room(std::span<const spend_entry>(w), o.max_monthly_spend, now);
    o.spent_30_days = room.spent;
    o.spend_left = room.room;
    for (std::uint32_t m = 0; m < models_.size(); ++m) o.models.push_back(model_view(a, m, tier, now));
    for (const model_usage_view& m : o.models) {
      o.running += m.running;
      o.queued += m.queued;
    }
    const auto look = promotion_outlook(*table_, facts(a), now, account_criteria{table_.get(), a.overrides.get()});
    if (look.next) {
      o.next_tier = table_->at(*look.next).id;
      o.next_tier_name = table_->at(*look.next).name;
      o.next_purchases_needed = look.purchases_needed;
      o.next_old_enough_at = look.old_enough_at;
      o.next_needs_first_purchase = look.needs_first_purchase;
    }
    o.promotion_due_at = look.due_at;
    return o;
  }

  model_usage_view model_view(const account_state& a, std::uint32_t m, std::size_t tier, time_point now) {
    model_usage_view v;
    v.model = std::string(models_[m].id);
    if (models_[m].group) {
      v.group = table_->groups()[*models_[m].group];
      const resolved_limits r = resolve_limits(*table_, tier, a.overrides.get(), models_[m].id, *models_[m].group);
      v.max_concurrent = r.enforced.concurrent;
      v.max_daily = r.enforced.daily;
      v.overridden = r.concurrent_from != nullptr || r.daily_from != nullptr;
    }
    if (auto s = backend_->state(limiter_key{a.name, models_[m].id}, now)) {
      v.daily_generations = s->created;
      v.running = s->running;
      v.queued = s->queued;
    }
    return v;
  }

  // ------------------------------------------------------------ views

  task view(const account_state& a, const task_rec& r) const {
    task t;
    t.id = r.id;
    t.account = a.name;
    t.model = std::string(models_[r.model].id);
    t.status = r.status;
    t.estimate = r.held;
    t.cost = r.cost;
    t.created_at = r.created_at;
    t.finished_at = r.finished_at;
    t.hold = r.hold;
    t.recovered = r.orphan_at.has_value();
    t.failure = r.failure;
    return t;
  }

  static submission refused(errc c, std::string message) { return submission(tollgate::error(c, std::move(message))); }

  // Task `t` with its account's lock held, or unknown_task.
  struct locked_task {
    account_state* account;
    std::unique_lock<mutex_type> lock;
    task_rec* rec;
  };
  result<locked_task> lock_task(task_ref t) {
    auto* a = find_account(t.account);
    if (!a) return unknown_task(t);
    std::unique_lock lk(a->m);
    auto it = a->tasks.find(t.id);
    if (it == a->tasks.end()) return unknown_task(t);
    return locked_task{a, std::move(lk), &it->second};
  }

  static tollgate::error unknown_task(task_ref t) {
    return tollgate::error(errc::invalid_argument,
                           fmt::format("account '{}' has no task {} (unknown, or finished longer ago than the task "
                                       "retention)",
                                       t.account, t.id));
  }

  // ------------------------------------------------------------ events

  void add_event(events& ev, task_event_kind k, const account_state& a, const task_rec& r, time_point now,
                 u64 position = 0, std::optional<credits> amount = {}, credits refunded = {}) {
    if constexpr (hears)
      ev.tasks.push_back(owned_task_event{k, a.name, std::string(models_[r.model].id), r.id, r.status,
                                          amount ? *amount : r.held, refunded, position, now});
  }

  void notify(events& ev) {
    if (!ev.promote.empty()) {
      std::vector<std::string> p = std::move(ev.promote);
      ev.promote.clear();
      record_promotions(p);
    }
    if constexpr (hears) {
      for (const owned_task_event& e : ev.tasks)
        observer_.on(basic_task_event<time_point>{e.kind, e.account, e.model, e.task, e.status, e.amount,
                                                  e.refunded, e.position, e.at});
      for (const owned_shadow& s : ev.shadows)
        observer_.on(basic_shadow_decision_event<time_point>{s.account, s.subject, s.limit, s.enforced, s.shadow,
                                                             s.at});
    }
  }

  void notify_refusal(std::string_view account, std::string_view model, const tollgate::error& e,
                      std::optional<std::chrono::nanoseconds> retry_after) {
    if constexpr (hears) {
      const std::string msg = e.message();
      const auto reason = e.code().category() == error_category() ? static_cast<errc>(e.code().value())
                                                                  : errc::invalid_argument;
      observer_.on(basic_refusal_event<time_point>{account, model, reason, msg, retry_after, clock_.now()});
    }
  }

  submission refuse(std::string_view account, std::string_view model, const tollgate::error& e) {
    notify_refusal(account, model, e, std::nullopt);
    return submission(e);
  }

  // ------------------------------------------------------------ time

  static std::chrono::sys_time<std::chrono::nanoseconds> sys_of(time_point t) {
    return std::chrono::sys_time<std::chrono::nanoseconds>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()));
  }
  static std::int64_t day_number(time_point t) {
    return std::chrono::floor<std::chrono::days>(sys_of(t)).time_since_epoch().count();
  }
  static std::int64_t day_number(std::chrono::sys_days d) { return d.time_since_epoch().count(); }

  // ------------------------------------------------------------ data

  options_type options_;
  std::unique_ptr<ledger_type> ledger_;
  clock_type clock_;
  std::unique_ptr<backend_type> backend_;
  gateway_type gateway_;
  observer_type observer_;
  std::shared_ptr<const tier_table> table_;
  std::vector<model_info> models_;
  basic_tier_book<clock_type, sync_type, tier_sink> book_;
  recharge_port port_;
  basic_autobiller<gateway_type, recharge_port, clock_type, sync_type, tier_sink> autobiller_;
  std::array<stripe, stripe_count> stripes_;
};

/// The default gate: system clock, ledger in memory, in-process limits, no
/// observer, thread-safe.
using gate = basic_gate<>;

}  // namespace tollgate
