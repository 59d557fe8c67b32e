// The server's clock: the system clock, or (deterministic mode, for tests) a
// manual clock that starts at a configured instant and moves only when the
// admin API says so (POST /admin/clock). One Clock type either way, so the
// ledger, the limits and the simulated generator all read the same time.
#pragma once

#include <chrono>
#include <optional>
#include <utility>

#include <tollgate/core/clock.hpp>

namespace tollgate_server {

/// A wall-clock instant (UTC).
using wall_time = std::chrono::system_clock::time_point;

/// A tollgate Clock reading wall time, from the system or from a test clock.
/// Copies share the test clock. Thread-safe.
class server_clock {
 public:
  using duration = std::chrono::system_clock::duration;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::system_clock::time_point;
  static constexpr bool is_steady = false;

  /// The system clock.
  server_clock() = default;
  /// A test clock starting at `start`.
  explicit server_clock(time_point start)
      : manual_(tollgate::manual_clock(tollgate::manual_clock::time_point(
            std::chrono::duration_cast<tollgate::manual_clock::duration>(start.time_since_epoch())))) {}

  [[nodiscard]] time_point now() const noexcept {
    if (!manual_) return std::chrono::system_clock::now();
    return time_point(std::chrono::duration_cast<duration>(manual_->now().time_since_epoch()));
  }
  /// True for a test clock.
  [[nodiscard]] bool manual() const noexcept { return manual_.has_value(); }
  /// Moves a test clock forward (never back: the ledger's time does not run backwards).
  void advance(std::chrono::milliseconds d) noexcept {
    if (manual_ && d.count() > 0) manual_->advance(d);
  }

 private:
  std::optional<tollgate::manual_clock> manual_;
};

static_assert(tollgate::Clock<server_clock>);

}  // namespace tollgate_server
