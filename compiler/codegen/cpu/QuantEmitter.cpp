//===- QuantEmitter.cpp - int8's dynamic quantisation of layer inputs -----===//
//
// Part of seqc. `--precision int8` quantises each row of a Dense layer's
// input at run time, symmetric, with the row's own scale (PyTorch's dynamic
// quantisation; Precision.h, quantizeRow, is the specification and the
// reference's simulation). Here: that rounding in IR, on one value per row
// (the tiny path, rows in lanes) or on whole rows into the int8 buffer a
// Dense work item multiplies (DensePlan::quantStride).
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cpu/ModelEmitter.h"

#include <limits>

using namespace llvm;

namespace seqc::codegen::cpu {

ModelEmitter::RowQuant ModelEmitter::rowQuant(Value *amax, Value *nonFinite) {
  Type *ty = amax->getType();
  auto c = [&](double v) { return ConstantFP::get(ty, v); };
  Value *zero = c(0.0);
  Value *inv = builder.CreateSelect(builder.CreateFCmpOGT(amax, zero),
                                    builder.CreateFDiv(c(127.0), amax), zero);
  RowQuant rq;
  rq.inv = builder.CreateSelect(nonFinite, zero, inv);
  rq.scale = builder.CreateSelect(nonFinite,
                                  c(std::numeric_limits<double>::quiet_NaN()),
                                  builder.CreateFDiv(amax, c(127.0)));
  return rq;
}

Value *ModelEmitter::quantizeToGrid(Value *x, Value *inv) {
  // Clamping first gives the same integers (the bounds are integers), and
  // within them adding and subtracting 1.5 * 2^23 rounds to nearest even
  // on every target, with no call to a libm rounding function. A zero (or
  // a non-finite row's value) times an infinite (or zero) inv is NaN: 0.
  Type *ty = x->getType();
  Value *y = builder.CreateFMul(x, inv);
  y = math.clampLow(math.clampHigh(y, 127.0), -127.0);
  y = builder.CreateSelect(builder.CreateFCmpUNO(y, y),
                           Constant::getNullValue(ty), y);
  Value *magic = ConstantFP::get(ty, 12582912.0);
  return builder.CreateFSub(builder.CreateFAdd(y, magic), magic);
}

/// Each row in two passes over its floats (in L1 after the first for rows
/// up to a few thousand inputs):
///  1. amax = the largest |x| (a NaN never wins the comparison), and
///     whether any x is NaN or infinite;
///  2. each x quantised to an int8 (quantizeToGrid), a whole vector at a
///     time: the lanes past k are zeros, which is the padding the layout
///     wants; stored as int8, as int16 for pmaddwd (Int8Dot::Pairs), as
///     u8 in [0, 127] for pmaddubsw (UnsignedQuads), or on VNNI as u8 =
///     q + 128 (vpdpbusd multiplies unsigned bytes by signed ones); then
///     the row's scale at quantScaleOffset.
void ModelEmitter::emitQuantizeRows(const DensePlan &pl, Value *src,
                                    uint64_t lda, Value *m0, Value *count,
                                    Value *dst) {
  unsigned vw = cfg.vectorWidth;
  Type *boolVec = FixedVectorType::get(builder.getInt1Ty(), vw);
  Type *byteVec = FixedVectorType::get(builder.getInt8Ty(), vw);
  Type *halfVec = FixedVectorType::get(builder.getInt16Ty(), vw);
  Value *zero = Constant::getNullValue(vecTy);
  Value *inf = ConstantFP::getInfinity(vecTy);
  emitForEach(c64(0), count, c64(1), [&](Value *r) {
    Value *row =
        gepF(src, builder.CreateMul(builder.CreateAdd(m0, r), c64(lda)));
    Value *q = builder.CreateInBoundsGEP(
        builder.getInt8Ty(), dst, builder.CreateMul(r, c64(pl.quantStride)));
    std::vector<Value *> stats = rowLoop(
        pl.k, {zero, Constant::getNullValue(boolVec)},
        [&](Value *col, Value *mask, const std::vector<Value *> &carried) {
          Value *a = builder.CreateUnaryIntrinsic(
              Intrinsic::fabs, loadRowVec(row, col, mask, zero));
          Value *amax = builder.CreateSelect(
              builder.CreateFCmpOGT(a, carried[0]), a, carried[0]);
          Value *bad =
              builder.CreateOr(carried[1], builder.CreateFCmpUGE(a, inf));
          return std::vector<Value *>{amax, bad};
        });
    RowQuant rq = rowQuant(builder.CreateFPMaxReduce(stats[0]),
                           builder.CreateOrReduce(stats[1]));
    Value *inv = builder.CreateVectorSplat(vw, rq.inv);
    rowLoop(
        pl.k, {}, [&](Value *col, Value *mask, const std::vector<Value *> &) {
          Value *x = loadRowVec(row, col, mask, zero);
          Value *q8 = quantizeToGrid(x, inv);
          // Non-negative inputs quantise to [0, 127]: the clamp changes
          // nothing but a -0 (or what inputNeverNegative got wrong).
          if (pl.int8Dot == Int8Dot::UnsignedQuads)
            q8 = math.clampLow(q8, 0.0);
          Value *v =
              pl.int8Dot == Int8Dot::Quads
                  ? builder.CreateFPToUI(
                        builder.CreateFAdd(q8, ConstantFP::get(vecTy, 128.0)),
                        byteVec)
              : pl.int8Dot == Int8Dot::Pairs ? builder.CreateFPToSI(q8, halfVec)
              : pl.int8Dot == Int8Dot::UnsignedQuads
                  ? builder.CreateFPToUI(q8, byteVec)
                  : builder.CreateFPToSI(q8, byteVec);
          builder.CreateAlignedStore(
              v,
              builder.CreateInBoundsGEP(
                  builder.getInt8Ty(), q,
                  builder.CreateMul(col, c64(int8InputBytes(pl.int8Dot)))),
              Align(1));
          return std::vector<Value *>{};
        });
    builder.CreateAlignedStore(
        rq.scale,
        builder.CreateInBoundsGEP(builder.getInt8Ty(), q,
                                  c64(pl.quantScaleOffset)),
        Align(4));
  });
}

} // namespace seqc::codegen::cpu
