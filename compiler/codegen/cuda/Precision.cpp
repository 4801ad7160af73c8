//===- Precision.cpp - CUDA backend precisions and half conversions -------===//
//
// Part of seqc. Names of the precisions: the common module's names
// (compiler/codegen/common/Precision.h), of which CUDA takes f32, bf16 and
// f16 (the float -> bf16/f16 conversions of the weights are in
// compiler/codegen/common/WeightPacking.cpp).
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cuda/Precision.h"

#include "compiler/codegen/common/Precision.h"

namespace seqc::cuda {

std::optional<Precision> parsePrecision(const std::string &text) {
  std::optional<codegen::Precision> common = codegen::parsePrecision(text);
  if (!common)
    return std::nullopt;
  for (Precision p : {Precision::F32, Precision::BF16, Precision::F16})
    if (*common == commonPrecision(p))
      return p;
  return std::nullopt;
}

const char *precisionName(Precision precision) {
  return codegen::precisionName(commonPrecision(precision));
}

codegen::Precision commonPrecision(Precision precision) {
  switch (precision) {
  case Precision::F32:
    return codegen::Precision::F32;
  case Precision::BF16:
    return codegen::Precision::BF16;
  case Precision::F16:
    return codegen::Precision::F16;
  }
  return codegen::Precision::F32;
}

} // namespace seqc::cuda
