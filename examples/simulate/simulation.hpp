// tollgate-simulate's day loop: a scenario (scenario.hpp) played through a
// real tollgate::basic_gate over an in-memory ledger on a manual_clock. Each
// day starts at 00:00 UTC with the account's planned overrides, autobilling
// and purchases; jobs then arrive at random times within the working hours,
// are submitted to the gate, run for a random generation time once the gate
// gives them a slot, and complete (captured) or fail (refunded in full) at
// the end of it. The gate decides everything else: the daily caps, the
// queues, the holds, autobilling, promotions. The figures of each day and
// the totals come from what the gate answered and what its observer heard,
// and the balance and tier from its organization view at the end of the day.
//
// Deterministic: one thread, time only from the manual clock, ties between
// events broken by the order they were scheduled, random numbers from
// rng.hpp's streams (each named by what it draws for), so the same scenario
// gives the same figures on every run and platform. docs/simulate.md has the
// rules in full.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <tollgate/core/clock.hpp>
#include <tollgate/core/error.hpp>
#include <tollgate/core/money.hpp>
#include <tollgate/gate.hpp>

#include "rng.hpp"
#include "scenario.hpp"

namespace tollgate::examples::simulate {

/// The refusal reasons every report lists, even at zero (others appear
/// when they happen).
inline constexpr std::array<errc, 2> listed_refusals{errc::daily_limit, errc::insufficient_credits};

/// A refusal reason's stable name ("daily_limit"): the JSON key and the
/// name in the text report.
[[nodiscard]] inline std::string_view reason_name(errc e) noexcept { return gate_detail::errc_name(e); }

/// What happened to one account on one day (or, summed, over the run).
struct day_figures {
  std::int64_t day = 0;  ///< 1-based
  std::chrono::sys_days date{};
  // At the end of the day (24:00 UTC less a nanosecond):
  tier_id tier{};
  std::string tier_name{};
  credits balance{};         ///< available credits
  credits held{};            ///< held by open tasks
  std::uint64_t running = 0;  ///< open tasks holding a slot
  std::uint64_t queued = 0;   ///< THROTTLED tasks
  // During the day:
  std::int64_t submitted = 0;  ///< jobs that arrived and were submitted
  std::int64_t created = 0;    ///< accepted by the gate (credits held, counted toward the daily cap)
  std::int64_t throttled = 0;  ///< of those, accepted into the queue (THROTTLED)
  std::map<errc, std::int64_t> refused{};  ///< refused submissions by reason (listed_refusals always present)
  std::int64_t succeeded = 0;  ///< completed: their cost captured
  std::int64_t failed = 0;     ///< failed: refunded in full
  credits spent{};             ///< captured by completed tasks
  credits refunded{};          ///< returned by failed tasks
  std::int64_t purchases = 0;  ///< the scenario's purchases made
  usd purchased{};
  std::int64_t purchases_refused = 0;  ///< the scenario's purchases the gate refused (the spend cap)
  std::int64_t recharges = 0;          ///< automatic purchases (autobilling)
  usd recharged{};
  std::vector<std::string> notes{};  ///< promotions, overrides, autobilling switched on or off, refusals of purchases

  /// The refusals of every reason.
  [[nodiscard]] std::int64_t refused_total() const {
    std::int64_t n = 0;
    for (const auto& [reason, count] : refused) n += count;
    return n;
  }
  /// The refusals for `reason` (0 when none).
  [[nodiscard]] std::int64_t refused_for(errc reason) const {
    const auto it = refused.find(reason);
    return it == refused.end() ? 0 : it->second;
  }
};

/// The first day an account stood at a tier (at the end of that day).
struct tier_step {
  tier_id tier{};
  std::string name{};
  std::int64_t day = 0;
};

/// One account's run: each day, the totals, the tiers it went through.
struct account_result {
  std::string id{};
  std::vector<day_figures> days{};
  /// The sums of the days; the end-of-day figures (tier, balance, held,
  /// running, queued) are the last day's; no notes.
  day_figures totals{};
  std::vector<tier_step> tiers{};  ///< the first, then each one reached, in order
};

/// A whole run.
struct simulation_result {
  std::string name{};
  std::string description{};
  std::chrono::sys_days start{};
  std::int64_t days = 0;
  std::uint64_t seed = 0;
  std::vector<account_result> accounts{};
};

namespace detail {

using sim_clock = manual_clock;
using sim_time = sim_clock::time_point;

// What the gate's observer heard, gathered for the day loop (which reads it
// after each call into the gate: the observer is called inside those calls).
struct heard {
  struct started_task {
    std::size_t account;
    std::string task;
  };
  std::map<std::string, std::size_t, std::less<>> index;  // account id -> position in the scenario
  std::vector<day_figures*> today;                       // each account's figures of the current day
  std::vector<started_task> started;                     // tasks that took a slot, in order

  [[nodiscard]] day_figures* day_of(std::string_view account) const {
    const auto it = index.find(account);
    return it == index.end() ? nullptr : today[it->second];
  }
};

// The gate's observer: forwards to `heard` (copies share it, as the gate
// keeps its own copy).
struct observer {
  heard* h = nullptr;

  void on(const basic_task_event<sim_time>& e) {
    if (e.kind != task_event_kind::started) return;
    const auto it = h->index.find(e.account);
    if (it != h->index.end()) h->started.push_back({it->second, std::string(e.task)});
  }
  void on(const basic_purchase_event<sim_time>& e) {
    if (!e.automatic) return;  // the day loop counts the scenario's own purchases
    if (day_figures* d = h->day_of(e.account)) {
      ++d->recharges;
      d->recharged += e.paid;
    }
  }
  void on(const basic_promotion_event<sim_time>& e) {
    if (day_figures* d = h->day_of(e.account))
      d->notes.push_back(fmt::format("promoted to tier {} ({})", e.to.value, to_string(e.cause)));
  }
  void on(const basic_spend_alert_event<sim_time>& e) {
    if (e.percent < 100) return;
    if (day_figures* d = h->day_of(e.account))
      d->notes.push_back(fmt::format("30-day spend cap reached (${} of ${})", e.spent.to_string(), e.cap.to_string()));
  }
  void on(const basic_autobilling_disabled_event<sim_time>& e) {
    if (day_figures* d = h->day_of(e.account))
      d->notes.push_back(fmt::format("autobilling switched off after {} failures", e.failures));
  }
  template <class E>
  void on(const E&) noexcept {}  // refusals (counted from the answers), low balance, shadow decisions
};

// Autobilling's payment provider: every recharge is approved (no money moves).
struct approving_gateway {
  [[nodiscard]] payment_result charge(const payment_request&) const {
    return {payment_status::succeeded, "approved (simulated payments)"};
  }
};

// One thread drives the gate: no locks anywhere.
struct traits : gate_traits<sim_clock> {
  using ledger = basic_ledger<ledger_traits<sim_clock, memory_storage, single_thread>>;
  using backend = basic_local_backend<sim_clock, single_thread>;
  using gateway = approving_gateway;
  using observer = detail::observer;
  using sync = single_thread;
};
using gate_type = basic_gate<traits>;

[[nodiscard]] inline sim_time time_of(std::chrono::sys_days d) { return sim_time(d.time_since_epoch()); }

// Whole credits, for the chart (saturating; balances never come near).
[[nodiscard]] inline std::int64_t whole_credits(const credits& c) {
  return static_cast<std::int64_t>(c.raw() / credits::unit());
}

// Adds the day's flows into `sum` (the end-of-day figures are set apart).
inline void add_flows(day_figures& sum, const day_figures& d) {
  sum.submitted += d.submitted;
  sum.created += d.created;
  sum.throttled += d.throttled;
  for (const auto& [reason, n] : d.refused) sum.refused[reason] += n;
  sum.succeeded += d.succeeded;
  sum.failed += d.failed;
  sum.spent += d.spent;
  sum.refunded += d.refunded;
  sum.purchases += d.purchases;
  sum.purchased += d.purchased;
  sum.purchases_refused += d.purchases_refused;
  sum.recharges += d.recharges;
  sum.recharged += d.recharged;
}

// The day loop (see the file comment).
class runner {
 public:
  explicit runner(const scenario& s)
      : s_(s), clock_(time_of(s.start)), gate_(basic_gate_options<>{}, clock_, {}, observer{&heard_}) {
    for (std::size_t i = 0; i < s.accounts.size(); ++i) heard_.index.emplace(s.accounts[i].id, i);
    heard_.today.resize(s.accounts.size(), nullptr);
    result_.name = s.name;
    result_.description = s.description;
    result_.start = s.start;
    result_.days = s.days;
    result_.seed = s.seed;
    for (const account_plan& a : s.accounts) result_.accounts.push_back(account_result{.id = a.id});
  }

  simulation_result run() && {
    for (std::int64_t day = 1; day <= s_.days; ++day) run_day(day);
    for (account_result& a : result_.accounts) sum_up(a);
    return std::move(result_);
  }

 private:
  enum class event_kind : std::uint8_t { arrival, finish };

  struct event {
    sim_time at;
    std::uint64_t seq;  // scheduling order: breaks ties, so the order never depends on the heap
    event_kind kind;
    std::size_t account;
    std::size_t line;    // arrival: the workload line
    std::int64_t n = 0;  // arrival: the job's number that day on its line
    std::string task{};  // finish: the task id
    friend bool operator>(const event& x, const event& y) {
      return x.at != y.at ? x.at > y.at : x.seq > y.seq;
    }
  };

  // A job's fate, drawn when it arrives: how long it runs once it has a slot,
  // and whether it fails at the end of that.
  struct fate {
    std::size_t line;
    std::chrono::milliseconds generation;
    bool fails;
  };

  void run_day(std::int64_t day) {
    const std::chrono::sys_days date = s_.start + std::chrono::days(day - 1);
    const sim_time begin = time_of(date), end = time_of(date + std::chrono::days(1));
    clock_.set(begin);
    for (std::size_t i = 0; i < s_.accounts.size(); ++i) {
      account_result& a = result_.accounts[i];
      a.days.push_back(day_figures{.day = day, .date = date});
      for (const errc e : listed_refusals) a.days.back().refused[e] = 0;
    }
    point_today_at_last_day();
    for (std::size_t i = 0; i < s_.accounts.size(); ++i) start_of_day(i, day);
    (void)gate_.sweep();
    drain_started();
    for (std::size_t i = 0; i < s_.accounts.size(); ++i) schedule_arrivals(i, day, begin);
    while (!events_.empty() && events_.top().at < end) {
      event e = events_.top();
      events_.pop();
      clock_.set(e.at);
      (void)gate_.sweep();  // promotions by age fall due at any time of day
      if (e.kind == event_kind::arrival) arrive(e, day);
      else finish(e);
      drain_started();
    }
    clock_.set(end - std::chrono::nanoseconds(1));
    for (std::size_t i = 0; i < s_.accounts.size(); ++i) end_of_day(i);
  }

  void point_today_at_last_day() {
    for (std::size_t i = 0; i < result_.accounts.size(); ++i) heard_.today[i] = &result_.accounts[i].days.back();
  }

  // 00:00 UTC: the day's overrides, then autobilling, then purchases (an
  // override may raise the spend cap a purchase of the same day needs).
  void start_of_day(std::size_t i, std::int64_t day) {
    const account_plan& p = s_.accounts[i];
    day_figures& d = *heard_.today[i];
    for (const override_plan& o : p.overrides) {
      if (o.day != day) continue;
      if (auto r = gate_.set_overrides(p.id, o.overrides); !r)
        throw std::runtime_error(fmt::format("account '{}': overrides of day {}: {}", p.id, day, r.error().message()));
      d.notes.push_back(o.overrides.empty() ? std::string("overrides removed") : override_note_of(o));
    }
    if (p.autobilling && p.autobilling->from_day == day) {
      if (auto r = gate_.set_autobilling(p.id, p.autobilling->settings); !r)
        throw std::runtime_error(fmt::format("account '{}': autobilling: {}", p.id, r.error().message()));
      d.notes.push_back("autobilling on");
    }
    std::size_t n = 0;
    for (const purchase_plan& b : p.purchases) {
      if (b.day != day) continue;
      buy(i, b.amount, fmt::format("purchase-{}-{}", day, n++), d);
    }
  }

  static std::string override_note_of(const override_plan& o) {
    std::string what;
    for (const limit_override& l : o.overrides.limits) {
      what += fmt::format("{}{} {}:", what.empty() ? "" : ", ", l.scope == override_scope::group ? "group" : "model",
                          l.target);
      if (l.concurrent) what += fmt::format(" {} at once", limit_text(*l.concurrent));
      if (l.daily) what += fmt::format(" {} a day", limit_text(*l.daily));
      if (l.mode == override_mode::shadow) what += " (shadow)";
    }
    for (const spend_cap_override& c : o.overrides.spend_caps) {
      what += fmt::format("{}spend cap {}", what.empty() ? "" : ", ",
                          c.cap.is_unlimited() ? std::string("unlimited") : "$" + c.cap.max().to_string());
      if (c.mode == override_mode::shadow) what += " (shadow)";
    }
    const override_note& note = !o.overrides.limits.empty() ? o.overrides.limits.front().note
                                                             : o.overrides.spend_caps.front().note;
    return fmt::format("overrides by {} ({}): {}", note.set_by, note.reason, what);
  }

  static std::string limit_text(const job_limit& l) {
    return l.is_unlimited() ? std::string("unlimited") : std::to_string(l.max());
  }

  void buy(std::size_t i, const usd& amount, const std::string& key, day_figures& d) {
    const account_plan& p = s_.accounts[i];
    auto r = gate_.purchase(p.id, amount, key);
    if (r) {
      ++d.purchases;
      d.purchased += r->paid;
      d.notes.push_back(fmt::format("bought ${}", r->paid.to_string()));
    } else if (r.error() == errc::monthly_spend_limit) {
      ++d.purchases_refused;
      d.notes.push_back(fmt::format("purchase of ${} refused (monthly_spend_limit)", amount.to_string()));
    } else {
      throw std::runtime_error(fmt::format("account '{}': purchase: {}", p.id, r.error().message()));
    }
  }

  // The day's jobs of each workload line at uniform times (to the
  // millisecond) within the working hours.
  void schedule_arrivals(std::size_t i, std::int64_t day, sim_time begin) {
    const account_plan& p = s_.accounts[i];
    const auto from = std::chrono::duration_cast<std::chrono::milliseconds>(s_.work_from);
    const auto span = std::chrono::duration_cast<std::chrono::milliseconds>(s_.work_to - s_.work_from).count();
    for (std::size_t line = 0; line < p.workload.size(); ++line) {
      const std::int64_t jobs = p.workload[line].jobs_on(day);
      rng r = rng::stream(s_.seed, "arrivals", i, line, static_cast<std::uint64_t>(day));
      std::vector<std::int64_t> at(static_cast<std::size_t>(jobs));
      for (std::int64_t& t : at) t = static_cast<std::int64_t>(r.below(static_cast<std::uint64_t>(span)));
      std::sort(at.begin(), at.end());
      for (std::int64_t n = 0; n < jobs; ++n)
        push(event{begin + from + std::chrono::milliseconds(at[static_cast<std::size_t>(n)]), 0, event_kind::arrival,
                   i, line, n});
    }
  }

  void push(event e) {
    e.seq = next_seq_++;
    events_.push(std::move(e));
  }

  fate fate_of(const event& e, std::int64_t day) const {
    const workload_line& w = s_.accounts[e.account].workload[e.line];
    const model_behaviour& b = s_.behaviour(w.job.model);
    rng r = rng::stream(s_.seed, "job", e.account, e.line,
                        (static_cast<std::uint64_t>(day) << 32) | static_cast<std::uint64_t>(e.n));
    const auto lo = static_cast<std::uint64_t>(b.min_generation.count());
    const auto hi = static_cast<std::uint64_t>(b.max_generation.count());
    const auto seconds = static_cast<std::int64_t>(r.between(lo, hi));
    return fate{e.line, std::chrono::seconds(seconds), r.chance_ppm(b.failure_ppm)};
  }

  void arrive(const event& e, std::int64_t day) {
    const account_plan& p = s_.accounts[e.account];
    day_figures& d = *heard_.today[e.account];
    ++d.submitted;
    const std::string key = fmt::format("d{}-w{}-{}", day, e.line, e.n);
    auto t = gate_.submit(p.id, p.workload[e.line].job, key);
    if (!t) {
      const errc reason = t.code().category() == error_category() ? static_cast<errc>(t.code().value())
                                                                   : errc::invalid_argument;
      ++d.refused[reason];
      return;
    }
    ++d.created;
    if (t->status == task_status::throttled) ++d.throttled;
    fates_.emplace(std::pair{e.account, t->id}, fate_of(e, day));
  }

  // A task that took a slot runs for its generation time, then finishes.
  void drain_started() {
    std::vector<heard::started_task> started = std::move(heard_.started);
    heard_.started.clear();
    for (heard::started_task& s : started) {
      const auto it = fates_.find(std::pair{s.account, s.task});
      if (it == fates_.end())
        throw std::logic_error(fmt::format("task {} started, but the simulation did not submit it", s.task));
      push(event{clock_.now() + it->second.generation, 0, event_kind::finish, s.account, it->second.line, 0,
                 std::move(s.task)});
    }
  }

  void finish(const event& e) {
    const account_plan& p = s_.accounts[e.account];
    day_figures& d = *heard_.today[e.account];
    const auto it = fates_.find(std::pair{e.account, e.task});
    const task_ref ref{p.id, e.task};
    if (it->second.fails) {
      auto r = gate_.fail(ref, "simulated failure");
      if (!r) throw std::runtime_error(fmt::format("account '{}': fail: {}", p.id, r.error().message()));
      ++d.failed;
      d.refunded += r->refunded;
    } else {
      auto r = gate_.complete(ref, p.workload[e.line].job.usage);
      if (!r) throw std::runtime_error(fmt::format("account '{}': complete: {}", p.id, r.error().message()));
      ++d.succeeded;
      d.spent += r->task.cost;
    }
    fates_.erase(it);
  }

  void end_of_day(std::size_t i) {
    day_figures& d = *heard_.today[i];
    auto o = gate_.organization(s_.accounts[i].id);
    if (!o) throw std::runtime_error(fmt::format("organization: {}", o.error().message()));
    d.tier = o->tier;
    d.tier_name = o->tier_name;
    d.balance = o->credit_balance;
    d.held = o->held;
    d.running = o->running;
    d.queued = o->queued;
  }

  static void sum_up(account_result& a) {
    day_figures& t = a.totals;
    for (const errc e : listed_refusals) t.refused[e] = 0;
    for (const day_figures& d : a.days) {
      add_flows(t, d);
      if (a.tiers.empty() || a.tiers.back().tier < d.tier) a.tiers.push_back({d.tier, d.tier_name, d.day});
    }
    if (a.days.empty()) return;
    const day_figures& last = a.days.back();
    t.day = last.day;
    t.date = last.date;
    t.tier = last.tier;
    t.tier_name = last.tier_name;
    t.balance = last.balance;
    t.held = last.held;
    t.running = last.running;
    t.queued = last.queued;
  }

  struct pair_hash {
    std::size_t operator()(const std::pair<std::size_t, std::string>& k) const noexcept {
      return std::hash<std::string>{}(k.second) ^ (k.first * 0x9e3779b97f4a7c15ull);
    }
  };

  const scenario& s_;
  sim_clock clock_;
  heard heard_{};
  gate_type gate_;
  simulation_result result_{};
  std::priority_queue<event, std::vector<event>, std::greater<>> events_{};
  std::uint64_t next_seq_ = 0;
  std::unordered_map<std::pair<std::size_t, std::string>, fate, pair_hash> fates_{};
};

}  // namespace detail

/**
 * Plays `s` through a gate (see the file comment): the figures of every
 * account, day by day, and their totals. Deterministic: the same scenario
 * gives the same result. Throws std::runtime_error if the gate refuses what a
 * valid scenario asks of it outside the refusals a simulation counts (which
 * would be a bug: the scenario reader checks what the gate would refuse).
 */
[[nodiscard]] inline simulation_result run_simulation(const scenario& s) { return detail::runner(s).run(); }

}  // namespace tollgate::examples::simulate
