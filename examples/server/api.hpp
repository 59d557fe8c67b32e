// The provider's HTTP API, as its official client (@runwayml/sdk 4.20.1)
// speaks it, plus the administration API: routing, authentication, the
// X-Runway-Version check, request validation and pricing, and the JSON of
// every answer. What admits and bills a task is the task_backend; this layer
// never changes state itself. docs/server.md lists every endpoint, status
// code and refusal code.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <tollgate/json/strict.hpp>
#include <tollgate/ledger/detail/codec.hpp>
#include <tollgate/pricing/catalog.hpp>

#include "clock.hpp"
#include "config.hpp"
#include "http.hpp"
#include "requests.hpp"
#include "task_backend.hpp"

namespace tollgate_server {

namespace api_detail {

/// Credits as a JSON number: an integer when whole, else a decimal.
[[nodiscard]] inline ojson credits_json(const tollgate::credits& c) {
  const std::string s = c.to_string();
  if (s.find('.') == std::string::npos && s.size() < 19) return ojson(std::stoll(s));
  return ojson(std::stod(s));
}

/// The largest integer a JavaScript number holds exactly (Number.MAX_SAFE_INTEGER).
inline constexpr std::int64_t max_safe_integer = (std::int64_t{1} << 53) - 1;

/**
 * tier.maxMonthlyCreditSpend: the client's type says it is always a number
 * (unlike the model limits, whose null means "no limit"). A cap an override
 * lifted (unlimited), or one too large for a JavaScript number to hold
 * exactly, is Number.MAX_SAFE_INTEGER: larger than any balance, and exact.
 */
[[nodiscard]] inline ojson monthly_spend_json(const std::optional<tollgate::credits>& cap) {
  if (!cap || *cap >= tollgate::credits(max_safe_integer)) return ojson(max_safe_integer);
  return credits_json(*cap);
}

/// Appends "2026-01-05T00:00:00.000Z" (no allocation of its own).
inline void append_iso_time(std::string& out, wall_time t) {
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(t);
  const auto day = floor<days>(ms);
  const year_month_day ymd{day};
  const hh_mm_ss<milliseconds> time{ms - day};
  fmt::format_to(std::back_inserter(out), "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", static_cast<int>(ymd.year()),
                 static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), time.hours().count(),
                 time.minutes().count(), time.seconds().count(), time.subseconds().count());
}

/// "2026-01-05T00:00:00.000Z".
[[nodiscard]] inline std::string iso_time(wall_time t) {
  std::string out;
  append_iso_time(out, t);
  return out;
}

/**
 * Appends `s` as a JSON string. Printable ASCII without '"' and '\\' (ids,
 * statuses, most URLs) is copied as it is; anything else is escaped by
 * nlohmann's serializer, as every other answer is (invalid UTF-8 replaced).
 */
inline void append_json_string(std::string& out, std::string_view s) {
  const bool plain = std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7F && c != '"' && c != '\\'; });
  if (!plain) {
    out += ojson(std::string(s)).dump(-1, ' ', false, ojson::error_handler_t::replace);
    return;
  }
  out += '"';
  out += s;
  out += '"';
}

/// Appends credits as credits_json() writes them, without its strings when whole.
inline void append_credits(std::string& out, const tollgate::credits& c) {
  using rep = std::decay_t<decltype(c.raw())>;
  const rep& unit = tollgate::credits::unit();
  // credits_json's integers: fewer than 19 characters, the sign included.
  constexpr std::int64_t most = 999'999'999'999'999'999, least = -99'999'999'999'999'999;
  if (c.raw() % unit == 0 && c.raw() / unit <= rep(most) && c.raw() / unit >= rep(least)) {
    fmt::format_to(std::back_inserter(out), "{}", static_cast<std::int64_t>(c.raw() / unit));
    return;
  }
  out += credits_json(c).dump();
}

/// Compares a presented secret with a configured one in time that does not
/// depend on where they differ (it depends on the presented length only).
[[nodiscard]] inline bool same_secret(std::string_view presented, std::string_view configured) noexcept {
  unsigned char diff = presented.size() == configured.size() ? 0 : 1;
  for (std::size_t i = 0; i < presented.size(); ++i) {
    const unsigned char c = i < configured.size() ? static_cast<unsigned char>(configured[i]) : 0;
    diff |= static_cast<unsigned char>(static_cast<unsigned char>(presented[i]) ^ c);
  }
  return diff == 0;
}

/// The token of "Authorization: Bearer TOKEN", or empty.
[[nodiscard]] inline std::string_view bearer(const request& req) {
  const auto it = req.find(http::field::authorization);
  if (it == req.end()) return {};
  std::string_view v(it->value().data(), it->value().size());
  if (v.size() < 7) return {};
  std::string scheme(v.substr(0, 7));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
  if (scheme != "bearer ") return {};
  v.remove_prefix(7);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  return v;
}

/// The path split at '/', percent-decoded; nullopt when an escape is bad.
[[nodiscard]] inline std::optional<std::vector<std::string>> segments(std::string_view target) {
  if (const auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  if (target.empty() || target.front() != '/') return std::nullopt;
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<std::string> out;
  out.reserve(static_cast<std::size_t>(std::count(target.begin(), target.end(), '/')));
  std::size_t from = 1;
  for (;;) {
    const std::size_t to = std::min(target.find('/', from), target.size());
    const std::string_view raw = target.substr(from, to - from);
    std::string& seg = out.emplace_back();
    seg.reserve(raw.size());
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '%') {
        seg += raw[i];
        continue;
      }
      if (i + 2 >= raw.size() || hex(raw[i + 1]) < 0 || hex(raw[i + 2]) < 0) return std::nullopt;
      const char c = static_cast<char>(hex(raw[i + 1]) * 16 + hex(raw[i + 2]));
      if (c == '/' || c == '\0') return std::nullopt;
      seg += c;
      i += 2;
    }
    if (to == target.size()) break;
    from = to + 1;
  }
  if (out.size() > 1 && out.back().empty()) out.pop_back();  // a trailing slash
  return out;
}

/// A JSON answer whose text is written already.
[[nodiscard]] inline response json_text_response(http::status status, std::string body, unsigned version) {
  response res{status, version};
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

/// A JSON answer.
[[nodiscard]] inline response json_response(http::status status, const ojson& body, unsigned version) {
  return json_text_response(status, body.dump(-1, ' ', false, ojson::error_handler_t::replace), version);
}

/// An error answer: {"error": message, "code": code}; hard refusals carry
/// x-should-retry: false (the client would retry a 429 or a 5xx otherwise).
[[nodiscard]] inline response error_response(const refusal& r, unsigned version, ojson extra = ojson::object()) {
  ojson body = ojson::object();
  body["error"] = r.message;
  body["code"] = r.code;
  for (auto& [k, v] : extra.items()) body[k] = v;
  response res = json_response(static_cast<http::status>(r.status), body, version);
  const bool may_retry = r.status == 503 && r.code == "unavailable";
  res.set("x-should-retry", may_retry ? "true" : "false");
  if (r.retry_after) res.set(http::field::retry_after, std::to_string(std::max<std::int64_t>(1, r.retry_after->count())));
  return res;
}

[[nodiscard]] inline refusal bad_request(std::string code, std::string message) {
  return refusal{400, std::move(code), std::move(message), std::nullopt};
}

/// An idempotency or purchase key: 1 to 48 printable ASCII characters.
[[nodiscard]] inline bool valid_key(std::string_view k) {
  if (k.empty() || k.size() > 48) return false;
  return std::all_of(k.begin(), k.end(), [](char c) { return c > 0x20 && c < 0x7F; });
}

/// "YYYY-MM-DD" as a UTC day.
[[nodiscard]] inline std::optional<utc_day> parse_day(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  for (std::size_t i : {0u, 1u, 2u, 3u, 5u, 6u, 8u, 9u})
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
  const int y = std::stoi(std::string(s.substr(0, 4)));
  const unsigned m = static_cast<unsigned>(std::stoi(std::string(s.substr(5, 2))));
  const unsigned d = static_cast<unsigned>(std::stoi(std::string(s.substr(8, 2))));
  const std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(m), std::chrono::day(d)};
  if (!ymd.ok()) return std::nullopt;
  return std::chrono::sys_days(ymd);
}

}  // namespace api_detail

/**
 * The request handler of tollgate-server: give it to http_server. Calls that
 * may block (a journal write) run on `workers`; reads run on the network
 * thread. Thread-safe.
 */
template <class Catalog>
class api {
 public:
  api(const server_config& config, const Catalog& catalog, task_backend& backend, media_probe probe,
      boost::asio::thread_pool& workers, server_clock clock, const http_counters* counters)
      : config_(config),
        catalog_(catalog),
        backend_(backend),
        probe_(std::move(probe)),
        workers_(workers),
        clock_(std::move(clock)),
        counters_(counters) {}

  void operator()(request&& req, responder respond) {
    const auto parts = api_detail::segments(detail::sv(req.target()));
    const unsigned version = req.version();
    auto answer = [&](response&& res, std::string account = {}) { respond(std::move(res), request_note{std::move(account)}); };
    if (!parts) return answer(api_detail::error_response(api_detail::bad_request("invalid_path", "the path has a bad %-escape"), version));
    const auto& p = *parts;
    if (p.size() == 1 && p[0] == "health") return only(req, http::verb::get, answer, [&] { health(req, answer); });
    if (p.size() == 1 && p[0] == "metrics") return only(req, http::verb::get, answer, [&] { admin(req, answer, [&] { metrics(req, answer); }); });
    if (!p.empty() && p[0] == "admin") return admin_route(req, p, respond);
    if (!p.empty() && p[0] == "v1") return v1_route(std::move(req), p, respond);
    not_found(req, answer);
  }

 private:
  template <class Answer>
  void not_found(const request& req, Answer& answer) {
    answer(api_detail::error_response(refusal{404, "not_found", fmt::format("no such endpoint: {} {}", std::string(req.method_string()),
                                                                         detail::printable_path(detail::sv(req.target())))},
                                      req.version()));
  }

  // Runs `f` when the method is `m`; 405 with Allow otherwise.
  template <class Answer, class F>
  void only(const request& req, http::verb m, Answer& answer, F&& f) {
    if (req.method() == m) return f();
    response res = api_detail::error_response(
        refusal{405, "method_not_allowed", fmt::format("{} does not take {}; use {}", detail::printable_path(detail::sv(req.target())),
                                                       std::string(req.method_string()).substr(0, 16), detail::sv(http::to_string(m)))},
        req.version());
    res.set(http::field::allow, http::to_string(m));
    answer(std::move(res));
  }

  template <class Answer>
  void health(const request& req, Answer& answer) {
    ojson body = {{"status", "ok"}, {"time", api_detail::iso_time(clock_.now())}};
    answer(api_detail::json_response(http::status::ok, body, req.version()));
  }

  // Runs `f` when the request carries the admin key; 401 otherwise.
  template <class Answer, class F>
  void admin(const request& req, Answer& answer, F&& f) {
    if (!api_detail::same_secret(api_detail::bearer(req), config_.admin_key))
      return answer(api_detail::error_response(
          refusal{401, "unauthorized", "the administration API needs 'Authorization: Bearer ADMIN_KEY' (the configuration's admin_key)"},
          req.version()), "admin");
    f();
  }

  template <class Answer>
  void metrics(const request& req, Answer& answer) {
    std::string text = backend_.metrics_text();
    if (counters_ != nullptr) {
      const auto& c = *counters_;
      text += fmt::format(
          "# HELP tollgate_http_connections_open Open connections.\n# TYPE tollgate_http_connections_open gauge\n"
          "tollgate_http_connections_open {}\n"
          "# HELP tollgate_http_connections_total Connections accepted.\n# TYPE tollgate_http_connections_total counter\n"
          "tollgate_http_connections_total {}\n"
          "# HELP tollgate_http_connections_refused_total Connections refused over max_connections.\n"
          "# TYPE tollgate_http_connections_refused_total counter\ntollgate_http_connections_refused_total {}\n"
          "# HELP tollgate_http_connections_timed_out_total Connections closed by a deadline.\n"
          "# TYPE tollgate_http_connections_timed_out_total counter\ntollgate_http_connections_timed_out_total {}\n"
          "# HELP tollgate_http_bodies_refused_total Bodies refused over max_buffered_bytes.\n"
          "# TYPE tollgate_http_bodies_refused_total counter\ntollgate_http_bodies_refused_total {}\n"
          "# HELP tollgate_http_buffered_bytes Bytes reserved for request bodies.\n# TYPE tollgate_http_buffered_bytes gauge\n"
          "tollgate_http_buffered_bytes {}\n"
          "# HELP tollgate_http_responses_total Responses by status class.\n# TYPE tollgate_http_responses_total counter\n",
          c.connections_open.load(), c.connections_accepted.load(), c.connections_refused.load(),
          c.connections_timed_out.load(), c.bodies_refused.load(), c.buffered_bytes.load());
      for (int k = 1; k < 6; ++k)
        text += fmt::format("tollgate_http_responses_total{{class=\"{}xx\"}} {}\n", k, c.responses_by_class[k].load());
    }
    response res{http::status::ok, req.version()};
    res.set(http::field::content_type, "text/plain; version=0.0.4");
    res.body() = std::move(text);
    res.prepare_payload();
    answer(std::move(res), "admin");
  }

  // Parses a JSON body; answers 400 or 415 and returns nullopt when it cannot.
  template <class Answer>
  std::optional<ojson> json_body(const request& req, Answer& answer, bool empty_is_object) {
    if (req.body().empty() && empty_is_object) return ojson::object();
    const auto ct = req.find(http::field::content_type);
    if (ct == req.end() || ct->value().find("json") == boost::beast::string_view::npos) {
      answer(api_detail::error_response(refusal{415, "unsupported_media_type", "send the body as JSON with 'Content-Type: application/json'"},
                                        req.version()));
      return std::nullopt;
    }
    try {
      return tollgate::json::parse_strict(req.body(), [](const std::string& path) {
        throw tollgate::json::bad_json(path, "repeated key", false);
      });
    } catch (const tollgate::json::bad_json& e) {
      answer(api_detail::error_response(api_detail::bad_request("invalid_json", fmt::format("the body is not valid JSON: {}", e.what())),
                                        req.version()));
      return std::nullopt;
    }
  }

  // Runs `work` on the worker pool and answers with what it returns; on the
  // network thread when nothing can block (durability none: no fdatasync to
  // wait for, and no lock is held across one): two thread hops less.
  template <class Work>
  void blocking(const request& req, responder respond, std::string account, Work work) {
    if (!may_block_) {
      response res;
      try {
        res = work(req.version());
      } catch (const std::exception&) {
        res = api_detail::error_response(refusal{500, "internal", "internal error"}, req.version());
      }
      return respond(std::move(res), request_note{std::move(account)});
    }
    boost::asio::post(workers_, [respond = std::move(respond), account = std::move(account), work = std::move(work),
                                 version = req.version()]() mutable {
      response res;
      try {
        res = work(version);
      } catch (const std::exception& e) {
        res = api_detail::error_response(refusal{500, "internal", "internal error"}, version);
      }
      respond(std::move(res), request_note{std::move(account)});
    });
  }

  // Runs a read on the worker pool, like a write (blocking()): the gate holds
  // an account's lock while that account's journal write syncs, and a network
  // thread waiting for it would stall every connection it serves.
  template <class Work>
  void reading(const request& req, const responder& respond, std::string note, Work work) {
    if (!may_block_) return respond(work(req.version()), request_note{std::move(note)});
    blocking(req, respond, std::move(note), std::move(work));
  }

  // ------------------------------------------------------------ /admin

  void admin_route(const request& req, const std::vector<std::string>& p, responder respond) {
    auto answer = [&](response&& res, std::string account = "admin") { respond(std::move(res), request_note{std::move(account)}); };
    const bool accounts = p.size() >= 3 && p[1] == "accounts";
    if (p.size() == 2 && p[1] == "clock") {
      if (req.method() == http::verb::get) return admin(req, answer, [&] { clock_now(req, answer); });
      return only(req, http::verb::post, answer, [&] { admin(req, answer, [&] { move_clock(req, respond); }); });
    }
    if (accounts && p.size() == 3) return only(req, http::verb::get, answer, [&] { admin(req, answer, [&] { show_account(req, p[2], respond); }); });
    if (accounts && p.size() == 4 && p[3] == "purchase")
      return only(req, http::verb::post, answer, [&] { admin(req, answer, [&] { purchase(req, p[2], respond); }); });
    if (accounts && p.size() == 4 && p[3] == "override") {
      if (req.method() == http::verb::delete_)
        return admin(req, answer, [&] { set_override(req, p[2], respond, /*clear=*/true); });
      return only(req, http::verb::put, answer, [&] { admin(req, answer, [&] { set_override(req, p[2], respond, false); }); });
    }
    if (accounts && p.size() == 5 && p[3] == "tasks" && !p[4].empty())
      return only(req, http::verb::get, answer, [&] { admin(req, answer, [&] { show_task_credits(req, p[2], p[4], respond); }); });
    if (accounts && p.size() == 4 && p[3] == "autobilling")
      return only(req, http::verb::put, answer, [&] { admin(req, answer, [&] { set_autobilling(req, p[2], respond); }); });
    not_found(req, answer);
  }

  template <class Answer>
  bool check_account(const request& req, const std::string& account, Answer& answer) {
    if (config_detail::valid_account(account)) return true;
    answer(api_detail::error_response(api_detail::bad_request("invalid_account", "an account id has 1 to 64 of A-Z a-z 0-9 _ . -"),
                                      req.version()));
    return false;
  }

  template <class Answer>
  void clock_now(const request& req, Answer& answer) {
    ojson body = {{"now", api_detail::iso_time(clock_.now())}, {"mode", clock_.manual() ? "manual" : "system"}};
    answer(api_detail::json_response(http::status::ok, body, req.version()));
  }

  void move_clock(const request& req, responder respond) {
    auto answer = [&](response&& res) { respond(std::move(res), request_note{"admin"}); };
    if (!clock_.manual())
      return answer(api_detail::error_response(
          refusal{409, "system_clock", "the clock is the system clock; set simulation.clock to \"manual\" to move it"}, req.version()));
    auto body = json_body(req, answer, false);
    if (!body) return;
    const ojson* f = body->is_object() ? &(*body) : nullptr;
    if (f == nullptr || f->size() != 1 || !f->contains("advanceMs"))
      return answer(api_detail::error_response(api_detail::bad_request("invalid_input", "expected {\"advanceMs\": MILLISECONDS}"), req.version()));
    const ojson& v = (*f)["advanceMs"];
    if (!v.is_number_unsigned() || v.get<std::uint64_t>() > 400ull * 86'400'000ull)
      return answer(api_detail::error_response(
          api_detail::bad_request("invalid_input", "advanceMs: expected an integer from 0 to 34560000000 (400 days)"), req.version()));
    clock_.advance(std::chrono::milliseconds(v.get<std::uint64_t>()));
    // What became due finishes before the answer (journal writes: on a worker).
    blocking(req, std::move(respond), "admin", [this](unsigned version) {
      backend_.tick();
      ojson out = {{"now", api_detail::iso_time(clock_.now())}, {"mode", "manual"}};
      return api_detail::json_response(http::status::ok, out, version);
    });
  }

  void show_account(const request& req, const std::string& account, responder respond) {
    auto answer = [&](response&& res) { respond(std::move(res), request_note{"admin"}); };
    if (!check_account(req, account, answer)) return;
    reading(req, respond, "admin", [this, account](unsigned version) {
      auto r = backend_.account(account);
      if (auto* e = std::get_if<refusal>(&r)) return api_detail::error_response(*e, version);
      const auto& a = std::get<account_view>(r);
      ojson body = {{"account", account},
                    {"creditBalance", api_detail::credits_json(a.available)},
                    {"heldCredits", api_detail::credits_json(a.held)},
                    {"purchasedCredits", api_detail::credits_json(a.purchased)},
                    {"purchasedUsd", a.purchased_usd.to_string()}};
      return api_detail::json_response(http::status::ok, body, version);
    });
  }

  void show_task_credits(const request& req, const std::string& account, const std::string& id, responder respond) {
    auto answer = [&](response&& res) { respond(std::move(res), request_note{"admin"}); };
    if (!check_account(req, account, answer)) return;
    reading(req, respond, "admin", [this, account, id](unsigned version) {
      auto r = backend_.task_credits(account, id);
      if (auto* e = std::get_if<refusal>(&r)) return api_detail::error_response(*e, version);
      const auto& t = std::get<task_record>(r);
      ojson body = {{"account", account},
                    {"id", id},
                    {"task", t.task ? task_json(*t.task) : ojson(nullptr)},
                    {"hold", t.hold},
                    {"heldCredits", api_detail::credits_json(t.held)},
                    {"capturedCredits", api_detail::credits_json(t.captured)}};
      return api_detail::json_response(http::status::ok, body, version);
    });
  }

  void purchase(const request& req, const std::string& account, responder respond) {
    auto answer = [&](response&& res) { respond(std::move(res), request_note{"admin"}); };
    if (!check_account(req, account, answer)) return;
    auto body = json_body(req, answer, false);
    if (!body) return;
    std::optional<tollgate::usd> dollars;
    std::string key;
    try {
      requests_detail::object_reader r(*body, "");
      const ojson& usd = r.required("usd");
      if (!usd.is_string()) requests_detail::fail("usd", "expected a decimal string such as \"100.00\" (a JSON number is not exact)");
      auto parsed = tollgate::usd::parse(usd.get<std::string>());
      if (!parsed) requests_detail::fail("usd", parsed.error().message());
      if (parsed->is_negative() || parsed->is_zero()) requests_detail::fail("usd", "must be more than 0");
      dollars = *parsed;
      const ojson& k = r.required("key");
      if (!k.is_string() || !api_detail::valid_key(k.get<std::string>()))
        requests_detail::fail("key", "expected 1 to 48 printable ASCII characters without spaces (the purchase's idempotency key)");
      key = k.get<std::string>();
      r.finish("a purchase");
    } catch (const invalid_input& e) {
      return answer(api_detail::error_response(api_detail::bad_request("invalid_input", e.text()), req.version()));
    }
    blocking(req, std::move(respond), "admin", [this, account, dollars = *dollars, key](unsigned version) {
      auto r = backend_.purchase(account, dollars, key);
      if (auto* e = std::get_if<refusal>(&r)) return api_detail::error_response(*e, version);
      const auto& p = std::get<purchase_view>(r);
      ojson out = {{"account", account},
                   {"usd", p.paid.to_string()},
                   {"credits", api_detail::credits_json(p.credits)},
                   {"creditBalance", api_detail::credits_json(p.balance)},
                   {"replayed", p.replayed}};
      return api_detail::json_response(http::status::ok, out, version);
    });
  }

  void set_override(const request& req, const std::string& account, responder respond, bool clear) {
    auto answer = [&](response&& res) { respond(std::move(res), request_note{"admin"}); };
    if (!check_account(req, account, answer)) return;
    override_spec spec;
    spec.clear = clear;
    if (!clear) {
      auto body = json_body(req, answer, false);
      if (!body) return;
      try {
        requests_detail::object_reader r(*body, "");
        requests_detail::object_reader models(r.required("models"), "models");
        for (const auto& [model, limits] : r.required("models").items()) {
          (void)models.optional(model);
          if (!catalog_.contains(model)) requests_detail::fail(models.path(model), "not a model of the catalog");
          requests_detail::object_reader l(limits, models.path(model));
          model_view v;
          const auto read_limit = [&](std::string_view key) -> std::optional<std::uint64_t> {
            const ojson& f = l.required(key);
            if (f.is_null()) return std::nullopt;
            return static_cast<std::uint64_t>(requests_detail::integer(f, l.path(key), 0, std::int64_t{1} << 40));
          };
          v.max_concurrent = read_limit("maxConcurrentGenerations");
          v.max_daily = read_limit("maxDailyGenerations");
          l.finish("a model's override");
          spec.models.emplace(model, v);
        }
        if (const ojson* m = r.optional("maxMonthlySpendUsd")) {
          if (m->is_null()) {
            spec.monthly_spend = tollgate::spend_cap::unlimited();  // the override lifts the cap
          } else {
            if (!m->is_string())
              requests_detail::fail("maxMonthlySpendUsd", "expected a decimal string such as \"5000.00\", or null (no cap)");
            auto parsed = tollgate::usd::parse(m->get<std::string>());
            if (!parsed || parsed->is_negative()) requests_detail::fail("maxMonthlySpendUsd", parsed ? "must not be negative" : parsed.error().message());
            spec.monthly_spend = tollgate::spend_cap(*parsed);
          }
        }
        r.finish("an override");
      } catch (const invalid_input& e) {
        return answer(api_detail::error_response(api_detail::bad_request("invalid_input", e.text()), req.version()));
      }
    }
    blocking(req, std::move(respond), "admin", [this, account, spec = std::move(spec)](unsigned version) {
      auto r = backend_.set_override(account, spec);
      if (auto* e = std::get_if<refusal>(&r)) return api_detail::error_response(*e, version);
      return api_detail::json_response(http::status::ok, ojson{{"account", account}}, version);
    });
  }

  void set_autobilling(const request& req, const std::string& account, responder respond) {
    auto answer = [&](response&& res) { respond(std::move(res), request_note{"admin"}); };
    if (!check_account(req, account, answer)) return;
    auto body = json_body(req, answer, false);
    if (!body) return;
    autobilling_spec spec;
    try {
      requests_detail::object_reader r(*body, "");
      spec.enabled = requests_detail::boolean(r.required("enabled"), "enabled");
      if (spec.enabled) {
        const ojson& t = r.required("thresholdCredits");
        auto th = t.is_string() ? tollgate::credits::parse(t.get<std::string>()) : tollgate::result<tollgate::credits>(tollgate::errc::invalid_amount);
        if (!th || th->is_negative()) requests_detail::fail("thresholdCredits", "expected a decimal string of credits such as \"1000\"");
        spec.threshold = *th;
        const ojson& a = r.required("amountUsd");
        auto am = a.is_string() ? tollgate::usd::parse(a.get<std::string>()) : tollgate::result<tollgate::usd>(tollgate::errc::invalid_amount);
        if (!am || am->is_negative() || am->is_zero()) requests_detail::fail("amountUsd", "expected a positive decimal string such as \"50.00\"");
        spec.amount = *am;
      }
      r.finish("autobilling");
    } catch (const invalid_input& e) {
      return answer(api_detail::error_response(api_detail::bad_request("invalid_input", e.text()), req.version()));
    }
    blocking(req, std::move(respond), "admin", [this, account, spec](unsigned version) {
      auto r = backend_.set_autobilling(account, spec);
      if (auto* e = std::get_if<refusal>(&r)) return api_detail::error_response(*e, version);
      return api_detail::json_response(http::status::ok, ojson{{"account", account}}, version);
    });
  }

  // ------------------------------------------------------------ /v1

  // The account of the API key, or nullopt after answering 401.
  std::optional<std::string> authenticate(const request& req, const responder& respond) {
    const std::string_view token = api_detail::bearer(req);
    const std::string* found = nullptr;
    if (!token.empty() && token.size() <= 256)
      for (const auto& k : config_.api_keys)  // no early exit: the time does not say which key matched
        if (api_detail::same_secret(token, k.key)) found = &k.account;
    if (found == nullptr) {
      respond(api_detail::error_response(refusal{401, "unauthorized", token.empty()
                                                                          ? "missing API key: send 'Authorization: Bearer YOUR_KEY'"
                                                                          : "the API key is not valid"},
                                         req.version()),
              request_note{});
      return std::nullopt;
    }
    const auto v = req.find("X-Runway-Version");
    if (v == req.end()) {
      respond(api_detail::error_response(api_detail::bad_request("missing_version", fmt::format(
                  "the X-Runway-Version header is required (this server speaks {})", config_.runway_versions.front())),
                                         req.version()),
              request_note{*found});
      return std::nullopt;
    }
    const std::string_view given(v->value().data(), v->value().size());
    if (std::find(config_.runway_versions.begin(), config_.runway_versions.end(), given) == config_.runway_versions.end()) {
      respond(api_detail::error_response(api_detail::bad_request("unsupported_version", fmt::format(
                  "X-Runway-Version '{}' is not supported; this server speaks {}", requests_detail::shown(given),
                  config_.runway_versions.front())),
                                         req.version()),
              request_note{*found});
      return std::nullopt;
    }
    return *found;
  }

  void v1_route(request&& req, const std::vector<std::string>& p, responder respond) {
    auto answer = [&](response&& res, std::string account = {}) { respond(std::move(res), request_note{std::move(account)}); };
    const auto* endpoint = p.size() == 2 ? find_endpoint(p[1]) : nullptr;
    const bool task = p.size() == 3 && p[1] == "tasks" && !p[2].empty();
    const bool organization = p.size() == 2 && p[1] == "organization";
    const bool usage = p.size() == 3 && p[1] == "organization" && p[2] == "usage";
    if (!endpoint && !task && !organization && !usage) return not_found(req, answer);
    // The method before the key: a wrong method is wrong for every caller.
    const http::verb wanted = task ? (req.method() == http::verb::delete_ ? http::verb::delete_ : http::verb::get)
                                   : organization ? http::verb::get : http::verb::post;
    if (req.method() != wanted) {
      response res = api_detail::error_response(
          refusal{405, "method_not_allowed", fmt::format("{} does not take {}", detail::printable_path(detail::sv(req.target())),
                                                         std::string(req.method_string()).substr(0, 16))},
          req.version());
      res.set(http::field::allow, task ? boost::beast::string_view("GET, DELETE") : http::to_string(wanted));
      return answer(std::move(res));
    }
    const auto account = authenticate(req, respond);
    if (!account) return;
    if (endpoint) return create(req, *endpoint, *account, std::move(respond));
    if (task && req.method() == http::verb::get) return get_task(req, p[2], *account, respond);
    if (task) return cancel_task(req, p[2], *account, std::move(respond));
    if (organization) return show_organization(req, *account, respond);
    show_usage(req, *account, respond);
  }

  void create(const request& req, const requests_detail::endpoint_entry& endpoint, const std::string& account,
              responder respond) {
    auto answer = [&](response&& res) { respond(std::move(res), request_note{account}); };
    auto body = json_body(req, answer, false);
    if (!body) return;
    std::string key;
    if (const auto k = req.find("Idempotency-Key"); k != req.end()) {
      key = std::string(k->value());
      if (!api_detail::valid_key(key))
        return answer(api_detail::error_response(
            api_detail::bad_request("invalid_idempotency_key", "Idempotency-Key: expected 1 to 48 printable ASCII characters without spaces"),
            req.version()));
    }
    submission s;
    try {
      s.job = read_generation(endpoint, *body, catalog_, probe_);
    } catch (const invalid_input& e) {
      ojson issue = {{"path", ojson::array()}, {"message", e.message}};
      if (!e.field.empty()) issue["path"].push_back(e.field);
      return answer(api_detail::error_response(api_detail::bad_request("invalid_input", e.text()), req.version(),
                                               ojson{{"issues", ojson::array({issue})}}));
    }
    auto quote = catalog_.quote(s.job);
    if (!quote) return answer(api_detail::error_response(refusal_of(quote.error()), req.version()));
    s.account = account;
    s.endpoint = std::string(endpoint.name);
    s.estimate = quote->charged;
    s.idempotency_key = std::move(key);
    s.body_digest = tollgate::ledger_detail::xxh64(req.body().data(), req.body().size(), 0);
    blocking(req, std::move(respond), account, [this, s = std::move(s)](unsigned version) {
      auto r = backend_.submit(s);
      if (auto* e = std::get_if<refusal>(&r))
        return api_detail::error_response(*e, version, ojson{{"estimatedCost", {{"credits", api_detail::credits_json(s.estimate)}}}});
      const auto& t = std::get<created_task>(r);
      std::string out;
      out.reserve(96);
      out += "{\"id\":";
      api_detail::append_json_string(out, t.id);
      out += ",\"estimatedCost\":{\"credits\":";
      api_detail::append_credits(out, t.estimate);
      out += "}}";
      return api_detail::json_text_response(http::status::ok, std::move(out), version);
    });
  }

  void get_task(const request& req, const std::string& id, const std::string& account, const responder& respond) {
    if (!may_block_) return respond(task_answer(account, id, req.version()), request_note{account});  // no copies to own
    reading(req, respond, account, [this, id, account](unsigned version) { return task_answer(account, id, version); });
  }

  response task_answer(const std::string& account, const std::string& id, unsigned version) {
    auto r = backend_.get(account, id);
    if (auto* e = std::get_if<refusal>(&r)) return api_detail::error_response(*e, version);
    return api_detail::json_text_response(http::status::ok, task_text(std::get<task_view>(r)), version);
  }

  // The task's JSON, written directly (the hottest answer: no JSON values
  // built and dumped). Keys in the order the client's docs list them.
  [[nodiscard]] static std::string task_text(const task_view& t) {
    std::string out;
    out.reserve(192);
    out += "{\"id\":";
    api_detail::append_json_string(out, t.id);
    out += ",\"status\":\"";
    out += to_string(t.status);
    out += "\",\"createdAt\":\"";
    api_detail::append_iso_time(out, t.created_at);
    out += '"';
    const auto amount = [&out](const char* key, const tollgate::credits& c) {
      out += key;
      api_detail::append_credits(out, c);
      out += '}';
    };
    switch (t.status) {
      case task_status::pending:
      case task_status::throttled: amount(",\"estimatedCost\":{\"credits\":", t.estimate); break;
      case task_status::running:
        amount(",\"estimatedCost\":{\"credits\":", t.estimate);
        fmt::format_to(std::back_inserter(out), ",\"progress\":{}", t.progress);
        break;
      case task_status::succeeded:
        amount(",\"cost\":{\"credits\":", t.cost);
        out += ",\"output\":[";
        for (std::size_t i = 0; i < t.output.size(); ++i) {
          if (i > 0) out += ',';
          api_detail::append_json_string(out, t.output[i]);
        }
        out += ']';
        break;
      case task_status::failed:
        amount(",\"cost\":{\"credits\":", t.cost);
        out += ",\"failure\":";
        api_detail::append_json_string(out, t.failure);
        if (!t.failure_code.empty()) {
          out += ",\"failureCode\":";
          api_detail::append_json_string(out, t.failure_code);
        }
        break;
      case task_status::cancelled: amount(",\"cost\":{\"credits\":", t.cost); break;
    }
    out += '}';
    return out;
  }

  [[nodiscard]] static ojson task_json(const task_view& t) { return ojson::parse(task_text(t)); }

  void cancel_task(const request& req, const std::string& id, const std::string& account, responder respond) {
    blocking(req, std::move(respond), account, [this, id, account](unsigned version) {
      auto r = backend_.cancel(account, id);
      if (auto* e = std::get_if<refusal>(&r)) return api_detail::error_response(*e, version);
      response res{http::status::no_content, version};
      res.prepare_payload();
      return res;
    });
  }

  void show_organization(const request& req, const std::string& account, const responder& respond) {
    reading(req, respond, account, [this, account](unsigned version) { return organization_answer(account, version); });
  }

  response organization_answer(const std::string& account, unsigned version) {
    auto r = backend_.organization(account);
    if (auto* e = std::get_if<refusal>(&r)) return api_detail::error_response(*e, version);
    const auto& o = std::get<organization_view>(r);
    ojson limits = ojson::object(), use = ojson::object();
    const auto nullable = [](const std::optional<std::uint64_t>& v) { return v ? ojson(*v) : ojson(nullptr); };
    for (const auto& [model, m] : o.models) {
      limits[model] = {{"maxConcurrentGenerations", nullable(m.max_concurrent)}, {"maxDailyGenerations", nullable(m.max_daily)}};
      use[model] = {{"dailyGenerations", m.daily_generations}};
    }
    ojson out = {{"creditBalance", api_detail::credits_json(o.balance)},
                 {"tier", {{"maxMonthlyCreditSpend", api_detail::monthly_spend_json(o.max_monthly_spend)},
                           {"models", limits}}},
                 {"usage", {{"models", use}}}};
    if (!o.extensions.is_null()) out["tollgate"] = o.extensions;
    return api_detail::json_response(http::status::ok, out, version);
  }

  void show_usage(const request& req, const std::string& account, const responder& respond) {
    auto answer = [&](response&& res) { respond(std::move(res), request_note{account}); };
    // The client sends {} without arguments, and the literal null when called with null.
    if (req.body() == "null") return usage_between(req, account, ojson::object(), respond);
    auto body = json_body(req, answer, true);
    if (!body) return;
    usage_between(req, account, *body, respond);
  }

  void usage_between(const request& req, const std::string& account, const ojson& body, const responder& respond) {
    auto answer = [&](response&& res) { respond(std::move(res), request_note{account}); };
    using namespace std::chrono;
    utc_day first = floor<days>(clock_.now()) - days(30), before{};
    bool before_given = false;
    try {
      requests_detail::object_reader r(body, "");
      const auto day = [&](std::string_view key) -> std::optional<utc_day> {
        const ojson* f = r.optional(key);
        if (f == nullptr) return std::nullopt;
        const auto d = f->is_string() ? api_detail::parse_day(f->get<std::string>()) : std::nullopt;
        if (!d) requests_detail::fail(std::string(key), "expected a UTC date such as \"2026-01-31\" (YYYY-MM-DD)");
        return d;
      };
      if (auto d = day("startDate")) first = *d;
      if (auto d = day("beforeDate")) before = *d, before_given = true;
      r.finish("the usage query");
      if (!before_given) before = first + days(30);
      if (before <= first) requests_detail::fail("beforeDate", "must be after startDate");
      if (before - first > days(90)) requests_detail::fail("beforeDate", "must be at most 90 days after startDate");
    } catch (const invalid_input& e) {
      return answer(api_detail::error_response(api_detail::bad_request("invalid_input", e.text()), req.version()));
    }
    reading(req, respond, account, [this, account, first, before](unsigned version) {
      auto r = backend_.usage(account, first, before);
      if (auto* e = std::get_if<refusal>(&r)) return api_detail::error_response(*e, version);
      const auto& u = std::get<usage_view>(r);
      ojson results = ojson::array();
      for (const auto& d : u.results) {
        ojson used = ojson::array();
        for (const auto& [model, amount] : d.used) used.push_back({{"amount", api_detail::credits_json(amount)}, {"model", model}});
        results.push_back({{"date", d.date}, {"usedCredits", used}});
      }
      return api_detail::json_response(http::status::ok, ojson{{"models", u.models}, {"results", results}}, version);
    });
  }

  const server_config& config_;
  const bool may_block_ = config_.durability != tollgate::durability::none;
  const Catalog& catalog_;
  task_backend& backend_;
  media_probe probe_;
  boost::asio::thread_pool& workers_;
  server_clock clock_;
  const http_counters* counters_;
};

}  // namespace tollgate_server
