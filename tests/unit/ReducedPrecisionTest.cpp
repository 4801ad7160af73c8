//===- ReducedPrecisionTest.cpp - --precision's roundings and simulation --===//
//
// The roundings every CPU precision specifies (bf16 round to nearest even
// with its ties and special values, per-row dynamic int8 quantisation with
// its zero and non-finite rows, per-channel int8 weights) and the reference
// interpreter's simulation of each mode on layers small enough to work out
// by hand.
//
//===----------------------------------------------------------------------===//

#include "compiler/reference/ReducedPrecision.h"
#include "compiler/codegen/common/Precision.h"
#include "compiler/reference/Interpreter.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>

using namespace seqc;
using codegen::Precision;

namespace {

float fromBits(uint32_t bits) {
  float v;
  std::memcpy(&v, &bits, 4);
  return v;
}

uint32_t bitsOf(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  return bits;
}

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

/// x [rows, k] as a reference matrix.
reference::Matrix matrix(int64_t rows, int64_t cols,
                         const std::vector<double> &values) {
  reference::Matrix m(rows, cols);
  m.data = values;
  return m;
}

} // namespace

TEST_CASE("precisions are named and parsed") {
  for (Precision p : {Precision::F32, Precision::BF16, Precision::F16,
                      Precision::Int8, Precision::Int8W})
    CHECK(codegen::parsePrecision(codegen::precisionName(p)) == p);
  CHECK(codegen::parsePrecision("bfloat16") == Precision::BF16);
  CHECK_FALSE(codegen::parsePrecision("int4"));
  CHECK(codegen::weightElement(Precision::Int8W) == codegen::ElementType::I8);
  CHECK(codegen::weightElement(Precision::BF16) == codegen::ElementType::BF16);
}

TEST_CASE("inputs round to bf16: nearest, ties to even, specials kept") {
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: to even (1).
  CHECK(codegen::roundToBf16(fromBits(0x3f808000u)) == 1.0f);
  // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: to even.
  CHECK(bitsOf(codegen::roundToBf16(fromBits(0x3f818000u))) == 0x3f820000u);
  // Just above a tie rounds up; just below rounds down.
  CHECK(bitsOf(codegen::roundToBf16(fromBits(0x3f808001u))) == 0x3f810000u);
  CHECK(bitsOf(codegen::roundToBf16(fromBits(0x3f807fffu))) == 0x3f800000u);
  CHECK(codegen::roundToBf16(kInf) == kInf);
  CHECK(codegen::roundToBf16(-kInf) == -kInf);
  CHECK(std::isnan(codegen::roundToBf16(kNaN)));
  // A signalling NaN whose payload is all in the low half stays a NaN.
  CHECK(std::isnan(codegen::roundToBf16(fromBits(0x7f800001u))));
  // The largest float rounds to infinity (past bf16's largest finite).
  CHECK(codegen::roundToBf16(std::numeric_limits<float>::max()) == kInf);
  // Subnormals round like the rest (no flush): 2^-149 * 0x18000 is a tie.
  CHECK(bitsOf(codegen::roundToBf16(fromBits(0x00018000u))) == 0x00020000u);
  CHECK(bitsOf(codegen::roundToBf16(fromBits(0x00008000u))) == 0x00000000u);
  CHECK(bitsOf(codegen::roundToBf16(fromBits(0x80010000u))) == 0x80010000u);
  CHECK(bitsOf(codegen::roundToBf16(-0.0f)) == 0x80000000u);
}

TEST_CASE("a row quantises to int8 by its largest magnitude") {
  std::vector<float> x = {0.5f, -2.0f, 1.0f, 0.25f, 0.0f};
  std::vector<int8_t> q(x.size());
  codegen::RowQuantization rq = codegen::quantizeRow(x.data(), 5, q.data());
  CHECK(rq.finite);
  CHECK(rq.scale == 2.0f / 127.0f);
  // x * 63.5: 31.75 -> 32, -127, 63.5 -> 64 (tie to even), 15.875 -> 16.
  CHECK(q == std::vector<int8_t>{32, -127, 64, 16, 0});
  // 2.5 * (127 / 127) is a tie: to even.
  std::vector<float> ties = {127.0f, 2.5f, 3.5f, -2.5f};
  std::vector<int8_t> qt(4);
  codegen::quantizeRow(ties.data(), 4, qt.data());
  CHECK(qt == std::vector<int8_t>{127, 2, 4, -2});
}

TEST_CASE("zero rows quantise to zero, non-finite rows are flagged") {
  std::vector<float> zeros(7, 0.0f);
  std::vector<int8_t> q(7, 5);
  codegen::RowQuantization rq = codegen::quantizeRow(zeros.data(), 7, q.data());
  CHECK(rq.finite);
  CHECK(rq.scale == 0.0f);
  CHECK(q == std::vector<int8_t>(7, 0));
  for (float bad : {kNaN, kInf, -kInf}) {
    std::vector<float> row = {1.0f, bad, 2.0f};
    std::vector<int8_t> qb(3, 5);
    rq = codegen::quantizeRow(row.data(), 3, qb.data());
    CHECK_FALSE(rq.finite);
    CHECK(std::isnan(rq.scale));
    CHECK(qb == std::vector<int8_t>(3, 0));
  }
  // A subnormal largest magnitude: 127 / amax overflows; the row's largest
  // entries still map to +-127 and its zeros to 0.
  float tiny = fromBits(0x00000001u);
  std::vector<float> row = {tiny, 0.0f, -tiny};
  std::vector<int8_t> qs(3);
  rq = codegen::quantizeRow(row.data(), 3, qs.data());
  CHECK(rq.finite);
  CHECK(qs == std::vector<int8_t>{127, 0, -127});
}

TEST_CASE("the reference simulates int8 with per-channel weight scales") {
  // W [2, 3]: row 0's largest is 2 (scale 2/127), row 1's is 0.5.
  std::vector<float> w = {2.0f, -1.0f, 0.5f, 0.5f, 0.25f, -0.125f};
  reference::Matrix x = matrix(2, 3, {1.0, 0.5, -0.25, 0.0, 0.0, 0.0});
  reference::Matrix y =
      reference::denseProducts(x, w.data(), 2, 3, Precision::Int8);
  // q_w row 0 = rne(w * 63.5) = {127, -64 (tie -63.5 -> -64), 32 (31.75)},
  // row 1 = rne(w * 254) = {127, 64 (63.5 -> 64), -32 (-31.75)}.
  // q_x row 0 = rne(x * 127) = {127, 64 (63.5), -32 (-31.75)}, s_a = 1/127.
  // Dequantised in float, as the kernels' epilogue does it: (float(acc) *
  // s_a) * s_w, each product rounded to float.
  float sa = 1.0f / 127.0f, sw0 = 2.0f / 127.0f, sw1 = 0.5f / 127.0f;
  float acc0 = 127.0f * 127 + 64.0f * -64 + -32.0f * 32;
  float acc1 = 127.0f * 127 + 64.0f * 64 + -32.0f * -32;
  CHECK(y.at(0, 0) == static_cast<double>(acc0 * sa * sw0));
  CHECK(y.at(0, 1) == static_cast<double>(acc1 * sa * sw1));
  CHECK(y.at(0, 0) != static_cast<double>(acc0) * sa * sw0);
  // The zero row gives exact zeros.
  CHECK(y.at(1, 0) == 0.0);
  CHECK(y.at(1, 1) == 0.0);
  // Close to the f32 products (within the quantisation error).
  reference::Matrix exact =
      reference::denseProducts(x, w.data(), 2, 3, Precision::F32);
  CHECK(std::fabs(y.at(0, 0) - exact.at(0, 0)) < 0.02);
  CHECK(std::fabs(y.at(0, 1) - exact.at(0, 1)) < 0.01);
}

TEST_CASE("a row with NaN or an infinity gives NaN outputs in int8") {
  std::vector<float> w = {1.0f, 2.0f};
  reference::Matrix x = matrix(2, 2, {1.0, kInf, 1.0, 2.0});
  reference::Matrix y =
      reference::denseProducts(x, w.data(), 1, 2, Precision::Int8);
  CHECK(std::isnan(y.at(0, 0)));
  CHECK(std::fabs(y.at(1, 0) - 5.0) < 0.05);
}

TEST_CASE("the reference simulates int8w with f32 inputs") {
  std::vector<float> w = {2.0f, -1.0f, 0.5f};
  reference::Matrix x = matrix(1, 3, {0.1, 0.2, 0.3});
  reference::Matrix y =
      reference::denseProducts(x, w.data(), 1, 3, Precision::Int8W);
  double sw = 2.0f / 127.0f;
  CHECK(y.at(0, 0) == (0.1 * 127 + 0.2 * -64 + 0.3 * 32) * sw);
}

TEST_CASE("the reference simulates bf16 by rounding weights and inputs") {
  // 1 + 2^-9 rounds to 1 in bf16, both as a weight and as an input.
  float nearOne = fromBits(0x3f804000u);
  std::vector<float> w = {nearOne, 3.0f};
  reference::Matrix x = matrix(1, 2, {nearOne, 1.0 + 1e-9});
  reference::Matrix y =
      reference::denseProducts(x, w.data(), 1, 2, Precision::BF16);
  CHECK(y.at(0, 0) == 4.0);
  reference::Matrix f =
      reference::denseProducts(x, w.data(), 1, 2, Precision::F32);
  CHECK(f.at(0, 0) != 4.0);
}
