// tollgate-estimate: what will this job, or this month's plan of jobs, cost?
//
//   tollgate-estimate MODEL [--seconds S] [--outputs N] [--resolution R] [--audio]
//                     [--text TEXT | --text-file FILE] [--catalog FILE] [--json]
//   tollgate-estimate --plan FILE [--tier N] [--tiers FILE] [--compare] [--catalog FILE] [--json]
//   tollgate-estimate --list [--catalog FILE] [--json]
//
// Prices against the built-in Runway catalog, or a catalog file in the shape of
// data/runway-catalog.json. Prints a small table, or with --json exact decimal
// strings. Exit status: 0 on success; 2 on bad input, with one line on stderr
// and nothing on stdout; 1 on an internal error.
//
// A plan file is {"jobs": [JOB, ...]}; a JOB takes the same fields as the
// flags: "model" (required), "seconds" (an integer or a decimal string),
// "outputs", "resolution", "audio", "text" or "text_file" (not both; a path
// relative to the plan file's directory unless absolute), and "count" (how
// many such jobs, 1 by default). Beside "jobs", "generation_seconds":
// {"MODEL": SECONDS} gives the time one job of a model takes to generate. A
// plan is read job by job (plan.hpp). Only regular files are read, up to a
// limit (docs/tools.md); numbers are plain decimal (arguments.hpp).
//
// Besides its cost, a plan gets its schedule (tollgate/planner.hpp): at tier
// N (1 by default) of the built-in Runway tiers or of --tiers FILE, the days
// its submissions span under the daily caps and how long it runs at the
// tier's concurrency; then, from an account that has just reached tier N,
// each tier from N up: when the plan's credits could be bought and the tier
// reached, and when the plan would be done there. --compare prices each job
// on the other models of its kind that take the same usage, cheapest first.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <tollgate/json/catalog.hpp>
#include <tollgate/json/file.hpp>
#include <tollgate/json/tiers.hpp>
#include <tollgate/planner.hpp>
#include <tollgate/tollgate.hpp>

#include "../common/arguments.hpp"
#include "../common/cli_support.hpp"
#include "../common/json_output.hpp"
#include "../common/plan.hpp"
#include "../common/text_table.hpp"

namespace {

using tollgate::catalog;
using tollgate::credits;
using ojson = nlohmann::ordered_json;

constexpr int exit_internal = tollgate::examples::exit_refused;
using tollgate::examples::bad_input;
using tollgate::examples::exit_bad_input;
using tollgate::examples::exit_ok;
using tollgate::examples::json_text;
using tollgate::examples::one_line;
using tollgate::examples::or_bad_input;
using tollgate::examples::table;

// The whole of a regular file of at most `limit` bytes (a FIFO, a device or
// a directory is refused at once: /dev/zero was read until memory ran out).
std::string read_input(const std::string& path, std::string_view what, std::size_t limit) {
  auto text = tollgate::json::read_regular_file(path, limit);
  if (!text) throw bad_input(fmt::format("{} '{}': {}", what, path, text.error().message()));
  return std::move(*text);
}

// ------------------------------------------------------------------ table

std::string header(const catalog& c, std::string_view what) {
  return c.price_list_date().empty()
             ? fmt::format("{}\n", what)
             : fmt::format("{}, price list {}\n", what, c.price_list_date());
}

// ------------------------------------------------------------------ one job

std::string human_quote(const catalog& c, const tollgate::quote& q) {
  table t("lrrrr");
  t.row({"item", "used", "billed", "price", "credits"});
  for (const tollgate::line& l : q.lines) {
    std::string item(l.item);
    if (!l.variant.empty()) item += fmt::format(" ({})", l.variant);
    t.row({item, tollgate::quantity_text(l),
           fmt::format("{} x {}", l.blocks, tollgate::quantity_text(l.unit, l.block)),
           fmt::format("{} credit{}", l.price, l.price == credits{1} ? "" : "s"),
           l.amount.to_string()});
  }
  t.row({"exact", "", "", "", q.exact.to_string()});
  t.row({fmt::format("charged ({})", q.rounding), "", "", "", q.charged.to_string()});
  t.row({fmt::format("usd (${} per credit)", c.price().per_credit()), "", "", "",
         q.usd.to_string()});
  return header(c, fmt::format("{} ({})", q.model, tollgate::to_string(q.kind))) + t.str();
}

std::string json_quote(const tollgate::quote& q) {
  ojson j;
  j["model"] = std::string(q.model);
  j["exact_credits"] = q.exact.to_string();
  j["credits"] = q.charged.to_string();
  j["usd"] = q.usd.to_string();
  return json_text(j) + '\n';
}

// ------------------------------------------------------------------ plans

[[noreturn]] void plan_error(const std::string& file, const tollgate::examples::plan_problem& p) {
  if (p.syntax) throw bad_input(fmt::format("plan '{}': not valid JSON: {}", file, p.reason));
  throw bad_input(p.path.empty() ? fmt::format("plan '{}': {}", file, p.reason)
                                 : fmt::format("plan '{}': {}: {}", file, p.path, p.reason));
}

// The text of a job's "text_file": resolved against the plan file's own
// directory (unless absolute), so a plan and its texts move together.
std::optional<tollgate::examples::plan_problem> read_text_file(const std::string& plan_file,
                                                               std::size_t index,
                                                               tollgate::examples::plan_job& j) {
  const std::filesystem::path relative(*j.text_file);
  const std::string resolved =
      relative.is_absolute() ? relative.string()
                             : (std::filesystem::path(plan_file).parent_path() / relative).string();
  const std::string path = fmt::format("jobs[{}].text_file", index);
  auto text = tollgate::json::read_regular_file(resolved, tollgate::examples::max_text_file_bytes);
  if (!text)
    return tollgate::examples::plan_problem{path, fmt::format("text file '{}': {}", resolved,
                                                              text.error().message())};
  // Checked here, not only when pricing, so the message names the file.
  if (auto n = tollgate::count_characters(*text); !n)
    return tollgate::examples::plan_problem{path, fmt::format("'{}': {}", resolved, n.error().message())};
  j.job.usage.text = std::move(*text);
  return std::nullopt;
}

// "10 s, with audio", "1080p, 4 outputs", "31 characters".
std::string describe_usage(const tollgate::usage& u) {
  std::vector<std::string> parts;
  if (u.seconds) parts.push_back(tollgate::format_seconds(*u.seconds) + " s");
  if (u.resolution) parts.push_back(*u.resolution);
  if (u.outputs)
    parts.push_back(fmt::format("{} output{}", u.outputs->value, u.outputs->value == 1 ? "" : "s"));
  if (u.audio) parts.push_back("with audio");
  if (u.text) {
    const auto n = tollgate::count_characters(*u.text);
    parts.push_back(n ? fmt::format("{} characters", n->value) : std::string("text"));
  }
  std::string s;
  for (const auto& p : parts) s += (s.empty() ? "" : ", ") + p;
  return s;
}

// What a plan asks of each model, in the order the plan first names it (the
// budget planner's input), with whether the plan gave its generation time.
struct plan_demand {
  std::vector<tollgate::model_demand> models;
  std::vector<bool> given;
  std::map<std::string, std::size_t, std::less<>> index;

  void add(const tollgate::model_spec& m, std::int64_t count) {
    const auto [it, fresh] = index.try_emplace(m.id, models.size());
    if (fresh) {
      models.push_back({m.id, m.group, 0, tollgate::default_generation_time(m.kind)});
      given.push_back(false);
    }
    models[it->second].jobs += static_cast<std::uint64_t>(count);
  }
};

// The plan's "generation_seconds": each model must be in the catalog; the
// time applies to the plan's jobs of that model.
void apply_generation(const catalog& c, const std::string& file, const tollgate::examples::plan_options& o,
                      plan_demand& d) {
  for (const auto& [model, time] : o.generation) {
    if (!c.contains(model))
      plan_error(file, {fmt::format("generation_seconds.{}", model), c.quote(tollgate::job{.model = model}).error().message()});
    if (const auto it = d.index.find(model); it != d.index.end()) {
      d.models[it->second].generation = time;
      d.given[it->second] = true;
    }
  }
}

// What a plan costs, and what it is kept for the planner.
struct plan_cost {
  std::string jobs_json;  // the "jobs" array's elements, or
  table rows{"llrrrr"};   // the table of jobs
  credits total;
  tollgate::usd total_usd;
  std::int64_t jobs = 0;
  plan_demand demand;
  std::string alternatives_json;  // with --compare
  table alternatives{"llrrr"};
};

// "+2000", "-6000", "0": an alternative's credits against the plan's.
std::string difference(const credits& a, const credits& b) {
  const credits d = a - b;
  return d.is_positive() ? "+" + d.to_string() : d.to_string();
}

// Line `i` (`count` jobs, `q` each) on the other models of its kind (--compare).
void compare_line(const catalog& c, std::size_t i, const tollgate::examples::plan_job& e, const tollgate::quote& q,
                  bool json, plan_cost& out) {
  const auto others = tollgate::alternatives(c, e.job);
  if (!others) throw bad_input(others.error().message());  // (the line was priced: not reached)
  const credits own = q.charged * e.count;
  if (json) {
    ojson line{{"job", i}, {"model", e.job.model}, {"count", e.count}, {"credits", own.to_string()},
               {"usd", c.price().to_usd(own).to_string()}, {"options", ojson::array()}};
    for (const tollgate::quote& o : *others) {
      const credits total = o.charged * e.count;
      line["options"].push_back({{"model", std::string(o.model)}, {"credits", total.to_string()},
                                 {"usd", c.price().to_usd(total).to_string()},
                                 {"difference_credits", (total - own).to_string()}});
    }
    out.alternatives_json += (out.alternatives_json.empty() ? "" : ",") + json_text(line);
    return;
  }
  out.alternatives.row({fmt::format("jobs[{}]", i), fmt::format("{} ({}) x {}", e.job.model, describe_usage(e.job.usage), e.count),
                        own.to_string(), c.price().to_usd(own).to_string(), ""});
  for (const tollgate::quote& o : *others) {
    const credits total = o.charged * e.count;
    out.alternatives.row({"", fmt::format("  {}", o.model), total.to_string(), c.price().to_usd(total).to_string(),
                          difference(total, own)});
  }
  if (others->empty()) out.alternatives.row({"", "  (no other model takes it)", "", "", ""});
}

// Prices a plan job by job as it is read: what is kept of a job is its line
// of output (and its model's count), never the job itself (its text may be
// a megabyte).
plan_cost price_plan(const catalog& c, const std::string& file, bool json, bool compare) {
  std::string text = read_input(file, "plan file", tollgate::examples::max_plan_bytes);
  plan_cost out;
  out.rows.row({"model", "usage", "count", "each", "credits", "usd"});
  out.alternatives.row({"job", "model", "credits", "usd", "vs plan"});
  tollgate::examples::plan_options options;
  const auto price = [&](std::size_t i, tollgate::examples::plan_job& e)
      -> std::optional<tollgate::examples::plan_problem> {
    if (e.text_file)
      if (auto p = read_text_file(file, i, e)) return p;
    auto q = c.quote(e.job);
    if (!q) return tollgate::examples::plan_problem{fmt::format("jobs[{}]", i), q.error().message()};
    const credits exact = q->exact * e.count, charged = q->charged * e.count;
    const tollgate::usd usd = c.price().to_usd(charged);
    out.total += charged;
    if (__builtin_add_overflow(out.jobs, e.count, &out.jobs)) throw std::overflow_error("job count");
    out.demand.add(*c.find(e.job.model), e.count);
    if (compare) compare_line(c, i, e, *q, json, out);
    if (json) {
      // Written directly, not through an ojson object per job: the same
      // text as nlohmann's compact dump, in a third of the time.
      fmt::format_to(std::back_inserter(out.jobs_json),
                     "{}{{\"model\":{},\"count\":{},\"exact_credits\":\"{}\",\"credits\":\"{}\",\"usd\":\"{}\"}}",
                     i == 0 ? "" : ",", json_text(ojson(e.job.model)), e.count, exact.to_string(),
                     charged.to_string(), usd.to_string());
    } else {
      out.rows.row({e.job.model, describe_usage(e.job.usage), std::to_string(e.count), q->charged.to_string(),
                    charged.to_string(), usd.to_string()});
    }
    return std::nullopt;
  };
  try {
    if (auto p = tollgate::examples::read_plan(text, price, &options)) plan_error(file, *p);
    std::string().swap(text);  // not needed any more: free it before the output grows
    // Inside the try: every row's dollars can fit while their total does not.
    out.total_usd = c.price().to_usd(out.total);
  } catch (const std::overflow_error&) {
    throw bad_input(fmt::format("plan '{}': the total is too large to represent", file));
  }
  apply_generation(c, file, options, out.demand);
  return out;
}

// ------------------------------------------------------------------ the schedule

using time_point = std::chrono::sys_time<std::chrono::nanoseconds>;
using outlook = tollgate::basic_plan_outlook<time_point>;
using std::chrono::milliseconds;

// Relative times are all the output shows: the planner's clock starts here.
constexpr time_point planning_now{};

// "3 days 00:50:00", "7 days", "00:12:30", "00:00:01.5".
std::string span_text(milliseconds d) {
  const std::int64_t ms = d.count(), s = ms / 1000, days = s / 86'400;
  std::string out = days == 0 ? "" : fmt::format("{} day{}", days, days == 1 ? "" : "s");
  if (days != 0 && ms % 86'400'000 == 0) return out;
  if (days != 0) out += ' ';
  out += fmt::format("{:02}:{:02}:{:02}", s / 3600 % 24, s / 60 % 60, s % 60);
  if (ms % 1000 != 0) out += "." + tollgate::format_seconds(milliseconds(ms % 1000)).substr(2);
  return out;
}
std::string span_text(const std::optional<milliseconds>& d) { return d ? span_text(*d) : "over 100 years"; }

std::optional<milliseconds> after(const std::optional<time_point>& t) {
  if (!t) return std::nullopt;
  return std::chrono::duration_cast<milliseconds>(*t - planning_now);
}

ojson seconds_json(const std::optional<milliseconds>& d) {
  return d ? ojson(tollgate::format_seconds(*d)) : ojson(nullptr);
}
ojson limit_json(const tollgate::job_limit& l) { return l.is_unlimited() ? ojson(nullptr) : ojson(l.max()); }
std::string limit_text(const tollgate::job_limit& l) {
  return l.is_unlimited() ? "unlimited" : std::to_string(l.max());
}

// "Tier 2"; "tier 3 (Gold)" when the name does not say the id.
std::string tier_label(const tollgate::tier& t) {
  const std::string id = std::to_string(t.id.value);
  return t.name.find(id) != std::string::npos ? t.name : fmt::format("tier {} ({})", id, t.name);
}

ojson schedule_json(const tollgate::tier_table& t, const plan_demand& d, const outlook& o,
                    const tollgate::basic_account_standing<time_point>& account) {
  const tollgate::tier_schedule& own = o.tiers.front().schedule;
  ojson j{{"tier", t.at(own.tier).id.value}, {"name", t.at(own.tier).name}};
  j["account"] = {{"purchased_usd", account.facts.purchased.to_string()},
                  {"days_since_first_purchase",
                   account.facts.first_purchase ? ojson(t.at(own.tier).criteria.min_age.count()) : ojson(nullptr)}};
  j["models"] = ojson::array();
  for (std::size_t i = 0; i < own.models.size(); ++i) {
    const tollgate::model_schedule& m = own.models[i];
    j["models"].push_back({{"model", m.model},
                           {"group", d.models[i].group.empty() ? ojson(nullptr) : ojson(d.models[i].group)},
                           {"jobs", m.jobs},
                           {"max_daily", limit_json(m.limits.daily)},
                           {"max_concurrent", limit_json(m.limits.concurrent)},
                           {"generation_seconds", tollgate::format_seconds(m.generation)},
                           {"generation_default", !d.given[i]},
                           {"days", m.run.days},
                           {"duration_seconds", seconds_json(m.run.duration)}});
  }
  j["days"] = own.days;
  j["duration_seconds"] = seconds_json(own.duration);
  j["tiers"] = ojson::array();
  for (const auto& option : o.tiers) {
    ojson purchases = ojson::array();
    for (const auto& p : option.purchases.purchases)
      purchases.push_back({{"after_seconds", seconds_json(after(p.at))}, {"usd", p.amount.to_string()}});
    j["tiers"].push_back({{"tier", t.at(option.schedule.tier).id.value},
                          {"name", t.at(option.schedule.tier).name},
                          {"days", option.schedule.days},
                          {"duration_seconds", seconds_json(option.schedule.duration)},
                          {"ready_after_seconds", seconds_json(after(option.purchases.done_at))},
                          {"purchases", std::move(purchases)},
                          {"finish_after_seconds", seconds_json(after(option.finish))}});
  }
  j["soonest"] = o.soonest ? ojson(t.at(o.tiers[*o.soonest].schedule.tier).id.value) : ojson(nullptr);
  return j;
}

std::string schedule_text(const tollgate::tier_table& t, const plan_demand& d, const outlook& o, const tollgate::usd& cost) {
  const tollgate::tier_schedule& own = o.tiers.front().schedule;
  const tollgate::tier& here = t.at(own.tier);
  table models("lrrrrrl");
  models.row({"model", "jobs", "per 24 h", "at once", "generation", "days", "runs for"});
  for (std::size_t i = 0; i < own.models.size(); ++i) {
    const tollgate::model_schedule& m = own.models[i];
    models.row({m.model, std::to_string(m.jobs), limit_text(m.limits.daily), limit_text(m.limits.concurrent),
                tollgate::format_seconds(m.generation) + (d.given[i] ? " s" : " s (default)"),
                std::to_string(m.run.days), span_text(m.run.duration)});
  }
  models.row({"plan", "", "", "", "", std::to_string(own.days), span_text(own.duration)});
  table tiers("llrllll");
  tiers.row({"tier", "", "days", "runs for", "ready in", "buying", "done in"});
  for (const auto& option : o.tiers) {
    const auto ready = after(option.purchases.done_at);
    const std::size_t n = option.purchases.purchases.size();
    tiers.row({std::to_string(t.at(option.schedule.tier).id.value), t.at(option.schedule.tier).name,
               std::to_string(option.schedule.days), span_text(option.schedule.duration),
               ready && ready->count() == 0 ? "now" : span_text(ready),
               n == 0 ? "nothing" : fmt::format("${} in {} purchase{}", option.purchases.total().to_string(), n, n == 1 ? "" : "s"),
               span_text(after(option.finish))});
  }
  std::string out = fmt::format(
      "\nschedule at {}: jobs submitted as soon as the daily caps allow, at most the tier's concurrency "
      "running\n{}",
      tier_label(here), models.str());
  out += fmt::format(
      "\nfrom an account that has just reached tier {}, buying the plan's ${} of credits as fast as the spend "
      "caps allow, then running the whole plan at the tier:\n{}",
      here.id.value, cost.to_string(), tiers.str());
  if (o.soonest) {
    const auto& best = o.tiers[*o.soonest];
    out += fmt::format("soonest: {}, done in {}\n", tier_label(t.at(best.schedule.tier)), span_text(after(best.finish)));
  } else {
    out += "soonest: no tier finishes the plan within 100 years\n";
  }
  return out;
}

// The plan's cost, schedule and (with --compare) alternatives.
std::string run_plan(const catalog& c, const tollgate::tier_table& tiers, std::size_t tier, const std::string& file,
                     bool json, bool compare) {
  plan_cost cost = price_plan(c, file, json, compare);
  const auto account = tollgate::account_just_promoted(tiers, tier, planning_now);
  const auto o = tollgate::plan_outlook(tiers, account, planning_now,
                                        std::span<const tollgate::model_demand>(cost.demand.models), cost.total_usd);
  if (!o)
    throw bad_input(fmt::format("plan '{}': {}; give a tier table that has it with --tiers FILE", file,
                                o.error().message()));
  if (json) {
    std::string out = "{\"jobs\":[" + std::move(cost.jobs_json);
    fmt::format_to(std::back_inserter(out), "],\"total_credits\":\"{}\",\"total_usd\":\"{}\",\"schedule\":{}",
                   cost.total.to_string(), cost.total_usd.to_string(),
                   json_text(schedule_json(tiers, cost.demand, *o, account)));
    if (compare) out += ",\"alternatives\":[" + cost.alternatives_json + "]";
    return out + "}\n";
  }
  cost.rows.row({"total", "", std::to_string(cost.jobs), "", cost.total.to_string(), cost.total_usd.to_string()});
  const std::size_t models = cost.demand.models.size();
  std::string out = header(c, fmt::format("plan {}: {} job{} of {} model{}", file, cost.jobs, cost.jobs == 1 ? "" : "s",
                                          models, models == 1 ? "" : "s")) +
                    cost.rows.str() + schedule_text(tiers, cost.demand, *o, cost.total_usd);
  if (compare)
    out += "\nalternatives: each job on the other models of its kind that take the same usage, cheapest first\n" +
           cost.alternatives.str();
  return out;
}

// ------------------------------------------------------------------ --list

std::string run_list(const catalog& c, bool json) {
  auto ranges = [](const tollgate::model_spec& m) {
    std::vector<std::string> r;
    if (m.seconds)
      r.push_back(m.seconds->min == m.seconds->max
                      ? fmt::format("{} s", tollgate::format_seconds(m.seconds->min))
                      : fmt::format("{}-{} s", tollgate::format_seconds(m.seconds->min),
                                    tollgate::format_seconds(m.seconds->max)));
    if (!m.resolutions.empty()) {
      std::string s;
      for (const auto& x : m.resolutions) s += (s.empty() ? "" : "|") + x;
      r.push_back(s);
    }
    if (m.outputs) r.push_back(fmt::format("1-{} outputs", m.outputs->max));
    if (m.audio) r.push_back("audio");
    if (m.text) r.push_back(fmt::format("1-{} characters", m.text->max_characters));
    std::string s;
    for (const auto& x : r) s += (s.empty() ? "" : ", ") + x;
    return s;
  };
  if (json) {
    ojson out;
    out["price_list_date"] = std::string(c.price_list_date());
    out["models"] = ojson::array();
    for (const auto& m : c.models())
      out["models"].push_back({{"id", m.id},
                               {"kind", std::string(tollgate::to_string(m.kind))},
                               {"rate", m.rate.describe()},
                               {"takes", ranges(m)}});
    return json_text(out) + '\n';
  }
  table t("llll");
  t.row({"model", "kind", "rate", "takes"});
  for (const auto& m : c.models())
    t.row({m.id, std::string(tollgate::to_string(m.kind)), m.rate.describe(), ranges(m)});
  return header(c, fmt::format("{} models", c.models().size())) + t.str();
}

// ------------------------------------------------------------------ main

tollgate::tier_table load_tiers(const std::string& file) {
  try {
    return tollgate::json::load_tier_table(file);
  } catch (const tollgate::json::tier_table_error& e) {
    // From the parts, not what(), as for the catalog.
    throw bad_input(e.path().empty() ? fmt::format("tier table {}: {}", e.source(), e.reason())
                                     : fmt::format("tier table {}: {}: {}", e.source(), e.path(), e.reason()));
  }
}

// The index of --tier's id in the table.
std::size_t tier_at(const tollgate::tier_table& t, const std::string& arg) {
  const auto id = static_cast<std::uint32_t>(or_bad_input(tollgate::examples::parse_whole(arg, "--tier", 1, UINT32_MAX)));
  if (const auto i = t.index_of(tollgate::tier_id{id})) return *i;
  std::string ids;
  for (const tollgate::tier& row : t.tiers()) ids += fmt::format("{}{}", ids.empty() ? "" : ", ", row.id.value);
  throw bad_input(fmt::format("--tier {}: the tier table has no tier {} (its tiers are {})", id, id, ids));
}

int run(int argc, char** argv) {
  CLI::App app{"Estimates what generative-media jobs cost, exactly, before they run.",
               "tollgate-estimate"};
  std::string model, seconds, outputs, resolution, text, text_file, catalog_file, plan_file, tier, tiers_file;
  bool audio = false, json = false, list = false, compare = false;
  auto* o_model =
      app.add_option("MODEL", model, "Model id, e.g. gen4_turbo (see --list)")->type_name("");
  auto* o_seconds =
      app.add_option("--seconds", seconds, "Seconds of media, e.g. 10 or 2.5")->type_name("S");
  auto* o_outputs = app.add_option("--outputs", outputs, "Number of outputs (images)")->type_name("N");
  auto* o_resolution =
      app.add_option("--resolution", resolution, "Resolution, e.g. 720p or 1080p")->type_name("R");
  auto* o_audio = app.add_flag("--audio", audio, "Ask for generated audio");
  auto* o_text = app.add_option("--text", text, "Input text (speech models)");
  auto* o_text_file =
      app.add_option("--text-file", text_file, "Read the input text from FILE")->type_name("FILE");
  auto* o_catalog = app.add_option("--catalog", catalog_file,
                 "Price against this catalog JSON file instead of the built-in Runway catalog")
      ->type_name("FILE");
  auto* o_plan = app.add_option("--plan", plan_file,
                                "Price a plan: {\"jobs\":[{\"model\":...,\"count\":N}]}; a job takes "
                                "the flags' fields (text_file for --text-file)")
                     ->type_name("FILE");
  auto* o_tier = app.add_option("--tier", tier,
                                "With --plan: schedule the plan at this tier (1 by default), from an account "
                                "that has just reached it")
                     ->type_name("N");
  auto* o_tiers = app.add_option("--tiers", tiers_file,
                                 "With --plan: this tier table JSON file instead of the built-in Runway tiers")
                      ->type_name("FILE");
  auto* o_compare = app.add_flag("--compare", compare,
                                 "With --plan: price each job on the other models of its kind that take the "
                                 "same usage, cheapest first");
  auto* o_list = app.add_flag("--list", list, "List the catalog's models");
  app.add_flag("--json", json, "Print JSON with exact decimal strings");
  for (auto* o : {o_tier, o_tiers, o_compare}) o->needs(o_plan);
  o_text_file->excludes(o_text);
  for (auto* o : {o_model, o_seconds, o_outputs, o_resolution, o_audio, o_text, o_text_file}) {
    o_plan->excludes(o);
    o_list->excludes(o);
  }
  o_plan->excludes(o_list);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return exit_ok;
  } catch (const CLI::ParseError& e) {
    throw bad_input(fmt::format("{} (see --help)", e.what()));
  }

  std::optional<catalog> loaded;
  if (*o_catalog) {
    try {
      loaded.emplace(tollgate::json::load_catalog(catalog_file));
    } catch (const tollgate::json::catalog_error& e) {
      // From the parts, not what(): a C string, cut short by a NUL in a key.
      throw bad_input(e.path().empty()
                          ? fmt::format("catalog {}: {}", e.source(), e.reason())
                          : fmt::format("catalog {}: {}: {}", e.source(), e.path(), e.reason()));
    }
  }
  const catalog& c = loaded ? *loaded : tollgate::runway_catalog();
  std::optional<tollgate::tier_table> loaded_tiers;
  if (*o_tiers) loaded_tiers.emplace(load_tiers(tiers_file));
  const tollgate::tier_table& tier_table = loaded_tiers ? *loaded_tiers : tollgate::runway_tier_table();
  const std::size_t tier_index = *o_tier ? tier_at(tier_table, tier) : 0;

  // Everything is computed before anything is printed: on an error, stdout
  // stays empty.
  std::string out;
  if (list) {
    out = run_list(c, json);
  } else if (*o_plan) {
    out = run_plan(c, tier_table, tier_index, plan_file, json, compare);
  } else {
    if (model.empty()) throw bad_input("give a MODEL, --plan FILE or --list (see --help)");
    tollgate::job j{.model = model};
    if (*o_seconds) j.usage.seconds = or_bad_input(tollgate::examples::parse_media_seconds(seconds, "--seconds"));
    if (*o_outputs)
      j.usage.outputs = tollgate::count{static_cast<std::int64_t>(
          or_bad_input(tollgate::examples::parse_whole(outputs, "--outputs", 0, INT64_MAX)))};
    if (*o_resolution) j.usage.resolution = resolution;
    j.usage.audio = audio;
    if (*o_text) j.usage.text = text;
    if (*o_text_file) j.usage.text = read_input(text_file, "text file", tollgate::examples::max_text_file_bytes);
    auto q = c.quote(j);
    if (!q) throw bad_input(q.error().message());
    out = json ? json_quote(*q) : human_quote(c, *q);
  }
  std::fputs(out.c_str(), stdout);
  return std::fflush(stdout) == 0 ? exit_ok : exit_internal;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const bad_input& e) {
    std::fprintf(stderr, "tollgate-estimate: error: %s\n", one_line(e.what()).c_str());
    return exit_bad_input;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tollgate-estimate: internal error: %s\n", one_line(e.what()).c_str());
    return exit_internal;
  }
}
