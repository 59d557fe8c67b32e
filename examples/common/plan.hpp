// tollgate-estimate's plan files, read one job at a time: {"jobs": [JOB, ...]}
// where a JOB takes "model" (required), "seconds" (an integer or a decimal
// string), "outputs", "resolution", "audio", "text" or "text_file" (not
// both), and "count" (1 by default); beside "jobs", an optional
// "generation_seconds": {"MODEL": SECONDS, ...} says how long one job of a
// model takes to generate (for the budget planner). The reader is a SAX handler for
// nlohmann's parser: each job is handed on as soon as its object closes, and
// no document is built, so a plan parses in time linear in its length and in
// memory bounded by one job (a plan of 10^6 jobs took 243 s and 2.1 GB when
// the whole document was built first). The strict checks stay: a repeated
// key, an unknown field, a floating-point number, a value of the wrong type
// are refused with the JSON path of the value ("jobs[3].count"). Used by
// tollgate-estimate and by the fuzz target tests/fuzz/plan.fuzz.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <tollgate/json/strict.hpp>
#include <tollgate/pricing/usage.hpp>

#include "arguments.hpp"

namespace tollgate::examples {

/// The largest plan file tollgate-estimate reads: 256 MiB (about 3 million
/// jobs of the sample plan's size).
inline constexpr std::size_t max_plan_bytes = std::size_t{256} << 20;

/// The largest text file a job reads (--text-file, a plan's "text_file"):
/// 1 MiB, at least 262,144 characters (the Runway catalog's speech models
/// take 10,000 at most).
inline constexpr std::size_t max_text_file_bytes = std::size_t{1} << 20;

/// One job of a plan, and how many such jobs.
struct plan_job {
  tollgate::job job;
  std::int64_t count = 1;
  /// "text_file" as written (the caller reads it into job.usage.text).
  std::optional<std::string> text_file;
};

/// The longest generation time a plan gives a model: a day.
inline constexpr media_duration max_generation_seconds{86'400'000};

/// What a plan says besides its jobs.
struct plan_options {
  /// "generation_seconds": how long one job of each model named takes to
  /// generate (positive, at most max_generation_seconds), by model id.
  std::map<std::string, media_duration, std::less<>> generation{};
};

/// Why a plan is refused: the JSON path of the value ("jobs[3].seconds";
/// empty for the plan as a whole) and the reason. `syntax`: the text is not
/// JSON (the reason gives line and column).
struct plan_problem {
  std::string path;
  std::string reason;
  bool syntax = false;
};

namespace detail {

// The SAX handler. `OnJob` is called as on_job(index, plan_job&) ->
// std::optional<plan_problem> for each job once its object has closed and
// its own fields are consistent; a problem it returns stops the parse.
template <class OnJob>
class plan_reader {
 public:
  plan_reader(OnJob& on_job, plan_options& options) : on_job_(on_job), options_(options) {}

  /// The first problem found, if any (also when the parser stopped early).
  [[nodiscard]] std::optional<plan_problem>& problem() { return problem_; }

  bool null() { return wrong_type(); }
  bool boolean(bool v) { return field() ? set_boolean(v) : wrong_type(); }
  bool number_integer(std::int64_t v) {
    if (where_ == place::generation_value) return set_generation_integer(v);
    return field() ? set_integer(v, std::to_string(v)) : wrong_type();
  }
  bool number_unsigned(std::uint64_t v) {
    if (!field() && where_ != place::generation_value) return wrong_type();
    if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      return fail(current_path(), "is too large");
    return number_integer(static_cast<std::int64_t>(v));
  }
  bool number_float(double, const std::string& raw) {
    if (!field() && where_ != place::generation_value) return wrong_type();
    if (json::detail::integer_literal(raw)) return fail(current_path(), "is too large");
    if (where_ == place::generation_value)
      return fail(current_path(), "floating-point numbers are refused; write \"2.5\" as a string");
    return set_float();
  }
  bool string(std::string& v) {
    if (where_ == place::generation_value) return set_generation_string(v);
    return field() ? set_string(std::move(v)) : wrong_type();
  }
  bool binary(nlohmann::json::binary_t&) { return fail("", "binary values are not JSON"); }

  bool start_object(std::size_t) {
    switch (where_) {
      case place::top: return where_ = place::plan, true;
      case place::jobs: return start_job();
      case place::plan_value:
        if (key_ == generation_key) return where_ = place::generation, true;
        return wrong_type();
      default: return wrong_type();
    }
  }
  bool start_array(std::size_t) {
    if (where_ == place::plan_value && key_ == "jobs") return where_ = place::jobs, true;
    return wrong_type();
  }
  bool key(std::string& k) {
    if (where_ == place::plan) return plan_key(std::move(k));
    if (where_ == place::generation) return generation_model(std::move(k));
    return job_key(std::move(k));
  }
  bool end_object() {
    if (where_ == place::job) return end_job();
    if (where_ == place::generation) return where_ = place::plan, true;
    // The plan object itself.
    if (!seen_jobs_) return fail_plan();
    where_ = place::done;
    return true;
  }
  bool end_array() {
    if (jobs_ == 0) return fail("jobs", "expected a non-empty array");
    where_ = place::plan;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::json::exception& e) {
    const json::bad_json b = json::detail::parser_failure(e, current_path());
    if (!problem_) problem_ = plan_problem{b.path(), b.reason(), b.syntax()};
    return false;
  }

 private:
  enum class place { top, plan, plan_value, jobs, job, job_value, generation, generation_value, done };
  static constexpr std::string_view generation_key = "generation_seconds";
  // The fields of a job, one bit each (for repeated keys).
  enum field_bit : unsigned {
    f_model = 1, f_seconds = 2, f_outputs = 4, f_resolution = 8, f_audio = 16, f_text = 32,
    f_text_file = 64, f_count = 128,
  };

  bool fail(std::string path, std::string reason) {
    if (!problem_) problem_ = plan_problem{std::move(path), std::move(reason)};
    return false;
  }
  bool fail_plan() { return fail("", "expected an object {\"jobs\": [...]}"); }
  [[nodiscard]] std::string job_path() const { return fmt::format("jobs[{}]", jobs_ - 1); }
  [[nodiscard]] std::string field_path() const { return fmt::format("jobs[{}].{}", jobs_ - 1, key_); }
  [[nodiscard]] std::string current_path() const {
    switch (where_) {
      case place::plan_value: return key_;
      case place::generation: return std::string(generation_key);
      case place::generation_value: return fmt::format("{}.{}", generation_key, key_);
      case place::jobs: return fmt::format("jobs[{}]", jobs_);
      case place::job: return job_path();
      case place::job_value: return field_path();
      default: return "";
    }
  }
  // True when the value being read is a job's field (then the caller sets it).
  [[nodiscard]] bool field() const { return where_ == place::job_value; }

  // A value of the wrong type where it stands (the same messages as the
  // checks on a built document gave).
  bool wrong_type() {
    switch (where_) {
      case place::top: return fail_plan();
      case place::plan_value:
        if (key_ == generation_key)
          return fail(key_, "expected an object of generation times, {\"MODEL\": SECONDS, ...}");
        return fail("jobs", "expected a non-empty array");
      case place::generation_value:
        return fail(current_path(), "expected seconds: a whole number or a decimal string such as \"2.5\"");
      case place::jobs: return fail(fmt::format("jobs[{}]", jobs_), "expected an object");
      case place::job_value: return fail(field_path(), expected_for(key_));
      default: return fail(current_path(), "unexpected value");
    }
  }
  static std::string expected_for(std::string_view key) {
    if (key == "seconds" || key == "outputs" || key == "count") return "expected a whole number";
    if (key == "audio") return "expected true or false";
    if (key == "text_file") return "expected a file name (a string)";
    return "expected a string";
  }

  bool plan_key(std::string k) {
    bool& seen = k == "jobs" ? seen_jobs_ : seen_generation_;
    if (k != "jobs" && k != generation_key)
      return fail(std::move(k), "unknown field; a plan has \"jobs\" and \"generation_seconds\"");
    if (seen) return fail(std::move(k), "repeated key");
    seen = true;
    key_ = std::move(k);
    where_ = place::plan_value;
    return true;
  }

  // A model of "generation_seconds" (the catalog is the caller's: it checks the id).
  bool generation_model(std::string k) {
    key_ = std::move(k);
    if (key_.empty()) return fail(std::string(generation_key), "a model id must not be empty");
    where_ = place::generation_value;  // current_path() now names the model
    if (options_.generation.count(key_) != 0) return fail(current_path(), "repeated key");
    return true;
  }
  bool set_generation_string(const std::string& v) {
    auto s = parse_media_seconds(v, "seconds");
    if (!s) return fail(current_path(), s.error().message());
    return set_generation(*s, v);
  }
  bool set_generation_integer(std::int64_t v) {
    if (v < 0 || v > max_generation_seconds.count() / 1000)
      return fail(current_path(), fmt::format("must be from 0.001 to {} seconds (a day), got {}",
                                              max_generation_seconds.count() / 1000, v));
    return set_generation(media_duration{v * 1000}, std::to_string(v));
  }
  bool set_generation(media_duration d, const std::string& text) {
    if (d.count() <= 0 || d > max_generation_seconds)
      return fail(current_path(), fmt::format("must be from 0.001 to {} seconds (a day), got {}",
                                              max_generation_seconds.count() / 1000, text));
    options_.generation.emplace(key_, d);
    where_ = place::generation;
    return true;
  }

  bool start_job() {
    ++jobs_;
    job_ = plan_job{};
    fields_ = 0;
    where_ = place::job;
    return true;
  }
  bool job_key(std::string k) {
    static constexpr std::pair<std::string_view, unsigned> names[] = {
        {"model", f_model}, {"seconds", f_seconds}, {"outputs", f_outputs},
        {"resolution", f_resolution}, {"audio", f_audio}, {"text", f_text},
        {"text_file", f_text_file}, {"count", f_count}};
    key_ = std::move(k);
    for (const auto& [name, bit] : names) {
      if (name != key_) continue;
      if (fields_ & bit) return fail(field_path(), "repeated key");
      fields_ |= bit;
      where_ = place::job_value;
      return true;
    }
    return fail(field_path(),
                "unknown field; a job has model, seconds, outputs, resolution, audio, text, "
                "text_file, count");
  }
  bool end_job() {
    if (!(fields_ & f_model)) return fail(job_path() + ".model", "is missing");
    // As --text-file excludes --text.
    if ((fields_ & f_text) && (fields_ & f_text_file))
      return fail(job_path() + ".text_file", "give either text or text_file, not both");
    where_ = place::jobs;
    if (auto p = on_job_(jobs_ - 1, job_)) {
      if (!problem_) problem_ = std::move(*p);
      return false;
    }
    return true;
  }
  // A field's value has been taken.
  bool done() {
    where_ = place::job;
    return true;
  }

  bool set_string(std::string v) {
    usage& u = job_.job.usage;
    if (key_ == "model") {
      if (v.empty()) return fail(field_path(), "must not be empty");
      job_.job.model = std::move(v);
    } else if (key_ == "seconds") {
      auto s = parse_media_seconds(v, "seconds");
      if (!s) return fail(field_path(), s.error().message());
      u.seconds = *s;
    } else if (key_ == "resolution") {
      u.resolution = std::move(v);
    } else if (key_ == "text") {
      u.text = std::move(v);
    } else if (key_ == "text_file") {
      if (v.empty()) return fail(field_path(), "expected a file name, got an empty string");
      job_.text_file = std::move(v);
    } else {
      return wrong_type();
    }
    return done();
  }
  bool set_integer(std::int64_t v, const std::string& text) {
    usage& u = job_.job.usage;
    if (key_ == "seconds") {
      std::int64_t ms;
      if (__builtin_mul_overflow(v, 1000, &ms)) return fail(field_path(), "is too large");
      u.seconds = media_duration{ms};
    } else if (key_ == "outputs") {
      u.outputs = count{v};
    } else if (key_ == "count") {
      if (v < 1) return fail(field_path(), fmt::format("must be at least 1, got {}", text));
      job_.count = v;
    } else {
      return wrong_type();
    }
    return done();
  }
  bool set_float() {
    if (key_ == "seconds")
      return fail(field_path(), "floating-point numbers are refused; write \"2.5\" as a string");
    return wrong_type();
  }
  bool set_boolean(bool v) {
    if (key_ != "audio") return wrong_type();
    job_.job.usage.audio = v;
    return done();
  }

  OnJob& on_job_;
  plan_options& options_;
  std::optional<plan_problem> problem_;
  place where_ = place::top;
  bool seen_jobs_ = false;
  bool seen_generation_ = false;
  std::size_t jobs_ = 0;  // jobs started so far
  unsigned fields_ = 0;   // the fields the current job has given
  std::string key_;       // the key whose value is being read
  plan_job job_;
};

}  // namespace detail

/**
 * Reads a plan's text, calling `on_job(index, plan_job&) ->
 * std::optional<plan_problem>` for each job in order as soon as it is read
 * (the job may be moved from). Stops at the first problem: the text's, or
 * one `on_job` returns. Linear in the length of the text; holds one job.
 * What the plan says besides its jobs goes to `options` when given.
 * @return the problem, or nothing when the whole plan was read.
 */
template <class OnJob>
[[nodiscard]] std::optional<plan_problem> read_plan(std::string_view text, OnJob&& on_job,
                                                    plan_options* options = nullptr) {
  if (auto nul = json::detail::nul_byte(text)) return plan_problem{"", nul->reason(), true};
  plan_options ignored;
  detail::plan_reader<std::remove_reference_t<OnJob>> reader(on_job, options ? *options : ignored);
  const bool ok = nlohmann::json::sax_parse(text.begin(), text.end(), &reader);
  if (auto& p = reader.problem()) return std::move(p);
  if (!ok) return plan_problem{"", "not valid JSON"};  // (the reader saw every failure)
  return std::nullopt;
}

}  // namespace tollgate::examples
