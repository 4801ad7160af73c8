//===- RowOpEmitter.cpp - Row-wise ops ------------------------------------===//
//
// Part of seqc. Ops applied to each row of a [rows, F] buffer on their own:
// activations, softmax and log_softmax, layer_norm, affine.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cpu/ModelEmitter.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <tuple>

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
                return std::vector<Value *>{builder.CreateSelect(
                    builder.CreateFCmpOLT(s[0], v), v, s[0])};
              });
  Value *maxS =
      builder.CreateUnaryIntrinsic(Intrinsic::vector_reduce_fmax, st[0]);
  Value *maxD = builder.CreateVectorSplat(vw, builder.CreateFPExt(maxS, f64));
  Value *zeroD = Constant::getNullValue(vd);
  st = rowLoop(features, {zeroD},
               [&](Value *col, Value *mask, const std::vector<Value *> &s) {
                 Value *v = loadRowVec(inRow, col, mask, negInf);
                 Value *e =
                     math.expD(builder.CreateFSub(math.toDouble(v), maxD));
                 if (mask)
                   e = builder.CreateSelect(mask, e, zeroD);
                 return std::vector<Value *>{builder.CreateFAdd(s[0], e)};
               });
  FastMathFlags fmf;
  fmf.setAllowReassoc();
  IRBuilder<>::FastMathFlagGuard guard(builder);
  builder.setFastMathFlags(fmf);
  Value *sum = builder.CreateFAddReduce(ConstantFP::get(f64, 0.0), st[0]);
  builder.clearFastMathFlags();
  Value *sumV = builder.CreateVectorSplat(vw, sum);
  Value *logSum = logForm ? math.logD(sumV) : nullptr;
  rowLoop(features, {},
          [&](Value *col, Value *mask, const std::vector<Value *> &) {
            Value *v = loadRowVec(inRow, col, mask, negInf);
            Value *shifted = builder.CreateFSub(math.toDouble(v), maxD);
            Value *r = logForm ? builder.CreateFSub(shifted, logSum)
                               : builder.CreateFDiv(math.expD(shifted), sumV);
            storeRowVec(math.toFloat(r), outRow, col, mask);
            return std::vector<Value *>{};
          });
}

void ModelEmitter::emitRowOp(const ir::Op &op, unsigned opIndex, Value *inRow,
                             Value *outRow, bool inPlaceNorm) {
  uint64_t features = model.values[op.result].type.features();
  if (inPlaceNorm) {
    emitRowSoftmax(outRow, outRow, features,
                   op.rowNorm == ir::RowNorm::LogSoftmax);
    return;
  }
  switch (op.kind) {
  case ir::OpKind::Act: {
    Value *zeroF = Constant::getNullValue(vecTy);
    rowLoop(features, {},
            [&](Value *col, Value *mask, const std::vector<Value *> &) {
              Value *v = loadRowVec(inRow, col, mask, zeroF);
              storeRowVec(math.activation(op.act, v), outRow, col, mask);
              return std::vector<Value *>{};
            });
    return;
  }
  case ir::OpKind::Softmax:
  case ir::OpKind::LogSoftmax:
    emitRowSoftmax(inRow, outRow, features, op.kind == ir::OpKind::LogSoftmax);
    return;
  case ir::OpKind::Affine:
  case ir::OpKind::LayerNorm:
    emitRowAffine(op, opIndex, inRow, outRow, features);
    return;
  default:
    // Dense is a stage of its own; Linear, BatchNorm and Identity are gone
    // after fuse (checkModel).
    break;
  }
  assert(false && "not a row-wise op");
}

std::pair<Value *, Value *>
ModelEmitter::emitRowMoments(Value *inRow, uint64_t features, double eps) {
  unsigned vw = cfg.vectorWidth;
  Type *vd = FixedVectorType::get(f64, vw);
  Value *zeroF = Constant::getNullValue(vecTy);
  Value *zeroD = Constant::getNullValue(vd);
  // The sums may be reassociated: the lanes are added up in a tree.
  FastMathFlags fmf;
  fmf.setAllowReassoc();
  std::vector<Value *> s =
      rowLoop(features, {zeroD},
              [&](Value *col, Value *mask, const std::vector<Value *> &st) {
                Value *v = math.toDouble(loadRowVec(inRow, col, mask, zeroF));
                return std::vector<Value *>{builder.CreateFAdd(st[0], v)};
              });
  builder.setFastMathFlags(fmf);
  Value *mean = builder.CreateFDiv(
      builder.CreateFAddReduce(ConstantFP::get(f64, 0.0), s[0]),
      ConstantFP::get(f64, static_cast<double>(features)));
  builder.clearFastMathFlags();
  Value *meanV = builder.CreateVectorSplat(vw, mean);
  s = rowLoop(features, {zeroD},
              [&](Value *col, Value *mask, const std::vector<Value *> &st) {
                Value *v = math.toDouble(loadRowVec(inRow, col, mask, zeroF));
                Value *d = builder.CreateFSub(v, meanV);
                if (mask)
                  d = builder.CreateSelect(mask, d, zeroD);
                return std::vector<Value *>{math.mulAdd(d, d, st[0])};
              });
  builder.setFastMathFlags(fmf);
  Value *var = builder.CreateFDiv(
      builder.CreateFAddReduce(ConstantFP::get(f64, 0.0), s[0]),
      ConstantFP::get(f64, static_cast<double>(features)));
  builder.clearFastMathFlags();
  Value *inv = builder.CreateFDiv(
      ConstantFP::get(f64, 1.0),
      builder.CreateUnaryIntrinsic(
          Intrinsic::sqrt, builder.CreateFAdd(var, ConstantFP::get(f64, eps))));
  return {meanV, builder.CreateVectorSplat(vw, inv)};
}

void ModelEmitter::emitRowAffine(const ir::Op &op, unsigned opIndex,
                                 Value *inRow, Value *outRow,
                                 uint64_t features) {
  unsigned vw = cfg.vectorWidth;
  Type *vd = FixedVectorType::get(f64, vw);
  Value *zeroF = Constant::getNullValue(vecTy);
  // Per-feature constants in double, mirroring the reference's order, and
  // padded to whole vectors for the row's masked last vector.
  auto perFeature = [&](ir::ParamId id, double fill, const char *what) {
    std::vector<double> values;
    if (const std::vector<float> *data = paramData(id))
      values.assign(data->begin(), data->end());
    return constantArrayD(padTo(values, roundUp(features, vw), fill),
                          fmt::format("op{}.{}", opIndex, what));
  };
  GlobalVariable *scaleG = perFeature(op.weight, 1.0, "scale");
  GlobalVariable *shiftG = perFeature(op.bias, 0.0, "shift");
  auto loadD = [&](GlobalVariable *g, Value *col) {
    return builder.CreateAlignedLoad(vd, builder.CreateInBoundsGEP(f64, g, col),
                                     Align(8));
  };
  Value *meanV = nullptr, *invV = nullptr;
  if (op.kind == ir::OpKind::LayerNorm)
    std::tie(meanV, invV) = emitRowMoments(inRow, features, op.eps);
  rowLoop(features, {},
          [&](Value *col, Value *mask, const std::vector<Value *> &) {
            Value *v = math.toDouble(loadRowVec(inRow, col, mask, zeroF));
            if (op.kind == ir::OpKind::LayerNorm)
              v = builder.CreateFMul(builder.CreateFSub(v, meanV), invV);
            Value *y = builder.CreateFAdd(
                builder.CreateFMul(v, loadD(scaleG, col)), loadD(shiftG, col));
            storeRowVec(math.toFloat(y), outRow, col, mask);
            return std::vector<Value *>{};
          });
}

Function *ModelEmitter::emitRowStage(const ir::Op &op, unsigned opIndex,
                                     const StagePlan &st) {
  bool inPlaceNorm = st.kind == StageKind::RowNorm;
  Task task = beginTask(fmt::format("{}.{}{}", prefix,
                                    inPlaceNorm ? "rownorm" : "rows", opIndex));
  Value *in = task.in, *out = task.out;
  auto [r0, r1] = itemRows(task, st.rowsPerItem);
  emitForEach(r0, r1, c64(1), [&](Value *r) {
    Value *inRow = gepF(in, builder.CreateMul(r, c64(st.srcStride)));
    Value *outRow = gepF(out, builder.CreateMul(r, c64(st.dstStride)));
    emitRowOp(op, opIndex, inRow, outRow, inPlaceNorm);
  });
  return endTask(task);
}

} // namespace seqc::codegen::cpu
