//===- ModelEmitter.cpp - Fused IR to LLVM IR -----------------------------===//
//
// Part of seqc. Builds one LLVM module per model: packed weights as 64-byte
// aligned private constants, one task function per stage (a Dense layer, a
// row-wise op, or the whole network when it is tiny), register-blocked SIMD
// microkernels with the bias and activation applied before the store, and
// the exported PREFIX_run / PREFIX_run_parallel / PREFIX_scratch_bytes.
// See docs/cpu-backend.md for the contract and the kernel design.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cpu/CpuBackend.h"
#include "compiler/codegen/cpu/Internal.h"
#include "compiler/codegen/cpu/Plan.h"

#include "compiler/support/Limits.h"

#include "llvm/IR/Constants.h"
#include "llvm/IR/GlobalIFunc.h"
#include "llvm/IR/InlineAsm.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/MC/MCSubtargetInfo.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>

using namespace llvm;

namespace seqc::codegen::cpu {

KernelConfig kernelConfigFor(const TargetMachine &tm) {
  KernelConfig cfg;
  const Triple &triple = tm.getTargetTriple();
  const MCSubtargetInfo *sti = tm.getMCSubtargetInfo();
  cfg.cpu = tm.getTargetCPU().str();
  cfg.features = tm.getTargetFeatureString().str();
  if (triple.isX86()) {
    if (sti->checkFeatures("+avx512f")) {
      cfg.vectorWidth = 16;
      cfg.vectorRegs = 32;
      cfg.wideVectors = true;
    } else if (sti->checkFeatures("+avx")) {
      cfg.vectorWidth = 8;
      cfg.vectorRegs = 16;
    } else {
      cfg.vectorWidth = 4;
      cfg.vectorRegs = 16;
    }
  } else if (triple.isAArch64()) {
    cfg.vectorWidth = 4;
    cfg.vectorRegs = 32;
  } else {
    cfg.vectorWidth = 4;
    cfg.vectorRegs = 16;
  }
  cfg.maxNrVecs = 2;
  cfg.maxMr = 12;
  return cfg;
}

DensePlan planDense(const ir::Op &op, const KernelConfig &cfg) {
  DensePlan p;
  p.k = op.inFeatures;
  p.n = op.outFeatures;
  unsigned vw = cfg.vectorWidth;
  p.nrVecs = static_cast<unsigned>(
      std::min<uint64_t>(cfg.maxNrVecs, (p.n + vw - 1) / vw));
  p.nr = p.nrVecs * vw;
  // Accumulators plus the B vectors and one broadcast must fit the file.
  unsigned accBudget = cfg.vectorRegs - p.nrVecs - 2;
  p.mr = std::max(1u, std::min(cfg.maxMr, accBudget / p.nrVecs));
  p.panels = (p.n + p.nr - 1) / p.nr;
  // The B micro-panel (kc x nr) stays in L1: about 32 KiB. k is cut into
  // blocks of equal size (so no short last block pays a full pass over C).
  uint64_t kcTarget = std::max<uint64_t>(64, 8192 / p.nr);
  if (p.k <= kcTarget * 3 / 2) {
    p.kc = std::max<uint64_t>(p.k, 1);
  } else {
    uint64_t blocks = (p.k + kcTarget - 1) / kcTarget;
    p.kc = (p.k + blocks - 1) / blocks;
  }
  // The A block (mc x kc) stays in L2: about 256 KiB.
  uint64_t mc = 262144 / (4 * p.kc);
  mc = std::clamp<uint64_t>(mc / p.mr * p.mr, p.mr, 20 * p.mr);
  p.mc = mc;
  // A single row (batch 1, or the last row of a block) is a matrix-vector
  // product: one broadcast of A feeds gemvPanels adjacent panels, so the
  // loads of packed weights, not the broadcasts, set the pace, and enough
  // independent accumulators hide the FMA latency without splitting k.
  p.gemvPanels = p.mr == 1 ? 1
                           : static_cast<unsigned>(std::clamp<uint64_t>(
                                 cfg.vectorRegs / 2 / p.nrVecs, 1, p.panels));
  // Up to 8 panel groups, so one row block still splits across threads; a
  // group holds whole gemvPanels runs.
  p.panelsPerGroup = (p.panels + 7) / 8;
  p.panelsPerGroup =
      std::min<uint64_t>(p.panels, (p.panelsPerGroup + p.gemvPanels - 1) /
                                       p.gemvPanels * p.gemvPanels);
  p.groups = (p.panels + p.panelsPerGroup - 1) / p.panelsPerGroup;
  return p;
}

namespace {

using LoopBody = std::function<std::vector<Value *>(
    Value *iv, const std::vector<Value *> &carried)>;

class ModelEmitter {
public:
  ModelEmitter(const ir::Model &model, const std::string &prefix,
               const KernelConfig &cfg, LLVMContext &ctx, Module &mod,
               bool exportSymbols, bool profile)
      : model(model), prefix(prefix), cfg(cfg), ctx(ctx), mod(mod), b(ctx),
        math(b), exportSymbols(exportSymbols), profile(profile) {
    f32 = b.getFloatTy();
    f64 = b.getDoubleTy();
    i64 = b.getInt64Ty();
    i32 = b.getInt32Ty();
    ptrTy = PointerType::getUnqual(ctx);
    voidTy = b.getVoidTy();
    vecTy = FixedVectorType::get(f32, cfg.vectorWidth);
    taskTy = FunctionType::get(voidTy, {ptrTy, i64, i64}, false);
    // {src, dst, rows, scratch 0, scratch 1}: stages read the first three,
    // the fused stage all five.
    ctxTy = StructType::get(ctx, {ptrTy, ptrTy, i64, ptrTy, ptrTy});
  }

  /// Emits the model; returns the stages PREFIX_run goes through.
  std::vector<StageInfo> emit();

private:
  struct Stage {
    Function *fn = nullptr;
    /// Work items = ceil(batch / rowsPerItem) * itemsPerRowBlock; with
    /// rowAlign > 0, rowsPerItem is the largest row block and the blocks are
    /// evened out at run time (see rowBlockRows).
    uint64_t rowsPerItem = 1;
    uint64_t rowAlign = 0;
    uint64_t itemsPerRowBlock = 1;
    /// Buffers: 0 = input, 1 = output, 2/3 = scratch buffers 0/1.
    int src = 0;
    int dst = 1;
    /// Rough multiply-adds per row, to keep small stages off the pool.
    uint64_t workPerRow = 1;
    /// Row strides (floats) of src and dst.
    uint64_t srcStride = 0, dstStride = 0;
    /// A fused stage: row blocks of fusedBlockRows(rows, rowsPerItem).
    bool fusedRows = false;
  };

  /// Rows per item of a fused stage: at most `maxRows`, but small enough
  /// that a small batch still makes about 8 items to share out (multiples
  /// of 12 rows, i.e. of every microkernel height).
  Value *fusedBlockRows(Value *rows, uint64_t maxRows) {
    Value *share = b.CreateUDiv(b.CreateAdd(rows, c64(7)), c64(8));
    Value *aligned = b.CreateMul(
        b.CreateUDiv(b.CreateAdd(share, c64(11)), c64(12)), c64(12));
    // Never 0 (a divisor in stageItems), even for rows == 0.
    aligned = b.CreateBinaryIntrinsic(Intrinsic::umax, aligned, c64(12));
    return b.CreateBinaryIntrinsic(Intrinsic::umin, aligned, c64(maxRows));
  }

  /// Work items of `st` for a batch of `rows` rows.
  Value *stageItems(const Stage &st, Value *rows) {
    Value *blockRows = st.fusedRows ? fusedBlockRows(rows, st.rowsPerItem)
                       : st.rowAlign
                           ? rowBlockRows(rows, st.rowsPerItem, st.rowAlign)
                           : c64(st.rowsPerItem);
    Value *blocks = b.CreateUDiv(
        b.CreateAdd(rows, b.CreateSub(blockRows, c64(1))), blockRows);
    return b.CreateMul(blocks, c64(st.itemsPerRowBlock));
  }

  /// Networks whose packed weights total at most this many bytes run as one
  /// fused stage (emitFusedStage), their weights staying in L2.
  static constexpr uint64_t kFuseMaxWeightBytes = 256 << 10;
  /// Bytes of one row block's input plus output activations in a fused
  /// stage: they stay in L2 between layers.
  static constexpr uint64_t kFuseBlockBytes = 128 << 10;
  Stage emitFusedStage(const std::vector<Stage> &stages, uint64_t maxRows);

  /// Below this many multiply-adds (about 5 us of work on one core) a stage
  /// runs on the calling thread. Above it sharing pays even when a worker is
  /// slow to wake, since the pool's caller then claims the items itself and
  /// does not wait for it (2 threads on mnist at batch 1: 42 -> 24 us; at
  /// 2^21, the bound before the pool handed work out dynamically, its layers
  /// all ran serially).
  static constexpr uint64_t kMinParallelWork = 1u << 18;

  Function *newFunction(FunctionType *ty, const std::string &name,
                        bool exported);
  /// Bytes of a Dense layer's packed (panel-padded) weights.
  static uint64_t packedWeightBytes(const DensePlan &pl) {
    return pl.k * pl.panels * pl.nr * 4;
  }
  /// Whether a Dense layer's packed weights are too big for L2 (512 KiB),
  /// so that they stream from L3 or memory and are worth prefetching.
  static bool streamsWeights(const DensePlan &pl) {
    return packedWeightBytes(pl) > (uint64_t(1) << 19);
  }
  /// Rows per block when `rows` rows are cut into blocks of at most
  /// `maxRows` (a multiple of `align`) of nearly equal size, each a multiple
  /// of `align`: so no thread is left with a short last block while
  /// another still has a full one.
  Value *rowBlockRows(Value *rows, uint64_t maxRows, uint64_t align) {
    Value *blocks = b.CreateBinaryIntrinsic(
        Intrinsic::umax,
        b.CreateUDiv(b.CreateAdd(rows, c64(maxRows - 1)), c64(maxRows)),
        c64(1));
    Value *even =
        b.CreateUDiv(b.CreateAdd(rows, b.CreateSub(blocks, c64(1))), blocks);
    Value *aligned =
        b.CreateMul(b.CreateUDiv(b.CreateAdd(even, c64(align - 1)), c64(align)),
                    c64(align));
    return b.CreateBinaryIntrinsic(Intrinsic::umin, aligned, c64(maxRows));
  }
  std::vector<Value *> emitLoop(Value *begin, Value *end, Value *step,
                                std::vector<Value *> init,
                                const LoopBody &body);
  void emitForEach(Value *begin, Value *end, Value *step,
                   const std::function<void(Value *)> &body) {
    emitLoop(begin, end, step, {},
             [&](Value *iv, const std::vector<Value *> &) {
               body(iv);
               return std::vector<Value *>{};
             });
  }
  Value *c64(uint64_t v) { return ConstantInt::get(i64, v); }
  Value *gepF(Value *base, Value *index) {
    return b.CreateInBoundsGEP(f32, base, index);
  }
  GlobalVariable *constantArray(const std::vector<float> &data,
                                const std::string &name);
  GlobalVariable *constantArrayD(const std::vector<double> &data,
                                 const std::string &name);
  const std::vector<float> *paramData(ir::ParamId id) const {
    return id == ir::kNoParam ? nullptr : &model.params[id].data.data;
  }
  Value *maskFor(unsigned lanes, uint64_t valid);
  Value *loadRowVec(Value *row, Value *col, Value *mask, Value *passThru);
  void storeRowVec(Value *v, Value *row, Value *col, Value *mask);
  std::vector<Value *>
  rowLoop(uint64_t features, std::vector<Value *> init,
          const std::function<std::vector<Value *>(
              Value *col, Value *mask, const std::vector<Value *> &)> &body);

  // Dense layers.
  Function *emitMicrokernel(const ir::Op &op, const DensePlan &plan,
                            unsigned mr, unsigned pg, unsigned opIndex);
  /// `lda`/`ldc`: row strides (floats) of the layer's input and output.
  Stage emitDenseStage(const ir::Op &op, unsigned opIndex, uint64_t lda,
                       uint64_t ldc);
  // Row-wise ops on [rows, F] buffers.
  Stage emitRowStage(const ir::Op &op, unsigned opIndex, bool inPlaceNorm,
                     uint64_t inStride, uint64_t outStride);
  void emitRowOp(const ir::Op &op, unsigned opIndex, Value *inRow,
                 Value *outRow, bool inPlaceNorm);
  void emitRowSoftmax(Value *inRow, Value *outRow, uint64_t features,
                      bool logForm);
  // Tiny networks: the whole chain, SIMD across rows.
  Stage emitTinyStage();
  std::vector<Value *> emitTinyChain(std::vector<Value *> feats);
  std::vector<Value *> tinySoftmax(std::vector<Value *> feats, bool logForm);

  void emitScratchBytes(const ModelPlan &plan);
  void emitRun(const ModelPlan &plan, const std::vector<Stage> &stages);
  /// Profiling builds: `if (hook) hook(user, mark)` through the globals
  /// PREFIX_profile_hook and PREFIX_profile_user.
  void emitProfileMark(uint32_t mark);

  const ir::Model &model;
  std::string prefix;
  const KernelConfig &cfg;
  LLVMContext &ctx;
  Module &mod;
  IRBuilder<> b;
  MathEmitter math;
  Type *f32, *f64, *i64, *i32, *ptrTy, *voidTy;
  FixedVectorType *vecTy;
  FunctionType *taskTy;
  StructType *ctxTy;
  Function *scratchFn = nullptr;
  bool exportSymbols;
  bool profile;
  GlobalVariable *profileHook = nullptr, *profileUser = nullptr;
};

Function *ModelEmitter::newFunction(FunctionType *ty, const std::string &name,
                                    bool exported) {
  Function *f =
      Function::Create(ty,
                       exported && exportSymbols ? GlobalValue::ExternalLinkage
                                                 : GlobalValue::InternalLinkage,
                       name, mod);
  f->addFnAttr(Attribute::NoUnwind);
  if (!cfg.cpu.empty())
    f->addFnAttr("target-cpu", cfg.cpu);
  if (!cfg.features.empty())
    f->addFnAttr("target-features", cfg.features);
  if (cfg.wideVectors) {
    f->addFnAttr("prefer-vector-width", "512");
    f->addFnAttr("min-legal-vector-width", "512");
  }
  return f;
}

std::vector<Value *> ModelEmitter::emitLoop(Value *begin, Value *end,
                                            Value *step,
                                            std::vector<Value *> init,
                                            const LoopBody &body) {
  Function *fn = b.GetInsertBlock()->getParent();
  BasicBlock *pre = b.GetInsertBlock();
  BasicBlock *loop = BasicBlock::Create(ctx, "loop", fn);
  BasicBlock *exit = BasicBlock::Create(ctx, "loop.exit", fn);
  b.CreateCondBr(b.CreateICmpSLT(begin, end), loop, exit);
  b.SetInsertPoint(loop);
  PHINode *iv = b.CreatePHI(i64, 2, "iv");
  iv->addIncoming(begin, pre);
  std::vector<PHINode *> phis;
  std::vector<Value *> carried;
  for (Value *v : init) {
    PHINode *phi = b.CreatePHI(v->getType(), 2);
    phi->addIncoming(v, pre);
    phis.push_back(phi);
    carried.push_back(phi);
  }
  std::vector<Value *> next = body(iv, carried);
  BasicBlock *latch = b.GetInsertBlock();
  Value *ivNext = b.CreateAdd(iv, step);
  iv->addIncoming(ivNext, latch);
  for (size_t i = 0; i < phis.size(); ++i)
    phis[i]->addIncoming(next[i], latch);
  b.CreateCondBr(b.CreateICmpSLT(ivNext, end), loop, exit);
  b.SetInsertPoint(exit);
  std::vector<Value *> result;
  for (size_t i = 0; i < init.size(); ++i) {
    PHINode *phi = b.CreatePHI(init[i]->getType(), 2);
    phi->addIncoming(init[i], pre);
    phi->addIncoming(next[i], latch);
    result.push_back(phi);
  }
  return result;
}

GlobalVariable *ModelEmitter::constantArray(const std::vector<float> &data,
                                            const std::string &name) {
  Constant *init = ConstantDataArray::get(ctx, ArrayRef<float>(data));
  auto *gv = new GlobalVariable(mod, init->getType(), /*isConstant=*/true,
                                GlobalValue::PrivateLinkage, init,
                                prefix + "." + name);
  gv->setAlignment(Align(64));
  gv->setUnnamedAddr(GlobalValue::UnnamedAddr::Global);
  return gv;
}

GlobalVariable *ModelEmitter::constantArrayD(const std::vector<double> &data,
                                             const std::string &name) {
  Constant *init = ConstantDataArray::get(ctx, ArrayRef<double>(data));
  auto *gv = new GlobalVariable(mod, init->getType(), true,
                                GlobalValue::PrivateLinkage, init,
                                prefix + "." + name);
  gv->setAlignment(Align(64));
  gv->setUnnamedAddr(GlobalValue::UnnamedAddr::Global);
  return gv;
}

Value *ModelEmitter::maskFor(unsigned lanes, uint64_t valid) {
  std::vector<Constant *> bits;
  for (unsigned i = 0; i < lanes; ++i)
    bits.push_back(ConstantInt::getBool(ctx, i < valid));
  return ConstantVector::get(bits);
}

Value *ModelEmitter::loadRowVec(Value *row, Value *col, Value *mask,
                                Value *passThru) {
  Value *p = gepF(row, col);
  if (!mask)
    return b.CreateAlignedLoad(vecTy, p, Align(4));
  return b.CreateMaskedLoad(vecTy, p, Align(4), mask, passThru);
}

void ModelEmitter::storeRowVec(Value *v, Value *row, Value *col, Value *mask) {
  Value *p = gepF(row, col);
  if (!mask)
    b.CreateAlignedStore(v, p, Align(4));
  else
    b.CreateMaskedStore(v, p, Align(4), mask);
}

std::vector<Value *> ModelEmitter::rowLoop(
    uint64_t features, std::vector<Value *> init,
    const std::function<std::vector<Value *>(
        Value *, Value *, const std::vector<Value *> &)> &body) {
  unsigned vw = cfg.vectorWidth;
  uint64_t full = features / vw * vw;
  std::vector<Value *> state = std::move(init);
  if (full == vw) {
    state = body(c64(0), nullptr, state);
  } else if (full > 0) {
    state = emitLoop(c64(0), c64(full), c64(vw), state,
                     [&](Value *col, const std::vector<Value *> &carried) {
                       return body(col, nullptr, carried);
                     });
  }
  if (features % vw)
    state = body(c64(full), maskFor(vw, features % vw), state);
  return state;
}

//===----------------------------------------------------------------------===//
// Dense layers: packed weights and register-blocked microkernels.
//===----------------------------------------------------------------------===//

Function *ModelEmitter::emitMicrokernel(const ir::Op &op, const DensePlan &pl,
                                        unsigned mr, unsigned pg,
                                        unsigned opIndex) {
  // void ukr(A, lda, Bp, C, ldc, kc, flags, bias, nvalid, pf, pfStride): an
  // mr x (pg * nr) tile over pg adjacent packed panels (panel q's
  // micro-panel starts at Bp + q * k * nr, its columns at C + q * nr). When
  // the layer's weights stream from L3 or memory, step k of a one-panel
  // kernel prefetches the byte at pf + k * pfStride (the caller points it
  // at the micro-panel the next tiles will need); a wider single-row kernel
  // prefetches its own panels' streams instead. cNext is the output tile
  // the caller will pass next: it is prefetched for writing on entry, so
  // that tile's partial sums (or the lines its stores allocate) are in
  // cache by the time it starts.
  FunctionType *ft = FunctionType::get(
      voidTy,
      {ptrTy, i64, ptrTy, ptrTy, i64, i64, i32, ptrTy, i64, ptrTy, i64, ptrTy},
      false);
  Function *f = newFunction(
      ft, fmt::format("{}.dense{}.ukr{}x{}", prefix, opIndex, mr, pg * pl.nr),
      false);
  for (unsigned i : {0u, 2u, 3u, 7u})
    f->addParamAttr(i, Attribute::NoAlias);
  auto args = f->arg_begin();
  Value *a = &*args++, *lda = &*args++, *bp = &*args++, *c = &*args++;
  Value *ldc = &*args++, *kc = &*args++, *flags = &*args++;
  Value *bias = &*args++, *nvalid = &*args++;
  Value *pf = &*args++, *pfStride = &*args++, *cNext = &*args++;

  unsigned vw = cfg.vectorWidth, nrv = pl.nrVecs * pg;
  unsigned tile = mr * nrv;
  // Vector v of a row lies in panel v / nrVecs at column offset cOff(v).
  auto cOff = [&](unsigned v) {
    return uint64_t(v / pl.nrVecs) * pl.nr + uint64_t(v % pl.nrVecs) * vw;
  };
  auto bOff = [&](unsigned v) {
    return uint64_t(v / pl.nrVecs) * pl.k * pl.nr +
           uint64_t(v % pl.nrVecs) * vw;
  };
  // Independent accumulator sets over k hide the FMA latency of small tiles.
  unsigned sets = std::max(1u, std::min(4u, (8 + tile - 1) / tile));
  BasicBlock *entry = BasicBlock::Create(ctx, "entry", f);
  b.SetInsertPoint(entry);

  auto colMask = [&](unsigned v) {
    std::vector<Constant *> idx;
    for (unsigned l = 0; l < vw; ++l)
      idx.push_back(ConstantInt::get(i64, cOff(v) + l));
    Value *iota = ConstantVector::get(idx);
    return b.CreateICmpSLT(iota, b.CreateVectorSplat(vw, nvalid));
  };
  auto cPtr = [&](unsigned m, unsigned v) {
    return gepF(c, b.CreateAdd(b.CreateMul(c64(m), ldc), c64(cOff(v))));
  };

  if (mr > 1) {
    // Both ends of each row of the next tile (a row of nr floats spans at
    // most two lines).
    for (unsigned m = 0; m < mr; ++m)
      for (uint64_t off : {uint64_t(0), uint64_t(pg) * pl.nr - 1})
        b.CreateIntrinsic(
            Intrinsic::prefetch, {ptrTy},
            {gepF(cNext, b.CreateAdd(b.CreateMul(c64(m), ldc), c64(off))),
             b.getInt32(1), b.getInt32(3), b.getInt32(1)});
  }

  // Initial accumulators: zero on the first k block, else the partial sums.
  Value *zero = Constant::getNullValue(vecTy);
  Value *isFirst = b.CreateICmpNE(b.CreateAnd(flags, 1), b.getInt32(0));
  BasicBlock *loadBB = BasicBlock::Create(ctx, "load.c", f);
  BasicBlock *initBB = BasicBlock::Create(ctx, "init", f);
  b.CreateCondBr(isFirst, initBB, loadBB);
  b.SetInsertPoint(loadBB);
  std::vector<Value *> loaded;
  for (unsigned m = 0; m < mr; ++m)
    for (unsigned v = 0; v < nrv; ++v)
      loaded.push_back(
          b.CreateMaskedLoad(vecTy, cPtr(m, v), Align(4), colMask(v), zero));
  b.CreateBr(initBB);
  b.SetInsertPoint(initBB);
  std::vector<Value *> accs;
  for (unsigned s = 0; s < sets; ++s)
    for (unsigned i = 0; i < tile; ++i) {
      if (s > 0) {
        accs.push_back(zero);
        continue;
      }
      PHINode *phi = b.CreatePHI(vecTy, 2);
      phi->addIncoming(zero, entry);
      phi->addIncoming(loaded[i], loadBB);
      accs.push_back(phi);
    }

  Align bAlign(std::min<unsigned>(64, vw * 4));
  // When the layer's weights do not fit in L2 they stream from L3 or
  // memory (prefetches never fault):
  //  * a single row reads every panel once: each panel's stream is
  //    prefetched into L1 kPrefetchSteps k-steps ahead (measured on Zen 3:
  //    64 or 128 steps were clearly worse);
  //  * a tile reads a micro-panel the first tile of its panel brought into
  //    L1, so it prefetches the *next* micro-panel (pf) into L2 only, where
  //    it does not evict the one in use.
  constexpr uint64_t kPrefetchSteps = 32;
  bool prefetch = streamsWeights(pl);
  auto step = [&](Value *k, unsigned set, std::vector<Value *> &acc) {
    std::vector<Value *> bv;
    if (prefetch && pg == 1)
      b.CreateIntrinsic(
          Intrinsic::prefetch, {ptrTy},
          {b.CreateGEP(b.getInt8Ty(), pf, b.CreateMul(k, pfStride)),
           b.getInt32(0), b.getInt32(mr == 1 ? 3 : 2), b.getInt32(1)});
    for (unsigned v = 0; v < nrv; ++v) {
      Value *off = b.CreateAdd(b.CreateMul(k, c64(pl.nr)), c64(bOff(v)));
      if (prefetch && pg > 1 && (bOff(v) * 4) % 64 == 0)
        b.CreateIntrinsic(
            Intrinsic::prefetch, {ptrTy},
            {b.CreateGEP(f32, bp,
                         b.CreateAdd(off, c64(kPrefetchSteps * pl.nr))),
             b.getInt32(0), b.getInt32(3), b.getInt32(1)});
      bv.push_back(b.CreateAlignedLoad(vecTy, gepF(bp, off), bAlign));
    }
    for (unsigned m = 0; m < mr; ++m) {
      Value *av = b.CreateAlignedLoad(
          f32, gepF(a, b.CreateAdd(b.CreateMul(c64(m), lda), k)), Align(4));
      Value *splat = b.CreateVectorSplat(vw, av);
      for (unsigned v = 0; v < nrv; ++v) {
        Value *&slot = acc[set * tile + m * nrv + v];
        slot = math.mulAdd(splat, bv[v], slot);
      }
    }
  };
  Value *kMain = b.CreateSub(kc, b.CreateURem(kc, c64(sets)));
  accs = emitLoop(c64(0), kMain, c64(sets), accs,
                  [&](Value *k, const std::vector<Value *> &carried) {
                    std::vector<Value *> acc = carried;
                    for (unsigned s = 0; s < sets; ++s)
                      step(b.CreateAdd(k, c64(s)), s, acc);
                    return acc;
                  });
  if (sets > 1) {
    std::vector<Value *> set0(accs.begin(), accs.begin() + tile);
    set0 = emitLoop(kMain, kc, c64(1), set0,
                    [&](Value *k, const std::vector<Value *> &carried) {
                      std::vector<Value *> acc = carried;
                      step(k, 0, acc);
                      return acc;
                    });
    for (unsigned i = 0; i < tile; ++i) {
      Value *sum = set0[i];
      for (unsigned s = 1; s < sets; ++s)
        sum = b.CreateFAdd(sum, accs[s * tile + i]);
      set0[i] = sum;
    }
    accs = set0;
  }

  // Epilogue: on the last k block add the bias and apply the activation in
  // registers, then store (masked on the last panel).
  Value *isLast = b.CreateICmpNE(b.CreateAnd(flags, 2), b.getInt32(0));
  BasicBlock *before = b.GetInsertBlock();
  BasicBlock *lastBB = BasicBlock::Create(ctx, "epilogue", f);
  BasicBlock *storeBB = BasicBlock::Create(ctx, "store", f);
  b.CreateCondBr(isLast, lastBB, storeBB);
  b.SetInsertPoint(lastBB);
  std::vector<Value *> finished;
  std::vector<Value *> biasVec;
  if (op.bias != ir::kNoParam)
    for (unsigned v = 0; v < nrv; ++v)
      biasVec.push_back(
          b.CreateAlignedLoad(vecTy, gepF(bias, c64(cOff(v))), bAlign));
  for (unsigned m = 0; m < mr; ++m)
    for (unsigned v = 0; v < nrv; ++v) {
      Value *x = accs[m * nrv + v];
      if (!biasVec.empty())
        x = b.CreateFAdd(x, biasVec[v]);
      finished.push_back(math.activation(op.act, x));
    }
  BasicBlock *lastEnd = b.GetInsertBlock();
  b.CreateBr(storeBB);
  b.SetInsertPoint(storeBB);
  std::vector<Value *> out;
  for (unsigned i = 0; i < tile; ++i) {
    PHINode *phi = b.CreatePHI(vecTy, 2);
    phi->addIncoming(accs[i], before);
    phi->addIncoming(finished[i], lastEnd);
    out.push_back(phi);
  }
  BasicBlock *fullBB = BasicBlock::Create(ctx, "store.full", f);
  BasicBlock *maskBB = BasicBlock::Create(ctx, "store.masked", f);
  b.CreateCondBr(b.CreateICmpSGE(nvalid, c64(uint64_t(pg) * pl.nr)), fullBB,
                 maskBB);
  b.SetInsertPoint(fullBB);
  for (unsigned m = 0; m < mr; ++m)
    for (unsigned v = 0; v < nrv; ++v)
      b.CreateAlignedStore(out[m * nrv + v], cPtr(m, v), Align(4));
  b.CreateRetVoid();
  b.SetInsertPoint(maskBB);
  for (unsigned m = 0; m < mr; ++m)
    for (unsigned v = 0; v < nrv; ++v)
      b.CreateMaskedStore(out[m * nrv + v], cPtr(m, v), Align(4), colMask(v));
  b.CreateRetVoid();
  return f;
}

ModelEmitter::Stage ModelEmitter::emitDenseStage(const ir::Op &op,
                                                 unsigned opIndex, uint64_t lda,
                                                 uint64_t ldc) {
  DensePlan pl = planDense(op, cfg);
  // Pack W [n, k] into panels of nr columns: packed[p][k][j] = W[p*nr+j][k].
  const std::vector<float> &w = *paramData(op.weight);
  std::vector<float> packed(pl.panels * pl.k * pl.nr, 0.0f);
  for (uint64_t p = 0; p < pl.panels; ++p)
    for (uint64_t j = 0; j < pl.nr; ++j) {
      uint64_t col = p * pl.nr + j;
      if (col >= pl.n)
        continue;
      const float *wRow = w.data() + col * pl.k;
      float *dst = packed.data() + p * pl.k * pl.nr + j;
      for (uint64_t kk = 0; kk < pl.k; ++kk)
        dst[kk * pl.nr] = wRow[kk];
    }
  GlobalVariable *wG =
      constantArray(packed, fmt::format("dense{}.weight", opIndex));
  packed = {};
  GlobalVariable *biasG = nullptr;
  if (const std::vector<float> *bias = paramData(op.bias)) {
    std::vector<float> padded(pl.panels * pl.nr, 0.0f);
    std::copy(bias->begin(), bias->end(), padded.begin());
    biasG = constantArray(padded, fmt::format("dense{}.bias", opIndex));
  }
  std::vector<Function *> kernels(pl.mr + 1, nullptr);
  for (unsigned mr = 1; mr <= pl.mr; ++mr)
    kernels[mr] = emitMicrokernel(op, pl, mr, 1, opIndex);
  // Single-row kernels across 1..gemvPanels panels (index = panels).
  unsigned pgMax = pl.gemvPanels;
  std::vector<Function *> gemv(pgMax + 1, nullptr);
  gemv[1] = kernels[1];
  for (unsigned pg = 2; pg <= pgMax; ++pg)
    gemv[pg] = emitMicrokernel(op, pl, 1, pg, opIndex);

  Function *f =
      newFunction(taskTy, fmt::format("{}.dense{}", prefix, opIndex), false);
  auto args = f->arg_begin();
  Value *ctxArg = &*args++, *begin = &*args++, *end = &*args++;
  b.SetInsertPoint(BasicBlock::Create(ctx, "entry", f));
  Value *in = b.CreateLoad(ptrTy, b.CreateStructGEP(ctxTy, ctxArg, 0));
  Value *out = b.CreateLoad(ptrTy, b.CreateStructGEP(ctxTy, ctxArg, 1));
  Value *rows = b.CreateLoad(i64, b.CreateStructGEP(ctxTy, ctxArg, 2));
  Value *biasPtr = biasG ? static_cast<Value *>(biasG)
                         : ConstantPointerNull::get(cast<PointerType>(ptrTy));
  uint64_t k = pl.k, n = pl.n, nr = pl.nr, mrMax = pl.mr;
  Value *mcRows = rowBlockRows(rows, pl.mc, pl.mr);
  emitForEach(begin, end, c64(1), [&](Value *item) {
    Value *mb = b.CreateUDiv(item, c64(pl.groups));
    Value *g = b.CreateURem(item, c64(pl.groups));
    Value *m0 = b.CreateMul(mb, mcRows);
    Value *mEnd =
        b.CreateBinaryIntrinsic(Intrinsic::umin, b.CreateAdd(m0, mcRows), rows);
    Value *pBeg = b.CreateMul(g, c64(pl.panelsPerGroup));
    Value *pEnd = b.CreateBinaryIntrinsic(
        Intrinsic::umin, b.CreateAdd(pBeg, c64(pl.panelsPerGroup)),
        c64(pl.panels));
    Value *mCount = b.CreateSub(mEnd, m0);
    Value *nFull = b.CreateUDiv(mCount, c64(mrMax));
    Value *rem = b.CreateSub(mCount, b.CreateMul(nFull, c64(mrMax)));
    Value *mTail = b.CreateAdd(m0, b.CreateMul(nFull, c64(mrMax)));
    // A lone row takes k in one block: there is no A block to keep in
    // cache, and each weight stream then runs the whole of k instead of
    // restarting (and losing the hardware prefetcher) every kc steps.
    Value *kcStep =
        b.CreateSelect(b.CreateICmpEQ(mCount, c64(1)), c64(k), c64(pl.kc));
    emitForEach(c64(0), c64(k), kcStep, [&](Value *kc0) {
      Value *kc = b.CreateBinaryIntrinsic(Intrinsic::umin, kcStep,
                                          b.CreateSub(c64(k), kc0));
      Value *first = b.CreateZExt(b.CreateICmpEQ(kc0, c64(0)), i32);
      Value *last =
          b.CreateZExt(b.CreateICmpEQ(b.CreateAdd(kc0, kc), c64(k)), i32);
      Value *flags = b.CreateOr(first, b.CreateShl(last, 1));
      // The micro-panel that follows (p, kc0): the next panel of the group
      // in this k block, else the group's first panel in the next k block,
      // else (p, kc0) itself.
      auto nextMicroPanel = [&](Value *p) {
        Value *here =
            b.CreateAdd(b.CreateMul(p, c64(k * nr)), b.CreateMul(kc0, c64(nr)));
        Value *nextP = b.CreateAdd(here, c64(k * nr));
        Value *nextK = b.CreateAdd(b.CreateMul(pBeg, c64(k * nr)),
                                   b.CreateMul(b.CreateAdd(kc0, kc), c64(nr)));
        Value *lastP = b.CreateICmpEQ(b.CreateAdd(p, c64(1)), pEnd);
        Value *lastK = b.CreateICmpEQ(b.CreateAdd(kc0, kc), c64(k));
        return gepF(wG, b.CreateSelect(
                            lastP, b.CreateSelect(lastK, here, nextK), nextP));
      };
      // Calls `fn` on rows [m, m + its mr) and the panels from p on; `pf`
      // and `pfStride` as the kernel takes them.
      auto callKernel = [&](Function *fn, Value *p, Value *m, Value *pf,
                            Value *pfStride, Value *cNext = nullptr) {
        Value *bp = gepF(wG, b.CreateAdd(b.CreateMul(p, c64(k * nr)),
                                         b.CreateMul(kc0, c64(nr))));
        Value *cp = gepF(out, b.CreateMul(p, c64(nr)));
        Value *bias = biasG ? gepF(biasPtr, b.CreateMul(p, c64(nr))) : biasPtr;
        Value *nvalid = b.CreateSub(c64(n), b.CreateMul(p, c64(nr)));
        Value *aPtr = gepF(in, b.CreateAdd(b.CreateMul(m, c64(lda)), kc0));
        Value *cPtr = gepF(cp, b.CreateMul(m, c64(ldc)));
        if (!pf) {
          // Its own stream, kPrefetchSteps (32) k-steps ahead.
          pf = gepF(bp, c64(32 * nr));
          pfStride = c64(nr * 4);
        }
        if (!cNext)
          cNext = cPtr;
        b.CreateCall(fn, {aPtr, c64(lda), bp, cPtr, c64(ldc), kc, flags, bias,
                          nvalid, pf, pfStride, cNext});
      };
      // A switch on `v` with cases [first, count); others do nothing.
      auto emitSwitch = [&](Value *v, unsigned first, unsigned count,
                            const std::function<void(unsigned)> &body) {
        if (first >= count)
          return;
        Function *fn = b.GetInsertBlock()->getParent();
        BasicBlock *done = BasicBlock::Create(ctx, "sw.done", fn);
        SwitchInst *sw = b.CreateSwitch(v, done, count - first);
        for (unsigned r = first; r < count; ++r) {
          BasicBlock *caseBB = BasicBlock::Create(ctx, "sw.case", fn);
          sw->addCase(ConstantInt::get(cast<IntegerType>(i64), r), caseBB);
          b.SetInsertPoint(caseBB);
          body(r);
          b.CreateBr(done);
        }
        b.SetInsertPoint(done);
      };
      // Full tiles and remainders of 2 or more rows (1 too without the wide
      // single-row kernels) go panel by panel.
      // The weights of panel p are in L1 from its first tile on, so the
      // tiles prefetch the next micro-panel instead: tile t of T =
      // min(tiles, kPrefetchTiles) covers the t-th T-th of it (a 64-byte
      // line per k-step spread over T tiles), so it arrives from L3 or
      // memory while this one is being used.
      constexpr uint64_t kPrefetchTiles = 4;
      Value *tiles =
          b.CreateAdd(nFull, b.CreateZExt(b.CreateICmpNE(rem, c64(0)), i64));
      Value *spread = b.CreateBinaryIntrinsic(
          Intrinsic::umax,
          b.CreateBinaryIntrinsic(Intrinsic::umin, tiles, c64(kPrefetchTiles)),
          c64(1));
      Value *pfStride = b.CreateUDiv(c64(nr * 4), spread);
      auto tilePf = [&](Value *next, Value *t) {
        Value *part = b.CreateBinaryIntrinsic(Intrinsic::umin, t,
                                              b.CreateSub(spread, c64(1)));
        return b.CreateGEP(b.getInt8Ty(), next,
                           b.CreateMul(part, b.CreateMul(kc, pfStride)));
      };
      emitForEach(pBeg, pEnd, c64(1), [&](Value *p) {
        Value *next = nextMicroPanel(p);
        // The tile after (t, p): the next rows of this panel, else the
        // first rows of the next panel.
        Value *cNextPanel = gepF(
            out, b.CreateAdd(b.CreateMul(m0, c64(ldc)),
                             b.CreateMul(b.CreateAdd(p, c64(1)), c64(nr))));
        emitForEach(c64(0), nFull, c64(1), [&](Value *t) {
          Value *m = b.CreateAdd(m0, b.CreateMul(t, c64(mrMax)));
          Value *mNext = b.CreateAdd(m, c64(mrMax));
          Value *cNext =
              b.CreateSelect(b.CreateICmpULT(mNext, mEnd),
                             gepF(out, b.CreateAdd(b.CreateMul(mNext, c64(ldc)),
                                                   b.CreateMul(p, c64(nr)))),
                             cNextPanel);
          callKernel(kernels[mrMax], p, m, tilePf(next, t), pfStride, cNext);
        });
        emitSwitch(rem, pgMax > 1 ? 2 : 1, mrMax, [&](unsigned r) {
          // A lone row (no wide single-row kernels) streams the panel itself.
          if (r == 1)
            callKernel(kernels[r], p, mTail, nullptr, nullptr);
          else
            callKernel(kernels[r], p, mTail, tilePf(next, nFull), pfStride,
                       cNextPanel);
        });
      });
      if (pgMax > 1) {
        // A single remaining row: gemvPanels panels per call.
        Function *fn = b.GetInsertBlock()->getParent();
        BasicBlock *gemvBB = BasicBlock::Create(ctx, "gemv", fn);
        BasicBlock *gemvDone = BasicBlock::Create(ctx, "gemv.done", fn);
        b.CreateCondBr(b.CreateICmpEQ(rem, c64(1)), gemvBB, gemvDone);
        b.SetInsertPoint(gemvBB);
        Value *nP = b.CreateSub(pEnd, pBeg);
        Value *pFullEnd = b.CreateAdd(
            pBeg, b.CreateMul(b.CreateUDiv(nP, c64(pgMax)), c64(pgMax)));
        emitForEach(pBeg, pFullEnd, c64(pgMax), [&](Value *p) {
          callKernel(gemv[pgMax], p, mTail, nullptr, nullptr);
        });
        emitSwitch(b.CreateSub(pEnd, pFullEnd), 1, pgMax, [&](unsigned q) {
          callKernel(gemv[q], pFullEnd, mTail, nullptr, nullptr);
        });
        b.CreateBr(gemvDone);
        b.SetInsertPoint(gemvDone);
      }
    });
  });
  b.CreateRetVoid();
  Stage st;
  st.fn = f;
  st.rowsPerItem = pl.mc;
  st.rowAlign = pl.mr;
  st.itemsPerRowBlock = pl.groups;
  return st;
}

//===----------------------------------------------------------------------===//
// Row-wise ops.
//===----------------------------------------------------------------------===//

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
  Function *f = newFunction(
      taskTy,
      fmt::format("{}.{}{}", prefix, inPlaceNorm ? "rownorm" : "rows", opIndex),
      false);
  auto args = f->arg_begin();
  Value *ctxArg = &*args++, *begin = &*args++, *end = &*args++;
  b.SetInsertPoint(BasicBlock::Create(ctx, "entry", f));
  Value *in = b.CreateLoad(ptrTy, b.CreateStructGEP(ctxTy, ctxArg, 0));
  Value *out = b.CreateLoad(ptrTy, b.CreateStructGEP(ctxTy, ctxArg, 1));
  Value *rows = b.CreateLoad(i64, b.CreateStructGEP(ctxTy, ctxArg, 2));
  Value *r0 = b.CreateMul(begin, c64(rowsPerItem));
  Value *r1 = b.CreateBinaryIntrinsic(Intrinsic::umin,
                                      b.CreateMul(end, c64(rowsPerItem)), rows);
  emitForEach(r0, r1, c64(1), [&](Value *r) {
    Value *inRow = gepF(in, b.CreateMul(r, c64(inStride)));
    Value *outRow = gepF(out, b.CreateMul(r, c64(outStride)));
    emitRowOp(op, opIndex, inRow, outRow, inPlaceNorm);
  });
  b.CreateRetVoid();
  Stage st;
  st.fn = f;
  st.rowsPerItem = rowsPerItem;
  return st;
}

//===----------------------------------------------------------------------===//
// Tiny networks: straight-line code over the whole chain, rows in lanes.
//===----------------------------------------------------------------------===//

std::vector<Value *> ModelEmitter::tinySoftmax(std::vector<Value *> feats,
                                               bool logForm) {
  Value *m = feats[0];
  for (size_t i = 1; i < feats.size(); ++i)
    m = b.CreateSelect(b.CreateFCmpOLT(m, feats[i]), feats[i], m);
  Value *md = math.toDouble(m);
  std::vector<Value *> shifted, exps;
  Value *sum = nullptr;
  for (Value *x : feats) {
    Value *s = b.CreateFSub(math.toDouble(x), md);
    shifted.push_back(s);
    Value *e = math.expD(s);
    exps.push_back(e);
    sum = sum ? b.CreateFAdd(sum, e) : e;
  }
  Value *logSum = logForm ? math.logD(sum) : nullptr;
  for (size_t i = 0; i < feats.size(); ++i)
    feats[i] = math.toFloat(logForm ? b.CreateFSub(shifted[i], logSum)
                                    : b.CreateFDiv(exps[i], sum));
  return feats;
}

std::vector<Value *> ModelEmitter::emitTinyChain(std::vector<Value *> feats) {
  for (const ir::Op &op : model.ops) {
    Type *ty = feats.empty() ? nullptr : feats[0]->getType();
    switch (op.kind) {
    case ir::OpKind::Linear:
    case ir::OpKind::Dense: {
      const std::vector<float> &w = *paramData(op.weight);
      const std::vector<float> *bias = paramData(op.bias);
      std::vector<Value *> out;
      // Each output is the sum of `chains` interleaved multiply-add chains
      // (the first starts from the bias), added pairwise: at batch 1 the
      // chain's latency is the run time, and this costs no more operations
      // than one chain plus a bias add as long as chains <= 2 (at most
      // 3 more for the widest tiny layer).
      int64_t inF = op.inFeatures;
      int64_t chains = std::min<int64_t>(
          std::max<int64_t>(inF, 1),
          std::min<int64_t>(4, std::max<int64_t>(2, (inF + 3) / 4)));
      for (int64_t j = 0; j < op.outFeatures; ++j) {
        std::vector<Value *> part(chains, nullptr);
        if (bias)
          part[0] = ConstantFP::get(ty, (*bias)[j]);
        for (int64_t i = 0; i < inF; ++i) {
          Value *wv = ConstantFP::get(ty, w[j * inF + i]);
          Value *&acc = part[i % chains];
          acc =
              acc ? math.mulAdd(feats[i], wv, acc) : b.CreateFMul(feats[i], wv);
        }
        while (part.size() > 1) {
          std::vector<Value *> next;
          for (size_t q = 0; q + 1 < part.size(); q += 2)
            next.push_back(part[q] && part[q + 1]
                               ? b.CreateFAdd(part[q], part[q + 1])
                               : (part[q] ? part[q] : part[q + 1]));
          if (part.size() % 2)
            next.push_back(part.back());
          part = std::move(next);
        }
        Value *acc = part[0] ? part[0] : ConstantFP::get(ty, 0.0);
        if (op.kind == ir::OpKind::Dense)
          acc = math.activation(op.act, acc);
        out.push_back(acc);
      }
      feats = std::move(out);
      if (op.kind == ir::OpKind::Dense && op.rowNorm != ir::RowNorm::None)
        feats = tinySoftmax(std::move(feats),
                            op.rowNorm == ir::RowNorm::LogSoftmax);
      break;
    }
    case ir::OpKind::Act:
      for (Value *&x : feats)
        x = math.activation(op.act, x);
      break;
    case ir::OpKind::Softmax:
    case ir::OpKind::LogSoftmax:
      feats = tinySoftmax(std::move(feats), op.kind == ir::OpKind::LogSoftmax);
      break;
    case ir::OpKind::Identity:
      break;
    case ir::OpKind::Affine:
    case ir::OpKind::BatchNorm:
    case ir::OpKind::LayerNorm: {
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
          mean = mean ? b.CreateFAdd(mean, x) : x;
        mean = b.CreateFDiv(mean, ConstantFP::get(dty, count));
        Value *var = nullptr;
        for (Value *x : xd) {
          Value *d = b.CreateFSub(x, mean);
          var = var ? math.mulAdd(d, d, var) : b.CreateFMul(d, d);
        }
        var = b.CreateFDiv(var, ConstantFP::get(dty, count));
        inv =
            b.CreateFDiv(ConstantFP::get(dty, 1.0),
                         b.CreateUnaryIntrinsic(
                             Intrinsic::sqrt,
                             b.CreateFAdd(var, ConstantFP::get(dty, op.eps))));
      }
      for (size_t c = 0; c < feats.size(); ++c) {
        Value *y = xd[c];
        if (op.kind == ir::OpKind::LayerNorm)
          y = b.CreateFMul(b.CreateFSub(y, mean), inv);
        if (op.kind == ir::OpKind::BatchNorm) {
          double mu = (*paramData(op.runningMean))[c];
          double sd = std::sqrt(
              static_cast<double>((*paramData(op.runningVar))[c]) + op.eps);
          y = b.CreateFDiv(b.CreateFSub(y, ConstantFP::get(dty, mu)),
                           ConstantFP::get(dty, sd));
        }
        if (w)
          y = b.CreateFMul(y,
                           ConstantFP::get(dty, static_cast<double>((*w)[c])));
        if (bias)
          y = b.CreateFAdd(
              y, ConstantFP::get(dty, static_cast<double>((*bias)[c])));
        feats[c] = math.toFloat(y);
      }
      break;
    }
    }
  }
  return feats;
}

ModelEmitter::Stage ModelEmitter::emitTinyStage() {
  uint64_t inF = model.inputType().features();
  uint64_t outF = model.outputType().features();
  const uint64_t rowsPerItem = 1024;
  Function *f = newFunction(taskTy, prefix + ".tiny", false);
  // Inlined into PREFIX_run's serial path, so batch 1 pays no call and no
  // round trip of the buffer pointers through the task context.
  f->addFnAttr(Attribute::AlwaysInline);
  auto args = f->arg_begin();
  Value *ctxArg = &*args++, *begin = &*args++, *end = &*args++;
  b.SetInsertPoint(BasicBlock::Create(ctx, "entry", f));
  Value *in = b.CreateLoad(ptrTy, b.CreateStructGEP(ctxTy, ctxArg, 0));
  Value *out = b.CreateLoad(ptrTy, b.CreateStructGEP(ctxTy, ctxArg, 1));
  Value *rows = b.CreateLoad(i64, b.CreateStructGEP(ctxTy, ctxArg, 2));
  Value *r0 = b.CreateMul(begin, c64(rowsPerItem));
  Value *r1 = b.CreateBinaryIntrinsic(Intrinsic::umin,
                                      b.CreateMul(end, c64(rowsPerItem)), rows);
  unsigned lanes = cfg.vectorWidth;
  auto block = [&](Value *r, unsigned l) {
    Type *ty = FixedVectorType::get(f32, l);
    std::vector<Value *> feats;
    for (uint64_t i = 0; i < inF; ++i) {
      Value *v = PoisonValue::get(ty);
      for (unsigned lane = 0; lane < l; ++lane) {
        Value *idx = b.CreateAdd(
            b.CreateMul(b.CreateAdd(r, c64(lane)), c64(inF)), c64(i));
        v = b.CreateInsertElement(
            v, b.CreateAlignedLoad(f32, gepF(in, idx), Align(4)),
            static_cast<uint64_t>(lane));
      }
      feats.push_back(v);
    }
    feats = emitTinyChain(std::move(feats));
    for (uint64_t j = 0; j < outF; ++j)
      for (unsigned lane = 0; lane < l; ++lane) {
        Value *idx = b.CreateAdd(
            b.CreateMul(b.CreateAdd(r, c64(lane)), c64(outF)), c64(j));
        b.CreateAlignedStore(
            b.CreateExtractElement(feats[j], static_cast<uint64_t>(lane)),
            gepF(out, idx), Align(4));
      }
  };
  // Full blocks of `lanes` rows, then single rows.
  Value *count = b.CreateSub(r1, r0);
  Value *fullEnd =
      b.CreateAdd(r0, b.CreateMul(b.CreateUDiv(count, c64(lanes)), c64(lanes)));
  emitForEach(r0, fullEnd, c64(lanes), [&](Value *r) { block(r, lanes); });
  emitForEach(fullEnd, r1, c64(1), [&](Value *r) { block(r, 1); });
  b.CreateRetVoid();
  Stage st;
  st.fn = f;
  st.rowsPerItem = rowsPerItem;
  return st;
}

//===----------------------------------------------------------------------===//
// Fused stages: the whole chain, one row block at a time.
//===----------------------------------------------------------------------===//

ModelEmitter::Stage
ModelEmitter::emitFusedStage(const std::vector<Stage> &stages,
                             uint64_t maxRows) {
  Function *f = newFunction(taskTy, prefix + ".fused", false);
  auto args = f->arg_begin();
  Value *ctxArg = &*args++, *begin = &*args++, *end = &*args++;
  b.SetInsertPoint(BasicBlock::Create(ctx, "entry", f));
  Value *local = b.CreateAlloca(ctxTy);
  Value *bufs[4];
  for (unsigned i = 0; i < 4; ++i)
    bufs[i] = b.CreateLoad(ptrTy,
                           b.CreateStructGEP(ctxTy, ctxArg, i < 2 ? i : i + 1));
  Value *rows = b.CreateLoad(i64, b.CreateStructGEP(ctxTy, ctxArg, 2));
  Value *blockRows = fusedBlockRows(rows, maxRows);
  emitForEach(begin, end, c64(1), [&](Value *item) {
    Value *r0 = b.CreateMul(item, blockRows);
    Value *n = b.CreateBinaryIntrinsic(Intrinsic::umin, blockRows,
                                       b.CreateSub(rows, r0));
    // Each stage on rows [r0, r0 + n) of its buffers, on this thread.
    for (const Stage &st : stages) {
      b.CreateStore(gepF(bufs[st.src], b.CreateMul(r0, c64(st.srcStride))),
                    b.CreateStructGEP(ctxTy, local, 0));
      b.CreateStore(gepF(bufs[st.dst], b.CreateMul(r0, c64(st.dstStride))),
                    b.CreateStructGEP(ctxTy, local, 1));
      b.CreateStore(n, b.CreateStructGEP(ctxTy, local, 2));
      b.CreateCall(taskTy, st.fn, {local, c64(0), stageItems(st, n)});
    }
  });
  b.CreateRetVoid();
  Stage fused;
  fused.fn = f;
  fused.rowsPerItem = maxRows;
  fused.fusedRows = true;
  fused.src = 0;
  fused.dst = 1;
  fused.workPerRow = 0;
  for (const Stage &st : stages)
    fused.workPerRow += st.workPerRow;
  return fused;
}

//===----------------------------------------------------------------------===//
// Exported entry points.
//===----------------------------------------------------------------------===//

void ModelEmitter::emitScratchBytes(const ModelPlan &plan) {
  FunctionType *ft = FunctionType::get(i64, {i64}, false);
  scratchFn = newFunction(ft, prefix + "_scratch_bytes", true);
  Value *rows = &*scratchFn->arg_begin();
  b.SetInsertPoint(BasicBlock::Create(ctx, "entry", scratchFn));
  if (plan.scratchBuffers == 0) {
    b.CreateRet(c64(0));
    return;
  }
  // 0 for batch 0, SIZE_MAX above the batch limit, else
  // 64 + buffers * roundup(batch * maxFeatures * 4, 64).
  Value *per = b.CreateAnd(
      b.CreateAdd(b.CreateMul(rows, c64(plan.scratchFeatures * 4)), c64(63)),
      c64(~uint64_t(63)));
  Value *total =
      b.CreateAdd(c64(64), b.CreateMul(per, c64(plan.scratchBuffers)));
  total = b.CreateSelect(b.CreateICmpUGT(rows, c64(limits::kMaxBatch)),
                         c64(~uint64_t(0)), total);
  total = b.CreateSelect(b.CreateICmpEQ(rows, c64(0)), c64(0), total);
  b.CreateRet(total);
}

void ModelEmitter::emitRun(const ModelPlan &plan,
                           const std::vector<Stage> &stages) {
  // int PREFIX_run_parallel(in, out, batch, scratch, parallel_for, pool)
  FunctionType *ft =
      FunctionType::get(i32, {ptrTy, ptrTy, i64, ptrTy, ptrTy, ptrTy}, false);
  Function *f = newFunction(ft, prefix + "_run_parallel", true);
  auto args = f->arg_begin();
  Value *in = &*args++, *out = &*args++, *rows = &*args++;
  Value *scratch = &*args++, *pf = &*args++, *pool = &*args++;
  BasicBlock *entry = BasicBlock::Create(ctx, "entry", f);
  BasicBlock *fail = BasicBlock::Create(ctx, "fail", f);
  b.SetInsertPoint(fail);
  PHINode *code = b.CreatePHI(i32, 4);
  b.CreateRet(code);
  b.SetInsertPoint(entry);
  auto check = [&](Value *bad, int status) {
    BasicBlock *ok = BasicBlock::Create(ctx, "ok", f);
    code->addIncoming(b.getInt32(status), b.GetInsertBlock());
    b.CreateCondBr(bad, fail, ok);
    b.SetInsertPoint(ok);
  };
  check(b.CreateICmpEQ(rows, c64(0)), kRunOk);
  check(b.CreateICmpUGT(rows, c64(limits::kMaxBatch)), kRunBatchTooLarge);
  check(b.CreateOr(b.CreateIsNull(in), b.CreateIsNull(out)), kRunNullPointer);
  Value *need = b.CreateCall(scratchFn, {rows});
  check(b.CreateAnd(b.CreateICmpNE(need, c64(0)), b.CreateIsNull(scratch)),
        kRunNullScratch);
  // Align the scratch buffer to 64 bytes.
  Value *addr = b.CreatePtrToInt(scratch, i64);
  Value *pad = b.CreateAnd(b.CreateNeg(addr), c64(63));
  Value *base = b.CreateGEP(b.getInt8Ty(), scratch, pad);
  Value *per = b.CreateAnd(
      b.CreateAdd(b.CreateMul(rows, c64(plan.scratchFeatures * 4)), c64(63)),
      c64(~uint64_t(63)));
  Value *bufs[4] = {in, out, base, b.CreateGEP(b.getInt8Ty(), base, per)};
  // In the entry block, so the frame is fixed (no dynamic stack pointer).
  Value *ctxPtr;
  {
    IRBuilderBase::InsertPointGuard guard(b);
    b.SetInsertPoint(entry, entry->getFirstInsertionPt());
    ctxPtr = b.CreateAlloca(ctxTy);
  }
  // The scratch buffers, for a fused stage (the same for every stage).
  b.CreateStore(bufs[2], b.CreateStructGEP(ctxTy, ctxPtr, 3));
  b.CreateStore(bufs[3], b.CreateStructGEP(ctxTy, ctxPtr, 4));
  Value *serial = b.CreateIsNull(pf);
  if (model.ops.empty()) {
    uint64_t bytes = model.inputType().features() * 4;
    b.CreateMemMove(out, Align(4), in, Align(4), b.CreateMul(rows, c64(bytes)));
  }
  if (profile) {
    auto global = [&](const std::string &name) {
      return new GlobalVariable(
          mod, ptrTy, false, GlobalValue::ExternalLinkage,
          ConstantPointerNull::get(cast<PointerType>(ptrTy)), name);
    };
    profileHook = global(prefix + "_profile_hook");
    profileUser = global(prefix + "_profile_user");
    emitProfileMark(0);
  }
  for (size_t stageIndex = 0; stageIndex < stages.size(); ++stageIndex) {
    const Stage &st = stages[stageIndex];
    b.CreateStore(bufs[st.src], b.CreateStructGEP(ctxTy, ctxPtr, 0));
    b.CreateStore(bufs[st.dst], b.CreateStructGEP(ctxTy, ctxPtr, 1));
    b.CreateStore(rows, b.CreateStructGEP(ctxTy, ctxPtr, 2));
    Value *items = stageItems(st, rows);
    BasicBlock *serialBB = BasicBlock::Create(ctx, "serial", f);
    BasicBlock *parBB = BasicBlock::Create(ctx, "parallel", f);
    BasicBlock *next = BasicBlock::Create(ctx, "next", f);
    // Serial when no hook is given or the stage is too small to share.
    uint64_t minRows = (kMinParallelWork + st.workPerRow - 1) /
                       std::max<uint64_t>(st.workPerRow, 1);
    Value *small = b.CreateICmpULT(rows, c64(minRows));
    b.CreateCondBr(b.CreateOr(serial, small), serialBB, parBB);
    b.SetInsertPoint(serialBB);
    b.CreateCall(taskTy, st.fn, {ctxPtr, c64(0), items});
    b.CreateBr(next);
    b.SetInsertPoint(parBB);
    FunctionType *pfTy =
        FunctionType::get(voidTy, {ptrTy, i64, ptrTy, ptrTy}, false);
    b.CreateCall(pfTy, pf, {pool, items, st.fn, ctxPtr});
    b.CreateBr(next);
    b.SetInsertPoint(next);
    if (profile)
      emitProfileMark(static_cast<uint32_t>(stageIndex + 1));
  }
  b.CreateRet(b.getInt32(kRunOk));

  // int PREFIX_run(in, out, batch, scratch): serial.
  FunctionType *runTy =
      FunctionType::get(i32, {ptrTy, ptrTy, i64, ptrTy}, false);
  Function *run = newFunction(runTy, prefix + "_run", true);
  auto ra = run->arg_begin();
  Value *rIn = &*ra++, *rOut = &*ra++, *rRows = &*ra++, *rScratch = &*ra++;
  b.SetInsertPoint(BasicBlock::Create(ctx, "entry", run));
  Value *nullPtr = ConstantPointerNull::get(cast<PointerType>(ptrTy));
  b.CreateRet(b.CreateCall(f, {rIn, rOut, rRows, rScratch, nullPtr, nullPtr}));
}

void ModelEmitter::emitProfileMark(uint32_t mark) {
  Function *f = b.GetInsertBlock()->getParent();
  Value *hook = b.CreateLoad(ptrTy, profileHook);
  BasicBlock *call = BasicBlock::Create(ctx, "profile", f);
  BasicBlock *next = BasicBlock::Create(ctx, "profiled", f);
  b.CreateCondBr(b.CreateIsNull(hook), next, call);
  b.SetInsertPoint(call);
  FunctionType *hookTy = FunctionType::get(voidTy, {ptrTy, i32}, false);
  b.CreateCall(hookTy, hook,
               {b.CreateLoad(ptrTy, profileUser), b.getInt32(mark)});
  b.CreateBr(next);
  b.SetInsertPoint(next);
}

std::vector<StageInfo> ModelEmitter::emit() {
  ModelPlan plan = planModel(model);
  emitScratchBytes(plan);
  std::vector<Stage> stages;
  std::vector<StageInfo> infos;
  size_t numOps = model.ops.size();
  auto dstOf = [&](size_t i) -> int {
    return i + 1 == numOps ? 1
                           : (plan.scratchBuffers == 1 ? 2 : 2 + int(i % 2));
  };
  if (plan.tiny) {
    if (numOps > 0) {
      Stage st = emitTinyStage();
      st.src = 0;
      st.dst = 1;
      st.workPerRow = 0;
      for (const ir::Op &op : model.ops)
        st.workPerRow += static_cast<uint64_t>(op.inFeatures) * op.outFeatures +
                         model.values[op.result].type.features();
      stages.push_back(st);
      infos.push_back({StageKind::Tiny, 0, numOps - 1});
    }
  } else {
    auto isDense = [](const ir::Op &op) {
      return op.kind == ir::OpKind::Dense || op.kind == ir::OpKind::Linear;
    };
    // A network whose weights fit in L2 goes through the whole chain one
    // row block at a time (emitFusedStage): the activations then stay in
    // cache between layers instead of streaming [batch, F] buffers through
    // memory. Row blocks of different layers then use a scratch buffer at
    // the same time, so its rows have one stride, the widest intermediate,
    // rather than each layer's own width.
    uint64_t weightBytes = 0, maxWidth = model.inputType().features();
    size_t stageCount = 0;
    for (const ir::Op &op : model.ops) {
      if (isDense(op))
        weightBytes += packedWeightBytes(planDense(op, cfg));
      maxWidth =
          std::max<uint64_t>(maxWidth, model.values[op.result].type.features());
      stageCount +=
          1 + (op.kind == ir::OpKind::Dense && op.rowNorm != ir::RowNorm::None);
    }
    bool fuse = stageCount > 1 && weightBytes <= kFuseMaxWeightBytes;
    auto strideOf = [&](int buffer, uint64_t width) {
      if (buffer < 2)
        return width;
      return fuse ? plan.scratchFeatures : scratchStride(width);
    };
    for (size_t i = 0; i < numOps; ++i) {
      const ir::Op &op = model.ops[i];
      int src = i == 0 ? 0 : dstOf(i - 1);
      int dst = dstOf(i);
      uint64_t inWidth = model.values[op.input].type.features();
      uint64_t width = model.values[op.result].type.features();
      uint64_t srcStride = strideOf(src, inWidth);
      uint64_t dstStride = strideOf(dst, width);
      Stage st = isDense(op) ? emitDenseStage(op, static_cast<unsigned>(i),
                                              srcStride, dstStride)
                             : emitRowStage(op, static_cast<unsigned>(i), false,
                                            srcStride, dstStride);
      st.src = src;
      st.dst = dst;
      st.srcStride = srcStride;
      st.dstStride = dstStride;
      st.workPerRow = isDense(op) ? inWidth * width : width * 16;
      stages.push_back(st);
      infos.push_back(
          {isDense(op) ? StageKind::Dense : StageKind::RowOp, i, i});
      if (op.kind == ir::OpKind::Dense && op.rowNorm != ir::RowNorm::None) {
        Stage norm = emitRowStage(op, static_cast<unsigned>(i), true, dstStride,
                                  dstStride);
        norm.src = dst;
        norm.dst = dst;
        norm.workPerRow = width * 16;
        norm.srcStride = norm.dstStride = dstStride;
        stages.push_back(norm);
        infos.push_back({StageKind::RowNorm, i, i});
      }
    }
    if (fuse) {
      uint64_t rows = std::clamp<uint64_t>(
          kFuseBlockBytes / (8 * std::max<uint64_t>(maxWidth, 1)) / 12 * 12, 12,
          1020);
      stages = {emitFusedStage(stages, rows)};
      infos = {{StageKind::Fused, 0, numOps - 1}};
    }
  }
  emitRun(plan, stages);
  return infos;
}

} // namespace

std::vector<StageInfo> emitModel(Module &mod, const ir::Model &model,
                                 const std::string &prefix,
                                 const KernelConfig &config, bool exportSymbols,
                                 bool profile) {
  ModelEmitter emitter(model, prefix, config, mod.getContext(), mod,
                       exportSymbols, profile);
  return emitter.emit();
}

//===----------------------------------------------------------------------===//
// Multiversioning: CPUID dispatch through GNU ifuncs.
//===----------------------------------------------------------------------===//

namespace {

/// Where CPUID reports a feature: leaf (1, 7 or 0x80000001), register
/// (1 = ebx, 2 = ecx) and bit; `osState` is the XCR0 mask the OS must enable.
struct FeatureBit {
  const char *name;
  unsigned leaf;
  unsigned reg;
  unsigned bit;
  uint32_t osState;
};

constexpr FeatureBit kFeatureBits[] = {
    {"sse3", 1, 2, 0, 0},         {"ssse3", 1, 2, 9, 0},
    {"fma", 1, 2, 12, 0x6},       {"cx16", 1, 2, 13, 0},
    {"sse4.1", 1, 2, 19, 0},      {"sse4.2", 1, 2, 20, 0},
    {"movbe", 1, 2, 22, 0},       {"popcnt", 1, 2, 23, 0},
    {"xsave", 1, 2, 26, 0},       {"avx", 1, 2, 28, 0x6},
    {"f16c", 1, 2, 29, 0x6},      {"bmi", 7, 1, 3, 0},
    {"avx2", 7, 1, 5, 0x6},       {"bmi2", 7, 1, 8, 0},
    {"avx512f", 7, 1, 16, 0xe6},  {"avx512dq", 7, 1, 17, 0xe6},
    {"avx512cd", 7, 1, 28, 0xe6}, {"avx512bw", 7, 1, 30, 0xe6},
    {"avx512vl", 7, 1, 31, 0xe6}, {"lzcnt", 0x80000001u, 2, 5, 0},
};

} // namespace

const std::vector<std::string> &dispatchableX86Features() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const FeatureBit &f : kFeatureBits)
      v.push_back(f.name);
    return v;
  }();
  return names;
}

void emitCpuDispatch(Module &mod, const std::string &prefix,
                     const std::vector<CpuVariant> &variants) {
  LLVMContext &ctx = mod.getContext();
  IRBuilder<> b(ctx);
  Type *i32 = b.getInt32Ty(), *i64 = b.getInt64Ty();
  Type *ptrTy = PointerType::getUnqual(ctx);
  auto internal = [&](FunctionType *ty, const std::string &name) {
    Function *f = Function::Create(ty, GlobalValue::InternalLinkage, name, mod);
    f->addFnAttr(Attribute::NoUnwind);
    return f;
  };

  // scratch_bytes does not depend on the ISA: forward to the first variant.
  FunctionType *scratchTy = FunctionType::get(i64, {i64}, false);
  Function *scratch = Function::Create(scratchTy, GlobalValue::ExternalLinkage,
                                       prefix + "_scratch_bytes", mod);
  scratch->addFnAttr(Attribute::NoUnwind);
  b.SetInsertPoint(BasicBlock::Create(ctx, "entry", scratch));
  b.CreateRet(b.CreateCall(
      mod.getFunction(variants.front().symbolPrefix + "_scratch_bytes"),
      {&*scratch->arg_begin()}));

  // Resolver: read CPUID leaves 1, 7 and 0x80000001 and XCR0.
  StructType *cpuidTy = StructType::get(ctx, {i32, i32, i32, i32});
  InlineAsm *cpuidAsm = InlineAsm::get(
      FunctionType::get(cpuidTy, {i32, i32}, false), "cpuid",
      "={ax},={bx},={cx},={dx},{ax},{cx},~{dirflag},~{fpsr},~{flags}",
      /*hasSideEffects=*/true);
  InlineAsm *xgetbvAsm = InlineAsm::get(
      FunctionType::get(StructType::get(ctx, {i32, i32}), {i32}, false),
      ".byte 0x0f, 0x01, 0xd0", "={ax},={dx},{cx},~{dirflag},~{fpsr},~{flags}",
      true);

  for (const char *entry : {"_run", "_run_parallel"}) {
    bool parallel = std::string(entry) == "_run_parallel";
    FunctionType *fnTy =
        parallel ? FunctionType::get(
                       i32, {ptrTy, ptrTy, i64, ptrTy, ptrTy, ptrTy}, false)
                 : FunctionType::get(i32, {ptrTy, ptrTy, i64, ptrTy}, false);
    Function *stub = internal(fnTy, prefix + ".unsupported" + entry);
    b.SetInsertPoint(BasicBlock::Create(ctx, "entry", stub));
    b.CreateRet(b.getInt32(kRunUnsupportedCpu));

    Function *resolver = internal(FunctionType::get(ptrTy, {}, false),
                                  prefix + ".resolve" + entry);
    BasicBlock *entryBB = BasicBlock::Create(ctx, "entry", resolver);
    BasicBlock *xsaveBB = BasicBlock::Create(ctx, "xgetbv", resolver);
    BasicBlock *pickBB = BasicBlock::Create(ctx, "pick", resolver);
    b.SetInsertPoint(entryBB);
    auto cpuid = [&](uint32_t leaf) {
      return b.CreateCall(cpuidAsm, {b.getInt32(leaf), b.getInt32(0)});
    };
    Value *maxLeaf = b.CreateExtractValue(cpuid(0), 0);
    Value *leaf1 = cpuid(1);
    Value *leaf7 = cpuid(7);
    Value *maxExt = b.CreateExtractValue(cpuid(0x80000000u), 0);
    Value *ext = cpuid(0x80000001u);
    Value *zero = b.getInt32(0);
    Value *regs[3][3];
    for (unsigned r = 1; r <= 2; ++r) {
      regs[0][r] = b.CreateExtractValue(leaf1, r);
      regs[1][r] = b.CreateSelect(b.CreateICmpUGE(maxLeaf, b.getInt32(7)),
                                  b.CreateExtractValue(leaf7, r), zero);
      regs[2][r] =
          b.CreateSelect(b.CreateICmpUGE(maxExt, b.getInt32(0x80000001u)),
                         b.CreateExtractValue(ext, r), zero);
    }
    Value *osxsave =
        b.CreateICmpNE(b.CreateAnd(regs[0][2], b.getInt32(1u << 27)), zero);
    b.CreateCondBr(osxsave, xsaveBB, pickBB);
    b.SetInsertPoint(xsaveBB);
    Value *xcr0Read =
        b.CreateExtractValue(b.CreateCall(xgetbvAsm, {b.getInt32(0)}), 0);
    b.CreateBr(pickBB);
    b.SetInsertPoint(pickBB);
    PHINode *xcr0 = b.CreatePHI(i32, 2);
    xcr0->addIncoming(zero, entryBB);
    xcr0->addIncoming(xcr0Read, xsaveBB);
    Value *chosen = stub;
    // Later variants are preferred: build the select chain first to last.
    for (const CpuVariant &v : variants) {
      Value *ok = b.getTrue();
      for (const std::string &name : v.features)
        for (const FeatureBit &f : kFeatureBits) {
          if (name != f.name)
            continue;
          unsigned which = f.leaf == 1 ? 0 : f.leaf == 7 ? 1 : 2;
          Value *bit = b.CreateICmpNE(
              b.CreateAnd(regs[which][f.reg], b.getInt32(1u << f.bit)), zero);
          ok = b.CreateAnd(ok, bit);
          if (f.osState)
            ok = b.CreateAnd(
                ok, b.CreateICmpEQ(b.CreateAnd(xcr0, b.getInt32(f.osState)),
                                   b.getInt32(f.osState)));
        }
      Function *impl = mod.getFunction(v.symbolPrefix + entry);
      chosen = b.CreateSelect(ok, impl, chosen);
    }
    b.CreateRet(chosen);
    GlobalIFunc::create(fnTy, 0, GlobalValue::ExternalLinkage, prefix + entry,
                        resolver, &mod);
  }
}

} // namespace seqc::codegen::cpu
