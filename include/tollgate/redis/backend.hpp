// The Redis limiter backend: the LimiterBackend (limits/backend.hpp) whose
// state many service instances share. Each decision is one call of one Lua
// script (script.hpp), run atomically by Redis, loaded once per connection
// (SCRIPT LOAD) and called by EVALSHA (loaded again on NOSCRIPT, after a
// restart or SCRIPT FLUSH). Time comes from Redis (TIME inside the script):
// instances whose clocks disagree by minutes share one window, and the `now`
// they pass is ignored (time_source::caller, for tests and simulations, uses
// it instead). Concurrency slots are leases: a task holds its slot (or queue
// place) while someone renews it within lease_ttl, so the slots of a crashed
// instance come back and queued tasks start. All keys of an account carry
// its {hash tag} (one Redis Cluster slot per script) and expire once idle.
// When Redis cannot decide (down, timed out, out of memory, a replica), the
// call fails with errc::unavailable (failure_mode::refuse, the default) or a
// local in-process backend decides instead (failure_mode::local); the
// observer hears either way. docs/many-instances.md tells the whole story.
// Part of the optional tollgate::redis target (hiredis).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../core/clock.hpp"
#include "../core/error.hpp"
#include "../limits/backend.hpp"
#include "../limits/local_backend.hpp"
#include "connection.hpp"
#include "script.hpp"

namespace tollgate::redis {

/// Whose clock the scripts read.
enum class time_source : std::uint8_t {
  server,  ///< Redis's TIME: one clock for every instance (production)
  caller,  ///< the `now` passed to each call, in whole microseconds (tests, simulations)
};

/// What a call does when Redis cannot decide.
enum class failure_mode : std::uint8_t {
  refuse,  ///< fail with errc::unavailable: no job is admitted unchecked (the default)
  local,   ///< decide with an in-process backend: each instance then enforces the limits alone
};

/// How a backend connects and behaves.
struct backend_options {
  /// Prefix of every key ("tg:{account}:m:model:c"); no '{' or '}'.
  std::string prefix = "tg";
  time_source time = time_source::server;
  /// A task's slot or queue place lasts this long after its last renewal.
  std::chrono::milliseconds lease_ttl{30'000};
  failure_mode on_failure = failure_mode::refuse;
  redis::timeouts timeouts{};
  /// After a failure, calls skip Redis (failing or falling back at once)
  /// for this long before trying it again.
  std::chrono::milliseconds retry_interval{1'000};
  /// Connections at most (a call waits while all are busy).
  std::size_t max_connections = 16;
  /// Hears unreachable, fallback, recovered and lease_expired.
  limiter_observer observer;
};

namespace detail {

/// An id as it appears inside a key: '%', '{', '}', ':' and bytes outside
/// '!'..'~' as %XX, so the account's hash tag is exactly the account and
/// the parts of a key read back unambiguously.
[[nodiscard]] inline std::string escape(std::string_view id) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(id.size());
  for (const char ch : id) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < '!' || c > '~' || c == '%' || c == '{' || c == '}' || c == ':') {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

/// The integer of a reply element (0 when it is not one).
[[nodiscard]] inline std::int64_t integer(const redisReply* r) noexcept {
  return r != nullptr && r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
}

/// The strings of an array reply element.
[[nodiscard]] inline std::vector<std::string> strings(const redisReply* r) {
  std::vector<std::string> out;
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY) return out;
  out.reserve(r->elements);
  for (std::size_t i = 0; i < r->elements; ++i) out.emplace_back(r->element[i]->str, r->element[i]->len);
  return out;
}

/// A wait in microseconds from a script (-1: never) as nanoseconds.
[[nodiscard]] inline std::chrono::nanoseconds wait_us(std::int64_t us) noexcept {
  if (us < 0) return std::chrono::nanoseconds::max();
  return std::chrono::microseconds(us);
}

/// A limit as the script takes it: -1 for unlimited.
[[nodiscard]] inline std::string limit_arg(std::optional<std::uint64_t> l) {
  const auto e = limits::detail::effective_limit(l);
  return e ? std::to_string(*e) : std::string("-1");
}

}  // namespace detail

/**
 * The Redis LimiterBackend.
 *
 * @tparam C the Clock of the `now` arguments (used only with
 *         time_source::caller, and by the local fallback); times returned
 *         (created_at) are Redis's, in microseconds since the Unix epoch, as
 *         C's time points: use system_clock in production.
 *
 * Thread-safe: calls take a connection from a pool (one per concurrent
 * caller, up to max_connections). Every call is one EVALSHA round trip
 * (plus SCRIPT LOAD on a new connection). A call that fails because Redis
 * could not be reached or answered an error is retried once on a fresh
 * connection; if that fails too the failure mode applies.
 */
template <Clock C = std::chrono::system_clock>
class basic_backend {
 public:
  using clock_type = C;
  using time_point = typename C::time_point;
  using admission = basic_admission<time_point>;
  using restored_task = basic_restored_task<time_point>;

  /// Connects lazily (the first call opens the first connection). Throws
  /// limit_config_error for a bad URL, a prefix with '{' or '}', or a
  /// lease TTL that is not positive.
  basic_backend(std::string_view url, backend_options options = {}, C clock = C{})
      : options_(std::move(options)),
        pool_(parse_url(url), options_.timeouts, options_.max_connections,
              [this](connection& c) { return load_script(c); }),
        fallback_(clock, {}),
        clock_(std::move(clock)) {
    if (options_.prefix.find_first_of("{}") != std::string::npos)
      throw limit_config_error("redis", "prefix", "must not contain '{' or '}' (they delimit the hash tag)");
    if (options_.lease_ttl.count() <= 0) throw limit_config_error("redis", "lease_ttl", "must be positive");
    lease_us_ = std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(options_.lease_ttl).count());
    // What a write leaves in the keys matters for 24 h (a creation) or the
    // lease TTL (a lease); the script pushes the expiry out once an hour.
    idle_ms_ = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(daily_window).count() +
                              options_.lease_ttl.count() + 3'600'000 + 60'000);
  }

  /// Counts a job and gives it a slot or a queue place, or refuses it (see
  /// LimiterBackend). A task id counted in the last 24 hours is a duplicate
  /// even after it left: a call retried after a lost reply is never counted
  /// twice. Thread-safe.
  [[nodiscard]] result<admission> admit(const limiter_key& k, std::string_view task, const key_limits& l,
                                        time_point now) {
    if (auto c = limits::detail::check_key(k, task); !c) return c.error();
    const std::string daily = detail::limit_arg(l.daily);
    const std::string slots = detail::limit_arg(l.concurrency);
    return decide<admission>(
        k, now, {"admit", task, daily, slots},
        [&](const redisReply* r) { return read_admission(k, r); },
        [&] { return fallback_.admit(k, task, l, now); });
  }
  /// Undoes an admit: uncounts the task and frees its slot or queue place
  /// (`created_at` is not needed: the task id finds it). Thread-safe.
  [[nodiscard]] result<limiter_release> revoke(const limiter_key& k, std::string_view task, time_point created_at,
                                               const key_limits& l, time_point now) {
    if (auto c = limits::detail::check_key(k, task); !c) return c.error();
    if (held_locally(k, task, now))
      return fallback_.revoke(k, task, created_at, l, now);
    return release("revoke", k, task, l, now, [&] { return fallback_.revoke(k, task, created_at, l, now); });
  }
  /// Frees a task's slot or queue place; the job stays counted. Thread-safe.
  [[nodiscard]] result<limiter_release> finish(const limiter_key& k, std::string_view task, const key_limits& l,
                                               time_point now) {
    if (auto c = limits::detail::check_key(k, task); !c) return c.error();
    if (held_locally(k, task, now)) return fallback_.finish(k, task, l, now);
    return release("finish", k, task, l, now, [&] { return fallback_.finish(k, task, l, now); });
  }
  /// Extends a task's lease (running or queued) by lease_ttl and says where
  /// it is; `absent` when its lease already ran out (the task lost its
  /// place and should be failed). Call it for every open task well within
  /// lease_ttl (every lease_ttl / 3, say). Thread-safe.
  [[nodiscard]] result<limiter_renewal> renew(const limiter_key& k, std::string_view task, const key_limits& l,
                                              time_point now) {
    if (auto c = limits::detail::check_key(k, task); !c) return c.error();
    if (held_locally(k, task, now)) return fallback_.renew(k, task, l, now);
    const std::string slots = detail::limit_arg(l.concurrency);
    return decide<limiter_renewal>(
        k, now, {"renew", task, slots},
        [&](const redisReply* r) {
          limiter_renewal n;
          n.place = static_cast<task_place>(detail::integer(r->element[0]));
          n.position = static_cast<std::uint64_t>(detail::integer(r->element[1]));
          read_changes(k, n, r, 2);
          return n;
        },
        [&] { return fallback_.renew(k, task, l, now); });
  }
  /// Takes back expired leases and starts queued tasks that fit the limits
  /// now (after a promotion; and periodically, so that the slots of a
  /// crashed instance come back on keys no one else touches). Thread-safe.
  [[nodiscard]] result<limiter_changes> poll(const limiter_key& k, const key_limits& l, time_point now) {
    if (auto c = limits::detail::check_key(k); !c) return c.error();
    const std::string slots = detail::limit_arg(l.concurrency);
    return decide<limiter_changes>(
        k, now, {"poll", slots},
        [&](const redisReply* r) {
          limiter_changes n;
          read_changes(k, n, r, 0);
          return n;
        },
        [&] { return fallback_.poll(k, l, now); });
  }
  /// Jobs created in the last 24 h, running and queued (a read: leases that
  /// ran out still count until a call on the key takes them back).
  /// Thread-safe.
  [[nodiscard]] result<key_usage> state(const limiter_key& k, time_point now) {
    if (auto c = limits::detail::check_key(k); !c) return c.error();
    return decide<key_usage>(
        k, now, {"state"},
        [&](const redisReply* r) {
          return key_usage{static_cast<std::uint64_t>(detail::integer(r->element[0])),
                           static_cast<std::uint64_t>(detail::integer(r->element[1])),
                           static_cast<std::uint64_t>(detail::integer(r->element[2]))};
        },
        [&] { return fallback_.state(k, now); });
  }
  /// Rebuilds a key from the ledger's history (after Redis lost its data):
  /// additive and idempotent (nothing is counted or placed twice); running
  /// tasks get a fresh lease. Thread-safe.
  [[nodiscard]] result<limiter_changes> restore(const limiter_key& k, std::span<const restored_task> tasks,
                                                const key_limits& l, time_point now) {
    if (auto c = limits::detail::check_key(k); !c) return c.error();
    std::vector<std::string> args{"restore", detail::limit_arg(l.concurrency)};
    for (const restored_task& t : tasks) {
      if (auto c = limits::detail::check_id("task", t.task); !c) return c.error();
      args.emplace_back(t.task);
      args.push_back(std::to_string(to_us(t.created_at)));
      args.push_back(std::to_string(static_cast<int>(t.place)));
    }
    const std::vector<std::string_view> views(args.begin(), args.end());
    return decide<limiter_changes>(
        k, now, views,
        [&](const redisReply* r) {
          limiter_changes n;
          read_changes(k, n, r, 0);
          return n;
        },
        [&] { return fallback_.restore(k, tasks, l, now); });
  }
  /// A token bucket per (account, bucket name), exact in microseconds (its
  /// level in integer units): takes n tokens if they are there; behaves as
  /// the local backend's (a rate change keeps the whole tokens held, a
  /// fraction of a token is dropped). invalid_argument when
  /// the rate in tokens per microsecond, reduced to R tokens per P us, has
  /// 2 * burst * P or R at 2^53 or more (1 per second allows a burst up to
  /// 4.5 * 10^9; 1 per day up to 52,000). Thread-safe.
  [[nodiscard]] result<limit_decision> take(const limiter_key& k, std::uint64_t n, token_rate rate,
                                            std::uint64_t burst, time_point now) {
    if (auto c = limits::detail::check_key(k); !c) return c.error();
    auto rp = bucket_units(rate, burst);
    if (!rp) return rp.error();
    if (n > burst) return limit_decision{false, 0, std::chrono::nanoseconds::max(), limit_reason::exceeds_burst};
    const std::string keys[] = {prefix(k) + "b:" + detail::escape(k.model)};
    const std::string ns = std::to_string(n), r = std::to_string(rp->first), p = std::to_string(rp->second),
                      b = std::to_string(burst);
    return run<limit_decision>(
        k, keys, now, {"take", ns, r, p, b}, bucket_margin_ms_,
        [&](const redisReply* x) {
          return limit_decision{detail::integer(x->element[0]) == 1,
                                static_cast<std::uint64_t>(detail::integer(x->element[1])),
                                detail::wait_us(detail::integer(x->element[2])),
                                static_cast<limit_reason>(detail::integer(x->element[3]))};
        },
        [&] { return fallback_.take(k, n, rate, burst, now); });
  }

  /// The options.
  [[nodiscard]] const backend_options& options() const noexcept { return options_; }
  /// Connections open now.
  [[nodiscard]] std::size_t connections() const { return pool_.size(); }

 private:
  // SCRIPT LOAD on a new connection (and after NOSCRIPT). The SHA1 it
  // answers is the same for every connection and server; the first one is
  // kept (call_once orders it before any use: a connection reaches a caller
  // only after its own load, or through the pool's lock).
  result<void> load_script(connection& c) {
    auto r = c.command({"SCRIPT", "LOAD", detail::limiter_script});
    if (!r) return r.error();
    if ((*r)->type != REDIS_REPLY_STRING)
      return {errc::unavailable, "redis " + c.where() + ": SCRIPT LOAD: " + std::string((*r)->str, (*r)->len)};
    std::call_once(sha_once_, [&] { sha_.assign((*r)->str, (*r)->len); });
    return {};
  }

  [[nodiscard]] std::int64_t to_us(time_point t) const {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    return limits::detail::floor_div(ns, 1000);
  }
  [[nodiscard]] time_point from_us(std::int64_t us) const {
    return time_point(std::chrono::duration_cast<typename time_point::duration>(std::chrono::microseconds(us)));
  }
  [[nodiscard]] std::string now_arg(time_point now) const {
    return options_.time == time_source::caller ? std::to_string(to_us(now)) : std::string();
  }

  // "tg:{account}:" — every key of the account shares this hash tag.
  [[nodiscard]] std::string prefix(const limiter_key& k) const {
    return options_.prefix + ":{" + detail::escape(k.account) + "}:";
  }
  [[nodiscard]] std::vector<std::string> key_names(const limiter_key& k) const {
    const std::string base = prefix(k) + "m:" + detail::escape(k.model) + ":";
    return {base + "c", base + "l", base + "q", base + "m"};
  }

  // R tokens per P us, reduced, from p/q tokens per ns; both and 2 * burst *
  // P below 2^53 (exact in Lua).
  static result<std::pair<std::uint64_t, std::uint64_t>> bucket_units(token_rate rate, std::uint64_t burst) {
    using limits::detail::u128;
    if (burst == 0) return {errc::invalid_argument, "limiter: a token bucket's burst must be at least 1"};
    const u128 num = static_cast<u128>(rate.numerator()) * 1000;  // tokens per us = 1000 p / q
    const u128 den = rate.denominator();
    const u128 g = limits::detail::gcd(num, den);
    const u128 R = num / g, P = den / g;
    constexpr u128 exact = u128{1} << 53;
    if (R >= exact || P >= exact || static_cast<u128>(burst) * P >= exact / 2)
      return {errc::invalid_argument,
              "redis: a token bucket of this rate and burst is not exact in Lua's 53-bit numbers (" +
                  std::to_string(static_cast<std::uint64_t>(R)) + " tokens per " +
                  std::to_string(static_cast<std::uint64_t>(P)) + " us, burst " + std::to_string(burst) +
                  "); lower the burst or use a rate of whole microseconds per token"};
    return std::pair{static_cast<std::uint64_t>(R), static_cast<std::uint64_t>(P)};
  }

  admission read_admission(const limiter_key& k, const redisReply* r) const {
    admission a;
    a.status = static_cast<admit_status>(detail::integer(r->element[0]));
    a.place = static_cast<task_place>(detail::integer(r->element[1]));
    a.position = static_cast<std::uint64_t>(detail::integer(r->element[2]));
    if (const auto c = detail::integer(r->element[3]); c != 0) a.created_at = from_us(c);
    if (a.status == admit_status::daily_limit) a.retry_after = detail::wait_us(detail::integer(r->element[4]));
    a.created = static_cast<std::uint64_t>(detail::integer(r->element[5]));
    read_changes(k, a, r, 6);
    return a;
  }
  // started and expired at elements i and i + 1; expired leases are told to
  // the observer.
  void read_changes(const limiter_key& k, limiter_changes& c, const redisReply* r, std::size_t i) const {
    c.started = detail::strings(r->element[i]);
    c.expired = detail::strings(r->element[i + 1]);
    for (const std::string& t : c.expired) tell(limiter_event_kind::lease_expired, k, t, {});
  }

  template <class F>
  result<limiter_release> release(std::string_view op, const limiter_key& k, std::string_view task,
                                  const key_limits& l, time_point now, F&& local) {
    const std::string slots = detail::limit_arg(l.concurrency);
    return decide<limiter_release>(
        k, now, {op, task, slots},
        [&](const redisReply* r) {
          limiter_release n;
          n.found = detail::integer(r->element[0]) == 1;
          n.was_running = detail::integer(r->element[1]) == 1;
          read_changes(k, n, r, 2);
          return n;
        },
        std::forward<F>(local));
  }

  // A call on the four keys of (account, model).
  template <class T, class Read, class Local>
  result<T> decide(const limiter_key& k, time_point now, std::span<const std::string_view> args, Read&& read,
                   Local&& local) {
    const std::vector<std::string> keys = key_names(k);
    return run<T>(k, keys, now, args, idle_ms_, std::forward<Read>(read), std::forward<Local>(local));
  }
  template <class T, class Read, class Local>
  result<T> decide(const limiter_key& k, time_point now, std::initializer_list<std::string_view> args,
                   Read&& read, Local&& local) {
    return decide<T>(k, now, std::span<const std::string_view>(args.begin(), args.size()), std::forward<Read>(read),
                     std::forward<Local>(local));
  }
  template <class T, class Read, class Local>
  result<T> run(const limiter_key& k, std::span<const std::string> keys, time_point now,
                std::initializer_list<std::string_view> args,
                const std::string& expiry, Read&& read, Local&& local) {
    return run<T>(k, keys, now, std::span<const std::string_view>(args.begin(), args.size()), expiry,
                  std::forward<Read>(read), std::forward<Local>(local));
  }

  // EVALSHA sha nkeys keys... op now lease_us expiry args[1..]; the failure
  // mode when Redis cannot decide.
  template <class T, class Read, class Local>
  result<T> run(const limiter_key& k, std::span<const std::string> keys, time_point now,
                std::span<const std::string_view> args,
                const std::string& expiry, Read&& read, Local&& local) {
    const std::string nkeys = std::to_string(keys.size());
    const std::string now_text = now_arg(now);
    std::vector<std::string_view> argv{"EVALSHA", "", nkeys};  // the SHA once a connection has it
    argv.insert(argv.end(), keys.begin(), keys.end());
    argv.push_back(args[0]);
    argv.push_back(now_text);
    argv.push_back(lease_us_);
    argv.push_back(expiry);
    argv.insert(argv.end(), args.begin() + 1, args.end());
    tollgate::error failure;
    if (!skipping()) {
      auto r = call(argv);
      if (r) {
        if (down_.exchange(false)) tell(limiter_event_kind::recovered, k, {}, {});
        return read(r->get());
      }
      failure = r.error();
      mark_down();
      tell(limiter_event_kind::unreachable, k, {}, failure.message());
    } else {
      failure = tollgate::error(errc::unavailable, "redis " + pool_.address().where() +
                                                       ": skipped for the retry interval after a failure");
    }
    if (options_.on_failure == failure_mode::refuse) return failure;
    used_fallback_.store(true, std::memory_order_relaxed);
    tell(limiter_event_kind::fallback, k, {}, failure.message());
    return local();
  }

  // One EVALSHA with the reply checked: loads the script again on NOSCRIPT;
  // retries once on a fresh connection when the connection failed.
  result<reply> call(std::vector<std::string_view>& argv) {
    result<reply> r = errc::unavailable;
    for (int attempt = 0; attempt < 2; ++attempt) {
      auto h = pool_.take();
      if (!h) return h.error();
      argv[1] = sha_;
      r = (**h).command(argv);
      if (r && (*r)->type == REDIS_REPLY_ERROR && std::string_view((*r)->str, (*r)->len).starts_with("NOSCRIPT")) {
        if (auto l = load_script(**h); !l) return l.error();
        r = (**h).command(argv);
      }
      if (!r) continue;  // the handle drops the broken connection
      if ((*r)->type == REDIS_REPLY_ERROR)
        return {errc::unavailable, "redis " + (**h).where() + ": " + std::string((*r)->str, (*r)->len)};
      if ((*r)->type != REDIS_REPLY_ARRAY)
        return {errc::unavailable, "redis " + (**h).where() + ": unexpected reply type " + std::to_string((*r)->type)};
      return r;
    }
    return r;
  }

  // True when the task was admitted by the local fallback (while Redis was
  // down): it is finished, revoked and renewed there.
  [[nodiscard]] bool held_locally(const limiter_key& k, std::string_view task, time_point) {
    if (!used_fallback_.load(std::memory_order_relaxed)) return false;
    return fallback_.place_of(k, task) != task_place::absent;
  }

  [[nodiscard]] bool skipping() const {
    if (!down_.load(std::memory_order_relaxed)) return false;
    return steady_ns() < retry_at_.load(std::memory_order_relaxed);
  }
  void mark_down() {
    retry_at_.store(steady_ns() + std::chrono::nanoseconds(options_.retry_interval).count(), std::memory_order_relaxed);
    down_.store(true);
  }
  [[nodiscard]] static std::int64_t steady_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  void tell(limiter_event_kind kind, const limiter_key& k, std::string_view task, std::string_view detail) const {
    if (options_.observer) options_.observer(limiter_event{kind, k.account, k.model, task, detail});
  }

  backend_options options_;
  connection_pool pool_;
  basic_local_backend<C> fallback_;
  C clock_;
  std::string lease_us_;
  std::string idle_ms_;
  std::string bucket_margin_ms_ = "60000";  // a bucket's key outlives the instant it is full by this
  std::once_flag sha_once_;
  std::string sha_;
  std::atomic<bool> down_{false};
  std::atomic<std::int64_t> retry_at_{0};
  std::atomic<bool> used_fallback_{false};
};

/// The Redis backend for production: system_clock time points, Redis's time.
using backend = basic_backend<>;

static_assert(LimiterBackend<backend>);

}  // namespace tollgate::redis
