//===- Precision.h - CUDA precisions and half conversions -------*- C++ -*-===//
//
// Part of seqc. The arithmetic precisions the CUDA backend emits (fp32, or
// bf16/f16 tensor-core inputs with fp32 accumulation); the host-side
// conversions of weights to bf16 and f16 are the common module's.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_CODEGEN_CUDA_PRECISION_H
#define SEQC_CODEGEN_CUDA_PRECISION_H

#include "compiler/codegen/common/Precision.h"
#include "compiler/codegen/common/WeightPacking.h"

#include <cstdint>
#include <optional>
#include <string>

namespace seqc::cuda {

enum class Precision { F32, BF16, F16 };

/// `f32`, `bf16`, `f16`; nullopt for anything else.
std::optional<Precision> parsePrecision(const std::string &text);
const char *precisionName(Precision precision);
/// The common module's precision of the same name.
codegen::Precision commonPrecision(Precision precision);

/// float -> bf16 / f16 bit patterns, round to nearest even, NaN kept
/// (compiler/codegen/common/WeightPacking.h).
using codegen::bf16ToFloat;
using codegen::f16ToFloat;
using codegen::floatToBf16;
using codegen::floatToF16;

} // namespace seqc::cuda

#endif // SEQC_CODEGEN_CUDA_PRECISION_H
