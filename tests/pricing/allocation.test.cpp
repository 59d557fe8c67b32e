// Quoting is on the hot path of every request: a successful quote must not
// touch the heap. This file replaces the global operator new for the whole
// tollgate-pricing-tests program to count allocations.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <new>

#include <tollgate/pricing/runway.hpp>

namespace {
std::atomic<long> allocations{0};
}  // namespace

// Every replaceable non-aligned form, so allocation and release always pair
// up (the sanitizers check that). GCC cannot see that these pair malloc with
// free through the replaced operators.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n == 0 ? 1 : n);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return ::operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

using namespace tollgate;

TEST_CASE("a successful quote does not allocate") {
  const catalog& c = runway_catalog();  // built (and allocated) before counting
  job video{.model = "gen4_turbo", .usage = {.seconds = media_duration{10'000}}};
  job audio_video{.model = "veo3.1_fast", .usage = {.seconds = media_duration{8'000}, .audio = true}};
  job image{.model = "gen4_image",
            .usage = {.outputs = count{4}, .resolution = std::string("1080p")}};
  job speech{.model = "eleven_multilingual_v2",
             .usage = {.text = std::string(300, 'x')}};
  job isolation{.model = "eleven_voice_isolation", .usage = {.seconds = media_duration{61'000}}};

  for (const job* j : {&video, &audio_video, &image, &speech, &isolation}) {
    INFO(j->model);
    const long before = allocations.load();
    {
      auto q = c.quote(*j);
      REQUIRE(q);
      CHECK(q->lines.size() == 1);
    }
    CHECK(allocations.load() - before == 0);
  }
  SECTION("a failed quote may allocate its message") {
    const long before = allocations.load();
    CHECK_FALSE(c.quote(job{.model = "nope"}));
    CHECK(allocations.load() > before);
  }
}
