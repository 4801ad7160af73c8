//===- MathEmitter.cpp - Exact vector activations in LLVM IR --------------===//
//
// Part of seqc. Every transcendental function is evaluated in double
// precision with polynomials accurate to about 1e-12 relative and rounded to
// float once, so each activation is within one ulp of the exact value over
// the whole float range. No libm: only IR arithmetic, bit manipulation,
// llvm.fmuladd, llvm.sqrt and llvm.copysign, which lower to instructions.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cpu/Internal.h"

#include "llvm/IR/Intrinsics.h"

#include <cmath>

using namespace llvm;

namespace seqc::codegen::cpu {

namespace {

/// erfcx(z) = exp(z^2) erfc(z) as a polynomial in t = (z - 3) / (z + 3)
/// for z in [0, 26] (t in [-1, 0.793]), highest degree first: a degree-16
/// Chebyshev fit (tests/cpu/erfcx_fit.py), 5.3e-13 relative with Horner's
/// rule in double. (It replaced an 18-term Chebyshev series on [0, inf)
/// summed by Clenshaw's recurrence: 16 multiply-adds instead of 54 ops.)
constexpr double kErfcxPoly[] = {
    -1.3202821823495105e-07, -2.1287326996912203e-07, 1.1343845440504636e-06,
    2.024563805320289e-06,   -7.896448129844277e-06,  -1.2800237807489166e-05,
    6.402072151900828e-05,   4.523350979052822e-05,   -0.0005970519943872759,
    0.0007077509006812406,   0.004269134677401562,    -0.024392499797061373,
    0.07166583734286153,     -0.15011593647846302,    0.2456038017072773,
    -0.32623356004332055,    0.1790011511814196,
};
/// Past z = 26 (|x| > 36.8), Phi(-|x|) < 1e-294: 0 in float, even times x.
constexpr double kErfcxZMax = 26.0;
constexpr double kErfcxScale = 3.0;

Type *doubleLike(Value *x) {
  auto *vt = cast<FixedVectorType>(x->getType());
  return FixedVectorType::get(Type::getDoubleTy(x->getContext()),
                              vt->getNumElements());
}

} // namespace

Value *MathEmitter::splat(Type *vecTy, double v) {
  return ConstantFP::get(vecTy, v);
}

Value *MathEmitter::toDouble(Value *x) {
  return b.CreateFPExt(x, doubleLike(x));
}

Value *MathEmitter::toFloat(Value *x) {
  auto *vt = cast<FixedVectorType>(x->getType());
  return b.CreateFPTrunc(
      x, FixedVectorType::get(b.getFloatTy(), vt->getNumElements()));
}

Value *MathEmitter::mulAdd(Value *a, Value *bv, Value *c) {
  return b.CreateIntrinsic(Intrinsic::fmuladd, {a->getType()}, {a, bv, c});
}

Value *MathEmitter::horner(ArrayRef<double> c, Value *x) {
  Value *p = splat(x->getType(), c[0]);
  for (size_t i = 1; i < c.size(); ++i)
    p = mulAdd(p, x, splat(x->getType(), c[i]));
  return p;
}

Value *MathEmitter::clampLow(Value *x, double lo) {
  Value *l = splat(x->getType(), lo);
  return b.CreateSelect(b.CreateFCmpOLT(x, l), l, x);
}

Value *MathEmitter::clampHigh(Value *x, double hi) {
  Value *h = splat(x->getType(), hi);
  return b.CreateSelect(b.CreateFCmpOGT(x, h), h, x);
}

Value *MathEmitter::pow2FromShifted(Value *kd) {
  auto *vt = cast<FixedVectorType>(kd->getType());
  Type *intTy = FixedVectorType::get(b.getInt64Ty(), vt->getNumElements());
  Value *bits = b.CreateBitCast(kd, intTy);
  Value *scaleBits =
      b.CreateShl(b.CreateAdd(bits, ConstantInt::get(intTy, 1023)), 52);
  return b.CreateBitCast(scaleBits, kd->getType());
}

Value *MathEmitter::expD(Value *y, Value **expm1Out) {
  Type *ty = y->getType();
  // Clamp so 2^n stays a normal double; the ends are patched below. The
  // selects keep NaN.
  Value *yc = clampHigh(clampLow(y, -700.0), 700.0);
  // n = round(y / ln2) through the 1.5 * 2^52 shifter: its low mantissa bits
  // then hold n, so no float-to-int conversion (poison on NaN) is needed.
  Value *kd = b.CreateFAdd(b.CreateFMul(yc, splat(ty, 1.4426950408889634)),
                           splat(ty, kShifter));
  Value *n = b.CreateFSub(kd, splat(ty, kShifter));
  // r = y - n ln2 in two steps (Cody-Waite); |r| <= ln2 / 2.
  Value *r = mulAdd(n, splat(ty, -6.93147180369123816490e-01), yc);
  r = mulAdd(n, splat(ty, -1.90821492927058770002e-10), r);
  // p = expm1(r), Taylor to degree 11: error below 2e-14 relative.
  Value *q = horner({1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0,
                     1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0,
                     1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0},
                    r);
  Value *p = b.CreateFMul(q, r);
  Value *scale = pow2FromShifted(kd);
  Value *e = mulAdd(scale, p, scale);
  Value *tooSmall = b.CreateFCmpOLT(y, splat(ty, -700.0));
  Value *tooLarge = b.CreateFCmpOGT(y, splat(ty, 700.0));
  Value *inf = splat(ty, INFINITY);
  if (expm1Out) {
    Value *em1 = b.CreateSelect(b.CreateFCmpOEQ(n, splat(ty, 0.0)), p,
                                b.CreateFSub(e, splat(ty, 1.0)));
    em1 = b.CreateSelect(tooSmall, splat(ty, -1.0), em1);
    *expm1Out = b.CreateSelect(tooLarge, inf, em1);
  }
  e = b.CreateSelect(tooSmall, splat(ty, 0.0), e);
  return b.CreateSelect(tooLarge, inf, e);
}

Value *MathEmitter::logD(Value *z) {
  Type *ty = z->getType();
  auto *vt = cast<FixedVectorType>(ty);
  Type *intTy = FixedVectorType::get(b.getInt64Ty(), vt->getNumElements());
  // z = 2^k m with m in [sqrt(1/2), sqrt(2)).
  Value *bits = b.CreateBitCast(z, intTy);
  Value *t = b.CreateSub(bits, ConstantInt::get(intTy, 0x3fe6a09e667f3bcdULL));
  Value *k = b.CreateAShr(t, 52);
  Value *m = b.CreateBitCast(b.CreateSub(bits, b.CreateShl(k, 52)), ty);
  Value *f = b.CreateFSub(m, splat(ty, 1.0));
  // log(m) = 2 atanh(s), s = f / (2 + f), |s| <= 0.1716.
  Value *s = b.CreateFDiv(f, b.CreateFAdd(f, splat(ty, 2.0)));
  Value *s2 = b.CreateFMul(s, s);
  Value *q = horner({1.0 / 15.0, 1.0 / 13.0, 1.0 / 11.0, 1.0 / 9.0, 1.0 / 7.0,
                     1.0 / 5.0, 1.0 / 3.0, 1.0},
                    s2);
  Value *logm = b.CreateFMul(b.CreateFMul(s, splat(ty, 2.0)), q);
  Value *kd = b.CreateSIToFP(k, ty);
  Value *result = mulAdd(kd, splat(ty, 6.93147180559945286227e-01), logm);
  Value *isNan = b.CreateFCmpUNO(z, z);
  return b.CreateSelect(isNan, z, result);
}

Value *MathEmitter::log1pSmallD(Value *e) {
  Type *ty = e->getType();
  // Series for tiny e (error e^5/5), log(1 + e) otherwise.
  Value *series =
      mulAdd(b.CreateFMul(e, e),
             mulAdd(e, mulAdd(e, splat(ty, -0.25), splat(ty, 1.0 / 3.0)),
                    splat(ty, -0.5)),
             e);
  Value *viaLog = logD(b.CreateFAdd(e, splat(ty, 1.0)));
  return b.CreateSelect(b.CreateFCmpOLT(e, splat(ty, 1e-4)), series, viaLog);
}

Value *MathEmitter::expNegD(Value *a) {
  Type *ty = a->getType();
  // As expD, for y = -a in [-700, 0]: 2^n stays a normal double, so no end
  // needs patching, and one Cody-Waite step suffices (n ln2 with |n| <= 1010
  // is off by under 4e-14). e^r on |r| <= ln2 / 2 is a degree-7 Chebyshev
  // fit (tests/cpu/exp_fit.py): 5.6e-11 relative, 0.001 of a float ulp.
  Value *kd = mulAdd(a, splat(ty, -1.4426950408889634), splat(ty, kShifter));
  Value *n = b.CreateFSub(kd, splat(ty, kShifter));
  Value *r = mulAdd(n, splat(ty, -6.93147180559945286227e-01), b.CreateFNeg(a));
  Value *p =
      horner({0.00019907569310848288, 0.0013948578326459795,
              0.008333283538708528, 0.041666218319291945, 0.16666666786308587,
              0.5000000107729166, 0.999999999995509, 0.9999999999595618},
             r);
  return b.CreateFMul(p, pow2FromShifted(kd));
}

Value *MathEmitter::sigmoidD(Value *x, bool zeroTail) {
  Type *ty = x->getType();
  auto *vt = cast<FixedVectorType>(ty);
  Type *intTy = FixedVectorType::get(b.getInt64Ty(), vt->getNumElements());
  // sigmoid(x) = num / (1 + e) with e = exp(-|x|) and num = 1 for x >= 0,
  // else e: one division, one result to round. num picks on the sign bit,
  // which x86 blends on directly (-0 gives e = 1, the same 1/2). Beyond
  // |x| = 700, e is exp(-700) ~ 1e-304: 1 + e rounds to 1, and the result 0
  // in float.
  Value *ax = b.CreateUnaryIntrinsic(Intrinsic::fabs, x);
  Value *e = expNegD(clampHigh(ax, 700.0));
  Value *negative =
      b.CreateICmpSLT(b.CreateBitCast(x, intTy), Constant::getNullValue(intTy));
  Value *tail = e;
  if (zeroTail)
    tail = b.CreateSelect(b.CreateFCmpOGT(ax, splat(ty, 700.0)), splat(ty, 0.0),
                          e);
  Value *num = b.CreateSelect(negative, tail, splat(ty, 1.0));
  return b.CreateFDiv(num, b.CreateFAdd(e, splat(ty, 1.0)));
}

Value *MathEmitter::expm1NegD(Value *a) {
  Type *ty = a->getType();
  // y = -a = n ln2 + r, |r| <= ln2 / 2; one Cody-Waite step (|n| <= 58:
  // n ln2 is off by under 2e-15). expm1(r) = r + r^2 Q(r) keeps full
  // relative accuracy near 0, Q a degree-6 Chebyshev fit
  // (tests/cpu/exp_fit.py): 1e-11 relative. Then expm1(y) = 2^n expm1(r) +
  // (2^n - 1), exact for n = 0 and without cancellation otherwise.
  Value *kd = mulAdd(a, splat(ty, -1.4426950408889634), splat(ty, kShifter));
  Value *n = b.CreateFSub(kd, splat(ty, kShifter));
  Value *r = mulAdd(n, splat(ty, -6.93147180559945286227e-01), b.CreateFNeg(a));
  Value *q = horner({2.4859578222625295e-05, 0.0001989927395864936,
                     0.001388885404961482, 0.008333298483754886,
                     0.041666666718980845, 0.16666666718997508, 0.5},
                    r);
  Value *p = mulAdd(b.CreateFMul(r, r), q, r);
  Value *scale = pow2FromShifted(kd);
  return mulAdd(scale, p, b.CreateFSub(scale, splat(ty, 1.0)));
}

Value *MathEmitter::tanhD(Value *x) {
  Type *ty = x->getType();
  // Past |x| = 20 tanh is 1 - 8e-18: 1 in float. NaN passes the clamp.
  Value *ax = clampHigh(b.CreateUnaryIntrinsic(Intrinsic::fabs, x), 20.0);
  Value *em1 = expm1NegD(b.CreateFMul(ax, splat(ty, 2.0)));
  // tanh|x| = -expm1(-2|x|) / (expm1(-2|x|) + 2)
  Value *r = b.CreateFDiv(b.CreateFNeg(em1), b.CreateFAdd(em1, splat(ty, 2.0)));
  return b.CreateBinaryIntrinsic(Intrinsic::copysign, r, x);
}

Value *MathEmitter::normalCdfD(Value *x) {
  Type *ty = x->getType();
  // Phi(-|x|) = erfc(z) / 2 with z = |x| / sqrt(2) = exp(-z^2) erfcx(z) / 2.
  Value *z = b.CreateFMul(b.CreateUnaryIntrinsic(Intrinsic::fabs, x),
                          splat(ty, ir::kSqrtHalf));
  Value *zc = clampHigh(z, kErfcxZMax);
  Value *t = b.CreateFDiv(b.CreateFSub(zc, splat(ty, kErfcxScale)),
                          b.CreateFAdd(zc, splat(ty, kErfcxScale)));
  Value *g = horner(kErfcxPoly, t);
  // zc^2 <= 676 is in expNegD's range; beyond kErfcxZMax the tail is 0, so
  // that x = -inf gives NaN (-inf * 0) as in PyTorch.
  Value *ez = expNegD(b.CreateFMul(zc, zc));
  Value *lower = b.CreateFMul(b.CreateFMul(ez, g), splat(ty, 0.5));
  lower = b.CreateSelect(b.CreateFCmpOGT(z, splat(ty, kErfcxZMax)),
                         splat(ty, 0.0), lower);
  return b.CreateSelect(b.CreateFCmpOLT(x, splat(ty, 0.0)), lower,
                        b.CreateFSub(splat(ty, 1.0), lower));
}

Value *MathEmitter::softplusD(Value *x) {
  Type *ty = x->getType();
  // max(x, 0) + log1p(exp(-|x|))
  Value *pos =
      b.CreateSelect(b.CreateFCmpOGT(x, splat(ty, 0.0)), x, splat(ty, 0.0));
  Value *e = expD(b.CreateFNeg(b.CreateUnaryIntrinsic(Intrinsic::fabs, x)));
  return b.CreateFAdd(pos, log1pSmallD(e));
}

Value *MathEmitter::activation(const ir::Activation &act, Value *x) {
  using Routine = Value *(MathEmitter::*)(const ir::Activation &, Value *);
  // Each activation's routines, in ActKind order.
  static constexpr Routine kExact[] = {
#define ACTIVATION(Kind, ...) &MathEmitter::exact##Kind,
#include "compiler/ir/Activations.def"
  };
  static constexpr Routine kFast[] = {
#define ACTIVATION(Kind, CpuMath, ...)                                         \
  SEQC_IF_FAST_##CpuMath(&MathEmitter::fast##Kind, nullptr),
#include "compiler/ir/Activations.def"
  };
  size_t index = static_cast<size_t>(act.kind);
  Routine routine = fast && kFast[index] ? kFast[index] : kExact[index];
  return (this->*routine)(act, x);
}

Value *MathEmitter::exactNone(const ir::Activation &, Value *x) { return x; }

Value *MathEmitter::exactReLU(const ir::Activation &, Value *x) {
  // x <= 0 ? +0 : x, so NaN stays NaN and -0 becomes +0.
  Value *zero = splat(x->getType(), 0.0);
  return b.CreateSelect(b.CreateFCmpOLE(x, zero), zero, x);
}

Value *MathEmitter::exactSigmoid(const ir::Activation &, Value *x) {
  return toFloat(sigmoidD(toDouble(x)));
}

Value *MathEmitter::exactTanh(const ir::Activation &, Value *x) {
  return toFloat(tanhD(toDouble(x)));
}

Value *MathEmitter::exactGELU(const ir::Activation &, Value *x) {
  Value *xd = toDouble(x);
  return toFloat(b.CreateFMul(xd, normalCdfD(xd)));
}

Value *MathEmitter::exactGELUTanh(const ir::Activation &, Value *x) {
  // 0.5 x (1 + tanh(u)) = x sigmoid(2u), u = kSqrt2OverPi (x + kGeluTanhCubic
  // x^3).
  Value *xd = toDouble(x);
  Type *ty = xd->getType();
  Value *x3 = b.CreateFMul(b.CreateFMul(xd, xd), xd);
  Value *u = b.CreateFMul(
      splat(ty, ir::kSqrt2OverPi),
      b.CreateFAdd(xd, b.CreateFMul(splat(ty, ir::kGeluTanhCubic), x3)));
  return toFloat(
      b.CreateFMul(xd, sigmoidD(b.CreateFMul(u, splat(ty, 2.0)), true)));
}

Value *MathEmitter::exactSiLU(const ir::Activation &, Value *x) {
  Value *xd = toDouble(x);
  return toFloat(b.CreateFMul(xd, sigmoidD(xd, true)));
}

Value *MathEmitter::exactLeakyReLU(const ir::Activation &act, Value *x) {
  Value *xd = toDouble(x);
  Value *neg = toFloat(b.CreateFMul(xd, splat(xd->getType(), act.alpha)));
  return b.CreateSelect(b.CreateFCmpOGT(x, splat(x->getType(), 0.0)), x, neg);
}

Value *MathEmitter::exactELU(const ir::Activation &act, Value *x) {
  Value *xd = toDouble(x);
  Value *em1 = nullptr;
  expD(xd, &em1);
  Value *neg = toFloat(b.CreateFMul(splat(xd->getType(), act.alpha), em1));
  return b.CreateSelect(b.CreateFCmpOGT(x, splat(x->getType(), 0.0)), x, neg);
}

Value *MathEmitter::exactSoftplus(const ir::Activation &act, Value *x) {
  Value *xd = toDouble(x);
  Type *ty = xd->getType();
  Value *bx = b.CreateFMul(xd, splat(ty, act.beta));
  Value *sp = b.CreateFDiv(softplusD(bx), splat(ty, act.beta));
  Value *big = b.CreateFCmpOGT(bx, splat(ty, act.alpha));
  return b.CreateSelect(big, x, toFloat(sp));
}

Value *MathEmitter::exactHardtanh(const ir::Activation &act, Value *x) {
  Type *ty = x->getType();
  Value *lo = splat(ty, static_cast<float>(act.alpha));
  Value *hi = splat(ty, static_cast<float>(act.beta));
  Value *r = b.CreateSelect(b.CreateFCmpOGT(x, hi), hi, x);
  return b.CreateSelect(b.CreateFCmpOLT(x, lo), lo, r);
}

Value *MathEmitter::clamp6D(Value *xd) {
  // Mirrors min(max(x + 3, 0), 6) in double, NaN propagating.
  Type *ty = xd->getType();
  Value *a = b.CreateFAdd(xd, splat(ty, 3.0));
  a = b.CreateSelect(b.CreateFCmpOLT(a, splat(ty, 0.0)), splat(ty, 0.0), a);
  return b.CreateSelect(b.CreateFCmpOLT(splat(ty, 6.0), a), splat(ty, 6.0), a);
}

Value *MathEmitter::exactHardsigmoid(const ir::Activation &, Value *x) {
  Value *xd = toDouble(x);
  return toFloat(b.CreateFDiv(clamp6D(xd), splat(xd->getType(), 6.0)));
}

Value *MathEmitter::exactHardswish(const ir::Activation &, Value *x) {
  Value *xd = toDouble(x);
  Value *a = b.CreateFMul(xd, clamp6D(xd));
  return toFloat(b.CreateFDiv(a, splat(xd->getType(), 6.0)));
}

Value *MathEmitter::exactMish(const ir::Activation &, Value *x) {
  Value *xd = toDouble(x);
  return toFloat(b.CreateFMul(xd, tanhD(softplusD(xd))));
}

Value *MathEmitter::exactSoftsign(const ir::Activation &, Value *x) {
  // In double the quotient is within 2^-52 relative (1 + |x| is even exact
  // for 2^-29 <= |x| <= 2^52), so its one rounding to float is within 1 ulp
  // (correctly rounded in practice).
  Value *xd = toDouble(x);
  Value *ax = b.CreateUnaryIntrinsic(Intrinsic::fabs, xd);
  return toFloat(b.CreateFDiv(xd, b.CreateFAdd(ax, splat(xd->getType(), 1.0))));
}

} // namespace seqc::codegen::cpu
