// A consumer of the optional tollgate::redis target: builds and links against
// hiredis through the installed package, and refuses a call to a port where no
// server listens with errc::unavailable (the default failure mode).
#include <chrono>
#include <cstdio>
#include <tollgate/redis/backend.hpp>

int main() {
  tollgate::redis::backend_options o;
  o.timeouts.connect = std::chrono::milliseconds(200);
  tollgate::redis::backend b("redis://127.0.0.1:1", o);
  auto a = b.admit({"acct", "gen4_turbo"}, "task-1", {}, std::chrono::system_clock::now());
  std::printf("%s\n", a ? "admitted?" : a.error().message().c_str());
  return !a && a.code() == tollgate::errc::unavailable ? 0 : 1;
}
