// The HTTP layer of tollgate-server: HTTP/1.1 with keep-alive on Boost.Beast,
// knowing nothing of tollgate. A connection reads one request at a time
// under three deadlines (idle: waiting for the first byte of a request;
// header: from that byte to the end of the header; body: for the body), so a
// client that sends slowly, or not at all, is dropped instead of holding a
// connection; headers and bodies have size limits (431, 413); the number of
// open connections is bounded (past it a new connection gets a 503 and is
// closed). Each request goes to a `handler` with a `responder` it may call
// from any thread, once; the session then writes the answer and reads the
// next request. One line of log per request: time, method, path, status,
// duration and the account the handler named (never a header's value).
//
// Threads: one io_context run by `io_threads` threads; each connection runs
// on its own strand, so its steps never overlap while different connections
// proceed in parallel. Handlers that block (a journal's fsync) must hand
// their work to another pool and answer through the responder: the network
// threads only parse, route and write.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

namespace tollgate_server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

/// The limits and deadlines of the HTTP layer (configuration `http`).
struct http_settings {
  std::size_t max_body_bytes = std::size_t{8} << 20;   ///< larger bodies: 413
  std::size_t max_header_bytes = std::size_t{16} << 10;  ///< larger headers: 431
  std::chrono::milliseconds idle_timeout{60'000};    ///< no request started: close
  std::chrono::milliseconds header_timeout{10'000};  ///< header not complete: close
  std::chrono::milliseconds body_timeout{30'000};    ///< body not complete: close
  std::chrono::milliseconds write_timeout{30'000};   ///< answer not taken: close
  std::size_t max_connections = 4096;  ///< open connections at most; more get 503
  /// Request bodies held in memory at once, over all connections: a body
  /// that would pass it gets a 503 (retry), so many slow large bodies cannot
  /// exhaust memory (max_connections x max_body_bytes could).
  std::size_t max_buffered_bytes = std::size_t{256} << 20;
  unsigned io_threads = 1;             ///< threads running the network
  bool log_requests = true;            ///< one line per request on stderr
};

/// What the log line of a request says besides method, path and status.
struct request_note {
  std::string account;  ///< the account the request acted for, if any
};

/// Answers a request; callable once, from any thread.
using responder = std::function<void(response&&, request_note)>;
/// Handles a request: must call `respond` exactly once (now or later).
using handler = std::function<void(request&&, responder respond)>;

/// Counters of the HTTP layer (for /metrics). Thread-safe.
struct http_counters {
  std::atomic<std::uint64_t> connections_accepted{0};
  std::atomic<std::uint64_t> connections_refused{0};  ///< over max_connections
  std::atomic<std::uint64_t> connections_timed_out{0};
  std::atomic<std::int64_t> connections_open{0};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> bodies_refused{0};  ///< over max_buffered_bytes
  std::atomic<std::size_t> buffered_bytes{0};    ///< reserved for bodies being read or handled
  std::atomic<std::uint64_t> responses_by_class[6]{};  ///< [status / 100]
};

namespace detail {

/// A std::string_view of Beast's string_view.
[[nodiscard]] inline std::string_view sv(beast::string_view s) noexcept { return {s.data(), s.size()}; }

/// The path of a target, without the query; control characters and bytes
/// outside printable ASCII escaped, so a log line stays one line.
[[nodiscard]] inline std::string printable_path(std::string_view target) {
  const auto q = target.find('?');
  if (q != std::string_view::npos) target = target.substr(0, q);
  if (target.size() > 200) target = target.substr(0, 200);
  std::string out;
  out.reserve(target.size());
  for (const char ch : target) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x21 || c > 0x7E) out += fmt::format("%{:02X}", c);
    else out += ch;
  }
  return out;
}

/// A JSON error answer of the HTTP layer itself (before any handler).
[[nodiscard]] inline response plain_error(http::status status, std::string_view message, unsigned version) {
  response res{status, version};
  res.set(http::field::content_type, "application/json");
  res.set("x-should-retry", "false");
  res.body() = fmt::format(R"({{"error":"{}"}})", message);
  res.keep_alive(false);
  res.prepare_payload();
  return res;
}

inline std::mutex& log_mutex() {
  static std::mutex m;
  return m;
}

}  // namespace detail

class http_server;

/// One connection: reads requests one at a time, hands each to the handler,
/// writes the answer. Lives as long as an operation of it is pending.
class http_session : public std::enable_shared_from_this<http_session> {
 public:
  http_session(tcp::socket&& socket, http_server& server);
  ~http_session();

  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->wait_for_request(); });
  }
  /// Closes the connection if it is waiting for a request (stop()).
  void close_if_idle() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->idle_) self->close();
    });
  }

 private:
  void wait_for_request();
  void read_header();
  void read_body();
  void dispatch_request();
  void write(response&& res, request_note note);
  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
  }
  // Reserves the body's bytes (its Content-Length, or the limit when it is
  // chunked) from the server's budget until the answer is written.
  bool reserve_body();
  void release_body();
  void fail_and_close(http::status status, std::string_view message) {
    response res = detail::plain_error(status, message, 11);
    if (status == http::status::service_unavailable) res.set("x-should-retry", "true");
    linger_ = true;
    write(std::move(res), request_note{});
  }
  // After refusing a request whose body may still be arriving: stop sending,
  // then read and discard for a moment before closing. Closing a socket with
  // unread data sends a reset, which can destroy the answer before the client
  // reads it (nginx's "lingering close").
  void linger_then_close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    discard(0);
  }
  void discard(std::size_t so_far) {
    if (so_far > (std::size_t{1} << 20)) return close();
    stream_.expires_after(std::chrono::seconds(1));
    buffer_.clear();
    stream_.async_read_some(buffer_.prepare(16384), [self = shared_from_this(), so_far](beast::error_code ec, std::size_t n) {
      if (ec) return self->close();
      self->discard(so_far + n);
    });
  }

  beast::tcp_stream stream_;
  http_server& server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<void> response_keepalive_;
  bool idle_ = false;
  bool close_after_write_ = false;
  bool linger_ = false;
  std::size_t reserved_ = 0;  ///< bytes of the budget this request's body holds
  std::string method_;
  std::string path_;
  std::chrono::steady_clock::time_point started_{};
};

/**
 * An HTTP server on one listening socket. run() serves until stop() (or a
 * signal the caller wires to stop()) and returns when every connection has
 * closed. Thread-safe: stop() may be called from any thread.
 */
class http_server {
 public:
  http_server(http_settings settings, handler h) : settings_(std::move(settings)), handler_(std::move(h)) {}

  /// Binds and listens on `host:port` (port 0: a free port); returns the
  /// bound endpoint. Throws boost::system::system_error when it cannot.
  tcp::endpoint listen(const std::string& host, std::uint16_t port) {
    const tcp::endpoint ep(net::ip::make_address(host), port);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen(net::socket_base::max_listen_connections);
    return acceptor_.local_endpoint();
  }

  /// Serves on io_threads threads (this one included) until stop() and
  /// every connection has closed.
  void run() {
    accept();
    std::vector<std::thread> threads;
    for (unsigned i = 1; i < settings_.io_threads; ++i) threads.emplace_back([this] { ioc_.run(); });
    ioc_.run();
    for (auto& t : threads) t.join();
  }

  /// Stops accepting, closes idle connections, lets requests in flight be
  /// answered (their connections then close), and ends run() once all are
  /// closed. Idempotent.
  void stop() {
    net::post(acceptor_.get_executor(), [this] {
      if (stopping_.exchange(true)) return;
      beast::error_code ec;
      acceptor_.close(ec);
      std::vector<std::shared_ptr<http_session>> open;
      {
        std::lock_guard lk(sessions_mutex_);
        for (auto* s : sessions_) open.push_back(s->weak_from_this().lock());
      }
      for (auto& s : open)
        if (s) s->close_if_idle();
      work_.reset();
    });
  }

  [[nodiscard]] net::io_context& context() noexcept { return ioc_; }
  [[nodiscard]] const http_settings& settings() const noexcept { return settings_; }
  [[nodiscard]] const http_counters& counters() const noexcept { return counters_; }
  [[nodiscard]] bool stopping() const noexcept { return stopping_.load(std::memory_order_relaxed); }

 private:
  friend class http_session;

  void accept() {
    acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (!acceptor_.is_open()) return;  // stop()
        // EMFILE and the like: try again shortly instead of spinning.
        auto timer = std::make_shared<net::steady_timer>(ioc_, std::chrono::milliseconds(50));
        timer->async_wait([this, timer](beast::error_code) { accept(); });
        return;
      }
      counters_.connections_accepted.fetch_add(1, std::memory_order_relaxed);
      if (static_cast<std::size_t>(counters_.connections_open.load()) >= settings_.max_connections) {
        refuse(std::move(socket));
      } else {
        std::make_shared<http_session>(std::move(socket), *this)->start();
      }
      accept();
    });
  }

  // Over the connection limit: a short 503 and close. The write cannot block
  // for long: the socket is new, its send buffer empty.
  void refuse(tcp::socket socket) {
    counters_.connections_refused.fetch_add(1, std::memory_order_relaxed);
    static constexpr std::string_view answer =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        "Retry-After: 1\r\nConnection: close\r\nContent-Length: 40\r\n\r\n"
        R"({"error":"too many connections, retry"})"
        "\n";
    beast::error_code ec;
    socket.non_blocking(true, ec);
    net::write(socket, net::buffer(answer.data(), answer.size()), ec);
    socket.shutdown(tcp::socket::shutdown_send, ec);
    socket.close(ec);
  }

  void opened(http_session* s) {
    counters_.connections_open.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lk(sessions_mutex_);
    sessions_.insert(s);
  }
  void closed(http_session* s) {
    counters_.connections_open.fetch_sub(1, std::memory_order_relaxed);
    std::lock_guard lk(sessions_mutex_);
    sessions_.erase(s);
  }

  void log(std::string_view method, std::string_view path, unsigned status,
           std::chrono::steady_clock::duration took, const request_note& note) {
    counters_.requests.fetch_add(1, std::memory_order_relaxed);
    counters_.responses_by_class[status / 100 < 6 ? status / 100 : 0].fetch_add(1, std::memory_order_relaxed);
    if (!settings_.log_requests) return;
    const auto now = std::chrono::system_clock::now();
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(took).count();
    const std::string line =
        fmt::format("{:%Y-%m-%dT%H:%M:%S}Z {} {} {} {}.{:03}ms account={}\n",
                    std::chrono::floor<std::chrono::milliseconds>(now), method, path, status, us / 1000, us % 1000,
                    note.account.empty() ? "-" : note.account);
    std::lock_guard lk(detail::log_mutex());
    std::fputs(line.c_str(), stderr);
  }

  http_settings settings_;
  handler handler_;
  net::io_context ioc_{};
  tcp::acceptor acceptor_{net::make_strand(ioc_)};
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_{ioc_.get_executor()};
  std::atomic<bool> stopping_{false};
  http_counters counters_;
  std::mutex sessions_mutex_;
  std::unordered_set<http_session*> sessions_;
};

// ------------------------------------------------------------ http_session

inline http_session::http_session(tcp::socket&& socket, http_server& server)
    : stream_(std::move(socket)), server_(server) {
  server_.opened(this);
}

inline bool http_session::reserve_body() {
  const auto len = parser_->content_length();
  const std::size_t need = len ? static_cast<std::size_t>(*len) : parser_->chunked() ? server_.settings().max_body_bytes : 0;
  if (need == 0) return true;
  auto& total = server_.counters_.buffered_bytes;
  std::size_t now = total.load(std::memory_order_relaxed);
  do {
    if (now + need > server_.settings().max_buffered_bytes) return false;
  } while (!total.compare_exchange_weak(now, now + need, std::memory_order_relaxed));
  reserved_ = need;
  return true;
}
inline void http_session::release_body() {
  if (reserved_ == 0) return;
  server_.counters_.buffered_bytes.fetch_sub(reserved_, std::memory_order_relaxed);
  reserved_ = 0;
}

inline http_session::~http_session() {
  release_body();
  server_.closed(this);
}

inline void http_session::wait_for_request() {
  if (server_.stopping()) return close();
  if (buffer_.size() > 0) return read_header();  // a pipelined request is already here
  idle_ = true;
  // The first bytes of the next request, under the idle deadline; the header
  // deadline starts when they arrive.
  stream_.expires_after(server_.settings().idle_timeout);
  stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
    self->idle_ = false;
    if (ec) {
      if (ec == beast::error::timeout)
        self->server_.counters_.connections_timed_out.fetch_add(1, std::memory_order_relaxed);
      return self->close();
    }
    self->buffer_.commit(n);
    self->read_header();
  });
}

inline void http_session::read_header() {
  started_ = std::chrono::steady_clock::now();
  method_.clear();
  path_.clear();
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(server_.settings().max_header_bytes));
  parser_->body_limit(server_.settings().max_body_bytes);
  stream_.expires_after(server_.settings().header_timeout);
  http::async_read_header(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
    auto& s = *self;
    if (ec == http::error::header_limit) return s.fail_and_close(http::status::request_header_fields_too_large,
                                                                  "the request header is too large");
    if (ec == http::error::body_limit)  // a Content-Length over the limit: refused before the body is read
      return s.fail_and_close(http::status::payload_too_large,
                              fmt::format("the request body is larger than {} bytes", s.server_.settings().max_body_bytes));
    if (ec == beast::error::timeout) {
      s.server_.counters_.connections_timed_out.fetch_add(1, std::memory_order_relaxed);
      return s.close();
    }
    if (ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset)
      return s.close();
    if (ec) return s.fail_and_close(http::status::bad_request, "malformed HTTP request");
    const auto& h = s.parser_->get();
    s.method_ = std::string(h.method_string().substr(0, 16));
    s.path_ = detail::printable_path(detail::sv(h.target()));
    if (const auto len = s.parser_->content_length(); len && *len > s.server_.settings().max_body_bytes)
      return s.fail_and_close(http::status::payload_too_large,
                              fmt::format("the request body is larger than {} bytes", s.server_.settings().max_body_bytes));
    if (!s.reserve_body()) {
      s.server_.counters_.bodies_refused.fetch_add(1, std::memory_order_relaxed);
      return s.fail_and_close(http::status::service_unavailable, "the server is reading too many request bodies; retry shortly");
    }
    s.read_body();
  });
}

inline void http_session::read_body() {
  if (parser_->is_done()) return dispatch_request();
  stream_.expires_after(server_.settings().body_timeout);
  http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
    auto& s = *self;
    if (ec == http::error::body_limit)
      return s.fail_and_close(http::status::payload_too_large,
                              fmt::format("the request body is larger than {} bytes", s.server_.settings().max_body_bytes));
    if (ec == beast::error::timeout) {
      s.server_.counters_.connections_timed_out.fetch_add(1, std::memory_order_relaxed);
      return s.close();
    }
    if (ec == http::error::end_of_stream || ec == http::error::partial_message || ec == net::error::eof ||
        ec == net::error::connection_reset)
      return s.close();
    if (ec) return s.fail_and_close(http::status::bad_request, "malformed HTTP request");
    s.dispatch_request();
  });
}

inline void http_session::dispatch_request() {
  stream_.expires_never();  // the handler may take its time; the write has its own deadline
  request req = parser_->release();
  parser_.reset();
  close_after_write_ = !req.keep_alive();
  auto self = shared_from_this();
  auto once = std::make_shared<std::atomic<bool>>(false);
  // While a handler works on another thread no operation of this session is
  // pending: the guard keeps run() from returning (after stop()) before the
  // answer is written.
  auto guard = std::make_shared<net::executor_work_guard<net::io_context::executor_type>>(
      server_.ioc_.get_executor());
  responder respond = [self, once, guard](response&& res, request_note note) {
    if (once->exchange(true)) return;  // a handler bug must not write twice
    net::post(self->stream_.get_executor(),
              [self, res = std::move(res), note = std::move(note)]() mutable { self->write(std::move(res), std::move(note)); });
    guard->reset();
  };
  try {
    server_.handler_(std::move(req), respond);
  } catch (const std::exception& e) {
    response res = detail::plain_error(http::status::internal_server_error, "internal error", 11);
    respond(std::move(res), request_note{});
  }
}

inline void http_session::write(response&& res, request_note note) {
  release_body();
  if (close_after_write_ || server_.stopping() || !res.keep_alive()) {
    close_after_write_ = true;
    res.keep_alive(false);
  } else {
    res.keep_alive(true);
  }
  const unsigned status = res.result_int();
  server_.log(method_.empty() ? "-" : method_, path_.empty() ? "-" : path_, status,
              std::chrono::steady_clock::now() - started_, note);
  auto owned = std::make_shared<response>(std::move(res));
  stream_.expires_after(server_.settings().write_timeout);
  http::async_write(stream_, *owned, [self = shared_from_this(), owned](beast::error_code ec, std::size_t) {
    if (ec) return self->close();
    if (self->linger_) return self->linger_then_close();
    if (self->close_after_write_) return self->close();
    self->wait_for_request();
  });
}

}  // namespace tollgate_server
