// tollgate-server: the provider's HTTP API (as @runwayml/sdk speaks it) on
// tollgate, with simulated generation. docs/server.md describes the
// configuration, the endpoints and how to put a real generator behind it.
//
//   tollgate-server --config FILE [--listen 127.0.0.1:PORT]
//
// Prints "listening on http://HOST:PORT" on one line once it accepts
// connections (port 0 picks a free port). SIGTERM or SIGINT: stops
// accepting, answers what is in flight, closes the journal, exits 0.
#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>
#include <fmt/format.h>
#include <tollgate/json/catalog.hpp>
#include <tollgate/pricing/runway.hpp>

#include "api.hpp"
#include "clock.hpp"
#include "config.hpp"
#include "http.hpp"
#include "gate_backend.hpp"
#include "requests.hpp"

namespace {

// Idle keep-alive connections each hold a descriptor: take all the process may.
void raise_descriptor_limit() {
  rlimit l{};
  if (getrlimit(RLIMIT_NOFILE, &l) == 0 && l.rlim_cur < l.rlim_max) {
    l.rlim_cur = l.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &l);
  }
}

int serve(tollgate_server::server_config config, const std::optional<std::string>& listen) {
  using namespace tollgate_server;
  if (listen) {
    try {
      config_detail::read_listen(*listen, "--listen", config);
    } catch (const config_detail::bad_field& e) {
      fmt::print(stderr, "tollgate-server: --listen: {}\n", e.reason);
      return 2;
    }
  }
  raise_descriptor_limit();
  const server_clock clock = config.simulation.clock == clock_mode::manual
                                 ? server_clock(wall_time(std::chrono::duration_cast<wall_time::duration>(config.simulation.start)))
                                 : server_clock();
  std::optional<tollgate::catalog> loaded;
  if (config.catalog) loaded.emplace(tollgate::json::load_catalog(*config.catalog));
  const tollgate::catalog& catalog = loaded ? *loaded : tollgate::runway_catalog();

  std::error_code ec;
  std::filesystem::create_directories(config.journal.parent_path(), ec);
  gate_backend backend(config.journal, config.durability, catalog, config.simulation, clock);
  if (const auto& r = backend.recovery(); r.accounts != 0)
    fmt::print(stderr, "tollgate-server: journal {}: {} accounts, {} open tasks back, {} orphan holds released ({} credits)\n",
               config.journal.string(), r.accounts, r.tasks, r.orphan_holds, r.orphan_credits.to_string());
  boost::asio::thread_pool workers(config.workers);
  std::optional<api<tollgate::catalog>> handler;
  auto server = std::make_unique<http_server>(config.http, [&handler](request&& req, responder respond) {
    (*handler)(std::move(req), std::move(respond));
  });
  handler.emplace(config, backend.gate().catalog(), backend, simulated_probe(config.simulation.input_ms), workers, clock, &server->counters());
  const auto ep = server->listen(config.host, config.port);
  boost::asio::signal_set signals(server->context(), SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    fmt::print(stderr, "tollgate-server: {}: stopping (answering requests in flight)\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    server->stop();
  });
  const std::string host = ep.address().is_v6() ? fmt::format("[{}]", ep.address().to_string()) : ep.address().to_string();
  std::printf("listening on http://%s:%u\n", host.c_str(), static_cast<unsigned>(ep.port()));
  std::fflush(stdout);
  server->run();
  workers.join();
  fmt::print(stderr, "tollgate-server: stopped\n");
  return 0;  // the backend's destructor stops the generator and closes the journal
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"tollgate-server: the provider's HTTP API on tollgate (docs/server.md)"};
  std::string config_file;
  std::optional<std::string> listen;
  app.add_option("--config", config_file, "the configuration file (JSON)")->required();
  app.add_option("--listen", listen, "HOST:PORT to listen on (port 0: a free port); overrides the configuration");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "tollgate-server: {}\n", e.what());
    return 2;
  }
  try {
    return serve(tollgate_server::load_config(config_file), listen);
  } catch (const tollgate::json::config_file_error& e) {
    fmt::print(stderr, "tollgate-server: invalid configuration: {}\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "tollgate-server: {}\n", e.what());
    return 1;
  }
}
