// basic_catalog: usage checks with messages naming model and field, unknown
// model suggestions, rounding policies, the credit price, overflow, the int64
// fast path against the exact arithmetic, and construction-time checks.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <tollgate/pricing/catalog.hpp>
#include <tollgate/pricing/runway.hpp>

using namespace tollgate;
using Catch::Matchers::Contains;
using Catch::Matchers::Equals;

namespace {

credits cr(std::string_view s) { return credits::parse(s).value(); }

template <class T>
std::string message_of(const result<T>& r) {
  REQUIRE_FALSE(r);
  return r.error().message();
}

job video(std::string model, std::int64_t ms) {
  job j{.model = std::move(model)};
  j.usage.seconds = media_duration{ms};
  return j;
}

template <Rounding R = round_up>
basic_catalog<R> one(model_spec m, credit_price price = {}) {
  std::vector<model_spec> v;
  v.push_back(std::move(m));
  return basic_catalog<R>(std::move(v), price);
}

model_spec per_second_model(std::string id, credits price) {
  return model_spec{.id = std::move(id), .kind = media_kind::video, .rate = per_second{std::move(price)},
                    .seconds = seconds_range{media_duration{1}, media_duration{100'000}}};
}

// The catalog_error a list of models raises.
catalog_error refusal(std::vector<model_spec> models, std::string date = {}) {
  try {
    catalog c(std::move(models), credit_price{}, std::move(date));
  } catch (const catalog_error& e) {
    return e;
  }
  FAIL("the catalog was accepted");
  return catalog_error(catalog_error::no_model, "", "", "");  // not reached
}

}  // namespace

TEST_CASE("an unknown model is an error listing the closest known ids") {
  const catalog& c = runway_catalog();
  SECTION("a typo") {
    const auto q = c.quote(video("gen4_trubo", 10'000));
    CHECK(q.code() == errc::unknown_model);
    CHECK_THAT(message_of(q), Equals("unknown model 'gen4_trubo'; closest known: gen4_turbo, "
                                     "gen3a_turbo, gen4_aleph"));
  }
  SECTION("case does not count") {
    CHECK_THAT(message_of(c.quote(video("GEN4_TURBO", 10'000))),
               Contains("closest known: gen4_turbo,"));
  }
  SECTION("the empty id") { CHECK(c.quote(video("", 10'000)).code() == errc::unknown_model); }
  SECTION("an id longer than any valid one is shown and compared by its start only") {
    // The id is the caller's input: a megabyte of it must not be echoed back,
    // nor compared letter by letter with every known id (that took ~0.7 s).
    const std::string huge = "gen4_turbo" + std::string(1'000'000, 'x');
    const auto q = c.quote(video(huge, 10'000));
    CHECK(q.code() == errc::unknown_model);
    const std::string m = message_of(q);
    CHECK(m.size() < 400);
    CHECK_THAT(m, Contains("unknown model 'gen4_turbo" + std::string(118, 'x') + "...' (1000010 bytes)"));
    CHECK_THAT(m, Contains("; closest known: "));
    // At the limit, the id is shown whole.
    const std::string longest(detail::max_model_id_size, 'y');
    CHECK_THAT(message_of(c.quote(video(longest, 10'000))), Contains("'" + longest + "'; closest"));
  }
  SECTION("an empty catalog says so") {
    const catalog empty{std::vector<model_spec>{}};
    CHECK_THAT(message_of(empty.quote(video("x", 1'000))), Contains("the catalog is empty"));
  }
}

TEST_CASE("closest ranks ids by edit distance") {
  const catalog& c = runway_catalog();
  CHECK(c.closest("veo3.2", 2) == std::vector<std::string_view>{"veo3.1", "veo3"});
  CHECK(c.closest("gen4_imgae", 1) == std::vector<std::string_view>{"gen4_image"});  // a swap is one edit
  CHECK(c.closest("eleven_multilingual_v3", 1) ==
        std::vector<std::string_view>{"eleven_multilingual_v2"});
  CHECK(c.closest("anything", 100).size() == c.models().size());
  CHECK(detail::edit_distance("", "abc") == 3);
  CHECK(detail::edit_distance("abc", "abc") == 0);
  CHECK(detail::edit_distance("ab", "ba") == 1);
  CHECK(detail::edit_distance("kitten", "sitting") == 3);
}

TEST_CASE("a field the model does not take is refused, naming model and field") {
  const catalog& c = runway_catalog();
  job j = video("gen4_turbo", 10'000);
  SECTION("outputs") {
    j.usage.outputs = count{1};
    CHECK(c.quote(j).code() == errc::invalid_usage);
    CHECK_THAT(message_of(c.quote(j)), Equals("model 'gen4_turbo': does not take 'outputs'"));
  }
  SECTION("resolution") {
    j.usage.resolution = "720p";
    CHECK_THAT(message_of(c.quote(j)), Equals("model 'gen4_turbo': does not take 'resolution'"));
  }
  SECTION("audio") {
    j.usage.audio = true;
    CHECK_THAT(message_of(c.quote(j)), Equals("model 'gen4_turbo': does not take 'audio'"));
  }
  SECTION("text") {
    j.usage.text = "hello";
    CHECK_THAT(message_of(c.quote(j)), Equals("model 'gen4_turbo': does not take 'text'"));
  }
  SECTION("seconds on an image model") {
    job img{.model = "gen4_image_turbo"};
    img.usage.seconds = media_duration{1'000};
    CHECK_THAT(message_of(c.quote(img)), Equals("model 'gen4_image_turbo': does not take 'seconds'"));
  }
}

TEST_CASE("seconds must be given and within the model's range") {
  const catalog& c = runway_catalog();
  CHECK(c.quote(video("gen4_turbo", 2'000)));
  CHECK(c.quote(video("gen4_turbo", 10'000)));
  SECTION("missing") {
    CHECK_THAT(message_of(c.quote(job{.model = "gen4_turbo"})),
               Equals("model 'gen4_turbo': needs 'seconds' (2 to 10)"));
  }
  SECTION("zero and negative") {
    CHECK_THAT(message_of(c.quote(video("gen4_turbo", 0))),
               Equals("model 'gen4_turbo': 'seconds' must be positive, got 0"));
    CHECK_THAT(message_of(c.quote(video("gen4_turbo", -2'500))), Contains("got -2.5"));
  }
  SECTION("below and above the range") {
    CHECK_THAT(message_of(c.quote(video("gen4_turbo", 1'999))),
               Equals("model 'gen4_turbo': 'seconds' must be between 2 and 10, got 1.999"));
    CHECK_THAT(message_of(c.quote(video("gen4_turbo", 10'001))), Contains("got 10.001"));
  }
  SECTION("absurd") {
    CHECK(c.quote(video("gen4_turbo", std::numeric_limits<std::int64_t>::max())).code() ==
          errc::invalid_usage);
  }
}

TEST_CASE("outputs must be 1 to the model's maximum") {
  const catalog& c = runway_catalog();
  job j{.model = "gemini_2.5_flash"};
  j.usage.outputs = count{4};
  CHECK(c.quote(j)->charged == credits{20});
  j.usage.outputs = count{5};
  CHECK_THAT(message_of(c.quote(j)), Equals("model 'gemini_2.5_flash': 'outputs' must be at most 4, got 5"));
  j.usage.outputs = count{0};
  CHECK_THAT(message_of(c.quote(j)), Equals("model 'gemini_2.5_flash': 'outputs' must be at least 1, got 0"));
  j.usage.outputs = count{-1};
  CHECK(c.quote(j).code() == errc::invalid_usage);
}

TEST_CASE("resolution must be one the model allows; priced ones need it") {
  const catalog& c = runway_catalog();
  job j{.model = "gen4_image"};
  SECTION("missing where the price depends on it") {
    CHECK_THAT(message_of(c.quote(j)), Equals("model 'gen4_image': needs 'resolution' (one of 720p, 1080p)"));
  }
  SECTION("unknown value") {
    j.usage.resolution = "4k";
    CHECK_THAT(message_of(c.quote(j)),
               Equals("model 'gen4_image': 'resolution' must be one of 720p, 1080p, got '4k'"));
  }
  SECTION("allowed but not priced: optional") {
    job t{.model = "gen4_image_turbo"};
    CHECK(c.quote(t)->charged == credits{2});
    t.usage.resolution = "1080p";
    CHECK(c.quote(t)->charged == credits{2});
    t.usage.resolution = "480p";
    CHECK(c.quote(t).code() == errc::invalid_usage);
  }
}

TEST_CASE("text must be present, non-empty, valid UTF-8 and within the limit") {
  const catalog& c = runway_catalog();
  job j{.model = "eleven_multilingual_v2"};
  SECTION("missing") {
    CHECK_THAT(message_of(c.quote(j)), Equals("model 'eleven_multilingual_v2': needs 'text'"));
  }
  SECTION("empty") {
    j.usage.text = "";
    CHECK_THAT(message_of(c.quote(j)), Equals("model 'eleven_multilingual_v2': 'text' is empty"));
  }
  SECTION("invalid UTF-8: the code and the byte offset") {
    j.usage.text = "caf\xC3";
    const auto q = c.quote(j);
    CHECK(q.code() == errc::invalid_utf8);
    CHECK_THAT(message_of(q), Contains("model 'eleven_multilingual_v2': 'text' is not valid UTF-8"));
    CHECK_THAT(message_of(q), Contains("at byte 3"));
  }
  SECTION("too long, counted in code points") {
    std::string t;
    for (int i = 0; i < 10'000; ++i) t += "\xC3\xA9";  // 20000 bytes, 10000 characters
    j.usage.text = t;
    CHECK(c.quote(j)->charged == credits{200});
    j.usage.text = t + "!";
    CHECK_THAT(message_of(c.quote(j)),
               Equals("model 'eleven_multilingual_v2': 'text' must have at most 10000 characters, got 10001"));
  }
}

TEST_CASE("the rounding policy turns the exact cost into the charge") {
  // 1.25 credits a second: exact costs with fractions of a credit.
  const model_spec m = per_second_model("frac", cr("1.25"));
  const auto quote = [&](const auto& catalog, std::int64_t ms) { return catalog.quote(video("frac", ms)).value(); };
  SECTION("round_up (the default)") {
    const catalog c = one(m);
    auto q = quote(c, 2'000);
    CHECK(q.exact == cr("2.5"));
    CHECK(q.charged == credits{3});
    CHECK(q.usd == usd::parse("0.03").value());
    CHECK(q.rounding == "round_up");
    CHECK(quote(c, 4'000).charged == credits{5});  // whole stays whole
    CHECK(quote(c, 1'000).charged == credits{2});  // 1.25 -> 2
  }
  SECTION("half_up") {
    const auto c = one<half_up>(m);
    CHECK(quote(c, 2'000).charged == credits{3});  // 2.5 -> 3
    CHECK(quote(c, 1'000).charged == credits{1});  // 1.25 -> 1
    CHECK(quote(c, 3'000).charged == credits{4});  // 3.75 -> 4
    CHECK(quote(c, 1'000).rounding == "half_up");
  }
  SECTION("exact") {
    const auto c = one<exact>(m);
    auto q = quote(c, 1'000);
    CHECK(q.charged == cr("1.25"));
    CHECK(q.usd == usd::parse("0.0125").value());
    CHECK(q.rounding == "exact");
  }
  SECTION("a catalog re-made with another policy") {
    const basic_catalog<exact> c{runway_catalog()};
    const job j{.model = "eleven_multilingual_v2", .usage = {.text = "hi"}};
    CHECK(c.quote(j)->charged == credits{1});
    CHECK(c.price_list_date() == runway_price_list_date);
    CHECK(c.models().size() == runway_catalog().models().size());
  }
}

TEST_CASE("the credit price converts the charge to dollars") {
  const model_spec m = per_second_model("m", credits{5});
  SECTION("default $0.01") { CHECK(one(m).quote(video("m", 10'000))->usd == usd::parse("0.5").value()); }
  SECTION("$0.012") {
    const auto c = one(m, credit_price{usd::parse("0.012").value()});
    CHECK(c.quote(video("m", 10'000))->usd == usd::parse("0.6").value());
    CHECK(c.price().per_credit() == usd::parse("0.012").value());
  }
  SECTION("usd prints with two decimals") {
    CHECK(one(m).quote(video("m", 10'000))->usd.to_string() == "0.50");
  }
}

TEST_CASE("overflow while quoting is errc::overflow") {
  SECTION("rounding the largest amount up") {
    const auto c = one(model_spec{.id = "max", .kind = media_kind::image,
                                  .rate = flat{credits::from_raw(credits::max().raw() - 1)}});
    const auto q = c.quote(job{.model = "max"});
    CHECK(q.code() == errc::overflow);
    CHECK_THAT(message_of(q), Contains("model 'max'"));
  }
  SECTION("the dollar value") {
    const auto c = one(model_spec{.id = "big", .kind = media_kind::image, .rate = flat{credits::max()}},
                       credit_price{usd{1'000}});
    CHECK(one<exact>(model_spec{.id = "big", .kind = media_kind::image, .rate = flat{credits::max()}},
                     credit_price{usd{1'000}})
              .quote(job{.model = "big"})
              .code() == errc::overflow);
    CHECK(c.quote(job{.model = "big"}).code() == errc::overflow);
  }
  SECTION("a price times seconds") {
    const auto c = one(per_second_model("p", credits::max()));
    CHECK(c.quote(video("p", 2'000)).code() == errc::overflow);
  }
  SECTION("a rate within int64 whose dollar value is not: exact, one breakdown line") {
    const auto c = one(per_second_model("p", credits{1'000'000}), credit_price{usd{1'000}});
    const auto q = c.quote(video("p", 10'000)).value();
    CHECK(q.exact == credits{10'000'000});
    CHECK(q.usd == usd{10'000'000'000});
    CHECK(q.lines.size() == 1);
    CHECK(q.lines.total() == q.exact);
  }
  SECTION("beyond int64, within 128 bits: exact") {
    const auto c = one(model_spec{.id = "t", .kind = media_kind::image,
                                  .rate = flat{credits{10'000'000'000'000}}});  // 1e19 micro-credits
    const auto q = c.quote(job{.model = "t"}).value();
    CHECK(q.charged == credits{10'000'000'000'000});
    CHECK(q.usd == usd{100'000'000'000});
  }
}

TEST_CASE("the int64 fast path agrees with the exact 128-bit arithmetic") {
  const auto seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  const std::int64_t max = std::numeric_limits<std::int64_t>::max();
  const std::int64_t min = std::numeric_limits<std::int64_t>::min();
  std::vector<std::int64_t> raws = {0, 1, -1, 499'999, 500'000, 500'001, 999'999, 1'000'000,
                                    -500'000, -1'500'000, max, max - 1, min, min + 1, max / 1000};
  std::vector<std::int64_t> prices = {1, 10'000, 12'345, 999'999, 1'000'000, 1'000'000'000, max};
  for (int i = 0; i < 2'000; ++i) {
    const int shift = static_cast<int>(rng() % 63);
    raws.push_back(static_cast<std::int64_t>(rng() >> (shift + 1)) * (rng() % 4 == 0 ? -1 : 1));
    prices.push_back(1 + static_cast<std::int64_t>(rng() >> (1 + rng() % 63)));
  }
  auto agree = [&](auto policy) {
    using R = decltype(policy);
    std::size_t fast = 0;
    for (std::size_t i = 0; i < raws.size(); ++i) {
      const std::int64_t raw = raws[i];
      const std::int64_t price = prices[i % prices.size()];
      std::int64_t charged = 0, dollars = 0;
      if (!detail::fast_charge<R>(raw, price, charged, dollars)) continue;
      ++fast;
      INFO("raw " << raw << " price " << price << " policy " << R::name);
      const credits slow_charged = R::apply(credits::from_raw(raw));
      const usd slow_usd = credit_price{usd::from_raw(price)}.to_usd(slow_charged);
      REQUIRE(credits::from_raw(charged) == slow_charged);
      REQUIRE(usd::from_raw(dollars) == slow_usd);
    }
    CHECK(fast > raws.size() / 4);  // the fast path does get exercised
  };
  agree(round_up{});
  agree(half_up{});
  agree(exact{});
}

TEST_CASE("a quote's lines add up to its exact cost, and it names the model") {
  const catalog c({model_spec{.id = "combo", .kind = media_kind::video,
                              .rate = sum_of{per_second{credits{5}}, flat{cr("0.5")}},
                              .seconds = seconds_range{media_duration{1'000}, media_duration{10'000}}}});
  const auto q = c.quote(video("combo", 3'500)).value();
  CHECK(q.model == "combo");
  CHECK(q.kind == media_kind::video);
  CHECK(q.exact == cr("20.5"));
  CHECK(q.charged == credits{21});
  CHECK(q.lines.size() == 2);
  CHECK(q.lines.total() == q.exact);
}

TEST_CASE("a user-defined rate's errors, negative costs and overflow are reported") {
  struct failing {
    [[nodiscard]] result<credits> cost(const usage&) const {
      return result<credits>(errc::invalid_usage, "no such thing");
    }
  };
  struct negative {
    [[nodiscard]] result<credits> cost(const usage&) const { return credits{-1}; }
  };
  struct throwing {  // lets checked arithmetic throw
    [[nodiscard]] result<credits> cost(const usage&) const { return credits::max() + credits{1}; }
  };
  const catalog c({model_spec{.id = "f", .kind = media_kind::image, .rate = failing{}},
                   model_spec{.id = "n", .kind = media_kind::image, .rate = negative{}},
                   model_spec{.id = "x", .kind = media_kind::image, .rate = throwing{}}});
  CHECK_THAT(message_of(c.quote(job{.model = "f"})), Equals("model 'f': no such thing"));
  CHECK(c.quote(job{.model = "n"}).code() == errc::invalid_argument);
  CHECK(c.quote(job{.model = "x"}).code() == errc::overflow);
}

TEST_CASE("a catalog refuses inconsistent models at construction") {
  const auto ok = [] { return per_second_model("ok", credits{1}); };
  SECTION("empty id") {
    auto m = ok();
    m.id = "";
    const auto e = refusal({m});
    CHECK(e.index() == 0);
    CHECK(e.field() == "id");
  }
  SECTION("id with a space") {
    auto m = ok();
    m.id = "gen 4";
    CHECK(refusal({m}).field() == "id");
  }
  SECTION("repeated id") {
    const auto e = refusal({ok(), per_second_model("other", credits{1}), ok()});
    CHECK(e.index() == 2);
    CHECK(e.model() == "ok");
    CHECK(e.field() == "id");
    CHECK(e.reason() == "repeats models[0]");
    CHECK_THAT(std::string(e.what()), Equals("invalid catalog: model 'ok' (models[2]): id: repeats models[0]"));
  }
  SECTION("no rate") {
    auto m = ok();
    m.rate = any_rate{};
    CHECK(refusal({m}).field() == "rate");
  }
  SECTION("a malformed group name") {
    for (const char* bad : {"Video", "video premium", "vidéo", "a/b",
                            "g12345678901234567890123456789012345678901234567890123456789012345"}) {
      INFO(bad);
      auto m = ok();
      m.group = bad;
      const auto e = refusal({m});
      CHECK(e.field() == "group");
      CHECK_THAT(e.reason(), Contains("a-z 0-9 _ - ."));
    }
    auto m = ok();
    m.group = "video_premium-2.0";
    CHECK(catalog({m}).find("ok")->group == "video_premium-2.0");
  }
  SECTION("seconds.min not positive") {
    auto m = ok();
    m.seconds->min = media_duration{0};
    CHECK(refusal({m}).field() == "seconds.min");
  }
  SECTION("seconds.max below min") {
    auto m = ok();
    m.seconds = seconds_range{media_duration{5'000}, media_duration{4'000}};
    const auto e = refusal({m});
    CHECK(e.field() == "seconds.max");
    CHECK_THAT(e.reason(), Contains("seconds.min (5)"));
  }
  SECTION("outputs.max below 1") {
    CHECK(refusal({model_spec{.id = "i", .kind = media_kind::image, .rate = per_generation{credits{1}},
                              .outputs = outputs_range{0}}})
              .field() == "outputs.max");
  }
  SECTION("text.max_characters below 1") {
    CHECK(refusal({model_spec{.id = "t", .kind = media_kind::audio, .rate = per_characters{credits{1}, 50},
                              .text = text_range{0}}})
              .field() == "text.max_characters");
  }
  SECTION("a rate that reads seconds on a model without a seconds range") {
    auto m = ok();
    m.seconds.reset();
    CHECK(refusal({m}).field() == "seconds");
  }
  SECTION("a rate that reads text on a model without a text range") {
    CHECK(refusal({model_spec{.id = "t", .kind = media_kind::audio, .rate = per_characters{credits{1}, 50}}})
              .field() == "text");
  }
  SECTION("an audio price on a model that does not take audio") {
    auto m = ok();
    m.rate = per_second{credits{1}, credits{2}};
    CHECK(refusal({m}).field() == "audio");
  }
  SECTION("an allowed resolution with no price") {
    model_spec m{.id = "img", .kind = media_kind::image,
                 .rate = per_generation{std::vector<resolution_price>{{"720p", credits{5}}}},
                 .outputs = outputs_range{4}, .resolutions = {"720p", "1080p"}};
    const auto e = refusal({m});
    CHECK(e.field() == "resolutions[1]");
    CHECK(e.reason() == "'1080p' has no price in the rate");
  }
  SECTION("a repeated resolution") {
    model_spec m{.id = "img", .kind = media_kind::image, .rate = per_generation{credits{5}},
                 .outputs = outputs_range{4}, .resolutions = {"720p", "720p"}};
    CHECK(refusal({m}).field() == "resolutions[1]");
  }
  SECTION("a malformed price-list date") {
    for (const char* bad : {"Nov 1st", "2026-1-01", "2026--1-01", "2026-01-0x", "+2026-01-1",
                            "2026/01/01", "2026-01-01 "}) {
      INFO(bad);
      const auto e = refusal({ok()}, bad);
      CHECK(e.index() == catalog_error::no_model);
      CHECK(e.field() == "price_list_date");
      CHECK_THAT(e.reason(), Contains("expected a date as YYYY-MM-DD"));
    }
  }
}

TEST_CASE("the price-list date must be a day on the calendar") {
  // The shape alone let these through: only real dates are accepted.
  SECTION("no such month") {
    for (const char* bad : {"2026-13-01", "2026-00-10", "2026-99-99"}) {
      INFO(bad);
      const auto e = refusal({per_second_model("m", credits{1})}, bad);
      CHECK(e.index() == catalog_error::no_model);
      CHECK(e.field() == "price_list_date");
      CHECK_THAT(e.reason(), Contains("is not a calendar date: there is no month"));
    }
  }
  SECTION("no such day in the month") {
    const auto e = refusal({per_second_model("m", credits{1})}, "2026-02-30");
    CHECK(e.field() == "price_list_date");
    CHECK(e.reason() == "'2026-02-30' is not a calendar date: 2026-02 has 28 days");
    CHECK_THAT(refusal({per_second_model("m", credits{1})}, "2026-04-31").reason(),
               Contains("2026-04 has 30 days"));
    CHECK_THAT(refusal({per_second_model("m", credits{1})}, "2026-01-00").reason(),
               Contains("2026-01 has 31 days"));
    CHECK_THAT(refusal({per_second_model("m", credits{1})}, "2100-02-29").reason(),
               Contains("2100-02 has 28 days"));
  }
  SECTION("real dates, leap days included") {
    for (const char* good : {"2024-02-29", "2000-02-29", "2026-12-31", "2026-01-01"}) {
      INFO(good);
      std::vector<model_spec> v{per_second_model("m", credits{1})};
      const catalog c(std::move(v), credit_price{}, good);
      CHECK(c.price_list_date() == good);
    }
  }
}

TEST_CASE("allowed resolutions default to the rate's priced ones") {
  const catalog c({model_spec{.id = "img", .kind = media_kind::image,
                              .rate = per_generation{std::vector<resolution_price>{
                                  {"sd", credits{1}}, {"hd", credits{2}}}},
                              .outputs = outputs_range{2}}});
  CHECK(c.find("img")->resolutions == std::vector<std::string>{"sd", "hd"});
  const job j{.model = "img", .usage = {.resolution = "hd"}};
  CHECK(c.quote(j)->charged == credits{2});
}

TEST_CASE("a catalog is a value: a copy quotes the same after the original is gone") {
  std::optional<catalog> original(std::in_place, runway_models());
  const catalog copy = *original;
  original.reset();
  CHECK(copy.quote(video("gen4_turbo", 10'000))->charged == credits{50});
  CHECK(copy.find("veo3") != nullptr);
  CHECK(copy.find("veo4") == nullptr);
  CHECK(copy.contains("upscale_v1"));
}

TEST_CASE("a user-defined rate prices through the catalog") {
  struct per_output_squared {
    [[nodiscard]] result<credits> cost(const usage& u) const {
      const std::int64_t n = u.outputs ? u.outputs->value : 1;
      return credits{n * n};
    }
  };
  const catalog c({model_spec{.id = "sq", .kind = media_kind::image, .rate = per_output_squared{},
                              .outputs = outputs_range{10}}});
  job j{.model = "sq"};
  j.usage.outputs = count{3};
  const auto q = c.quote(j).value();
  CHECK(q.charged == credits{9});
  CHECK(q.lines.size() == 1);
  CHECK(q.lines[0].item == "rate");
}

namespace {

// A shipped rate seen only through itemize(): the catalog cannot take an
// int64 path through it, so it quotes by the general (128-bit) arithmetic.
struct general_only {
  any_rate rate;
  [[nodiscard]] result<credits> cost(const usage& u) const { return rate.cost(u); }
  [[nodiscard]] result<credits> itemize(const usage& u, breakdown* b) const {
    return rate.itemize(u, b);
  }
  [[nodiscard]] usage_fields fields() const { return rate.fields(); }
  [[nodiscard]] std::vector<std::string_view> resolutions() const { return rate.resolutions(); }
};

std::vector<model_spec> hot_path_models() {
  std::vector<model_spec> v = runway_models();
  const media_duration forever{std::numeric_limits<std::int64_t>::max()};
  v.push_back(model_spec{.id = "huge_per_second", .rate = per_second{credits{10'000'000'000'000}},
                         .seconds = seconds_range{media_duration{1}, forever}});
  v.push_back(model_spec{.id = "wide_per_second", .rate = per_second{cr("0.3"), cr("1.25")},
                         .seconds = seconds_range{media_duration{1}, forever}, .audio = true});
  v.push_back(model_spec{.id = "per_block_7s", .kind = media_kind::audio,
                         .rate = per_block{cr("2.5"), media_duration{7'000}},
                         .seconds = seconds_range{media_duration{1}, forever}});
  v.push_back(model_spec{.id = "many_outputs", .kind = media_kind::image,
                         .rate = per_generation{cr("0.000001")},
                         .outputs = outputs_range{std::numeric_limits<std::int64_t>::max()}});
  v.push_back(model_spec{.id = "outputs_or_none", .kind = media_kind::image,
                         .rate = per_generation{credits{3}}, .outputs = outputs_range{4}});
  return v;
}

template <Rounding R>
void same_quotes(const credit_price& price, std::mt19937_64& rng) {
  const std::vector<model_spec> models = hot_path_models();
  std::vector<model_spec> general = models;
  for (model_spec& m : general) m.rate = general_only{m.rate};
  const basic_catalog<R> fast(models, price);
  const basic_catalog<R> slow(general, price);

  const std::int64_t big = std::numeric_limits<std::int64_t>::max();
  const std::vector<std::int64_t> edges = {std::numeric_limits<std::int64_t>::min(), -1, 0, 1, 999,
                                           1'000, 1'001, 2'000, 4'000, 8'000, 10'000, 10'001,
                                           30'000, 3'600'000, big / 1'000'000, big - 1, big};
  auto pick = [&]() -> std::int64_t {
    switch (rng() % 3) {
      case 0: return edges[rng() % edges.size()];
      case 1: return static_cast<std::int64_t>(rng() % 50'000) - 1'000;
      default: return static_cast<std::int64_t>(rng() >> (1 + rng() % 63));
    }
  };
  std::size_t quoted = 0;
  for (int i = 0; i < 20'000; ++i) {
    const model_spec& m = models[rng() % models.size()];
    usage u;
    if (rng() % 8 != 0) u.seconds = media_duration{pick()};
    if (rng() % 3 == 0) u.outputs = count{rng() % 2 == 0 ? pick() : static_cast<std::int64_t>(rng() % 6)};
    if (rng() % 4 == 0) u.resolution = std::vector<std::string>{"720p", "1080p", "4k"}[rng() % 3];
    u.audio = rng() % 3 == 0;
    if (rng() % 6 == 0) u.text = std::string(rng() % 120, 'a');
    INFO("model " << m.id << " seconds " << (u.seconds ? u.seconds->count() : -42) << " outputs "
                  << (u.outputs ? u.outputs->value : -42) << " audio " << u.audio << " policy "
                  << R::name);
    const auto a = fast.quote(m.id, u);
    const auto b = slow.quote(m.id, u);
    REQUIRE(a.has_value() == b.has_value());
    if (!a) {
      CHECK(a.code() == b.code());
      CHECK(a.error().message() == b.error().message());
      continue;
    }
    ++quoted;
    CHECK(a->model == b->model);
    CHECK(a->kind == b->kind);
    CHECK(a->rounding == b->rounding);
    CHECK(a->exact == b->exact);
    CHECK(a->charged == b->charged);
    CHECK(a->usd == b->usd);
    CHECK(std::equal(a->lines.begin(), a->lines.end(), b->lines.begin(), b->lines.end()));
  }
  CHECK(quoted > 1'000);  // both succeed often enough to compare amounts
}

}  // namespace

TEST_CASE("quoting through the int64 paths agrees with the general path, errors included") {
  const auto seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  for (const credit_price& price :
       {credit_price{}, credit_price{usd::parse("0.012345").value()},
        credit_price{usd::parse("9223372036854.775807").value()}}) {
    same_quotes<round_up>(price, rng);
    same_quotes<half_up>(price, rng);
    same_quotes<exact>(price, rng);
  }
}

TEST_CASE("a user-defined int64 path that returns a negative cost is refused") {
  struct negative_raw {
    [[nodiscard]] result<credits> cost(const usage&) const { return credits{-1}; }
    [[nodiscard]] bool itemize_raw(const usage&, breakdown*, std::int64_t& raw) const {
      raw = -1'000'000;
      return true;
    }
  };
  const catalog c({model_spec{.id = "plain", .kind = media_kind::image, .rate = negative_raw{}},
                   model_spec{.id = "by_res", .kind = media_kind::image, .rate = negative_raw{},
                              .resolutions = {"720p"}}});
  CHECK(c.quote(job{.model = "plain"}).code() == errc::invalid_argument);
  job j{.model = "by_res"};
  j.usage.resolution = "720p";
  CHECK(c.quote(j).code() == errc::invalid_argument);
}

TEST_CASE("model ids are found exactly, whatever their length") {
  // Ids of every length up to the maximum that share a long prefix and
  // suffix, so that short ids differ only in a few bytes and long ones only
  // in the middle.
  std::vector<std::string> ids;
  for (std::size_t n = 1; n <= detail::max_model_id_size; ++n) {
    std::string id(n, 'a');
    id[n / 2] = static_cast<char>('0' + n % 10);
    ids.push_back(id);
  }
  std::vector<model_spec> models;
  for (const std::string& id : ids) models.push_back(per_second_model(id, credits{1}));
  const catalog c(models);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    INFO("id " << ids[i]);
    REQUIRE(c.find(ids[i]) != nullptr);
    CHECK(c.find(ids[i])->id == ids[i]);
    // The same length with any one byte changed is another (unknown) id.
    for (std::size_t b = 0; b < ids[i].size(); ++b) {
      std::string other = ids[i];
      other[b] = other[b] == 'a' ? 'b' : 'a';
      if (std::find(ids.begin(), ids.end(), other) != ids.end()) continue;
      INFO("changed byte " << b);
      CHECK(c.find(other) == nullptr);
    }
    const std::string longer = ids[i] + "a";
    const bool known = std::find(ids.begin(), ids.end(), longer) != ids.end();
    CHECK((c.find(longer) != nullptr) == known);
  }
  CHECK(c.find("") == nullptr);
  CHECK(c.find(std::string(1'000'000, 'a')) == nullptr);

  SECTION("a repeated long id is refused even when only its middle differs from others") {
    const std::string a = std::string(20, 'x') + "1" + std::string(20, 'y');
    const std::string b = std::string(20, 'x') + "2" + std::string(20, 'y');
    const catalog two({per_second_model(a, credits{1}), per_second_model(b, credits{2})});
    CHECK(two.find(a)->rate.target<per_second>()->price() == credits{1});
    CHECK(two.find(b)->rate.target<per_second>()->price() == credits{2});
    CHECK(two.find(std::string(20, 'x') + "3" + std::string(20, 'y')) == nullptr);
    const auto e = refusal({per_second_model(a, credits{1}), per_second_model(b, credits{2}),
                            per_second_model(a, credits{3})});
    CHECK(e.reason() == "repeats models[0]");
  }
}
