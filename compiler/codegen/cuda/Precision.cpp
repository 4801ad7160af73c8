//===- Precision.cpp - CUDA backend precisions and half conversions -------===//
//
// Part of seqc. Names of the precisions (the float -> bf16/f16 conversions
// of the weights are in compiler/codegen/common/WeightPacking.cpp).
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cuda/Precision.h"

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

} // namespace seqc::cuda
