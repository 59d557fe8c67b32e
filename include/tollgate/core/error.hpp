// Errors: the codes a caller must handle (tollgate::errc, a std::error_code
// category), the error value that carries a code plus a message a person can act
// on, tollgate::result<T> that every fallible operation returns, and
// TOLLGATE_ASSERT for broken preconditions in the host's own code, and
// config_error, the one base of every exception thrown for bad configuration
// at start-up. Hot-path decisions (a limiter saying no) are not errors and do
// not use these types.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

/// Checks a precondition of the host's code; on failure prints where and why
/// and aborts. Always on: a billing library must not limp on after a broken
/// precondition.
#define TOLLGATE_ASSERT(cond, msg)                                             \
  ((cond) ? static_cast<void>(0)                                               \
          : ::tollgate::detail::assert_fail(#cond, msg, __FILE__, __LINE__))

namespace tollgate {

/// Every reason a tollgate operation can fail. Values are stable (they are
/// written to journals and logs); add new ones at the end.
enum class errc {
  insufficient_credits = 1,  ///< the account's available credits do not cover it
  daily_limit,               ///< the tier's rolling-24h starts are used up
  monthly_spend_limit,       ///< the rolling-30-day purchase cap is reached
  unknown_model,             ///< the model id is not in the catalog
  invalid_usage,             ///< a usage field is missing, out of range or unknown
  invalid_utf8,              ///< text is not valid UTF-8
  idempotency_conflict,      ///< key reused with a different request
  unknown_hold,              ///< no such hold (or it is no longer open)
  storage_failure,           ///< the storage could not make the change durable
  overflow,                  ///< an amount is outside the representable range
  invalid_amount,            ///< a decimal string is malformed or too precise
  invalid_account,           ///< an account id is empty, too long or not printable ASCII
  read_only,                 ///< the ledger refuses writes after a storage failure
  corrupt_journal,           ///< a journal is damaged
  hold_exceeded,             ///< capture larger than the amount held
  queue_full,                ///< a concurrency queue is at its bound
  exceeds_burst,             ///< a request larger than a limiter can ever admit
  invalid_argument,          ///< any other argument that is out of its domain
  locked,                    ///< another process holds the journal open for writing
  io_error,                  ///< a file could not be opened, read or written
  unavailable,               ///< a shared server (Redis) could not be reached or did not answer in time
};

namespace detail {
class error_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tollgate"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::insufficient_credits: return "insufficient credits: buy more credits or lower the job's cost";
      case errc::daily_limit: return "daily limit reached: the tier's rolling 24-hour starts are used up; retry later";
      case errc::monthly_spend_limit: return "monthly spend limit reached: the rolling 30-day purchase cap is used up";
      case errc::unknown_model: return "unknown model: check the model id against the catalog";
      case errc::invalid_usage: return "invalid usage: a field of the job is missing, out of range or not allowed for the model";
      case errc::invalid_utf8: return "invalid UTF-8: the text is not well-formed UTF-8";
      case errc::idempotency_conflict: return "idempotency conflict: the key was already used for a different request";
      case errc::unknown_hold: return "unknown hold: no open hold with that id";
      case errc::storage_failure: return "storage failure: the change could not be made durable";
      case errc::overflow: return "overflow: the amount is outside the representable range";
      case errc::invalid_amount: return "invalid amount: expected a plain decimal such as 12.5 with at most the allowed decimal places";
      case errc::invalid_account: return "invalid account id: use 1 to 128 printable ASCII characters";
      case errc::read_only: return "read-only: an earlier storage failure stopped writes; reopen the storage";
      case errc::corrupt_journal: return "corrupt journal: the file is damaged";
      case errc::hold_exceeded: return "capture exceeds hold: a hold can capture at most what it holds";
      case errc::queue_full: return "queue full: too many jobs are waiting";
      case errc::exceeds_burst: return "request exceeds the burst capacity and can never be admitted";
      case errc::invalid_argument: return "invalid argument";
      case errc::locked: return "locked: another process has this journal open for writing";
      case errc::io_error: return "I/O error";
      case errc::unavailable: return "unavailable: a shared server could not be reached or did not answer in time; the outcome of the call is unknown, retry it with the same ids";
    }
    return "unknown tollgate error";
  }
};

[[noreturn]] inline void assert_fail(const char* cond, const char* msg,
                                     const char* file, int line) noexcept {
  std::fprintf(stderr, "tollgate: assertion failed: %s (%s) at %s:%d\n", msg,
               cond, file, line);
  std::abort();
}
}  // namespace detail

/// The category of tollgate::errc.
inline const std::error_category& error_category() noexcept {
  static const detail::error_category_impl category;
  return category;
}

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

}  // namespace tollgate

template <>
struct std::is_error_code_enum<tollgate::errc> : std::true_type {};

namespace tollgate {

/**
 * A failure: a code to branch on and a message for a person.
 *
 * The message names what was wrong and what to do ("account 'acme' has 12.5
 * credits available, the job needs 50"); when none was given it is the code's
 * generic message.
 */
class error {
 public:
  error() = default;
  error(std::error_code code, std::string message = {})
      : code_(code), message_(std::move(message)) {}
  error(errc code, std::string message = {})
      : code_(make_error_code(code)), message_(std::move(message)) {}

  [[nodiscard]] std::error_code code() const noexcept { return code_; }
  [[nodiscard]] std::string message() const {
    return message_.empty() ? code_.message() : message_;
  }
  friend bool operator==(const error& e, errc c) noexcept {
    return e.code_ == make_error_code(c);
  }

 private:
  std::error_code code_;
  std::string message_;
};

/// Thrown by result<T>::value() on an error: a std::system_error whose what()
/// is the error's full message.
class bad_result_access : public std::system_error {
 public:
  explicit bad_result_access(const tollgate::error& e)
      : std::system_error(e.code(), e.message()), error_(e) {}
  [[nodiscard]] const tollgate::error& error() const noexcept { return error_; }

 private:
  tollgate::error error_;
};

/**
 * Either a T or an error. Test it (`if (r)`), then read `*r` or `r.error()`.
 * `value()` is the throwing form: it throws bad_result_access on an error.
 */
template <class T>
class [[nodiscard]] result {
 public:
  using value_type = T;
  result(const T& v) : v_(std::in_place_index<0>, v) {}
  /// Constructs the value in place from `args` (no temporary to move).
  template <class... Args>
  explicit result(std::in_place_t, Args&&... args)
      : v_(std::in_place_index<0>, std::forward<Args>(args)...) {}
  result(T&& v) : v_(std::in_place_index<0>, std::move(v)) {}
  result(tollgate::error e) : v_(std::in_place_index<1>, std::move(e)) {}
  result(errc c, std::string msg = {})
      : v_(std::in_place_index<1>, tollgate::error(c, std::move(msg))) {}

  [[nodiscard]] bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  [[nodiscard]] T& value() & { check(); return std::get<0>(v_); }
  [[nodiscard]] const T& value() const& { check(); return std::get<0>(v_); }
  [[nodiscard]] T&& value() && { check(); return std::get<0>(std::move(v_)); }
  /// The value; asserts has_value().
  [[nodiscard]] T& operator*() & noexcept { return *get(); }
  [[nodiscard]] const T& operator*() const& noexcept { return *get(); }
  [[nodiscard]] T&& operator*() && noexcept { return std::move(*get()); }
  [[nodiscard]] T* operator->() noexcept { return get(); }
  [[nodiscard]] const T* operator->() const noexcept { return get(); }

  /// The error; asserts !has_value().
  [[nodiscard]] const tollgate::error& error() const& noexcept {
    const auto* e = std::get_if<1>(&v_);
    TOLLGATE_ASSERT(e != nullptr, "result::error() called on a result that holds a value");
    return *e;
  }
  [[nodiscard]] std::error_code code() const noexcept {
    return has_value() ? std::error_code{} : std::get_if<1>(&v_)->code();
  }

 private:
  void check() const {
    if (!has_value()) throw bad_result_access(*std::get_if<1>(&v_));
  }
  T* get() noexcept {
    T* p = std::get_if<0>(&v_);
    TOLLGATE_ASSERT(p != nullptr, "result dereferenced while it holds an error");
    return p;
  }
  const T* get() const noexcept {
    const T* p = std::get_if<0>(&v_);
    TOLLGATE_ASSERT(p != nullptr, "result dereferenced while it holds an error");
    return p;
  }
  std::variant<T, tollgate::error> v_;
};

/// result<void>: success, or an error.
template <>
class [[nodiscard]] result<void> {
 public:
  using value_type = void;
  result() = default;
  result(tollgate::error e) : e_(std::move(e)), failed_(true) {}
  result(errc c, std::string msg = {}) : e_(c, std::move(msg)), failed_(true) {}

  [[nodiscard]] bool has_value() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return !failed_; }
  void value() const {
    if (failed_) throw bad_result_access(e_);
  }
  /// The error; asserts !has_value().
  [[nodiscard]] const tollgate::error& error() const& noexcept {
    TOLLGATE_ASSERT(failed_, "result::error() called on a successful result");
    return e_;
  }
  [[nodiscard]] std::error_code code() const noexcept {
    return failed_ ? e_.code() : std::error_code{};
  }

 private:
  tollgate::error e_;
  bool failed_ = false;
};

/**
 * Bad configuration refused at start-up: where it came from (`source()`: a
 * file, "<string>", or the component that refused it, e.g. "token_rate"),
 * which field (`path()`: a JSON-style path such as
 * "tiers[2].criteria.purchased_usd", empty when the whole is wrong) and why
 * (`reason()`). what() is "SOURCE: PATH: REASON" unless a derived type words
 * it its own way.
 *
 * The one base of every configuration error tollgate throws, as
 * `json::exception` is nlohmann's: catch `tollgate::config_error` to catch
 * them all. The derived types keep their names so existing catch clauses
 * keep working: limit_config_error (limits), catalog_error (pricing),
 * tier_table_error (tiers), and json::config_file_error (the JSON loaders
 * and the examples) with json::catalog_error and json::tier_table_error.
 */
class config_error : public std::runtime_error {
 public:
  // The base is built before the members, so what() reads the strings
  // before they are moved (a delegating constructor could move them first:
  // the order of evaluation of its arguments is unspecified).
  config_error(std::string source, std::string path, std::string reason)
      : std::runtime_error(default_what(source, path, reason)),
        source_(std::move(source)),
        path_(std::move(path)),
        reason_(std::move(reason)) {}

  /// Where the configuration came from: a file, "<string>", or a component.
  [[nodiscard]] const std::string& source() const noexcept { return source_; }
  /// The offending field, e.g. "models[3].rate.credits_per_second"; empty
  /// when the configuration as a whole is wrong.
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  /// Why it was refused, for a person.
  [[nodiscard]] const std::string& reason() const noexcept { return reason_; }

 protected:
  /// For a derived type that words what() its own way. The parts are taken
  /// by view, never moved from: a derived constructor may build `what` from
  /// the same strings in the same call, in an unspecified order.
  config_error(const std::string& what, std::string_view source, std::string_view path, std::string_view reason)
      : std::runtime_error(what), source_(source), path_(path), reason_(reason) {}

 private:
  static std::string default_what(std::string_view source, std::string_view path, std::string_view reason) {
    std::string w(source);
    if (!path.empty()) w.append(": ").append(path);
    return w.append(": ").append(reason);
  }

  std::string source_;
  std::string path_;
  std::string reason_;
};

/// Propagates an error from a result-returning expression:
/// `TOLLGATE_TRY(auto q, catalog.quote(job));`
#define TOLLGATE_TRY_CONCAT_(a, b) a##b
#define TOLLGATE_TRY_NAME_(l) TOLLGATE_TRY_CONCAT_(tollgate_try_, l)
#define TOLLGATE_TRY(decl, expr)                                   \
  auto TOLLGATE_TRY_NAME_(__LINE__) = (expr);                      \
  if (!TOLLGATE_TRY_NAME_(__LINE__))                               \
    return TOLLGATE_TRY_NAME_(__LINE__).error();                   \
  decl = std::move(*TOLLGATE_TRY_NAME_(__LINE__))

}  // namespace tollgate
