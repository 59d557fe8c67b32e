// Errors and results.
#include <catch2/catch.hpp>

#include <string>
#include <system_error>

#include <tollgate/core/error.hpp>

using tollgate::errc;
using tollgate::result;

TEST_CASE("errc is a std::error_code category with actionable messages", "[error]") {
  std::error_code ec = errc::insufficient_credits;
  CHECK(ec.category().name() == std::string("tollgate"));
  CHECK(ec.message().find("insufficient credits") != std::string::npos);
  for (int e = static_cast<int>(errc::insufficient_credits); e <= static_cast<int>(errc::unavailable); ++e)
    CHECK(tollgate::error_category().message(e) != "unknown tollgate error");
  CHECK(tollgate::error_category().message(9999) == "unknown tollgate error");
}

TEST_CASE("result carries a value or an error", "[error]") {
  result<int> ok = 5;
  REQUIRE(ok);
  CHECK(*ok == 5);
  CHECK(ok.value() == 5);
  CHECK(!ok.code());

  result<int> bad(errc::unknown_model, "model 'gen5' is not in the catalog");
  REQUIRE_FALSE(bad);
  CHECK(bad.error() == errc::unknown_model);
  CHECK(bad.code() == errc::unknown_model);
  CHECK(bad.error().message() == "model 'gen5' is not in the catalog");
  try {
    (void)bad.value();
    FAIL("value() must throw on an error");
  } catch (const tollgate::bad_result_access& e) {
    CHECK(e.code() == errc::unknown_model);
    CHECK(std::string(e.what()).find("gen5") != std::string::npos);
  }

  result<int> generic(errc::overflow);
  CHECK(generic.error().message().find("overflow") != std::string::npos);

  result<void> v;
  CHECK(v);
  result<void> vf(errc::read_only);
  CHECK_FALSE(vf);
  CHECK_THROWS_AS(vf.value(), tollgate::bad_result_access);
}

namespace {
result<int> half(int x) {
  if (x % 2) return {errc::invalid_argument, "odd"};
  return x / 2;
}
result<int> quarter(int x) {
  TOLLGATE_TRY(int h, half(x));
  TOLLGATE_TRY(int q, half(h));
  return q;
}
}  // namespace

TEST_CASE("TOLLGATE_TRY propagates the first error", "[error]") {
  CHECK(quarter(8).value() == 2);
  CHECK(quarter(6).error().message() == "odd");
}

TEST_CASE("config_error carries the source, the path and the reason", "[error][config]") {
  const tollgate::config_error e("plan.json", "jobs[2].model", "is not in the catalog");
  CHECK(std::string(e.what()) == "plan.json: jobs[2].model: is not in the catalog");
  CHECK(e.source() == "plan.json");
  CHECK(e.path() == "jobs[2].model");
  CHECK(e.reason() == "is not in the catalog");
  SECTION("no path: the configuration as a whole is wrong") {
    const tollgate::config_error whole("plan.json", "", "cannot open: No such file or directory");
    CHECK(std::string(whole.what()) == "plan.json: cannot open: No such file or directory");
    CHECK(whole.path().empty());
  }
  SECTION("caught as std::runtime_error") {
    try {
      throw e;
    } catch (const std::runtime_error& r) {
      CHECK(std::string(r.what()) == e.what());
    }
  }
}
