// The gate's reports as JSON (optional adapter: needs nlohmann-json): the
// organization view in the shape of the provider's organization endpoint
// (creditBalance; tier.maxMonthlyCreditSpend and tier.models.<model>.
// {maxConcurrentGenerations, maxDailyGenerations}, null for unlimited;
// usage.models.<model>.dailyGenerations) with what tollgate knows beyond it
// under "tollgate", and the usage report in the shape of the provider's usage
// endpoint (results[].date, results[].usedCredits[].{model, amount}).
// Credits are JSON numbers: integers when whole, else decimals; dollars are
// decimal strings ("100.00"), as everywhere in tollgate's JSON.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "../report.hpp"

namespace tollgate::json {

/// Credits as a JSON number: an integer when whole, else the exact decimal
/// read as a double (credits have at most 6 decimal places).
[[nodiscard]] inline nlohmann::ordered_json credits_number(const credits& c) {
  const std::string s = c.to_string(0);
  if (s.find('.') == std::string::npos && s.size() < 19) return std::stoll(s);
  return nlohmann::ordered_json::parse(s);
}

namespace report_detail {

[[nodiscard]] inline nlohmann::ordered_json limit_json(const job_limit& l) {
  if (l.is_unlimited()) return nullptr;
  return l.max();
}

template <class TimePoint>
[[nodiscard]] nlohmann::ordered_json time_json(const std::optional<TimePoint>& t) {
  if (!t) return nullptr;
  return ::tollgate::report_detail::when(*t);
}

}  // namespace report_detail

/// The organization view: the provider's fields, then "tollgate" with the rest.
template <class TimePoint>
[[nodiscard]] nlohmann::ordered_json organization_json(const basic_organization<TimePoint>& o) {
  using nlohmann::ordered_json;
  ordered_json models = ordered_json::object(), used = ordered_json::object(), extra_models = ordered_json::object();
  for (const model_usage_view& m : o.models) {
    models[m.model] = {{"maxConcurrentGenerations", report_detail::limit_json(m.max_concurrent)},
                       {"maxDailyGenerations", report_detail::limit_json(m.max_daily)}};
    used[m.model] = {{"dailyGenerations", m.daily_generations}};
    extra_models[m.model] = {{"group", m.group}, {"running", m.running}, {"queued", m.queued},
                             {"overridden", m.overridden}};
  }
  ordered_json next = nullptr;
  if (o.next_tier)
    next = {{"tier", o.next_tier->value},
            {"name", o.next_tier_name},
            {"purchasesNeededUsd", o.next_purchases_needed.to_string()},
            {"oldEnoughAt", report_detail::time_json(o.next_old_enough_at)},
            {"needsFirstPurchase", o.next_needs_first_purchase}};
  ordered_json out;
  out["creditBalance"] = credits_number(o.credit_balance);
  out["tier"] = {{"maxMonthlyCreditSpend",
                  o.max_monthly_credit_spend ? credits_number(*o.max_monthly_credit_spend) : ordered_json(nullptr)},
                 {"models", models}};
  out["usage"] = {{"models", used}};
  out["tollgate"] = {
      {"account", o.account},
      {"at", ::tollgate::report_detail::when(o.at)},
      {"tier", o.tier.value},
      {"tierName", o.tier_name},
      {"heldCredits", credits_number(o.held)},
      {"maxMonthlySpendUsd",
       o.max_monthly_spend.is_unlimited() ? ordered_json(nullptr) : ordered_json(o.max_monthly_spend.max().to_string())},
      {"spentUsd30Days", o.spent_30_days.to_string()},
      {"spendLeftUsd", o.spend_left.is_unlimited() ? ordered_json(nullptr) : ordered_json(o.spend_left.max().to_string())},
      {"purchasedUsd", o.purchased.to_string()},
      {"firstPurchase", report_detail::time_json(o.first_purchase)},
      {"running", o.running},
      {"queued", o.queued},
      {"nextTier", next},
      {"promotionDueAt", report_detail::time_json(o.promotion_due_at)},
      {"models", extra_models}};
  return out;
}

/// The usage report: {"models": [...], "results": [{"date", "usedCredits": [{model, amount}]}]}.
[[nodiscard]] inline nlohmann::ordered_json usage_json(const usage_report& r) {
  using nlohmann::ordered_json;
  ordered_json results = ordered_json::array();
  for (const usage_day& d : r.results) {
    ordered_json used = ordered_json::array();
    for (const auto& [model, amount] : d.used) used.push_back({{"model", model}, {"amount", credits_number(amount)}});
    results.push_back({{"date", ::tollgate::report_detail::day_text(d.date)}, {"usedCredits", used}});
  }
  return {{"models", r.models}, {"results", results}};
}

}  // namespace tollgate::json
