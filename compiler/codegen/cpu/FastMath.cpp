//===- FastMath.cpp - Float activations for --fast-math -------------------===//
//
// Part of seqc. With --fast-math, the activations whose exact routines cost
// a Dense layer the most (sigmoid, tanh, SiLU, GELU, GELU (tanh)) are
// evaluated in float instead of double: no widening, half the vectors, and
// polynomials of lower degree. Each stays within 6 ulps of the exact
// function over the whole float range, 8 without FMA (docs/cpu-backend.md,
// "Numerics"; tests/cpu/CpuActivationTest.cpp enforces the bounds):
//
//  * exponentials take a Cody-Waite reduction and a degree-6 fit of e^r
//    (2.5e-9 relative), and are scaled by 2^64 where the result could be
//    subnormal, so that the final division or product rounds into the
//    subnormal range once instead of flushing to zero;
//  * GELU's exp(-x^2 / 2) takes x^2 as an exact sum hi + lo (Veltkamp's
//    split, no FMA needed), since a rounded x^2 would cost up to 100 ulps at
//    x = -14;
//  * GELU (tanh) computes its argument u and reduces it in double: its
//    rounding error would grow with |u| in the exponential.
//
// Special values are as in the exact routines. The coefficients come from
// tests/cpu/fast_math_fit.py.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cpu/Internal.h"

#include "llvm/IR/Intrinsics.h"

#include <cmath>

using namespace llvm;

namespace seqc::codegen::cpu {

namespace {

/// 1.5 * 2^23: adding it to y / ln2 leaves round(y / ln2) in the low
/// mantissa bits.
constexpr float kShifterF = 12582912.0f;
constexpr int32_t kShifterFBits = 0x4b400000;
/// ln2 = kLn2Hi + kLn2Lo; kLn2Hi has 16 significant bits, so n * kLn2Hi is
/// exact for |n| < 256 even without an FMA.
constexpr float kLn2Hi = 0.693145751953125f;
constexpr float kLn2Lo = 1.42860682e-06f;
constexpr float kTwo64 = 18446744073709551616.0f;
constexpr float kTwoMinus64 = 5.42101086242752217e-20f;

/// e^r on |r| <= ln2 / 2, highest degree first: 2.5e-9 relative.
constexpr double kExpPoly[] = {0.0013941108433972674,
                               0.008375126398153335,
                               0.04166635289677516,
                               0.16666415514653277,
                               0.5000000047117757,
                               1.000000037716214,
                               1.0};
/// (tanh(x) / x - 1) / x^2 in s = x^2 on [0, 0.55^2]: tanh to 3.9e-9.
constexpr double kTanhPoly[] = {-0.006610227831114734, 0.021309388664443474,
                                -0.05390942882746055, 0.1333311372902087,
                                -0.3333333200797698};
constexpr float kTanhSmall = 0.55f;
/// (Phi(x) - 1/2) / x in s = x^2 on [0, 0.7^2]: Phi to 1.3e-9.
constexpr double kPhiPoly[] = {0.00010448889617065372, -0.0011827188265281867,
                               0.009972756860073899, -0.06649033123674072,
                               0.398942279923231};
constexpr float kPhiSmall = 0.7f;
/// erfcx(z) = exp(z^2) erfc(z) in t = (z - 3) / (z + 3) for z in
/// [0.7 / sqrt 2, 9.5]: 5.6e-10 relative.
constexpr double kErfcxPoly[] = {
    6.334712943205455e-05, 3.725868494758498e-05, -0.000598841165361553,
    0.0007095488545410883, 0.004269727362529618,  -0.024392661408152164,
    0.07166577218271805,   -0.1501159320466552,   0.2456038040809191,
    -0.32623356003553355,  0.17900115116767581};
/// Beyond these, the results are 0 (or +-1, or x): the scaled
/// exponentials stay normal floats up to them.
constexpr float kSigmoidTail = 112.0f;
constexpr float kTanhTail = 9.1f;
constexpr float kGeluTail = 14.5f;

FixedVectorType *intLike(Value *x) {
  auto *vt = cast<FixedVectorType>(x->getType());
  return FixedVectorType::get(Type::getInt32Ty(x->getContext()),
                              vt->getNumElements());
}

} // namespace

Value *MathEmitter::expFromReducedF(Value *r, Value *n, int bias) {
  Type *ty = r->getType();
  Value *p = horner(kExpPoly, r);
  // 2^(n + bias) from its exponent bits; the callers keep n + bias + 127 in
  // [1, 254].
  Value *biased =
      b.CreateAdd(n, ConstantInt::getSigned(n->getType(), 127 + bias));
  return b.CreateFMul(p, b.CreateBitCast(b.CreateShl(biased, 23), ty));
}

Value *MathEmitter::expScaledF(Value *y, Value *yLo, int bias) {
  Type *ty = y->getType();
  Value *kd = mulAdd(y, splat(ty, 1.4426950408889634), splat(ty, kShifterF));
  Value *n = b.CreateFSub(kd, splat(ty, kShifterF));
  Value *r = mulAdd(n, splat(ty, -kLn2Hi), y);
  r = mulAdd(n, splat(ty, -kLn2Lo), r);
  if (yLo)
    r = b.CreateFAdd(r, yLo);
  Type *intTy = intLike(y);
  Value *nInt = b.CreateSub(b.CreateBitCast(kd, intTy),
                            ConstantInt::getSigned(intTy, kShifterFBits));
  return expFromReducedF(r, nInt, bias);
}

namespace {

/// m * sigmoid(v) from e64 = exp(-|v|) * 2^64 and the sign of v:
/// m / (1 + e) for v >= 0, m e / (1 + e) below, the latter as
/// (m e64) / (2^64 + e64) so that one division rounds it, subnormal or not.
Value *sigmoidFromScaledExp(IRBuilder<> &b, MathEmitter &m, Value *e64,
                            Value *negative, Value *mul) {
  Type *ty = e64->getType();
  Value *den64 = b.CreateFAdd(e64, m.splat(ty, kTwo64));
  Value *num = b.CreateSelect(negative, b.CreateFMul(mul, e64), mul);
  Value *den = b.CreateSelect(negative, den64,
                              b.CreateFMul(den64, m.splat(ty, kTwoMinus64)));
  return b.CreateFDiv(num, den);
}

Value *signBitSet(IRBuilder<> &b, Value *x) {
  Type *intTy = intLike(x);
  return b.CreateICmpSLT(b.CreateBitCast(x, intTy),
                         Constant::getNullValue(intTy));
}

} // namespace

Value *MathEmitter::mulSigmoidF(Value *v, Value *mul) {
  Type *ty = v->getType();
  Value *a = b.CreateUnaryIntrinsic(Intrinsic::fabs, v);
  // Past the tail e64 is 0 (so -inf gives 0 for the sigmoid and NaN for
  // SiLU, as in PyTorch); NaN passes the clamp and the select.
  Value *e64 =
      expScaledF(b.CreateFNeg(clampHigh(a, kSigmoidTail)), nullptr, 64);
  e64 = b.CreateSelect(b.CreateFCmpOGT(a, splat(ty, kSigmoidTail)),
                       splat(ty, 0.0), e64);
  return sigmoidFromScaledExp(b, *this, e64, signBitSet(b, v), mul);
}

/// tanh(x).
Value *MathEmitter::fastTanh(const ir::Activation &, Value *x) {
  Type *ty = x->getType();
  Value *a = b.CreateUnaryIntrinsic(Intrinsic::fabs, x);
  // |x| < 0.55: a + a^3 P(a^2); beyond, (1 - e) / (1 + e) with e = e^(-2a)
  // in (0, 1/3], so neither side cancels.
  Value *s = b.CreateFMul(a, a);
  Value *small = mulAdd(b.CreateFMul(a, s), horner(kTanhPoly, s), a);
  Value *e = expScaledF(b.CreateFMul(clampHigh(a, kTanhTail), splat(ty, -2.0)),
                        nullptr, 0);
  Value *one = splat(ty, 1.0);
  Value *big = b.CreateFDiv(b.CreateFSub(one, e), b.CreateFAdd(one, e));
  Value *r =
      b.CreateSelect(b.CreateFCmpOLT(a, splat(ty, kTanhSmall)), small, big);
  return b.CreateBinaryIntrinsic(Intrinsic::copysign, r, x);
}

/// x * Phi(x), the exact GELU.
Value *MathEmitter::fastGELU(const ir::Activation &, Value *x) {
  Type *ty = x->getType();
  Value *a = b.CreateUnaryIntrinsic(Intrinsic::fabs, x);
  // |x| < 0.7: x (1/2 + x Q(x^2)).
  Value *q = horner(kPhiPoly, b.CreateFMul(x, x));
  Value *small = b.CreateFMul(x, mulAdd(x, q, splat(ty, 0.5)));
  // Otherwise Phi(-|x|) = exp(-z^2) erfcx(z) / 2, z = |x| / sqrt 2, with
  // z^2 = (hi + lo) / 2 exactly: Veltkamp's split of ac into 12-bit halves
  // makes every partial product exact.
  Value *ac = clampHigh(a, kGeluTail);
  Value *hi = b.CreateFMul(ac, ac);
  Value *c = b.CreateFMul(ac, splat(ty, 4097.0));
  Value *ah = b.CreateFSub(c, b.CreateFSub(c, ac));
  Value *al = b.CreateFSub(ac, ah);
  Value *lo = b.CreateFAdd(
      b.CreateFAdd(b.CreateFSub(b.CreateFMul(ah, ah), hi),
                   b.CreateFMul(b.CreateFMul(ah, al), splat(ty, 2.0))),
      b.CreateFMul(al, al));
  Value *z = b.CreateFMul(ac, splat(ty, ir::kSqrtHalf));
  Value *three = splat(ty, 3.0);
  Value *t = b.CreateFDiv(b.CreateFSub(z, three), b.CreateFAdd(z, three));
  Value *g = horner(kErfcxPoly, t);
  Value *negHalf = splat(ty, -0.5);
  Value *e64 =
      expScaledF(b.CreateFMul(hi, negHalf), b.CreateFMul(lo, negHalf), 64);
  e64 = b.CreateSelect(b.CreateFCmpOGT(a, splat(ty, kGeluTail)), splat(ty, 0.0),
                       e64);
  // lower64 = Phi(-|x|) * 2^64; for x < 0 the result is x * lower64 * 2^-64
  // (one rounding into the subnormals), for x > 0 x (1 - Phi(-x)).
  Value *lower64 = b.CreateFMul(b.CreateFMul(g, splat(ty, 0.5)), e64);
  Value *negTail =
      b.CreateFMul(b.CreateFMul(x, lower64), splat(ty, kTwoMinus64));
  Value *posTail = b.CreateFMul(
      x, b.CreateFSub(splat(ty, 1.0),
                      b.CreateFMul(lower64, splat(ty, kTwoMinus64))));
  Value *tail =
      b.CreateSelect(b.CreateFCmpOLT(x, splat(ty, 0.0)), negTail, posTail);
  return b.CreateSelect(b.CreateFCmpOLT(a, splat(ty, kPhiSmall)), small, tail);
}

/// x * sigmoid(2u), u = kSqrt2OverPi (x + kGeluTanhCubic x^3): GELU (tanh),
/// with u in double, as its error would grow with |u| in the exponential.
Value *MathEmitter::fastGELUTanh(const ir::Activation &, Value *x) {
  // v = 2u in double, reduced there: v = n ln2 + r.
  Value *xd = toDouble(x);
  Type *dty = xd->getType();
  Value *x3 = b.CreateFMul(b.CreateFMul(xd, xd), xd);
  Value *v = b.CreateFMul(
      splat(dty, 2.0 * ir::kSqrt2OverPi),
      b.CreateFAdd(xd, b.CreateFMul(splat(dty, ir::kGeluTanhCubic), x3)));
  Value *av = b.CreateUnaryIntrinsic(Intrinsic::fabs, v);
  Value *ac = clampHigh(av, kSigmoidTail);
  Value *kd = mulAdd(ac, splat(dty, -1.4426950408889634), splat(dty, kShifter));
  Value *n = b.CreateFSub(kd, splat(dty, kShifter));
  Value *r =
      mulAdd(n, splat(dty, -6.93147180559945286227e-01), b.CreateFNeg(ac));
  // The shifter's low 32 mantissa bits are zero, so those of kd hold n.
  auto *vt = cast<FixedVectorType>(dty);
  Type *i64Ty = FixedVectorType::get(b.getInt64Ty(), vt->getNumElements());
  Value *nInt = b.CreateTrunc(b.CreateBitCast(kd, i64Ty), intLike(x));
  Type *ty = x->getType();
  Value *e64 = expFromReducedF(toFloat(r), nInt, 64);
  e64 = b.CreateSelect(b.CreateFCmpOGT(av, splat(dty, kSigmoidTail)),
                       splat(ty, 0.0), e64);
  // u has the sign of x (1 + kGeluTanhCubic x^2 > 0).
  return sigmoidFromScaledExp(b, *this, e64, signBitSet(b, x), x);
}

Value *MathEmitter::fastSigmoid(const ir::Activation &, Value *x) {
  return mulSigmoidF(x, splat(x->getType(), 1.0));
}

Value *MathEmitter::fastSiLU(const ir::Activation &, Value *x) {
  return mulSigmoidF(x, x);
}

} // namespace seqc::codegen::cpu
