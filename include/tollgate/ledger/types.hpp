// The vocabulary of the credit ledger: hold ids, the kinds of operations and
// entries, the system accounts of the double-entry book, and the values the
// ledger hands back (receipts, balances, statement entries, recovery reports).
// Everything here is a plain value type; basic_ledger (ledger.hpp) produces
// and consumes them. Types that carry a time are templates on the ledger
// clock's time_point so that a ledger on manual_clock and one on system_clock
// each speak their own time.
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "../core/money.hpp"

namespace tollgate {

/// Identifies one hold. Ids start at 1 and are never reused.
struct hold_id {
  std::uint64_t value = 0;
  friend auto operator<=>(const hold_id&, const hold_id&) = default;
};

/// What an operation does. The values are written to journals: never renumber.
enum class operation_kind : std::uint8_t {
  purchase = 1,   ///< credits bought with dollars at the account's credit price
  grant = 2,      ///< promotional or contractual credits, optionally expiring
  hold = 3,       ///< reserve credits for a job
  capture = 4,    ///< take (part of) a hold as usage, release the rest
  release = 5,    ///< return a whole hold
  charge = 6,     ///< hold + capture in one step
  adjust = 7,     ///< an operator's correction, with a reason
  set_price = 8,  ///< the account's credit price for later purchases
  expire = 9,     ///< settle timed-out holds and expired grants (no key)
};

/// The printable name of an operation kind ("charge").
[[nodiscard]] constexpr std::string_view to_string(operation_kind k) noexcept {
  switch (k) {
    case operation_kind::purchase: return "purchase";
    case operation_kind::grant: return "grant";
    case operation_kind::hold: return "hold";
    case operation_kind::capture: return "capture";
    case operation_kind::release: return "release";
    case operation_kind::charge: return "charge";
    case operation_kind::adjust: return "adjust";
    case operation_kind::set_price: return "set_price";
    case operation_kind::expire: return "expire";
  }
  return "unknown";
}

/// What a statement entry records. Stable values (snapshots store them).
enum class entry_kind : std::uint8_t {
  purchase = 1,       ///< sales -> customer
  grant = 2,          ///< grants -> customer
  hold = 3,           ///< customer -> holds (credits reserved)
  capture = 4,        ///< holds -> usage (credits used by a held job)
  release = 5,        ///< holds -> customer (a hold returned, or a capture's remainder)
  hold_expired = 6,   ///< holds -> customer (a hold past its timeout)
  charge = 7,         ///< customer -> usage (hold + capture in one)
  adjustment = 8,     ///< adjustments <-> customer (an operator's correction)
  grant_expired = 9,  ///< customer -> expired (an expired grant's remainder written off)
};

[[nodiscard]] constexpr std::string_view to_string(entry_kind k) noexcept {
  switch (k) {
    case entry_kind::purchase: return "purchase";
    case entry_kind::grant: return "grant";
    case entry_kind::hold: return "hold";
    case entry_kind::capture: return "capture";
    case entry_kind::release: return "release";
    case entry_kind::hold_expired: return "hold_expired";
    case entry_kind::charge: return "charge";
    case entry_kind::adjustment: return "adjustment";
    case entry_kind::grant_expired: return "grant_expired";
  }
  return "unknown";
}

/**
 * The two sides of a ledger entry. `customer` is the account the entry belongs
 * to (its available credits); the others are the ledger's system accounts,
 * where credits come from and go to, so the sum over all accounts is always
 * zero: `sales`, `grants` and `adjustments` go negative as they issue credits,
 * `holds` keeps the credits reserved by open holds in escrow, `usage`
 * collects what jobs consumed and `expired` what expired grants left over.
 */
enum class party : std::uint8_t {
  customer = 0,
  sales = 1,
  grants = 2,
  holds = 3,
  usage = 4,
  expired = 5,
  adjustments = 6,
};
/// Number of party values (customer plus six system accounts).
inline constexpr std::size_t party_count = 7;

[[nodiscard]] constexpr std::string_view to_string(party a) noexcept {
  switch (a) {
    case party::customer: return "customer";
    case party::sales: return "sales";
    case party::grants: return "grants";
    case party::holds: return "holds";
    case party::usage: return "usage";
    case party::expired: return "expired";
    case party::adjustments: return "adjustments";
  }
  return "unknown";
}

/**
 * When journal_storage acknowledges a write.
 *
 * - `every_op`: each call is written and fdatasync'ed before it returns;
 *   concurrent callers take turns. Nothing acknowledged is ever lost.
 * - `group_commit`: each call is durable before it returns, but concurrent
 *   callers share one fdatasync. Nothing acknowledged is ever lost.
 * - `none`: written to the OS before the call returns, synced only every
 *   tear-window bytes and on snapshot: survives a crash of the process, not
 *   of the machine.
 */
enum class durability : std::uint8_t { every_op, group_commit, none };

[[nodiscard]] constexpr std::string_view to_string(durability d) noexcept {
  switch (d) {
    case durability::every_op: return "every_op";
    case durability::group_commit: return "group_commit";
    case durability::none: return "none";
  }
  return "unknown";
}

/**
 * What a successful operation did. An idempotent retry (same key, same
 * request) gets the first call's receipt back with `replayed` set.
 */
template <class TimePoint>
struct basic_receipt {
  operation_kind kind{};
  std::uint64_t op = 0;   ///< the operation's id (1, 2, ...); a grant's id is its op id
  hold_id hold{};         ///< hold, capture, release: the hold
  credits amount;         ///< purchased / granted / held / captured / released / charged / adjusted
  credits released;       ///< capture: the remainder returned to the account
  usd paid;               ///< purchase: the dollars; set_price: the new price of a credit
  TimePoint at{};         ///< ledger time of the operation
  bool replayed = false;  ///< true when this is the stored result of an earlier call
};

/// An account's balance as of now (timed-out holds and expired grants settled).
template <class TimePoint>
struct basic_balance {
  credits available;   ///< what a new hold or charge may take
  credits held;        ///< reserved by open holds
  credits granted;     ///< the part of `available` that comes from grants
  credits purchased;   ///< credits bought to date (not reduced by spending)
  usd purchased_usd;   ///< dollars paid to date
  std::optional<TimePoint> first_purchase;  ///< time of the first purchase
};

/**
 * One line of an account's statement: `amount` credits moved from `from` to
 * `to`, where `party::customer` is the account itself. A capture moves credits
 * from `holds` to `usage` and leaves `available` alone; a hold moves them from
 * the customer into `holds`.
 */
template <class TimePoint>
struct basic_entry {
  std::uint64_t op = 0;          ///< the operation that made it
  TimePoint at{};
  entry_kind kind{};
  party from{};
  party to{};
  credits amount;                ///< always positive
  credits available_after;       ///< the account's available credits after this entry
  std::uint64_t ref = 0;         ///< the hold id (hold entries) or grant id (grant entries)
  usd paid;                      ///< purchases: the dollars paid (for rolling spend limits)
  std::string reason;            ///< adjustments: the operator's reason
};

/**
 * One operation of a batch (basic_ledger::apply). Build it with the static
 * functions. The string views must outlive the apply() call.
 *
 * `linked` chains an operation to the next one: a chain (a run of linked
 * operations and the first unlinked one after them) succeeds or fails as a
 * whole.
 */
template <class TimePoint>
struct basic_operation {
  using duration = typename TimePoint::duration;
  operation_kind kind{};
  std::string_view account;
  std::string_view key;
  credits amount;                     ///< grant, hold, capture, charge, adjust (signed)
  usd money;                          ///< purchase: dollars; set_price: per credit
  hold_id hold{};                     ///< capture, release
  std::optional<TimePoint> expires_at;  ///< grant: expires at this time
  std::optional<duration> expires_in;   ///< grant: expires this long after the operation
  std::optional<duration> timeout;      ///< hold
  std::string_view reason;            ///< adjust
  bool linked = false;

  [[nodiscard]] static basic_operation purchase(std::string_view account, usd dollars,
                                                std::string_view key) {
    basic_operation o;
    o.kind = operation_kind::purchase;
    o.account = account;
    o.money = std::move(dollars);
    o.key = key;
    return o;
  }
  [[nodiscard]] static basic_operation grant(std::string_view account, credits c,
                                             std::string_view key,
                                             std::optional<TimePoint> expires_at = {}) {
    basic_operation o;
    o.kind = operation_kind::grant;
    o.account = account;
    o.amount = std::move(c);
    o.key = key;
    o.expires_at = expires_at;
    return o;
  }
  /**
   * A grant expiring `expires_in` after the operation's ledger time. The
   * request names the duration, not a time, so a retry sent later is the
   * same request (with an absolute time computed from the sender's clock it
   * would differ on every retry).
   */
  [[nodiscard]] static basic_operation grant(std::string_view account, credits c, std::string_view key,
                                             duration expires_in) {
    basic_operation o = grant(account, std::move(c), key);
    o.expires_in = expires_in;
    return o;
  }
  [[nodiscard]] static basic_operation hold_credits(std::string_view account, credits c,
                                                    std::string_view key,
                                                    std::optional<duration> timeout = {}) {
    basic_operation o;
    o.kind = operation_kind::hold;
    o.account = account;
    o.amount = std::move(c);
    o.key = key;
    o.timeout = timeout;
    return o;
  }
  [[nodiscard]] static basic_operation capture(hold_id h, credits c, std::string_view key) {
    basic_operation o;
    o.kind = operation_kind::capture;
    o.hold = h;
    o.amount = std::move(c);
    o.key = key;
    return o;
  }
  [[nodiscard]] static basic_operation release(hold_id h, std::string_view key) {
    basic_operation o;
    o.kind = operation_kind::release;
    o.hold = h;
    o.key = key;
    return o;
  }
  [[nodiscard]] static basic_operation charge(std::string_view account, credits c,
                                              std::string_view key) {
    basic_operation o;
    o.kind = operation_kind::charge;
    o.account = account;
    o.amount = std::move(c);
    o.key = key;
    return o;
  }
  [[nodiscard]] static basic_operation adjust(std::string_view account, credits signed_amount,
                                              std::string_view key, std::string_view reason) {
    basic_operation o;
    o.kind = operation_kind::adjust;
    o.account = account;
    o.amount = std::move(signed_amount);
    o.key = key;
    o.reason = reason;
    return o;
  }
  [[nodiscard]] static basic_operation set_price(std::string_view account,
                                                 const credit_price& price,
                                                 std::string_view key) {
    basic_operation o;
    o.kind = operation_kind::set_price;
    o.account = account;
    o.money = price.per_credit();
    o.key = key;
    return o;
  }
  /// Returns a copy chained to the next operation of the batch.
  [[nodiscard]] basic_operation link() const {
    basic_operation o = *this;
    o.linked = true;
    return o;
  }
};

/// Behaviour of a ledger that does not depend on its storage.
struct ledger_options {
  /// The credit price of accounts without their own (set_price): $0.01.
  credit_price price{};
  /**
   * How long an idempotency key is remembered, in ledger time, counted from
   * the operation that used it. A retry after that is a new operation.
   * `key_retention_forever` keeps every key.
   */
  std::chrono::seconds key_retention = std::chrono::hours(24 * 7);
  /// Check every invariant after opening (replaying) a ledger: O(entries).
  bool check_invariants_on_open = true;
};

/// A key retention that never forgets a key.
inline constexpr std::chrono::seconds key_retention_forever = std::chrono::seconds::max();

/// What opening a ledger found and did.
struct recovery_report {
  std::uint64_t records = 0;          ///< journal records replayed (after the snapshot)
  std::uint64_t operations = 0;       ///< operations in the ledger
  bool snapshot_used = false;         ///< state was loaded from a snapshot first
  std::uint64_t snapshot_records = 0; ///< records the snapshot covered
  bool torn_tail = false;             ///< an unacknowledged, torn last write was found
  std::uint64_t torn_offset = 0;      ///< where it started
  std::uint64_t torn_bytes = 0;       ///< how many bytes it spanned
  bool torn_tail_cut = false;         ///< and it was zeroed (writable opens only)
  std::string torn_copy;              ///< where its bytes were copied before it was zeroed
  std::uint64_t end_offset = 0;       ///< where the next record goes
  std::string notes;                  ///< anything else a person should know, one per line
};

/// What journal_storage::repair() kept and cut.
struct repair_report {
  std::uint64_t records = 0;     ///< records kept (all before cut_offset)
  std::uint64_t cut_offset = 0;  ///< where the journal now ends
  std::uint64_t cut_bytes = 0;   ///< bytes copied aside and zeroed (0: only the header was rewritten)
  std::string copy;              ///< where they were copied (FILE.cut-OFFSET), "" when none
};

/// Totals over the whole ledger, for operators and verification.
struct ledger_totals {
  std::uint64_t accounts = 0;
  std::uint64_t operations = 0;
  std::uint64_t entries = 0;
  std::uint64_t open_holds = 0;
  credits available;                         ///< sum over customer accounts
  credits held;                              ///< sum over open holds
  credits purchased;                         ///< credits sold to date
  usd purchased_usd;                         ///< dollars paid to date
  /// Balance of each system account, indexed by party (customer: the sum of
  /// available credits over all customer accounts).
  credits balances[party_count];
};

}  // namespace tollgate

template <>
struct fmt::formatter<tollgate::hold_id> : fmt::formatter<std::uint64_t> {
  template <class FormatContext>
  auto format(tollgate::hold_id h, FormatContext& ctx) const {
    return fmt::formatter<std::uint64_t>::format(h.value, ctx);
  }
};
