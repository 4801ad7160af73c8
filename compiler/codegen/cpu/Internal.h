//===- Internal.h - Shared internals of the LLVM CPU backend ----*- C++ -*-===//
//
// Part of seqc. Private to compiler/codegen/cpu: the vector math emitter,
// kernel shapes and Dense blocking, the model emitter's entry point and the
// multiversioning dispatch.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_CODEGEN_CPU_INTERNAL_H
#define SEQC_CODEGEN_CPU_INTERNAL_H

#include "compiler/codegen/cpu/CpuBackend.h"
#include "compiler/codegen/cpu/Plan.h"
#include "compiler/codegen/cpu/WeightsBlob.h"
#include "compiler/ir/IR.h"

#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/MemoryBufferRef.h"
#include "llvm/Target/TargetMachine.h"

#include <memory>
#include <string>

namespace seqc::codegen::cpu {

/// Picks \p IfFast for the Activations.def entries whose CpuMath is FAST
/// (they have a MathEmitter::fast<Kind> routine), else \p Otherwise.
#define SEQC_IF_FAST_FAST(IfFast, Otherwise) IfFast
#define SEQC_IF_FAST_DOUBLE(IfFast, Otherwise) Otherwise
#define SEQC_IF_FAST_CHEAP(IfFast, Otherwise) Otherwise

/// Emits element-wise math on vectors of any width (`<N x float>`), the
/// transcendental parts evaluated in double precision so every activation is
/// within one ulp of the exact result (see docs/cpu-backend.md). With
/// \p fastMath, the activations Activations.def marks FAST are evaluated in
/// float instead, to within 6 ulps, 8 without FMA (FastMath.cpp).
class MathEmitter {
public:
  explicit MathEmitter(llvm::IRBuilder<> &builder, bool fastMath = false)
      : b(builder), fast(fastMath) {}

  /// Applies \p act to a `<N x float>` value: its exact<Kind> routine, or
  /// with fastMath its fast<Kind> one where it has one.
  llvm::Value *activation(const ir::Activation &act, llvm::Value *x);
  /// Whether \p kind is a few float instructions (CHEAP in Activations.def),
  /// rather than double-precision math that needs registers of its own.
  static bool isCheap(ir::ActKind kind) {
    return ir::activationInfo(kind).cpuMath == ir::CpuMath::Cheap;
  }

  // Double-precision building blocks on `<N x double>` values.
  /// exp(y); sets \p expm1Out (if given) to expm1(y). Exact to ~1e-13.
  llvm::Value *expD(llvm::Value *y, llvm::Value **expm1Out = nullptr);
  /// log(z) for positive normal z (NaN passes through).
  llvm::Value *logD(llvm::Value *z);
  /// log1p(e) for e in [0, 1] (NaN passes through).
  llvm::Value *log1pSmallD(llvm::Value *e);
  /// exp(-a) for a in [0, 700] (NaN passes through): the cheaper exp the
  /// sigmoid needs, to 6e-11 relative, far below a float's half ulp.
  llvm::Value *expNegD(llvm::Value *a);
  /// expm1(-a) for a in [0, 40] (NaN passes through): the tanh's, to 1e-11
  /// relative.
  llvm::Value *expm1NegD(llvm::Value *a);
  /// 1 / (1 + exp(-x)). With \p zeroTail, exactly 0 below x = -700, so that
  /// x * sigmoid(x) is NaN at -inf as in PyTorch (else about 1e-304).
  llvm::Value *sigmoidD(llvm::Value *x, bool zeroTail = false);
  /// tanh(x).
  llvm::Value *tanhD(llvm::Value *x);
  /// Phi(x), the standard normal CDF, with full relative accuracy in the
  /// lower tail.
  llvm::Value *normalCdfD(llvm::Value *x);
  /// log(1 + exp(x)) without overflow.
  llvm::Value *softplusD(llvm::Value *x);
  /// min(max(x + 3, 0), 6), NaN propagating: Hardsigmoid's and Hardswish's.
  llvm::Value *clamp6D(llvm::Value *x);

  llvm::Value *splat(llvm::Type *vecTy, double v);
  /// Widens `<N x float>` to `<N x double>` and back.
  llvm::Value *toDouble(llvm::Value *x);
  llvm::Value *toFloat(llvm::Value *x);
  /// c[0] x^d + ... + c[d] by Horner's rule (a multiply-add per step).
  llvm::Value *horner(llvm::ArrayRef<double> c, llvm::Value *x);
  /// a * b + c, fused when the target has FMA.
  llvm::Value *mulAdd(llvm::Value *a, llvm::Value *bv, llvm::Value *c);
  /// select(x < lo, lo, x) etc.: NaN-preserving clamps.
  llvm::Value *clampLow(llvm::Value *x, double lo);
  llvm::Value *clampHigh(llvm::Value *x, double hi);

private:
  /// Adding this 1.5 * 2^52 shifter to y / ln2 rounds it to an integer n
  /// held in the low mantissa bits, with no float-to-int conversion.
  static constexpr double kShifter = 6755399441055744.0;
  /// 2^n from kd = n + kShifter, for -1022 <= n <= 1023.
  llvm::Value *pow2FromShifted(llvm::Value *kd);

  // One routine per activation (Activations.def) on `<N x float>` values:
  // exact<Kind> for every entry (MathEmitter.cpp), and fast<Kind> for the
  // FAST ones, in float to within 6 ulps, 8 without FMA (FastMath.cpp).
#define ACTIVATION(Kind, CpuMath, ...)                                         \
  llvm::Value *exact##Kind(const ir::Activation &act, llvm::Value *x);         \
  SEQC_IF_FAST_##CpuMath(                                                      \
      llvm::Value *fast##Kind(const ir::Activation &act, llvm::Value *x);, )
#include "compiler/ir/Activations.def"

  /// m * sigmoid(v) in float: \p m is 1 for the sigmoid, x for SiLU
  /// (FastMath.cpp).
  llvm::Value *mulSigmoidF(llvm::Value *v, llvm::Value *m);
  /// e^(y + yLo) * 2^bias in float for y in [-112, 0] and |yLo| tiny
  /// (FastMath.cpp).
  llvm::Value *expScaledF(llvm::Value *y, llvm::Value *yLo, int bias);
  /// e^r * 2^(n + bias) from r (float, |r| <= ln2 / 2) and the integer n
  /// (`<N x i32>`), with n + bias + 127 in [1, 254].
  llvm::Value *expFromReducedF(llvm::Value *r, llvm::Value *n, int bias);

  llvm::IRBuilder<> &b;
  bool fast;
};

/// Derives the kernel shape from the target machine.
KernelConfig kernelConfigFor(const llvm::TargetMachine &tm);

/// Adds the code for \p model to \p mod with symbols `PREFIX_run`,
/// `PREFIX_run_parallel`, `PREFIX_scratch_bytes`; external when
/// \p exportSymbols, else internal (the variants of a multiversioned object).
/// With \p profile, PREFIX_run_parallel also calls the hook in the globals
/// `PREFIX_profile_hook`/`PREFIX_profile_user` (CpuTargetOptions::profile).
/// Returns the stages PREFIX_run goes through, in order.
/// With \p blob (external weights), every parameter array goes to the blob
/// instead of the module, the entry points take the weights pointer first,
/// and `PREFIX_check_weights` is added; the backend seals the blob and
/// defines the globals kWeightsFingerprintGlobal and kWeightsBytesGlobal
/// once every variant is emitted.
std::vector<StageInfo> emitModel(llvm::Module &mod, const ir::Model &model,
                                 const std::string &prefix,
                                 const KernelConfig &config, bool exportSymbols,
                                 bool profile = false,
                                 WeightsBlob *blob = nullptr);

/// External weights: module globals (i64) holding the fingerprint and the
/// size of the weights blob the code expects; the entry points' checks read
/// them, the backend defines them once the blob is sealed.
inline constexpr const char *kWeightsFingerprintGlobal =
    "seqc.weights.fingerprint";
inline constexpr const char *kWeightsBytesGlobal = "seqc.weights.bytes";

/// Re-initialises the module's local constant arrays (weights, biases) as
/// byte arrays of the same contents, which the AsmPrinter emits in one piece
/// instead of element by element. For objects and the JIT only (assembly
/// text keeps the floats), after optimisation; a no-op when the target's
/// byte order is not the host's.
void rawConstantInitializers(llvm::Module &mod);

/// Sets \p out's codeBytes and weightsBytes from the sections of
/// \p object (Footprint.cpp). Returns false and sets \p error when it is
/// not an object LLVM can read.
bool measureObject(llvm::MemoryBufferRef object, Footprint &out,
                   std::string &error);

/// Sets \p out's stack bounds from the call graph of \p mod (after code
/// generation) and \p stackUsage, the frame sizes the code generator wrote
/// for it (TargetOptions::StackUsageOutput; Footprint.cpp). \p vectorBytes
/// is the widest vector register of any of the module's targets (their
/// spill slots' alignment).
void boundStack(const llvm::Module &mod, const std::string &prefix,
                llvm::StringRef stackUsage, uint64_t vectorBytes,
                Footprint &out);

/// One ISA variant of a multiversioned x86-64 object.
struct CpuVariant {
  /// Prefix of its internal symbols.
  std::string symbolPrefix;
  /// LLVM feature names (`avx2`, `avx512f`, ...) checked with CPUID.
  std::vector<std::string> features;
};

/// The x86 features a CPUID-based dispatcher can check.
const std::vector<std::string> &dispatchableX86Features();

/// Emits the exported entry points of a multiversioned object: GNU ifuncs
/// whose resolver picks the last variant the CPU supports (CPUID/XGETBV),
/// or a stub returning kRunUnsupportedCpu.
/// With \p externalWeights the entry points take the weights first and
/// `PREFIX_check_weights` is forwarded too.
void emitCpuDispatch(llvm::Module &mod, const std::string &prefix,
                     const std::vector<CpuVariant> &variants,
                     bool externalWeights);

} // namespace seqc::codegen::cpu

#endif // SEQC_CODEGEN_CPU_INTERNAL_H
