// The promotion schedule: for each account whose promotion waits only for time
// to pass, the time it is due (promotion_outlook's due_at), in an indexed
// binary min-heap. Setting or clearing an account's time costs O(log n);
// due(now) takes out every account due at or before now in O(k log n) for k
// accounts due, so a periodic sweep never walks the accounts that are not due.
// Accounts are set again whenever their facts change (a purchase), so the heap
// holds each account at most once. The memory follows the accounts scheduled.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../core/sync.hpp"
#include "detail/time.hpp"

namespace tollgate {

/**
 * Accounts by the time their next promotion is due.
 *
 * @tparam TimePoint the clock's time_point.
 * @tparam Y         the Sync policy: multi_thread (every member thread-safe)
 *                   or single_thread (the caller serialises).
 */
template <class TimePoint, Sync Y = multi_thread>
class basic_promotion_schedule {
 public:
  /// Schedules `account` at `due`, or takes it out when `due` is empty. O(log n).
  void set(std::string_view account, std::optional<TimePoint> due) {
    std::lock_guard lk(mutex_);
    if (due) place(account, tiers::detail::to_ns(*due));
    else erase(account);
  }

  /// Takes out and returns every account due at or before `now`, earliest
  /// first (ties in any order). O(k log n) for k accounts due.
  [[nodiscard]] std::vector<std::string> due(TimePoint now) {
    const std::int64_t t = tiers::detail::to_ns(now);
    std::vector<std::string> out;
    std::lock_guard lk(mutex_);
    while (!heap_.empty() && heap_.front().due <= t) {
      out.push_back(heap_.front().account);
      remove_at(0);
    }
    return out;
  }

  /// When the earliest account is due, if any.
  [[nodiscard]] std::optional<TimePoint> next_due() const {
    std::lock_guard lk(mutex_);
    if (heap_.empty()) return std::nullopt;
    return tiers::detail::from_ns<TimePoint>(heap_.front().due);
  }
  /// When `account` is due, if it is scheduled.
  [[nodiscard]] std::optional<TimePoint> due_of(std::string_view account) const {
    std::lock_guard lk(mutex_);
    const auto it = position_.find(std::string(account));
    if (it == position_.end()) return std::nullopt;
    return tiers::detail::from_ns<TimePoint>(heap_[it->second].due);
  }
  /// The number of accounts scheduled.
  [[nodiscard]] std::size_t size() const {
    std::lock_guard lk(mutex_);
    return heap_.size();
  }

 private:
  struct node {
    std::int64_t due;
    std::string account;
  };

  void place(std::string_view account, std::int64_t due) {
    const auto [it, fresh] = position_.try_emplace(std::string(account), heap_.size());
    if (fresh) {
      heap_.push_back(node{due, it->first});
      sift_up(heap_.size() - 1);
      return;
    }
    const std::size_t i = it->second;
    const std::int64_t old = heap_[i].due;
    heap_[i].due = due;
    if (due < old) sift_up(i);
    else sift_down(i);
  }

  void erase(std::string_view account) {
    const auto it = position_.find(std::string(account));
    if (it != position_.end()) remove_at(it->second);
  }

  // Removes heap_[i]: the last node takes its place and moves to where it belongs.
  void remove_at(std::size_t i) {
    position_.erase(heap_[i].account);
    const std::size_t last = heap_.size() - 1;
    if (i != last) {
      heap_[i] = std::move(heap_[last]);
      position_[heap_[i].account] = i;
    }
    heap_.pop_back();
    if (i < heap_.size()) {
      sift_up(i);
      sift_down(i);
    }
  }

  void swap_nodes(std::size_t a, std::size_t b) {
    std::swap(heap_[a], heap_[b]);
    position_[heap_[a].account] = a;
    position_[heap_[b].account] = b;
  }

  void sift_up(std::size_t i) {
    while (i > 0) {
      const std::size_t parent = (i - 1) / 2;
      if (heap_[parent].due <= heap_[i].due) return;
      swap_nodes(i, parent);
      i = parent;
    }
  }

  void sift_down(std::size_t i) {
    for (;;) {
      std::size_t least = i;
      for (std::size_t c = 2 * i + 1; c <= 2 * i + 2 && c < heap_.size(); ++c)
        if (heap_[c].due < heap_[least].due) least = c;
      if (least == i) return;
      swap_nodes(i, least);
      i = least;
    }
  }

  mutable typename Y::mutex_type mutex_;
  std::vector<node> heap_;
  std::unordered_map<std::string, std::size_t> position_;  // account -> index in heap_
};

}  // namespace tollgate
