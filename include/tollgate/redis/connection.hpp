// Redis connections for the Redis limiter backend (backend.hpp): the URL
// (redis://[[user]:password@]host[:port][/db]), one blocking hiredis
// connection with connect and command timeouts and TCP keepalive, and a small
// thread-safe pool of them. A connection that failed (refused, reset, timed
// out, a protocol error) is never reused: the pool drops it and opens a new
// one on the next call, which is how the backend reconnects after Redis
// restarts. Every failure is errc::unavailable with hiredis's reason and the
// server's address. Part of the optional tollgate::redis target (hiredis).
#pragma once

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "../limits/decision.hpp"

namespace tollgate::redis {

/// Where the server is: parsed from redis://[[user]:password@]host[:port][/db].
struct url {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string user;      ///< ACL user (Redis 6+); empty: the default user
  std::string password;  ///< empty: no AUTH

  /// "host:port", for messages.
  [[nodiscard]] std::string where() const { return host + ":" + std::to_string(port); }
};

namespace detail {

[[nodiscard]] inline int parse_port_or_db(std::string_view text, std::string_view field, int max) {
  int v = -1;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc{} || p != text.data() + text.size() || v < 0 || v > max)
    throw limit_config_error("redis", field, "'" + std::string(text) + "' is not a number from 0 to " + std::to_string(max));
  return v;
}

}  // namespace detail

/**
 * Parses redis://[[user]:password@]host[:port][/db] (port 6379 and db 0 by
 * default). Throws limit_config_error naming the field for anything else
 * (another scheme, an empty host, a port or db that is not a plain decimal
 * in range).
 */
[[nodiscard]] inline url parse_url(std::string_view text) {
  constexpr std::string_view scheme = "redis://";
  if (text.substr(0, scheme.size()) != scheme)
    throw limit_config_error("redis", "url", "'" + std::string(text) + "' must start with redis://");
  std::string_view rest = text.substr(scheme.size());
  url u;
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view auth = rest.substr(0, at);
    const auto colon = auth.find(':');
    if (colon == std::string_view::npos)
      throw limit_config_error("redis", "url", "credentials must be [user]:password");
    u.user = std::string(auth.substr(0, colon));
    u.password = std::string(auth.substr(colon + 1));
    rest = rest.substr(at + 1);
  }
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    u.db = detail::parse_port_or_db(rest.substr(slash + 1), "db", 1 << 20);
    rest = rest.substr(0, slash);
  }
  if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    u.port = detail::parse_port_or_db(rest.substr(colon + 1), "port", 65535);
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) throw limit_config_error("redis", "host", "the URL names no host");
  u.host = std::string(rest);
  return u;
}

/// How long a connection waits.
struct timeouts {
  std::chrono::milliseconds connect{500};  ///< to open a connection
  std::chrono::milliseconds command{500};  ///< for one reply
};

namespace detail {
struct reply_free {
  void operator()(redisReply* r) const noexcept { freeReplyObject(r); }
};
struct context_free {
  void operator()(redisContext* c) const noexcept { redisFree(c); }
};
[[nodiscard]] inline timeval to_timeval(std::chrono::milliseconds d) {
  const auto ms = std::max<std::int64_t>(d.count(), 1);
  return timeval{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
}
}  // namespace detail

/// An owned hiredis reply.
using reply = std::unique_ptr<redisReply, detail::reply_free>;

/**
 * One blocking connection. Not thread-safe: one thread at a time (the pool
 * hands each connection to one caller). Movable.
 */
class connection {
 public:
  /// Opens, authenticates and selects the database. @return unavailable
  /// with the reason when any step fails.
  [[nodiscard]] static result<connection> open(const url& u, const timeouts& t) {
    connection c;
    c.where_ = u.where();
    c.ctx_.reset(redisConnectWithTimeout(u.host.c_str(), u.port, detail::to_timeval(t.connect)));
    if (!c.ctx_) return {errc::unavailable, "redis " + c.where_ + ": cannot allocate a connection"};
    if (c.ctx_->err != 0) return c.failure("connect");
    if (redisSetTimeout(c.ctx_.get(), detail::to_timeval(t.command)) != REDIS_OK ||
        redisEnableKeepAlive(c.ctx_.get()) != REDIS_OK)
      return c.failure("configure");
    if (!u.password.empty()) {
      std::vector<std::string_view> auth{"AUTH"};
      if (!u.user.empty()) auth.push_back(u.user);
      auth.push_back(u.password);
      if (auto r = c.expect_ok(auth); !r) return r.error();
    }
    if (u.db != 0) {
      const std::string db = std::to_string(u.db);
      if (auto r = c.expect_ok(std::vector<std::string_view>{"SELECT", db}); !r) return r.error();
    }
    return c;
  }

  /**
   * Sends one command (binary-safe arguments) and waits for its reply. An
   * error reply from the server is a reply (type REDIS_REPLY_ERROR), not a
   * failure. @return unavailable when the connection failed; it is then
   * broken() and must be dropped.
   */
  [[nodiscard]] result<reply> command(std::span<const std::string_view> args) {
    if (broken()) return {errc::unavailable, "redis " + where_ + ": the connection is broken"};
    argv_.clear();
    lens_.clear();
    for (std::string_view a : args) {
      argv_.push_back(a.data());
      lens_.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(ctx_.get(), static_cast<int>(args.size()), argv_.data(), lens_.data()));
    if (r == nullptr) return failure(args.empty() ? "command" : args[0]);
    return reply(r);
  }
  /// command() for a braced list of arguments.
  [[nodiscard]] result<reply> command(std::initializer_list<std::string_view> args) {
    return command(std::span<const std::string_view>(args.begin(), args.size()));
  }

  /// True once the connection has failed (it is never used again).
  [[nodiscard]] bool broken() const noexcept { return !ctx_ || ctx_->err != 0; }
  /// "host:port", for messages.
  [[nodiscard]] const std::string& where() const noexcept { return where_; }

 private:
  connection() = default;

  [[nodiscard]] result<void> expect_ok(std::span<const std::string_view> args) {
    auto r = command(args);
    if (!r) return r.error();
    if ((*r)->type == REDIS_REPLY_ERROR)
      return {errc::unavailable, "redis " + where_ + ": " + std::string(args[0]) + ": " +
                                     std::string((*r)->str, (*r)->len)};
    return {};
  }
  [[nodiscard]] tollgate::error failure(std::string_view what) const {
    std::string why = ctx_ && ctx_->err != 0 ? std::string(ctx_->errstr) : "no reply";
    if (why.empty() || why == "Resource temporarily unavailable") why = "timed out (" + why + ")";
    return {errc::unavailable, "redis " + where_ + ": " + std::string(what) + ": " + why};
  }

  std::unique_ptr<redisContext, detail::context_free> ctx_;
  std::string where_;
  std::vector<const char*> argv_;
  std::vector<std::size_t> lens_;
};

/**
 * A thread-safe pool of at most `max` connections, opened on demand. A caller
 * takes one (waiting while all are busy), uses it alone, and gives it back;
 * a broken one is dropped, so the next caller opens a fresh one. `on_open`
 * runs on each new connection (the backend loads its script there).
 */
class connection_pool {
 public:
  using setup = std::function<result<void>(connection&)>;

  connection_pool(url u, timeouts t, std::size_t max, setup on_open)
      : url_(std::move(u)), timeouts_(t), max_(std::max<std::size_t>(max, 1)), on_open_(std::move(on_open)) {}

  /// A connection taken from the pool; given back when destroyed.
  class handle {
   public:
    handle(connection_pool* p, std::unique_ptr<connection> c) : pool_(p), c_(std::move(c)) {}
    handle(handle&& o) noexcept : pool_(std::exchange(o.pool_, nullptr)), c_(std::move(o.c_)) {}
    handle& operator=(handle&&) = delete;
    ~handle() {
      if (pool_ != nullptr) pool_->give_back(std::move(c_));
    }
    connection& operator*() const noexcept { return *c_; }
    connection* operator->() const noexcept { return c_.get(); }

   private:
    connection_pool* pool_;
    std::unique_ptr<connection> c_;
  };

  /// Takes an idle connection, or opens one. @return unavailable when a new
  /// connection cannot be opened.
  [[nodiscard]] result<handle> take() {
    std::unique_lock<std::mutex> lock(m_);
    cv_.wait(lock, [&] { return !idle_.empty() || open_ < max_; });
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return handle(this, std::move(c));
    }
    ++open_;  // reserve the place, open outside the lock
    lock.unlock();
    auto c = open_one();
    if (!c) {
      release_place();
      return c.error();
    }
    return handle(this, std::move(*c));
  }

  /// Connections open now (idle or in use).
  [[nodiscard]] std::size_t size() const {
    std::lock_guard<std::mutex> lock(m_);
    return open_;
  }
  [[nodiscard]] const url& address() const noexcept { return url_; }

 private:
  result<std::unique_ptr<connection>> open_one() {
    auto c = connection::open(url_, timeouts_);
    if (!c) return c.error();
    auto p = std::make_unique<connection>(std::move(*c));
    if (on_open_)
      if (auto r = on_open_(*p); !r) return r.error();
    return p;
  }
  void give_back(std::unique_ptr<connection> c) {
    if (!c || c->broken()) {
      release_place();
      return;
    }
    {
      std::lock_guard<std::mutex> lock(m_);
      idle_.push_back(std::move(c));
    }
    cv_.notify_one();
  }
  void release_place() {
    {
      std::lock_guard<std::mutex> lock(m_);
      --open_;
    }
    cv_.notify_one();
  }

  url url_;
  timeouts timeouts_;
  std::size_t max_;
  setup on_open_;
  mutable std::mutex m_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<connection>> idle_;
  std::size_t open_ = 0;
};

}  // namespace tollgate::redis
