// tollgate-simulate's scenario files: who buys what and runs which jobs, day
// by day, over how many days (docs/simulate.md documents the shape; the two
// samples are data/scenario-studio.json and data/scenario-agency.json). The
// reader is strict in the way of the library's own loaders
// (json/detail/fields.hpp): a repeated key, an unknown field, a value of the
// wrong type or out of its range, a floating-point amount, a model the
// catalog does not know, a job it cannot price, overrides or autobilling
// settings the tier engine refuses: each is refused with the JSON path of the
// value and the reason, and nothing runs.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <tollgate/core/money.hpp>
#include <tollgate/json/detail/fields.hpp>
#include <tollgate/json/file.hpp>
#include <tollgate/pricing/catalog.hpp>
#include <tollgate/pricing/usage.hpp>
#include <tollgate/tiers/autobilling.hpp>
#include <tollgate/tiers/overrides.hpp>

#include "../common/arguments.hpp"

namespace tollgate::examples::simulate {

/// The format version this reader takes (the file's "version").
inline constexpr int scenario_format_version = 1;
/// The largest scenario file read: 1 MiB.
inline constexpr std::size_t max_scenario_bytes = std::size_t{1} << 20;
/// At most this many days are simulated (a year and a day).
inline constexpr std::int64_t max_days = 366;
/// At most this many accounts.
inline constexpr std::int64_t max_accounts = 100;
/// At most this many jobs a day on one workload line.
inline constexpr std::int64_t max_jobs_per_day = 100'000;
/// At most this many jobs in a whole scenario (the simulation keeps each
/// job's key and figures while it runs).
inline constexpr std::int64_t max_total_jobs = 5'000'000;
/// The longest generation time: a day.
inline constexpr std::int64_t max_generation_seconds = 86'400;

/**
 * A scenario file refused: source() (the file), path() (the JSON path of the
 * value, e.g. "accounts[0].workload[2].jobs_per_day.last") and reason();
 * what() is "SOURCE: PATH: REASON".
 */
class scenario_error : public json::config_file_error {
 public:
  using json::config_file_error::config_file_error;
};

/// How a model behaves when it runs: how long a job takes (uniform in
/// [min, max] whole seconds) and the share of jobs that fail.
struct model_behaviour {
  std::chrono::seconds min_generation{60};
  std::chrono::seconds max_generation{60};
  std::uint32_t failure_ppm = 0;  ///< failures per million jobs
  friend bool operator==(const model_behaviour&, const model_behaviour&) = default;
};

/// Jobs of one kind that an account submits, from one day to another.
struct workload_line {
  tollgate::job job;
  std::int64_t from_day = 1;  ///< 1-based, inclusive
  std::int64_t to_day = 1;    ///< inclusive
  std::int64_t first = 0;     ///< jobs on from_day
  std::int64_t last = 0;      ///< jobs on to_day; the days between are on the straight line

  /// Jobs submitted on `day` (0 outside [from_day, to_day]): the straight
  /// line from `first` to `last`, rounded half up, in integers.
  [[nodiscard]] std::int64_t jobs_on(std::int64_t day) const noexcept {
    if (day < from_day || day > to_day) return 0;
    if (to_day == from_day) return first;
    const std::int64_t span = to_day - from_day;
    const std::int64_t num = (last - first) * (day - from_day);
    // Round half away from zero: (2 num + span) / (2 span), signs apart.
    const std::int64_t step = num >= 0 ? (2 * num + span) / (2 * span) : -((-2 * num + span) / (2 * span));
    return first + step;
  }
};

/// A purchase made at 00:00 UTC of `day`.
struct purchase_plan {
  std::int64_t day = 1;
  usd amount{};
};

/// Autobilling switched on at 00:00 UTC of `from_day`.
struct autobilling_plan {
  std::int64_t from_day = 1;
  autobilling_settings settings{};
};

/// The account's overrides from 00:00 UTC of `day` on (they replace the
/// ones set before; an empty set removes them).
struct override_plan {
  std::int64_t day = 1;
  account_overrides overrides{};
};

/// One simulated account.
struct account_plan {
  std::string id;
  std::vector<purchase_plan> purchases;
  std::optional<autobilling_plan> autobilling;
  std::vector<override_plan> overrides;
  std::vector<workload_line> workload;
};

/// A whole scenario, as read from its file.
struct scenario {
  std::string name;
  std::string description;
  std::chrono::sys_days start{};   ///< day 1, from 00:00 UTC
  std::int64_t days = 1;
  std::uint64_t seed = 1;
  std::chrono::hours work_from{9};   ///< jobs arrive in [work_from, work_to) each day
  std::chrono::hours work_to{18};
  model_behaviour default_model{};
  std::map<std::string, model_behaviour, std::less<>> models;
  std::vector<account_plan> accounts;

  /// How `model` behaves (its entry in "models", or the default).
  [[nodiscard]] const model_behaviour& behaviour(std::string_view model) const {
    const auto it = models.find(model);
    return it == models.end() ? default_model : it->second;
  }
  /// The jobs the whole scenario submits.
  [[nodiscard]] std::int64_t total_jobs() const {
    std::int64_t n = 0;
    for (const account_plan& a : accounts)
      for (const workload_line& w : a.workload)
        for (std::int64_t d = w.from_day; d <= w.to_day; ++d) n += w.jobs_on(d);
    return n;
  }
};

namespace detail {

namespace f = json::fields;
using f::ojson;

// "2026-11-01": a real date in the proleptic Gregorian calendar, from 1970 on.
[[nodiscard]] inline std::chrono::sys_days date_at(const ojson& v, const std::string& path) {
  const std::string s = f::string_at(v, path);
  const auto digits = [&](std::size_t at, std::size_t n) {
    int x = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return -1;
      x = x * 10 + (s[i] - '0');
    }
    return x;
  };
  const bool shaped = s.size() == 10 && s[4] == '-' && s[7] == '-';
  const int y = shaped ? digits(0, 4) : -1, m = shaped ? digits(5, 2) : -1, d = shaped ? digits(8, 2) : -1;
  const std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(static_cast<unsigned>(m)),
                                        std::chrono::day(static_cast<unsigned>(d))};
  if (y < 0 || m < 0 || d < 0 || !ymd.ok())
    f::fail(path, fmt::format("expected a date such as \"2026-11-01\", got {}", examples::quoted(s)));
  if (y < 1970 || y > 2200) f::fail(path, fmt::format("must be from 1970 to 2200, got {}", s));
  return std::chrono::sys_days(ymd);
}

// A percentage from 0 to 100 with at most 4 decimal places, as parts per
// million: an integer, or a decimal string ("2.5"); never a floating-point
// number (2.5 would not be exact in a double on every path).
[[nodiscard]] inline std::uint32_t percent_ppm_at(const ojson& v, const std::string& path) {
  constexpr std::string_view expected = "a percentage from 0 to 100 such as 2 or \"2.5\" (at most 4 decimal places)";
  if (v.is_number_float())
    f::fail(path, fmt::format("floating-point numbers are refused; expected {}", expected));
  std::string text;
  if (v.is_number_integer() || v.is_number_unsigned()) {
    text = std::to_string(f::integer_at(v, path, 0, 100));
  } else if (v.is_string()) {
    text = v.get<std::string>();
  } else {
    f::fail(path, fmt::format("expected {}, got {}", expected, f::type_name(v)));
  }
  if (auto why = examples::detail::decimal_form_error(text, false, 4); !why.empty())
    f::fail(path, fmt::format("{} {}; expected {}", examples::quoted(text), why, expected));
  const std::size_t dot = std::min(text.find('.'), text.size());
  if (dot > 3) f::fail(path, fmt::format("must be at most 100, got {}", text));
  std::uint32_t ppm = 0;
  for (std::size_t i = 0; i < dot; ++i) ppm = ppm * 10 + static_cast<std::uint32_t>(text[i] - '0');
  ppm *= 10'000;
  std::uint32_t scale = 1'000;
  for (std::size_t i = dot + 1; i < text.size(); ++i, scale /= 10)
    ppm += static_cast<std::uint32_t>(text[i] - '0') * scale;
  if (ppm > 1'000'000) f::fail(path, fmt::format("must be at most 100, got {}", text));
  return ppm;
}

// A day of the scenario: 1 to `days`.
[[nodiscard]] inline std::int64_t day_at(const ojson& v, const std::string& path, std::int64_t days) {
  return f::integer_at(v, path, 1, days);
}

// An account id: 1 to 64 of a-z A-Z 0-9 _ - . (it goes into idempotency keys).
[[nodiscard]] inline std::string account_id_at(const ojson& v, const std::string& path) {
  std::string id = f::string_at(v, path);
  bool ok = !id.empty() && id.size() <= 64;
  for (const char c : id)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                c == '-' || c == '.');
  if (!ok) f::fail(path, fmt::format("{}: an account id has 1 to 64 of a-z A-Z 0-9 _ - .", examples::quoted(id)));
  return id;
}

// A note on a person's text (who set an override, why): a non-empty string.
[[nodiscard]] inline std::string text_at(const ojson& v, const std::string& path) {
  std::string s = f::string_at(v, path);
  if (s.empty()) f::fail(path, "must not be empty");
  return s;
}

[[nodiscard]] inline model_behaviour behaviour_at(const ojson& v, const std::string& path) {
  f::object_at(v, path, {"generation_seconds", "failure_percent"});
  model_behaviour b;
  if (const ojson* g = f::find(v, "generation_seconds")) {
    const std::string gp = f::member(path, "generation_seconds");
    f::object_at(*g, gp, {"min", "max"});
    const std::int64_t lo = f::integer_at(f::required(*g, gp, "min"), f::member(gp, "min"), 1, max_generation_seconds);
    const std::int64_t hi = f::integer_at(f::required(*g, gp, "max"), f::member(gp, "max"), 1, max_generation_seconds);
    if (hi < lo) f::fail(f::member(gp, "max"), fmt::format("must be at least min ({}), got {}", lo, hi));
    b.min_generation = std::chrono::seconds(lo);
    b.max_generation = std::chrono::seconds(hi);
  }
  if (const ojson* p = f::find(v, "failure_percent")) b.failure_ppm = percent_ppm_at(*p, f::member(path, "failure_percent"));
  return b;
}

// The usage fields of a job, as a plan job writes them (examples/common/plan.hpp).
inline void usage_field(const ojson& v, const std::string& path, std::string_view key, usage& u) {
  if (key == "seconds") {
    if (v.is_string()) {
      auto s = parse_media_seconds(v.get<std::string>(), "seconds");
      if (!s) f::fail(path, s.error().message());
      u.seconds = *s;
    } else if (v.is_number_float()) {
      f::fail(path, "floating-point numbers are refused; write seconds as an integer or a decimal string such as \"2.5\"");
    } else {
      u.seconds = media_duration{f::integer_at(v, path, 0, 1'000'000'000) * 1000};
    }
  } else if (key == "outputs") {
    u.outputs = count{f::integer_at(v, path, 1, 1'000'000)};
  } else if (key == "resolution") {
    u.resolution = f::string_at(v, path);
  } else if (key == "audio") {
    if (!v.is_boolean()) f::fail(path, fmt::format("expected true or false, got {}", f::type_name(v)));
    u.audio = v.get<bool>();
  } else if (key == "text") {
    u.text = f::string_at(v, path);
  }
}

[[nodiscard]] inline workload_line workload_at(const ojson& v, const std::string& path, std::int64_t days,
                                               const catalog& cat) {
  f::object_at(v, path, {"model", "seconds", "outputs", "resolution", "audio", "text", "jobs_per_day", "from_day",
                         "to_day"});
  workload_line w;
  w.job.model = f::string_at(f::required(v, path, "model"), f::member(path, "model"));
  for (const std::string_view key : {"seconds", "outputs", "resolution", "audio", "text"})
    if (const ojson* x = f::find(v, key)) usage_field(*x, f::member(path, key), key, w.job.usage);
  if (auto q = cat.quote(w.job); !q) f::fail(path, q.error().message());
  w.from_day = 1;
  w.to_day = days;
  if (const ojson* d = f::find(v, "from_day")) w.from_day = day_at(*d, f::member(path, "from_day"), days);
  if (const ojson* d = f::find(v, "to_day")) w.to_day = day_at(*d, f::member(path, "to_day"), days);
  if (w.to_day < w.from_day)
    f::fail(f::member(path, "to_day"), fmt::format("must not be before from_day ({}), got {}", w.from_day, w.to_day));
  const std::string jp = f::member(path, "jobs_per_day");
  const ojson& j = f::required(v, path, "jobs_per_day");
  if (j.is_object()) {
    f::object_at(j, jp, {"first", "last"});
    w.first = f::integer_at(f::required(j, jp, "first"), f::member(jp, "first"), 0, max_jobs_per_day);
    w.last = f::integer_at(f::required(j, jp, "last"), f::member(jp, "last"), 0, max_jobs_per_day);
  } else if (j.is_number_integer() || j.is_number_unsigned()) {
    w.first = w.last = f::integer_at(j, jp, 0, max_jobs_per_day);
  } else {
    f::fail(jp, fmt::format("expected a whole number or {{\"first\": N, \"last\": M}}, got {}", f::type_name(j)));
  }
  return w;
}

[[nodiscard]] inline purchase_plan purchase_at(const ojson& v, const std::string& path, std::int64_t days) {
  f::object_at(v, path, {"day", "usd"});
  purchase_plan p;
  p.day = day_at(f::required(v, path, "day"), f::member(path, "day"), days);
  p.amount = f::amount_at<usd>(f::required(v, path, "usd"), f::member(path, "usd"), "40");
  if (!p.amount.is_positive()) f::fail(f::member(path, "usd"), fmt::format("must be positive, got {}", p.amount.to_string()));
  return p;
}

[[nodiscard]] inline autobilling_plan autobilling_at(const ojson& v, const std::string& path, std::int64_t days) {
  f::object_at(v, path, {"from_day", "threshold_credits", "target_credits", "recharge_usd", "monthly_budget_usd"});
  autobilling_plan a;
  a.settings.enabled = true;
  if (const ojson* d = f::find(v, "from_day")) a.from_day = day_at(*d, f::member(path, "from_day"), days);
  a.settings.threshold = f::amount_at<credits>(f::required(v, path, "threshold_credits"),
                                               f::member(path, "threshold_credits"), "2000");
  const ojson* target = f::find(v, "target_credits");
  const ojson* fixed = f::find(v, "recharge_usd");
  if ((target == nullptr) == (fixed == nullptr))
    f::fail(path, "give either target_credits (recharge up to a balance) or recharge_usd (a fixed amount)");
  if (target) a.settings.recharge = target_balance{f::amount_at<credits>(*target, f::member(path, "target_credits"), "8000")};
  else a.settings.recharge = fixed_recharge{f::amount_at<usd>(*fixed, f::member(path, "recharge_usd"), "50")};
  if (const ojson* b = f::find(v, "monthly_budget_usd"))
    a.settings.monthly_budget = f::amount_at<usd>(*b, f::member(path, "monthly_budget_usd"), "300");
  if (auto ok = validate_autobilling(a.settings); !ok) f::fail(path, ok.error().message());
  return a;
}

[[nodiscard]] inline job_limit job_limit_at(const ojson& v, const std::string& path) {
  if (v.is_null()) return job_limit::unlimited();
  return job_limit(static_cast<std::uint64_t>(f::integer_at(v, path, 1)));
}

[[nodiscard]] inline override_mode mode_at(const ojson* v, const std::string& path) {
  if (!v) return override_mode::enforced;
  const std::string m = f::string_at(*v, path);
  if (m == "enforced") return override_mode::enforced;
  if (m == "shadow") return override_mode::shadow;
  f::fail(path, fmt::format("expected \"enforced\" or \"shadow\", got {}", examples::quoted(m)));
}

[[nodiscard]] inline limit_override limit_at(const ojson& v, const std::string& path, const override_note& note,
                                             const catalog& cat) {
  f::object_at(v, path, {"model", "group", "max_concurrent", "max_daily", "mode"});
  limit_override l;
  const ojson* model = f::find(v, "model");
  const ojson* group = f::find(v, "group");
  if ((model == nullptr) == (group == nullptr)) f::fail(path, "give either model or group");
  if (model) {
    l.target = f::string_at(*model, f::member(path, "model"));
    if (!cat.contains(l.target)) {
      std::string near;
      for (std::string_view c : cat.closest(l.target)) near += fmt::format("{}{}", near.empty() ? "" : ", ", c);
      f::fail(f::member(path, "model"), fmt::format("unknown model {}; closest known: {}", examples::quoted(l.target), near));
    }
  } else {
    l.scope = override_scope::group;
    l.target = f::string_at(*group, f::member(path, "group"));
    std::string groups;
    bool known = false;
    for (const model_spec& m : cat.models()) {
      if (groups.find(m.group) == std::string::npos) groups += fmt::format("{}{}", groups.empty() ? "" : ", ", m.group);
      known = known || m.group == l.target;
    }
    if (!known) f::fail(f::member(path, "group"), fmt::format("unknown group {}; the groups are {}", examples::quoted(l.target), groups));
  }
  if (const ojson* c = f::find(v, "max_concurrent")) l.concurrent = job_limit_at(*c, f::member(path, "max_concurrent"));
  if (const ojson* d = f::find(v, "max_daily")) l.daily = job_limit_at(*d, f::member(path, "max_daily"));
  if (!l.concurrent && !l.daily) f::fail(path, "overrides nothing: give max_concurrent, max_daily or both");
  l.mode = mode_at(f::find(v, "mode"), f::member(path, "mode"));
  l.note = note;
  return l;
}

[[nodiscard]] inline override_plan override_at(const ojson& v, const std::string& path, std::int64_t days,
                                               const catalog& cat) {
  f::object_at(v, path, {"day", "set_by", "reason", "limits", "spend_cap"});
  override_plan o;
  o.day = day_at(f::required(v, path, "day"), f::member(path, "day"), days);
  const override_note note{text_at(f::required(v, path, "set_by"), f::member(path, "set_by")),
                           text_at(f::required(v, path, "reason"), f::member(path, "reason"))};
  if (const ojson* ls = f::find(v, "limits")) {
    const std::string lp = f::member(path, "limits");
    f::array_at(*ls, lp);
    for (std::size_t i = 0; i < ls->size(); ++i)
      o.overrides.limits.push_back(limit_at((*ls)[i], f::element(lp, i), note, cat));
  }
  if (const ojson* cap = f::find(v, "spend_cap")) {
    const std::string cp = f::member(path, "spend_cap");
    f::object_at(*cap, cp, {"max_usd", "mode"});
    spend_cap_override s;
    const ojson& max = f::required(*cap, cp, "max_usd");
    if (!max.is_null()) {
      const usd cap = f::amount_at<usd>(max, f::member(cp, "max_usd"), "20000");
      if (!cap.is_positive())
        f::fail(f::member(cp, "max_usd"), fmt::format("must be positive (or null: unlimited), got {}", cap.to_string()));
      s.cap = spend_cap(cap);
    }
    s.mode = mode_at(f::find(*cap, "mode"), f::member(cp, "mode"));
    s.note = note;
    o.overrides.spend_caps.push_back(std::move(s));
  }
  if (auto ok = validate_overrides(o.overrides); !ok) f::fail(path, ok.error().message());
  return o;
}

// Day-ordered lists: the days of `list` must not go down (a file read in the
// order it runs).
template <class T>
void check_day_order(const std::vector<T>& list, const std::string& path, bool strictly) {
  for (std::size_t i = 1; i < list.size(); ++i)
    if (list[i].day < list[i - 1].day || (strictly && list[i].day == list[i - 1].day))
      f::fail(f::member(f::element(path, i), "day"),
              fmt::format("must be {} the day before it ({}), got {}", strictly ? "after" : "on or after",
                          list[i - 1].day, list[i].day));
}

[[nodiscard]] inline account_plan account_at(const ojson& v, const std::string& path, std::int64_t days,
                                             const catalog& cat) {
  f::object_at(v, path, {"id", "purchases", "autobilling", "overrides", "workload"});
  account_plan a;
  a.id = account_id_at(f::required(v, path, "id"), f::member(path, "id"));
  if (const ojson* ps = f::find(v, "purchases")) {
    const std::string pp = f::member(path, "purchases");
    f::array_at(*ps, pp);
    for (std::size_t i = 0; i < ps->size(); ++i) a.purchases.push_back(purchase_at((*ps)[i], f::element(pp, i), days));
    check_day_order(a.purchases, pp, false);
  }
  if (const ojson* ab = f::find(v, "autobilling")) a.autobilling = autobilling_at(*ab, f::member(path, "autobilling"), days);
  if (const ojson* os = f::find(v, "overrides")) {
    const std::string op = f::member(path, "overrides");
    f::array_at(*os, op);
    for (std::size_t i = 0; i < os->size(); ++i) a.overrides.push_back(override_at((*os)[i], f::element(op, i), days, cat));
    check_day_order(a.overrides, op, true);
  }
  const std::string wp = f::member(path, "workload");
  const ojson& ws = f::array_at(f::required(v, path, "workload"), wp);
  for (std::size_t i = 0; i < ws.size(); ++i) a.workload.push_back(workload_at(ws[i], f::element(wp, i), days, cat));
  return a;
}

[[nodiscard]] inline std::map<std::string, model_behaviour, std::less<>> models_at(const ojson& v,
                                                                                   const std::string& path,
                                                                                   const catalog& cat) {
  if (!v.is_object()) f::fail(path, fmt::format("expected an object keyed by model id, got {}", f::type_name(v)));
  std::map<std::string, model_behaviour, std::less<>> out;
  for (const auto& [model, b] : v.items()) {
    const std::string mp = f::member(path, model);
    if (!cat.contains(model)) {
      std::string near;
      for (std::string_view c : cat.closest(model)) near += fmt::format("{}{}", near.empty() ? "" : ", ", c);
      f::fail(mp, fmt::format("unknown model; closest known: {}", near));
    }
    out.emplace(model, behaviour_at(b, mp));
  }
  return out;
}

inline void hours_at(const ojson& v, const std::string& path, scenario& s) {
  f::object_at(v, path, {"from", "to"});
  const std::int64_t from = f::integer_at(f::required(v, path, "from"), f::member(path, "from"), 0, 23);
  const std::int64_t to = f::integer_at(f::required(v, path, "to"), f::member(path, "to"), 1, 24);
  if (to <= from) f::fail(f::member(path, "to"), fmt::format("must be after from ({}), got {}", from, to));
  s.work_from = std::chrono::hours(from);
  s.work_to = std::chrono::hours(to);
}

[[nodiscard]] inline scenario scenario_of(std::string_view text, const catalog& cat) {
  const ojson doc = f::parse_document(text);
  f::object_at(doc, "", {"version", "name", "description", "start", "days", "seed", "working_hours",
                         "default_model", "models", "accounts"});
  const std::int64_t version = f::integer_at(f::required(doc, "", "version"), "version", 1);
  if (version != scenario_format_version)
    f::fail("version", fmt::format("this build reads version {}, the file is version {}", scenario_format_version, version));
  scenario s;
  s.name = text_at(f::required(doc, "", "name"), "name");
  if (const ojson* d = f::find(doc, "description")) s.description = f::string_at(*d, "description");
  s.start = date_at(f::required(doc, "", "start"), "start");
  s.days = f::integer_at(f::required(doc, "", "days"), "days", 1, max_days);
  if (const ojson* seed = f::find(doc, "seed")) s.seed = static_cast<std::uint64_t>(f::integer_at(*seed, "seed", 0));
  if (const ojson* h = f::find(doc, "working_hours")) hours_at(*h, "working_hours", s);
  if (const ojson* d = f::find(doc, "default_model")) s.default_model = behaviour_at(*d, "default_model");
  if (const ojson* m = f::find(doc, "models")) s.models = models_at(*m, "models", cat);
  const ojson& as = f::array_at(f::required(doc, "", "accounts"), "accounts");
  if (as.empty()) f::fail("accounts", "needs at least one account");
  if (static_cast<std::int64_t>(as.size()) > max_accounts)
    f::fail("accounts", fmt::format("at most {} accounts, got {}", max_accounts, as.size()));
  for (std::size_t i = 0; i < as.size(); ++i) {
    const std::string ap = f::element("accounts", i);
    s.accounts.push_back(account_at(as[i], ap, s.days, cat));
    for (std::size_t j = 0; j < i; ++j)
      if (s.accounts[j].id == s.accounts[i].id)
        f::fail(f::member(ap, "id"), fmt::format("{} repeats accounts[{}].id", examples::quoted(s.accounts[i].id), j));
  }
  if (const std::int64_t n = s.total_jobs(); n > max_total_jobs)
    f::fail("accounts", fmt::format("the workload submits {} jobs in all; at most {}", n, max_total_jobs));
  return s;
}

}  // namespace detail

/**
 * Reads a scenario from JSON text, checking every job against `cat`.
 * @param source names the text in errors (a file name).
 * @throws scenario_error naming the source, the JSON path of the value and
 *         the reason; nothing is kept of a refused scenario.
 */
[[nodiscard]] inline scenario parse_scenario(std::string_view text, const catalog& cat,
                                             std::string_view source = "<string>") {
  try {
    return detail::scenario_of(text, cat);
  } catch (const json::fields::bad_field& e) {
    throw scenario_error(std::string(source), e.path, e.reason);
  }
}

/**
 * Reads the scenario file `file` (a regular file of at most
 * max_scenario_bytes); see parse_scenario.
 */
[[nodiscard]] inline scenario load_scenario(const std::string& file, const catalog& cat) {
  auto text = json::read_regular_file(file, max_scenario_bytes);
  if (!text) throw scenario_error(file, "", text.error().message());
  return parse_scenario(*text, cat, file);
}

}  // namespace tollgate::examples::simulate
