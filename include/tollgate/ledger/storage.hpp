// Storage policies of basic_ledger. The ledger keeps its whole state in
// memory; a storage policy decides whether and how committed operations are
// made durable and replayed on open. `memory_storage` keeps nothing (tests,
// simulations, a ledger rebuilt from elsewhere); `journal_storage`
// (journal_storage.hpp) writes an append-only, checksummed file.
#pragma once

#include <concepts>
#include <utility>

#include "../core/error.hpp"

namespace tollgate {

/**
 * A storage policy: a `config` type, a static `open(config) -> result<S>`,
 * and `persistent`. A persistent storage also provides (see journal_storage
 * for the reference model and the exact contracts):
 *
 * | member | what it does |
 * | --- | --- |
 * | `replay(sink) -> result<recovery_report>` | feeds the snapshot and every record to the ledger |
 * | `begin_frame(buf)`, `end_frame(buf, pos, seq, durable_through, prev) -> chain` | frame a record in the ledger's buffer, chained to the one before |
 * | `chain()` | after replay: the chain value the next record follows |
 * | `durable_through()` | the highest sequence number synced so far (thread-safe) |
 * | `write(bytes) -> result<void>` | appends whole frames, at most `max_write()` bytes |
 * | `sync() -> result<void>` | makes everything written durable |
 * | `write_snapshot(bytes) -> result<void>` | atomically replaces the snapshot |
 * | `mode()`, `read_only()`, `next_seq()`, `max_payload()` | its settings and position |
 */
template <class S>
concept LedgerStorage = requires {
  typename S::config;
  { S::persistent } -> std::convertible_to<bool>;
} && requires(typename S::config c) {
  { S::open(std::move(c)) } -> std::same_as<result<S>>;
};

/**
 * Keeps nothing: the ledger lives and dies with the process. Operations are
 * acknowledged as soon as they are applied in memory. Thread-safe (stateless).
 */
struct memory_storage {
  struct config {};
  static constexpr bool persistent = false;
  [[nodiscard]] static result<memory_storage> open(config = {}) { return memory_storage{}; }
};

static_assert(LedgerStorage<memory_storage>);

}  // namespace tollgate
