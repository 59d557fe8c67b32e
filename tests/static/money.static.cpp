// Compile-time checks on the money types: what must and must not compile.
#include <concepts>
#include <cstdint>
#include <type_traits>

#include <tollgate/core/money.hpp>

namespace {
using tollgate::credits;
using tollgate::usd;

// Lossy or ambiguous conversions do not exist.
static_assert(!std::is_constructible_v<credits, double>, "no credits from double");
static_assert(!std::is_constructible_v<credits, float>, "no credits from float");
static_assert(!std::is_convertible_v<int, credits>, "whole-unit constructor is explicit");
static_assert(std::is_constructible_v<credits, int>);
static_assert(std::is_constructible_v<credits, std::int64_t>);

// Credits and dollars do not mix.
template <class A, class B>
concept addable = requires(A a, B b) { a + b; };
template <class A, class B>
concept comparable = requires(A a, B b) { a == b; };
static_assert(addable<credits, credits>);
static_assert(!addable<credits, usd>, "credits + usd must not compile");
static_assert(!addable<usd, credits>);
static_assert(!comparable<credits, usd>);
static_assert(!std::is_convertible_v<usd, credits>);
static_assert(!std::is_convertible_v<credits, usd>);

// Scaling by a count is exact; by a floating-point value it is not offered.
template <class A, class N>
concept scalable = requires(A a, N n) { a * n; };
static_assert(scalable<credits, int>);
static_assert(!scalable<credits, double>, "credits * double must not compile");

// Rounding policies model the concept.
static_assert(tollgate::Rounding<tollgate::round_up>);
static_assert(tollgate::Rounding<tollgate::half_up>);
static_assert(tollgate::Rounding<tollgate::exact>);

// A representation that wraps on overflow is refused (basic_amount static_asserts it).
static_assert(tollgate::detail::wraps_on_overflow_v<boost::multiprecision::int128_t>);
static_assert(tollgate::detail::wraps_on_overflow_v<boost::multiprecision::int256_t>);
static_assert(!tollgate::detail::wraps_on_overflow_v<tollgate::checked_int128_t>);
static_assert(!tollgate::detail::wraps_on_overflow_v<boost::multiprecision::cpp_int>);  // unbounded
static_assert(!tollgate::detail::wraps_on_overflow_v<std::int64_t>);  // checked by the library

// Other representations are allowed.
using small_credits = tollgate::basic_credits<std::int64_t, 3>;
static_assert(std::is_same_v<small_credits::rep, std::int64_t>);
static_assert(small_credits::scale == 3);
}  // namespace
