//===- ReducedPrecision.cpp - Dense products in each precision ------------===//
//
// Part of seqc. The products of a Dense layer as each precision computes
// them; the roundings are the common module's (Precision.h,
// WeightPacking.h), the very functions that pack the generated code's
// weights.
//
//===----------------------------------------------------------------------===//

#include "compiler/reference/ReducedPrecision.h"

#include <cassert>
#include <limits>

namespace seqc::reference {

using codegen::Precision;

namespace {

Matrix productsF32(const Matrix &x, const float *w, int64_t n, int64_t k) {
  Matrix y(x.rows, n);
  for (int64_t r = 0; r < x.rows; ++r)
    for (int64_t o = 0; o < n; ++o) {
      double acc = 0.0;
      const float *wRow = w + o * k;
      for (int64_t i = 0; i < k; ++i)
        acc += x.at(r, i) * static_cast<double>(wRow[i]);
      y.at(r, o) = acc;
    }
  return y;
}

Matrix productsBf16(const Matrix &x, const float *w, int64_t n, int64_t k) {
  std::vector<float> wr(w, w + n * k);
  for (float &v : wr)
    v = codegen::roundToBf16(v);
  Matrix xr = x;
  for (double &v : xr.data)
    v = codegen::roundToBf16(static_cast<float>(v));
  return productsF32(xr, wr.data(), n, k);
}

/// W as int8 (per-output scales), in \p q; returns the scales.
std::vector<float> quantizeWeights(const float *w, int64_t n, int64_t k,
                                   std::vector<int8_t> &q) {
  std::vector<float> scales = codegen::symmetricScales(w, n, k);
  q.resize(static_cast<size_t>(n * k));
  for (int64_t o = 0; o < n; ++o)
    for (int64_t i = 0; i < k; ++i)
      q[o * k + i] = codegen::floatToI8(w[o * k + i], scales[o]);
  return scales;
}

Matrix productsInt8(const Matrix &x, const float *w, int64_t n, int64_t k) {
  std::vector<int8_t> qw;
  std::vector<float> sw = quantizeWeights(w, n, k, qw);
  Matrix y(x.rows, n);
  std::vector<float> row(static_cast<size_t>(k));
  std::vector<int8_t> qa(static_cast<size_t>(k));
  for (int64_t r = 0; r < x.rows; ++r) {
    for (int64_t i = 0; i < k; ++i)
      row[i] = static_cast<float>(x.at(r, i));
    codegen::RowQuantization rq =
        codegen::quantizeRow(row.data(), k, qa.data());
    for (int64_t o = 0; o < n; ++o) {
      if (!rq.finite) {
        y.at(r, o) = std::numeric_limits<double>::quiet_NaN();
        continue;
      }
      int64_t acc = 0;
      for (int64_t i = 0; i < k; ++i)
        acc += int64_t(qa[i]) * int64_t(qw[o * k + i]);
      // Dequantised as the generated code does it (the Dense epilogue):
      // the exact sum to float, times the row's scale, times the output's,
      // each product rounded to float. With the bias added, the next
      // layer then quantises the very floats the code does; rounded
      // differently, a value at a rounding tie of that quantisation would
      // differ by a whole step.
      float sum = static_cast<float>(acc);
      y.at(r, o) = static_cast<double>(sum * rq.scale * sw[o]);
    }
  }
  return y;
}

Matrix productsInt8W(const Matrix &x, const float *w, int64_t n, int64_t k) {
  std::vector<int8_t> qw;
  std::vector<float> sw = quantizeWeights(w, n, k, qw);
  Matrix y(x.rows, n);
  for (int64_t r = 0; r < x.rows; ++r)
    for (int64_t o = 0; o < n; ++o) {
      double acc = 0.0;
      for (int64_t i = 0; i < k; ++i)
        acc += x.at(r, i) * static_cast<double>(qw[o * k + i]);
      y.at(r, o) = acc * sw[o];
    }
  return y;
}

} // namespace

Matrix denseProducts(const Matrix &x, const float *w, int64_t n, int64_t k,
                     Precision precision) {
  switch (precision) {
  case Precision::F32:
    return productsF32(x, w, n, k);
  case Precision::BF16:
    return productsBf16(x, w, n, k);
  case Precision::Int8:
    return productsInt8(x, w, n, k);
  case Precision::Int8W:
    return productsInt8W(x, w, n, k);
  case Precision::F16:
    break;
  }
  assert(false && "the reference does not simulate f16");
  return productsF32(x, w, n, k);
}

} // namespace seqc::reference
