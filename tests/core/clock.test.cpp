// manual_clock: copies share one time; it moves only when told (by advance,
// set, or on every read once given a tick).
#include <catch2/catch.hpp>

#include <chrono>

#include <tollgate/core/clock.hpp>

using namespace std::chrono_literals;

TEST_CASE("manual_clock copies share one time", "[clock]") {
  tollgate::manual_clock a;
  auto b = a;
  CHECK(a.now().time_since_epoch() == 0ns);
  a.advance(1500ms);
  CHECK(b.now().time_since_epoch() == 1500ms);
  b.set(tollgate::manual_clock::time_point(24h));
  CHECK(a.now().time_since_epoch() == 24h);
  a.advance(-1s);
  CHECK(b.now().time_since_epoch() == 24h - 1s);
  tollgate::manual_clock c(tollgate::manual_clock::time_point(5s));
  CHECK(c.now().time_since_epoch() == 5s);
  CHECK(a.now().time_since_epoch() == 24h - 1s);
}

TEST_CASE("manual_clock with a tick moves on at every read", "[clock]") {
  tollgate::manual_clock a(tollgate::manual_clock::time_point(1s));
  const auto b = a;
  a.set_tick(1us);
  CHECK(a.now().time_since_epoch() == 1s + 1us);
  CHECK(b.now().time_since_epoch() == 1s + 2us);  // copies share the tick too
  a.advance(1min);
  CHECK(a.now().time_since_epoch() == 1min + 1s + 3us);
  a.set_tick(0ns);
  CHECK(a.now() == a.now());
  CHECK(b.now().time_since_epoch() == 1min + 1s + 3us);
}
