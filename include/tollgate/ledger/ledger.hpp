// basic_ledger: prepaid credit balances with holds, captures, grants and
// idempotency keys, as a double-entry book. Every change is an immutable entry
// between a customer account and a system account (sales, grants, holds,
// usage, expired, adjustments), so the sum over all accounts is zero and each
// balance is the sum of its entries; available credits never go below zero.
// The ledger applies operations in memory (ledger_detail::state) and hands
// each committed call to its storage policy as one record: memory_storage
// keeps nothing, journal_storage makes it durable before the call returns.
// The clock, the storage and the locking are policies (ledger_traits).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include "../core/clock.hpp"
#include "../core/error.hpp"
#include "../core/money.hpp"
#include "../core/sync.hpp"
#include "detail/codec.hpp"
#include "detail/state.hpp"
#include "journal_storage.hpp"
#include "storage.hpp"
#include "types.hpp"

namespace tollgate {

/**
 * The policies of a ledger.
 * @tparam C  the Clock that stamps entries (system_clock in production,
 *            manual_clock in tests). Ledger time never runs backwards: an
 *            operation is stamped max(clock, last stamp).
 * @tparam S  the LedgerStorage: memory_storage or journal_storage<FileSystem>.
 * @tparam Y  the Sync policy: multi_thread (one mutex around the ledger) or
 *            single_thread (no locking; the caller serialises).
 */
template <Clock C = std::chrono::system_clock, LedgerStorage S = memory_storage,
          Sync Y = multi_thread>
struct ledger_traits {
  using clock = C;
  using storage = S;
  using sync = Y;
};

/**
 * A prepaid-credit ledger.
 *
 * @tparam Traits a ledger_traits (or any struct with `clock`, `storage` and
 *         `sync` member types meeting Clock, LedgerStorage and Sync).
 *
 * Every operation takes an idempotency key (1-128 printable ASCII bytes,
 * global to the ledger): the same key with the same request returns the first
 * call's receipt (with `replayed` set) and changes nothing; with a different
 * request it is errc::idempotency_conflict. A failed operation leaves no trace
 * and does not use up its key. Keys are kept for `ledger_options::key_retention`
 * of ledger time and survive restarts.
 *
 * Failed writes: errc::storage_failure means the outcome is unknown until the
 * journal is reopened (the record may or may not have reached the disk); the
 * ledger state in memory is rolled back to the last durable point and the
 * ledger refuses writes (errc::read_only) but stays readable. Reopen and
 * retry with the same key: idempotency makes that exactly-once.
 *
 * Thread-safe with Sync = multi_thread (every member); with single_thread the
 * caller must serialise all calls.
 */
template <class Traits = ledger_traits<>>
class basic_ledger {
  static_assert(Clock<typename Traits::clock>, "tollgate: Traits::clock must model Clock");
  static_assert(LedgerStorage<typename Traits::storage>,
                "tollgate: Traits::storage must model LedgerStorage (memory_storage, journal_storage)");
  static_assert(Sync<typename Traits::sync>, "tollgate: Traits::sync must model Sync");

 public:
  using traits_type = Traits;
  using clock_type = typename Traits::clock;
  using time_point = typename clock_type::time_point;
  using duration = typename clock_type::duration;
  using storage_type = typename Traits::storage;
  using storage_config = typename storage_type::config;
  using sync_type = typename Traits::sync;
  using receipt = basic_receipt<time_point>;
  using balance_type = basic_balance<time_point>;
  using entry = basic_entry<time_point>;
  using operation = basic_operation<time_point>;

  static constexpr bool persistent = storage_type::persistent;

  /// An in-memory ledger (storage that cannot fail to open).
  explicit basic_ledger(ledger_options options = {}, clock_type clock = {})
    requires(!persistent)
      : basic_ledger(tag{}, std::move(options), std::move(clock)) {
    storage_.emplace(*storage_type::open({}));
  }

  /**
   * Opens a ledger on `config` (for a journal: creates or replays the file,
   * cuts a torn tail after copying it to FILE.torn-OFFSET, checks every
   * invariant).
   * @return the ledger; or errc::locked, errc::corrupt_journal (with the
   *         offset and reason), errc::storage_failure (a torn tail could not
   *         be copied aside; nothing was cut), errc::io_error.
   */
  [[nodiscard]] static result<std::unique_ptr<basic_ledger>> open(storage_config config,
                                                                  ledger_options options = {},
                                                                  clock_type clock = {}) {
    auto st = storage_type::open(std::move(config));
    if (!st) return st.error();
    std::unique_ptr<basic_ledger> l(new basic_ledger(tag{}, std::move(options), std::move(clock)));
    l->storage_.emplace(std::move(*st));
    if constexpr (persistent) {
      replay_sink sink{*l};
      auto rep = l->storage_->replay(sink);
      if (!rep) return rep.error();
      l->recovery_ = std::move(*rep);
      l->next_record_seq_ = l->storage_->next_seq();
      l->chain_ = l->storage_->chain();
      l->durable_seq_ = l->next_record_seq_ - 1;
      l->recovery_.operations = l->state_.operations();
      l->state_.evict_keys(l->now_ns());
      if (l->storage_->read_only()) {
        l->read_only_ = true;
        l->failure_ = "the journal was opened read-only";
      }
    }
    return l;
  }

  /**
   * Keeps the records of the journal before offset `truncate_at` and cuts
   * the rest, after copying it to FILE.cut-OFFSET: what an operator does
   * when an open is refused as damaged or incomplete and no backup holds
   * what was lost (the refusal names the offset). See
   * journal_storage::repair() for the rules and errors. Not for a journal
   * a ledger has open (errc::locked).
   */
  [[nodiscard]] static result<repair_report> repair(storage_config config, std::uint64_t truncate_at)
    requires persistent
  {
    return storage_type::repair(std::move(config), truncate_at);
  }

  basic_ledger(const basic_ledger&) = delete;
  basic_ledger& operator=(const basic_ledger&) = delete;

  // ------------------------------------------------------------ operations

  /**
   * Credits `account` with what `dollars` buy at its credit price (truncated
   * to the micro-credit: a customer never gets credits they did not pay for),
   * recorded as a purchase. Creates the account.
   * Errors: invalid_account, invalid_amount (not positive, buys nothing),
   * overflow, idempotency_conflict, storage_failure, read_only.
   */
  [[nodiscard]] result<receipt> purchase(std::string_view account, const usd& dollars,
                                         std::string_view key) {
    return run(operation::purchase(account, dollars, key));
  }

  /**
   * Grants promotional or contractual credits (not a purchase). Grants are
   * spent before purchased credits, the soonest-expiring first; at
   * `expires_at` what is left is written off by a grant_expired entry.
   */
  [[nodiscard]] result<receipt> grant(std::string_view account, const credits& amount,
                                      std::string_view key,
                                      std::optional<time_point> expires_at = {}) {
    return run(operation::grant(account, amount, key, expires_at));
  }
  /**
   * The same, expiring `expires_in` after the operation's ledger time (must
   * be positive). The request keeps the duration: a retry sent later is the
   * same request and gets the first receipt, where an expiry computed from
   * the caller's clock would differ on every retry (idempotency_conflict).
   */
  [[nodiscard]] result<receipt> grant(std::string_view account, const credits& amount,
                                      std::string_view key, duration expires_in) {
    return run(operation::grant(account, amount, key, expires_in));
  }

  /**
   * Reserves `amount` credits for a job; `receipt.hold` identifies the hold.
   * A hold past its `timeout` is released on the next operation touching the
   * account or by expire_holds(). Errors: insufficient_credits (with what is
   * available), invalid_amount, invalid_argument (timeout), and the common ones.
   */
  [[nodiscard]] result<receipt> hold(std::string_view account, const credits& amount,
                                     std::string_view key,
                                     std::optional<duration> timeout = {}) {
    return run(operation::hold_credits(account, amount, key, timeout));
  }

  /**
   * Takes `amount` (<= held, may be 0) of an open hold as usage and returns
   * the rest to the account. Errors: unknown_hold (no such hold, or already
   * captured/released/timed out: the message says which), hold_exceeded.
   */
  [[nodiscard]] result<receipt> capture(hold_id hold, const credits& amount, std::string_view key) {
    return run(operation::capture(hold, amount, key));
  }

  /// Returns a whole open hold to the account. Errors: unknown_hold.
  [[nodiscard]] result<receipt> release(hold_id hold, std::string_view key) {
    return run(operation::release(hold, key));
  }

  /// Hold + capture in one: takes `amount` from the account as usage.
  [[nodiscard]] result<receipt> charge(std::string_view account, const credits& amount,
                                       std::string_view key) {
    return run(operation::charge(account, amount, key));
  }

  /**
   * An operator's correction: positive adds credits (never expiring, not a
   * purchase), negative removes available credits (grants first, like
   * spending). `reason` (1-1024 bytes, no control characters) is kept with
   * the entry.
   */
  [[nodiscard]] result<receipt> adjust(std::string_view account, const credits& signed_amount,
                                       std::string_view key, std::string_view reason) {
    return run(operation::adjust(account, signed_amount, key, reason));
  }

  /// Sets the account's credit price for later purchases (default: ledger_options::price).
  [[nodiscard]] result<receipt> set_price(std::string_view account, const credit_price& price,
                                          std::string_view key) {
    return run(operation::set_price(account, price, key));
  }

  /**
   * Applies a batch as one durable record. Linked chains (operation::link())
   * succeed or fail as a whole; a failed chain leaves no trace, and its other
   * operations report "not applied" with the failing one's code. Unchained
   * operations succeed or fail on their own. Returns one result per operation.
   */
  [[nodiscard]] std::vector<result<receipt>> apply(std::span<const operation> ops) {
    using namespace ledger_detail;
    std::vector<result<receipt>> out;
    out.reserve(ops.size());
    // Before the lock: a bound on the record's size, and each operation's
    // hashes (key, account id), so that the index slots can be prefetched.
    std::vector<std::pair<u64, u64>> hashes(ops.size());
    std::size_t size = record_header_size;
    for (std::size_t i = 0; i < ops.size(); ++i) {
      op_in h = shape(ops[i]);
      state::hash_key(h);
      hashes[i] = {h.key_hash, h.account_hash};
      size += state::encoded_size(h);
    }
    std::unique_lock lk(mutex_);
    if (auto w = check_writable(); !w) {
      for (std::size_t i = 0; i < ops.size(); ++i) out.emplace_back(w.error());
      return out;
    }
    if constexpr (persistent) {
      // The bound above counts operations whose amounts do not convert as
      // whole operations; they take no room, so a batch near the limit is
      // measured again without them before it is refused.
      if (size > storage_->max_payload()) size = exact_size(ops);
      if (size > storage_->max_payload()) {
        for (std::size_t i = 0; i < ops.size(); ++i)
          out.emplace_back(errc::invalid_argument,
                           fmt::format("the batch encodes to {} bytes; one journal record holds "
                                       "at most {}: split the batch",
                                       size, storage_->max_payload()));
        return out;
      }
      state_.set_record_seq(next_record_seq_);
    }
    // Each new key's index slot is a cache miss: ask for it a few operations
    // before it is needed, so the misses overlap instead of queueing.
    constexpr std::size_t prefetch_distance = 8;
    for (std::size_t i = 0; i < std::min(prefetch_distance, ops.size()); ++i)
      state_.prefetch_key(hashes[i].first);
    const i64 now = now_ns();
    state_.evict_keys(now);
    // The record is encoded as the operations apply, into room reserved for
    // the bound (reserving may throw; nothing has changed yet).
    std::size_t pos = 0;
    std::byte* count_at = nullptr;
    span_writer w(nullptr, nullptr);
    if constexpr (persistent) {
      pos = storage_type::begin_frame(pending_);
      const std::size_t at = pending_.size();
      try {
        if (at + size > pending_.capacity()) pending_.reserve(std::max(at + size, 2 * pending_.capacity()));
        pending_.resize(at + size);
      } catch (...) {
        pending_.resize(pos);
        throw;
      }
      w = span_writer(pending_.data() + at, pending_.data() + at + size);
      w.u8v(record_format);
      w.i64v(now);
      count_at = w.position();
      w.u32v(0);  // the count, once known
    }
    u32 applied = 0;  // new (not replayed) operations in the record
    u64 wait_seq = 0;
    // From the first change on, nothing may throw half-way: an allocation
    // failure ends the process instead (see no_throw).
    const result<void> durable = no_throw([&]() -> result<void> {
      const savepoint batch_sp = state_.mark();
      for (std::size_t begin = 0; begin < ops.size();) {
        std::size_t end = begin;
        while (end < ops.size() && ops[end].linked) ++end;
        const bool open_chain = end == ops.size();
        if (open_chain) end = ops.size() - 1;
        // The chain is ops[begin..end]. A chain of one needs no savepoint:
        // a failed operation leaves no trace by itself.
        const bool single = begin == end;
        const savepoint chain_sp = single ? savepoint{} : state_.mark();
        const u32 applied_mark = applied;
        std::byte* const chain_at = w.position();
        // Retries in the chain wait for their originals' records only if the
        // chain stands: a retry of a key first used earlier in this chain
        // points at the record this batch is building, which a failed chain
        // may leave unwritten (waiting for it would never end).
        u64 chain_wait = 0;
        std::optional<std::pair<std::size_t, tollgate::error>> failed;
        if (open_chain)
          failed.emplace(end, tollgate::error(errc::invalid_argument,
                                              "the last operation of the batch is linked to nothing; "
                                              "unlink it to close the chain"));
        for (std::size_t i = begin; i <= end && !failed; ++i) {
          auto c = convert(ops[i]);
          if (!c) {
            failed.emplace(i, c.error());
            break;
          }
          op_in& in = *c;
          in.key_hash = hashes[i].first;
          in.account_hash = hashes[i].second;
          if (i + prefetch_distance < ops.size()) state_.prefetch_key(hashes[i + prefetch_distance].first);
          auto r = state_.apply(in, now, false);
          if (!r) {
            failed.emplace(i, r.error());
            break;
          }
          if (r->replayed) {
            chain_wait = std::max(chain_wait, r->record_seq);
          } else {
            ++applied;
            if constexpr (persistent) state::encode_op(w, in, *r);
          }
          out.emplace_back(to_receipt(*r));
        }
        if (failed) {
          if (!single) state_.rollback(chain_sp);
          applied = applied_mark;
          w.rewind(chain_at);
          while (out.size() > begin) out.pop_back();
          for (std::size_t i = begin; i <= end; ++i) {
            if (i == failed->first) out.emplace_back(failed->second);
            else
              out.emplace_back(tollgate::error(
                  failed->second.code(),
                  fmt::format("not applied: operation {} of its linked chain failed: {}",
                              failed->first, failed->second.message())));
          }
        } else {
          wait_seq = std::max(wait_seq, chain_wait);
        }
        begin = end + 1;
      }
      result<void> d;
      if constexpr (persistent) {
        if (applied != 0) {
          store_le<u32>(count_at, applied);
          pending_.resize(static_cast<std::size_t>(w.position() - pending_.data()));
          d = commit_record(lk, pos, batch_sp);
        } else {
          pending_.resize(pos);
          trim_undo();
        }
      } else {
        if (applied != 0) state_.forget_all_undo();
        else trim_undo();
      }
      if (d && wait_seq != 0) d = wait_durable(lk, wait_seq);
      return d;
    });
    if (!durable)
      for (auto& r : out)
        if (r) r = durable.error();
    return out;
  }

  /**
   * Checks everything about `o` that does not depend on a ledger's state:
   * its kind, key and account id, the amount's sign and range (the issue
   * limit, the largest purchase), a hold's timeout, a reason's text. An
   * operation it refuses is refused by every ledger with the same error, and
   * one it passes may still be refused by the state (insufficient credits,
   * an unknown hold, a key used for another request, a grant expiring in the
   * past). Lets a caller refuse bad input before it opens a journal for
   * writing (which cuts a torn tail). Thread-safe (touches no ledger).
   */
  [[nodiscard]] static result<void> validate(const operation& o) {
    using namespace ledger_detail;
    auto c = convert(o);
    if (!c) return c.error();
    if (auto r = check_key(c->key); !r) return r;
    if (o.kind != operation_kind::capture && o.kind != operation_kind::release)
      if (auto r = check_account_id(c->account); !r) return r;
    return state::check_request(*c);
  }

  /**
   * Settles every hold whose timeout has passed and writes off every expired
   * grant, as of `now` (ledger time never goes back: the later of `now` and
   * the last operation). Returns how many holds and grants it settled.
   * Errors: invalid_argument, changing nothing, for a `now` later than the
   * ledger's clock reads: ledger time never goes back, so settling at a
   * future time would time out holds and write off grants early for good.
   */
  [[nodiscard]] result<std::size_t> expire_holds(time_point now) {
    using namespace ledger_detail;
    std::unique_lock lk(mutex_);
    if (auto w = check_writable(); !w) return w.error();
    if (const i64 clock_ns = to_ns(clock_.now()); to_ns(now) > clock_ns)
      return result<std::size_t>(
          errc::invalid_argument,
          fmt::format("expire_holds: the time given ({} ns since the clock's epoch) is {} ns after the "
                      "ledger clock's now; settling in the future would time out holds and expire "
                      "grants early, and ledger time never goes back. Pass the clock's now, or omit it",
                      to_ns(now), to_ns(now) - clock_ns));
    const i64 t = std::max(std::min(to_ns(now), ledger_detail::never - 1), state_.last_time());
    if constexpr (persistent) state_.set_record_seq(next_record_seq_);
    return no_throw([&]() -> result<std::size_t> {
      const savepoint sp = state_.mark();
      const u64 n = state_.expire_all(t);
      if (n == 0) return std::size_t{0};
      if constexpr (persistent) {
        const std::size_t pos = storage_type::begin_frame(pending_);
        writer w(pending_);
        w.u8v(record_format);
        w.i64v(t);
        w.u32v(1);
        w.u8v(static_cast<u8>(operation_kind::expire));
        if (auto d = commit_record(lk, pos, sp); !d) return d.error();
      } else {
        state_.forget_all_undo();
      }
      return static_cast<std::size_t>(n);
    });
  }
  /// expire_holds() at the clock's now.
  [[nodiscard]] result<std::size_t> expire_holds() { return expire_holds(clock_.now()); }

  // ------------------------------------------------------------ reads

  /**
   * The account's balance as of now, with timed-out holds and expired grants
   * already counted as settled. An account that never had an operation has
   * a zero balance. Errors: invalid_account.
   */
  [[nodiscard]] result<balance_type> balance(std::string_view account) const {
    if (auto r = ledger_detail::check_account_id(account); !r) return r.error();
    std::unique_lock lk(mutex_);
    const auto v = state_.balance(account, now_ns());
    balance_type b;
    if (!v) return b;
    b.available = ledger_detail::to_credits(v->available);
    b.held = ledger_detail::to_credits(v->held);
    b.granted = ledger_detail::to_credits(v->granted);
    b.purchased = ledger_detail::to_credits(v->purchased);
    b.purchased_usd = ledger_detail::to_usd(v->purchased_usd);
    if (v->first_purchase != ledger_detail::never) b.first_purchase = to_time(v->first_purchase);
    return b;
  }

  /**
   * The account's entries stamped in [from, to), oldest first. Settlement of
   * timed-out holds appears once it has been written (on the next operation
   * touching the account, or expire_holds()). Errors: invalid_account.
   */
  [[nodiscard]] result<std::vector<entry>> statement(std::string_view account, time_point from,
                                                     time_point to) const {
    if (auto r = ledger_detail::check_account_id(account); !r) return r.error();
    std::unique_lock lk(mutex_);
    std::vector<entry> out;
    const auto a = state_.find_account(account);
    if (!a) return out;
    const ledger_detail::i64 f = to_ns(from), t = to_ns(to);
    const auto& idx = state_.account(*a).entries;
    const auto& all = state_.entries();
    auto it = std::lower_bound(idx.begin(), idx.end(), f,
                               [&](std::uint64_t e, ledger_detail::i64 v) { return all[e].at < v; });
    for (; it != idx.end() && all[*it].at < t; ++it) {
      const auto& e = all[*it];
      entry x;
      x.op = e.op;
      x.at = to_time(e.at);
      x.kind = e.kind;
      x.from = e.from;
      x.to = e.to;
      x.amount = ledger_detail::to_credits(e.amount);
      x.available_after = ledger_detail::to_credits(e.available_after);
      x.ref = e.ref;
      if (e.kind == entry_kind::adjustment) x.reason = state_.reason(e.ref);
      if (e.kind == entry_kind::purchase) {
        x.paid = ledger_detail::to_usd(state_.purchase_usd(e.ref));
        x.ref = 0;  // internal: the index of the dollar amount
      }
      out.push_back(std::move(x));
    }
    return out;
  }
  /// Every entry of the account.
  [[nodiscard]] result<std::vector<entry>> statement(std::string_view account) const {
    return statement(account, time_point::min(), time_point::max());
  }

  /// The stored result of the operation that used `key`, if it is remembered.
  [[nodiscard]] std::optional<receipt> lookup(std::string_view key) const {
    std::unique_lock lk(mutex_);
    auto r = state_.lookup(key);
    if (!r) return std::nullopt;
    return to_receipt(*r);
  }

  /// Checks every invariant, including that each balance is the sum of its
  /// entries (O(entries)). errc::corrupt_journal names the one violated.
  [[nodiscard]] result<void> check_invariants() const {
    std::unique_lock lk(mutex_);
    return state_.check_invariants(true);
  }

  /// Totals over the whole ledger.
  [[nodiscard]] ledger_totals totals() const {
    using namespace ledger_detail;
    std::unique_lock lk(mutex_);
    ledger_totals t;
    t.accounts = state_.account_count();
    t.operations = state_.operations();
    t.entries = state_.entries().size();
    t.open_holds = state_.open_hold_count();
    i128 avail = 0, held = 0, purchased = 0, usd_total = 0;
    for (u32 a = 0; a < state_.account_count(); ++a) {
      const auto& s = state_.account(a).s;
      avail += s.paid + s.granted;
      held += s.held;
      purchased += s.purchased;
      usd_total += s.purchased_usd;
    }
    t.available = to_credits(avail);
    t.held = to_credits(held);
    t.purchased = to_credits(purchased);
    t.purchased_usd = to_usd(usd_total);
    t.balances[0] = to_credits(avail);
    for (std::size_t p = 1; p < party_count; ++p)
      t.balances[p] = to_credits(state_.system_balance(static_cast<party>(p)));
    return t;
  }

  /// The ids of all accounts, in creation order.
  [[nodiscard]] std::vector<std::string> accounts() const {
    std::unique_lock lk(mutex_);
    std::vector<std::string> out;
    out.reserve(state_.account_count());
    for (ledger_detail::u32 a = 0; a < state_.account_count(); ++a)
      out.push_back(state_.account(a).name);
    return out;
  }

  /// True once the ledger refuses writes (read-only open, or a storage failure).
  [[nodiscard]] bool read_only() const {
    std::unique_lock lk(mutex_);
    return read_only_;
  }
  /// Why the ledger is read-only ("" when it is not).
  [[nodiscard]] std::string read_only_reason() const {
    std::unique_lock lk(mutex_);
    return failure_;
  }
  /// What opening found (torn tail, snapshot use, record count).
  [[nodiscard]] const recovery_report& recovery() const noexcept { return recovery_; }
  /// The clock.
  [[nodiscard]] const clock_type& clock() const noexcept { return clock_; }

  /**
   * Writes a snapshot of the whole state so the next open replays only the
   * records after it (persistent storage only). Makes everything durable
   * first. A failed snapshot file changes nothing (errc::io_error); a failed
   * fdatasync of the journal on the way (durability none) is a storage
   * failure like any other (errc::storage_failure, the ledger turns read-only).
   */
  [[nodiscard]] result<void> snapshot()
    requires persistent
  {
    std::unique_lock lk(mutex_);
    if (auto w = check_writable(); !w) return w;
    if constexpr (sync_type::is_thread_safe)
      while (flushing_) cv_.wait(lk);
    if (auto f = flush_locked(); !f) return f;
    std::vector<std::byte> buf;
    state_.serialize(buf);
    auto w = storage_->write_snapshot(buf);
    // With durability none the snapshot first syncs the journal. If that
    // fdatasync fails the storage refuses every later write, and the ledger
    // says so now rather than on the next write.
    if (!w && storage_->failed()) fail_all(w.error());
    return w;
  }

 private:
  using i64 = ledger_detail::i64;
  using u64 = ledger_detail::u64;
  using u32 = ledger_detail::u32;
  using u8 = ledger_detail::u8;
  using savepoint = ledger_detail::savepoint;
  using receipt_rec = ledger_detail::receipt_rec;
  using op_in = ledger_detail::op_in;
  using mutex_type = typename sync_type::mutex_type;

  static constexpr u8 record_format = 1;
  static constexpr std::size_t record_header_size = 1 + 8 + 4;

  struct tag {};
  struct no_cv {
    template <class L>
    void wait(L&) {}
    void notify_all() {}
  };
  using cv_type = std::conditional_t<sync_type::is_thread_safe, std::condition_variable_any, no_cv>;

  basic_ledger(tag, ledger_options options, clock_type clock)
      : clock_(std::move(clock)),
        options_(std::move(options)),
        state_(*ledger_detail::to_i128(options_.price.per_credit()), retention_ns(options_)) {}

  static i64 retention_ns(const ledger_options& o) {
    if (o.key_retention == key_retention_forever || o.key_retention.count() < 0) return -1;
    if (o.key_retention > std::chrono::duration_cast<std::chrono::seconds>(std::chrono::nanoseconds::max()))
      return -1;
    return std::chrono::duration_cast<std::chrono::nanoseconds>(o.key_retention).count();
  }

  // ------------------------------------------------------------ time

  template <class D>
  static i64 to_ns(D d) {
    using namespace std::chrono;
    if constexpr (std::is_same_v<D, nanoseconds>) return d.count();  // the common case, exact
    const auto lim = duration_cast<std::chrono::duration<long double, std::nano>>(d).count();
    if (lim >= static_cast<long double>(ledger_detail::never)) return ledger_detail::never - 1;
    if (lim <= static_cast<long double>(-ledger_detail::never)) return -ledger_detail::never;
    return duration_cast<nanoseconds>(d).count();
  }
  static i64 to_ns(time_point tp) { return to_ns(tp.time_since_epoch()); }
  static time_point to_time(i64 ns) {
    return time_point(std::chrono::duration_cast<duration>(std::chrono::nanoseconds(ns)));
  }
  // Ledger time stays below `never` (a clock at its largest time point reads
  // as one tick before it): an operation at `never` would record a time that
  // means "no time" (a first purchase at `never` reads as none).
  i64 now_ns() const {
    return std::max(std::min(to_ns(clock_.now()), ledger_detail::never - 1), state_.last_time());
  }

  // ------------------------------------------------------------ conversion

  // The parts of an operation its encoded size depends on (no conversion).
  static op_in shape(const operation& o) noexcept {
    op_in in;
    in.kind = o.kind;
    in.key = o.key;
    in.account = o.account;
    in.reason = o.reason;
    return in;
  }

  // The record's size bound, counting an operation that does not convert as
  // nothing (it fails before it takes any room).
  static std::size_t exact_size(std::span<const operation> ops) {
    std::size_t size = record_header_size;
    for (const operation& o : ops)
      if (convert(o)) size += ledger_detail::state::encoded_size(shape(o));
    return size;
  }

  static result<op_in> convert(const operation& o) {
    using namespace ledger_detail;
    op_in in;
    in.kind = o.kind;
    in.key = o.key;
    in.account = o.account;
    in.reason = o.reason;
    in.hold = o.hold.value;
    std::optional<i128> v;
    switch (o.kind) {
      case operation_kind::purchase:
      case operation_kind::set_price: v = to_i128(o.money); break;
      default: v = to_i128(o.amount); break;
    }
    if (!v)
      return result<op_in>(errc::overflow, fmt::format("the amount of {} is too large",
                                                       to_string(o.kind)));
    in.amount = *v;
    if (o.kind == operation_kind::grant) {
      if (o.expires_at && o.expires_in)
        return result<op_in>(errc::invalid_argument,
                             "a grant expires at a time or some time after it is made, not both");
      in.aux = o.expires_at ? to_ns(*o.expires_at) : o.expires_in ? to_ns(*o.expires_in) : never;
      in.relative = o.expires_in.has_value();
    }
    // A timeout of zero or less is refused by the state's checks (in order:
    // after the key and the account id).
    if (o.kind == operation_kind::hold && o.timeout) in.aux = std::max<i64>(0, to_ns(*o.timeout));
    if (o.kind == operation_kind::expire)
      return result<op_in>(errc::invalid_argument, "use expire_holds() to expire holds");
    return in;
  }

  static receipt to_receipt(const receipt_rec& r) {
    receipt x;
    x.kind = r.kind;
    x.op = r.op;
    x.hold = hold_id{r.hold};
    x.amount = ledger_detail::to_credits(r.amount);
    x.released = ledger_detail::to_credits(r.released);
    x.paid = ledger_detail::to_usd(r.paid);
    x.at = to_time(r.at);
    x.replayed = r.replayed;
    return x;
  }

  // ------------------------------------------------------------ commit

  result<void> check_writable() const {
    if (read_only_)
      return result<void>(errc::read_only,
                          fmt::format("the ledger refuses writes: {}; reopen it to continue", failure_));
    return {};
  }

  // One operation: the common path of every single-operation call.
  result<receipt> run(const operation& o) {
    using namespace ledger_detail;
    auto c = convert(o);
    if (!c) return c.error();
    op_in& op = *c;
    state::hash_key(op);
    std::unique_lock lk(mutex_);
    state_.prefetch_key(op.key_hash);  // the key's index slot loads while the clock is read
    if (auto w = check_writable(); !w) return w.error();
    if constexpr (persistent) {
      if (record_header_size + state::encoded_size(op) > storage_->max_payload())
        return result<receipt>(errc::invalid_argument, "the operation is too large for one record");
      state_.set_record_seq(next_record_seq_);
    }
    const i64 now = now_ns();
    state_.evict_keys(now);
    const savepoint sp = state_.mark();
    auto r = state_.apply(op, now, false);
    if (!r) {
      trim_undo();
      return r.error();
    }
    if constexpr (persistent) {
      if (r->replayed) {
        if (auto d = wait_durable(lk, r->record_seq); !d) return d.error();
        return to_receipt(*r);
      }
      // Applied in memory: encoding and committing must not stop half-way.
      auto d = no_throw([&] {
        const std::size_t pos = storage_type::begin_frame(pending_);
        const std::size_t at = pending_.size();
        pending_.resize(at + record_header_size + state::encoded_size(op));
        span_writer w(pending_.data() + at, pending_.data() + pending_.size());
        w.u8v(record_format);
        w.i64v(now);
        w.u32v(1);
        state::encode_op(w, op, *r);
        TOLLGATE_ASSERT(w.position() == pending_.data() + pending_.size(),
                        "ledger: encoded_size() disagrees with encode_op()");
        return commit_record(lk, pos, sp);
      });
      if (!d) return d.error();
    } else {
      state_.forget_all_undo();
    }
    return to_receipt(*r);
  }

  // Runs `f`, which changes the ledger, where an exception cannot escape: if
  // memory runs out half-way through applying or committing, the process
  // ends (std::terminate) rather than carry on with a ledger that is half
  // changed. The journal on disk stays consistent either way.
  template <class F>
  static auto no_throw(F&& f) noexcept {
    return f();
  }

  // The record begun at `pos` in pending_ holds operations applied since
  // `sp`. Frames it and makes it durable as the storage's mode says.
  result<void> commit_record(std::unique_lock<mutex_type>& lk, std::size_t pos, const savepoint& sp)
    requires persistent
  {
    const u64 seq = next_record_seq_++;
    // The record says how far the journal was durable when it was framed
    // (every_op: through the previous record). The storage's mark is safe to
    // read while a group flush syncs on another thread.
    chain_ = storage_type::end_frame(pending_, pos, seq, storage_->durable_through(), chain_);
    frame_ends_.push_back(pending_.size());
    pending_sp_.push_back({seq, sp});
    if (storage_->mode() == durability::group_commit) return wait_durable(lk, seq);
    return flush_locked();
  }

  // Writes (and, unless durability is none, syncs) everything pending while
  // holding the lock.
  result<void> flush_locked()
    requires persistent
  {
    if (pending_.empty()) return {};
    const u64 target = next_record_seq_ - 1;
    auto r = write_out(pending_, frame_ends_);
    if (r && storage_->mode() != durability::none) r = storage_->sync();
    pending_.clear();
    frame_ends_.clear();
    if (!r) {
      fail_all(r.error());
    } else {
      durable_seq_ = target;
      pending_sp_.clear();
      state_.forget_all_undo();
    }
    // Group-commit callers may be waiting for these records (a snapshot
    // flushes them itself).
    cv_.notify_all();
    return r;
  }

  // Waits until record `seq` is durable, leading a group flush when nobody
  // else is (group commit: every record pending then shares one fdatasync).
  result<void> wait_durable(std::unique_lock<mutex_type>& lk, u64 seq) {
    if constexpr (!persistent) {
      return {};
    } else {
      while (durable_seq_ < seq) {
        if (failed_)
          return result<void>(errc::storage_failure,
                              fmt::format("the write failed: {}; the outcome is unknown until the "
                                          "journal is reopened; retry with the same key then",
                                          failure_));
        if (!flushing_) {
          flush_group(lk);
          continue;
        }
        cv_.wait(lk);
      }
      return {};
    }
  }

  void flush_group(std::unique_lock<mutex_type>& lk)
    requires persistent
  {
    flushing_ = true;
    std::vector<std::byte> buf = std::move(pending_);
    std::vector<std::size_t> ends = std::move(frame_ends_);
    pending_ = std::move(spare_);
    pending_.clear();
    frame_ends_.clear();
    const u64 target = next_record_seq_ - 1;
    // The storage is touched only by the flushing thread (flushing_ keeps
    // everyone else out), so the lock can go while the disk works and other
    // callers keep applying into the next group.
    lk.unlock();
    auto r = write_out(buf, ends);
    if (r) r = storage_->sync();
    lk.lock();
    flushing_ = false;
    if (r) {
      durable_seq_ = std::max(durable_seq_, target);
      while (!pending_sp_.empty() && pending_sp_.front().first <= target) pending_sp_.pop_front();
      if (pending_sp_.empty()) state_.forget_all_undo();
      else state_.forget_undo_before(pending_sp_.front().second);
    } else {
      fail_all(r.error());
    }
    buf.clear();
    spare_ = std::move(buf);
    cv_.notify_all();
  }

  // Writes whole frames in chunks of at most the storage's max_write().
  result<void> write_out(const std::vector<std::byte>& buf, const std::vector<std::size_t>& ends)
    requires persistent
  {
    std::size_t begin = 0, prev = 0;
    for (std::size_t e : ends) {
      if (e - begin > storage_->max_write()) {
        if (auto r = storage_->write(std::span(buf).subspan(begin, prev - begin)); !r) return r;
        begin = prev;
      }
      prev = e;
    }
    if (prev > begin)
      if (auto r = storage_->write(std::span(buf).subspan(begin, prev - begin)); !r) return r;
    return {};
  }

  // After a failed operation (already rolled back) the undo log holds only
  // records of operations whose durability is still pending, if any.
  void trim_undo() {
    if (pending_sp_.empty()) state_.forget_all_undo();
  }

  // A write or sync failed: every operation not yet durable is undone, and
  // the ledger stops accepting writes.
  void fail_all(const tollgate::error& e) {
    if (!pending_sp_.empty()) state_.rollback(pending_sp_.front().second);
    pending_sp_.clear();
    pending_.clear();
    frame_ends_.clear();
    state_.forget_all_undo();
    failed_ = true;
    read_only_ = true;
    failure_ = e.message();
  }

  // ------------------------------------------------------------ replay

  struct replay_sink {
    basic_ledger& l;
    result<void> snapshot(std::span<const std::byte> bytes) {
      return l.state_.deserialize(bytes.data(), bytes.size());
    }
    void reset() { l.state_.clear(); }
    // Every invariant of the state replayed, checked before the storage
    // writes anything (a torn tail cut, the watermark): a journal refused
    // here is left exactly as it was.
    result<void> replayed() {
      if (!l.options_.check_invariants_on_open) return {};
      if (auto c = l.state_.check_invariants(true); !c)
        return result<void>(errc::corrupt_journal, "after replay: " + c.error().message());
      return {};
    }
    result<void> record(u64 seq, std::span<const std::byte> payload) {
      using namespace ledger_detail;
      auto bad = [](std::string why) { return result<void>(errc::corrupt_journal, std::move(why)); };
      reader rd(payload.data(), payload.size());
      const u8 version = rd.u8v();
      const i64 t = rd.i64v();
      const u32 n = rd.u32v();
      if (!rd.ok()) return bad("the record is too short");
      if (version != record_format) return bad(fmt::format("unknown record format {}", version));
      if (t == never) return bad("its time is the largest there is, which no ledger writes");
      if (t < l.state_.last_time())
        return bad(fmt::format("its time {} is before the previous record's {}", time_text(t),
                               time_text(l.state_.last_time())));
      if (n == 0 || n > payload.size()) return bad(fmt::format("it claims {} operations", n));
      l.state_.set_record_seq(seq);
      for (u32 i = 0; i < n; ++i) {
        op_in op;
        if (!state::decode_op(rd, op)) return bad(fmt::format("operation {} is malformed", i));
        if (op.kind == operation_kind::expire) {
          if (l.state_.expire_all(t) == 0) return bad("an expiry record that settles nothing");
          continue;
        }
        auto r = l.state_.apply(op, t, true);
        if (!r)
          return bad(fmt::format("operation {} ({}) fails: {}", i, l.state_.describe(op),
                                 r.error().message()));
      }
      if (rd.remaining() != 0) return bad("trailing bytes after its operations");
      l.state_.forget_all_undo();
      l.state_.evict_keys(t);
      return {};
    }
  };

  // ------------------------------------------------------------ data

  mutable mutex_type mutex_;
  [[no_unique_address]] clock_type clock_;
  ledger_options options_;
  mutable ledger_detail::state state_;
  std::optional<storage_type> storage_;
  recovery_report recovery_;
  bool read_only_ = false;
  bool failed_ = false;
  std::string failure_;
  // Group commit: records framed but not yet durable, and how to undo them.
  [[no_unique_address]] cv_type cv_;
  std::vector<std::byte> pending_, spare_;
  std::vector<std::size_t> frame_ends_;
  std::deque<std::pair<u64, savepoint>> pending_sp_;
  u64 next_record_seq_ = 1;
  u64 chain_ = 0;  // the chain value of the last record framed
  u64 durable_seq_ = 0;
  bool flushing_ = false;
};

/// The default ledger: system clock, in memory, thread-safe.
using ledger = basic_ledger<>;

/// A ledger on a journal file with the real file system.
template <Clock C = std::chrono::system_clock, Sync Y = multi_thread>
using journal_ledger = basic_ledger<ledger_traits<C, journal_storage<>, Y>>;

}  // namespace tollgate
