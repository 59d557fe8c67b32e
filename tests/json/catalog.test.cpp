// Loading a catalog from JSON: data/runway-catalog.json agrees with the
// compiled-in catalog model by model; malformed files are refused whole, with
// the JSON path of the field and the reason.
#include <catch2/catch.hpp>

#include <cstdio>
#include <sys/stat.h>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <tollgate/json/catalog.hpp>
#include <tollgate/pricing/runway.hpp>

using namespace tollgate;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using ojson = nlohmann::ordered_json;

namespace {

const std::string runway_file = std::string(TOLLGATE_TEST_DATA_DIR) + "/runway-catalog.json";

// A valid document with four models; tests break one field at a time.
ojson base() {
  return ojson::parse(R"({
    "version": 1,
    "price_list_date": "2026-11-01",
    "credit_price_usd": "0.01",
    "models": [
      {"id": "v", "kind": "video", "rate": {"type": "per_second", "credits_per_second": "5"},
       "seconds": {"min": 2, "max": 10}},
      {"id": "i", "kind": "image",
       "rate": {"type": "per_generation", "credits_by_resolution": {"720p": "5", "1080p": "8"}},
       "outputs": {"max": 4}},
      {"id": "t", "kind": "audio", "rate": {"type": "per_characters", "credits": "1", "characters": 50},
       "text": {"max_characters": 1000}},
      {"id": "a", "kind": "video",
       "rate": {"type": "per_second", "credits_per_second": "20", "credits_per_second_with_audio": "40"},
       "seconds": {"min": 4, "max": 8}, "audio": true}
    ]
  })");
}

std::string with(const std::function<void(ojson&)>& change) {
  ojson d = base();
  change(d);
  return d.dump();
}

json::catalog_error refused(const std::string& text) {
  try {
    (void)json::parse_catalog(text, "t.json");
  } catch (const json::catalog_error& e) {
    return e;
  }
  FAIL("the catalog was accepted: " << text);
  return json::catalog_error("", "", "");  // not reached
}

// Usages that probe a model: each boundary, fractions, each option.
std::vector<usage> probes(const model_spec& m) {
  std::vector<usage> out;
  if (m.seconds) {
    const std::int64_t lo = m.seconds->min.count(), hi = m.seconds->max.count();
    for (std::int64_t ms : {lo - 1, lo, lo + 1, (lo + hi) / 2, hi - 1, hi, hi + 1, std::int64_t{1'500},
                            std::int64_t{6'001}}) {
      for (bool audio : {false, true}) {
        if (audio && !m.audio) continue;
        usage u;
        u.seconds = media_duration{ms};
        u.audio = audio;
        out.push_back(u);
      }
    }
  }
  if (m.outputs) {
    std::vector<std::optional<std::string>> resolutions = {std::nullopt, std::string("4k")};
    for (const auto& r : m.resolutions) resolutions.emplace_back(r);
    for (std::int64_t n = 0; n <= m.outputs->max + 1; ++n)
      for (const auto& r : resolutions) {
        usage u;
        u.outputs = count{n};
        u.resolution = r;
        out.push_back(u);
      }
  }
  if (m.text) {
    for (std::int64_t n : {std::int64_t{0}, std::int64_t{1}, std::int64_t{49}, std::int64_t{50},
                           std::int64_t{51}, m.text->max_characters, m.text->max_characters + 1}) {
      usage u;
      u.text = std::string(static_cast<std::size_t>(n), 'a');
      out.push_back(u);
    }
  }
  out.push_back(usage{});
  return out;
}

}  // namespace

TEST_CASE("data/runway-catalog.json agrees with the compiled-in catalog, model by model") {
  const catalog file = json::load_catalog(runway_file);
  const catalog& built_in = runway_catalog();
  CHECK(file.price_list_date() == built_in.price_list_date());
  CHECK(file.price() == built_in.price());
  REQUIRE(file.models().size() == built_in.models().size());
  for (std::size_t i = 0; i < file.models().size(); ++i) {
    const model_spec& a = file.models()[i];
    const model_spec& b = built_in.models()[i];
    INFO("models[" << i << "] " << b.id);
    CHECK(a.id == b.id);
    CHECK(a.kind == b.kind);
    CHECK(a.rate.describe() == b.rate.describe());
    CHECK(a.rate.fields() == b.rate.fields());
    CHECK(a.seconds == b.seconds);
    CHECK(a.outputs == b.outputs);
    CHECK(a.resolutions == b.resolutions);
    CHECK(a.audio == b.audio);
    CHECK(a.text == b.text);
    CHECK(a.group == b.group);
    for (const usage& u : probes(b)) {
      const auto qa = file.quote(a.id, u);
      const auto qb = built_in.quote(b.id, u);
      REQUIRE(qa.has_value() == qb.has_value());
      if (!qa) {
        CHECK(qa.error().message() == qb.error().message());
        continue;
      }
      CHECK(qa->exact == qb->exact);
      CHECK(qa->charged == qb->charged);
      CHECK(qa->usd == qb->usd);
      REQUIRE(qa->lines.size() == qb->lines.size());
      CHECK(std::equal(qa->lines.begin(), qa->lines.end(), qb->lines.begin()));
    }
  }
}

TEST_CASE("a valid catalog loads, with integer or decimal-string amounts") {
  const catalog c = json::parse_catalog(base().dump());
  CHECK(c.models().size() == 4);
  CHECK(c.quote(job{.model = "v", .usage = {.seconds = media_duration{10'000}}})->charged == credits{50});
  SECTION("integers for amounts") {
    const catalog d = json::parse_catalog(with([](ojson& d) {
      d["models"][0]["rate"]["credits_per_second"] = 5;
      d["credit_price_usd"] = 1;
    }));
    const auto q = d.quote(job{.model = "v", .usage = {.seconds = media_duration{10'000}}});
    CHECK(q->charged == credits{50});
    CHECK(q->usd == usd{50});
  }
  SECTION("seconds as decimal strings") {
    const catalog d = json::parse_catalog(with([](ojson& d) { d["models"][0]["seconds"]["min"] = "0.5"; }));
    CHECK(d.find("v")->seconds->min == media_duration{500});
  }
  SECTION("optional fields may be left out") {
    const catalog d = json::parse_catalog(R"({"version": 1, "models": []})");
    CHECK(d.models().empty());
    CHECK(d.price_list_date().empty());
    CHECK(d.price() == credit_price{});
  }
  SECTION("another rounding policy") {
    const auto d = json::parse_catalog<exact>(with([](ojson& d) {
      d["models"][0]["rate"]["credits_per_second"] = "0.25";
    }));
    CHECK(d.quote(job{.model = "v", .usage = {.seconds = media_duration{3'000}}})->charged ==
          credits::parse("0.75").value());
  }
}

TEST_CASE("composite rates load from JSON") {
  const catalog c = json::parse_catalog(with([](ojson& d) {
    d["models"][0]["rate"] = ojson::parse(R"({"type": "max", "rates": [
        {"type": "per_second", "credits_per_second": "5"}, {"type": "flat", "credits": "20"}]})");
    d["models"][3]["rate"] = ojson::parse(R"({"type": "sum", "rates": [
        {"type": "per_second", "credits_per_second": "1", "credits_per_second_with_audio": "2"},
        {"type": "flat", "credits": "2"},
        {"type": "min", "rates": [{"type": "per_block", "credits": "1", "seconds": "2.5"},
                                  {"type": "flat", "credits": "3"}]}]})");
  }));
  const auto q = [&](const char* model, std::int64_t ms, bool audio = false) {
    return c.quote(job{.model = model, .usage = {.seconds = media_duration{ms}, .audio = audio}})->exact;
  };
  CHECK(q("v", 2'000) == credits{20});  // the minimum charge
  CHECK(q("v", 10'000) == credits{50});
  CHECK(q("a", 4'000) == credits{4 + 2 + 2});         // 4 s + flat 2 + two blocks of 2.5 s
  CHECK(q("a", 8'000, true) == credits{16 + 2 + 3});  // audio price + flat 2 + capped at 3
  CHECK(c.find("a")->rate.describe() ==
        "1 credit per second (2 with audio) + 2 credits per job + "
        "the least of (1 credit per 2.5 seconds; 3 credits per job)");
}

TEST_CASE("a file that is not a catalog is refused whole") {
  SECTION("not JSON at all") {
    const auto e = refused("{\"version\": 1,");
    CHECK(e.path().empty());
    CHECK(e.source() == "t.json");
    CHECK_THAT(e.reason(), StartsWith("not valid JSON: parse error at line 1"));
    CHECK_THAT(std::string(e.what()), StartsWith("t.json: not valid JSON"));
  }
  SECTION("not an object") { CHECK_THAT(refused("[]").reason(), Contains("expected an object, got an array")); }
  SECTION("no version") {
    const auto e = refused(with([](ojson& d) { d.erase("version"); }));
    CHECK(e.path() == "version");
    CHECK(e.reason() == "is missing");
  }
  SECTION("a version this build does not read") {
    const auto e = refused(with([](ojson& d) { d["version"] = 2; }));
    CHECK(e.path() == "version");
    CHECK_THAT(e.reason(), Contains("reads version 1"));
  }
  SECTION("an unknown top-level field") {
    const auto e = refused(with([](ojson& d) { d["modles"] = ojson::array(); }));
    CHECK(e.path() == "modles");
    CHECK_THAT(e.reason(), StartsWith("unknown field"));
  }
  SECTION("models is not an array") {
    CHECK(refused(with([](ojson& d) { d["models"] = "all"; })).path() == "models");
  }
  SECTION("a repeated key") {
    std::string text = base().dump();
    text.replace(text.find("\"id\":\"a\""), 8, "\"id\":\"a\",\"id\":\"b\"");
    const auto e = refused(text);
    CHECK(e.path() == "models[3].id");
    CHECK(e.reason() == "repeated key");
  }
  SECTION("the file cannot be read") {
    try {
      (void)json::load_catalog(std::string(TOLLGATE_TEST_DATA_DIR) + "/no-such-catalog.json");
      FAIL("loaded a missing file");
    } catch (const json::catalog_error& e) {
      CHECK(e.path().empty());
      CHECK_THAT(e.source(), Contains("no-such-catalog.json"));
      CHECK_THAT(e.reason(), Contains("cannot open"));
    }
  }
  SECTION("a directory: not a regular file, not \"invalid JSON\"") {
    try {
      (void)json::load_catalog(std::string(TOLLGATE_TEST_DATA_DIR));
      FAIL("loaded a directory");
    } catch (const json::catalog_error& e) {
      CHECK(e.path().empty());
      CHECK(e.reason() == "is a directory, not a regular file");
    }
  }
}

TEST_CASE("load_catalog reads regular files only, up to max_catalog_bytes") {
  const auto reason = [](const std::string& file) {
    try {
      (void)json::load_catalog(file);
    } catch (const json::catalog_error& e) {
      CHECK(e.source() == file);
      return e.reason();
    }
    FAIL("loaded " << file);
    return std::string();
  };
  SECTION("a FIFO is refused at once (opening it used to wait for a writer for ever)") {
    const std::string fifo = std::string(TOLLGATE_TEST_BINARY_DIR) + "/catalog.fifo";
    std::remove(fifo.c_str());
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    CHECK(reason(fifo) == "is a FIFO, not a regular file");
    std::remove(fifo.c_str());
  }
  SECTION("a device is refused (/dev/zero used to be read until memory ran out)") {
    CHECK(reason("/dev/zero") == "is a character device, not a regular file");
    CHECK(reason("/dev/null") == "is a character device, not a regular file");
  }
  SECTION("a file one byte over the limit is refused before it is parsed") {
    const std::string big = std::string(TOLLGATE_TEST_BINARY_DIR) + "/big-catalog.json";
    {
      std::ofstream out(big, std::ios::binary | std::ios::trunc);
      out << std::string(json::max_catalog_bytes + 1, ' ');
    }
    CHECK(reason(big) == fmt::format("is larger than the limit of {} bytes", json::max_catalog_bytes));
    std::remove(big.c_str());
  }
}

TEST_CASE("load_catalog reads a whole file larger than one read buffer") {
  // Pad the Runway file with whitespace past several buffers: every byte must arrive.
  const std::string padded = std::string(TOLLGATE_TEST_BINARY_DIR) + "/padded-catalog.json";
  {
    std::ifstream in(runway_file, std::ios::binary);
    std::ofstream out(padded, std::ios::binary | std::ios::trunc);
    out << std::string(100'000, ' ') << in.rdbuf() << std::string(3, '\n');
  }
  const catalog c = json::load_catalog(padded);
  CHECK(c.models().size() == runway_catalog().models().size());
  std::remove(padded.c_str());
}

TEST_CASE("a bad amount is refused with its JSON path") {
  const std::string path = "models[3].rate.credits_per_second";
  const auto price = [](ojson v) {
    return refused(with([&](ojson& d) { d["models"][3]["rate"]["credits_per_second"] = v; }));
  };
  SECTION("a floating-point number") {
    const auto e = price(5.0);
    CHECK(e.path() == path);
    CHECK_THAT(e.reason(), StartsWith("floating-point numbers are refused"));
    CHECK_THAT(std::string(e.what()), StartsWith("t.json: models[3].rate.credits_per_second: "));
  }
  SECTION("malformed decimals") {
    for (const char* bad : {"1.2.3", "1e5", "", " 7", "+5", "five"}) {
      INFO(bad);
      const auto e = price(bad);
      CHECK(e.path() == path);
      CHECK_THAT(e.reason(), Contains("invalid credits amount"));
    }
  }
  SECTION("too many decimal places") {
    CHECK_THAT(price("0.0000001").reason(), Contains("at most 6 decimal places"));
  }
  SECTION("negative") { CHECK_THAT(price("-5").reason(), Contains("must not be negative")); }
  SECTION("too large") {
    CHECK_THAT(price("999999999999999999999999999999999999999999").reason(), Contains("too large"));
  }
  SECTION("wrong type") { CHECK_THAT(price(true).reason(), Contains("got a boolean")); }
  SECTION("missing") {
    const auto e = refused(with([](ojson& d) { d["models"][3]["rate"].erase("credits_per_second"); }));
    CHECK(e.path() == path);
    CHECK(e.reason() == "is missing");
  }
  SECTION("the credit price must be positive") {
    const auto e = refused(with([](ojson& d) { d["credit_price_usd"] = "0"; }));
    CHECK(e.path() == "credit_price_usd");
    CHECK_THAT(e.reason(), Contains("must be positive"));
  }
}

TEST_CASE("JSON numbers with a fraction or an exponent are refused, never read through double") {
  // As written in a file (not built through ojson): 10.5 seconds, 1e3 seconds, 5e0 credits.
  const auto text = [](std::string seconds_max, std::string price) {
    return R"({"version": 1, "models": [{"id": "v", "kind": "video", "rate": {"type": "per_second",
              "credits_per_second": )" + price + R"(}, "seconds": {"min": 1, "max": )" + seconds_max + "}}]}";
  };
  CHECK(json::parse_catalog(text("10", "5")).find("v")->seconds->max == media_duration{10'000});
  for (const char* s : {"10.5", "1e3", "1E3", "10.0", "-1e1"}) {
    INFO(s);
    const auto e = refused(text(s, "5"));
    CHECK(e.path() == "models[0].seconds.max");
    CHECK_THAT(e.reason(), StartsWith("floating-point numbers are refused"));
  }
  for (const char* p : {"5e0", "0.5", "1e-2"}) {
    INFO(p);
    const auto e = refused(text("10", p));
    CHECK(e.path() == "models[0].rate.credits_per_second");
    CHECK_THAT(e.reason(), StartsWith("floating-point numbers are refused"));
  }
}

TEST_CASE("a number too large for a double is refused with its JSON path") {
  // nlohmann raises out_of_range (406) for these, not parse_error: they
  // escaped the loader as a raw nlohmann exception, with no file and no path.
  const auto text = [](std::string seconds_max, std::string price) {
    return R"({"version": 1, "models": [{"id": "v", "kind": "video", "rate": {"type": "per_second",
              "credits_per_second": )" + price + R"(}, "seconds": {"min": 1, "max": )" + seconds_max + "}}]}";
  };
  SECTION("an exponent out of range") {
    for (const char* p : {"1e400", "-1e400", "1E+999"}) {
      INFO(p);
      const auto e = refused(text("10", p));
      CHECK(e.source() == "t.json");
      CHECK(e.path() == "models[0].rate.credits_per_second");
      CHECK(e.reason() == fmt::format("number overflow parsing '{}'", p));
    }
  }
  SECTION("an integer of 400 digits") {
    const std::string digits = "1" + std::string(400, '0');
    const auto e = refused(text(digits, "5"));
    CHECK(e.path() == "models[0].seconds.max");
    CHECK_THAT(e.reason(), StartsWith("number overflow parsing '1000"));
  }
  SECTION("an integer of 23 digits: too large, not \"floating-point\"") {
    // nlohmann reads an integer beyond 64 bits as a double; it was reported
    // as a floating-point number, which it is not.
    const auto e = refused(text("10", "12345678901234567890123"));
    CHECK(e.path() == "models[0].rate.credits_per_second");
    CHECK_THAT(e.reason(), StartsWith("the integer 12345678901234567890123 is too large (more than 64 bits); "
                                      "write a large amount as a decimal string such as \"12345678901234567890123\""));
    CHECK_THAT(refused(text("-12345678901234567890123", "5")).reason(), StartsWith("the integer -123"));
  }
  SECTION("top level, and in an array") {
    CHECK(refused(R"({"version": 1e400, "models": []})").path() == "version");
    const auto e = refused(R"({"version": 1, "models": [{"id": "i", "kind": "image",
        "rate": {"type": "flat", "credits": "1"}, "resolutions": ["720p", 1e400]}]})");
    CHECK(e.path() == "models[0].resolutions[1]");
  }
  SECTION("from a file: catalog_error naming the file") {
    const std::string file = std::string(TOLLGATE_TEST_BINARY_DIR) + "/huge-number-catalog.json";
    std::ofstream(file, std::ios::binary | std::ios::trunc) << text("10", "1e400");
    try {
      (void)json::load_catalog(file);
      FAIL("loaded a catalog with 1e400");
    } catch (const json::catalog_error& e) {
      CHECK(e.source() == file);
      CHECK(std::string(e.what()) ==
            file + ": models[0].rate.credits_per_second: number overflow parsing '1e400'");
    }
    std::remove(file.c_str());
  }
}

TEST_CASE("a bad rate or model field is refused with its JSON path") {
  const auto field = [](std::function<void(ojson&)> change) { return refused(with(change)).path(); };
  CHECK(field([](ojson& d) { d["models"][0]["rate"]["type"] = "per_minute"; }) == "models[0].rate.type");
  CHECK(field([](ojson& d) { d["models"][0]["rate"].erase("type"); }) == "models[0].rate.type");
  CHECK(field([](ojson& d) { d["models"][0]["rate"]["credits"] = "5"; }) == "models[0].rate.credits");
  CHECK(field([](ojson& d) { d["models"][0]["colour"] = "red"; }) == "models[0].colour");
  CHECK(field([](ojson& d) { d["models"][0]["kind"] = "hologram"; }) == "models[0].kind");
  CHECK(field([](ojson& d) { d["models"][0].erase("id"); }) == "models[0].id");
  CHECK(field([](ojson& d) { d["models"][0]["id"] = 7; }) == "models[0].id");
  CHECK(field([](ojson& d) { d["models"][0]["seconds"]["min"] = 2.5; }) == "models[0].seconds.min");
  CHECK(field([](ojson& d) { d["models"][0]["seconds"]["min"] = "2.0001"; }) == "models[0].seconds.min");
  CHECK(field([](ojson& d) { d["models"][0]["seconds"]["step"] = 1; }) == "models[0].seconds.step");
  CHECK(field([](ojson& d) { d["models"][1]["outputs"]["max"] = "4"; }) == "models[1].outputs.max");
  CHECK(field([](ojson& d) { d["models"][1]["outputs"]["max"] = 0; }) == "models[1].outputs.max");
  CHECK(field([](ojson& d) { d["models"][1]["resolutions"] = "720p"; }) == "models[1].resolutions");
  CHECK(field([](ojson& d) { d["models"][1]["resolutions"] = {"720p", 1080}; }) == "models[1].resolutions[1]");
  CHECK(field([](ojson& d) { d["models"][1]["rate"]["credits_by_resolution"] = ojson::object(); }) ==
        "models[1].rate.credits_by_resolution");
  CHECK(field([](ojson& d) { d["models"][1]["rate"]["credits_per_output"] = "2"; }) ==
        "models[1].rate.credits_by_resolution");
  CHECK(field([](ojson& d) { d["models"][1]["rate"]["credits_by_resolution"]["4k"] = 1.5; }) ==
        "models[1].rate.credits_by_resolution.4k");
  CHECK(field([](ojson& d) { d["models"][2]["rate"]["characters"] = 0; }) == "models[2].rate.characters");
  CHECK(field([](ojson& d) { d["models"][2]["text"]["max_characters"] = -1; }) ==
        "models[2].text.max_characters");
  CHECK(field([](ojson& d) { d["models"][3]["audio"] = "yes"; }) == "models[3].audio");
  CHECK(field([](ojson& d) {
          d["models"][0]["rate"] = {{"type", "per_block"}, {"credits", "1"}, {"seconds", 0}};
        }) == "models[0].rate.seconds");
  CHECK(field([](ojson& d) { d["models"][0]["rate"] = {{"type", "sum"}, {"rates", ojson::array()}}; }) ==
        "models[0].rate.rates");
  CHECK(field([](ojson& d) { d["models"][0]["rate"] = "5 per second"; }) == "models[0].rate");
}

TEST_CASE("a model the catalog refuses is reported at its JSON path") {
  SECTION("a repeated id") {
    const auto e = refused(with([](ojson& d) { d["models"][3]["id"] = "i"; }));
    CHECK(e.path() == "models[3].id");
    CHECK(e.reason() == "repeats models[1]");
  }
  SECTION("a reversed range") {
    const auto e = refused(with([](ojson& d) { d["models"][0]["seconds"]["max"] = 1; }));
    CHECK(e.path() == "models[0].seconds.max");
    CHECK_THAT(e.reason(), Contains("must not be less than seconds.min"));
  }
  SECTION("a rate priced per second on a model without seconds") {
    CHECK(refused(with([](ojson& d) { d["models"][0].erase("seconds"); })).path() == "models[0].seconds");
  }
  SECTION("an audio price on a model without audio") {
    CHECK(refused(with([](ojson& d) { d["models"][3]["audio"] = false; })).path() == "models[3].audio");
  }
  SECTION("an allowed resolution with no price") {
    const auto e = refused(with([](ojson& d) { d["models"][1]["resolutions"] = {"720p", "4k"}; }));
    CHECK(e.path() == "models[1].resolutions[1]");
    CHECK(e.reason() == "'4k' has no price in the rate");
  }
  SECTION("a model group: optional, and a valid name when given") {
    CHECK(json::parse_catalog(with([](ojson& d) { d["models"][0]["group"] = "video"; })).models()[0].group ==
          "video");
    CHECK(json::parse_catalog(base().dump()).models()[0].group.empty());
    const auto e = refused(with([](ojson& d) { d["models"][2]["group"] = "Audio Tools"; }));
    CHECK(e.path() == "models[2].group");
    CHECK_THAT(e.reason(), Contains("a-z 0-9 _ - ."));
    const auto empty = refused(with([](ojson& d) { d["models"][2]["group"] = ""; }));
    CHECK(empty.path() == "models[2].group");
    CHECK_THAT(empty.reason(), Contains("leave the field out"));
    CHECK(refused(with([](ojson& d) { d["models"][2]["group"] = 3; })).path() == "models[2].group");
  }
  SECTION("a malformed date") {
    const auto e = refused(with([](ojson& d) { d["price_list_date"] = "1 Nov 2026"; }));
    CHECK(e.path() == "price_list_date");
  }
  SECTION("a date that is not on the calendar") {
    for (const char* bad : {"2026-13-01", "2026-02-30", "2026-99-99"}) {
      INFO(bad);
      const auto e = refused(with([&](ojson& d) { d["price_list_date"] = bad; }));
      CHECK(e.path() == "price_list_date");
      CHECK_THAT(e.reason(), Contains("is not a calendar date"));
    }
    const catalog c = json::parse_catalog(with([](ojson& d) { d["price_list_date"] = "2024-02-29"; }));
    CHECK(c.price_list_date() == "2024-02-29");
  }
  SECTION("too many rates in one list") {
    // Parts fold into nested composites: a list's length is call depth when
    // pricing, and a 30000-part sum overflowed the stack on the first quote.
    const auto flats = [](std::size_t n) {
      ojson list = ojson::array();
      for (std::size_t i = 0; i < n; ++i) list.push_back({{"type", "flat"}, {"credits", "1"}});
      return ojson{{"type", "sum"}, {"rates", list}};
    };
    const auto e = refused(with([&](ojson& d) { d["models"][1]["rate"] = flats(17); }));
    CHECK(e.path() == "models[1].rate.rates");
    CHECK(e.reason() == "at most 16 rates in one list, got 17");
    CHECK(refused(with([&](ojson& d) { d["models"][1]["rate"] = flats(30'000); })).path() ==
          "models[1].rate.rates");
    const catalog c = json::parse_catalog(with([&](ojson& d) { d["models"][1]["rate"] = flats(16); }));
    CHECK(c.quote(job{.model = "i"}).value().exact == credits{16});
  }
  SECTION("rates nested too deep") {
    ojson r = {{"type", "flat"}, {"credits", "1"}};
    for (int i = 0; i < 10; ++i) r = {{"type", "sum"}, {"rates", ojson::array({r})}};
    const auto e = refused(with([&](ojson& d) { d["models"][0]["rate"] = r; }));
    CHECK_THAT(e.path(), StartsWith("models[0].rate.rates[0].rates[0]"));
    CHECK_THAT(e.reason(), Contains("nest more than 8 deep"));
  }
}
