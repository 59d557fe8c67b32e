// The one interface between the HTTP API of tollgate-server and what admits,
// bills and tracks tasks. The API layer validates and prices a request and
// turns the answer into the provider's JSON; a task_backend decides.
// gate_backend (gate_backend.hpp) implements it on tollgate::basic_gate; a
// test or another host can implement it on anything else. The members that
// may block (journal writes) are called on the server's worker threads,
// never on the network threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>
#include <tollgate/core/error.hpp>
#include <tollgate/core/money.hpp>
#include <tollgate/gate/types.hpp>
#include <tollgate/pricing/usage.hpp>

#include "clock.hpp"

namespace tollgate_server {

/// The provider's task states: the gate's own (to_string gives "PENDING", ...).
using tollgate::task_status;

/**
 * A request the backend refuses, as the API answers it: the HTTP status,
 * a stable machine code ("insufficient_credits"), a message a person can act
 * on, and, where waiting helps, how long (sent as Retry-After). docs/server.md
 * lists every code with its status.
 */
struct refusal {
  unsigned status = 400;
  std::string code;
  std::string message;
  std::optional<std::chrono::seconds> retry_after{};
};

/// A value or a refusal.
template <class T>
using outcome = std::variant<T, refusal>;

/// Success of a call that returns nothing.
struct done {};

/// A validated, priced create request.
struct submission {
  std::string account;
  std::string endpoint;           ///< "image_to_video"
  tollgate::job job;              ///< the model and the usage it is priced on
  tollgate::credits estimate;     ///< the catalog's charge for it (estimatedCost)
  std::string idempotency_key;    ///< the Idempotency-Key header; empty when absent
  std::uint64_t body_digest = 0;  ///< XXH64 of the body: a key reused with another body is a conflict
};

/// What a create answers.
struct created_task {
  std::string id;
  tollgate::credits estimate;
};

/// A task as GET /v1/tasks/{id} shows it.
struct task_view {
  std::string id;
  task_status status = task_status::pending;
  wall_time created_at{};
  tollgate::credits estimate;              ///< PENDING, THROTTLED, RUNNING
  tollgate::credits cost;                  ///< SUCCEEDED, FAILED, CANCELLED (0 when refunded)
  double progress = 0;                     ///< RUNNING: 0 to 1
  std::vector<std::string> output;         ///< SUCCEEDED
  std::string failure;                     ///< FAILED
  std::string failure_code;                ///< FAILED (may be empty)
};

/// One model's limits and use, for the organization view.
struct model_view {
  std::optional<std::uint64_t> max_concurrent;  ///< nullopt: unlimited
  std::optional<std::uint64_t> max_daily;       ///< nullopt: unlimited
  std::uint64_t daily_generations = 0;
};

/// GET /v1/organization.
struct organization_view {
  tollgate::credits balance;                      ///< creditBalance (available)
  std::optional<tollgate::credits> max_monthly_spend;  ///< tier.maxMonthlyCreditSpend, in credits (none: unlimited)
  std::map<std::string, model_view> models;
  /// Beyond the provider's fields (the tier's name, held credits, the 30-day
  /// spend, the next tier...): sent as "tollgate", which the client ignores.
  nlohmann::ordered_json extensions;
};

/// POST /v1/organization/usage: credits used per model per UTC day.
struct usage_view {
  struct day {
    std::string date;  ///< YYYY-MM-DD
    std::vector<std::pair<std::string, tollgate::credits>> used;
  };
  std::vector<std::string> models;
  std::vector<day> results;
};

/// A UTC day, as days since 1970-01-01.
using utc_day = std::chrono::sys_days;

/// What a purchase did, and the account after it.
struct purchase_view {
  tollgate::usd paid;
  tollgate::credits credits;
  tollgate::credits balance;   ///< available after the purchase
  bool replayed = false;       ///< the same key was used before: nothing new happened
};

/// An account's balance, for the admin API.
struct account_view {
  tollgate::credits available;
  tollgate::credits held;
  tollgate::credits purchased;
  tollgate::usd purchased_usd;
};

/// What the ledger says of a task's credits, for the admin API: what an
/// operator asks after a crash ("was task T charged?").
struct task_record {
  std::optional<task_view> task;  ///< the task, when the gate knows it
  std::string hold;               ///< "open", "captured", "released", or "none" (no hold under this id)
  tollgate::credits held;         ///< what the hold took
  tollgate::credits captured;     ///< what a capture kept (the rest was returned)
};

/// An enterprise override: custom limits per model (and spend cap).
struct override_spec {
  std::map<std::string, model_view> models;   ///< daily_generations unused
  std::optional<tollgate::spend_cap> monthly_spend;  ///< nullopt: the tier's; unlimited: no cap
  bool clear = false;                          ///< remove the override
};

/// Automatic recharge: when available credits fall below `threshold`, buy `amount`.
struct autobilling_spec {
  bool enabled = false;
  tollgate::credits threshold;
  tollgate::usd amount;
};

/// Admits, bills and tracks tasks (see the header comment).
class task_backend {
 public:
  virtual ~task_backend() = default;

  /// Holds the estimate and creates a task (PENDING, THROTTLED or RUNNING),
  /// or refuses. The same idempotency key with the same request answers the
  /// first task; with another request, 409 idempotency_conflict.
  virtual outcome<created_task> submit(const submission& s) = 0;
  /// The task `id` of `account`; 404 when there is none.
  virtual outcome<task_view> get(std::string_view account, std::string_view id) = 0;
  /// Cancels a task that has not finished (refunded in full); deletes a finished one.
  virtual outcome<done> cancel(std::string_view account, std::string_view id) = 0;
  virtual outcome<organization_view> organization(std::string_view account) = 0;
  /// Days [first, before), at most 90.
  virtual outcome<usage_view> usage(std::string_view account, utc_day first, utc_day before) = 0;

  // Administration.
  virtual outcome<purchase_view> purchase(std::string_view account, const tollgate::usd& dollars,
                                          std::string_view key) = 0;
  virtual outcome<account_view> account(std::string_view account) = 0;
  /// The task `id` of `account` and its hold in the ledger, also when the
  /// gate no longer knows the task (it finished before a restart).
  virtual outcome<task_record> task_credits(std::string_view account, std::string_view id) = 0;
  virtual outcome<done> set_override(std::string_view account, const override_spec& o) = 0;
  virtual outcome<done> set_autobilling(std::string_view account, const autobilling_spec& a) = 0;
  /// The backend's counters in the Prometheus text format (may be empty).
  virtual std::string metrics_text() = 0;
  /// Runs what is due at the clock's time (after the test clock moved).
  virtual void tick() = 0;
};

/// How a library error is answered: its status, code and whether a retry may help.
[[nodiscard]] inline refusal refusal_of(const tollgate::error& e) {
  using tollgate::errc;
  const auto code = static_cast<errc>(e.code().value());
  const auto make = [&](unsigned status, std::string_view name) {
    return refusal{status, std::string(name), e.message(), std::nullopt};
  };
  if (e.code().category() != tollgate::error_category()) return make(500, "internal");
  switch (code) {
    case errc::insufficient_credits: return make(400, "insufficient_credits");
    case errc::daily_limit: return make(429, "daily_limit");
    case errc::monthly_spend_limit: return make(403, "monthly_spend_limit");
    case errc::idempotency_conflict: return make(409, "idempotency_conflict");
    case errc::unknown_model: return make(400, "unknown_model");
    case errc::invalid_usage: return make(400, "invalid_usage");
    case errc::invalid_utf8: return make(400, "invalid_utf8");
    case errc::invalid_amount: return make(400, "invalid_amount");
    case errc::invalid_account: return make(400, "invalid_account");
    case errc::invalid_argument: return make(400, "invalid_argument");
    case errc::overflow: return make(400, "overflow");
    case errc::queue_full: return make(429, "queue_full");
    case errc::storage_failure: return make(503, "storage_failure");
    case errc::read_only: return make(503, "read_only");
    case errc::unavailable: return make(503, "unavailable");
    default: return make(500, "internal");
  }
}

}  // namespace tollgate_server
