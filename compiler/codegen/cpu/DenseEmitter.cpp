//===- DenseEmitter.cpp - Dense layers as packed GEMMs --------------------===//
//
// Part of seqc. Dense layers: weights packed into panels at compile time
// (WeightPacking.h), register-blocked SIMD microkernels with the bias and
// activation applied before the store, wide single-row kernels for batch 1,
// and the stage that walks row blocks, k blocks and panel groups
// (docs/cpu-backend.md).
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cpu/ModelEmitter.h"

#include "llvm/IR/IntrinsicsX86.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>

using namespace llvm;

namespace seqc::codegen::cpu {

namespace {

/// A cache line, in bytes and floats.
constexpr uint64_t kLineBytes = 64;
constexpr uint64_t kLineFloats = kLineBytes / 4;

/// What the microkernel's arguments are, by position; the table below
/// gives each its type and whether it is marked noalias (the tile's rows,
/// weights, output and bias do not overlap each other).
enum UkrArg : unsigned {
  kUkrA,              ///< row 0 of the tile's input, at the k block
  kUkrLda,            ///< the input's row stride (floats)
  kUkrPanels,         ///< the first panel's micro-panel of packed weights
  kUkrC,              ///< row 0 of the tile's output, at the first panel
  kUkrLdc,            ///< the output's row stride (floats)
  kUkrKc,             ///< k-steps in the block
  kUkrFlags,          ///< KBlockFlag bits
  kUkrBias,           ///< the first panel's padded bias (null: none)
  kUkrValidColumns,   ///< outputs from the first panel's on
  kUkrPrefetch,       ///< the byte k-step 0 prefetches (streaming weights)
  kUkrPrefetchStride, ///< bytes between the prefetches of two k-steps
  kUkrNextC,          ///< the output tile of the next call
  kUkrAheadRows,      ///< row 0 of a tile further on (cold sources)
  kUkrArgCount,
};
enum class UkrArgType { Ptr, I64, I32 };
struct UkrArgInfo {
  UkrArgType type;
  bool noAlias;
};
constexpr UkrArgInfo kUkrArgs[kUkrArgCount] = {
    {UkrArgType::Ptr, true},  // kUkrA
    {UkrArgType::I64, false}, // kUkrLda
    {UkrArgType::Ptr, true},  // kUkrPanels
    {UkrArgType::Ptr, true},  // kUkrC
    {UkrArgType::I64, false}, // kUkrLdc
    {UkrArgType::I64, false}, // kUkrKc
    {UkrArgType::I32, false}, // kUkrFlags
    {UkrArgType::Ptr, true},  // kUkrBias
    {UkrArgType::I64, false}, // kUkrValidColumns
    {UkrArgType::Ptr, false}, // kUkrPrefetch
    {UkrArgType::I64, false}, // kUkrPrefetchStride
    {UkrArgType::Ptr, false}, // kUkrNextC
    {UkrArgType::Ptr, false}, // kUkrAheadRows
};

/// The microkernel's k-block flags: the first block starts from zero
/// instead of the output's partial sums; the last adds the bias and
/// applies the activation.
enum KBlockFlag : unsigned { kFirstK = 1u << 0, kLastK = 1u << 1 };
static_assert(kFirstK == 1, "the first block's flag is its zero-extended bit");

} // namespace

Type *ModelEmitter::weightTy() {
  switch (weightElement(cfg.precision)) {
  case ElementType::BF16:
  case ElementType::F16:
    return builder.getInt16Ty();
  case ElementType::I8:
    return builder.getInt8Ty();
  case ElementType::F32:
    break;
  }
  return f32;
}

unsigned ModelEmitter::weightBytes() const {
  return elementBytes(weightElement(cfg.precision));
}

Value *ModelEmitter::gepW(Value *base, Value *index) {
  return builder.CreateInBoundsGEP(weightTy(), base, index);
}

Value *ModelEmitter::loadWeightVec(Value *ptr, Align align) {
  // bf16 is the top half of a float; int8 converts exactly.
  unsigned vw = cfg.vectorWidth;
  ElementType element = weightElement(cfg.precision);
  if (element == ElementType::F32)
    return builder.CreateAlignedLoad(vecTy, ptr, align);
  Value *raw = builder.CreateAlignedLoad(FixedVectorType::get(weightTy(), vw),
                                         ptr, align);
  // int8 multiplies them as integers.
  if (element == ElementType::I8 && cfg.precision == Precision::Int8)
    return builder.CreateSExt(raw, FixedVectorType::get(i32, vw));
  if (element == ElementType::I8)
    return builder.CreateSIToFP(raw, vecTy);
  assert(element == ElementType::BF16 && "f16 weights are CUDA's");
  Value *wide = builder.CreateZExt(raw, FixedVectorType::get(i32, vw));
  return builder.CreateBitCast(
      builder.CreateShl(wide, ConstantInt::get(wide->getType(), 16)), vecTy);
}

Value *ModelEmitter::roundToBf16(Value *x) {
  // floatToBf16 on the bits: add 0x7fff plus the lowest kept bit, keep
  // the top half; a NaN keeps its top half with the quiet bit set.
  Type *ty = x->getType();
  Type *ity = ty->isVectorTy()
                  ? static_cast<Type *>(VectorType::get(
                        i32, cast<VectorType>(ty)->getElementCount()))
                  : i32;
  auto c = [&](uint32_t v) { return ConstantInt::get(ity, v); };
  Value *bits = builder.CreateBitCast(x, ity);
  Value *lsb = builder.CreateAnd(builder.CreateLShr(bits, c(16)), c(1));
  Value *rounded = builder.CreateAdd(bits, builder.CreateAdd(lsb, c(0x7fff)));
  Value *quiet = builder.CreateOr(bits, c(0x400000));
  Value *kept =
      builder.CreateSelect(builder.CreateFCmpUNO(x, x), quiet, rounded);
  return builder.CreateBitCast(builder.CreateAnd(kept, c(0xffff0000u)), ty);
}

void ModelEmitter::emitPrefetch(Value *address, bool forWrite,
                                PrefetchLevel locality) {
  builder.CreateIntrinsic(Intrinsic::prefetch, {ptrTy},
                          {address, builder.getInt32(forWrite),
                           builder.getInt32(locality), builder.getInt32(1)});
}

//===----------------------------------------------------------------------===//
// Microkernels
//===----------------------------------------------------------------------===//

/// One microkernel being built: an mr x (pg * nr) tile over pg adjacent
/// panels, and its arguments (lda, ldc and kc may be constants instead).
struct ModelEmitter::Microkernel {
  const ir::Op &op;
  const DensePlan &pl;
  unsigned mr, pg;
  unsigned nrv;  ///< vectors across the tile
  unsigned tile; ///< accumulators of one set: mr * nrv
  /// Independent accumulator sets over k: they hide the FMA latency of
  /// small tiles.
  unsigned sets;
  bool prefetch, prefetchRows;
  Function *fn;
  std::array<Value *, kUkrArgCount> arg;
  Align weightAlign;

  /// Vector v of a row lies in panel v / nrVecs: its column in the output
  /// and its offset in the packed weights of a k-step.
  uint64_t cOff(unsigned v, unsigned vw) const {
    return uint64_t(v / pl.nrVecs) * pl.nr + uint64_t(v % pl.nrVecs) * vw;
  }
  uint64_t bOff(unsigned v, unsigned vw) const {
    return pl.weights.index(cOff(v, vw), 0);
  }
};

Function *ModelEmitter::emitMicrokernel(const ir::Op &op, const DensePlan &pl,
                                        unsigned mr, unsigned pg,
                                        unsigned opIndex, uint64_t lda,
                                        uint64_t ldc, bool specialised,
                                        bool prefetchRows) {
  std::vector<Type *> params;
  for (const UkrArgInfo &info : kUkrArgs)
    params.push_back(info.type == UkrArgType::Ptr   ? ptrTy
                     : info.type == UkrArgType::I64 ? i64
                                                    : i32);
  FunctionType *ft = FunctionType::get(voidTy, params, false);
  assert((!prefetchRows || (mr > 1 && pg == 1)) &&
         "row prefetching is for tiles of one panel");
  const char *variant = prefetchRows ? ".cold" : "";
  std::string name = fmt::format("{}.dense{}.ukr{}x{}{}", prefix, opIndex, mr,
                                 pg * pl.nr, variant);
  if (compactCode) {
    // Shared by every layer whose kernels would have the same code. A
    // specialised layer's kernels have its row strides and k (kc too, with
    // one k block) as constants, as inlining makes them in the other mode
    // (passed as arguments, a 12-row tile keeps 12 row pointers); the other
    // layers' kernels take them as arguments (k matters only to kernels
    // across several panels) and are shared more widely.
    std::string key = fmt::format(
        "{}x{}{}:{}", mr, pg, variant,
        specialised ? denseSignature(op, pl, pl.k, lda, ldc)
                    : denseSignature(op, pl, pg > 1 ? pl.k : 0, 0, 0));
    // int8w kernels find the scales biasLength floats after the bias; int8
    // kernels the rows' scales quantScaleOffset bytes after their values.
    if (hasWeightScales())
      key += fmt::format(":w{}", pl.biasLength);
    if (cfg.precision == Precision::Int8)
      key += fmt::format(":q{}", pl.quantScaleOffset);
    auto found = sharedKernels.find(key);
    if (found != sharedKernels.end())
      return found->second;
    name = fmt::format("{}.ukr{}x{}{}.{}", prefix, mr, pg * pl.nr, variant,
                       sharedKernels.size());
    Function *f = buildMicrokernel(
        op, pl, mr, pg, ft, name, prefetchRows,
        specialised ? std::optional(std::make_pair(lda, ldc)) : std::nullopt);
    f->addFnAttr(Attribute::NoInline);
    sharedKernels.emplace(key, f);
    return f;
  }
  if (prefetchRows) {
    // Called on the first pass over a cold source only: kept out of line,
    // with the strides as constants, so that the stage's code (and compile
    // time) does not grow by another inlined copy of its main tile.
    Function *f = buildMicrokernel(op, pl, mr, pg, ft, name, true,
                                   std::make_pair(lda, ldc));
    f->addFnAttr(Attribute::NoInline);
    return f;
  }
  return buildMicrokernel(op, pl, mr, pg, ft, name, false, std::nullopt);
}

/// The microkernel computes an mr x (pg * nr) tile over pg adjacent packed
/// panels (panel q's micro-panel at kUkrPanels + q * k * nr, its columns at
/// kUkrC + q * nr):
///  1. It prefetches the output tile of the next call for writing, so that
///     its partial sums (or the lines its stores allocate) are in cache by
///     the time that call starts.
///  2. Its accumulators start at zero on the first k block, else at the
///     partial sums in the output.
///  3. Each k-step broadcasts one input per row and multiplies it into the
///     row's vectors of weights (emitKStep): in `sets` interleaved sets for
///     small tiles. Weights that stream from L3 or memory are prefetched: a
///     one-panel kernel the byte at kUkrPrefetch + k * kUkrPrefetchStride
///     (the caller points it at the micro-panel the next tiles will need),
///     a wider single-row kernel its own panels' streams
///     kWeightPrefetchSteps ahead. With prefetchRows (a tile of several
///     rows, one panel), step k also prefetches into L2 row min(k % 16,
///     mr - 1) of the tile at kUkrAheadRows, from column k rounded down to
///     16 on: the rows a tile further on will read, a line per step, at the
///     pace it will read them.
///  4. On the last k block it adds the bias and applies the activation,
///     then stores the tile (masked on the last panel; emitTileEpilogue).
Function *ModelEmitter::buildMicrokernel(
    const ir::Op &op, const DensePlan &pl, unsigned mr, unsigned pg,
    FunctionType *ft, const std::string &name, bool prefetchRows,
    std::optional<std::pair<uint64_t, uint64_t>> strides) {
  Function *f = newFunction(ft, name, false);
  for (unsigned i = 0; i < kUkrArgCount; ++i)
    if (kUkrArgs[i].noAlias)
      f->addParamAttr(i, Attribute::NoAlias);
  unsigned vw = cfg.vectorWidth, nrv = pl.nrVecs * pg, tile = mr * nrv;
  Microkernel uk{.op = op,
                 .pl = pl,
                 .mr = mr,
                 .pg = pg,
                 .nrv = nrv,
                 .tile = tile,
                 .sets = std::max(1u, std::min(4u, (8 + tile - 1) / tile)),
                 .prefetch = pl.streamsWeights,
                 .prefetchRows = prefetchRows,
                 .fn = f,
                 .arg = {},
                 .weightAlign = Align(std::min<unsigned>(
                     kLineBytes, vw * weightBytes() * pl.weights.kGroup))};
  for (unsigned i = 0; i < kUkrArgCount; ++i)
    uk.arg[i] = f->getArg(i);
  if (strides) {
    uk.arg[kUkrLda] = c64(strides->first);
    uk.arg[kUkrLdc] = c64(strides->second);
    // One k block: every call passes kc = k.
    if (pl.k <= pl.kc)
      uk.arg[kUkrKc] = c64(pl.k);
  }
  BasicBlock *entry = BasicBlock::Create(ctx, "entry", f);
  builder.SetInsertPoint(entry);
  if (mr > 1)
    emitNextTilePrefetch(uk);
  std::vector<Value *> accs = cfg.precision == Precision::Int8
                                  ? emitInt8Sums(uk)
                                  : emitKLoop(uk, emitInitialAccumulators(uk));
  emitTileEpilogue(uk, accs);
  return f;
}

std::vector<Value *> ModelEmitter::emitInt8Sums(Microkernel &uk) {
  const DensePlan &pl = uk.pl;
  unsigned vw = cfg.vectorWidth, mr = uk.mr, nrv = uk.nrv;
  // int32 sums from zero (int8 takes k in one block), scaled by each
  // row's scale before the epilogue scales them by the weights'.
  assert(pl.kc >= pl.k && "int8 takes k in one block");
  std::vector<Value *> accs(
      uk.sets * uk.tile,
      Constant::getNullValue(FixedVectorType::get(i32, cfg.vectorWidth)));
  if (uint64_t group = int8KGroup(pl.int8Dot); group > 1) {
    // k-steps of whole groups (the rows' padding is zeros, or u8 128 on
    // VNNI, times zero weights).
    uk.arg[kUkrKc] = builder.CreateUDiv(
        builder.CreateAdd(uk.arg[kUkrKc], c64(group - 1)), c64(group));
  }
  accs = emitKLoop(uk, std::move(accs));
  if (pl.int8Dot == Int8Dot::Quads)
    for (unsigned v = 0; v < nrv; ++v) {
      Value *comp = builder.CreateAlignedLoad(
          FixedVectorType::get(i32, vw),
          gepF(uk.arg[kUkrBias], c64(2 * pl.biasLength + uk.cOff(v, vw))),
          Align(4));
      for (unsigned m = 0; m < mr; ++m)
        accs[m * nrv + v] = builder.CreateSub(accs[m * nrv + v], comp);
    }
  for (unsigned m = 0; m < mr; ++m) {
    Value *rowScale = builder.CreateAlignedLoad(
        f32,
        builder.CreateInBoundsGEP(
            builder.getInt8Ty(), uk.arg[kUkrA],
            builder.CreateAdd(builder.CreateMul(c64(m), uk.arg[kUkrLda]),
                              c64(pl.quantScaleOffset))),
        Align(4));
    for (unsigned v = 0; v < nrv; ++v) {
      Value *&acc = accs[m * nrv + v];
      acc = builder.CreateFMul(builder.CreateSIToFP(acc, vecTy),
                               builder.CreateVectorSplat(vw, rowScale));
    }
  }
  return accs;
}

Value *ModelEmitter::tileColumnMask(const Microkernel &uk, unsigned v) {
  unsigned vw = cfg.vectorWidth;
  std::vector<Constant *> idx;
  for (unsigned l = 0; l < vw; ++l)
    idx.push_back(ConstantInt::get(i64, uk.cOff(v, vw) + l));
  Value *iota = ConstantVector::get(idx);
  return builder.CreateICmpSLT(
      iota, builder.CreateVectorSplat(vw, uk.arg[kUkrValidColumns]));
}

Value *ModelEmitter::tilePointer(const Microkernel &uk, unsigned m,
                                 unsigned v) {
  return gepF(uk.arg[kUkrC],
              builder.CreateAdd(builder.CreateMul(c64(m), uk.arg[kUkrLdc]),
                                c64(uk.cOff(v, cfg.vectorWidth))));
}

void ModelEmitter::emitNextTilePrefetch(const Microkernel &uk) {
  // Both ends of each row of the next tile (a row of nr floats spans at
  // most two lines).
  for (unsigned m = 0; m < uk.mr; ++m)
    for (uint64_t off : {uint64_t(0), uint64_t(uk.pg) * uk.pl.nr - 1})
      emitPrefetch(
          gepF(uk.arg[kUkrNextC],
               builder.CreateAdd(builder.CreateMul(c64(m), uk.arg[kUkrLdc]),
                                 c64(off))),
          true, kPrefetchToL1);
}

std::vector<Value *>
ModelEmitter::emitInitialAccumulators(const Microkernel &uk) {
  // Zero on the first k block, else the partial sums.
  BasicBlock *entry = builder.GetInsertBlock();
  Value *zero = Constant::getNullValue(vecTy);
  Value *isFirst = builder.CreateICmpNE(
      builder.CreateAnd(uk.arg[kUkrFlags], kFirstK), builder.getInt32(0));
  BasicBlock *loadBB = BasicBlock::Create(ctx, "load.c", uk.fn);
  BasicBlock *initBB = BasicBlock::Create(ctx, "init", uk.fn);
  builder.CreateCondBr(isFirst, initBB, loadBB);
  builder.SetInsertPoint(loadBB);
  std::vector<Value *> loaded;
  for (unsigned m = 0; m < uk.mr; ++m)
    for (unsigned v = 0; v < uk.nrv; ++v)
      loaded.push_back(builder.CreateMaskedLoad(
          vecTy, tilePointer(uk, m, v), Align(4), tileColumnMask(uk, v), zero));
  builder.CreateBr(initBB);
  builder.SetInsertPoint(initBB);
  std::vector<Value *> accs;
  for (unsigned s = 0; s < uk.sets; ++s)
    for (unsigned i = 0; i < uk.tile; ++i) {
      if (s > 0) {
        accs.push_back(zero);
        continue;
      }
      PHINode *phi = builder.CreatePHI(vecTy, 2);
      phi->addIncoming(zero, entry);
      phi->addIncoming(loaded[i], loadBB);
      accs.push_back(phi);
    }
  return accs;
}

void ModelEmitter::emitGroupedKStep(const Microkernel &uk, Value *g,
                                    unsigned set, std::vector<Value *> &acc) {
  // k group g of 4 bytes per row: per vector, the weights of the group's
  // inputs for vw outputs, each output's in one int32 lane; per row, its
  // group of inputs as one int32, broadcast. Quads: 4 u8 inputs times 4
  // int8 weights, one vpdpbusd. Pairs: 2 int16 inputs times 2 int8
  // weights sign-extended to int16, pmaddwd, then an add. UnsignedQuads:
  // 4 u8 inputs times 4 int8 weights, pmaddubsw into int16 pairs, pmaddwd
  // by ones into int32, then an add. Streaming weights are prefetched as
  // emitKStep does, one group of k-steps at a time.
  const DensePlan &pl = uk.pl;
  unsigned vw = cfg.vectorWidth, group = int8KGroup(pl.int8Dot);
  bool quads = pl.int8Dot == Int8Dot::Quads;
  bool unsignedQuads = pl.int8Dot == Int8Dot::UnsignedQuads;
  Type *lanes = FixedVectorType::get(i32, vw);
  Type *halves = FixedVectorType::get(builder.getInt16Ty(), 2 * vw);
  Type *bytes = FixedVectorType::get(builder.getInt8Ty(), 4 * vw);
  Value *bp = uk.arg[kUkrPanels];
  if (uk.prefetch && uk.pg == 1)
    emitPrefetch(
        builder.CreateGEP(builder.getInt8Ty(), uk.arg[kUkrPrefetch],
                          builder.CreateMul(builder.CreateMul(g, c64(group)),
                                            uk.arg[kUkrPrefetchStride])),
        false, uk.mr == 1 ? kPrefetchToL1 : kPrefetchToL2);
  std::vector<Value *> bv;
  for (unsigned v = 0; v < uk.nrv; ++v) {
    Value *off = builder.CreateAdd(builder.CreateMul(g, c64(group * pl.nr)),
                                   c64(uk.bOff(v, vw)));
    if (uk.prefetch && uk.pg > 1 && uk.bOff(v, vw) % kLineBytes == 0)
      emitPrefetch(
          builder.CreateGEP(
              builder.getInt8Ty(), bp,
              builder.CreateAdd(off, c64(kWeightPrefetchSteps * pl.nr))),
          false, kPrefetchToL1);
    bv.push_back(
        quads ? builder.CreateAlignedLoad(lanes, gepW(bp, off), uk.weightAlign)
        : unsignedQuads
            ? builder.CreateAlignedLoad(bytes, gepW(bp, off), uk.weightAlign)
            : builder.CreateSExt(
                  builder.CreateAlignedLoad(
                      FixedVectorType::get(builder.getInt8Ty(), 2 * vw),
                      gepW(bp, off), uk.weightAlign),
                  halves));
  }
  Intrinsic::ID pmaddwd = vw == 16  ? Intrinsic::x86_avx512_pmaddw_d_512
                          : vw == 8 ? Intrinsic::x86_avx2_pmadd_wd
                                    : Intrinsic::x86_sse2_pmadd_wd;
  Intrinsic::ID pmaddubsw = vw == 16 ? Intrinsic::x86_avx512_pmaddubs_w_512
                                     : Intrinsic::x86_avx2_pmadd_ub_sw;
  Value *ones = ConstantInt::get(halves, 1);
  for (unsigned m = 0; m < uk.mr; ++m) {
    Value *a = builder.CreateAlignedLoad(
        i32,
        builder.CreateInBoundsGEP(
            builder.getInt8Ty(), uk.arg[kUkrA],
            builder.CreateAdd(builder.CreateMul(c64(m), uk.arg[kUkrLda]),
                              builder.CreateMul(g, c64(4)))),
        Align(4));
    Value *splat = builder.CreateVectorSplat(vw, a);
    if (unsignedQuads)
      splat = builder.CreateBitCast(splat, bytes);
    else if (!quads)
      splat = builder.CreateBitCast(splat, halves);
    for (unsigned v = 0; v < uk.nrv; ++v) {
      Value *&slot = acc[set * uk.tile + m * uk.nrv + v];
      if (quads) {
        slot = builder.CreateIntrinsic(
            lanes, Intrinsic::x86_avx512_vpdpbusd_512, {slot, splat, bv[v]});
        continue;
      }
      Value *pairs = unsignedQuads ? builder.CreateIntrinsic(halves, pmaddubsw,
                                                             {splat, bv[v]})
                                   : splat;
      Value *w = unsignedQuads ? ones : bv[v];
      slot = builder.CreateAdd(
          slot, builder.CreateIntrinsic(lanes, pmaddwd, {pairs, w}));
    }
  }
}

void ModelEmitter::emitKStep(const Microkernel &uk, Value *k, unsigned set,
                             std::vector<Value *> &acc) {
  if (uk.pl.int8Dot != Int8Dot::Widen) {
    emitGroupedKStep(uk, k, set, acc);
    return;
  }
  // Prefetches never fault, and their addresses, which may lie past an
  // array's end, are plain GEPs, not inbounds ones. A single row reads
  // every panel once, so each panel's stream goes into L1; a tile reads a
  // micro-panel the first tile of its panel brought into L1, so it fetches
  // the next one into L2 only, where it does not evict the one in use.
  const DensePlan &pl = uk.pl;
  unsigned vw = cfg.vectorWidth;
  Value *bp = uk.arg[kUkrPanels], *lda = uk.arg[kUkrLda];
  std::vector<Value *> bv;
  if (uk.prefetch && uk.pg == 1)
    emitPrefetch(
        builder.CreateGEP(builder.getInt8Ty(), uk.arg[kUkrPrefetch],
                          builder.CreateMul(k, uk.arg[kUkrPrefetchStride])),
        false, uk.mr == 1 ? kPrefetchToL1 : kPrefetchToL2);
  for (unsigned v = 0; v < uk.nrv; ++v) {
    Value *off = builder.CreateAdd(builder.CreateMul(k, c64(pl.nr)),
                                   c64(uk.bOff(v, vw)));
    if (uk.prefetch && uk.pg > 1 &&
        (uk.bOff(v, vw) * weightBytes()) % kLineBytes == 0)
      emitPrefetch(
          builder.CreateGEP(
              weightTy(), bp,
              builder.CreateAdd(off, c64(kWeightPrefetchSteps * pl.nr))),
          false, kPrefetchToL1);
    bv.push_back(loadWeightVec(gepW(bp, off), uk.weightAlign));
  }
  if (uk.prefetchRows) {
    Value *row = builder.CreateBinaryIntrinsic(
        Intrinsic::umin, builder.CreateAnd(k, c64(kLineFloats - 1)),
        c64(uk.mr - 1));
    emitPrefetch(
        builder.CreateGEP(
            f32, uk.arg[kUkrAheadRows],
            builder.CreateAdd(builder.CreateMul(row, lda),
                              builder.CreateAnd(k, c64(~(kLineFloats - 1))))),
        false, kPrefetchToL2);
  }
  if (cfg.precision == Precision::Int8) {
    emitInt8KStep(uk, k, set, bv, acc);
    return;
  }
  for (unsigned m = 0; m < uk.mr; ++m) {
    Value *av = builder.CreateAlignedLoad(
        f32,
        gepF(uk.arg[kUkrA],
             builder.CreateAdd(builder.CreateMul(c64(m), lda), k)),
        Align(4));
    // bf16 multiplies the layer's inputs rounded to bf16.
    if (cfg.precision == Precision::BF16)
      av = roundToBf16(av);
    Value *splat = builder.CreateVectorSplat(vw, av);
    for (unsigned v = 0; v < uk.nrv; ++v) {
      Value *&slot = acc[set * uk.tile + m * uk.nrv + v];
      slot = math.mulAdd(splat, bv[v], slot);
    }
  }
}

void ModelEmitter::emitInt8KStep(const Microkernel &uk, Value *k, unsigned set,
                                 const std::vector<Value *> &bv,
                                 std::vector<Value *> &acc) {
  // Each row's int8 input widened and broadcast, times the weights (int32
  // vectors): int32 products and sums, exact for k <= kInt8MaxInputs.
  unsigned vw = cfg.vectorWidth;
  for (unsigned m = 0; m < uk.mr; ++m) {
    Value *a = builder.CreateLoad(
        builder.getInt8Ty(),
        builder.CreateInBoundsGEP(
            builder.getInt8Ty(), uk.arg[kUkrA],
            builder.CreateAdd(builder.CreateMul(c64(m), uk.arg[kUkrLda]), k)));
    Value *splat = builder.CreateVectorSplat(vw, builder.CreateSExt(a, i32));
    for (unsigned v = 0; v < uk.nrv; ++v) {
      Value *&slot = acc[set * uk.tile + m * uk.nrv + v];
      slot = builder.CreateAdd(slot, builder.CreateMul(splat, bv[v]));
    }
  }
}

std::vector<Value *> ModelEmitter::emitKLoop(const Microkernel &uk,
                                             std::vector<Value *> accs) {
  // Steps of `sets` k-steps, each set its own accumulators; then the
  // remaining steps into set 0, and the sets added up.
  Value *kc = uk.arg[kUkrKc];
  unsigned sets = uk.sets, tile = uk.tile;
  Value *kMain = builder.CreateSub(kc, builder.CreateURem(kc, c64(sets)));
  accs = emitLoop(c64(0), kMain, c64(sets), accs,
                  [&](Value *k, const std::vector<Value *> &carried) {
                    std::vector<Value *> acc = carried;
                    for (unsigned s = 0; s < sets; ++s)
                      emitKStep(uk, builder.CreateAdd(k, c64(s)), s, acc);
                    return acc;
                  });
  if (sets == 1)
    return accs;
  std::vector<Value *> set0(accs.begin(), accs.begin() + tile);
  set0 = emitLoop(kMain, kc, c64(1), set0,
                  [&](Value *k, const std::vector<Value *> &carried) {
                    std::vector<Value *> acc = carried;
                    emitKStep(uk, k, 0, acc);
                    return acc;
                  });
  for (unsigned i = 0; i < tile; ++i) {
    Value *sum = set0[i];
    for (unsigned s = 1; s < sets; ++s)
      sum = sum->getType()->isIntOrIntVectorTy()
                ? builder.CreateAdd(sum, accs[s * tile + i])
                : builder.CreateFAdd(sum, accs[s * tile + i]);
    set0[i] = sum;
  }
  return set0;
}

void ModelEmitter::emitTileEpilogue(const Microkernel &uk,
                                    const std::vector<Value *> &accs) {
  // On the last k block add the bias and apply the activation in
  // registers, then store (masked on the last panel). An activation
  // computed in double (sigmoid, tanh, GELU, ...) is applied after the
  // store instead, one row of the tile at a time, reloaded from L1: on the
  // whole tile in registers, its temporaries (every accumulator widened to
  // two double vectors) spill by the hundred.
  const ir::Op &op = uk.op;
  unsigned vw = cfg.vectorWidth, nrv = uk.nrv;
  bool actAfterStore = !MathEmitter::isCheap(op.act.kind);
  Value *isLast = builder.CreateICmpNE(
      builder.CreateAnd(uk.arg[kUkrFlags], kLastK), builder.getInt32(0));
  BasicBlock *before = builder.GetInsertBlock();
  BasicBlock *lastBB = BasicBlock::Create(ctx, "epilogue", uk.fn);
  BasicBlock *storeBB = BasicBlock::Create(ctx, "store", uk.fn);
  builder.CreateCondBr(isLast, lastBB, storeBB);
  builder.SetInsertPoint(lastBB);
  std::vector<Value *> finished;
  std::vector<Value *> biasVec, scaleVec;
  Align biasAlign(std::min<unsigned>(kLineBytes, vw * 4));
  if (op.bias != ir::kNoParam)
    for (unsigned v = 0; v < nrv; ++v)
      biasVec.push_back(builder.CreateAlignedLoad(
          vecTy, gepF(uk.arg[kUkrBias], c64(uk.cOff(v, vw))), biasAlign));
  // int8 and int8w: the weights' scales follow the bias (DenseParams).
  if (hasWeightScales())
    for (unsigned v = 0; v < nrv; ++v)
      scaleVec.push_back(builder.CreateAlignedLoad(
          vecTy, gepF(uk.arg[kUkrBias], c64(uk.pl.biasLength + uk.cOff(v, vw))),
          Align(4)));
  for (unsigned m = 0; m < uk.mr; ++m)
    for (unsigned v = 0; v < nrv; ++v) {
      Value *x = accs[m * nrv + v];
      if (!scaleVec.empty())
        x = builder.CreateFMul(x, scaleVec[v]);
      if (!biasVec.empty())
        x = builder.CreateFAdd(x, biasVec[v]);
      finished.push_back(actAfterStore ? x : math.activation(op.act, x));
    }
  BasicBlock *lastEnd = builder.GetInsertBlock();
  builder.CreateBr(storeBB);
  builder.SetInsertPoint(storeBB);
  std::vector<Value *> out;
  for (unsigned i = 0; i < uk.tile; ++i) {
    PHINode *phi = builder.CreatePHI(vecTy, 2);
    phi->addIncoming(accs[i], before);
    phi->addIncoming(finished[i], lastEnd);
    out.push_back(phi);
  }
  BasicBlock *fullBB = BasicBlock::Create(ctx, "store.full", uk.fn);
  BasicBlock *maskBB = BasicBlock::Create(ctx, "store.masked", uk.fn);
  builder.CreateCondBr(builder.CreateICmpSGE(uk.arg[kUkrValidColumns],
                                             c64(uint64_t(uk.pg) * uk.pl.nr)),
                       fullBB, maskBB);
  for (bool masked : {false, true}) {
    builder.SetInsertPoint(masked ? maskBB : fullBB);
    emitTileStore(uk, out, masked, actAfterStore ? isLast : nullptr);
  }
}

void ModelEmitter::emitTileStore(const Microkernel &uk,
                                 const std::vector<Value *> &out, bool masked,
                                 Value *isLast) {
  unsigned vw = cfg.vectorWidth, nrv = uk.nrv;
  Value *zero = Constant::getNullValue(vecTy);
  auto mask = [&](unsigned v) {
    return masked ? tileColumnMask(uk, v) : nullptr;
  };
  for (unsigned m = 0; m < uk.mr; ++m)
    for (unsigned v = 0; v < nrv; ++v)
      storeRowVec(out[m * nrv + v], tilePointer(uk, m, v), c64(0), mask(v));
  if (!isLast) {
    builder.CreateRetVoid();
    return;
  }
  // The activation after the store, on the last k block.
  BasicBlock *actBB = BasicBlock::Create(ctx, "act", uk.fn);
  BasicBlock *doneBB = BasicBlock::Create(ctx, "done", uk.fn);
  builder.CreateCondBr(isLast, actBB, doneBB);
  builder.SetInsertPoint(actBB);
  emitForEach(c64(0), c64(uk.mr), c64(1), [&](Value *m) {
    Value *row = gepF(uk.arg[kUkrC], builder.CreateMul(m, uk.arg[kUkrLdc]));
    for (unsigned v = 0; v < nrv; ++v) {
      Value *x = loadRowVec(row, c64(uk.cOff(v, vw)), mask(v), zero);
      storeRowVec(math.activation(uk.op.act, x), row, c64(uk.cOff(v, vw)),
                  mask(v));
    }
  });
  builder.CreateBr(doneBB);
  builder.SetInsertPoint(doneBB);
  builder.CreateRetVoid();
}

//===----------------------------------------------------------------------===//
// The Dense stage
//===----------------------------------------------------------------------===//

ModelEmitter::DenseParams ModelEmitter::denseParams(const ir::Op &op,
                                                    const DensePlan &pl,
                                                    unsigned opIndex) {
  const std::vector<float> &w = *paramData(op.weight);
  DenseParams params;
  const std::vector<float> *bias = paramData(op.bias);
  if (cfg.precision == Precision::F32) {
    params.weight = parameterArray(
        pl.weights.elements(), fmt::format("dense{}.weight", opIndex),
        " = " + pl.weights.str(),
        [&](float *packed) { packWeights(w.data(), pl.weights, packed); });
    if (bias)
      params.bias = constantArray(padTo(*bias, pl.biasLength),
                                  fmt::format("dense{}.bias", opIndex));
    return params;
  }
  std::vector<float> scales = symmetricScales(w.data(), pl.n, pl.k);
  params.weight =
      parameterBytes(pl.weights.bytes(), fmt::format("dense{}.weight", opIndex),
                     " = " + pl.weights.str(), [&](void *packed) {
                       packWeights(w.data(), pl.weights, packed, scales.data());
                     });
  std::vector<float> padded =
      bias ? padTo(*bias, pl.biasLength)
           : std::vector<float>(hasWeightScales() ? pl.biasLength : 0);
  if (hasWeightScales()) {
    std::vector<float> s = padTo(scales, pl.biasLength, 1.0f);
    padded.insert(padded.end(), s.begin(), s.end());
  }
  if (pl.int8Dot == Int8Dot::Quads) {
    // 128 * sum_k q_w[o], the int32 bits in the float array.
    std::vector<float> comp(pl.biasLength, 0.0f);
    for (uint64_t o = 0; o < pl.n; ++o) {
      int32_t sum = 0;
      for (uint64_t kk = 0; kk < pl.k; ++kk)
        sum += floatToI8(w[o * pl.k + kk], scales[o]);
      comp[o] = std::bit_cast<float>(sum * 128);
    }
    padded.insert(padded.end(), comp.begin(), comp.end());
  }
  if (!padded.empty())
    params.bias = constantArray(padded, fmt::format("dense{}.bias", opIndex));
  return params;
}

/// What every loop level of a Dense stage reads: the layer, its kernels
/// and parameters, and the task's buffers.
struct ModelEmitter::DenseStage {
  const ir::Op &op;
  const DensePlan &pl;
  uint64_t lda, ldc;
  DenseParams params = {};
  Value *biasPtr = nullptr;
  /// Tiles of 1..mr rows over one panel (index = rows); the full tile that
  /// also prefetches the rows of a cold source (null for one-row tiles);
  /// single-row kernels across 1..gemvPanels panels (index = panels).
  std::vector<Function *> kernels = {};
  Function *coldTile = nullptr;
  std::vector<Function *> gemv = {};
  Value *in = nullptr, *out = nullptr, *rows = nullptr, *coldSource = nullptr;
  /// int8: the work item's quantised rows (DensePlan::quantStride), on the
  /// stack; the kernels read them instead of the input.
  Value *quant = nullptr;
  /// The row stride the kernels read: lda, or int8's quantStride bytes.
  uint64_t kernelLda() const { return pl.quantStride ? pl.quantStride : lda; }
};

/// One work item: the rows [m0, mEnd) of a row block, in nFull full tiles
/// and a remainder of `rem` rows from mTail, and the panels [pBeg, pEnd)
/// of a group; k in blocks of kcStep.
struct ModelEmitter::DenseItem {
  Value *m0, *mEnd, *pBeg, *pEnd, *nFull, *rem, *mTail, *kcStep;
};

/// One k block [kc0, kc0 + kc) of a work item, its KBlockFlag bits, and how
/// its tiles share the prefetching of the next micro-panel: `spread`
/// tiles, pfStride bytes a k-step each.
struct ModelEmitter::DenseKBlock {
  Value *kc0, *kc, *flags, *lastK, *spread, *pfStride;
  /// The item's first row (int8: row 0 of its quantised rows).
  Value *m0;
};

/// The Dense stage's loop nest, one function per level:
///   work items (a panel group x a row block; emitDenseItem)
///     -> k blocks (emitDenseKBlock)
///       -> panels of the group (emitDensePanel)
///         -> full tiles of mr rows (emitFullTile), then the remainder
///       -> a remainder of one row, across gemvPanels panels at a time
///          (emitGemvRow)
/// Items go group by group, and within a group row block by row block, so
/// consecutive items (and, on two threads, concurrent ones) read the same
/// panels: the second finds them in L2 or L3 rather than memory.
Function *ModelEmitter::emitDenseStage(const ir::Op &op, unsigned opIndex,
                                       const StagePlan &st) {
  const DensePlan &pl = st.dense;
  uint64_t lda = st.srcStride, ldc = st.dstStride;
  if (pl.dotRows)
    return emitNarrowDenseStage(op, pl, opIndex, lda, ldc);
  DenseStage ds{.op = op, .pl = pl, .lda = lda, .ldc = ldc};
  ds.params = denseParams(op, pl, opIndex);
  ds.kernels.assign(pl.mr + 1, nullptr);
  uint64_t klda = ds.kernelLda();
  for (unsigned mr = 1; mr <= pl.mr; ++mr)
    ds.kernels[mr] = emitMicrokernel(op, pl, mr, 1, opIndex, klda, ldc,
                                     st.specialised, false);
  // int8's kernels read the quantised rows, which its items have just
  // written: no source is cold to them.
  ds.coldTile = pl.mr > 1 && !pl.quantStride
                    ? emitMicrokernel(op, pl, pl.mr, 1, opIndex, lda, ldc,
                                      st.specialised, true)
                    : nullptr;
  ds.gemv.assign(pl.gemvPanels + 1, nullptr);
  ds.gemv[1] = ds.kernels[1];
  for (unsigned pg = 2; pg <= pl.gemvPanels; ++pg)
    ds.gemv[pg] = emitMicrokernel(op, pl, 1, pg, opIndex, klda, ldc,
                                  st.specialised, false);

  Task task = beginTask(fmt::format("{}.dense{}", prefix, opIndex));
  if (pl.quantStride) {
    // int8: each item quantises its row block into this buffer first. On
    // the stack rather than in scratch, as an item owns its rows only
    // while it runs (the items of other panel groups quantise the same
    // rows again: a pass over k per row, against k multiply-adds per
    // row and output), and the buffer stays in L1/L2 for the kernels.
    ds.quant =
        builder.CreateAlloca(builder.getInt8Ty(), c64(pl.mc * pl.quantStride));
    cast<AllocaInst>(ds.quant)->setAlignment(Align(kLineBytes));
  }
  ds.in = task.in;
  ds.out = task.out;
  ds.rows = task.rows;
  ds.biasPtr = ds.params.bias
                   ? static_cast<Value *>(ds.params.bias)
                   : ConstantPointerNull::get(cast<PointerType>(ptrTy));
  Value *rows = task.rows;
  Value *mcRows = rowBlockRows(rows, pl.mc, pl.mr);
  ds.coldSource = builder.CreateICmpNE(
      builder.CreateLoad(i64, builder.CreateStructGEP(ctxTy, task.fn->getArg(0),
                                                      kCtxSourceCold)),
      c64(0));
  Value *rowBlocks = builder.CreateUDiv(
      builder.CreateAdd(rows, builder.CreateSub(mcRows, c64(1))),
      builder.CreateBinaryIntrinsic(Intrinsic::umax, mcRows, c64(1)));
  // A batch of one row has its own (finer) panel groups.
  Value *perGroup =
      builder.CreateSelect(builder.CreateICmpEQ(rows, c64(1)),
                           c64(pl.rowPanelsPerGroup), c64(pl.panelsPerGroup));
  emitForEach(task.begin, task.end, c64(1), [&](Value *item) {
    emitDenseItem(ds, item, mcRows, rowBlocks, perGroup);
  });
  return endTask(task);
}

void ModelEmitter::emitDenseItem(const DenseStage &ds, Value *item,
                                 Value *mcRows, Value *rowBlocks,
                                 Value *perGroup) {
  const DensePlan &pl = ds.pl;
  uint64_t k = pl.k, mrMax = pl.mr;
  Value *g = builder.CreateUDiv(item, rowBlocks);
  Value *mb = builder.CreateURem(item, rowBlocks);
  DenseItem it;
  it.m0 = builder.CreateMul(mb, mcRows);
  it.mEnd = builder.CreateBinaryIntrinsic(
      Intrinsic::umin, builder.CreateAdd(it.m0, mcRows), ds.rows);
  it.pBeg = builder.CreateMul(g, perGroup);
  it.pEnd = builder.CreateBinaryIntrinsic(
      Intrinsic::umin, builder.CreateAdd(it.pBeg, perGroup), c64(pl.panels));
  Value *mCount = builder.CreateSub(it.mEnd, it.m0);
  it.nFull = builder.CreateUDiv(mCount, c64(mrMax));
  it.rem = builder.CreateSub(mCount, builder.CreateMul(it.nFull, c64(mrMax)));
  it.mTail = builder.CreateAdd(it.m0, builder.CreateMul(it.nFull, c64(mrMax)));
  if (ds.quant)
    emitQuantizeRows(pl, ds.in, ds.lda, it.m0, mCount, ds.quant);
  // A lone row takes k in one block: there is no A block to keep in
  // cache, and each weight stream then runs the whole of k instead of
  // restarting (and losing the hardware prefetcher) every kc steps.
  it.kcStep = builder.CreateSelect(builder.CreateICmpEQ(mCount, c64(1)), c64(k),
                                   c64(pl.kc));
  emitForEach(c64(0), c64(k), it.kcStep,
              [&](Value *kc0) { emitDenseKBlock(ds, it, kc0); });
}

void ModelEmitter::emitDenseKBlock(const DenseStage &ds, const DenseItem &it,
                                   Value *kc0) {
  // The weights of panel p are in L1 from its first tile on, so the tiles
  // prefetch the next micro-panel instead: tile t of T = min(tiles,
  // kPrefetchTiles) covers the t-th T-th of it (a 64-byte line per k-step
  // spread over T tiles), so it arrives from L3 or memory while this one
  // is being used.
  constexpr uint64_t kPrefetchTiles = 4;
  uint64_t k = ds.pl.k, nr = ds.pl.nr;
  DenseKBlock kb;
  kb.kc0 = kc0;
  kb.m0 = it.m0;
  kb.kc = builder.CreateBinaryIntrinsic(Intrinsic::umin, it.kcStep,
                                        builder.CreateSub(c64(k), kc0));
  Value *first = builder.CreateZExt(builder.CreateICmpEQ(kc0, c64(0)), i32);
  Value *last = builder.CreateZExt(
      builder.CreateICmpEQ(builder.CreateAdd(kc0, kb.kc), c64(k)), i32);
  kb.flags = builder.CreateOr(
      first, builder.CreateShl(last, std::countr_zero(unsigned(kLastK))));
  kb.lastK = builder.CreateICmpNE(last, builder.getInt32(0));
  Value *tiles = builder.CreateAdd(
      it.nFull, builder.CreateZExt(builder.CreateICmpNE(it.rem, c64(0)), i64));
  kb.spread = builder.CreateBinaryIntrinsic(
      Intrinsic::umax,
      builder.CreateBinaryIntrinsic(Intrinsic::umin, tiles,
                                    c64(kPrefetchTiles)),
      c64(1));
  kb.pfStride = builder.CreateUDiv(c64(nr * weightBytes()), kb.spread);
  emitForEach(it.pBeg, it.pEnd, c64(1),
              [&](Value *p) { emitDensePanel(ds, it, kb, p); });
  if (ds.pl.gemvPanels > 1)
    emitGemvRow(ds, it, kb);
}

Value *ModelEmitter::isLastPanel(const DenseItem &it, Value *p) {
  return builder.CreateICmpEQ(builder.CreateAdd(p, c64(1)), it.pEnd);
}

Value *ModelEmitter::denseRowPtr(const DenseStage &ds, const DenseKBlock &kb,
                                 Value *m) {
  if (ds.quant)
    return builder.CreateInBoundsGEP(
        builder.getInt8Ty(), ds.quant,
        builder.CreateAdd(builder.CreateMul(builder.CreateSub(m, kb.m0),
                                            c64(ds.pl.quantStride)),
                          kb.kc0));
  return gepF(ds.in,
              builder.CreateAdd(builder.CreateMul(m, c64(ds.lda)), kb.kc0));
}

Value *ModelEmitter::nextMicroPanel(const DenseStage &ds, const DenseItem &it,
                                    const DenseKBlock &kb, Value *p) {
  // The next panel of the group in this k block, else the group's first
  // panel in the next k block, else (p, kc0) itself. A panel is k rounded
  // up to whole k groups (int8 on VNNI) long.
  uint64_t k = ds.pl.weights.kPadded, nr = ds.pl.nr;
  Value *here = builder.CreateAdd(builder.CreateMul(p, c64(k * nr)),
                                  builder.CreateMul(kb.kc0, c64(nr)));
  Value *nextP = builder.CreateAdd(here, c64(k * nr));
  Value *nextK = builder.CreateAdd(
      builder.CreateMul(it.pBeg, c64(k * nr)),
      builder.CreateMul(builder.CreateAdd(kb.kc0, kb.kc), c64(nr)));
  return gepW(ds.params.weight,
              builder.CreateSelect(isLastPanel(it, p),
                                   builder.CreateSelect(kb.lastK, here, nextK),
                                   nextP));
}

Value *ModelEmitter::tilePrefetch(const DenseKBlock &kb, Value *next,
                                  Value *t) {
  Value *part = builder.CreateBinaryIntrinsic(
      Intrinsic::umin, t, builder.CreateSub(kb.spread, c64(1)));
  return builder.CreateGEP(
      builder.getInt8Ty(), next,
      builder.CreateMul(part, builder.CreateMul(kb.kc, kb.pfStride)));
}

void ModelEmitter::callDenseKernel(const DenseStage &ds, const DenseKBlock &kb,
                                   Function *fn, Value *p, Value *m, Value *pf,
                                   Value *pfStride, Value *cNext,
                                   Value *aheadRows) {
  uint64_t k = ds.pl.weights.kPadded, n = ds.pl.n, nr = ds.pl.nr;
  Value *bp = gepW(ds.params.weight,
                   builder.CreateAdd(builder.CreateMul(p, c64(k * nr)),
                                     builder.CreateMul(kb.kc0, c64(nr))));
  Value *cp = gepF(ds.out, builder.CreateMul(p, c64(nr)));
  Value *bias = ds.params.bias ? gepF(ds.biasPtr, builder.CreateMul(p, c64(nr)))
                               : ds.biasPtr;
  Value *nvalid = builder.CreateSub(c64(n), builder.CreateMul(p, c64(nr)));
  Value *aPtr = denseRowPtr(ds, kb, m);
  Value *cPtr = gepF(cp, builder.CreateMul(m, c64(ds.ldc)));
  if (!pf) {
    // Its own stream, kWeightPrefetchSteps k-steps ahead.
    pf = builder.CreateGEP(weightTy(), bp, c64(kWeightPrefetchSteps * nr));
    pfStride = c64(nr * weightBytes());
  }
  std::array<Value *, kUkrArgCount> args;
  args[kUkrA] = aPtr;
  args[kUkrLda] = c64(ds.kernelLda());
  args[kUkrPanels] = bp;
  args[kUkrC] = cPtr;
  args[kUkrLdc] = c64(ds.ldc);
  args[kUkrKc] = kb.kc;
  args[kUkrFlags] = kb.flags;
  args[kUkrBias] = bias;
  args[kUkrValidColumns] = nvalid;
  args[kUkrPrefetch] = pf;
  args[kUkrPrefetchStride] = pfStride;
  args[kUkrNextC] = cNext ? cNext : cPtr;
  args[kUkrAheadRows] = aheadRows ? aheadRows : aPtr;
  builder.CreateCall(fn, args);
}

void ModelEmitter::emitSwitch(Value *v, unsigned first, unsigned count,
                              const std::function<void(unsigned)> &body) {
  if (first >= count)
    return;
  Function *fn = builder.GetInsertBlock()->getParent();
  BasicBlock *done = BasicBlock::Create(ctx, "sw.done", fn);
  SwitchInst *sw = builder.CreateSwitch(v, done, count - first);
  for (unsigned r = first; r < count; ++r) {
    BasicBlock *caseBB = BasicBlock::Create(ctx, "sw.case", fn);
    sw->addCase(ConstantInt::get(cast<IntegerType>(i64), r), caseBB);
    builder.SetInsertPoint(caseBB);
    body(r);
    builder.CreateBr(done);
  }
  builder.SetInsertPoint(done);
}

void ModelEmitter::emitDensePanel(const DenseStage &ds, const DenseItem &it,
                                  const DenseKBlock &kb, Value *p) {
  uint64_t nr = ds.pl.nr, mrMax = ds.pl.mr;
  Value *next = nextMicroPanel(ds, it, kb, p);
  // The tile after the panel's last: the first rows of the next panel.
  Value *cNextPanel = gepF(
      ds.out, builder.CreateAdd(
                  builder.CreateMul(it.m0, c64(ds.ldc)),
                  builder.CreateMul(builder.CreateAdd(p, c64(1)), c64(nr))));
  emitForEach(c64(0), it.nFull, c64(1), [&](Value *t) {
    emitFullTile(ds, it, kb, p, t, next, cNextPanel);
  });
  // The remainder, of 2 or more rows (1 too without the wide single-row
  // kernels); a lone row streams the panel itself.
  emitSwitch(it.rem, ds.pl.gemvPanels > 1 ? 2 : 1, mrMax, [&](unsigned r) {
    if (r == 1)
      callDenseKernel(ds, kb, ds.kernels[r], p, it.mTail, nullptr, nullptr);
    else
      callDenseKernel(ds, kb, ds.kernels[r], p, it.mTail,
                      tilePrefetch(kb, next, it.nFull), kb.pfStride,
                      cNextPanel);
  });
}

void ModelEmitter::emitFullTile(const DenseStage &ds, const DenseItem &it,
                                const DenseKBlock &kb, Value *p, Value *t,
                                Value *next, Value *cNextPanel) {
  uint64_t nr = ds.pl.nr, mrMax = ds.pl.mr;
  Function *kernel = ds.kernels[mrMax];
  Value *m = builder.CreateAdd(it.m0, builder.CreateMul(t, c64(mrMax)));
  Value *mNext = builder.CreateAdd(m, c64(mrMax));
  // The tile after this one: the next rows of this panel, else the first
  // rows of the next panel.
  Value *cNext = builder.CreateSelect(
      builder.CreateICmpULT(mNext, it.mEnd),
      gepF(ds.out, builder.CreateAdd(builder.CreateMul(mNext, c64(ds.ldc)),
                                     builder.CreateMul(p, c64(nr)))),
      cNextPanel);
  if (!ds.coldTile) {
    callDenseKernel(ds, kb, kernel, p, m, tilePrefetch(kb, next, t),
                    kb.pfStride, cNext);
    return;
  }
  // A cold source: the first pass over a row block (the group's first
  // panel) fetches the rows of the tile kColdPrefetchTiles on, and the
  // last pass (last panel and k block) the first rows of the next row
  // block, where the next item starts; the passes between find them in L2.
  Value *mAhead = builder.CreateAdd(m, c64(kColdPrefetchTiles * mrMax));
  Value *inBlock =
      builder.CreateICmpULE(builder.CreateAdd(mAhead, c64(mrMax)), it.mTail);
  Value *nextBlock =
      builder.CreateAdd(it.mEnd, builder.CreateSub(mAhead, it.mTail));
  Value *use = builder.CreateAnd(
      ds.coldSource,
      builder.CreateSelect(inBlock, builder.CreateICmpEQ(p, it.pBeg),
                           builder.CreateAnd(isLastPanel(it, p), kb.lastK)));
  Value *aheadPtr = builder.CreateSelect(
      inBlock, denseRowPtr(ds, kb, mAhead),
      builder.CreateGEP(f32, ds.in, builder.CreateMul(nextBlock, c64(ds.lda))));
  Function *fn = builder.GetInsertBlock()->getParent();
  BasicBlock *coldBB = BasicBlock::Create(ctx, "tile.cold", fn);
  BasicBlock *warmBB = BasicBlock::Create(ctx, "tile.warm", fn);
  BasicBlock *doneBB = BasicBlock::Create(ctx, "tile.done", fn);
  builder.CreateCondBr(use, coldBB, warmBB);
  builder.SetInsertPoint(coldBB);
  callDenseKernel(ds, kb, ds.coldTile, p, m, tilePrefetch(kb, next, t),
                  kb.pfStride, cNext, aheadPtr);
  builder.CreateBr(doneBB);
  builder.SetInsertPoint(warmBB);
  callDenseKernel(ds, kb, kernel, p, m, tilePrefetch(kb, next, t), kb.pfStride,
                  cNext);
  builder.CreateBr(doneBB);
  builder.SetInsertPoint(doneBB);
}

void ModelEmitter::emitGemvRow(const DenseStage &ds, const DenseItem &it,
                               const DenseKBlock &kb) {
  // A single remaining row: gemvPanels panels per call, then a switch on
  // the panels left.
  unsigned pgMax = ds.pl.gemvPanels;
  Function *fn = builder.GetInsertBlock()->getParent();
  BasicBlock *gemvBB = BasicBlock::Create(ctx, "gemv", fn);
  BasicBlock *gemvDone = BasicBlock::Create(ctx, "gemv.done", fn);
  builder.CreateCondBr(builder.CreateICmpEQ(it.rem, c64(1)), gemvBB, gemvDone);
  builder.SetInsertPoint(gemvBB);
  Value *nP = builder.CreateSub(it.pEnd, it.pBeg);
  Value *pFullEnd = builder.CreateAdd(
      it.pBeg,
      builder.CreateMul(builder.CreateUDiv(nP, c64(pgMax)), c64(pgMax)));
  emitForEach(it.pBeg, pFullEnd, c64(pgMax), [&](Value *p) {
    callDenseKernel(ds, kb, ds.gemv[pgMax], p, it.mTail, nullptr, nullptr);
  });
  emitSwitch(builder.CreateSub(it.pEnd, pFullEnd), 1, pgMax, [&](unsigned q) {
    callDenseKernel(ds, kb, ds.gemv[q], pFullEnd, it.mTail, nullptr, nullptr);
  });
  builder.CreateBr(gemvDone);
  builder.SetInsertPoint(gemvDone);
}

} // namespace seqc::codegen::cpu
