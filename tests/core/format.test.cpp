// Enums with a to_string format through fmt by name (core/format.hpp), with
// the string specs applying to the name: one way to print an enum whichever
// concern declares it.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include <fmt/format.h>

#include <tollgate/gate/observer.hpp>
#include <tollgate/gate/types.hpp>
#include <tollgate/limits/backend.hpp>
#include <tollgate/limits/concurrency_pool.hpp>
#include <tollgate/limits/decision.hpp>
#include <tollgate/pricing/usage.hpp>
#include <tollgate/tiers/autobilling.hpp>
#include <tollgate/tiers/observer.hpp>
#include <tollgate/tiers/overrides.hpp>

using namespace tollgate;

namespace {

// fmt prints `e` as its to_string, also when padded.
template <class E>
void prints_its_name(E e) {
  const std::string_view name = to_string(e);
  INFO(name);
  CHECK(fmt::format("{}", e) == name);
  CHECK(fmt::format("[{:>16}]", e) == fmt::format("[{:>16}]", name));
  CHECK(fmt::format("{:.3}", e) == name.substr(0, 3));
}

}  // namespace

TEST_CASE("every enum with a to_string formats through fmt by name", "[core][format]") {
  prints_its_name(limit_reason::none);
  prints_its_name(limit_reason::exceeds_burst);
  prints_its_name(pool_status::queued);
  prints_its_name(admit_status::queued);
  prints_its_name(task_place::running);
  prints_its_name(limiter_event_kind::lease_expired);
  prints_its_name(task_status::throttled);
  prints_its_name(task_status::succeeded);
  prints_its_name(task_event_kind::refunded);
  prints_its_name(payment_status::declined);
  prints_its_name(recharge_status::capped);
  prints_its_name(override_mode::shadow);
  prints_its_name(override_scope::group);
  prints_its_name(promotion_cause::purchase);
  prints_its_name(media_kind::audio);
  CHECK(fmt::format("{} -> {}", task_status::throttled, task_status::running) == "THROTTLED -> RUNNING");
}

TEST_CASE("an enum value outside its list formats as to_string's fallback, not as a number", "[core][format]") {
  const auto odd = static_cast<limit_reason>(200);
  CHECK(fmt::format("{}", odd) == to_string(odd));
}

TEST_CASE("format_as names an enum for fmt and for the host", "[core][format]") {
  STATIC_REQUIRE(fmt::is_formattable<limit_reason>::value);
  STATIC_REQUIRE(fmt::is_formattable<task_status>::value);
  CHECK(format_as(media_kind::video) == "video");
}
