//===- NpyTest.cpp - Tests for the .npy reader and writer -----------------===//

#include "frontend/Npy.h"
#include "compiler/support/Diagnostics.h"
#include "compiler/support/SourceManager.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <unistd.h>

using namespace seqc;

namespace {

/// A .npy image with the given raw header text (no padding added).
std::string rawImage(std::string_view header, std::string_view data,
                     int major = 1) {
  std::string out("\x93NUMPY", 6);
  out.push_back(char(major));
  out.push_back('\0');
  uint32_t n = uint32_t(header.size());
  out.push_back(char(n & 0xff));
  out.push_back(char((n >> 8) & 0xff));
  if (major != 1) {
    out.push_back(char((n >> 16) & 0xff));
    out.push_back(char(n >> 24));
  }
  return out + std::string(header) + std::string(data);
}

/// A .npy image as NumPy writes it.
std::string image(std::string_view descr, std::string_view shape,
                  std::string_view data, bool fortran = false, int major = 1) {
  std::string header =
      fmt::format("{{'descr': '{}', 'fortran_order': {}, 'shape': {}, }}",
                  descr, fortran ? "True" : "False", shape);
  size_t prefix = major == 1 ? 10 : 12;
  header.append((64 - (prefix + header.size() + 1) % 64) % 64, ' ');
  header.push_back('\n');
  return rawImage(header, data, major);
}

template <typename T> std::string bytesOf(std::initializer_list<T> values) {
  std::string out;
  for (T v : values) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out.append(b, sizeof(T));
  }
  return out;
}

uint32_t bitsOf(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

struct Parsed {
  std::optional<Tensor> tensor;
  std::string diagnostics;
};

Parsed parse(std::string_view bytes) {
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  Parsed result;
  diag.captureTo(&result.diagnostics);
  result.tensor = parseNpy(bytes, "x.npy", diag);
  CHECK(diag.getNumErrors() == (result.tensor ? 0u : 1u));
  return result;
}

void expectError(std::string_view bytes, std::string_view message) {
  Parsed result = parse(bytes);
  CHECK_FALSE(result.tensor.has_value());
  CHECK(result.diagnostics == "x.npy: error: " + std::string(message) + "\n");
  // The float64 reader applies the same checks.
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  std::string out;
  diag.captureTo(&out);
  CHECK_FALSE(parseNpyDouble(bytes, "x.npy", diag));
  CHECK(out == result.diagnostics);
}

std::string tempPath(std::string_view name) {
  return (std::filesystem::temp_directory_path() /
          ("seqc-npy-test-" + std::to_string(::getpid()) + "-" +
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

TEST_CASE("the writer produces exactly what numpy.save writes") {
  // numpy.save(f, np.arange(6, dtype='<f4').reshape(2, 3)).
  std::string expected("\x93NUMPY\x01\x00v\x00", 10);
  expected += "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  expected.append(127 - expected.size(), ' ');
  expected.push_back('\n');
  REQUIRE(expected.size() == 128);
  expected += bytesOf<float>({0, 1, 2, 3, 4, 5});
  CHECK(serializeNpy(Tensor({2, 3}, {0, 1, 2, 3, 4, 5})) == expected);
  // 1-D shapes are written as Python 1-tuples.
  CHECK(serializeNpy(Tensor({3}, {1, 2, 3})).substr(10, 60) ==
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }   ");
}

TEST_CASE("round trip through writeNpy and readNpy keeps every bit") {
  float nan = std::numeric_limits<float>::quiet_NaN();
  float inf = std::numeric_limits<float>::infinity();
  Tensor tensor({3, 4}, {0.0f, -0.0f, 1.5f, -2.25f, 1e-45f, 3.4028235e38f, inf,
                         -inf, nan, 0.1f, 1e-38f, 7.0f});
  std::string path = tempPath("roundtrip.npy");
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  std::string out;
  diag.captureTo(&out);
  REQUIRE(writeNpy(path, tensor, diag));
  std::optional<Tensor> read = readNpy(path, diag);
  std::optional<NpyArray> wide = readNpyDouble(path, diag);
  std::filesystem::remove(path);
  CHECK(out.empty());
  REQUIRE(read);
  REQUIRE(wide);
  CHECK(read->shape == tensor.shape);
  CHECK(wide->shape == tensor.shape);
  for (size_t i = 0; i < tensor.data.size(); ++i) {
    CHECK(bitsOf(read->data[i]) == bitsOf(tensor.data[i]));
    if (!std::isnan(tensor.data[i]))
      CHECK(wide->data[i] == double(tensor.data[i]));
  }
}

TEST_CASE("versions 1.0, 2.0 and 3.0 are read") {
  for (int major : {1, 2, 3}) {
    CAPTURE(major);
    Parsed result =
        parse(image("<f4", "(1, 2)", bytesOf<float>({1, 2}), false, major));
    REQUIRE(result.tensor);
    CHECK(result.tensor->data == std::vector<float>{1, 2});
  }
}

TEST_CASE("1-D arrays become one sample; empty batches are kept") {
  Parsed result = parse(image("<f4", "(3,)", bytesOf<float>({1, 2, 3})));
  REQUIRE(result.tensor);
  CHECK(result.tensor->shape == std::vector<int64_t>{1, 3});
  CHECK(result.tensor->data == std::vector<float>{1, 2, 3});

  result = parse(image("<f4", "(0, 5)", ""));
  REQUIRE(result.tensor);
  CHECK(result.tensor->shape == std::vector<int64_t>{0, 5});
}

TEST_CASE("float dtypes convert exactly") {
  // <f2: 1, smallest subnormal, -inf, 65504.
  Parsed half = parse(image(
      "<f2", "(1, 4)", bytesOf<uint16_t>({0x3c00, 0x0001, 0xfc00, 0x7bff})));
  REQUIRE(half.tensor);
  std::vector<uint32_t> bits;
  for (float f : half.tensor->data)
    bits.push_back(bitsOf(f));
  CHECK(bits ==
        std::vector<uint32_t>{0x3f800000, 0x33800000, 0xff800000, 0x477fe000});

  // <f8 is rounded to nearest (ties to even) and overflows to inf.
  std::string f8 =
      bytesOf<double>({0.1, 1.0 + std::ldexp(1.0, -24),
                       1.0 + 3 * std::ldexp(1.0, -24), 1e300, 1e-50, -0.0});
  Parsed wide = parse(image("<f8", "(2, 3)", f8));
  REQUIRE(wide.tensor);
  bits.clear();
  for (float f : wide.tensor->data)
    bits.push_back(bitsOf(f));
  CHECK(bits == std::vector<uint32_t>{0x3dcccccd, 0x3f800000, 0x3f800002,
                                      0x7f800000, 0x00000000, 0x80000000});

  // The float64 reader keeps <f8 values exactly.
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  std::optional<NpyArray> exact =
      parseNpyDouble(image("<f8", "(2, 3)", f8), "x.npy", diag);
  REQUIRE(exact);
  CHECK(exact->shape == std::vector<int64_t>{2, 3});
  CHECK(exact->data[0] == 0.1);
  CHECK(exact->data[1] == 1.0 + std::ldexp(1.0, -24));
  CHECK(exact->data[3] == 1e300);
  CHECK(std::signbit(exact->data[5]));
}

TEST_CASE("integer and boolean dtypes convert to float") {
  Parsed i1 = parse(image("|i1", "(1, 3)", std::string("\x80\xff\x7f", 3)));
  REQUIRE(i1.tensor);
  CHECK(i1.tensor->data == std::vector<float>{-128, -1, 127});

  Parsed u1 = parse(image("|u1", "(1, 2)", std::string("\x80\xff", 2)));
  REQUIRE(u1.tensor);
  CHECK(u1.tensor->data == std::vector<float>{128, 255});

  Parsed i2 = parse(image("<i2", "(1, 2)", bytesOf<int16_t>({-300, 300})));
  REQUIRE(i2.tensor);
  CHECK(i2.tensor->data == std::vector<float>{-300, 300});

  Parsed u2 = parse(image("<u2", "(1, 1)", bytesOf<uint16_t>({65535})));
  REQUIRE(u2.tensor);
  CHECK(u2.tensor->data == std::vector<float>{65535});

  Parsed i4 = parse(image("<i4", "(1, 2)", bytesOf<int32_t>({-7, 16777217})));
  REQUIRE(i4.tensor);
  // 2^24 + 1 rounds to even in float32.
  CHECK(i4.tensor->data == std::vector<float>{-7, 16777216});

  Parsed u4 = parse(image("<u4", "(1, 1)", bytesOf<uint32_t>({4294967295u})));
  REQUIRE(u4.tensor);
  CHECK(u4.tensor->data == std::vector<float>{4294967296.0f});

  // 2^53 + 1 must round once (directly to float32), not via float64.
  int64_t big = (int64_t(1) << 53) + 1;
  Parsed i8 =
      parse(image("<i8", "(1, 3)", bytesOf<int64_t>({big, -1, INT64_MIN})));
  REQUIRE(i8.tensor);
  CHECK(i8.tensor->data[0] == float(big));
  CHECK(i8.tensor->data[1] == -1.0f);
  CHECK(i8.tensor->data[2] == -9223372036854775808.0f);

  Parsed u8 = parse(image("<u8", "(1, 1)", bytesOf<uint64_t>({~0ull})));
  REQUIRE(u8.tensor);
  CHECK(u8.tensor->data == std::vector<float>{18446744073709551616.0f});

  Parsed b1 = parse(image("|b1", "(2, 2)", std::string("\0\1\1\0", 4)));
  REQUIRE(b1.tensor);
  CHECK(b1.tensor->data == std::vector<float>{0, 1, 1, 0});
}

TEST_CASE("byte-order marks NumPy accepts") {
  // 1-byte types with any mark; '|' and '=' on wider types mean native
  // (little-endian on every host seqc supports).
  for (const char *descr : {"|u1", "<u1", ">u1", "=u1", "u1"}) {
    CAPTURE(descr);
    Parsed result = parse(image(descr, "(1, 1)", "\x05"));
    REQUIRE(result.tensor);
    CHECK(result.tensor->data == std::vector<float>{5});
  }
  for (const char *descr : {"|f4", "=f4", "f4"}) {
    CAPTURE(descr);
    Parsed result = parse(image(descr, "(1, 1)", bytesOf<float>({2.5f})));
    REQUIRE(result.tensor);
    CHECK(result.tensor->data == std::vector<float>{2.5f});
  }
}

TEST_CASE("Fortran-order arrays are transposed into row-major order") {
  // [[1, 2, 3], [4, 5, 6]] stored column by column.
  Parsed result =
      parse(image("<f4", "(2, 3)", bytesOf<float>({1, 4, 2, 5, 3, 6}), true));
  REQUIRE(result.tensor);
  CHECK(result.tensor->shape == std::vector<int64_t>{2, 3});
  CHECK(result.tensor->data == std::vector<float>{1, 2, 3, 4, 5, 6});

  result = parse(image("<f4", "(3,)", bytesOf<float>({1, 2, 3}), true));
  REQUIRE(result.tensor);
  CHECK(result.tensor->data == std::vector<float>{1, 2, 3});
}

TEST_CASE("arrays of any rank keep their shape in C order") {
  std::vector<float> values(24);
  for (size_t i = 0; i < values.size(); ++i)
    values[i] = float(i);
  std::string data;
  for (float v : values)
    data += bytesOf<float>({v});
  Parsed result = parse(image("<f4", "(2, 3, 4)", data));
  REQUIRE(result.tensor);
  CHECK(result.tensor->shape == std::vector<int64_t>{2, 3, 4});
  CHECK(result.tensor->data == values);
  CHECK(result.diagnostics.empty());

  result = parse(image("<f4", "(1, 2, 3, 4)", data));
  REQUIRE(result.tensor);
  CHECK(result.tensor->shape == std::vector<int64_t>{1, 2, 3, 4});

  // An empty batch, and an empty inner dimension.
  result = parse(image("<f4", "(0, 8, 8)", ""));
  REQUIRE(result.tensor);
  CHECK(result.tensor->shape == std::vector<int64_t>{0, 8, 8});
  result = parse(image("<f8", "(2, 0, 3)", ""));
  REQUIRE(result.tensor);
  CHECK(result.tensor->shape == std::vector<int64_t>{2, 0, 3});

  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  std::optional<NpyArray> wide =
      parseNpyDouble(image("<f4", "(2, 3, 4)", data), "x.npy", diag);
  REQUIRE(wide);
  CHECK(wide->shape == std::vector<int64_t>{2, 3, 4});
  CHECK(wide->data[23] == 23.0);
}

TEST_CASE("Fortran-order arrays of any rank are reordered") {
  // x[i, j, k] = 100 i + 10 j + k for shape (2, 3, 4), stored with i
  // varying fastest, then j, then k.
  std::string data;
  for (int k = 0; k < 4; ++k)
    for (int j = 0; j < 3; ++j)
      for (int i = 0; i < 2; ++i)
        data += bytesOf<float>({float(100 * i + 10 * j + k)});
  Parsed result = parse(image("<f4", "(2, 3, 4)", data, true));
  REQUIRE(result.tensor);
  std::vector<float> expected;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k)
        expected.push_back(float(100 * i + 10 * j + k));
  CHECK(result.tensor->data == expected);
}

TEST_CASE("data that is not float32 is converted with a note") {
  struct Case {
    const char *descr;
    std::string data;
    const char *note;
  };
  const char *rounded = " (values float32 cannot hold are rounded)";
  std::vector<Case> cases = {
      {"<f8", bytesOf<double>({1.5}), "float64 ('<f8'); converted to float32"},
      {"<f2", bytesOf<uint16_t>({0x3e00}),
       "float16 ('<f2'); converted to float32"},
      {"|i1", "", "int8 ('|i1'); converted to float32"},
      {"<i2", bytesOf<int16_t>({1}), "int16 ('<i2'); converted to float32"},
      {"<i4", bytesOf<int32_t>({1}), "int32 ('<i4'); converted to float32"},
      {"<i8", bytesOf<int64_t>({1}), "int64 ('<i8'); converted to float32"},
      {"|u1", "", "uint8 ('|u1'); converted to float32"},
      {"<u2", bytesOf<uint16_t>({1}), "uint16 ('<u2'); converted to float32"},
      {"<u4", bytesOf<uint32_t>({1}), "uint32 ('<u4'); converted to float32"},
      {"<u8", bytesOf<uint64_t>({1}), "uint64 ('<u8'); converted to float32"},
      {"|b1", "", "bool ('|b1'); converted to float32"},
  };
  for (const Case &c : cases) {
    CAPTURE(c.descr);
    Parsed result = parse(image(c.descr, "(1, 1)", c.data));
    REQUIRE(result.tensor);
    std::string_view descr = c.descr;
    bool mayRound = descr == "<f8" || descr.substr(1) == "i4" ||
                    descr.substr(1) == "i8" || descr.substr(1) == "u4" ||
                    descr.substr(1) == "u8";
    CHECK(result.diagnostics == fmt::format("x.npy: note: input is {}{}\n",
                                            c.note, mayRound ? rounded : ""));
    CHECK(result.tensor->data[0] != 0.0f);
  }
  // float32 needs no note, nor does the float64 reader.
  CHECK(parse(image("<f4", "(1, 1)", bytesOf<float>({1}))).diagnostics.empty());
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  std::string out;
  diag.captureTo(&out);
  CHECK(parseNpyDouble(image("<f8", "(1, 1)", bytesOf<double>({1})), "x.npy",
                       diag));
  CHECK(out.empty());
}

TEST_CASE("header variations NumPy accepts") {
  // Double quotes, no trailing comma, no padding, keys in another order.
  Parsed result =
      parse(rawImage("{\"shape\": (1,2), \"fortran_order\": False, \"descr\": "
                     "\"<f4\"}",
                     bytesOf<float>({1, 2})));
  REQUIRE(result.tensor);
  CHECK(result.tensor->data == std::vector<float>{1, 2});
  result =
      parse(rawImage("{'descr':'<f4','fortran_order':False,'shape':(2,1,)}",
                     bytesOf<float>({1, 2})));
  REQUIRE(result.tensor);
  CHECK(result.tensor->shape == std::vector<int64_t>{2, 1});
}

//===----------------------------------------------------------------------===//
// Must-fail files
//===----------------------------------------------------------------------===//

TEST_CASE("rejects files without the NumPy magic") {
  expectError("PK\3\4 not numpy at all",
              "not a NumPy .npy file (the \\x93NUMPY magic is missing)");
  expectError(std::string("\x93NUMPY\x01", 7),
              "not a NumPy .npy file (the \\x93NUMPY magic is missing)");
}

TEST_CASE("rejects unknown format versions") {
  std::string bytes = image("<f4", "(1, 1)", bytesOf<float>({1}));
  bytes[6] = 4;
  expectError(bytes, "unsupported .npy format version 4.0 (expected 1.0, 2.0 "
                     "or 3.0)");
  bytes[6] = 1;
  bytes[7] = 1;
  expectError(bytes, "unsupported .npy format version 1.1 (expected 1.0, 2.0 "
                     "or 3.0)");
}

TEST_CASE("rejects a header that runs past the end of the file") {
  std::string bytes = image("<f4", "(1, 1)", "");
  expectError(bytes.substr(0, 40), "header length 118 runs past the end of "
                                   "the file (truncated?)");
  expectError(std::string("\x93NUMPY\x02\x00\x10\x00", 10),
              "file ends inside the .npy header length");
}

TEST_CASE("rejects a header over the size limit") {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': "
                       "(1, 1), }" +
                       std::string(20000, ' ') + "\n";
  expectError(rawImage(header, bytesOf<float>({1}), 2),
              fmt::format("header length {} is larger than the limit of 10000 "
                          "bytes",
                          header.size()));
}

TEST_CASE("rejects headers that are not the dict NumPy writes") {
  expectError(rawImage("['descr', '<f4']", ""),
              "bad .npy header: the header is not a Python dict literal");
  expectError(rawImage("{'descr': '<f4', 'fortran_order': False}", ""),
              "bad .npy header: the header lacks 'shape'");
  expectError(rawImage("{'fortran_order': False, 'shape': (1,)}", ""),
              "bad .npy header: the header lacks 'descr'");
  expectError(rawImage("{'descr': '<f4', 'fortran_order': False, 'shape': "
                       "(1,), 'extra': 1}",
                       ""),
              "bad .npy header: unexpected key 'extra' in the header "
              "(expected 'descr', 'fortran_order' and 'shape')");
  expectError(rawImage("{'descr': '<f4', 'descr': '<f4', 'fortran_order': "
                       "False, 'shape': (1,)}",
                       ""),
              "bad .npy header: 'descr' appears twice");
  expectError(rawImage("{'descr': '<f4', 'fortran_order': False, 'shape': "
                       "(1,)} trailing",
                       ""),
              "bad .npy header: unexpected text after the header dict");
  expectError(rawImage("{'descr': '<f4' 'fortran_order': False}", ""),
              "bad .npy header: expected ',' or '}' in the header");
  expectError(rawImage("{descr: '<f4'}", ""),
              "bad .npy header: expected a quoted key in the header");
  expectError(
      rawImage("{'descr': 4, 'fortran_order': False, 'shape': (1,)}", ""),
      "bad .npy header: 'descr' is not a string");
}

TEST_CASE("rejects a bad fortran_order") {
  expectError(rawImage("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}",
                       bytesOf<float>({1})),
              "bad .npy header: 'fortran_order' is not True or False");
  expectError(rawImage("{'descr': '<f4', 'fortran_order': Truest, 'shape': "
                       "(1,)}",
                       bytesOf<float>({1})),
              "bad .npy header: 'fortran_order' is not True or False");
}

TEST_CASE("rejects structured and object dtypes") {
  expectError(rawImage("{'descr': [('x', '<f4'), ('y', '<f4')], "
                       "'fortran_order': False, 'shape': (1,)}",
                       bytesOf<float>({1, 2})),
              "bad .npy header: structured (record) dtypes are not supported; "
              "expected a plain float or integer array");
  expectError(image("|O", "(1, 1)", std::string(8, '\0')),
              "dtype '|O' is an object array (it needs pickle), which is not "
              "supported; save a float array");
}

TEST_CASE("rejects big-endian data") {
  expectError(image(">f4", "(1, 1)", "\x3f\x80\0\0"),
              "dtype '>f4' is big-endian; only little-endian data is "
              "supported (convert with arr.astype('<f4'))");
  expectError(image(">i8", "(1, 1)", std::string(8, '\0')),
              "dtype '>i8' is big-endian; only little-endian data is "
              "supported (convert with arr.astype('<i8'))");
}

TEST_CASE("rejects dtypes that are not real numbers") {
  for (const char *descr :
       {"<c8", "<U3", "|S4", "<f16", "<M8[ns]", "|V8", "<i3", "<b2", "<", ""}) {
    CAPTURE(descr);
    Parsed result = parse(image(descr, "(1, 1)", "12345678"));
    CHECK_FALSE(result.tensor);
    CHECK(result.diagnostics.find(
              fmt::format("x.npy: error: dtype '{}' ", descr)) == 0);
  }
  expectError(image("<c8", "(1, 1)", "12345678"),
              "dtype '<c8' (complex) is not supported; expected a float (f2, "
              "f4, f8), integer or boolean array");
  expectError(image("<U2", "(1, 1)", "12345678"),
              "dtype '<U2' (strings) is not supported; expected a float (f2, "
              "f4, f8), integer or boolean array");
  expectError(image("<M8[ns]", "(1, 1)", "12345678"),
              "dtype '<M8[ns]' (datetime64) is not supported; expected a "
              "float, integer or boolean array");
}

TEST_CASE("rejects shapes that are not tuples of non-negative integers") {
  expectError(image("<f4", "(3)", bytesOf<float>({1, 2, 3})),
              "bad .npy header: 'shape' is not a tuple");
  expectError(image("<f4", "[3]", bytesOf<float>({1, 2, 3})),
              "bad .npy header: 'shape' is not a tuple");
  expectError(image("<f4", "(-1, 3)", bytesOf<float>({1, 2, 3})),
              "bad .npy header: 'shape' must be a tuple of non-negative "
              "integers");
  expectError(image("<f4", "(1.5, 3)", bytesOf<float>({1, 2, 3})),
              "bad .npy header: expected ',' or ')' in 'shape'");
  expectError(image("<f4", "(9223372036854775808, 0)", ""),
              "bad .npy header: a dimension in 'shape' is too large");
}

TEST_CASE("rejects 0-d arrays and more dimensions than NumPy allows") {
  expectError(image("<f4", "()", bytesOf<float>({1})),
              "array is 0-dimensional (a scalar); expected a "
              "[batch, features, ...] or 1-D [features] array");
  std::string shape64 = "(" + std::string(63 * 3, ' ') + "1)";
  for (size_t i = 0; i < 63; ++i)
    shape64[1 + 3 * i] = '1', shape64[2 + 3 * i] = ',';
  CHECK(parse(image("<f4", shape64, bytesOf<float>({1}))).tensor);
  std::string shape65 = "(1, " + shape64.substr(1);
  expectError(image("<f4", shape65, bytesOf<float>({1})),
              "array has 65 dimensions; at most 64 are supported");
}

TEST_CASE("rejects shapes whose size overflows") {
  expectError(image("<f4", "(4294967296, 4294967296)", ""),
              "shape (4294967296, 4294967296) overflows 64 bits");
  expectError(image("<f8", "(2305843009213693952,)", ""),
              "shape (2305843009213693952,) overflows 64 bits");
}

TEST_CASE("rejects data of the wrong size") {
  expectError(image("<f4", "(2, 2)", bytesOf<float>({1, 2, 3})),
              "the data is 12 bytes but shape (2, 2) of '<f4' needs 16 "
              "(truncated file?)");
  expectError(image("<f4", "(2, 2)", bytesOf<float>({1, 2, 3, 4, 5})),
              "the data is 20 bytes but shape (2, 2) of '<f4' needs 16");
  expectError(image("<f8", "(1, 1)", "1234567"),
              "the data is 7 bytes but shape (1, 1) of '<f8' needs 8 "
              "(truncated file?)");
}

TEST_CASE("no prefix of a valid file is accepted") {
  std::string bytes = image("<f8", "(2, 2)", bytesOf<double>({1, 2, 3, 4}));
  REQUIRE(parse(bytes).tensor);
  for (size_t n = 0; n < bytes.size(); ++n) {
    CAPTURE(n);
    Parsed result = parse(bytes.substr(0, n));
    CHECK_FALSE(result.tensor);
  }
}

//===----------------------------------------------------------------------===//
// Files
//===----------------------------------------------------------------------===//

TEST_CASE("file errors name the file") {
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  std::string out;
  diag.captureTo(&out);
  CHECK_FALSE(readNpy("/nonexistent/x.npy", diag));
  CHECK_FALSE(writeNpy("/nonexistent/dir/y.npy", Tensor({1, 1}, {1}), diag));
  std::string path = tempPath("bad.npy");
  CHECK_FALSE(writeNpy(path, Tensor({2, 2}, {1, 2, 3}), diag));
  CHECK_FALSE(std::filesystem::exists(path));
  CHECK(out == "seqc: error: cannot open '/nonexistent/x.npy': No such file "
               "or directory\n"
               "seqc: error: cannot create '/nonexistent/dir/y.npy': No such "
               "file or directory\n" +
                   path +
                   ": error: cannot write a tensor of shape [2, 2] with 3 "
                   "values\n");
}

TEST_CASE("checked-in sample input files") {
  std::filesystem::path dir = dataDir() / "inputs";
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  std::string out;
  diag.captureTo(&out);
  std::optional<Tensor> x = readNpy((dir / "x_2x2.npy").string(), diag);
  REQUIRE(x);
  CHECK(x->shape == std::vector<int64_t>{2, 2});
  CHECK(x->data == std::vector<float>{1, 2, 2, 3});
  x = readNpy((dir / "x_3x2_f8.npy").string(), diag);
  REQUIRE(x);
  CHECK(x->data == std::vector<float>{1, 2, 2, 3, 10, 5});
  x = readNpy((dir / "x_1d.npy").string(), diag);
  REQUIRE(x);
  CHECK(x->shape == std::vector<int64_t>{1, 2});
  x = readNpy((dir / "x_fortran.npy").string(), diag);
  REQUIRE(x);
  CHECK(x->data == std::vector<float>{1, 2, 3, 4, 5, 6});
  x = readNpy((dir / "x_3d.npy").string(), diag);
  REQUIRE(x);
  CHECK(x->shape == std::vector<int64_t>{1, 2, 2});
  CHECK(x->data == std::vector<float>{1, 2, 3, 4});
  // x_3x2_f8.npy and x_fortran.npy are float64.
  std::string note = ": note: input is float64 ('<f8'); converted to float32 "
                     "(values float32 cannot hold are rounded)\n";
  CHECK(out == (dir / "x_3x2_f8.npy").string() + note +
                   (dir / "x_fortran.npy").string() + note);
  for (const char *name : {"bad_bigendian.npy", "bad_truncated.npy"}) {
    CAPTURE(name);
    out.clear();
    CHECK_FALSE(readNpy((dir / name).string(), diag));
    CHECK(out.find(": error: ") != std::string::npos);
  }
}
