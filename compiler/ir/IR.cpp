//===- IR.cpp - The seqc graph IR -----------------------------------------===//

#include "compiler/ir/IR.h"

#include <cassert>

namespace seqc::ir {

std::string Type::str() const {
  if (dims.empty())
    return "f32[?]";
  std::string out = "f32[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i)
      out += ',';
    out += dims[i] == kBatchDim ? std::string("B") : std::to_string(dims[i]);
  }
  return out + "]";
}

std::string_view opName(OpKind kind) {
  switch (kind) {
  case OpKind::Linear:
    return "linear";
  case OpKind::Act:
    return "act";
  case OpKind::Softmax:
    return "softmax";
  case OpKind::LogSoftmax:
    return "log_softmax";
  case OpKind::BatchNorm:
    return "batch_norm";
  case OpKind::LayerNorm:
    return "layer_norm";
  case OpKind::Affine:
    return "affine";
  case OpKind::Identity:
    return "identity";
  case OpKind::Dense:
    return "dense";
  }
  return "unknown";
}

int32_t Model::addValue(Type type) {
  values.push_back(Value{std::move(type)});
  return static_cast<int32_t>(values.size() - 1);
}

ParamId Model::addParam(Param param) {
  params.push_back(std::move(param));
  return static_cast<ParamId>(params.size() - 1);
}

void Model::renumberValues() {
  std::vector<Value> newValues;
  newValues.reserve(ops.size() + 1);
  newValues.push_back(values.front());
  for (size_t i = 0; i < ops.size(); ++i) {
    Op &op = ops[i];
    newValues.push_back(values[op.result]);
    op.input = static_cast<int32_t>(i);
    op.result = static_cast<int32_t>(i + 1);
  }
  values = std::move(newValues);
}

void Model::removeDeadParams() {
  std::vector<ParamId> remap(params.size(), kNoParam);
  std::vector<bool> used(params.size(), false);
  for (const Op &op : ops)
    for (ParamId id : {op.weight, op.bias, op.runningMean, op.runningVar})
      if (id != kNoParam)
        used[id] = true;
  std::vector<Param> kept;
  for (size_t i = 0; i < params.size(); ++i) {
    if (!used[i])
      continue;
    remap[i] = static_cast<ParamId>(kept.size());
    kept.push_back(std::move(params[i]));
  }
  params = std::move(kept);
  for (Op &op : ops)
    for (ParamId *id : {&op.weight, &op.bias, &op.runningMean, &op.runningVar})
      if (*id != kNoParam)
        *id = remap[*id];
}

} // namespace seqc::ir
