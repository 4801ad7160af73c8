//===- JsonWriterTest.cpp - The JSON lines of seqc bench --json -----------===//
//
// Scripts read `seqc bench --json` line by line, so every line must be one
// valid JSON object whatever a path holds and whatever a timing came out as.
//
//===----------------------------------------------------------------------===//

#include "compiler/bench/JsonWriter.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>

using namespace seqc::bench;

TEST_CASE("jsonString escapes quotes, backslashes and non-printable bytes") {
  CHECK(jsonString("plain/path.nn") == "\"plain/path.nn\"");
  CHECK(jsonString("a\"b") == "\"a\\\"b\"");
  CHECK(jsonString("a\\b") == "\"a\\\\b\"");
  CHECK(jsonString("tab\there") == "\"tab\\u0009here\"");
  CHECK(jsonString("line\n") == "\"line\\u000a\"");
  CHECK(jsonString("\x7f") == "\"\\u007f\"");
  // UTF-8 bytes are escaped one by one: the line stays 7-bit ASCII.
  CHECK(jsonString("caf\xc3\xa9") == "\"caf\\u00c3\\u00a9\"");
  CHECK(jsonString("") == "\"\"");
}

TEST_CASE("jsonNumber writes six significant digits and null for non-finite "
          "values") {
  CHECK(jsonNumber(0.0) == "0");
  CHECK(jsonNumber(28) == "28");
  CHECK(jsonNumber(1.0 / 3.0) == "0.333333");
  CHECK(jsonNumber(8.19704123e-05) == "8.19704e-05");
  CHECK(jsonNumber(24399.01) == "24399");
  CHECK(jsonNumber(-2.5) == "-2.5");
  CHECK(jsonNumber(INFINITY) == "null");
  CHECK(jsonNumber(-INFINITY) == "null");
  CHECK(jsonNumber(std::numeric_limits<double>::quiet_NaN()) == "null");
}

TEST_CASE("JsonObjectWriter keeps the fields in order on one line") {
  CHECK(JsonObjectWriter().str() == "{}");
  JsonObjectWriter json;
  json.string("file", "x.nn")
      .integer("batch", 64)
      .number("median_seconds", 1.5e-06)
      .null("peak_gflops")
      .integer("big", 18446744073709551615ull);
  CHECK(json.str() == "{\"file\": \"x.nn\", \"batch\": 64, \"median_seconds\": "
                      "1.5e-06, \"peak_gflops\": null, \"big\": "
                      "18446744073709551615}");
}

TEST_CASE("the optional forms write null for an absent value") {
  JsonObjectWriter json;
  json.optionalNumber("a", std::nullopt)
      .optionalNumber("b", 0.5)
      .optionalNumber("c", INFINITY)
      .optionalInteger("d", std::nullopt)
      .optionalInteger("e", uint64_t(7))
      .optionalString("f", std::nullopt)
      .optionalString("g", std::string_view("AVX2 FMA"));
  CHECK(json.str() == "{\"a\": null, \"b\": 0.5, \"c\": null, \"d\": null, "
                      "\"e\": 7, \"f\": null, \"g\": \"AVX2 FMA\"}");
}
