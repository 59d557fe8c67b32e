// A plain reference model of the ledger's rules, written independently of the
// real one: std::map state, int64 micro-credits, no undo log, no caching, no
// interning. The randomized tests run thousands of operations against both
// and compare after every step. Where the two disagree one of them is wrong;
// keeping this one obviously simple is the point.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <tollgate/core/error.hpp>
#include <tollgate/ledger/types.hpp>

namespace model {

using tollgate::errc;
using tollgate::operation_kind;
using i64 = long long;
inline constexpr i64 never = std::numeric_limits<i64>::max();

struct op {
  operation_kind kind{};
  std::string account, key, reason;
  i64 amount = 0;   // micro-credits; purchase: micro-dollars; set_price: micro-dollars per credit
  i64 aux = -1;     // grant: expiry ns (never = none), or with `relative` ns after the
                    // operation; hold: timeout ns (-1 = none)
  bool relative = false;
  std::uint64_t hold = 0;
  bool linked = false;
};

struct outcome {
  bool ok = false;
  errc code{};
  std::uint64_t op = 0, hold = 0;
  i64 amount = 0, released = 0, paid = 0;
  bool replayed = false;
  bool operator==(const outcome&) const = default;
};

struct balance {
  i64 available = 0, held = 0, granted = 0, purchased = 0, purchased_usd = 0;
  i64 first_purchase = never;
  bool operator==(const balance&) const = default;
};

class ledger {
 public:
  ledger(i64 default_price, i64 retention_ns) : price_(default_price), retention_(retention_ns) {}

  outcome apply(const op& o, i64 clock) {
    const i64 now = std::max(clock, last_);
    auto v = validate(o);
    if (v) return *v;
    if (auto k = keys_.find(o.key); k != keys_.end() && live(k->second, now)) {
      if (same(k->second.request, o)) {
        outcome r = k->second.result;
        r.replayed = true;
        return r;
      }
      return fail(errc::idempotency_conflict);
    }
    state saved = s_;
    const std::uint64_t id = s_.next_op++;
    outcome r = run(o, id, now);
    if (!r.ok) {
      s_ = saved;
      return r;
    }
    r.op = id;
    last_ = now;
    keys_[o.key] = key{o, r, now};
    return r;
  }

  /// A batch: chains (runs of linked ops and the op after them) are atomic.
  std::vector<outcome> apply_batch(const std::vector<op>& ops, i64 clock) {
    std::vector<outcome> out(ops.size());
    const i64 now = std::max(clock, last_);
    std::size_t begin = 0;
    while (begin < ops.size()) {
      std::size_t end = begin;
      while (end < ops.size() && ops[end].linked) ++end;
      const bool open_chain = end == ops.size();
      if (open_chain) end = ops.size() - 1;
      const state s = s_;
      // Only the chain's own keys can change: remember just those.
      std::vector<std::pair<std::string, std::optional<key>>> old_keys;
      for (std::size_t i = begin; i <= end; ++i) {
        auto it = keys_.find(ops[i].key);
        old_keys.emplace_back(ops[i].key, it == keys_.end() ? std::nullopt : std::optional<key>(it->second));
      }
      const i64 last = last_;
      std::optional<std::pair<std::size_t, errc>> failed;
      if (open_chain) failed.emplace(end, errc::invalid_argument);
      for (std::size_t i = begin; i <= end && !failed; ++i) {
        out[i] = apply(ops[i], now);
        if (!out[i].ok) failed.emplace(i, out[i].code);
      }
      if (failed) {
        s_ = s;
        for (auto it = old_keys.rbegin(); it != old_keys.rend(); ++it) {
          if (it->second) keys_[it->first] = *it->second;
          else keys_.erase(it->first);
        }
        last_ = last;
        for (std::size_t i = begin; i <= end; ++i) out[i] = fail(failed->second);
      }
      begin = end + 1;
    }
    return out;
  }

  /// Settles everything; returns the number of settlement entries.
  i64 expire(i64 clock) {
    const i64 now = std::max(clock, last_);
    i64 n = 0;
    for (auto& [name, a] : s_.accounts) n += settle(name, now);
    if (n > 0) {
      ++s_.next_op;
      last_ = now;
    }
    return n;
  }

  /// The balance as of `clock`, with settlement applied to a copy.
  balance balance_of(const std::string& account, i64 clock) const {
    ledger copy(price_, retention_);  // the state only: keys do not matter here
    copy.s_ = s_;
    const i64 now = std::max(clock, last_);
    balance b;
    if (!copy.s_.accounts.count(account)) return b;
    copy.settle(account, now);
    const acct& a = copy.s_.accounts.at(account);
    b.granted = 0;
    for (const auto& g : a.grants) b.granted += g.remaining;
    b.available = a.paid + b.granted;
    for (const auto& [id, h] : copy.s_.holds)
      if (h.account == account) b.held += h.amount;
    b.purchased = a.purchased;
    b.purchased_usd = a.purchased_usd;
    b.first_purchase = a.first_purchase;
    return b;
  }

  std::vector<std::string> accounts() const {
    std::vector<std::string> v;
    for (const auto& [n, a] : s_.accounts) v.push_back(n);
    return v;
  }
  std::uint64_t holds() const { return s_.next_hold - 1; }
  std::uint64_t operations() const { return s_.next_op - 1; }
  i64 last_time() const { return last_; }

  static outcome fail(errc c) {
    outcome r;
    r.code = c;
    return r;
  }

 private:
  struct grant {
    std::uint64_t id;
    i64 expires;
    i64 remaining;
  };
  struct acct {
    i64 paid = 0, purchased = 0, purchased_usd = 0, price = 0;
    i64 first_purchase = never;
    std::vector<grant> grants;  // any order; draw order is computed
  };
  struct hold {
    std::string account;
    i64 amount = 0, deadline = never;
    std::vector<std::pair<std::uint64_t, i64>> parts;  // (grant id or 0, amount)
  };
  struct state {
    std::map<std::string, acct> accounts;
    std::map<std::uint64_t, hold> holds;
    std::uint64_t next_op = 1, next_hold = 1;
  };
  struct key {
    op request;
    outcome result;
    i64 at;
  };

  bool live(const key& k, i64 now) const { return retention_ < 0 || !(k.at < now - retention_); }

  static bool printable(const std::string& s) {
    if (s.empty() || s.size() > 128) return false;
    for (char c : s)
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) return false;
    return true;
  }

  // What no state changes, checked before the key is looked up: the key,
  // the account id, the amount's sign, a hold's timeout, a reason.
  static std::optional<outcome> validate(const op& o) {
    if (!printable(o.key)) return fail(errc::invalid_argument);
    const bool by_hold = o.kind == operation_kind::capture || o.kind == operation_kind::release;
    if (!by_hold && !printable(o.account)) return fail(errc::invalid_account);
    switch (o.kind) {
      case operation_kind::capture:
        if (o.amount < 0) return fail(errc::invalid_amount);
        break;
      case operation_kind::release: break;
      case operation_kind::adjust:
        if (o.amount == 0) return fail(errc::invalid_amount);
        if (o.reason.empty()) return fail(errc::invalid_argument);
        break;
      default:
        if (o.amount <= 0) return fail(errc::invalid_amount);
        if (o.kind == operation_kind::hold && o.aux == 0) return fail(errc::invalid_argument);
        if (o.kind == operation_kind::grant && o.relative && o.aux <= 0) return fail(errc::invalid_argument);
        break;
    }
    return std::nullopt;
  }

  static bool same(const op& a, const op& b) {
    if (a.kind != b.kind || a.amount != b.amount) return false;
    if (a.kind == operation_kind::capture || a.kind == operation_kind::release) return a.hold == b.hold;
    if (a.account != b.account) return false;
    if (a.kind == operation_kind::grant || a.kind == operation_kind::hold)
      return a.aux == b.aux && a.relative == b.relative;
    if (a.kind == operation_kind::adjust) return a.reason == b.reason;
    return true;
  }

  // Draw order: expiring grants soonest first (then oldest), non-expiring
  // grants, then paid credits.
  std::vector<grant*> draw_order(acct& a, i64 now) {
    std::vector<grant*> g;
    for (auto& x : a.grants)
      if (x.remaining > 0 && x.expires > now) g.push_back(&x);
    std::sort(g.begin(), g.end(), [](grant* x, grant* y) {
      return x->expires != y->expires ? x->expires < y->expires : x->id < y->id;
    });
    return g;
  }

  std::vector<std::pair<std::uint64_t, i64>> draw(acct& a, i64 amount, i64 now) {
    std::vector<std::pair<std::uint64_t, i64>> parts;
    for (grant* g : draw_order(a, now)) {
      if (amount == 0) break;
      const i64 take = std::min(amount, g->remaining);
      g->remaining -= take;
      amount -= take;
      parts.emplace_back(g->id, take);
    }
    if (amount > 0) {
      a.paid -= amount;
      parts.emplace_back(0, amount);
    }
    return parts;
  }

  static i64 available(const acct& a) {
    i64 v = a.paid;
    for (const auto& g : a.grants) v += g.remaining;
    return v;
  }

  i64 write_off(acct& a, i64 now) {
    i64 n = 0;
    for (auto& g : a.grants)
      if (g.expires <= now && g.remaining > 0) {
        g.remaining = 0;
        ++n;
      }
    return n;
  }

  // Closes a hold: `captured` from its parts in order, the rest goes back.
  i64 close(std::uint64_t id, i64 captured, i64 now) {
    hold& h = s_.holds.at(id);
    acct& a = s_.accounts.at(h.account);
    i64 left = captured;
    for (auto [gid, amt] : h.parts) {
      const i64 take = std::min(amt, left);
      left -= take;
      const i64 back = amt - take;
      if (back == 0) continue;
      if (gid == 0) {
        a.paid += back;
      } else {
        for (auto& g : a.grants)
          if (g.id == gid) g.remaining += back;
      }
    }
    // A closed hold is as unknown as one that never existed: forget it.
    s_.holds.erase(id);
    return write_off(a, now);
  }

  i64 settle(const std::string& name, i64 now) {
    i64 n = 0;
    std::vector<std::uint64_t> due;  // ascending ids (std::map order)
    for (const auto& [id, h] : s_.holds)
      if (h.account == name && h.deadline <= now) due.push_back(id);
    for (std::uint64_t id : due) n += 1 + close(id, 0, now);
    n += write_off(s_.accounts.at(name), now);
    return n;
  }

  outcome ok() {
    outcome r;
    r.ok = true;
    return r;
  }

  outcome run(const op& o, std::uint64_t id, i64 now) {
    switch (o.kind) {
      case operation_kind::purchase: {
        auto it = s_.accounts.find(o.account);
        const i64 price = it != s_.accounts.end() && it->second.price > 0 ? it->second.price : price_;
        const i64 c = static_cast<i64>(static_cast<__int128>(o.amount) * 1'000'000 / price);
        if (c <= 0) return fail(errc::invalid_amount);
        acct& a = s_.accounts[o.account];
        settle(o.account, now);
        a.paid += c;
        a.purchased += c;
        a.purchased_usd += o.amount;
        if (a.first_purchase == never) a.first_purchase = now;
        outcome r = ok();
        r.amount = c;
        r.paid = o.amount;
        return r;
      }
      case operation_kind::grant: {
        const i64 expires = o.relative ? now + o.aux : o.aux;
        if (expires != never && expires <= now) return fail(errc::invalid_argument);
        s_.accounts[o.account];
        settle(o.account, now);
        s_.accounts[o.account].grants.push_back(grant{id, expires, o.amount});
        outcome r = ok();
        r.amount = o.amount;
        return r;
      }
      case operation_kind::hold: {
        if (!s_.accounts.count(o.account)) return fail(errc::insufficient_credits);
        settle(o.account, now);
        acct& a = s_.accounts.at(o.account);
        if (available(a) < o.amount) return fail(errc::insufficient_credits);
        hold h;
        h.account = o.account;
        h.amount = o.amount;
        h.deadline = o.aux < 0 ? never : now + o.aux;
        h.parts = draw(a, o.amount, now);
        const std::uint64_t hid = s_.next_hold++;
        s_.holds[hid] = h;
        outcome r = ok();
        r.hold = hid;
        r.amount = o.amount;
        return r;
      }
      case operation_kind::capture:
      case operation_kind::release: {
        const bool capture = o.kind == operation_kind::capture;
        // Ids never handed out are refused before anything else; a closed
        // hold (erased) only after the account was settled.
        if (o.hold == 0 || o.hold >= s_.next_hold) return fail(errc::unknown_hold);
        auto it = s_.holds.find(o.hold);
        if (it == s_.holds.end()) return fail(errc::unknown_hold);
        const std::string owner = it->second.account;  // settle() may erase the hold
        settle(owner, now);
        it = s_.holds.find(o.hold);
        if (it == s_.holds.end()) return fail(errc::unknown_hold);
        const i64 amount = it->second.amount;
        if (capture && o.amount > amount) return fail(errc::hold_exceeded);
        close(o.hold, capture ? o.amount : 0, now);
        outcome r = ok();
        r.hold = o.hold;
        r.amount = capture ? o.amount : amount;
        r.released = capture ? amount - o.amount : 0;
        return r;
      }
      case operation_kind::charge: {
        if (!s_.accounts.count(o.account)) return fail(errc::insufficient_credits);
        settle(o.account, now);
        acct& a = s_.accounts.at(o.account);
        if (available(a) < o.amount) return fail(errc::insufficient_credits);
        draw(a, o.amount, now);
        outcome r = ok();
        r.amount = o.amount;
        return r;
      }
      case operation_kind::adjust: {
        if (o.amount > 0) {
          s_.accounts[o.account];
          settle(o.account, now);
          s_.accounts[o.account].paid += o.amount;
        } else {
          if (!s_.accounts.count(o.account)) return fail(errc::insufficient_credits);
          settle(o.account, now);
          acct& a = s_.accounts.at(o.account);
          if (available(a) < -o.amount) return fail(errc::insufficient_credits);
          draw(a, -o.amount, now);
        }
        outcome r = ok();
        r.amount = o.amount;
        return r;
      }
      case operation_kind::set_price: {
        s_.accounts[o.account].price = o.amount;
        outcome r = ok();
        r.paid = o.amount;
        return r;
      }
      case operation_kind::expire: break;
    }
    return fail(errc::invalid_argument);
  }

  i64 price_;
  i64 retention_;
  state s_;
  std::map<std::string, key> keys_;
  i64 last_ = std::numeric_limits<i64>::min();
};

}  // namespace model
