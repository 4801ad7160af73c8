//===- RowOpEmitter.cpp - Row-wise ops ------------------------------------===//
//
// Part of seqc. Ops applied to each row of a [rows, F] buffer on their own:
// activations, softmax and log_softmax, layer_norm, affine.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cpu/ModelEmitter.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

using namespace llvm;

namespace seqc::codegen::cpu {

void ModelEmitter::emitRowSoftmax(Value *inRow, Value *outRow,
                                  uint64_t features, bool logForm) {
  unsigned vw = cfg.vectorWidth;
  Type *vd = FixedVectorType::get(f64, vw);
  Value *negInf = ConstantFP::getInfinity(vecTy, true);
  // max, ignoring NaN like std::max(maxV, v) in the reference.
  std::vector<Value *> st =
      rowLoop(features, {negInf},
              [&](Value *col, Value *mask, const std::vector<Value *> &s) {
                Value *v = loadRowVec(inRow, col, mask, negInf);
                return std::vector<Value *>{
                    b.CreateSelect(b.CreateFCmpOLT(s[0], v), v, s[0])};
              });
  Value *maxS = b.CreateUnaryIntrinsic(Intrinsic::vector_reduce_fmax, st[0]);
  Value *maxD = b.CreateVectorSplat(vw, b.CreateFPExt(maxS, f64));
  Value *zeroD = Constant::getNullValue(vd);
  st = rowLoop(features, {zeroD},
               [&](Value *col, Value *mask, const std::vector<Value *> &s) {
                 Value *v = loadRowVec(inRow, col, mask, negInf);
                 Value *e = math.expD(b.CreateFSub(math.toDouble(v), maxD));
                 if (mask)
                   e = b.CreateSelect(mask, e, zeroD);
                 return std::vector<Value *>{b.CreateFAdd(s[0], e)};
               });
  FastMathFlags fmf;
  fmf.setAllowReassoc();
  IRBuilder<>::FastMathFlagGuard guard(b);
  b.setFastMathFlags(fmf);
  Value *sum = b.CreateFAddReduce(ConstantFP::get(f64, 0.0), st[0]);
  b.clearFastMathFlags();
  Value *sumV = b.CreateVectorSplat(vw, sum);
  Value *logSum = logForm ? math.logD(sumV) : nullptr;
  rowLoop(features, {},
          [&](Value *col, Value *mask, const std::vector<Value *> &) {
            Value *v = loadRowVec(inRow, col, mask, negInf);
            Value *shifted = b.CreateFSub(math.toDouble(v), maxD);
            Value *r = logForm ? b.CreateFSub(shifted, logSum)
                               : b.CreateFDiv(math.expD(shifted), sumV);
            storeRowVec(math.toFloat(r), outRow, col, mask);
            return std::vector<Value *>{};
          });
}

void ModelEmitter::emitRowOp(const ir::Op &op, unsigned opIndex, Value *inRow,
                             Value *outRow, bool inPlaceNorm) {
  uint64_t features = model.values[op.result].type.features();
  unsigned vw = cfg.vectorWidth;
  Type *vd = FixedVectorType::get(f64, vw);
  Value *zeroF = Constant::getNullValue(vecTy);
  if (inPlaceNorm) {
    emitRowSoftmax(outRow, outRow, features,
                   op.rowNorm == ir::RowNorm::LogSoftmax);
    return;
  }
  switch (op.kind) {
  case ir::OpKind::Act:
    rowLoop(features, {},
            [&](Value *col, Value *mask, const std::vector<Value *> &) {
              Value *v = loadRowVec(inRow, col, mask, zeroF);
              storeRowVec(math.activation(op.act, v), outRow, col, mask);
              return std::vector<Value *>{};
            });
    return;
  case ir::OpKind::Softmax:
  case ir::OpKind::LogSoftmax:
    emitRowSoftmax(inRow, outRow, features, op.kind == ir::OpKind::LogSoftmax);
    return;
  case ir::OpKind::Identity:
    b.CreateMemCpy(outRow, Align(4), inRow, Align(4), features * 4);
    return;
  case ir::OpKind::Affine:
  case ir::OpKind::BatchNorm:
  case ir::OpKind::LayerNorm: {
    // Per-feature constants in double, mirroring the reference's order.
    auto paddedD = [&](ir::ParamId id, double fill,
                       const std::function<double(uint64_t)> &fn) {
      std::vector<double> v(((features + vw - 1) / vw) * vw, fill);
      for (uint64_t i = 0; i < features; ++i)
        v[i] = id == ir::kNoParam ? fill : fn(i);
      return v;
    };
    const std::vector<float> *w = paramData(op.weight);
    const std::vector<float> *bb = paramData(op.bias);
    auto wFn = [&](uint64_t i) { return static_cast<double>((*w)[i]); };
    auto bFn = [&](uint64_t i) { return static_cast<double>((*bb)[i]); };
    GlobalVariable *wG = constantArrayD(paddedD(op.weight, 1.0, wFn),
                                        fmt::format("op{}.scale", opIndex));
    GlobalVariable *bG = constantArrayD(paddedD(op.bias, 0.0, bFn),
                                        fmt::format("op{}.shift", opIndex));
    GlobalVariable *meanG = nullptr, *sdG = nullptr;
    if (op.kind == ir::OpKind::BatchNorm) {
      const std::vector<float> &mean = *paramData(op.runningMean);
      const std::vector<float> &var = *paramData(op.runningVar);
      meanG = constantArrayD(
          paddedD(op.runningMean, 0.0,
                  [&](uint64_t i) { return static_cast<double>(mean[i]); }),
          fmt::format("op{}.mean", opIndex));
      sdG = constantArrayD(paddedD(op.runningVar, 1.0,
                                   [&](uint64_t i) {
                                     return std::sqrt(
                                         static_cast<double>(var[i]) + op.eps);
                                   }),
                           fmt::format("op{}.sd", opIndex));
    }
    auto loadD = [&](GlobalVariable *g, Value *col) {
      return b.CreateAlignedLoad(vd, b.CreateInBoundsGEP(f64, g, col),
                                 Align(8));
    };
    Value *meanV = nullptr, *invV = nullptr;
    if (op.kind == ir::OpKind::LayerNorm) {
      Value *zeroD = Constant::getNullValue(vd);
      FastMathFlags fmf;
      fmf.setAllowReassoc();
      std::vector<Value *> s =
          rowLoop(features, {zeroD},
                  [&](Value *col, Value *mask, const std::vector<Value *> &st) {
                    Value *v =
                        math.toDouble(loadRowVec(inRow, col, mask, zeroF));
                    return std::vector<Value *>{b.CreateFAdd(st[0], v)};
                  });
      b.setFastMathFlags(fmf);
      Value *mean =
          b.CreateFDiv(b.CreateFAddReduce(ConstantFP::get(f64, 0.0), s[0]),
                       ConstantFP::get(f64, static_cast<double>(features)));
      b.clearFastMathFlags();
      meanV = b.CreateVectorSplat(vw, mean);
      s = rowLoop(features, {zeroD},
                  [&](Value *col, Value *mask, const std::vector<Value *> &st) {
                    Value *v =
                        math.toDouble(loadRowVec(inRow, col, mask, zeroF));
                    Value *d = b.CreateFSub(v, meanV);
                    if (mask)
                      d = b.CreateSelect(mask, d, zeroD);
                    return std::vector<Value *>{math.mulAdd(d, d, st[0])};
                  });
      b.setFastMathFlags(fmf);
      Value *var =
          b.CreateFDiv(b.CreateFAddReduce(ConstantFP::get(f64, 0.0), s[0]),
                       ConstantFP::get(f64, static_cast<double>(features)));
      b.clearFastMathFlags();
      Value *inv =
          b.CreateFDiv(ConstantFP::get(f64, 1.0),
                       b.CreateUnaryIntrinsic(
                           Intrinsic::sqrt,
                           b.CreateFAdd(var, ConstantFP::get(f64, op.eps))));
      invV = b.CreateVectorSplat(vw, inv);
    }
    rowLoop(
        features, {},
        [&](Value *col, Value *mask, const std::vector<Value *> &) {
          Value *v = math.toDouble(loadRowVec(inRow, col, mask, zeroF));
          Value *y;
          if (op.kind == ir::OpKind::LayerNorm) {
            y = b.CreateFMul(b.CreateFSub(v, meanV), invV);
            y = b.CreateFAdd(b.CreateFMul(y, loadD(wG, col)), loadD(bG, col));
          } else if (op.kind == ir::OpKind::BatchNorm) {
            y = b.CreateFDiv(b.CreateFSub(v, loadD(meanG, col)),
                             loadD(sdG, col));
            y = b.CreateFAdd(b.CreateFMul(y, loadD(wG, col)), loadD(bG, col));
          } else {
            y = b.CreateFAdd(b.CreateFMul(v, loadD(wG, col)), loadD(bG, col));
          }
          storeRowVec(math.toFloat(y), outRow, col, mask);
          return std::vector<Value *>{};
        });
    return;
  }
  case ir::OpKind::Linear:
  case ir::OpKind::Dense:
    break;
  }
  assert(false && "not a row-wise op");
}

ModelEmitter::Stage
ModelEmitter::emitRowStage(const ir::Op &op, unsigned opIndex, bool inPlaceNorm,
                           uint64_t inStride, uint64_t outStride) {
  uint64_t outF = model.values[op.result].type.features();
  uint64_t rowsPerItem =
      std::max<uint64_t>(1, 16384 / std::max<uint64_t>(outF, 1));
  Task task = beginTask(fmt::format("{}.{}{}", prefix,
                                    inPlaceNorm ? "rownorm" : "rows", opIndex));
  Value *in = task.in, *out = task.out;
  auto [r0, r1] = itemRows(task, rowsPerItem);
  emitForEach(r0, r1, c64(1), [&](Value *r) {
    Value *inRow = gepF(in, b.CreateMul(r, c64(inStride)));
    Value *outRow = gepF(out, b.CreateMul(r, c64(outStride)));
    emitRowOp(op, opIndex, inRow, outRow, inPlaceNorm);
  });
  return endTask(task, rowsPerItem);
}

} // namespace seqc::codegen::cpu
