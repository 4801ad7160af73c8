//===- SafetensorsTest.cpp - Tests for the safetensors reader/writer ------===//

#include "frontend/Safetensors.h"
#include "ByteStrings.h"
#include "compiler/support/Diagnostics.h"
#include "compiler/support/FileIO.h"
#include "compiler/support/SourceManager.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <unistd.h>

using namespace seqc;
using namespace seqc::test;

namespace {

/// A safetensors image: the header's length, the header, the data.
std::string image(std::string_view header, std::string_view data = {}) {
  return le64(header.size()) + std::string(header) + std::string(data);
}

uint32_t bitsOf(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

struct Parsed {
  std::optional<SafetensorsFile> file;
  std::string diagnostics;
  unsigned errors = 0;
};

Parsed parse(std::string_view bytes) {
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  Parsed result;
  diag.captureTo(&result.diagnostics);
  result.file = parseSafetensors(bytes, "w.safetensors", diag);
  result.errors = diag.getNumErrors();
  return result;
}

/// Asserts that \p bytes is rejected with exactly the message \p message.
void expectError(std::string_view bytes, std::string_view message) {
  Parsed result = parse(bytes);
  CHECK_FALSE(result.file.has_value());
  CHECK(result.errors == 1);
  CHECK(result.diagnostics ==
        "w.safetensors: error: " + std::string(message) + "\n");
}

/// A one-tensor header for \p entry (the JSON object of the tensor).
std::string one(std::string_view entry) {
  return "{\"t\":" + std::string(entry) + "}";
}

std::string tempPath(std::string_view name) {
  return (std::filesystem::temp_directory_path() /
          ("seqc-safetensors-test-" + std::to_string(::getpid()) + "-" +
           std::string(name)))
      .string();
}

std::filesystem::path dataDir() {
  return std::filesystem::path(SEQC_SOURCE_DIR) / "tests" / "data";
}

} // namespace

//===----------------------------------------------------------------------===//
// Valid files
//===----------------------------------------------------------------------===//

TEST_CASE("writer output is byte-identical to the reference implementation") {
  // huggingface/safetensors' test_serialization: "attn.0", F32 [1, 2, 3].
  const unsigned char expected[] = {
      64,  0,   0,   0,   0,   0,   0,   0,   123, 34,  97,  116, 116, 110,
      46,  48,  34,  58,  123, 34,  100, 116, 121, 112, 101, 34,  58,  34,
      70,  51,  50,  34,  44,  34,  115, 104, 97,  112, 101, 34,  58,  91,
      49,  44,  50,  44,  51,  93,  44,  34,  100, 97,  116, 97,  95,  111,
      102, 102, 115, 101, 116, 115, 34,  58,  91,  48,  44,  50,  52,  93,
      125, 125, 0,   0,   0,   0,   0,   0,   128, 63,  0,   0,   0,   64,
      0,   0,   64,  64,  0,   0,   128, 64,  0,   0,   160, 64};
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  std::optional<std::string> bytes = serializeSafetensors(
      {{"attn.0", Tensor({1, 2, 3}, {0, 1, 2, 3, 4, 5})}}, "out", diag);
  REQUIRE(bytes);
  CHECK(*bytes ==
        std::string(reinterpret_cast<const char *>(expected), sizeof expected));

  // Its test_serialization_forced_alignement: the header is padded with
  // spaces to a multiple of 8.
  bytes = serializeSafetensors(
      {{"attn0", Tensor({1, 1, 2, 3}, {0, 1, 2, 3, 4, 5})}}, "out", diag);
  REQUIRE(bytes);
  CHECK(bytes->size() == 8 + 72 + 24);
  CHECK(bytes->substr(0, 8) == le64(72));
  CHECK(bytes->substr(8 + 65, 7) == "       ");

  // Its test_empty.
  bytes = serializeSafetensors({}, "out", diag);
  REQUIRE(bytes);
  CHECK(*bytes == le64(8) + "{}      ");
  CHECK(diag.getNumErrors() == 0);
}

TEST_CASE("round trip through writeSafetensors and readSafetensors") {
  std::string path = tempPath("roundtrip.safetensors");
  std::vector<std::pair<std::string, Tensor>> tensors = {
      {"1.weight", Tensor({2, 3}, {1.5f, -2.0f, 0.0f, -0.0f, 1e-40f, 3e38f})},
      {"0.weight", Tensor({3, 2}, {1, 2, 3, 4, 5, 6})},
      {"0.bias", Tensor({3}, {std::numeric_limits<float>::infinity(),
                              -std::numeric_limits<float>::infinity(),
                              std::numeric_limits<float>::quiet_NaN()})},
      {"scalar", Tensor({}, {42.0f})},
      {"empty", Tensor({0, 4}, {})},
      {"we\"ird\\name\n", Tensor({1}, {7.0f})},
  };
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  std::string diagnostics;
  diag.captureTo(&diagnostics);
  REQUIRE(writeSafetensors(path, tensors, diag));
  std::optional<SafetensorsFile> file = readSafetensors(path, diag);
  std::filesystem::remove(path);
  CHECK(diagnostics.empty());
  REQUIRE(file);
  REQUIRE(file->tensors.size() == tensors.size());
  // Keys are sorted; data follows in the same order.
  CHECK(file->tensors[0].name == "0.bias");
  CHECK(file->tensors[1].name == "0.weight");
  CHECK(file->tensors[5].name == "we\"ird\\name\n");
  for (const auto &[name, tensor] : tensors) {
    const SafetensorsTensor *read = file->find(name);
    REQUIRE(read);
    CHECK(read->dtype == "F32");
    CHECK(read->isFloat);
    CHECK(read->shape == tensor.shape);
    CHECK(read->value.shape == tensor.shape);
    REQUIRE(read->value.data.size() == tensor.data.size());
    for (size_t i = 0; i < tensor.data.size(); ++i)
      CHECK(bitsOf(read->value.data[i]) == bitsOf(tensor.data[i]));
  }
  CHECK(file->find("missing") == nullptr);
  CHECK(file->metadata.empty());
}

TEST_CASE("F16 converts exactly") {
  struct Case {
    uint16_t half;
    uint32_t expected;
  } cases[] = {
      {0x0000, 0x00000000}, // +0
      {0x8000, 0x80000000}, // -0
      {0x3c00, 0x3f800000}, // 1
      {0xc000, 0xc0000000}, // -2
      {0x3555, 0x3eaaa000}, // 0.333251953125
      {0x0001, 0x33800000}, // smallest subnormal, 2^-24
      {0x8001, 0xb3800000}, // its negative
      {0x03ff, 0x387fc000}, // largest subnormal
      {0x0400, 0x38800000}, // smallest normal, 2^-14
      {0x7bff, 0x477fe000}, // 65504
      {0x7c00, 0x7f800000}, // +inf
      {0xfc00, 0xff800000}, // -inf
      {0x7e00, 0x7fc00000}, // quiet NaN
      {0x7c01, 0x7f802000}, // signalling NaN, payload kept
      {0xfe01, 0xffc02000}, // negative NaN with payload
  };
  for (const Case &c : cases) {
    CAPTURE(c.half);
    CHECK(bitsOf(halfToFloat(c.half)) == c.expected);
  }
#ifdef __FLT16_MAX__
  // Exhaustively against the compiler's own conversion.
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    uint16_t bits = uint16_t(h);
    _Float16 x;
    std::memcpy(&x, &bits, 2);
    float expected = static_cast<float>(x);
    float actual = halfToFloat(bits);
    if (std::isnan(expected)) {
      CHECK(std::isnan(actual));
    } else if (bitsOf(actual) != bitsOf(expected)) {
      CAPTURE(h);
      CHECK(bitsOf(actual) == bitsOf(expected));
    }
  }
#endif
}

TEST_CASE("F16, BF16 and F64 tensors are converted to float32 exactly") {
  auto u16 = [](std::initializer_list<uint16_t> values) {
    std::string out;
    for (uint16_t v : values) {
      out.push_back(char(v & 0xff));
      out.push_back(char(v >> 8));
    }
    return out;
  };
  auto f64 = [](std::initializer_list<double> values) {
    std::string out;
    for (double d : values) {
      char b[8];
      std::memcpy(b, &d, 8);
      out.append(b, 8);
    }
    return out;
  };
  std::string half = u16({0x3c00, 0x0001, 0xfc00, 0x7c01});
  std::string bf16 = u16({0x3f80, 0x0001, 0xff80, 0xff81, 0x4049});
  std::vector<double> doubles = {0.1,
                                 1.0 + std::ldexp(1.0, -24),     // tie: even
                                 1.0 + 3 * std::ldexp(1.0, -24), // tie: up
                                 1e300,
                                 -1e300,
                                 1e-50,
                                 -0.0,
                                 1e-40,
                                 std::numeric_limits<double>::quiet_NaN(),
                                 -std::numeric_limits<double>::infinity()};
  std::string f64Data;
  for (double d : doubles)
    f64Data += f64({d});
  std::string header =
      "{\"h\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]},"
      "\"b\":{\"dtype\":\"BF16\",\"shape\":[5],\"data_offsets\":[8,18]},"
      "\"d\":{\"dtype\":\"F64\",\"shape\":[2,5],\"data_offsets\":[18,98]}}";
  Parsed result = parse(image(header, half + bf16 + f64Data));
  CHECK(result.diagnostics.empty());
  REQUIRE(result.file);
  const SafetensorsTensor *h = result.file->find("h");
  const SafetensorsTensor *b = result.file->find("b");
  const SafetensorsTensor *d = result.file->find("d");
  REQUIRE((h && b && d));
  CHECK(h->dtype == "F16");
  CHECK(b->dtype == "BF16");
  CHECK(d->dtype == "F64");
  CHECK((h->isFloat && b->isFloat && d->isFloat));
  CHECK(d->shape == std::vector<int64_t>{2, 5});
  CHECK(d->value.shape == std::vector<int64_t>{2, 5});

  std::vector<uint32_t> hBits, bBits, dBits;
  for (float f : h->value.data)
    hBits.push_back(bitsOf(f));
  for (float f : b->value.data)
    bBits.push_back(bitsOf(f));
  for (float f : d->value.data)
    dBits.push_back(bitsOf(f));
  CHECK(hBits ==
        std::vector<uint32_t>{0x3f800000, 0x33800000, 0xff800000, 0x7f802000});
  CHECK(bBits == std::vector<uint32_t>{0x3f800000, 0x00010000, 0xff800000,
                                       0xff810000, 0x40490000});
  REQUIRE(dBits.size() == 10);
  CHECK(dBits[0] == 0x3dcccccd); // 0.1f
  CHECK(dBits[1] == 0x3f800000); // 1 + 2^-24 ties to even: 1
  CHECK(dBits[2] == 0x3f800002); // 1 + 3 * 2^-24 ties to even: 1 + 2^-22
  CHECK(dBits[3] == 0x7f800000); // overflow rounds to +inf
  CHECK(dBits[4] == 0xff800000);
  CHECK(dBits[5] == 0x00000000); // underflow rounds to 0
  CHECK(dBits[6] == 0x80000000);
  CHECK(dBits[7] == 0x000116c2); // float32 subnormal
  CHECK(std::isnan(d->value.data[8]));
  CHECK(dBits[9] == 0xff800000);
}

TEST_CASE("integer tensors are kept unconverted, in offset order") {
  // BatchNorm1d's state_dict: num_batches_tracked is an I64 scalar. The
  // header lists the keys out of data order.
  std::string header =
      "{\"0.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],"
      "\"data_offsets\":[8,16]},"
      "\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
      "\"mask\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[16,19]},"
      "\"__metadata__\":{\"format\":\"pt\",\"note\":\"caf\\u00e9\"}}";
  std::string data =
      floatBytes({1.0f, 2.0f}) + le64(7) + std::string("\1\0\1", 3);
  Parsed result = parse(image(header, data));
  CHECK(result.diagnostics.empty());
  REQUIRE(result.file);
  REQUIRE(result.file->tensors.size() == 3);
  CHECK(result.file->tensors[0].name == "0.weight");
  CHECK(result.file->tensors[1].name == "0.num_batches_tracked");
  CHECK(result.file->tensors[2].name == "mask");
  const SafetensorsTensor &count = result.file->tensors[1];
  CHECK(count.dtype == "I64");
  CHECK_FALSE(count.isFloat);
  CHECK(count.shape.empty());
  CHECK(count.value.data.empty());
  CHECK(result.file->tensors[2].dtype == "BOOL");
  CHECK(result.file->tensors[0].value.data == std::vector<float>{1.0f, 2.0f});
  REQUIRE(result.file->metadata.size() == 2);
  CHECK(result.file->metadata[0] ==
        std::pair<std::string, std::string>("format", "pt"));
  CHECK(result.file->metadata[1].second == "caf\xc3\xa9");
}

TEST_CASE("every integer dtype is accepted with its size") {
  struct Case {
    const char *dtype;
    unsigned size;
  } cases[] = {{"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"I16", 2}, {"U16", 2},
               {"I32", 4},  {"U32", 4}, {"I64", 8}, {"U64", 8}};
  for (const Case &c : cases) {
    CAPTURE(c.dtype);
    std::string header = fmt::format(
        "{{\"t\":{{\"dtype\":\"{}\",\"shape\":[3],\"data_offsets\":[0,{}]}}}}",
        c.dtype, 3 * c.size);
    Parsed result = parse(image(header, std::string(3 * c.size, '\0')));
    REQUIRE(result.file);
    CHECK(result.file->tensors[0].dtype == c.dtype);
    CHECK_FALSE(result.file->tensors[0].isFloat);
    // One byte short is caught by the exact size check.
    std::string bytes = image(header, std::string(3 * c.size, '\0'));
    expectError(bytes.substr(0, bytes.size() - 1),
                fmt::format("tensor 't': data_offsets [0, {}] run past the end "
                            "of the data buffer ({} bytes; file truncated?)",
                            3 * c.size, 3 * c.size - 1));
  }
}

TEST_CASE("lenient parts of the format are accepted like the reference") {
  // Whitespace padding, a null __metadata__, unknown fields in an entry,
  // escapes and surrogate pairs in names, zero-sized tensors sharing
  // an offset, and an empty file.
  std::string header =
      "  {\"__metadata__\": null,\n \"a\\ud83d\\ude00\\/\": {\"dtype\": "
      "\"F32\", \"shape\": [0, 5], \"data_offsets\": [0, 0], \"extra\": "
      "[1, {\"x\": true}, null, 1.5e3]},\t\"b\": {\"data_offsets\": [0, 4], "
      "\"shape\": [1], \"dtype\": \"F32\"}}        ";
  Parsed result = parse(image(header, floatBytes({3.0f})));
  CHECK(result.diagnostics.empty());
  REQUIRE(result.file);
  REQUIRE(result.file->tensors.size() == 2);
  CHECK(result.file->tensors[0].name == "a\xf0\x9f\x98\x80/");
  CHECK(result.file->tensors[0].value.data.empty());
  CHECK(result.file->tensors[0].value.shape == std::vector<int64_t>{0, 5});
  CHECK(result.file->tensors[1].value.data == std::vector<float>{3.0f});

  result = parse(le64(8) + "{}      ");
  REQUIRE(result.file);
  CHECK(result.file->tensors.empty());
}

//===----------------------------------------------------------------------===//
// Must-fail files: one per validation rule
//===----------------------------------------------------------------------===//

TEST_CASE("rejects a file shorter than the header length") {
  expectError(std::string("\x08\x00\x00", 3),
              "file is 3 bytes, too small for the 8-byte safetensors header "
              "length");
  expectError("", "file is 0 bytes, too small for the 8-byte safetensors "
                  "header length");
}

TEST_CASE("rejects a header length over the limit") {
  expectError(le64(100'000'001) + "{}",
              "header length 100000001 is larger than the limit of 100000000 "
              "bytes (not a safetensors file?)");
  expectError(le64(~0ull), "header length 18446744073709551615 is larger than "
                           "the limit of 100000000 bytes (not a safetensors "
                           "file?)");
}

TEST_CASE("rejects a header length past the end of the file") {
  expectError(le64(100) + "{}", "header length 100 runs past the end of the "
                                "file (2 bytes after the length field)");
}

TEST_CASE("rejects a header that is not UTF-8") {
  expectError(image("{\"\xff\":1}"),
              "header is not valid UTF-8 (bad byte 0xff at header byte 2)");
  // Overlong encoding and an encoded surrogate, which Rust rejects too.
  expectError(image("{\"\xc0\xaf\"}"),
              "header is not valid UTF-8 (bad byte 0xc0 at header byte 2)");
  expectError(image("{\"\xed\xa0\x80\"}"),
              "header is not valid UTF-8 (bad byte 0xed at header byte 2)");
}

TEST_CASE("rejects malformed JSON") {
  expectError(image("{\"t\":{\"dtype\":\"F32\""),
              "invalid JSON header at byte 19: expected ',' or '}' in object");
  expectError(image("{\"t\":[1,]}"),
              "invalid JSON header at byte 8: unexpected character ']'");
  expectError(image("{} x"),
              "invalid JSON header at byte 3: unexpected text after the JSON "
              "value");
  expectError(image("{'t':1}"),
              "invalid JSON header at byte 1: expected a string key in object");
  expectError(image("{\"t\":01}"), "invalid JSON header at byte 6: expected "
                                   "',' or '}' in object");
  expectError(image("{\"t\":1.}"), "invalid JSON header at byte 7: invalid "
                                   "number: digits must follow '.'");
  expectError(image("{\"t\":tru}"),
              "invalid JSON header at byte 5: invalid literal");
  expectError(image(""), "invalid JSON header at byte 0: unexpected end of "
                         "header");
  // NUL padding is not whitespace (the reference rejects it too).
  expectError(image(std::string("{}\0\0", 4)),
              "invalid JSON header at byte 2: unexpected text after the JSON "
              "value");
}

TEST_CASE("rejects bad strings in the header") {
  expectError(image("{\"a\nb\":1}"),
              "invalid JSON header at byte 3: control character in string");
  expectError(image("{\"a\\qb\":1}"),
              "invalid JSON header at byte 3: invalid escape in string");
  expectError(image("{\"\\ud800\":1}"), "invalid JSON header at byte 8: lone "
                                        "leading surrogate in \\u escape");
  expectError(image("{\"\\udc00\":1}"), "invalid JSON header at byte 8: lone "
                                        "trailing surrogate in \\u escape");
  expectError(image("{\"\\u12g4\":1}"),
              "invalid JSON header at byte 6: invalid \\u escape");
  expectError(image("{\"abc"),
              "invalid JSON header at byte 5: unterminated string");
}

TEST_CASE("rejects a header that is not an object") {
  expectError(image("[1, 2]"), "header is an array, expected a JSON object");
  expectError(image("\"x\""), "header is a string, expected a JSON object");
}

TEST_CASE("rejects duplicate keys") {
  std::string entry =
      "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}";
  expectError(image("{\"t\":" + entry + ",\"t\":" + entry + "}", "12345678"),
              "invalid JSON header at byte 54: duplicate key 't'");
  expectError(image(one("{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],"
                        "\"data_offsets\":[0,4]}"),
                    "1234"),
              "invalid JSON header at byte 20: duplicate key 'dtype'");
}

TEST_CASE("rejects JSON nested too deeply") {
  // serde_json accepts 127 levels (the outer object and the entry included)
  // and refuses 128.
  auto nested = [](int arrays) {
    return image(one("{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,"
                     "4],\"x\":" +
                     std::string(arrays, '[') + std::string(arrays, ']') + "}"),
                 "1234");
  };
  CHECK(parse(nested(125)).file);
  expectError(nested(126),
              "invalid JSON header at byte 181: nested too deeply");
  expectError(nested(100000),
              "invalid JSON header at byte 181: nested too deeply");
}

TEST_CASE("rejects a tensor entry that is not an object") {
  expectError(image(one("[0, 4]")),
              "tensor 't': header entry is an array, expected an object with "
              "'dtype', 'shape' and 'data_offsets'");
}

TEST_CASE("rejects a tensor entry without dtype, shape or data_offsets") {
  expectError(image(one("{\"shape\":[1],\"data_offsets\":[0,4]}"), "1234"),
              "tensor 't': missing 'dtype'");
  expectError(image(one("{\"dtype\":\"F32\",\"data_offsets\":[0,4]}"), "1234"),
              "tensor 't': missing 'shape'");
  expectError(image(one("{\"dtype\":\"F32\",\"shape\":[1]}"), "1234"),
              "tensor 't': missing 'data_offsets'");
}

TEST_CASE("rejects unknown or mistyped dtypes") {
  expectError(image(one("{\"dtype\":\"float32\",\"shape\":[1],"
                        "\"data_offsets\":[0,4]}"),
                    "1234"),
              "tensor 't': unknown dtype 'float32'; expected one of BOOL, U8, "
              "I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64, "
              "F8_E4M3, F8_E5M2");
  expectError(image(one("{\"dtype\":\"f32\",\"shape\":[1],"
                        "\"data_offsets\":[0,4]}"),
                    "1234"),
              "tensor 't': unknown dtype 'f32'; expected one of BOOL, U8, "
              "I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64, "
              "F8_E4M3, F8_E5M2");
  expectError(
      image(one("{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}"), "1234"),
      "tensor 't': 'dtype' is a number, expected a string such as \"F32\"");
}

TEST_CASE("rejects shapes that are not arrays of non-negative integers") {
  expectError(image(one("{\"dtype\":\"F32\",\"shape\":[-1],"
                        "\"data_offsets\":[0,4]}"),
                    "1234"),
              "tensor 't': 'shape' holds -1, expected non-negative integers");
  expectError(image(one("{\"dtype\":\"F32\",\"shape\":[1.0],"
                        "\"data_offsets\":[0,4]}"),
                    "1234"),
              "tensor 't': 'shape' holds 1.0, expected non-negative integers");
  expectError(image(one("{\"dtype\":\"F32\",\"shape\":[-0],"
                        "\"data_offsets\":[0,4]}"),
                    "1234"),
              "tensor 't': 'shape' holds -0, expected non-negative integers");
  expectError(image(one("{\"dtype\":\"F32\",\"shape\":[\"1\"],"
                        "\"data_offsets\":[0,4]}"),
                    "1234"),
              "tensor 't': 'shape' holds the string '1', expected "
              "non-negative integers");
  expectError(image(one("{\"dtype\":\"F32\",\"shape\":4,"
                        "\"data_offsets\":[0,4]}"),
                    "1234"),
              "tensor 't': 'shape' is a number, expected an array of integers");
  expectError(image(one("{\"dtype\":\"F32\",\"shape\":[18446744073709551616],"
                        "\"data_offsets\":[0,4]}"),
                    "1234"),
              "tensor 't': 'shape' holds 18446744073709551616, expected "
              "non-negative integers");
}

TEST_CASE("rejects malformed data_offsets") {
  expectError(image(one("{\"dtype\":\"F32\",\"shape\":[1],"
                        "\"data_offsets\":[0,4,8]}"),
                    "1234"),
              "tensor 't': 'data_offsets' must be an array of two integers "
              "[begin, end]");
  expectError(
      image(one("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{}}"),
            "1234"),
      "tensor 't': 'data_offsets' must be an array of two integers [begin, "
      "end]");
  expectError(image(one("{\"dtype\":\"F32\",\"shape\":[1],"
                        "\"data_offsets\":[-4,0]}"),
                    "1234"),
              "tensor 't': 'data_offsets' holds -4, expected non-negative "
              "integers");
}

TEST_CASE("rejects a byte range that does not match shape and dtype") {
  expectError(image("{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[3,2],"
                    "\"data_offsets\":[0,20]}}",
                    std::string(20, '\0')),
              "tensor '0.weight': data_offsets [0, 20] cover 20 bytes but "
              "F32[3, 2] needs 24");
  expectError(image(one("{\"dtype\":\"BF16\",\"shape\":[4],"
                        "\"data_offsets\":[0,16]}"),
                    std::string(16, '\0')),
              "tensor 't': data_offsets [0, 16] cover 16 bytes but BF16[4] "
              "needs 8");
}

TEST_CASE("rejects data that does not start at offset 0") {
  expectError(image(one("{\"dtype\":\"F32\",\"shape\":[1],"
                        "\"data_offsets\":[4,8]}"),
                    "12345678"),
              "tensor 't': data_offsets [4, 8] leave a gap: the first tensor "
              "must start at offset 0");
}

TEST_CASE("rejects a gap between tensors") {
  expectError(
      image("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
            "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
            std::string(12, '\0')),
      "tensor 'b': data_offsets [8, 12] leave a gap: the previous tensor 'a' "
      "ends at 4");
}

TEST_CASE("rejects overlapping tensors") {
  expectError(
      image("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
            std::string(12, '\0')),
      "tensor 'b': data_offsets [4, 12] overlap tensor 'a', which ends at 8");
  // Two tensors aliasing the same bytes.
  expectError(
      image("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
            "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
            std::string(4, '\0')),
      "tensor 'b': data_offsets [0, 4] overlap tensor 'a', which ends at 4");
}

TEST_CASE("rejects offsets that end before they begin") {
  expectError(image(one("{\"dtype\":\"F32\",\"shape\":[1],"
                        "\"data_offsets\":[8,4]}"),
                    "12345678"),
              "tensor 't': data_offsets [8, 4] end before they begin");
}

TEST_CASE("rejects shapes whose size overflows") {
  expectError(image(one("{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],"
                        "\"data_offsets\":[0,4]}"),
                    "1234"),
              "tensor 't': shape [4294967296, 4294967296] of F32 overflows 64 "
              "bits");
  // The element count fits but the byte count does not.
  expectError(image(one("{\"dtype\":\"F64\",\"shape\":[2305843009213693952],"
                        "\"data_offsets\":[0,4]}"),
                    "1234"),
              "tensor 't': shape [2305843009213693952] of F64 overflows 64 "
              "bits");
  expectError(image(one("{\"dtype\":\"F32\",\"shape\":[9223372036854775808,0],"
                        "\"data_offsets\":[0,0]}")),
              "tensor 't': dimension 9223372036854775808 in 'shape' is too "
              "large");
}

TEST_CASE("rejects bytes after the last tensor") {
  expectError(image(one("{\"dtype\":\"F32\",\"shape\":[1],"
                        "\"data_offsets\":[0,4]}"),
                    "12345"),
              "the tensors' data ends at offset 4 but the data buffer holds 5 "
              "bytes; the data_offsets must cover the whole buffer");
  expectError(image("{}", "x"),
              "the tensors' data ends at offset 0 but the data buffer holds 1 "
              "bytes; the data_offsets must cover the whole buffer");
}

TEST_CASE("rejects a truncated data buffer") {
  expectError(
      image("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
            "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
            std::string(10, '\0')),
      "tensor 'b': data_offsets [4, 12] run past the end of the data buffer "
      "(10 bytes; file truncated?)");
}

TEST_CASE("rejects malformed __metadata__") {
  expectError(image("{\"__metadata__\":{\"epoch\":3}}"),
              "'__metadata__' entry 'epoch' is a number, expected a string");
  expectError(image("{\"__metadata__\":[\"a\"]}"),
              "'__metadata__' is an array, expected an object mapping strings "
              "to strings");
}

TEST_CASE("rejects FP8 weights with a clear message") {
  expectError(image(one("{\"dtype\":\"F8_E4M3\",\"shape\":[2],"
                        "\"data_offsets\":[0,2]}"),
                    "12"),
              "tensor 't': dtype F8_E4M3 (8-bit float) is not supported for "
              "weights; save them as F32, F16, BF16 or F64");
  expectError(image(one("{\"dtype\":\"F8_E5M2\",\"shape\":[2],"
                        "\"data_offsets\":[0,2]}"),
                    "12"),
              "tensor 't': dtype F8_E5M2 (8-bit float) is not supported for "
              "weights; save them as F32, F16, BF16 or F64");
}

TEST_CASE("messages escape hostile tensor names") {
  expectError(image("{\"a\\u001b[31m\":7}"),
              "tensor 'a\\x1b[31m': header entry is a number, expected an "
              "object with 'dtype', 'shape' and 'data_offsets'");
  std::string longName(300, 'n');
  expectError(image("{\"" + longName + "\":7}"),
              "tensor '" + std::string(120, 'n') +
                  "...': header entry is a number, expected an object with "
                  "'dtype', 'shape' and 'data_offsets'");
}

TEST_CASE("no prefix of a valid file is accepted") {
  std::string header =
      "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
  std::string bytes = image(header, "12345678");
  REQUIRE(parse(bytes).file);
  for (size_t n = 0; n < bytes.size(); ++n) {
    Parsed result = parse(bytes.substr(0, n));
    CAPTURE(n);
    CHECK_FALSE(result.file);
    CHECK(result.errors == 1);
  }
}

//===----------------------------------------------------------------------===//
// Files and the writer's own checks
//===----------------------------------------------------------------------===//

TEST_CASE("reading a missing file names it") {
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  std::string out;
  diag.captureTo(&out);
  CHECK_FALSE(readSafetensors("/nonexistent/w.safetensors", diag));
  CHECK(out == "seqc: error: cannot open '/nonexistent/w.safetensors': No "
               "such file or directory\n");
}

TEST_CASE("the writer rejects inconsistent input") {
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  std::string out;
  diag.captureTo(&out);
  CHECK_FALSE(writeSafetensors(
      tempPath("dup.safetensors"),
      {{"a", Tensor({1}, {1})}, {"a", Tensor({1}, {2})}}, diag));
  CHECK_FALSE(writeSafetensors(tempPath("bad.safetensors"),
                               {{"a", Tensor({2, 2}, {1, 2, 3})}}, diag));
  CHECK_FALSE(writeSafetensors(tempPath("meta.safetensors"),
                               {{"__metadata__", Tensor({1}, {1})}}, diag));
  CHECK_FALSE(writeSafetensors("/nonexistent/dir/w.safetensors",
                               {{"a", Tensor({1}, {1})}}, diag));
  std::string dup = tempPath("dup.safetensors");
  std::string bad = tempPath("bad.safetensors");
  std::string meta = tempPath("meta.safetensors");
  CHECK(out == dup + ": error: tensor 'a' is given twice\n" + bad +
                   ": error: tensor 'a' has 3 values but shape [2, 2] needs "
                   "4\n" +
                   meta +
                   ": error: '__metadata__' is reserved and cannot name a "
                   "tensor\n"
                   "seqc: error: cannot create "
                   "'/nonexistent/dir/w.safetensors': No such file or "
                   "directory\n");
  CHECK_FALSE(std::filesystem::exists(dup));
  CHECK_FALSE(std::filesystem::exists(bad));
}

TEST_CASE("checked-in sample weight files") {
  std::filesystem::path dir = dataDir() / "weights";
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  std::string out;
  diag.captureTo(&out);

  std::optional<SafetensorsFile> mlp =
      readSafetensors((dir / "mlp_2_3_2_1.safetensors").string(), diag);
  REQUIRE(mlp);
  CHECK(out.empty());
  REQUIRE(mlp->find("0.weight"));
  CHECK(mlp->find("0.weight")->shape == std::vector<int64_t>{3, 2});
  CHECK(mlp->find("2.bias")->shape == std::vector<int64_t>{1});

  std::optional<SafetensorsFile> mixed =
      readSafetensors((dir / "mixed_dtypes.safetensors").string(), diag);
  REQUIRE(mixed);
  CHECK(out.empty());
  CHECK(mixed->find("0.weight")->dtype == "F16");
  CHECK(mixed->find("0.weight")->value.data ==
        std::vector<float>{1.0f, -2.0f, 0.5f, 0.25f});
  CHECK(mixed->find("0.bias")->dtype == "BF16");
  CHECK(mixed->find("0.bias")->value.data == std::vector<float>{1.0f, -1.5f});
  CHECK(mixed->find("1.running_mean")->dtype == "F64");
  CHECK(mixed->find("1.running_mean")->value.data ==
        std::vector<float>{0.5f, -0.25f});
  CHECK(mixed->find("1.num_batches_tracked")->dtype == "I64");
  CHECK_FALSE(mixed->find("1.num_batches_tracked")->isFloat);

  const char *bad[] = {"bad_size_mismatch.safetensors",
                       "bad_truncated.safetensors", "bad_json.safetensors",
                       "bad_overlap.safetensors", "bad_dtype.safetensors"};
  for (const char *name : bad) {
    CAPTURE(name);
    out.clear();
    CHECK_FALSE(readSafetensors((dir / name).string(), diag));
    CHECK(out.find(": error: ") != std::string::npos);
  }
}
