// A consumer of tollgate: prices one gen4_turbo job through the built-in
// catalog and prints the charge; exits non-zero if the number is wrong.
#include <cstdio>
#include <tollgate/tollgate.hpp>

int main() {
  const auto& catalog = tollgate::runway_catalog();
  tollgate::job job{.model = "gen4_turbo",
                    .usage = {.seconds = tollgate::media_duration{10'000}}};
  auto q = catalog.quote(job);
  if (!q) {
    std::fprintf(stderr, "%s\n", q.error().message().c_str());
    return 1;
  }
  std::printf("gen4_turbo 10 s: %s credits ($%s)\n", q->charged.to_string().c_str(),
              q->usd.to_string().c_str());
  return q->charged == tollgate::credits{50} ? 0 : 1;
}
