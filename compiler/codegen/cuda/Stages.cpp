//===- Stages.cpp - Fused IR ops normalised for CUDA emission -------------===//
//
// Part of seqc. Linear becomes Dense without activation, BatchNorm an
// Affine with its scale and shift folded, Identity vanishes; every stage
// carries a one-line description for the kernels' comments.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cuda/Internal.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace seqc::cuda {

namespace {

/// A C comment-safe one-line description of an op.
std::string describeOp(const ir::Op &op) {
  std::string text;
  switch (op.kind) {
  case ir::OpKind::Dense:
  case ir::OpKind::Linear:
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

bool buildStages(const ir::Model &model, std::vector<Stage> &stages,
                 std::string &error) {
  auto data = [&](ir::ParamId id) -> const std::vector<float> * {
    return id == ir::kNoParam ? nullptr : &model.params[id].data.data;
  };
  for (const ir::Op &op : model.ops) {
    Stage s;
    s.in = model.values[op.input].type.features();
    s.out = model.values[op.result].type.features();
    s.comment = describeOp(op);
    switch (op.kind) {
    case ir::OpKind::Identity:
      continue;
    case ir::OpKind::Linear:
    case ir::OpKind::Dense:
      s.kind = ir::OpKind::Dense;
      s.in = op.inFeatures;
      s.out = op.outFeatures;
      if (op.kind == ir::OpKind::Dense) {
        s.act = op.act;
        s.rowNorm = op.rowNorm;
      }
      s.weight = data(op.weight);
      s.bias = data(op.bias);
      if (!s.weight) {
        error = fmt::format("layer {} has no weight", s.comment);
        return false;
      }
      break;
    case ir::OpKind::Act:
    case ir::OpKind::Softmax:
    case ir::OpKind::LogSoftmax:
      s.kind = op.kind;
      s.act = op.act;
      break;
    case ir::OpKind::LayerNorm:
      s.kind = op.kind;
      s.eps = op.eps;
      s.weight = data(op.weight);
      s.bias = data(op.bias);
      break;
    case ir::OpKind::Affine:
      s.kind = op.kind;
      s.weight = data(op.weight);
      s.bias = data(op.bias);
      if (!s.weight) {
        error = fmt::format("layer {} has no scale", s.comment);
        return false;
      }
      break;
    case ir::OpKind::BatchNorm: {
      s.kind = ir::OpKind::Affine;
      const std::vector<float> *w = data(op.weight), *b = data(op.bias);
      const std::vector<float> *mean = data(op.runningMean);
      const std::vector<float> *var = data(op.runningVar);
      if (!mean || !var) {
        error = fmt::format("layer {} has no running statistics", s.comment);
        return false;
      }
      for (int64_t c = 0; c < s.out; ++c) {
        double scale = (w ? (*w)[c] : 1.0) / std::sqrt((*var)[c] + op.eps);
        s.foldedScale.push_back(static_cast<float>(scale));
        s.foldedShift.push_back(
            static_cast<float>((b ? (*b)[c] : 0.0) - (*mean)[c] * scale));
      }
      s.weight = &s.foldedScale;
      s.bias = &s.foldedShift;
      break;
    }
    }
    stages.push_back(std::move(s));
  }
  // Fix the folded pointers after the vector settled.
  for (Stage &s : stages)
    if (!s.foldedScale.empty()) {
      s.weight = &s.foldedScale;
      s.bias = &s.foldedShift;
    }
  return true;
}

std::vector<float> paddedCopy(const std::vector<float> *src, size_t size) {
  std::vector<float> out(size, 0.0f);
  if (src)
    std::copy(src->begin(), src->begin() + std::min(size, src->size()),
              out.begin());
  return out;
}

} // namespace seqc::cuda
