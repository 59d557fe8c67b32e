// The simulated generator of tollgate-server (examples/server/simulator.hpp):
// times per model, finishing order, the failure share, outputs, progress,
// cancellation, and the real-time thread.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "simulator.hpp"

using namespace std::chrono_literals;
using tollgate_server::generation_result;
using tollgate_server::server_clock;
using tollgate_server::simulated_generator;
using tollgate_server::simulation_settings;
using tollgate_server::wall_time;

namespace {

simulation_settings settings(std::uint32_t failure_ppm = 0) {
  simulation_settings s;
  s.clock = tollgate_server::clock_mode::manual;
  s.default_generation = 1000ms;
  s.generation.emplace("gen4_turbo", 3000ms);
  s.failure_ppm = failure_ppm;
  s.seed = 7;
  s.output_url = "https://media.example/out";
  return s;
}

server_clock manual_clock() { return server_clock(wall_time(std::chrono::hours(24 * 20'000))); }

struct recorder {
  std::vector<std::string> order;
  std::vector<generation_result> results;
  void operator()(const std::string& task, const generation_result& r) {
    order.push_back(task);
    results.push_back(r);
  }
};

}  // namespace

TEST_CASE("simulated generation: tasks finish after their model's time, earliest first") {
  server_clock clock = manual_clock();
  simulated_generator g(settings(), clock);
  recorder seen;
  g.run([&](const std::string& t, const generation_result& r) { seen(t, r); });
  g.start("video", "gen4_turbo", tollgate::media_kind::video);  // 3 s
  g.start("image-a", "gen4_image", tollgate::media_kind::image);  // 1 s (default)
  g.start("image-b", "gen4_image", tollgate::media_kind::image);  // 1 s, started after image-a
  CHECK(g.run_due() == 0);
  clock.advance(999ms);
  CHECK(g.run_due() == 0);
  CHECK(*g.progress("video") == Approx(0.333).margin(0.001));
  clock.advance(1ms);
  CHECK(g.run_due() == 2);
  CHECK(seen.order == std::vector<std::string>{"image-a", "image-b"});
  CHECK(seen.results[0].output == std::vector<std::string>{"https://media.example/out/image-a/0.png"});
  clock.advance(5000ms);
  CHECK(g.run_due() == 1);
  CHECK(seen.order.back() == "video");
  CHECK(seen.results.back().output == std::vector<std::string>{"https://media.example/out/video/0.mp4"});
  CHECK_FALSE(g.progress("video").has_value());
  CHECK(g.running() == 0);
}

TEST_CASE("simulated generation: a forgotten task never finishes, a repeated start changes nothing") {
  server_clock clock = manual_clock();
  simulated_generator g(settings(), clock);
  recorder seen;
  g.run([&](const std::string& t, const generation_result& r) { seen(t, r); });
  g.start("a", "gen4_image", tollgate::media_kind::image);
  clock.advance(500ms);
  g.start("a", "gen4_image", tollgate::media_kind::image);  // does not restart the clock of "a"
  g.start("b", "eleven_multilingual_v2", tollgate::media_kind::audio);
  CHECK(g.forget("b"));
  CHECK_FALSE(g.forget("b"));
  clock.advance(600ms);
  CHECK(g.run_due() == 1);
  CHECK(seen.order == std::vector<std::string>{"a"});
  clock.advance(10s);
  CHECK(g.run_due() == 0);
}

TEST_CASE("simulated generation: a task waits for a worker's claim, then runs its whole time from the claim") {
  server_clock clock = manual_clock();
  auto s = settings();
  s.pickup = 500ms;
  simulated_generator g(s, clock);
  recorder seen;
  std::vector<std::string> claims;
  bool accept = true;
  g.run([&](const std::string& t, const generation_result& r) { seen(t, r); },
        [&](std::string_view t) {
          claims.emplace_back(t);
          return accept;
        });
  g.start("a", "gen4_image", tollgate::media_kind::image);
  CHECK_FALSE(g.progress("a").has_value());  // not running yet: nothing to report
  CHECK(g.running() == 1);
  clock.advance(499ms);
  CHECK(g.run_due() == 0);
  CHECK(claims.empty());
  clock.advance(1ms);
  CHECK(g.run_due() == 0);
  CHECK(claims == std::vector<std::string>{"a"});
  CHECK(*g.progress("a") == 0.0);
  clock.advance(500ms);
  CHECK(*g.progress("a") == 0.5);

  SECTION("it ends its generation time after the claim") {
    clock.advance(500ms);
    CHECK(g.run_due() == 1);
    CHECK(seen.order == std::vector<std::string>{"a"});
  }
  SECTION("claimed and finished within one step of the clock, it still runs its whole time") {
    g.start("b", "gen4_image", tollgate::media_kind::image);  // claim due at +500 ms, end at +1500 ms
    clock.advance(1499ms);
    CHECK(g.run_due() == 1);  // "a" only
    CHECK(claims == std::vector<std::string>{"a", "b"});
    clock.advance(1ms);
    CHECK(g.run_due() == 1);
    CHECK(seen.order == std::vector<std::string>{"a", "b"});
  }
  SECTION("a claim refused (the task ended meanwhile) drops the task") {
    accept = false;
    g.start("b", "gen4_image", tollgate::media_kind::image);
    clock.advance(10s);
    CHECK(g.run_due() == 1);  // "a" only
    CHECK(claims.back() == "b");
    CHECK(g.running() == 0);
  }
  SECTION("a task forgotten before its claim is never claimed") {
    g.start("b", "gen4_image", tollgate::media_kind::image);
    CHECK(g.forget("b"));
    clock.advance(10s);
    CHECK(g.run_due() == 1);
    CHECK(claims == std::vector<std::string>{"a"});
  }
}

TEST_CASE("simulated generation: with no pickup time a task is claimed before start() returns") {
  server_clock clock = manual_clock();
  simulated_generator g(settings(), clock);
  std::vector<std::string> claims;
  bool accept = true;
  g.run([](const std::string&, const generation_result&) {},
        [&](std::string_view t) {
          claims.emplace_back(t);
          return accept;
        });
  g.start("a", "gen4_image", tollgate::media_kind::image);
  CHECK(claims == std::vector<std::string>{"a"});
  CHECK(*g.progress("a") == 0.0);
  accept = false;
  g.start("b", "gen4_image", tollgate::media_kind::image);
  CHECK(g.running() == 1);  // "b" was refused and dropped
}

TEST_CASE("simulated generation: the failure share, the same tasks on every run") {
  const auto count_failures = [](std::uint32_t ppm, std::uint64_t seed) {
    auto s = settings(ppm);
    s.seed = seed;
    simulated_generator g(s, manual_clock());
    int failed = 0;
    for (int i = 0; i < 20'000; ++i) failed += g.fails(fmt::format("task-{}", i)) ? 1 : 0;
    return failed;
  };
  CHECK(count_failures(0, 7) == 0);
  CHECK(count_failures(1'000'000, 7) == 20'000);
  const int five_percent = count_failures(50'000, 7);
  CHECK(five_percent > 850);   // 1,000 expected; 5 standard deviations either side
  CHECK(five_percent < 1150);
  CHECK(count_failures(50'000, 7) == five_percent);  // deterministic
  CHECK(count_failures(50'000, 8) != five_percent);  // the seed matters

  server_clock clock = manual_clock();
  simulated_generator g(settings(1'000'000), clock);
  recorder seen;
  g.run([&](const std::string& t, const generation_result& r) { seen(t, r); });
  g.start("doomed", "gen4_image", tollgate::media_kind::image);
  clock.advance(1s);
  REQUIRE(g.run_due() == 1);
  CHECK_FALSE(seen.results[0].succeeded);
  CHECK(seen.results[0].output.empty());
  CHECK(seen.results[0].failure_code == "INTERNAL.BAD_OUTPUT.CODE01");
}

TEST_CASE("simulated generation: on the system clock its own thread finishes tasks in time") {
  auto s = settings();
  s.clock = tollgate_server::clock_mode::system;
  s.default_generation = 50ms;
  simulated_generator g(s, server_clock());
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::string> done;
  g.run([&](const std::string& t, const generation_result&) {
    std::lock_guard lk(m);
    done.push_back(t);
    cv.notify_all();
  });
  const auto started = std::chrono::steady_clock::now();
  g.start("x", "gen4_image", tollgate::media_kind::image);
  std::unique_lock lk(m);
  REQUIRE(cv.wait_for(lk, 5s, [&] { return !done.empty(); }));
  CHECK(std::chrono::steady_clock::now() - started >= 50ms);
  CHECK(done == std::vector<std::string>{"x"});
}

TEST_CASE("simulated generation: a task due before the one its thread waits for wakes it") {
  auto s = settings();
  s.clock = tollgate_server::clock_mode::system;
  s.default_generation = 20ms;
  s.generation["gen4_turbo"] = 60'000ms;
  simulated_generator g(s, server_clock());
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::string> done;
  g.run([&](const std::string& t, const generation_result&) {
    std::lock_guard lk(m);
    done.push_back(t);
    cv.notify_all();
  });
  g.start("slow", "gen4_turbo", tollgate::media_kind::video);  // the thread sleeps until a minute from now
  std::this_thread::sleep_for(10ms);
  g.start("quick", "gen4_image", tollgate::media_kind::image);
  std::unique_lock lk(m);
  REQUIRE(cv.wait_for(lk, 5s, [&] { return !done.empty(); }));
  CHECK(done == std::vector<std::string>{"quick"});
  CHECK(g.running() == 1);
  CHECK(g.forget("slow"));
}
