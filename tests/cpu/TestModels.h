//===- TestModels.h - Random fused models for CPU backend tests -*- C++ -*-===//
#ifndef SEQC_TESTS_CPU_TESTMODELS_H
#define SEQC_TESTS_CPU_TESTMODELS_H

#include "compiler/codegen/cpu/CpuBackend.h"
#include "compiler/ir/IR.h"
#include "compiler/passes/Pass.h"
#include "compiler/reference/Interpreter.h"
#include "compiler/support/Diagnostics.h"
#include "compiler/support/SourceManager.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace seqc::test {

/// Builds fused models op by op with random bound parameters (batchNorm
/// adds an unfused op: runPasses() then brings the model into
/// the form backends take).
class ModelBuilder {
public:
  ModelBuilder(int64_t inFeatures, uint32_t seed) : rng(seed) {
    model.name = "test";
    model.addValue(ir::Type::batched(inFeatures));
    width = inFeatures;
  }

  ir::ParamId param(const std::string &name, std::vector<int64_t> shape,
                    float scale, float offset = 0.0f) {
    ir::Param p;
    p.name = name;
    p.shape = shape;
    uint64_t n = 1;
    for (int64_t d : shape)
      n *= static_cast<uint64_t>(d);
    std::uniform_real_distribution<float> dist(-scale, scale);
    std::vector<float> data(n);
    for (float &v : data)
      v = offset + dist(rng);
    p.data = Tensor(shape, std::move(data));
    return model.addParam(std::move(p));
  }

  ir::Op &add(ir::OpKind kind, int64_t outFeatures) {
    ir::Op op;
    op.kind = kind;
    op.input = static_cast<int32_t>(model.values.size() - 1);
    op.result = model.addValue(ir::Type::batched(outFeatures));
    op.inFeatures = width;
    op.outFeatures = outFeatures;
    width = outFeatures;
    model.ops.push_back(op);
    return model.ops.back();
  }

  void dense(int64_t out, ir::Activation act, bool bias = true,
             ir::RowNorm norm = ir::RowNorm::None) {
    std::string id = std::to_string(model.ops.size());
    float scale = 1.0f / std::sqrt(static_cast<float>(width));
    ir::ParamId w = param(id + ".weight", {out, width}, scale * 1.7f);
    ir::ParamId b = bias ? param(id + ".bias", {out}, 0.5f) : ir::kNoParam;
    ir::Op &op = add(ir::OpKind::Dense, out);
    op.weight = w;
    op.bias = b;
    op.act = act;
    op.rowNorm = norm;
  }
  void act(ir::Activation a) { add(ir::OpKind::Act, width).act = a; }
  void rowNorm(bool logForm) {
    add(logForm ? ir::OpKind::LogSoftmax : ir::OpKind::Softmax, width);
  }
  void layerNorm(bool affine) {
    std::string id = std::to_string(model.ops.size());
    ir::ParamId w =
        affine ? param(id + ".weight", {width}, 0.5f, 1.0f) : ir::kNoParam;
    ir::ParamId b = affine ? param(id + ".bias", {width}, 0.5f) : ir::kNoParam;
    ir::Op &op = add(ir::OpKind::LayerNorm, width);
    op.eps = 1e-5;
    op.weight = w;
    op.bias = b;
  }
  /// Not an op of the fused form the backends take: run runPasses() on the
  /// model before handing it to one.
  void batchNorm(bool affine) {
    std::string id = std::to_string(model.ops.size());
    ir::ParamId w =
        affine ? param(id + ".weight", {width}, 0.5f, 1.0f) : ir::kNoParam;
    ir::ParamId b = affine ? param(id + ".bias", {width}, 0.5f) : ir::kNoParam;
    ir::ParamId mean = param(id + ".running_mean", {width}, 0.5f);
    ir::ParamId var = param(id + ".running_var", {width}, 0.5f, 1.0f);
    ir::Op &op = add(ir::OpKind::BatchNorm, width);
    op.eps = 1e-5;
    op.weight = w;
    op.bias = b;
    op.runningMean = mean;
    op.runningVar = var;
  }
  /// Runs the passes the driver runs before a backend (canonicalize, then
  /// fuse): BatchNorm becomes an affine op, or folds into a Linear. False
  /// (with the diagnostics on stderr) where a pass fails.
  void affine(bool shift) {
    std::string id = std::to_string(model.ops.size());
    ir::ParamId w = param(id + ".weight", {width}, 1.0f, 0.5f);
    ir::ParamId b = shift ? param(id + ".bias", {width}, 0.5f) : ir::kNoParam;
    ir::Op &op = add(ir::OpKind::Affine, width);
    op.weight = w;
    op.bias = b;
  }

  ir::Model model;
  int64_t width;
  std::mt19937 rng;
};

/// Runs canonicalize and fuse on \p model, as the driver does before any
/// backend, so a model with ops the backends do not take (BatchNorm) is in
/// fused form. The pass manager aborts if the result is not.
inline void runPasses(ir::Model &model) {
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  passes::PassManager pm;
  pm.addPass(passes::createCanonicalizePass());
  pm.addPass(passes::createFusePass());
  // Neither pass reports diagnostics; they always succeed.
  (void)pm.run(model, diag);
}

/// Every activation with typical parameters.
inline std::vector<ir::Activation> allActivations() {
  using K = ir::ActKind;
  return {
      {K::None, 0, 0},        {K::ReLU, 0, 0},         {K::Sigmoid, 0, 0},
      {K::Tanh, 0, 0},        {K::GELU, 0, 0},         {K::GELUTanh, 0, 0},
      {K::SiLU, 0, 0},        {K::LeakyReLU, 0.01, 0}, {K::LeakyReLU, -0.3, 0},
      {K::ELU, 1.0, 0},       {K::ELU, 0.7, 0},        {K::Softplus, 20, 1},
      {K::Softplus, 5, 2.5},  {K::Hardtanh, -1, 1},    {K::Hardtanh, -0.25, 2},
      {K::Hardsigmoid, 0, 0}, {K::Hardswish, 0, 0},    {K::Mish, 0, 0},
      {K::Softsign, 0, 0},
  };
}

/// A parallel-for that runs the items in reverse order, in uneven chunks, to
/// check that the generated code only relies on the hook's contract.
inline void reverseParallelFor(void *, size_t count, codegen::cpu::TaskFn task,
                               void *ctx) {
  size_t end = count;
  size_t chunk = 1;
  while (end > 0) {
    size_t begin = end > chunk ? end - chunk : 0;
    task(ctx, begin, end);
    end = begin;
    chunk = chunk * 2 + 1;
  }
}

/// Max of |got - want| / max(1, |want|) over all elements; NaN must match
/// NaN and infinities must match exactly (returns +inf otherwise).
inline double scaledError(const std::vector<float> &got,
                          const reference::Matrix &want) {
  double worst = 0.0;
  for (size_t i = 0; i < got.size(); ++i) {
    double g = got[i], w = want.data[i];
    if (std::isnan(w) || std::isnan(g)) {
      if (std::isnan(w) != std::isnan(g))
        return INFINITY;
      continue;
    }
    if (std::isinf(w) || std::isinf(g)) {
      if (g != w)
        return INFINITY;
      continue;
    }
    worst = std::max(worst, std::fabs(g - w) / std::max(1.0, std::fabs(w)));
  }
  return worst;
}

inline reference::Matrix toMatrix(const std::vector<float> &data, int64_t rows,
                                  int64_t cols) {
  reference::Matrix m(rows, cols);
  for (size_t i = 0; i < data.size(); ++i)
    m.data[i] = data[i];
  return m;
}

} // namespace seqc::test

#endif // SEQC_TESTS_CPU_TESTMODELS_H
