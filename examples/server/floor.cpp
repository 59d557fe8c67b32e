// tollgate-http-floor: the HTTP layer of tollgate-server (http.hpp, the same
// sessions, limits, deadlines and log) answering every request with a fixed
// create response, without tollgate: the floor the server's throughput is
// measured against (docs/server.md, "Benchmarks").
//
//   tollgate-http-floor [--listen 127.0.0.1:PORT] [--io-threads N] [--log]
#include <csignal>
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>

#include "config.hpp"
#include "http.hpp"

int main(int argc, char** argv) {
  using namespace tollgate_server;
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"tollgate-http-floor: tollgate-server's HTTP layer answering a fixed response"};
  std::string listen = "127.0.0.1:0";
  http_settings settings;
  settings.log_requests = false;
  app.add_option("--listen", listen, "HOST:PORT (port 0: a free port)");
  app.add_option("--io-threads", settings.io_threads, "network threads")->check(CLI::Range(1, 256));
  app.add_flag("--log", settings.log_requests, "one log line per request, as the server writes");
  CLI11_PARSE(app, argc, argv);
  server_config where;
  try {
    config_detail::read_listen(listen, "--listen", where);
  } catch (const config_detail::bad_field& e) {
    fmt::print(stderr, "tollgate-http-floor: --listen: {}\n", e.reason);
    return 2;
  }
  static const std::string body = R"({"id":"00000000-0000-4000-8000-000000000000","estimatedCost":{"credits":50}})";
  http_server server(settings, [](request&& req, responder respond) {
    response res{http::status::ok, req.version()};
    res.set(http::field::content_type, "application/json");
    res.body() = body;
    res.prepare_payload();
    respond(std::move(res), request_note{});
  });
  const auto ep = server.listen(where.host, where.port);
  boost::asio::signal_set signals(server.context(), SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (!ec) server.stop();
  });
  std::printf("listening on http://%s:%u\n", ep.address().to_string().c_str(), static_cast<unsigned>(ep.port()));
  std::fflush(stdout);
  server.run();
  return 0;
}
