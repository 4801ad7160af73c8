//===- TinyEmitter.cpp - Tiny networks as straight-line code --------------===//
//
// Part of seqc. Networks whose widths are all at most 16 and whose weights
// are few: the whole chain as straight-line code with the weights as
// immediates (or, with external weights, loaded from the blob) and rows in
// SIMD lanes (docs/cpu-backend.md, "Tiny path").
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cpu/ModelEmitter.h"

#include <fmt/format.h>

#include <algorithm>

using namespace llvm;

namespace seqc::codegen::cpu {

std::vector<Value *> ModelEmitter::tinySoftmax(std::vector<Value *> feats,
                                               bool logForm) {
  Value *m = feats[0];
  for (size_t i = 1; i < feats.size(); ++i)
    m = builder.CreateSelect(builder.CreateFCmpOLT(m, feats[i]), feats[i], m);
  Value *md = math.toDouble(m);
  std::vector<Value *> shifted, exps;
  Value *sum = nullptr;
  for (Value *x : feats) {
    Value *s = builder.CreateFSub(math.toDouble(x), md);
    shifted.push_back(s);
    Value *e = math.expD(s);
    exps.push_back(e);
    sum = sum ? builder.CreateFAdd(sum, e) : e;
  }
  Value *logSum = logForm ? math.logD(sum) : nullptr;
  for (size_t i = 0; i < feats.size(); ++i)
    feats[i] = math.toFloat(logForm ? builder.CreateFSub(shifted[i], logSum)
                                    : builder.CreateFDiv(exps[i], sum));
  return feats;
}

Value *ModelEmitter::tinyParam(Type *ty, double value, GlobalVariable *array,
                               uint64_t index) {
  if (!array)
    return ConstantFP::get(ty, value);
  // External weights: the scalar from the blob, broadcast to every row.
  Type *elem = ty->getScalarType();
  Value *v = builder.CreateAlignedLoad(
      elem, builder.CreateConstInBoundsGEP1_64(elem, array, index),
      Align(elem->getPrimitiveSizeInBits() / 8));
  if (auto *vt = dyn_cast<FixedVectorType>(ty))
    v = builder.CreateVectorSplat(vt->getNumElements(), v);
  return v;
}

void ModelEmitter::placeTinyParams() {
  tinyParams.assign(model.ops.size(), {});
  if (!blob)
    return;
  // The tiny chain's values as the blob holds them: Dense weights and
  // biases as float32, the per-feature constants of the row-wise ops as the
  // doubles the chain computes with.
  for (size_t i = 0; i < model.ops.size(); ++i) {
    const ir::Op &op = model.ops[i];
    TinyParams &tp = tinyParams[i];
    auto asDouble = [&](ir::ParamId id,
                        const std::string &what) -> GlobalVariable * {
      const std::vector<float> *data = paramData(id);
      if (!data)
        return nullptr;
      std::vector<double> d(data->begin(), data->end());
      return constantArrayD(d, fmt::format("op{}.{}", i, what));
    };
    switch (op.kind) {
    case ir::OpKind::Dense: {
      std::vector<float> scales;
      tp.weight =
          constantArray(tinyWeights(op, scales), fmt::format("op{}.weight", i));
      if (const std::vector<float> *bias = paramData(op.bias))
        tp.bias = constantArray(*bias, fmt::format("op{}.bias", i));
      if (!scales.empty())
        tp.scale = constantArray(scales, fmt::format("op{}.scale", i));
      break;
    }
    case ir::OpKind::Affine:
    case ir::OpKind::LayerNorm:
      tp.weight = asDouble(op.weight, "scale");
      tp.bias = asDouble(op.bias, "shift");
      break;
    default:
      break;
    }
  }
}

std::vector<float> ModelEmitter::tinyWeights(const ir::Op &op,
                                             std::vector<float> &scales) {
  std::vector<float> w = *paramData(op.weight);
  scales.clear();
  if (cfg.precision == Precision::BF16) {
    for (float &v : w)
      v = codegen::roundToBf16(v);
  } else if (hasWeightScales()) {
    uint64_t n = op.outFeatures, k = op.inFeatures;
    scales = symmetricScales(w.data(), n, k);
    for (uint64_t j = 0; j < n; ++j)
      for (uint64_t i = 0; i < k; ++i)
        w[j * k + i] = floatToI8(w[j * k + i], scales[j]);
  }
  return w;
}

std::vector<Value *>
ModelEmitter::tinyDense(const ir::Op &op, const TinyParams &tp,
                        const std::vector<Value *> &featsIn) {
  Type *ty = featsIn.empty() ? nullptr : featsIn[0]->getType();
  std::vector<float> scales;
  const std::vector<float> w = tinyWeights(op, scales);
  std::vector<Value *> feats = featsIn;
  if (cfg.precision == Precision::BF16)
    for (Value *&f : feats)
      f = roundToBf16(f);
  // int8 quantises each row (lane) of the inputs; the sums of its int8
  // products (at most 16 * 127 * 127) are exact in float.
  Value *rowScale = nullptr;
  if (cfg.precision == Precision::Int8 && !feats.empty()) {
    Value *amax = ConstantFP::get(ty, 0.0), *bad = nullptr;
    for (Value *f : feats) {
      Value *a = builder.CreateUnaryIntrinsic(Intrinsic::fabs, f);
      amax = builder.CreateSelect(builder.CreateFCmpOGT(a, amax), a, amax);
      Value *nonFinite = builder.CreateFCmpUGE(a, ConstantFP::getInfinity(ty));
      bad = bad ? builder.CreateOr(bad, nonFinite) : nonFinite;
    }
    RowQuant rq = rowQuant(amax, bad);
    for (Value *&f : feats)
      f = quantizeToGrid(f, rq.inv);
    rowScale = rq.scale;
  }
  // int8 and int8w scale the sums before the bias.
  const std::vector<float> *bias =
      scales.empty() ? paramData(op.bias) : nullptr;
  std::vector<Value *> out;
  // Each output is the sum of `chains` interleaved multiply-add chains
  // (the first starts from the bias), added pairwise: at batch 1 the
  // chain's latency is the run time, and this costs no more operations
  // than one chain plus a bias add as long as chains <= 2 (at most 3 more
  // for the widest tiny layer).
  int64_t inF = op.inFeatures;
  int64_t chains = std::min<int64_t>(
      std::max<int64_t>(inF, 1),
      std::min<int64_t>(4, std::max<int64_t>(2, (inF + 3) / 4)));
  for (int64_t j = 0; j < op.outFeatures; ++j) {
    std::vector<Value *> part(chains, nullptr);
    if (bias)
      part[0] = tinyParam(ty, (*bias)[j], tp.bias, j);
    for (int64_t i = 0; i < inF; ++i) {
      Value *wv = tinyParam(ty, w[j * inF + i], tp.weight, j * inF + i);
      Value *&acc = part[i % chains];
      acc = acc ? math.mulAdd(feats[i], wv, acc)
                : builder.CreateFMul(feats[i], wv);
    }
    while (part.size() > 1) {
      std::vector<Value *> next;
      for (size_t q = 0; q + 1 < part.size(); q += 2)
        next.push_back(part[q] && part[q + 1]
                           ? builder.CreateFAdd(part[q], part[q + 1])
                           : (part[q] ? part[q] : part[q + 1]));
      if (part.size() % 2)
        next.push_back(part.back());
      part = std::move(next);
    }
    Value *acc = part[0] ? part[0] : ConstantFP::get(ty, 0.0);
    if (!scales.empty()) {
      if (rowScale)
        acc = builder.CreateFMul(acc, rowScale);
      acc = builder.CreateFMul(acc, tinyParam(ty, scales[j], tp.scale, j));
      if (const std::vector<float> *b = paramData(op.bias))
        acc = builder.CreateFAdd(acc, tinyParam(ty, (*b)[j], tp.bias, j));
    }
    out.push_back(math.activation(op.act, acc));
  }
  if (op.rowNorm != ir::RowNorm::None)
    out = tinySoftmax(std::move(out), op.rowNorm == ir::RowNorm::LogSoftmax);
  return out;
}

std::vector<Value *> ModelEmitter::tinyAffine(const ir::Op &op,
                                              const TinyParams &tp,
                                              std::vector<Value *> feats) {
  const std::vector<float> *w = paramData(op.weight);
  const std::vector<float> *bias = paramData(op.bias);
  std::vector<Value *> xd;
  for (Value *x : feats)
    xd.push_back(math.toDouble(x));
  Type *dty = xd[0]->getType();
  Value *mean = nullptr, *inv = nullptr;
  if (op.kind == ir::OpKind::LayerNorm) {
    double count = static_cast<double>(feats.size());
    for (Value *x : xd)
      mean = mean ? builder.CreateFAdd(mean, x) : x;
    mean = builder.CreateFDiv(mean, ConstantFP::get(dty, count));
    Value *var = nullptr;
    for (Value *x : xd) {
      Value *d = builder.CreateFSub(x, mean);
      var = var ? math.mulAdd(d, d, var) : builder.CreateFMul(d, d);
    }
    var = builder.CreateFDiv(var, ConstantFP::get(dty, count));
    inv = builder.CreateFDiv(
        ConstantFP::get(dty, 1.0),
        builder.CreateUnaryIntrinsic(
            Intrinsic::sqrt,
            builder.CreateFAdd(var, ConstantFP::get(dty, op.eps))));
  }
  for (size_t c = 0; c < feats.size(); ++c) {
    Value *y = xd[c];
    if (op.kind == ir::OpKind::LayerNorm)
      y = builder.CreateFMul(builder.CreateFSub(y, mean), inv);
    if (w)
      y = builder.CreateFMul(
          y, tinyParam(dty, static_cast<double>((*w)[c]), tp.weight, c));
    if (bias)
      y = builder.CreateFAdd(
          y, tinyParam(dty, static_cast<double>((*bias)[c]), tp.bias, c));
    feats[c] = math.toFloat(y);
  }
  return feats;
}

std::vector<Value *> ModelEmitter::emitTinyChain(std::vector<Value *> feats) {
  for (size_t opIndex = 0; opIndex < model.ops.size(); ++opIndex) {
    const ir::Op &op = model.ops[opIndex];
    const TinyParams &tp = tinyParams[opIndex];
    switch (op.kind) {
    case ir::OpKind::Dense:
      feats = tinyDense(op, tp, feats);
      break;
    case ir::OpKind::Act:
      for (Value *&x : feats)
        x = math.activation(op.act, x);
      break;
    case ir::OpKind::Softmax:
    case ir::OpKind::LogSoftmax:
      feats = tinySoftmax(std::move(feats), op.kind == ir::OpKind::LogSoftmax);
      break;
    case ir::OpKind::Affine:
    case ir::OpKind::LayerNorm:
      feats = tinyAffine(op, tp, std::move(feats));
      break;
    default:
      // Linear, BatchNorm and Identity are gone after fuse (checkModel).
      break;
    }
  }
  return feats;
}

Function *ModelEmitter::emitTinyStage(const StagePlan &st) {
  uint64_t inF = model.inputType().features();
  uint64_t outF = model.outputType().features();
  placeTinyParams();
  Task task = beginTask(prefix + ".tiny");
  // Inlined into PREFIX_run's serial path, so batch 1 pays no call and no
  // round trip of the buffer pointers through the task context.
  task.fn->addFnAttr(Attribute::AlwaysInline);
  Value *in = task.in, *out = task.out;
  auto [r0, r1] = itemRows(task, st.rowsPerItem);
  unsigned lanes = cfg.vectorWidth;
  auto block = [&](Value *r, unsigned l) {
    Type *ty = FixedVectorType::get(f32, l);
    std::vector<Value *> feats;
    for (uint64_t i = 0; i < inF; ++i) {
      Value *v = PoisonValue::get(ty);
      for (unsigned lane = 0; lane < l; ++lane) {
        Value *idx = builder.CreateAdd(
            builder.CreateMul(builder.CreateAdd(r, c64(lane)), c64(inF)),
            c64(i));
        v = builder.CreateInsertElement(
            v, builder.CreateAlignedLoad(f32, gepF(in, idx), Align(4)),
            static_cast<uint64_t>(lane));
      }
      feats.push_back(v);
    }
    feats = emitTinyChain(std::move(feats));
    for (uint64_t j = 0; j < outF; ++j)
      for (unsigned lane = 0; lane < l; ++lane) {
        Value *idx = builder.CreateAdd(
            builder.CreateMul(builder.CreateAdd(r, c64(lane)), c64(outF)),
            c64(j));
        builder.CreateAlignedStore(
            builder.CreateExtractElement(feats[j], static_cast<uint64_t>(lane)),
            gepF(out, idx), Align(4));
      }
  };
  // Full blocks of `lanes` rows, then single rows.
  Value *count = builder.CreateSub(r1, r0);
  Value *fullEnd = builder.CreateAdd(
      r0, builder.CreateMul(builder.CreateUDiv(count, c64(lanes)), c64(lanes)));
  emitForEach(r0, fullEnd, c64(lanes), [&](Value *r) { block(r, lanes); });
  emitForEach(fullEnd, r1, c64(1), [&](Value *r) { block(r, 1); });
  return endTask(task);
}

} // namespace seqc::codegen::cpu
