//===- Stages.cpp - Fused IR ops normalised for CUDA emission -------------===//
//
// Part of seqc. Each op of the fused model (ir::verifyFusedForm) with its
// widths, parameters and a one-line description for the kernels' comments.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cuda/Internal.h"

#include <fmt/format.h>

namespace seqc::cuda {

namespace {

/// A C comment-safe one-line description of an op.
std::string describeOp(const ir::Op &op) {
  std::string text;
  switch (op.kind) {
  case ir::OpKind::Dense:
    text = fmt::format("dense {} -> {}", op.inFeatures, op.outFeatures);
    if (!op.act.isNone())
      text += ", " + op.act.str();
    if (op.rowNorm == ir::RowNorm::Softmax)
      text += ", softmax";
    if (op.rowNorm == ir::RowNorm::LogSoftmax)
      text += ", log_softmax";
    if (op.bias == ir::kNoParam)
      text += ", no bias";
    break;
  case ir::OpKind::Act:
    text = "activation " + op.act.str();
    break;
  default:
    text = std::string(ir::opName(op.kind));
    break;
  }
  if (!op.description.empty())
    text += fmt::format(" [{}{}{}]", op.path, op.path.empty() ? "" : ": ",
                        op.description);
  std::string safe;
  for (char c : text)
    safe += (c == '*' || c == '/' || c == '\n') ? ' ' : c;
  return safe;
}

} // namespace

std::vector<Stage> buildStages(const ir::Model &model) {
  auto data = [&](ir::ParamId id) -> const std::vector<float> * {
    return id == ir::kNoParam ? nullptr : &model.params[id].data.data;
  };
  std::vector<Stage> stages;
  for (const ir::Op &op : model.ops) {
    Stage s;
    s.kind = op.kind;
    s.in = model.values[op.input].type.features();
    s.out = model.values[op.result].type.features();
    s.comment = describeOp(op);
    s.act = op.act;
    s.rowNorm = op.rowNorm;
    s.eps = op.eps;
    s.weight = data(op.weight);
    s.bias = data(op.bias);
    stages.push_back(std::move(s));
  }
  return stages;
}

} // namespace seqc::cuda
