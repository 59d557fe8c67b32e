// The simulated generator of tollgate-server: it runs each task it is given
// for the configured time of its model, then reports it succeeded (with fake
// output URLs) or failed (a configured share, chosen by the task id and a
// seed, so the same tasks fail on every run). Whoever admits tasks (the
// gate backend) calls start() when a task gets a slot (PENDING) and forget()
// when it is cancelled; after `simulation.pickup_ms` a worker claims the task
// through the claim callback (the gate's start(): RUNNING) and its generation
// time begins; the outcome comes through the finish callback, where the
// backend captures the cost or refunds the hold. On the system clock a thread of
// its own finishes tasks when they are due; on the manual clock nothing
// happens until run_due() (after POST /admin/clock), which finishes every
// due task in order, so tests are deterministic. A real deployment replaces
// this class with a dispatcher to its render fleet (docs/server.md).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>
#include <tollgate/pricing/usage.hpp>

#include "clock.hpp"
#include "config.hpp"

namespace tollgate_server {

/// How a generation ended.
struct generation_result {
  bool succeeded = true;
  std::vector<std::string> output;  ///< succeeded: the output URLs
  std::string failure;              ///< failed: for a person
  std::string failure_code;         ///< failed: for a program
};

/// The simulated generator (see the file comment). Thread-safe.
class simulated_generator {
 public:
  /// Hears each task that ends; called without the generator's lock held,
  /// on the generator's thread (system clock) or in run_due() (manual clock).
  using finish_fn = std::function<void(const std::string& task, const generation_result&)>;
  /// Claims a task for a worker (PENDING -> RUNNING); false: it cannot run
  /// (ended meanwhile), and the generator drops it. Called without the
  /// generator's lock held, on the thread of start() when pickup is 0.
  using claim_fn = std::function<bool(std::string_view task)>;

  simulated_generator(simulation_settings settings, server_clock clock)
      : settings_(std::move(settings)), clock_(std::move(clock)) {}
  simulated_generator(const simulated_generator&) = delete;
  simulated_generator& operator=(const simulated_generator&) = delete;
  ~simulated_generator() { stop(); }

  /// Sets where outcomes go (and who claims a task; none: every claim
  /// succeeds) and, on the system clock, starts the thread.
  void run(finish_fn on_finish, claim_fn on_claim = {}) {
    on_finish_ = std::move(on_finish);
    on_claim_ = std::move(on_claim);
    if (!clock_.manual()) thread_ = std::thread([this] { loop(); });
  }
  /// Stops the thread (tasks still running stay unfinished: after a restart
  /// the gate hands them to start() again).
  void stop() {
    {
      std::lock_guard lk(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  /**
   * Task `task` of `model` (producing `kind`) got its slot now: a worker
   * claims it after the pickup time (at once when it is 0, before this
   * returns) and runs it for the model's generation time from then on.
   */
  void start(std::string_view task, std::string_view model, tollgate::media_kind kind) {
    const auto now = clock_.now();
    const auto run_for = generation_time(model);
    const bool at_once = settings_.pickup.count() == 0;
    bool earliest = false;
    {
      std::lock_guard lk(mutex_);
      const auto [it, added] = running_.try_emplace(std::string(task), entry{now, now + settings_.pickup, run_for, kind, sequence_, false});
      if (!added) return;  // already here: a repeated start changes nothing
      ++sequence_;
      if (!at_once) earliest = schedule(it->first, it->second);
    }
    if (at_once) {
      if (claim(task)) mark_claimed(task, now);
      else (void)forget(task);
      return;
    }
    if (earliest) wake_.notify_all();  // the thread sleeps until the earliest due step: only a new earliest wakes it
  }

  /// Forgets a task that ended elsewhere (cancelled); false when unknown.
  bool forget(std::string_view task) {
    std::lock_guard lk(mutex_);
    const auto it = running_.find(task);
    if (it == running_.end()) return false;
    queue_.erase(key{it->second.due, it->second.sequence});
    running_.erase(it);
    return true;
  }

  /// How far a running task is, from 0 to 1; nullopt when it is not running here.
  [[nodiscard]] std::optional<double> progress(std::string_view task) const {
    std::lock_guard lk(mutex_);
    const auto it = running_.find(task);
    if (it == running_.end() || !it->second.claimed) return std::nullopt;
    const auto total = it->second.due - it->second.started;
    if (total.count() <= 0) return 1.0;
    const auto done = clock_.now() - it->second.started;
    const double p = static_cast<double>(done.count()) / static_cast<double>(total.count());
    return p < 0 ? 0.0 : p > 1 ? 1.0 : p;
  }

  /// Finishes every task due by now, earliest first (ties in start order);
  /// returns how many.
  std::size_t run_due() {
    std::size_t n = 0;
    while (auto next = take_due(clock_.now())) {
      if (auto* claimed = std::get_if<due_claim>(&*next)) {
        // The run starts when the claim was due, not when this loop got to
        // it: on the manual clock a task claimed and finished within one
        // advance takes exactly its generation time.
        if (claim(claimed->task)) mark_claimed(claimed->task, claimed->at);
        else (void)forget(claimed->task);
        continue;
      }
      auto& finished = std::get<due_finish>(*next);
      on_finish_(finished.task, finished.result);
      ++n;
    }
    return n;
  }

  /// The output URLs of a task that succeeded: OUTPUT_URL/TASK/0.EXT (png,
  /// mp3 or mp4 by what the model produces). A function of the id alone, so
  /// a task finished before a restart has the same outputs after it.
  [[nodiscard]] std::vector<std::string> outputs(std::string_view task, tollgate::media_kind kind) const {
    const char* extension = kind == tollgate::media_kind::image ? "png" : kind == tollgate::media_kind::audio ? "mp3" : "mp4";
    return {fmt::format("{}/{}/0.{}", settings_.output_url, task, extension)};
  }

  /// Tasks here (waiting for a worker or running).
  [[nodiscard]] std::size_t running() const {
    std::lock_guard lk(mutex_);
    return running_.size();
  }

  /// How long a task of `model` runs.
  [[nodiscard]] std::chrono::milliseconds generation_time(std::string_view model) const {
    const auto it = settings_.generation.find(model);
    return it == settings_.generation.end() ? settings_.default_generation : it->second;
  }

  /// Whether `task` fails: a hash of its id and the seed, below the share.
  [[nodiscard]] bool fails(std::string_view task) const noexcept {
    std::uint64_t h = 0xcbf29ce484222325ull ^ settings_.seed;  // FNV-1a, then a splitmix64 finish
    for (const char c : task) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h % 1'000'000 < settings_.failure_ppm;
  }

 private:
  struct entry {
    wall_time started;  // claimed: when the run began
    wall_time due;      // when the next step (the claim, or the end) is due
    std::chrono::milliseconds run_for;
    tollgate::media_kind kind;
    std::uint64_t sequence;
    bool claimed;
  };
  struct key {
    wall_time due;
    std::uint64_t sequence;
    friend bool operator<(const key& a, const key& b) {
      return a.due != b.due ? a.due < b.due : a.sequence < b.sequence;
    }
  };
  struct due_claim {
    std::string task;
    wall_time at;
  };
  struct due_finish {
    std::string task;
    generation_result result;
  };

  // Queues the entry's next step; true when it is now the earliest. Under the lock.
  bool schedule(const std::string& task, const entry& e) {
    const auto at = queue_.emplace(key{e.due, e.sequence}, &task).first;
    return at == queue_.begin();  // after the emplace: the operands of == are unsequenced
  }

  bool claim(std::string_view task) const { return !on_claim_ || on_claim_(task); }

  // A worker claimed `task` at `at`: its run begins then (unless it was forgotten meanwhile).
  void mark_claimed(std::string_view task, wall_time at) {
    bool earliest = false;
    {
      std::lock_guard lk(mutex_);
      const auto it = running_.find(task);
      if (it == running_.end() || it->second.claimed) return;
      entry& e = it->second;
      queue_.erase(key{e.due, e.sequence});
      e.claimed = true;
      e.started = at;
      e.due = at + e.run_for;
      earliest = schedule(it->first, e);
    }
    if (earliest) wake_.notify_all();
  }

  // Removes the earliest step due by `now`: a claim to make, or a task that ended.
  std::optional<std::variant<due_claim, due_finish>> take_due(wall_time now) {
    std::lock_guard lk(mutex_);
    if (queue_.empty() || queue_.begin()->first.due > now) return std::nullopt;
    std::string task = *queue_.begin()->second;
    const wall_time at = queue_.begin()->first.due;
    queue_.erase(queue_.begin());
    const auto it = running_.find(task);
    if (!it->second.claimed) return due_claim{std::move(task), at};  // stays in running_ until claimed
    const tollgate::media_kind kind = it->second.kind;
    running_.erase(it);
    generation_result r = outcome(task, kind);
    return due_finish{std::move(task), std::move(r)};
  }

  [[nodiscard]] generation_result outcome(const std::string& task, tollgate::media_kind kind) const {
    if (fails(task))
      return generation_result{false, {}, "The generation failed (simulated).", "INTERNAL.BAD_OUTPUT.CODE01"};
    return generation_result{true, outputs(task, kind), {}, {}};
  }

  // The system clock's thread: sleeps until the earliest task is due.
  void loop() {
    std::unique_lock lk(mutex_);
    while (!stopping_) {
      if (queue_.empty()) {
        wake_.wait(lk);
        continue;
      }
      const wall_time due = queue_.begin()->first.due;
      if (due > clock_.now()) {
        wake_.wait_until(lk, due);
        continue;
      }
      lk.unlock();
      run_due();
      lk.lock();
    }
  }

  const simulation_settings settings_;
  server_clock clock_;
  finish_fn on_finish_;
  claim_fn on_claim_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  struct id_hash : std::hash<std::string_view> {
    using is_transparent = void;
  };
  // By task id (hashed: a busy server runs many); each entry's next step in
  // queue_, which names the task by the key of running_ (stable while the
  // entry lives; both change together under the lock).
  std::unordered_map<std::string, entry, id_hash, std::equal_to<>> running_;
  std::map<key, const std::string*> queue_;
  std::uint64_t sequence_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace tollgate_server
