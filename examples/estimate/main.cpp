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
// many such jobs, 1 by default). A plan is read job by job (plan.hpp). Only
// regular files are read, up to a limit (docs/tools.md); numbers are plain
// decimal (arguments.hpp).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iterator>
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
#include <tollgate/tollgate.hpp>

#include "../common/arguments.hpp"
#include "../common/cli_support.hpp"
#include "../common/json_output.hpp"
#include "../common/plan.hpp"

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

// The whole of a regular file of at most `limit` bytes (a FIFO, a device or
// a directory is refused at once: /dev/zero was read until memory ran out).
std::string read_input(const std::string& path, std::string_view what, std::size_t limit) {
  auto text = tollgate::json::read_regular_file(path, limit);
  if (!text) throw bad_input(fmt::format("{} '{}': {}", what, path, text.error().message()));
  return std::move(*text);
}

// ------------------------------------------------------------------ table

// A small aligned text table: 'l' or 'r' per column, two spaces between.
// Cells are made printable (no control bytes reach the terminal) and kept
// in one buffer, NUL-separated (printable() escapes NUL): a plan of 10^6
// jobs is 10^6 rows.
class table {
 public:
  explicit table(std::string align) : align_(std::move(align)), width_(align_.size(), 0) {}
  void row(std::vector<std::string> cells) {
    cells.resize(align_.size());
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const std::string cell = tollgate::examples::printable(cells[i]);
      width_[i] = std::max(width_[i], cell.size());
      cells_ += cell;
      cells_ += '\0';
    }
  }
  [[nodiscard]] std::string str() const {
    std::string out;
    std::string_view rest = cells_;
    while (!rest.empty()) {
      std::string line;
      for (std::size_t i = 0; i < align_.size(); ++i) {
        const std::size_t end = rest.find('\0');
        const std::string_view cell = rest.substr(0, end);
        rest.remove_prefix(end + 1);
        if (i > 0) line += "  ";
        line += align_[i] == 'r' ? fmt::format("{:>{}}", cell, width_[i])
                                 : fmt::format("{:<{}}", cell, width_[i]);
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += line + '\n';
    }
    return out;
  }

 private:
  std::string align_;
  std::vector<std::size_t> width_;
  std::string cells_;
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

// Prices a plan job by job as it is read: what is kept of a job is its line
// of output, never the job itself (its text may be a megabyte).
std::string run_plan(const catalog& c, const std::string& file, bool json) {
  std::string text = read_input(file, "plan file", tollgate::examples::max_plan_bytes);
  table t("llrrrr");
  t.row({"model", "usage", "count", "each", "credits", "usd"});
  std::string out = json ? "{\"jobs\":[" : "";
  credits total;
  tollgate::usd total_usd;
  std::int64_t jobs = 0;
  std::set<std::string, std::less<>> models;  // distinct models, not rows
  const auto price = [&](std::size_t i, tollgate::examples::plan_job& e)
      -> std::optional<tollgate::examples::plan_problem> {
    if (e.text_file)
      if (auto p = read_text_file(file, i, e)) return p;
    auto q = c.quote(e.job);
    if (!q) return tollgate::examples::plan_problem{fmt::format("jobs[{}]", i), q.error().message()};
    const credits exact = q->exact * e.count, charged = q->charged * e.count;
    const tollgate::usd usd = c.price().to_usd(charged);
    total += charged;
    if (__builtin_add_overflow(jobs, e.count, &jobs)) throw std::overflow_error("job count");
    if (models.find(e.job.model) == models.end()) models.insert(e.job.model);
    if (json) {
      // Written directly, not through an ojson object per job: the same
      // text as nlohmann's compact dump, in a third of the time.
      fmt::format_to(std::back_inserter(out),
                     "{}{{\"model\":{},\"count\":{},\"exact_credits\":\"{}\",\"credits\":\"{}\",\"usd\":\"{}\"}}",
                     i == 0 ? "" : ",", json_text(ojson(e.job.model)), e.count, exact.to_string(),
                     charged.to_string(), usd.to_string());
    } else {
      t.row({e.job.model, describe_usage(e.job.usage), std::to_string(e.count), q->charged.to_string(),
             charged.to_string(), usd.to_string()});
    }
    return std::nullopt;
  };
  try {
    if (auto p = tollgate::examples::read_plan(text, price)) plan_error(file, *p);
    std::string().swap(text);  // not needed any more: free it before the output grows
    // Inside the try: every row's dollars can fit while their total does not.
    total_usd = c.price().to_usd(total);
  } catch (const std::overflow_error&) {
    throw bad_input(fmt::format("plan '{}': the total is too large to represent", file));
  }

  if (json) {
    fmt::format_to(std::back_inserter(out), "],\"total_credits\":\"{}\",\"total_usd\":\"{}\"}}\n",
                   total.to_string(), total_usd.to_string());
    return out;
  }
  t.row({"total", "", std::to_string(jobs), "", total.to_string(), total_usd.to_string()});
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
    return json_text(out) + '\n';
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
  auto* o_catalog = app.add_option("--catalog", catalog_file,
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

  // Everything is computed before anything is printed: on an error, stdout
  // stays empty.
  std::string out;
  if (list) {
    out = run_list(c, json);
  } else if (*o_plan) {
    out = run_plan(c, plan_file, json);
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
