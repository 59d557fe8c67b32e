// libFuzzer target: the strict parsers of the tools' numeric arguments
// (examples/common/arguments.hpp: hold ids, whole numbers, credit and dollar
// amounts, durations, media seconds) and printable(), which makes any bytes
// safe for a terminal. The first input byte picks the parser, the rest is the
// argument. Checked on every input: what parses is canonical (printing the
// value gives back the very text: no leading zero, sign or other spelling
// slips through) and in range; what is refused has a message; printable()
// output is valid UTF-8 without control bytes and is left unchanged by a
// second pass.
//
// Built by scripts/test.sh:
//   clang++-14 -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -Iinclude SRC -lfmt
// Seeds: arguments.seeds/.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <tollgate/pricing/quote.hpp>

#include "../../examples/common/arguments.hpp"

namespace {

namespace ex = tollgate::examples;

void check(bool ok) {
  if (!ok) std::abort();
}

// An amount's canonical text: to_string() drops trailing zeros of the
// fraction, so compare after dropping them from the input too.
std::string canonical_amount(std::string_view s) {
  std::string t(s);
  if (t.find('.') != std::string::npos) {
    while (t.back() == '0') t.pop_back();
    if (t.back() == '.') t.pop_back();
  }
  if (t == "-0") t = "0";
  return t;
}

// Microseconds as seconds with up to six decimals, trailing zeros dropped.
std::string micro_text(std::int64_t us) {
  std::string frac = std::to_string(us % 1'000'000);
  frac.insert(0, 6 - frac.size(), '0');
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  return std::to_string(us / 1'000'000) + (frac.empty() ? "" : "." + frac);
}

template <class R>
void refused_with_message(const R& r) {
  if (!r) check(!r.error().message().empty());
}

void check_printable(std::string_view s) {
  const std::string p = ex::printable(s);
  check(ex::printable(p) == p);
  std::string_view rest = p;
  while (!rest.empty()) {
    char32_t cp = 0;
    const std::size_t n = ex::detail::utf8_sequence(rest, cp);
    check(n != 0 && cp >= 0x20 && cp != 0x7F && !(cp >= 0x80 && cp <= 0x9F));
    rest.remove_prefix(n);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view s(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 8) {
    case 0: {
      const auto r = ex::parse_hold_id(s);
      refused_with_message(r);
      if (r) check(*r >= 1 && std::to_string(*r) == s);
      break;
    }
    case 1: {
      const auto r = ex::parse_whole(s, "n", 5, 1'000'000);
      refused_with_message(r);
      if (r) check(*r >= 5 && *r <= 1'000'000 && std::to_string(*r) == s);
      break;
    }
    case 2:
    case 3:
    case 4: {
      const auto sign = static_cast<ex::amount_sign>(data[0] % 8 - 2);
      const auto r = ex::parse_credits(s, "credits", sign);
      refused_with_message(r);
      if (r) {
        check(r->to_string() == canonical_amount(s));
        check(sign == ex::amount_sign::non_negative ? !r->is_negative()
              : sign == ex::amount_sign::positive   ? r->is_positive()
                                                    : !r->is_zero());
      }
      break;
    }
    case 5: {
      const auto r = ex::parse_usd(s, "dollars");
      refused_with_message(r);
      if (r) check(r->is_positive() && r->to_string(0) == canonical_amount(s));
      break;
    }
    case 6: {
      const auto r = ex::parse_duration(s, "--timeout");
      refused_with_message(r);
      if (r) {
        const std::int64_t ns = r->count();
        check(ns > 0 && ns <= ex::max_argument_seconds * 1'000'000'000 && ns % 1000 == 0);
        check(micro_text(ns / 1000) == canonical_amount(s));
      }
      break;
    }
    case 7: {
      const auto r = ex::parse_media_seconds(s, "--seconds");
      refused_with_message(r);
      if (r) check(r->count() >= 0 && tollgate::format_seconds(*r) == canonical_amount(s));
      break;
    }
  }
  check_printable(s);
  return 0;
}
