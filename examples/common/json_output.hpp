// JSON output of the example tools that cannot throw on stored data.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace tollgate::examples {

/// `j` as compact JSON text. A string that is not UTF-8 (a reason stored
/// by a journal from before the ledger refused such text, a model id from a
/// catalog file) is written with U+FFFD in place of each bad byte: nlohmann's
/// default is to throw, which made `statement --json` fail for ever.
template <class Json>
[[nodiscard]] std::string json_text(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace tollgate::examples
