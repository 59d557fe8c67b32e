// The byte codec of tier state, driven by one field list per type: a schema<T>
// names T's fields (with the version that added each), and encode/decode walk
// the same list, so the two directions cannot drift apart. A blob is
// [tag u8][version u16 LE][fields...]; decode reads a blob of its own version
// or an older one (fields added later keep their defaults), refuses a newer
// one, a wrong tag, a truncated or overlong blob and a length that promises
// more than the blob holds, and then runs the type's own check. Values:
// integers little-endian, amounts as their exact decimal text, strings and
// vectors with a u32 length, optionals and limits with a u8 presence byte,
// variants with a u8 index, durations and time points as int64 counts
// (nanoseconds for time points).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "../../core/detail/integer.hpp"
#include "../../core/error.hpp"
#include "../../core/money.hpp"
#include "../tier_table.hpp"
#include "time.hpp"

namespace tollgate::tiers::detail {

/// One field of a schema: the member, its name (in errors), and the blob
/// version that added it.
template <auto Member>
struct field {
  std::string_view name;
  std::uint16_t since = 1;
};

/**
 * The field list of T. Specialize with `tag` (u8, unique per type),
 * `version` (u16, the newest), `fields` (a tuple of field<&T::member>), and
 * optionally `static result<void> check(const T&)` run after decoding.
 */
template <class T>
struct schema;

template <class T>
concept has_schema = requires { schema<T>::fields; };

template <class T>
concept has_check = requires(const T& v) {
  { schema<T>::check(v) } -> std::same_as<result<void>>;
};

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {};
template <class T>
struct is_variant : std::false_type {};
template <class... T>
struct is_variant<std::variant<T...>> : std::true_type {};
template <class T>
struct is_limit : std::false_type {};
template <class T>
struct is_limit<limit<T>> : std::true_type {};
template <class T>
struct is_duration : std::false_type {};
template <class R, class P>
struct is_duration<std::chrono::duration<R, P>> : std::true_type {};
template <class T>
struct is_time_point : std::false_type {};
template <class C, class D>
struct is_time_point<std::chrono::time_point<C, D>> : std::true_type {};

class writer {
 public:
  explicit writer(std::string& out) : out_(out) {}

  template <class T>
  void value(const T& v) {
    if constexpr (std::is_same_v<T, bool>) {
      integer<std::uint8_t>(v ? 1 : 0);
    } else if constexpr (std::is_enum_v<T>) {
      integer(static_cast<std::underlying_type_t<T>>(v));
    } else if constexpr (std::is_integral_v<T>) {
      integer(v);
    } else if constexpr (Amount<T>) {
      text(v.to_string(0));
    } else if constexpr (std::is_same_v<T, std::string>) {
      text(v);
    } else if constexpr (is_optional<T>::value) {
      integer<std::uint8_t>(v ? 1 : 0);
      if (v) value(*v);
    } else if constexpr (is_limit<T>::value) {
      integer<std::uint8_t>(v.is_unlimited() ? 0 : 1);
      if (!v.is_unlimited()) value(v.max());
    } else if constexpr (is_vector<T>::value) {
      integer(static_cast<std::uint32_t>(v.size()));
      for (const auto& x : v) value(x);
    } else if constexpr (is_variant<T>::value) {
      integer(static_cast<std::uint8_t>(v.index()));
      std::visit([&](const auto& x) { value(x); }, v);
    } else if constexpr (is_duration<T>::value) {
      integer(static_cast<std::int64_t>(v.count()));
    } else if constexpr (is_time_point<T>::value) {
      integer(to_ns(v));
    } else {
      static_assert(has_schema<T>, "tollgate: no encoding for this type: give it a schema<T>");
      fields_of(v);
    }
  }

  template <class T>
  void fields_of(const T& v) {
    std::apply([&](const auto&... f) { (member(v, f), ...); }, schema<T>::fields);
  }

 private:
  template <class T, auto M>
  void member(const T& v, const field<M>&) {
    value(v.*M);
  }

  template <class I>
  void integer(I v) {
    using U = std::make_unsigned_t<I>;
    U u = static_cast<U>(v);
    char bytes[sizeof(U)];
    tollgate::detail::store_le(bytes, u);
    out_.append(bytes, sizeof bytes);
  }

  void text(std::string_view s) {
    integer(static_cast<std::uint32_t>(s.size()));
    out_.append(s);
  }

  std::string& out_;
};

class reader {
 public:
  reader(std::string_view in, std::uint16_t version) : in_(in), version_(version) {}

  /// Why decoding stopped ("" while all is well).
  [[nodiscard]] const std::string& problem() const noexcept { return problem_; }
  [[nodiscard]] std::size_t left() const noexcept { return in_.size(); }

  template <class T>
  void value(T& v, std::string_view path) {
    if (!problem_.empty()) return;
    if constexpr (std::is_same_v<T, bool>) {
      std::uint8_t b = 0;
      integer(b, path);
      if (b > 1) fail(path, fmt::format("a boolean is 0 or 1, got {}", b));
      v = b == 1;
    } else if constexpr (std::is_enum_v<T>) {
      std::underlying_type_t<T> u{};
      integer(u, path);
      v = static_cast<T>(u);  // the type's check() says whether the value is known
    } else if constexpr (std::is_integral_v<T>) {
      integer(v, path);
    } else if constexpr (Amount<T>) {
      std::string s;
      text(s, path);
      if (!problem_.empty()) return;
      auto a = T::parse(s);
      if (!a) return fail(path, a.error().message());
      // One text per amount ("5", never "05" or "5.0"), so that bytes that
      // decode are exactly the bytes their value encodes to.
      if (a->to_string(0) != s) return fail(path, fmt::format("'{}' is not an amount as written ('{}')", s, a->to_string(0)));
      v = *a;
    } else if constexpr (std::is_same_v<T, std::string>) {
      text(v, path);
    } else if constexpr (is_optional<T>::value) {
      if (present(path)) value(v.emplace(), path);
      else v.reset();
    } else if constexpr (is_limit<T>::value) {
      if (!present(path)) {
        v = T::unlimited();
        return;
      }
      typename std::remove_cvref_t<decltype(v.max())> m{};
      value(m, path);
      v = T(std::move(m));
    } else if constexpr (is_vector<T>::value) {
      std::uint32_t n = 0;
      integer(n, path);
      // Every element takes at least one byte: a count beyond what is left is
      // damage, refused before it can ask for a large allocation.
      if (n > in_.size()) return fail(path, fmt::format("{} elements promised, {} bytes left", n, in_.size()));
      v.clear();
      v.resize(n);
      for (std::uint32_t i = 0; i < n && problem_.empty(); ++i) value(v[i], fmt::format("{}[{}]", path, i));
    } else if constexpr (is_variant<T>::value) {
      std::uint8_t i = 0;
      integer(i, path);
      if (!problem_.empty()) return;
      if (i >= std::variant_size_v<T>) return fail(path, fmt::format("variant index {} is unknown", i));
      emplace_variant(v, i, path, std::make_index_sequence<std::variant_size_v<T>>{});
    } else if constexpr (is_duration<T>::value) {
      std::int64_t c = 0;
      integer(c, path);
      v = T(static_cast<typename T::rep>(c));
    } else if constexpr (is_time_point<T>::value) {
      std::int64_t ns = 0;
      integer(ns, path);
      v = from_ns<T>(ns);
    } else {
      fields_of(v, path);
    }
  }

  template <class T>
  void fields_of(T& v, std::string_view path) {
    std::apply([&](const auto&... f) { (member(v, f, path), ...); }, schema<T>::fields);
  }

  void fail(std::string_view path, std::string why) {
    if (problem_.empty()) problem_ = path.empty() ? std::move(why) : fmt::format("{}: {}", path, why);
  }

 private:
  template <class T, auto M>
  void member(T& v, const field<M>& f, std::string_view path) {
    // A field added after the blob was written keeps its default.
    if (f.since > version_) return;
    value(v.*M, path.empty() ? std::string(f.name) : fmt::format("{}.{}", path, f.name));
  }

  template <class V, std::size_t... I>
  void emplace_variant(V& v, std::size_t index, std::string_view path, std::index_sequence<I...>) {
    (void)((index == I ? (value(v.template emplace<I>(), path), true) : false) || ...);
  }

  bool present(std::string_view path) {
    std::uint8_t b = 0;
    integer(b, path);
    if (b > 1) fail(path, fmt::format("a presence byte is 0 or 1, got {}", b));
    return problem_.empty() && b == 1;
  }

  template <class I>
  void integer(I& v, std::string_view path) {
    using U = std::make_unsigned_t<I>;
    if (in_.size() < sizeof(U)) return fail(path, "the blob ends early");
    const U u = tollgate::detail::load_le<U>(in_.data());
    in_.remove_prefix(sizeof(U));
    v = static_cast<I>(u);
  }

  void text(std::string& s, std::string_view path) {
    std::uint32_t n = 0;
    integer(n, path);
    if (!problem_.empty()) return;
    if (n > in_.size()) return fail(path, fmt::format("a text of {} bytes promised, {} left", n, in_.size()));
    s.assign(in_.substr(0, n));
    in_.remove_prefix(n);
  }

  std::string_view in_;
  std::uint16_t version_;
  std::string problem_;
};

inline constexpr std::size_t blob_header_size = 3;

/// T as a versioned blob.
template <class T>
[[nodiscard]] std::string encode(const T& v) {
  std::string out;
  out.push_back(static_cast<char>(schema<T>::tag));
  char version[2];
  tollgate::detail::store_le(version, static_cast<std::uint16_t>(schema<T>::version));
  out.append(version, sizeof version);
  writer(out).fields_of(v);
  return out;
}

/// The T in `blob`, or errc::invalid_argument saying what is wrong with it.
template <class T>
[[nodiscard]] result<T> decode(std::string_view blob, std::string_view what) {
  const auto bad = [&](std::string why) {
    return result<T>(errc::invalid_argument, fmt::format("{} record: {}", what, why));
  };
  if (blob.size() < blob_header_size) return bad(fmt::format("{} bytes, too short for a record", blob.size()));
  const auto tag = static_cast<std::uint8_t>(blob[0]);
  if (tag != schema<T>::tag) return bad(fmt::format("the record's tag is {}, expected {}", tag, schema<T>::tag));
  const auto version = tollgate::detail::load_le<std::uint16_t>(blob.data() + 1);
  if (version == 0 || version > schema<T>::version)
    return bad(fmt::format("version {}; this build reads versions 1 to {} (a newer tollgate wrote it?)", version,
                           schema<T>::version));
  T v{};
  reader r(blob.substr(blob_header_size), version);
  r.fields_of(v, "");
  if (r.problem().empty() && r.left() != 0) r.fail("", fmt::format("{} bytes left over after the last field", r.left()));
  if (!r.problem().empty()) return bad(r.problem());
  if constexpr (has_check<T>)
    if (auto c = schema<T>::check(v); !c) return bad(c.error().message());
  return v;
}

}  // namespace tollgate::tiers::detail
