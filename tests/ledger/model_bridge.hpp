// Bridges between the reference model's plain operations and a real ledger:
// build a ledger operation from a model one, call the ledger the way a host
// would (the named member for one operation), and turn its result into the
// model's outcome. Shared by the model test and the crash test's processes.
#pragma once

#include <chrono>
#include <optional>
#include <span>

#include <tollgate/ledger/ledger.hpp>

#include "reference_model.hpp"

namespace model_bridge {

using tollgate::errc;
using tollgate::hold_id;
using tollgate::operation_kind;

inline tollgate::credits cr(long long micro) { return tollgate::credits::from_raw(micro); }
inline tollgate::usd dollars(long long micro) { return tollgate::usd::from_raw(micro); }
inline long long raw(const tollgate::credits& c) { return c.raw().convert_to<long long>(); }
inline long long raw(const tollgate::usd& c) { return c.raw().convert_to<long long>(); }

template <class L>
inline model::outcome to_outcome(const tollgate::result<typename L::receipt>& r) {
  model::outcome o;
  if (!r) {
    o.code = static_cast<errc>(r.code().value());
    return o;
  }
  o.ok = true;
  o.op = r->op;
  o.hold = r->hold.value;
  o.amount = raw(r->amount);
  o.released = raw(r->released);
  o.paid = raw(r->paid);
  o.replayed = r->replayed;
  return o;
}

template <class L>
typename L::operation to_operation(const model::op& o) {
  using op = typename L::operation;
  using tp = typename L::time_point;
  op x;
  switch (o.kind) {
    case operation_kind::purchase: x = op::purchase(o.account, dollars(o.amount), o.key); break;
    case operation_kind::grant:
      if (o.relative)
        x = op::grant(o.account, cr(o.amount), o.key, typename L::duration(std::chrono::nanoseconds(o.aux)));
      else
        x = op::grant(o.account, cr(o.amount), o.key,
                      o.aux == model::never ? std::optional<tp>{}
                                            : std::optional<tp>(tp(std::chrono::nanoseconds(o.aux))));
      break;
    case operation_kind::hold:
      x = op::hold_credits(o.account, cr(o.amount), o.key,
                           o.aux < 0 ? std::optional<typename L::duration>{}
                                     : std::optional<typename L::duration>(std::chrono::nanoseconds(o.aux)));
      break;
    case operation_kind::capture: x = op::capture(hold_id{o.hold}, cr(o.amount), o.key); break;
    case operation_kind::release: x = op::release(hold_id{o.hold}, o.key); break;
    case operation_kind::charge: x = op::charge(o.account, cr(o.amount), o.key); break;
    case operation_kind::adjust: x = op::adjust(o.account, cr(o.amount), o.key, o.reason); break;
    case operation_kind::set_price: x.kind = operation_kind::set_price, x.account = o.account,
                                    x.key = o.key, x.money = dollars(o.amount); break;
    case operation_kind::expire: break;
  }
  x.linked = o.linked;
  return x;
}

// Calls the ledger the way a host would: the named member for single
// operations, apply() for batches.
template <class L>
tollgate::result<typename L::receipt> call(L& l, const model::op& o) {
  using tp = typename L::time_point;
  switch (o.kind) {
    case operation_kind::purchase: return l.purchase(o.account, dollars(o.amount), o.key);
    case operation_kind::grant:
      if (o.relative)
        return l.grant(o.account, cr(o.amount), o.key, typename L::duration(std::chrono::nanoseconds(o.aux)));
      return l.grant(o.account, cr(o.amount), o.key,
                     o.aux == model::never ? std::optional<tp>{}
                                           : std::optional<tp>(tp(std::chrono::nanoseconds(o.aux))));
    case operation_kind::hold:
      return l.hold(o.account, cr(o.amount), o.key,
                    o.aux < 0 ? std::optional<typename L::duration>{}
                              : std::optional<typename L::duration>(std::chrono::nanoseconds(o.aux)));
    case operation_kind::capture: return l.capture(hold_id{o.hold}, cr(o.amount), o.key);
    case operation_kind::release: return l.release(hold_id{o.hold}, o.key);
    case operation_kind::charge: return l.charge(o.account, cr(o.amount), o.key);
    case operation_kind::adjust: return l.adjust(o.account, cr(o.amount), o.key, o.reason);
    case operation_kind::set_price: {
      // credit_price refuses a non-positive price at construction, so an
      // invalid one can only reach the ledger through a batch.
      if (o.amount > 0) return l.set_price(o.account, tollgate::credit_price(dollars(o.amount)), o.key);
      const auto x = to_operation<L>(o);
      auto v = l.apply(std::span(&x, 1));
      return std::move(v[0]);
    }
    case operation_kind::expire: break;
  }
  return tollgate::result<typename L::receipt>(errc::invalid_argument, "test: bad kind");
}

}  // namespace model_bridge
