//===- Canonicalize.cpp - Drop no-ops, fold normalisations ----------------===//
//
// Removes ops that do nothing at inference (Identity, Dropout, Flatten),
// rewrites BatchNorm1d with running statistics into a per-feature affine
// map, and folds affine maps into an adjacent Linear: into the one before
// it (scaling its rows) or, failing that, into the one after it (scaling its
// columns). Arithmetic is done in double and rounded once to float32.
//
//===----------------------------------------------------------------------===//

#include "compiler/passes/Pass.h"

#include <cmath>

namespace seqc::passes {

namespace {

using ir::Op;
using ir::OpKind;

class CanonicalizePass : public Pass {
public:
  std::string_view getName() const override { return "canonicalize"; }

  bool run(ir::Model &model, DiagnosticEngine &) override {
    dropNoOps(model);
    for (Op &op : model.ops)
      if (op.kind == OpKind::BatchNorm)
        batchNormToAffine(model, op);
    foldAffines(model);
    model.renumberValues();
    model.removeDeadParams();
    return true;
  }

private:
  static void dropNoOps(ir::Model &model) {
    std::vector<Op> kept;
    for (Op &op : model.ops) {
      bool noOp = op.kind == OpKind::Identity ||
                  (op.kind == OpKind::Act && op.act.isNone());
      // A model that is nothing but no-ops (an imported Flatten alone) keeps
      // one to stay well-formed, as an activation without a function,
      // which is in the form the backends consume.
      if (noOp && !(kept.empty() && &op == &model.ops.back()))
        continue;
      if (noOp) {
        op.kind = OpKind::Act;
        op.act = ir::Activation{};
      }
      kept.push_back(std::move(op));
    }
    model.ops = std::move(kept);
    model.renumberValues();
  }

  /// scale = weight / sqrt(var + eps), shift = bias - mean * scale.
  static void batchNormToAffine(ir::Model &model, Op &op) {
    int64_t n = op.inFeatures;
    std::vector<float> &mean = model.params[op.runningMean].data.data;
    std::vector<float> &var = model.params[op.runningVar].data.data;
    const std::vector<float> *weight = op.weight == ir::kNoParam
                                           ? nullptr
                                           : &model.params[op.weight].data.data;
    const std::vector<float> *bias =
        op.bias == ir::kNoParam ? nullptr : &model.params[op.bias].data.data;
    Tensor scale = Tensor::zeros({n}), shift = Tensor::zeros({n});
    for (int64_t i = 0; i < n; ++i) {
      double s = (weight ? (*weight)[i] : 1.0) /
                 std::sqrt(static_cast<double>(var[i]) + op.eps);
      scale.data[i] = static_cast<float>(s);
      shift.data[i] =
          static_cast<float>((bias ? (*bias)[i] : 0.0) - mean[i] * s);
    }
    std::string prefix = op.path.empty() ? "" : op.path + ".";
    ir::Param scaleParam = model.params[op.runningVar];
    scaleParam.name = prefix + "scale";
    scaleParam.data = std::move(scale);
    ir::Param shiftParam = model.params[op.runningMean];
    shiftParam.name = prefix + "shift";
    shiftParam.data = std::move(shift);
    op.kind = OpKind::Affine;
    op.weight = model.addParam(std::move(scaleParam));
    op.bias = model.addParam(std::move(shiftParam));
    op.runningMean = op.runningVar = ir::kNoParam;
  }

  /// Returns the bias of \p linear, creating a zero one if it has none.
  static std::vector<float> &biasOf(ir::Model &model, Op &linear) {
    if (linear.bias == ir::kNoParam) {
      ir::Param bias;
      bias.name = (linear.path.empty() ? "" : linear.path + ".") + "bias";
      bias.shape = {linear.outFeatures};
      bias.data = Tensor::zeros({linear.outFeatures});
      bias.loc = linear.loc;
      bias.layerDescription = linear.description;
      linear.bias = model.addParam(std::move(bias));
    }
    return model.params[linear.bias].data.data;
  }

  /// y = s * (W x + b) + t  =>  W' = diag(s) W, b' = s * b + t.
  static void foldIntoPrevious(ir::Model &model, Op &linear, const Op &affine) {
    const std::vector<float> &s = model.params[affine.weight].data.data;
    std::vector<float> &w = model.params[linear.weight].data.data;
    for (int64_t o = 0; o < linear.outFeatures; ++o)
      for (int64_t i = 0; i < linear.inFeatures; ++i)
        w[o * linear.inFeatures + i] = static_cast<float>(
            static_cast<double>(w[o * linear.inFeatures + i]) * s[o]);
    std::vector<float> &b = biasOf(model, linear);
    for (int64_t o = 0; o < linear.outFeatures; ++o) {
      double t = affine.bias == ir::kNoParam
                     ? 0.0
                     : model.params[affine.bias].data.data[o];
      b[o] = static_cast<float>(static_cast<double>(b[o]) * s[o] + t);
    }
  }

  /// y = W (s * x + t) + b  =>  W' = W diag(s), b' = b + W t.
  static void foldIntoNext(ir::Model &model, const Op &affine, Op &linear) {
    const std::vector<float> &s = model.params[affine.weight].data.data;
    std::vector<float> &w = model.params[linear.weight].data.data;
    std::vector<double> extra(linear.outFeatures, 0.0);
    if (affine.bias != ir::kNoParam) {
      const std::vector<float> &t = model.params[affine.bias].data.data;
      for (int64_t o = 0; o < linear.outFeatures; ++o)
        for (int64_t i = 0; i < linear.inFeatures; ++i)
          extra[o] += static_cast<double>(w[o * linear.inFeatures + i]) * t[i];
    }
    for (int64_t o = 0; o < linear.outFeatures; ++o)
      for (int64_t i = 0; i < linear.inFeatures; ++i)
        w[o * linear.inFeatures + i] = static_cast<float>(
            static_cast<double>(w[o * linear.inFeatures + i]) * s[i]);
    if (affine.bias != ir::kNoParam) {
      std::vector<float> &b = biasOf(model, linear);
      for (int64_t o = 0; o < linear.outFeatures; ++o)
        b[o] = static_cast<float>(static_cast<double>(b[o]) + extra[o]);
    }
  }

  static void foldAffines(ir::Model &model) {
    std::vector<Op> kept;
    for (size_t i = 0; i < model.ops.size(); ++i) {
      Op &op = model.ops[i];
      if (op.kind == OpKind::Affine) {
        // The Linear's description names the folded layer, as fuse does.
        if (!kept.empty() && kept.back().kind == OpKind::Linear) {
          foldIntoPrevious(model, kept.back(), op);
          kept.back().description += ", " + op.description;
          continue;
        }
        if (i + 1 < model.ops.size() &&
            model.ops[i + 1].kind == OpKind::Linear) {
          Op &next = model.ops[i + 1];
          foldIntoNext(model, op, next);
          next.description = op.description + ", " + next.description;
          continue;
        }
      }
      kept.push_back(std::move(op));
    }
    model.ops = std::move(kept);
  }
};

} // namespace

std::unique_ptr<Pass> createCanonicalizePass() {
  return std::make_unique<CanonicalizePass>();
}

} // namespace seqc::passes
