//===- Precision.h - Arithmetic precisions of the backends ------*- C++ -*-===//
//
// Part of seqc. What `--precision` selects: the element types a backend
// computes its Dense layers in. The CPU backend and the reference
// interpreter read it (f32, bf16, int8, int8w; docs/cpu-backend.md,
// "Reduced precision"); the CUDA backend takes f32, bf16 and f16 (its own
// cuda::Precision).
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_CODEGEN_COMMON_PRECISION_H
#define SEQC_CODEGEN_COMMON_PRECISION_H

#include "compiler/codegen/common/WeightPacking.h"

#include <cstdint>
#include <optional>
#include <string>

namespace seqc::codegen {

enum class Precision : uint8_t {
  F32,   ///< float weights, inputs and sums
  BF16,  ///< bf16 weights and layer inputs (RNE), f32 sums
  F16,   ///< IEEE half weights and inputs (CUDA only)
  Int8,  ///< int8 weights (per output) and inputs (per row, dynamic)
  Int8W, ///< int8 weights (per output), f32 inputs and sums
};

/// `f32`, `bf16`, `f16`, `int8`, `int8w`.
const char *precisionName(Precision precision);
/// The name (or `fp32`, `bfloat16`, ...); nullopt for anything else.
std::optional<Precision> parsePrecision(const std::string &text);

/// What a Dense layer's packed weights are stored as in \p precision.
ElementType weightElement(Precision precision);

/// One row of a Dense layer's input quantised per row (Int8): q[i] =
/// rne(x[i] * inv) clamped to [-127, 127], with amax = max |x[i]| and inv =
/// 127 / amax in float (0 for a row of zeros; a zero times the infinite
/// inv of a subnormal amax, NaN, gives 0); scale = amax / 127. A row with
/// NaN or an infinity gives q = 0, scale NaN and finite false: its
/// outputs are NaN.
struct RowQuantization {
  float scale = 0.0f;
  bool finite = true;
};
RowQuantization quantizeRow(const float *x, uint64_t k, int8_t *q);

/// \p value rounded to bf16 (RNE, NaN kept quiet) and widened back: what a
/// bf16 layer reads of its inputs.
float roundToBf16(float value);

} // namespace seqc::codegen

#endif // SEQC_CODEGEN_COMMON_PRECISION_H
