// Where an account stands: the organization view (what the provider's
// organization endpoint returns: creditBalance, the tier's maxMonthlyCreditSpend
// in credits, per model maxConcurrentGenerations, maxDailyGenerations and
// dailyGenerations; plus what tollgate knows beyond it: the tier's number and
// name, held credits, running and queued tasks, the spend of the rolling 30
// days and what is left of the cap, when the next promotion is due and what
// it needs) and the usage report (credits used per model per UTC day, net of
// refunds). Plain structs that basic_gate fills (organization(), usage()),
// printed as text through fmt here and as JSON by tollgate/json/report.hpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/money.hpp"
#include "tiers/detail/time.hpp"
#include "tiers/tier_table.hpp"

namespace tollgate {

/// One model's limits and use, as the organization view lists them.
struct model_usage_view {
  std::string model{};
  std::string group{};         ///< the tier table's group ("" when the model has none: unlimited)
  job_limit max_concurrent{};  ///< maxConcurrentGenerations (unlimited: null)
  job_limit max_daily{};       ///< maxDailyGenerations (unlimited: null)
  std::uint64_t daily_generations = 0;  ///< dailyGenerations: jobs created in the last 24 h
  std::uint64_t running = 0;            ///< tasks holding a slot
  std::uint64_t queued = 0;             ///< THROTTLED tasks
  bool overridden = false;              ///< an enterprise override sets a limit shown here
};

/**
 * An account's organization view at `at`.
 *
 * `max_monthly_credit_spend` is the 30-day spend cap in credits, as the
 * provider reports it (tier 1's $100 is 10,000 credits at $0.01), empty when
 * unlimited. The `next_*` members describe the tier just above (none at the
 * top): the dollars still to buy, and when the account is old enough
 * (`old_enough_at`; `needs_first_purchase` when it has bought nothing yet);
 * `promotion_due_at` is when age alone will promote it.
 */
template <class TimePoint>
struct basic_organization {
  std::string account{};
  TimePoint at{};
  credits credit_balance{};  ///< creditBalance: available credits
  credits held{};            ///< reserved by open tasks
  tier_id tier{};
  std::string tier_name{};
  std::size_t tier_count = 0;
  spend_cap max_monthly_spend{};                   ///< dollars per rolling 30 days
  std::optional<credits> max_monthly_credit_spend{};  ///< the same in credits (empty: unlimited)
  usd spent_30_days{};
  limit<usd> spend_left{};
  usd purchased{};  ///< dollars bought to date
  std::optional<TimePoint> first_purchase{};
  std::vector<model_usage_view> models{};
  std::uint64_t running = 0;
  std::uint64_t queued = 0;
  std::optional<tier_id> next_tier{};
  std::string next_tier_name{};
  usd next_purchases_needed{};
  std::optional<TimePoint> next_old_enough_at{};
  bool next_needs_first_purchase = false;
  std::optional<TimePoint> promotion_due_at{};
};

/// Credits used on one UTC day, per model (models with no use left out).
struct usage_day {
  std::chrono::sys_days date{};
  std::vector<std::pair<std::string, credits>> used{};
};

/**
 * Credits used per model per UTC day over [first, last] (inclusive), net of
 * refunds; `results` has one entry per day of the range, oldest first
 * (`results[].date`, `results[].usedCredits[]` in the provider's usage
 * endpoint); `models` lists every model used in the range.
 */
struct usage_report {
  std::string account{};
  std::chrono::sys_days first{};
  std::chrono::sys_days last{};
  std::vector<std::string> models{};
  std::vector<usage_day> results{};
};

namespace report_detail {

template <class TimePoint>
[[nodiscard]] std::string when(const TimePoint& t) {
  return tiers::detail::utc(tiers::detail::to_ns(t));
}

[[nodiscard]] inline std::string day_text(std::chrono::sys_days d) {
  const std::chrono::year_month_day ymd{d};
  return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                     static_cast<unsigned>(ymd.day()));
}

[[nodiscard]] inline std::string limit_text(const job_limit& l) {
  return l.is_unlimited() ? std::string("unlimited") : fmt::format("{}", l.max());
}

}  // namespace report_detail

/// The organization view as lines a person reads (the models as a table).
template <class TimePoint>
[[nodiscard]] std::string to_text(const basic_organization<TimePoint>& o) {
  using namespace report_detail;
  std::string out = fmt::format("account {}: {} (tier {} of {})\n", o.account, o.tier_name, o.tier.value,
                                o.tier_count);
  out += fmt::format("  credit balance {} available, {} held\n", o.credit_balance.to_string(0), o.held.to_string(0));
  if (o.max_monthly_spend.is_unlimited()) {
    out += fmt::format("  spent in the last 30 days ${} (no cap)\n", o.spent_30_days.to_string());
  } else {
    out += fmt::format("  spent in the last 30 days ${} of ${} (${} left); max monthly credit spend {}\n",
                       o.spent_30_days.to_string(), o.max_monthly_spend.max().to_string(),
                       o.spend_left.max().to_string(),
                       o.max_monthly_credit_spend ? o.max_monthly_credit_spend->to_string(0) : "unlimited");
  }
  if (o.next_tier) {
    std::string needs;
    if (o.next_purchases_needed.is_positive()) needs = fmt::format("${} more in purchases", o.next_purchases_needed.to_string());
    const std::string age = o.next_needs_first_purchase ? "a first purchase and then time"
                            : o.next_old_enough_at     ? "old enough from " + when(*o.next_old_enough_at)
                                                       : std::string();
    if (!age.empty()) needs += (needs.empty() ? "" : "; ") + age;
    out += fmt::format("  next: {} needs {}\n", o.next_tier_name, needs.empty() ? "nothing more" : needs);
  } else {
    out += "  next: none (the top tier)\n";
  }
  if (o.promotion_due_at) out += fmt::format("  promotion by age due at {}\n", when(*o.promotion_due_at));
  out += fmt::format("  tasks: {} running, {} queued\n", o.running, o.queued);
  out += fmt::format("  {:<22} {:>10} {:>10} {:>8} {:>8} {:>7}\n", "model", "concurrent", "daily", "today",
                     "running", "queued");
  for (const model_usage_view& m : o.models)
    out += fmt::format("  {:<22} {:>10} {:>10} {:>8} {:>8} {:>7}{}\n", m.model, limit_text(m.max_concurrent),
                       limit_text(m.max_daily), m.daily_generations, m.running, m.queued,
                       m.overridden ? "  (override)" : "");
  return out;
}

/// The usage report as lines: one per day with the credits of each model.
[[nodiscard]] inline std::string to_text(const usage_report& r) {
  using namespace report_detail;
  std::string out = fmt::format("usage of {} from {} to {}\n", r.account, day_text(r.first), day_text(r.last));
  for (const usage_day& d : r.results) {
    out += "  " + day_text(d.date);
    if (d.used.empty()) out += "  -";
    for (const auto& [model, amount] : d.used) out += fmt::format("  {} {}", model, amount.to_string(0));
    out += '\n';
  }
  return out;
}

}  // namespace tollgate
