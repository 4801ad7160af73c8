//===- Precision.cpp - Arithmetic precisions of the backends --------------===//
//
// Part of seqc. Names of the precisions, and the rounding of a layer's
// inputs that bf16 and int8 specify, written once for the reference
// interpreter and the tests of the generated code.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/common/Precision.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace seqc::codegen {

const char *precisionName(Precision precision) {
  switch (precision) {
  case Precision::F32:
    return "f32";
  case Precision::BF16:
    return "bf16";
  case Precision::F16:
    return "f16";
  case Precision::Int8:
    return "int8";
  case Precision::Int8W:
    return "int8w";
  }
  return "f32";
}

std::optional<Precision> parsePrecision(const std::string &text) {
  if (text.empty() || text == "f32" || text == "fp32" || text == "float32")
    return Precision::F32;
  if (text == "bf16" || text == "bfloat16")
    return Precision::BF16;
  if (text == "f16" || text == "fp16" || text == "float16")
    return Precision::F16;
  if (text == "int8" || text == "i8")
    return Precision::Int8;
  if (text == "int8w" || text == "i8w")
    return Precision::Int8W;
  return std::nullopt;
}

ElementType weightElement(Precision precision) {
  switch (precision) {
  case Precision::F32:
    return ElementType::F32;
  case Precision::BF16:
    return ElementType::BF16;
  case Precision::F16:
    return ElementType::F16;
  case Precision::Int8:
  case Precision::Int8W:
    return ElementType::I8;
  }
  return ElementType::F32;
}

RowQuantization quantizeRow(const float *x, uint64_t k, int8_t *q) {
  // amax in float, as the kernels' max-reduction computes it; NaN does not
  // win std::max, so the finiteness is checked on its own.
  float amax = 0.0f;
  bool finite = true;
  for (uint64_t i = 0; i < k; ++i) {
    finite = finite && std::isfinite(x[i]);
    amax = std::max(amax, std::fabs(x[i]));
  }
  if (!finite) {
    std::fill(q, q + k, int8_t(0));
    return {std::numeric_limits<float>::quiet_NaN(), false};
  }
  float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
  for (uint64_t i = 0; i < k; ++i) {
    // float multiply, then round to nearest even (cvtps2dq); |x * inv|
    // can exceed 127 by an ulp, so it is clamped. With a subnormal amax,
    // inv overflows to infinity and a zero times it is NaN: a zero.
    float v = std::nearbyint(x[i] * inv);
    q[i] = std::isnan(v) ? int8_t(0)
                         : static_cast<int8_t>(std::clamp(v, -127.0f, 127.0f));
  }
  return {amax / 127.0f, true};
}

float roundToBf16(float value) { return bf16ToFloat(floatToBf16(value)); }

} // namespace seqc::codegen
