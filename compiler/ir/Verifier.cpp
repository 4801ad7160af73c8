//===- Verifier.cpp - Structural checks of the IR -------------------------===//

#include "compiler/ir/Verifier.h"

#include <fmt/format.h>

namespace seqc::ir {

namespace {

class Verifier {
public:
  Verifier(const Model &model, bool requireBound)
      : model(model), requireBound(requireBound) {}

  std::string run();

private:
  std::string checkParam(size_t opIndex, ParamId id, const char *role,
                         std::vector<int64_t> shape, bool optional);
  std::string checkOp(size_t index, const Op &op);

  const Model &model;
  bool requireBound;
};

} // namespace

std::string Verifier::checkParam(size_t opIndex, ParamId id, const char *role,
                                 std::vector<int64_t> shape, bool optional) {
  if (id == kNoParam)
    return optional ? std::string()
                    : fmt::format("op {} has no {} parameter", opIndex, role);
  if (id < 0 || static_cast<size_t>(id) >= model.params.size())
    return fmt::format("op {} {} parameter index {} is out of range", opIndex,
                       role, id);
  const Param &param = model.params[id];
  if (param.shape != shape)
    return fmt::format("op {} {} parameter '{}' has shape {}, expected {}",
                       opIndex, role, param.name,
                       Tensor::shapeString(param.shape),
                       Tensor::shapeString(shape));
  if (requireBound && !param.isBound())
    return fmt::format("parameter '{}' has no data", param.name);
  return {};
}

std::string Verifier::checkOp(size_t index, const Op &op) {
  if (op.input != static_cast<int32_t>(index) ||
      op.result != static_cast<int32_t>(index + 1))
    return fmt::format("op {} does not continue the chain (reads %{}, "
                       "defines %{})",
                       index, op.input, op.result);
  const Type &in = model.values[op.input].type;
  const Type &out = model.values[op.result].type;
  int64_t inF = in.features(), outF = out.features();
  auto sameShape = [&]() -> std::string {
    if (in != out)
      return fmt::format("op {} ({}) changes type {} to {}", index,
                         opName(op.kind), in.str(), out.str());
    return {};
  };
  std::string err;
  switch (op.kind) {
  case OpKind::Linear:
  case OpKind::Dense:
    if (op.inFeatures != inF || op.outFeatures != outF)
      return fmt::format("op {} ({}) is {}x{} but maps {} to {}", index,
                         opName(op.kind), op.inFeatures, op.outFeatures,
                         in.str(), out.str());
    if (!(err = checkParam(index, op.weight, "weight", {outF, inF}, false))
             .empty())
      return err;
    if (!(err = checkParam(index, op.bias, "bias", {outF}, true)).empty())
      return err;
    if (op.kind == OpKind::Linear && (!op.act.isNone()))
      return fmt::format("op {} (linear) carries an activation", index);
    return {};
  case OpKind::BatchNorm:
    if (!(err = sameShape()).empty())
      return err;
    for (auto [id, role, optional] : {std::tuple{op.weight, "weight", true},
                                      {op.bias, "bias", true},
                                      {op.runningMean, "running_mean", false},
                                      {op.runningVar, "running_var", false}})
      if (!(err = checkParam(index, id, role, {inF}, optional)).empty())
        return err;
    return {};
  case OpKind::LayerNorm:
  case OpKind::Affine:
    if (!(err = sameShape()).empty())
      return err;
    if (!(err = checkParam(index, op.weight, "weight", {inF},
                           op.kind == OpKind::LayerNorm))
             .empty())
      return err;
    return checkParam(index, op.bias, "bias", {inF}, true);
  case OpKind::Act:
  case OpKind::Softmax:
  case OpKind::LogSoftmax:
  case OpKind::Identity:
    return sameShape();
  }
  return fmt::format("op {} has an unknown kind", index);
}

std::string Verifier::run() {
  if (model.values.size() != model.ops.size() + 1)
    return fmt::format("model has {} values for {} ops", model.values.size(),
                       model.ops.size());
  for (size_t i = 0; i < model.values.size(); ++i) {
    const Type &type = model.values[i].type;
    if (type.dims.size() != 2 || type.dims[0] != kBatchDim || type.dims[1] <= 0)
      return fmt::format("value %{} has type {}, expected f32[B,F] with F > 0",
                         i, type.str());
  }
  for (size_t i = 0; i < model.ops.size(); ++i)
    if (std::string err = checkOp(i, model.ops[i]); !err.empty())
      return err;
  return {};
}

std::string verifyModel(const Model &model, bool requireBound) {
  return Verifier(model, requireBound).run();
}

std::string verifyFusedForm(const Model &model) {
  for (size_t i = 0; i < model.ops.size(); ++i) {
    const Op &op = model.ops[i];
    switch (op.kind) {
    case OpKind::Dense:
      continue;
    case OpKind::Act:
    case OpKind::Softmax:
    case OpKind::LogSoftmax:
    case OpKind::LayerNorm:
    case OpKind::Affine:
      if (op.rowNorm != RowNorm::None)
        return fmt::format("op {} ({}) carries a row norm outside a dense "
                           "epilogue",
                           i, opName(op.kind));
      continue;
    case OpKind::Linear:
    case OpKind::BatchNorm:
    case OpKind::Identity:
      break;
    }
    return fmt::format("op {} ({}) is not in fused form (dense, act, softmax, "
                       "log_softmax, layer_norm or affine)",
                       i, opName(op.kind));
  }
  return {};
}

} // namespace seqc::ir
