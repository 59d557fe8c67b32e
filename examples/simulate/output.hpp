// tollgate-simulate's output: a run (simulation.hpp) as a text report (one
// table per account, a row a day and a total, then the tiers it went through
// and where it ended), as JSON (the same figures as data: exact decimal
// strings for credits and dollars, as the other tools print them), and as
// the figures the SVG chart draws (chart.hpp). Pure functions of the run.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "../common/json_output.hpp"
#include "../common/text_table.hpp"
#include "chart.hpp"
#include "simulation.hpp"

namespace tollgate::examples::simulate {

namespace detail {

using out_json = nlohmann::ordered_json;

// "2026-11-01".
[[nodiscard]] inline std::string date_text(std::chrono::sys_days d) {
  const std::chrono::year_month_day ymd{d};
  return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                     static_cast<unsigned>(ymd.day()));
}

// A count or "-" for none (the table reads at a glance).
[[nodiscard]] inline std::string count_or_dash(std::int64_t n) { return n == 0 ? "-" : std::to_string(n); }

// "$40.00", "$350.00 (2)" or "-".
[[nodiscard]] inline std::string dollars_cell(std::int64_t n, const usd& amount) {
  if (n == 0) return "-";
  return n == 1 ? fmt::format("${}", amount.to_string()) : fmt::format("${} ({})", amount.to_string(), n);
}

// The reasons beside the listed ones that refused a job of this account.
[[nodiscard]] inline std::vector<errc> other_reasons(const day_figures& totals) {
  std::vector<errc> out;
  for (const auto& [reason, n] : totals.refused)
    if (n > 0 && std::find(listed_refusals.begin(), listed_refusals.end(), reason) == listed_refusals.end())
      out.push_back(reason);
  return out;
}

[[nodiscard]] inline std::string plural(std::int64_t n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

inline void table_row(table& t, const std::string& day, const std::string& date, const day_figures& d,
                      const std::vector<errc>& others, const std::string& notes) {
  std::vector<std::string> cells{day,
                                 date,
                                 std::to_string(d.tier.value),
                                 d.balance.to_string(),
                                 d.held.to_string(),
                                 std::to_string(d.submitted),
                                 std::to_string(d.created),
                                 count_or_dash(d.throttled),
                                 count_or_dash(d.refused_for(errc::daily_limit)),
                                 count_or_dash(d.refused_for(errc::insufficient_credits))};
  for (const errc e : others) cells.push_back(count_or_dash(d.refused_for(e)));
  cells.insert(cells.end(), {std::to_string(d.succeeded), count_or_dash(d.failed), d.spent.to_string(),
                             d.refunded.is_zero() ? "-" : d.refunded.to_string(), dollars_cell(d.purchases, d.purchased),
                             dollars_cell(d.recharges, d.recharged), notes});
  t.row(std::move(cells));
}

[[nodiscard]] inline std::string account_text(const account_result& a) {
  const std::vector<errc> others = other_reasons(a.totals);
  std::string align = "rlrrrrrrrr" + std::string(others.size(), 'r') + "rrrrlll";
  table t(align);
  std::vector<std::string> head{"day", "date", "tier", "balance", "held", "jobs", "created", "queued", "over cap",
                                "no credits"};
  for (const errc e : others) head.emplace_back(reason_name(e));
  head.insert(head.end(), {"done", "failed", "spent", "refunded", "bought", "recharged", "notes"});
  t.row(std::move(head));
  for (const day_figures& d : a.days) {
    std::string notes;
    for (const std::string& n : d.notes) notes += (notes.empty() ? "" : "; ") + n;
    table_row(t, std::to_string(d.day), date_text(d.date), d, others, notes);
  }
  table_row(t, "total", "", a.totals, others, "");
  std::string out = fmt::format("account {}\n", a.id) + t.str();
  const day_figures& s = a.totals;
  out += fmt::format("totals: {} submitted, {} created ({} queued first), {} refused", s.submitted, s.created,
                     s.throttled, s.refused_total());
  std::string reasons;
  for (const auto& [reason, n] : s.refused)
    if (n > 0) reasons += fmt::format("{}{} {}", reasons.empty() ? "" : ", ", n, reason_name(reason));
  if (!reasons.empty()) out += fmt::format(" ({})", reasons);
  out += fmt::format(", {} succeeded, {} failed and refunded in full\n", s.succeeded, s.failed);
  out += fmt::format("credits: {} spent, {} refunded; bought ${} in {}, recharged ${} in {}{}\n", s.spent.to_string(),
                     s.refunded.to_string(), s.purchased.to_string(), plural(s.purchases, "purchase", "purchases"),
                     s.recharged.to_string(), plural(s.recharges, "recharge", "recharges"),
                     s.purchases_refused > 0 ? fmt::format("; {} refused", plural(s.purchases_refused, "purchase", "purchases"))
                                             : std::string());
  std::string steps;
  for (const tier_step& st : a.tiers) steps += fmt::format("{}{} from day {}", steps.empty() ? "" : ", ", st.name, st.day);
  out += fmt::format("tiers: {}\n", steps);
  out += fmt::format("end: {}, {} credits available, {} held, {} running, {} queued\n", s.tier_name,
                     s.balance.to_string(), s.held.to_string(), s.running, s.queued);
  return out;
}

[[nodiscard]] inline out_json figures_json(const day_figures& d, bool with_day) {
  out_json j = out_json::object();
  if (with_day) {
    j["day"] = d.day;
    j["date"] = date_text(d.date);
  }
  j["tier"] = d.tier.value;
  j["tier_name"] = d.tier_name;
  j["balance"] = d.balance.to_string();
  j["held"] = d.held.to_string();
  j["running"] = d.running;
  j["queued"] = d.queued;
  j["submitted"] = d.submitted;
  j["created"] = d.created;
  j["throttled"] = d.throttled;
  out_json refused = out_json::object();
  for (const auto& [reason, n] : d.refused) refused[std::string(reason_name(reason))] = n;
  j["refused"] = std::move(refused);
  j["succeeded"] = d.succeeded;
  j["failed"] = d.failed;
  j["spent"] = d.spent.to_string();
  j["refunded"] = d.refunded.to_string();
  j["purchases"] = d.purchases;
  j["purchased_usd"] = d.purchased.to_string();
  j["purchases_refused"] = d.purchases_refused;
  j["recharges"] = d.recharges;
  j["recharged_usd"] = d.recharged.to_string();
  if (with_day) j["notes"] = d.notes;
  return j;
}

}  // namespace detail

/// The run as text: a heading, then each account's table and totals.
[[nodiscard]] inline std::string text_report(const simulation_result& r) {
  std::string out = fmt::format("{}\n{} days from {} (UTC), seed {}\n", r.name, r.days, detail::date_text(r.start), r.seed);
  for (const account_result& a : r.accounts) out += "\n" + detail::account_text(a);
  out += "\njobs: created = accepted by the gate (credits held); queued = created THROTTLED, waiting for a slot; "
         "over cap = refused with daily_limit (the tier's jobs per 24 h); no credits = refused with "
         "insufficient_credits; done = SUCCEEDED; failed = FAILED, refunded in full\n";
  return out;
}

/// The run as one line of JSON (and a newline).
[[nodiscard]] inline std::string json_report(const simulation_result& r) {
  using detail::out_json;
  out_json j = out_json::object();
  j["scenario"] = {{"name", r.name},
                   {"description", r.description},
                   {"start", detail::date_text(r.start)},
                   {"days", r.days},
                   {"seed", r.seed}};
  out_json accounts = out_json::array();
  for (const account_result& a : r.accounts) {
    out_json days = out_json::array();
    for (const day_figures& d : a.days) days.push_back(detail::figures_json(d, true));
    out_json tiers = out_json::array();
    for (const tier_step& t : a.tiers) tiers.push_back({{"tier", t.tier.value}, {"name", t.name}, {"day", t.day}});
    accounts.push_back({{"id", a.id}, {"days", std::move(days)}, {"totals", detail::figures_json(a.totals, false)},
                        {"tiers", std::move(tiers)}});
  }
  j["accounts"] = std::move(accounts);
  return json_text(j) + "\n";
}

/// What the chart draws: each account's balance, tier, and jobs created and
/// refused, day by day.
[[nodiscard]] inline chart_data chart_of(const simulation_result& r) {
  chart_data c{.title = r.name, .start = r.start, .accounts = {}};
  for (const account_result& a : r.accounts) {
    chart_account ca{.id = a.id, .balance = {}, .tier = {}, .created = {}, .refused = {}};
    for (const day_figures& d : a.days) {
      ca.balance.push_back(detail::whole_credits(d.balance));
      ca.tier.push_back(d.tier.value);
      ca.created.push_back(d.created);
      ca.refused.push_back(d.refused_total());
    }
    c.accounts.push_back(std::move(ca));
  }
  return c;
}

}  // namespace tollgate::examples::simulate
