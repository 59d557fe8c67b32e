// tollgate-simulate: plays a scenario of accounts over days through a real
// gate (a deterministic simulation on a manual clock) and reports what the
// gate decided, day by day.
//
//   tollgate-simulate SCENARIO.json [--json] [--svg FILE]
//
// A scenario file says who buys what and when, who has autobilling and
// enterprise overrides, which jobs each account submits a day, how long a
// job of each model takes and how often it fails (docs/simulate.md; samples
// in data/scenario-*.json). The report has, per account and day: the tier,
// the balance, jobs submitted, created, queued, refused (by reason),
// succeeded and failed (refunded), credits spent, purchases and recharges;
// then the totals. --json prints the same as data; --svg FILE also draws
// the balance, the tier and the jobs of each day as an SVG chart. The same
// scenario gives the same output on every run. Exit status: 0 on success;
// 2 on bad input (one line on stderr, nothing on stdout, no file written);
// 1 on an internal error.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <tollgate/pricing/runway.hpp>

#include "../common/cli_support.hpp"
#include "chart.hpp"
#include "output.hpp"
#include "scenario.hpp"
#include "simulation.hpp"

namespace {

namespace sim = tollgate::examples::simulate;
using tollgate::examples::bad_input;
using tollgate::examples::exit_bad_input;
using tollgate::examples::exit_ok;
using tollgate::examples::exit_refused;
using tollgate::examples::one_line;
// A file name quoted for a message (examples::quoted; a call spelled
// quoted(std::string) would find std::quoted by ADL).
std::string shown(std::string_view s) { return tollgate::examples::quoted(s); }

// The folder `path` is written in ("." for a bare name).
std::string folder_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Refuses an --svg path that cannot take the chart, before anything runs:
// empty, an existing file that is not a regular file (a directory, a device:
// replacing /dev/null would be a disaster), a folder that does not exist,
// or the scenario file itself.
void check_svg_path(const std::string& path, const std::string& scenario_file) {
  if (path.empty()) throw bad_input("--svg: the file name is empty");
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode))
      throw bad_input(fmt::format("--svg {}: is {}, not a regular file", shown(path),
                                  tollgate::json::detail::file_type_name(st.st_mode)));
    struct stat in {};
    if (::stat(scenario_file.c_str(), &in) == 0 && in.st_dev == st.st_dev && in.st_ino == st.st_ino)
      throw bad_input(fmt::format("--svg {}: is the scenario file; name another file", shown(path)));
  }
  const std::string folder = folder_of(path);
  if (::stat(folder.c_str(), &st) != 0)
    throw bad_input(fmt::format("--svg {}: cannot write in {}: {}", shown(path), shown(folder), std::strerror(errno)));
  if (!S_ISDIR(st.st_mode)) throw bad_input(fmt::format("--svg {}: {} is not a folder", shown(path), shown(folder)));
}

// Writes `text` to `path` whole or not at all: into a new file beside it,
// then renamed over it.
void write_file(const std::string& path, const std::string& text) {
  const std::string temp = fmt::format("{}.tmp-{}", path, ::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw bad_input(fmt::format("--svg {}: cannot create {}: {}", shown(path), shown(temp), std::strerror(errno)));
  std::size_t done = 0;
  int error = 0;
  while (done < text.size() && error == 0) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno != EINTR) error = errno;
    if (n > 0) done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0 && error == 0) error = errno;
  if (error == 0 && ::rename(temp.c_str(), path.c_str()) != 0) error = errno;
  if (error != 0) {
    ::unlink(temp.c_str());
    throw bad_input(fmt::format("--svg {}: cannot write it: {}", shown(path), std::strerror(error)));
  }
}

int run(int argc, char** argv) {
  CLI::App app{"Plays a scenario of accounts, purchases and jobs over days through a tollgate gate, "
               "deterministically, and reports what it decided day by day.",
               "tollgate-simulate"};
  std::string scenario_file, svg_file;
  bool json = false;
  app.add_option("SCENARIO", scenario_file, "Scenario file (JSON; see docs/simulate.md and data/scenario-*.json)")
      ->type_name("")
      ->required();
  app.add_flag("--json", json, "Print the report as JSON (exact decimal strings for amounts)");
  auto* o_svg = app.add_option("--svg", svg_file, "Also draw balance, tier and jobs a day as an SVG chart in FILE")
                    ->type_name("FILE");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return exit_ok;
  } catch (const CLI::ParseError& e) {
    throw bad_input(fmt::format("{} (see --help)", e.what()));
  }
  if (scenario_file.empty()) throw bad_input("the scenario file name is empty");
  if (*o_svg) check_svg_path(svg_file, scenario_file);

  sim::scenario s;
  try {
    s = sim::load_scenario(scenario_file, tollgate::runway_catalog());
  } catch (const sim::scenario_error& e) {
    // From the parts, not what(): a C string, cut short by a NUL in a key.
    throw bad_input(e.path().empty() ? fmt::format("scenario {}: {}", shown(e.source()), e.reason())
                                     : fmt::format("scenario {}: {}: {}", shown(e.source()), e.path(), e.reason()));
  }
  const sim::simulation_result r = sim::run_simulation(s);
  // Everything is computed and the chart written before anything is
  // printed: on an error, stdout stays empty.
  const std::string out = json ? sim::json_report(r) : sim::text_report(r);
  if (*o_svg) write_file(svg_file, sim::render_svg(sim::chart_of(r)));
  std::fputs(out.c_str(), stdout);
  return std::fflush(stdout) == 0 ? exit_ok : exit_refused;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const bad_input& e) {
    std::fprintf(stderr, "tollgate-simulate: error: %s\n", one_line(e.what()).c_str());
    return exit_bad_input;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tollgate-simulate: internal error: %s\n", one_line(e.what()).c_str());
    return exit_refused;
  }
}
