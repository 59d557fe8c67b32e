// tollgate-estimate: what will this job, or this month's plan of jobs, cost?
//
//   tollgate-estimate MODEL [--seconds S] [--outputs N] [--resolution R] [--audio]
//                     [--text TEXT | --text-file FILE] [--catalog FILE] [--json]
//   tollgate-estimate --plan FILE [--catalog FILE] [--json]
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
// many such jobs, 1 by default).
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
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
#include <tollgate/json/strict.hpp>
#include <tollgate/tollgate.hpp>

#include "../common/cli_support.hpp"

namespace {

using tollgate::catalog;
using tollgate::credits;
using ojson = nlohmann::ordered_json;

constexpr int exit_internal = tollgate::examples::exit_refused;
using tollgate::examples::bad_input;
using tollgate::examples::exit_bad_input;
using tollgate::examples::exit_ok;
using tollgate::examples::one_line;

std::string read_file(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw bad_input(fmt::format("cannot open {} '{}'", what, path));
  // read() rather than `ostream << rdbuf()`, which swallows a read error: a
  // directory would read as an empty file ("'text' is empty").
  std::string text;
  char buf[1 << 14];
  while (in.read(buf, sizeof buf) || in.gcount() > 0)
    text.append(buf, static_cast<std::size_t>(in.gcount()));
  if (in.bad()) throw bad_input(fmt::format("cannot read {} '{}' (is it a directory?)", what, path));
  return text;
}

// ------------------------------------------------------------------ table

// A small aligned text table: 'l' or 'r' per column, two spaces between.
class table {
 public:
  explicit table(std::string align) : align_(std::move(align)) {}
  void row(std::vector<std::string> cells) {
    cells.resize(align_.size());
    rows_.push_back(std::move(cells));
  }
  [[nodiscard]] std::string str() const {
    std::vector<std::size_t> width(align_.size(), 0);
    for (const auto& r : rows_)
      for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
    std::string out;
    for (const auto& r : rows_) {
      std::string line;
      for (std::size_t i = 0; i < r.size(); ++i) {
        if (i > 0) line += "  ";
        line += align_[i] == 'r' ? fmt::format("{:>{}}", r[i], width[i])
                                 : fmt::format("{:<{}}", r[i], width[i]);
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += line + '\n';
    }
    return out;
  }

 private:
  std::string align_;
  std::vector<std::vector<std::string>> rows_;
};

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
  return j.dump() + '\n';
}

// ------------------------------------------------------------------ plans

struct plan_entry {
  tollgate::job job;
  std::int64_t count = 1;
};

[[noreturn]] void plan_error(const std::string& file, const std::string& path,
                             const std::string& reason) {
  throw bad_input(path.empty() ? fmt::format("plan '{}': {}", file, reason)
                               : fmt::format("plan '{}': {}: {}", file, path, reason));
}

// The text of a job's "text_file": resolved against the plan file's own
// directory (unless absolute), so a plan and its texts move together.
std::string plan_text_file(const std::string& file, const std::string& path,
                           const std::string& name) {
  if (name.empty()) plan_error(file, path, "expected a file name, got an empty string");
  const std::filesystem::path relative(name);
  const std::string resolved = relative.is_absolute()
                                   ? relative.string()
                                   : (std::filesystem::path(file).parent_path() / relative).string();
  std::string text;
  try {
    text = read_file(resolved, "text file");
  } catch (const bad_input& e) {
    plan_error(file, path, e.what());
  }
  // Checked here, not only when pricing, so the message names the file.
  if (auto n = tollgate::count_characters(text); !n)
    plan_error(file, path, fmt::format("'{}': {}", resolved, n.error().message()));
  return text;
}

std::int64_t plan_integer(const ojson& v, const std::string& file, const std::string& path) {
  if (v.is_number_unsigned() &&
      v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
    plan_error(file, path, "is too large");
  if (v.is_number_integer() || v.is_number_unsigned()) return v.get<std::int64_t>();
  plan_error(file, path, "expected a whole number");
}

std::vector<plan_entry> parse_plan(const std::string& file) {
  const std::string text = read_file(file, "plan file");
  ojson doc;
  try {
    // A repeated key is refused: the parser alone keeps the last one, so
    // {"count": 2, "count": 3} would silently price 3.
    doc = tollgate::json::parse_strict(
        text, [&](const std::string& path) { plan_error(file, path, "repeated key"); });
  } catch (const tollgate::json::bad_json& e) {
    // Every parser failure, not only a syntax error: `"seconds": 1e400` is
    // valid JSON that no double holds (nlohmann's out_of_range, not a
    // parse_error), and used to escape as an "internal error".
    if (e.syntax()) throw bad_input(fmt::format("plan '{}': not valid JSON: {}", file, e.reason()));
    plan_error(file, e.path(), e.reason());
  }
  if (!doc.is_object() || !doc.contains("jobs"))
    throw bad_input(fmt::format("plan '{}': expected an object {{\"jobs\": [...]}}", file));
  for (const auto& [key, _] : doc.items())
    if (key != "jobs") plan_error(file, key, "unknown field; a plan has only \"jobs\"");
  const ojson& jobs = doc["jobs"];
  if (!jobs.is_array() || jobs.empty()) plan_error(file, "jobs", "expected a non-empty array");

  std::vector<plan_entry> plan;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const std::string at = fmt::format("jobs[{}]", i);
    const ojson& j = jobs[i];
    if (!j.is_object()) plan_error(file, at, "expected an object");
    plan_entry e;
    std::optional<std::string> text_file;
    for (const auto& [key, v] : j.items()) {
      const std::string path = fmt::format("{}.{}", at, key);
      tollgate::usage& u = e.job.usage;
      if (key == "model") {
        if (!v.is_string()) plan_error(file, path, "expected a string");
        e.job.model = v.get<std::string>();
      } else if (key == "seconds") {
        if (v.is_string()) {
          auto s = tollgate::parse_seconds(v.get<std::string>());
          if (!s) plan_error(file, path, s.error().message());
          u.seconds = *s;
        } else if (v.is_number_float()) {
          plan_error(file, path, "floating-point numbers are refused; write \"2.5\" as a string");
        } else {
          const std::int64_t s = plan_integer(v, file, path);
          std::int64_t ms;
          if (__builtin_mul_overflow(s, 1000, &ms)) plan_error(file, path, "is too large");
          u.seconds = tollgate::media_duration{ms};
        }
      } else if (key == "outputs") {
        u.outputs = tollgate::count{plan_integer(v, file, path)};
      } else if (key == "resolution") {
        if (!v.is_string()) plan_error(file, path, "expected a string");
        u.resolution = v.get<std::string>();
      } else if (key == "audio") {
        if (!v.is_boolean()) plan_error(file, path, "expected true or false");
        u.audio = v.get<bool>();
      } else if (key == "text") {
        if (!v.is_string()) plan_error(file, path, "expected a string");
        u.text = v.get<std::string>();
      } else if (key == "text_file") {
        if (!v.is_string()) plan_error(file, path, "expected a file name (a string)");
        text_file = v.get<std::string>();
      } else if (key == "count") {
        e.count = plan_integer(v, file, path);
        if (e.count < 1) plan_error(file, path, fmt::format("must be at least 1, got {}", e.count));
      } else {
        plan_error(file, path,
                   "unknown field; a job has model, seconds, outputs, resolution, audio, text, "
                   "text_file, count");
      }
    }
    if (e.job.model.empty()) plan_error(file, at + ".model", "is missing");
    if (text_file) {
      // As --text-file excludes --text.
      if (e.job.usage.text)
        plan_error(file, at + ".text_file", "give either text or text_file, not both");
      e.job.usage.text = plan_text_file(file, at + ".text_file", *text_file);
    }
    plan.push_back(std::move(e));
  }
  return plan;
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

std::string run_plan(const catalog& c, const std::string& file, bool json) {
  const std::vector<plan_entry> plan = parse_plan(file);
  struct priced {
    const plan_entry* entry;
    tollgate::quote each;
    credits exact, charged;
    tollgate::usd usd;
  };
  std::vector<priced> rows;
  credits total;
  tollgate::usd total_usd;
  std::int64_t jobs = 0;
  try {
    for (std::size_t i = 0; i < plan.size(); ++i) {
      const plan_entry& e = plan[i];
      auto q = c.quote(e.job);
      if (!q) throw bad_input(fmt::format("plan '{}': jobs[{}]: {}", file, i, q.error().message()));
      priced p{&e, *q, q->exact * e.count, q->charged * e.count, {}};
      p.usd = c.price().to_usd(p.charged);
      total += p.charged;
      if (__builtin_add_overflow(jobs, e.count, &jobs)) throw std::overflow_error("job count");
      rows.push_back(std::move(p));
    }
    // Inside the try: every row's dollars can fit while their total does not.
    total_usd = c.price().to_usd(total);
  } catch (const std::overflow_error&) {
    throw bad_input(fmt::format("plan '{}': the total is too large to represent", file));
  }

  if (json) {
    ojson out;
    out["jobs"] = ojson::array();
    for (const priced& p : rows) {
      ojson j;
      j["model"] = p.entry->job.model;
      j["count"] = p.entry->count;
      j["exact_credits"] = p.exact.to_string();
      j["credits"] = p.charged.to_string();
      j["usd"] = p.usd.to_string();
      out["jobs"].push_back(std::move(j));
    }
    out["total_credits"] = total.to_string();
    out["total_usd"] = total_usd.to_string();
    return out.dump() + '\n';
  }
  table t("llrrrr");
  t.row({"model", "usage", "count", "each", "credits", "usd"});
  for (const priced& p : rows)
    t.row({p.entry->job.model, describe_usage(p.entry->job.usage), std::to_string(p.entry->count),
           p.each.charged.to_string(), p.charged.to_string(), p.usd.to_string()});
  t.row({"total", "", std::to_string(jobs), "", total.to_string(), total_usd.to_string()});
  // Distinct models, not rows: a plan may list one model with several usages.
  std::set<std::string_view> models;
  for (const priced& p : rows) models.insert(p.entry->job.model);
  return header(c, fmt::format("plan {}: {} job{} of {} model{}", file, jobs, jobs == 1 ? "" : "s",
                               models.size(), models.size() == 1 ? "" : "s")) +
         t.str();
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
    return out.dump() + '\n';
  }
  table t("llll");
  t.row({"model", "kind", "rate", "takes"});
  for (const auto& m : c.models())
    t.row({m.id, std::string(tollgate::to_string(m.kind)), m.rate.describe(), ranges(m)});
  return header(c, fmt::format("{} models", c.models().size())) + t.str();
}

// ------------------------------------------------------------------ main

int run(int argc, char** argv) {
  CLI::App app{"Estimates what generative-media jobs cost, exactly, before they run.",
               "tollgate-estimate"};
  std::string model, seconds, outputs, resolution, text, text_file, catalog_file, plan_file;
  bool audio = false, json = false, list = false;
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
  app.add_option("--catalog", catalog_file,
                 "Price against this catalog JSON file instead of the built-in Runway catalog")
      ->type_name("FILE");
  auto* o_plan = app.add_option("--plan", plan_file,
                                "Price a plan: {\"jobs\":[{\"model\":...,\"count\":N}]}; a job takes "
                                "the flags' fields (text_file for --text-file)")
                     ->type_name("FILE");
  auto* o_list = app.add_flag("--list", list, "List the catalog's models");
  app.add_flag("--json", json, "Print JSON with exact decimal strings");
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
  if (!catalog_file.empty()) {
    try {
      loaded.emplace(tollgate::json::load_catalog(catalog_file));
    } catch (const tollgate::json::catalog_error& e) {
      throw bad_input(fmt::format("catalog {}", e.what()));
    }
  }
  const catalog& c = loaded ? *loaded : tollgate::runway_catalog();

  // Everything is computed before anything is printed: on an error, stdout
  // stays empty.
  std::string out;
  if (list) {
    out = run_list(c, json);
  } else if (!plan_file.empty()) {
    out = run_plan(c, plan_file, json);
  } else {
    if (model.empty()) throw bad_input("give a MODEL, --plan FILE or --list (see --help)");
    tollgate::job j{.model = model};
    if (*o_seconds) {
      auto s = tollgate::parse_seconds(seconds);
      if (!s) throw bad_input(fmt::format("--seconds: {}", s.error().message()));
      j.usage.seconds = *s;
    }
    if (*o_outputs) {
      std::int64_t n = 0;
      const char* first = outputs.data();
      const char* last = outputs.data() + outputs.size();
      const auto [end, ec] = std::from_chars(first, last, n);
      if (ec != std::errc() || end != last || outputs.empty())
        throw bad_input(fmt::format("--outputs: expected a whole number, got '{}'", outputs));
      j.usage.outputs = tollgate::count{n};
    }
    if (*o_resolution) j.usage.resolution = resolution;
    j.usage.audio = audio;
    if (*o_text) j.usage.text = text;
    if (*o_text_file) j.usage.text = read_file(text_file, "text file");
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
