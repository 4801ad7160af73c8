//===- Precision.cpp - CUDA backend precisions and half conversions -------===//
//
// Part of seqc. Names of the precisions, and float -> bf16/f16 conversion
// of the weights with round-to-nearest-even, as the GPU's own cvt does.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cuda/Precision.h"

#include <cmath>
#include <cstring>

namespace seqc::cuda {

std::optional<Precision> parsePrecision(const std::string &text) {
  if (text.empty() || text == "f32" || text == "fp32" || text == "float32")
    return Precision::F32;
  if (text == "bf16" || text == "bfloat16")
    return Precision::BF16;
  if (text == "f16" || text == "fp16" || text == "float16")
    return Precision::F16;
  return std::nullopt;
}

const char *precisionName(Precision precision) {
  switch (precision) {
  case Precision::F32:
    return "f32";
  case Precision::BF16:
    return "bf16";
  case Precision::F16:
    return "f16";
  }
  return "f32";
}

uint16_t floatToBf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return static_cast<uint16_t>((bits >> 16) | 0x40u); // quiet NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

float bf16ToFloat(uint16_t bits) {
  uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &wide, 4);
  return value;
}

uint16_t floatToF16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const uint32_t abs = bits & 0x7fffffffu;
  if (abs > 0x7f800000u)
    return static_cast<uint16_t>(sign | 0x7e00u); // NaN
  if (abs >= 0x477ff000u)
    return static_cast<uint16_t>(sign | 0x7c00u); // rounds to infinity
  if (abs < 0x38800000u) {
    // Below the smallest normal half (2^-14): a multiple of 2^-24. Scaling
    // by 2^24 is exact, and nearbyint rounds to nearest even.
    float magnitude;
    std::memcpy(&magnitude, &abs, 4);
    auto units = static_cast<uint32_t>(std::nearbyint(magnitude * 16777216.0f));
    return static_cast<uint16_t>(sign | units);
  }
  uint32_t rounded = abs + 0xfffu + ((abs >> 13) & 1u);
  rounded -= 112u << 23; // exponent bias 127 -> 15
  return static_cast<uint16_t>(sign | (rounded >> 13));
}

float f16ToFloat(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1fu;
  const uint32_t mantissa = bits & 0x3ffu;
  float value;
  if (exponent == 0) {
    value = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -value : value;
  }
  uint32_t wide;
  if (exponent == 31)
    wide = sign | 0x7f800000u | (mantissa << 13);
  else
    wide = sign | ((exponent + 112u) << 23) | (mantissa << 13);
  std::memcpy(&value, &wide, 4);
  return value;
}

} // namespace seqc::cuda
