// Compile-time checks on the limiters: what must and must not compile.
#include <chrono>
#include <concepts>
#include <cstdint>
#include <string>
#include <type_traits>

#include <tollgate/core/clock.hpp>
#include <tollgate/core/money.hpp>
#include <tollgate/limits/concurrency_pool.hpp>
#include <tollgate/limits/keyed.hpp>
#include <tollgate/limits/rolling_window.hpp>
#include <tollgate/limits/token_bucket.hpp>

namespace {
using namespace tollgate;
using st_bucket = basic_token_bucket<manual_clock, single_thread>;
using mt_bucket = basic_token_bucket<manual_clock, multi_thread>;

// A rate is exact: no floating-point durations.
static_assert(std::is_constructible_v<token_rate, int, std::chrono::seconds>);
static_assert(!std::is_constructible_v<token_rate, int, std::chrono::duration<double>>,
              "token_rate from a double duration must not compile");

// The thread-safe bucket is one object in one place; the single-thread one is a value.
static_assert(!std::is_copy_constructible_v<mt_bucket>);
static_assert(!std::is_move_constructible_v<mt_bucket>);
static_assert(std::is_copy_constructible_v<st_bucket>);
static_assert(sizeof(basic_token_bucket<std::chrono::steady_clock, single_thread>) == 40,
              "a single_thread bucket is its parameters and one word");

// A single_thread pool is a value (its copy gets its own queue); the
// thread-safe one stays in one place.
static_assert(std::is_copy_constructible_v<basic_concurrency_pool<std::uint64_t, single_thread>>);
static_assert(std::is_nothrow_move_constructible_v<basic_concurrency_pool<std::uint64_t, single_thread>>);
static_assert(!std::is_copy_constructible_v<basic_concurrency_pool<std::uint64_t, multi_thread>>);
static_assert(!std::is_move_constructible_v<basic_concurrency_pool<std::uint64_t, multi_thread>>);

// What a window can count.
static_assert(WindowAmount<std::uint64_t>);
static_assert(WindowAmount<std::int64_t>);
static_assert(WindowAmount<credits>);
static_assert(WindowAmount<usd>);
static_assert(!WindowAmount<std::string>, "a string has no subtraction");

// What keyed<> can hold: the single_thread limiters.
static_assert(KeyedLimiter<st_bucket, manual_clock>);
static_assert(KeyedLimiter<basic_rolling_window<manual_clock, std::uint64_t, single_thread>, manual_clock>);
static_assert(KeyedLimiter<basic_concurrency_pool<std::uint64_t, single_thread>, std::chrono::steady_clock>);
static_assert(!KeyedLimiter<mt_bucket, manual_clock>, "a multi_thread bucket cannot move into a registry");

// Decisions must be used.
template <class T>
concept decision_like = requires(T d) {
  { d.allowed } -> std::convertible_to<bool>;
  d.retry_after;
  d.reason;
};
static_assert(decision_like<limit_decision>);
static_assert(decision_like<basic_limit_decision<credits>>);
}  // namespace
