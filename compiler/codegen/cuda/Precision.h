//===- Precision.h - CUDA precisions and half conversions -------*- C++ -*-===//
//
// Part of seqc. The arithmetic precisions the CUDA backend emits (fp32, or
// bf16/f16 tensor-core inputs with fp32 accumulation) and the host-side
// conversions of weights to bf16 and f16.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_CODEGEN_CUDA_PRECISION_H
#define SEQC_CODEGEN_CUDA_PRECISION_H

#include <cstdint>
#include <optional>
#include <string>

namespace seqc::cuda {

enum class Precision { F32, BF16, F16 };

/// `f32`, `bf16`, `f16`; nullopt for anything else.
std::optional<Precision> parsePrecision(const std::string &text);
const char *precisionName(Precision precision);

/// float -> bf16 / f16 bit patterns, round to nearest even, NaN kept.
uint16_t floatToBf16(float value);
uint16_t floatToF16(float value);
float bf16ToFloat(uint16_t bits);
float f16ToFloat(uint16_t bits);

} // namespace seqc::cuda

#endif // SEQC_CODEGEN_CUDA_PRECISION_H
