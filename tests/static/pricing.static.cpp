// Compile-time checks on the pricing types: what must and must not compile.
#include <string>
#include <type_traits>

#include <tollgate/pricing/catalog.hpp>
#include <tollgate/pricing/runway.hpp>

namespace {
using namespace tollgate;

// Every shipped rate, composite and the type-erased handle model Rate.
static_assert(Rate<per_second> && Rate<per_generation> && Rate<per_characters>);
static_assert(Rate<per_block> && Rate<flat> && Rate<any_rate>);
static_assert(Rate<sum_of<per_second, flat>> && Rate<min_of<per_second, flat>> &&
              Rate<max_of<any_rate, any_rate>>);
static_assert(ItemizedRate<sum_of<per_second, flat>>);
static_assert(!Rate<int>, "an int is not a rate");
static_assert(!Rate<credits>, "a price alone is not a rate");

// A user-defined rate needs only cost(); one returning a double is not a Rate.
struct minimal_rate {
  result<credits> cost(const usage&) const { return credits{1}; }
};
struct double_rate {
  double cost(const usage&) const { return 1.0; }
};
static_assert(Rate<minimal_rate> && !ItemizedRate<minimal_rate>);
static_assert(!Rate<double_rate>, "rates price in exact credits, never double");
static_assert(std::is_convertible_v<minimal_rate, any_rate>);
static_assert(!std::is_convertible_v<double_rate, any_rate>);

// job, usage and model_spec are aggregates: designated initializers work.
static_assert(std::is_aggregate_v<usage> && std::is_aggregate_v<job> &&
              std::is_aggregate_v<model_spec>);
inline const job example{.model = "gen4_turbo", .usage = {.seconds = media_duration{10'000}}};

// A price is not a double.
static_assert(!std::is_constructible_v<per_second, double>);
static_assert(!std::is_constructible_v<flat, double>);
// Rates are built explicitly from credits.
static_assert(!std::is_convertible_v<credits, per_second>);

// Catalogs are templates on the Rounding policy; the alias rounds up.
static_assert(std::is_same_v<catalog::rounding, round_up>);
static_assert(std::is_same_v<basic_catalog<half_up>::rounding, half_up>);
static_assert(!std::is_convertible_v<basic_catalog<half_up>, catalog>,
              "changing the rounding policy is explicit");
static_assert(std::is_constructible_v<catalog, basic_catalog<half_up>>);
static_assert(std::is_same_v<decltype(runway_catalog().quote(example)), result<quote>>);
static_assert(std::is_same_v<decltype(std::declval<quote>().charged), credits>);
static_assert(std::is_same_v<decltype(std::declval<quote>().usd), usd>);
}  // namespace
