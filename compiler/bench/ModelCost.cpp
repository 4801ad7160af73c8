//===- ModelCost.cpp - The work and weight bytes of a model ---------------===//

#include "compiler/bench/ModelCost.h"

#include <algorithm>

namespace seqc::bench {

namespace {

bool isMatrixProduct(const ir::Op &op) {
  return op.kind == ir::OpKind::Dense || op.kind == ir::OpKind::Linear;
}

} // namespace

uint64_t opFlops(const ir::Op &op) {
  if (isMatrixProduct(op))
    return 2 * uint64_t(op.inFeatures) * uint64_t(op.outFeatures);
  return 0;
}

uint64_t opWeightBytes(const ir::Model &model, const ir::Op &op,
                       unsigned matrixElementBytes) {
  uint64_t bytes = 0;
  for (ir::ParamId id : {op.weight, op.bias, op.runningMean, op.runningVar}) {
    if (id == ir::kNoParam)
      continue;
    bool matrix = id == op.weight && isMatrixProduct(op);
    bytes += model.params[id].data.numElements() *
             (matrix ? matrixElementBytes : sizeof(float));
  }
  return bytes;
}

uint64_t flopsPerSample(const ir::Model &model) {
  uint64_t flops = 0;
  for (const ir::Op &op : model.ops)
    flops += opFlops(op);
  return flops;
}

uint64_t weightBytes(const ir::Model &model) {
  uint64_t bytes = 0;
  for (const ir::Param &param : model.params)
    bytes += param.data.numElements() * sizeof(float);
  return bytes;
}

unsigned denseOpCount(const ir::Model &model) {
  unsigned dense = 0;
  for (const ir::Op &op : model.ops)
    dense += isMatrixProduct(op);
  return dense;
}

int64_t widestValue(const ir::Model &model) {
  int64_t widest = 0;
  for (const ir::Value &value : model.values)
    widest = std::max(widest, value.type.features());
  return widest;
}

} // namespace seqc::bench
