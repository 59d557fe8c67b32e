// Names the gate derives, so that a retry (in this process or after a
// restart) finds what the first call made: a task's id and the ledger keys
// of its hold, capture, release and notes come from a 128-bit hash of
// (account, the host's key); a purchase's ledger key from (account, key).
// Also the fingerprint of a job (a request identity for idempotency) and the
// hold note: what the gate writes on a task's hold so that a gate reopened
// on the journal rebuilds the task.
#pragma once

#include <charconv>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "../../ledger/detail/codec.hpp"
#include "../../pricing/usage.hpp"
#include "../types.hpp"

namespace tollgate::gate_detail {

using u64 = std::uint64_t;

/// 128 bits of (account, key): two XXH64 with different seeds over
/// "ACCOUNT\0KEY". Distinct (account, key) pairs collide with probability 2^-128.
struct digest {
  u64 hi = 0, lo = 0;
  friend bool operator==(const digest&, const digest&) = default;
};

[[nodiscard]] inline digest digest_of(std::string_view account, std::string_view key) {
  std::string buf;
  buf.reserve(account.size() + 1 + key.size());
  buf.append(account);
  buf.push_back('\0');
  buf.append(key);
  return {ledger_detail::xxh64(buf.data(), buf.size(), 0x746f6c6c67617465ull),
          ledger_detail::xxh64(buf.data(), buf.size(), 0x7461736b2d696473ull)};
}

/// The task id: the digest as a UUID (version 8, variant 10): 36 characters.
[[nodiscard]] inline std::string task_id_of(const digest& d) {
  const u64 hi = (d.hi & ~0xF000ull) | 0x8000ull;                 // version 8
  const u64 lo = (d.lo & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull;  // variant 10
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", hi >> 32, (hi >> 16) & 0xFFFF, hi & 0xFFFF, lo >> 48,
                     lo & 0xFFFFFFFFFFFFull);
}

/// The ledger key of a task step: the step's letter ("h" the hold, "c" the
/// capture, "r" the release, "nN" note N), a colon, the task id.
[[nodiscard]] inline std::string task_key(std::string_view step, std::string_view id) {
  std::string k;
  k.reserve(step.size() + 1 + id.size());
  k.append(step);
  k.push_back(':');
  k.append(id);
  return k;
}

/// The ledger key of a purchase by the host: "p:" + the digest in hex.
[[nodiscard]] inline std::string purchase_key(std::string_view account, std::string_view key) {
  const digest d = digest_of(account, key);
  return fmt::format("p:{:016x}{:016x}", d.hi, d.lo);
}

/// A request's identity: the model and every usage field (two requests with
/// the same key are the same request when their fingerprints agree).
[[nodiscard]] inline u64 fingerprint(const job& j) {
  std::string buf;
  buf.reserve(j.model.size() + 64);
  const auto put = [&](std::string_view s) {
    buf.append(s);
    buf.push_back('\x1f');
  };
  put(j.model);
  put(j.usage.seconds ? std::to_string(j.usage.seconds->count()) : "-");
  put(j.usage.outputs ? std::to_string(j.usage.outputs->value) : "-");
  put(j.usage.resolution ? "r" + *j.usage.resolution : "-");
  put(j.usage.audio ? "a" : "-");
  put(j.usage.text ? "t" + *j.usage.text : "-");
  return ledger_detail::xxh64(buf.data(), buf.size(), 0x6a6f622d66707231ull);
}

/**
 * The note on a task's hold: "g1 ID STATUS FINGERPRINT" (version 1; the
 * status as its number; the fingerprint in hex). The hold's tag is the
 * model and its creation time the task's: the note carries the rest.
 */
struct task_note {
  std::string id;
  task_status status = task_status::running;
  u64 fingerprint = 0;
  friend bool operator==(const task_note&, const task_note&) = default;
};

[[nodiscard]] inline std::string encode_note(const task_note& n) {
  return fmt::format("g1 {} {} {:016x}", n.id, static_cast<int>(n.status), n.fingerprint);
}

/// The note in `s`, or nullopt when it is not one the gate wrote (another
/// writer's hold: the gate leaves it alone).
[[nodiscard]] inline std::optional<task_note> decode_note(std::string_view s) {
  if (s.substr(0, 3) != "g1 ") return std::nullopt;
  s.remove_prefix(3);
  const auto sp = s.find(' ');
  if (sp == std::string_view::npos || sp == 0 || sp > 64) return std::nullopt;
  task_note n;
  n.id = std::string(s.substr(0, sp));
  s.remove_prefix(sp + 1);
  if (s.size() != 2 + 16 || s[1] != ' ') return std::nullopt;
  const int st = s[0] - '0';
  if (st != 1 && st != 2 && st != 3) return std::nullopt;  // only open tasks have holds
  n.status = static_cast<task_status>(st);
  const std::string_view hex = s.substr(2);
  const auto r = std::from_chars(hex.data(), hex.data() + hex.size(), n.fingerprint, 16);
  if (r.ec != std::errc{} || r.ptr != hex.data() + hex.size()) return std::nullopt;
  return n;
}

}  // namespace tollgate::gate_detail
