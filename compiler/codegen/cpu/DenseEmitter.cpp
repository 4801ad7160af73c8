//===- DenseEmitter.cpp - Dense layers as packed GEMMs --------------------===//
//
// Part of seqc. Dense layers: weights packed into panels at compile time,
// register-blocked SIMD microkernels with the bias and activation applied
// before the store, wide single-row kernels for batch 1, and the stage that
// walks row blocks, k blocks and panel groups (docs/cpu-backend.md).
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cpu/ModelEmitter.h"

#include <fmt/format.h>

#include <algorithm>

using namespace llvm;

namespace seqc::codegen::cpu {

Function *ModelEmitter::emitMicrokernel(const ir::Op &op, const DensePlan &pl,
                                        unsigned mr, unsigned pg,
                                        unsigned opIndex, uint64_t lda,
                                        uint64_t ldc, bool specialised,
                                        bool prefetchRows) {
  // void ukr(A, lda, Bp, C, ldc, kc, flags, bias, nvalid, pf, pfStride,
  // cNext, aPf): an mr x (pg * nr) tile over pg adjacent packed panels
  // (panel q's micro-panel starts at Bp + q * k * nr, its columns at
  // C + q * nr). When
  // the layer's weights stream from L3 or memory, step k of a one-panel
  // kernel prefetches the byte at pf + k * pfStride (the caller points it
  // at the micro-panel the next tiles will need); a wider single-row kernel
  // prefetches its own panels' streams instead. cNext is the output tile
  // the caller will pass next: it is prefetched for writing on entry, so
  // that tile's partial sums (or the lines its stores allocate) are in
  // cache by the time it starts. With prefetchRows (a tile of several
  // rows, one panel), step k prefetches into L2 row min(k % 16, mr - 1) of
  // the tile at aPf, from column k rounded down to 16 on: the rows a tile
  // further on will read, a line per step, at the pace it will read them.
  FunctionType *ft = FunctionType::get(voidTy,
                                       {ptrTy, i64, ptrTy, ptrTy, i64, i64, i32,
                                        ptrTy, i64, ptrTy, i64, ptrTy, ptrTy},
                                       false);
  bool prefetch = pl.streamsWeights;
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
    auto found = sharedKernels.find(key);
    if (found != sharedKernels.end())
      return found->second;
    name = fmt::format("{}.ukr{}x{}{}.{}", prefix, mr, pg * pl.nr, variant,
                       sharedKernels.size());
    Function *f = buildMicrokernel(
        op, pl, mr, pg, ft, name, prefetch, prefetchRows,
        specialised ? std::optional(std::make_pair(lda, ldc)) : std::nullopt);
    f->addFnAttr(Attribute::NoInline);
    sharedKernels.emplace(key, f);
    return f;
  }
  if (prefetchRows) {
    // Called on the first pass over a cold source only: kept out of line,
    // with the strides as constants, so that the stage's code (and compile
    // time) does not grow by another inlined copy of its main tile.
    Function *f = buildMicrokernel(op, pl, mr, pg, ft, name, prefetch, true,
                                   std::make_pair(lda, ldc));
    f->addFnAttr(Attribute::NoInline);
    return f;
  }
  return buildMicrokernel(op, pl, mr, pg, ft, name, prefetch, false,
                          std::nullopt);
}

Function *ModelEmitter::buildMicrokernel(
    const ir::Op &op, const DensePlan &pl, unsigned mr, unsigned pg,
    FunctionType *ft, const std::string &name, bool prefetch, bool prefetchRows,
    std::optional<std::pair<uint64_t, uint64_t>> strides) {
  Function *f = newFunction(ft, name, false);
  for (unsigned i : {0u, 2u, 3u, 7u})
    f->addParamAttr(i, Attribute::NoAlias);
  auto args = f->arg_begin();
  Value *a = &*args++, *lda = &*args++, *bp = &*args++, *c = &*args++;
  Value *ldc = &*args++, *kc = &*args++, *flags = &*args++;
  if (strides) {
    lda = c64(strides->first);
    ldc = c64(strides->second);
    // One k block: every call passes kc = k.
    if (pl.k <= pl.kc)
      kc = c64(pl.k);
  }
  Value *bias = &*args++, *nvalid = &*args++;
  Value *pf = &*args++, *pfStride = &*args++, *cNext = &*args++;
  Value *aPf = &*args++;

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
  // memory (prefetches never fault, and their addresses, which may lie
  // past an array's end, are plain GEPs, not inbounds ones):
  //  * a single row reads every panel once: each panel's stream is
  //    prefetched into L1 kPrefetchSteps k-steps ahead (measured on Zen 3:
  //    64 or 128 steps were clearly worse);
  //  * a tile reads a micro-panel the first tile of its panel brought into
  //    L1, so it prefetches the *next* micro-panel (pf) into L2 only, where
  //    it does not evict the one in use.
  constexpr uint64_t kPrefetchSteps = 32;
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
    if (prefetchRows) {
      Value *row = b.CreateBinaryIntrinsic(
          Intrinsic::umin, b.CreateAnd(k, c64(15)), c64(mr - 1));
      b.CreateIntrinsic(Intrinsic::prefetch, {ptrTy},
                        {b.CreateGEP(f32, aPf,
                                     b.CreateAdd(b.CreateMul(row, lda),
                                                 b.CreateAnd(k, c64(~15ull)))),
                         b.getInt32(0), b.getInt32(2), b.getInt32(1)});
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
  // registers, then store (masked on the last panel). An activation computed
  // in double (sigmoid, tanh, GELU, ...) is applied after the store
  // instead, one row of the tile at a time, reloaded from L1: applied to
  // the whole tile in registers, its temporaries (every accumulator widened
  // to two double vectors) spilled by the hundred (Linear(2048, 2048) +
  // Sigmoid at batch 256: 8.9 ms against 8.4 ms with ReLU).
  bool actInPlace = !MathEmitter::isCheap(op.act.kind);
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
      finished.push_back(actInPlace ? x : math.activation(op.act, x));
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
  for (bool masked : {false, true}) {
    b.SetInsertPoint(masked ? maskBB : fullBB);
    auto mask = [&](unsigned v) { return masked ? colMask(v) : nullptr; };
    for (unsigned m = 0; m < mr; ++m)
      for (unsigned v = 0; v < nrv; ++v)
        storeRowVec(out[m * nrv + v], cPtr(m, v), c64(0), mask(v));
    if (!actInPlace) {
      b.CreateRetVoid();
      continue;
    }
    BasicBlock *actBB = BasicBlock::Create(ctx, "act", f);
    BasicBlock *doneBB = BasicBlock::Create(ctx, "done", f);
    b.CreateCondBr(isLast, actBB, doneBB);
    b.SetInsertPoint(actBB);
    emitForEach(c64(0), c64(mr), c64(1), [&](Value *m) {
      Value *row = gepF(c, b.CreateMul(m, ldc));
      for (unsigned v = 0; v < nrv; ++v) {
        Value *x = loadRowVec(row, c64(cOff(v)), mask(v), zero);
        storeRowVec(math.activation(op.act, x), row, c64(cOff(v)), mask(v));
      }
    });
    b.CreateBr(doneBB);
    b.SetInsertPoint(doneBB);
    b.CreateRetVoid();
  }
  return f;
}

ModelEmitter::DenseParams ModelEmitter::denseParams(const ir::Op &op,
                                                    const DensePlan &pl,
                                                    unsigned opIndex) {
  const std::vector<float> &w = *paramData(op.weight);
  DenseParams params;
  params.weight = parameterArray(
      pl.weights.elements(), fmt::format("dense{}.weight", opIndex),
      " = " + pl.weights.str(),
      [&](float *packed) { packWeights(w.data(), pl.weights, packed); });
  if (const std::vector<float> *bias = paramData(op.bias))
    params.bias = constantArray(padTo(*bias, pl.biasLength),
                                fmt::format("dense{}.bias", opIndex));
  return params;
}

Function *ModelEmitter::emitDenseStage(const ir::Op &op, unsigned opIndex,
                                       const StagePlan &st) {
  const DensePlan &pl = st.dense;
  uint64_t lda = st.srcStride, ldc = st.dstStride;
  if (pl.dotRows)
    return emitNarrowDenseStage(op, pl, opIndex, lda, ldc);
  auto [wG, biasG] = denseParams(op, pl, opIndex);
  std::vector<Function *> kernels(pl.mr + 1, nullptr);
  for (unsigned mr = 1; mr <= pl.mr; ++mr)
    kernels[mr] = emitMicrokernel(op, pl, mr, 1, opIndex, lda, ldc,
                                  st.specialised, false);
  // The full tile that also prefetches rows of a cold source.
  Function *coldTile = pl.mr > 1
                           ? emitMicrokernel(op, pl, pl.mr, 1, opIndex, lda,
                                             ldc, st.specialised, true)
                           : nullptr;
  // Single-row kernels across 1..gemvPanels panels (index = panels).
  unsigned pgMax = pl.gemvPanels;
  std::vector<Function *> gemv(pgMax + 1, nullptr);
  gemv[1] = kernels[1];
  for (unsigned pg = 2; pg <= pgMax; ++pg)
    gemv[pg] = emitMicrokernel(op, pl, 1, pg, opIndex, lda, ldc, st.specialised,
                               false);

  Task task = beginTask(fmt::format("{}.dense{}", prefix, opIndex));
  Value *in = task.in, *out = task.out, *rows = task.rows;
  Value *biasPtr = biasG ? static_cast<Value *>(biasG)
                         : ConstantPointerNull::get(cast<PointerType>(ptrTy));
  uint64_t k = pl.k, n = pl.n, nr = pl.nr, mrMax = pl.mr;
  Value *mcRows = rowBlockRows(rows, pl.mc, pl.mr);
  Value *coldSource = b.CreateICmpNE(
      b.CreateLoad(
          i64, b.CreateStructGEP(ctxTy, task.fn->getArg(0), kCtxSourceCold)),
      c64(0));
  // Items go group by group, and within a group row block by row block, so
  // consecutive items (and, on two threads, concurrent ones) read the same
  // panels: the second finds them in L2 or L3 rather than memory.
  Value *rowBlocks =
      b.CreateUDiv(b.CreateAdd(rows, b.CreateSub(mcRows, c64(1))),
                   b.CreateBinaryIntrinsic(Intrinsic::umax, mcRows, c64(1)));
  // A batch of one row has its own (finer) panel groups.
  Value *perGroup =
      b.CreateSelect(b.CreateICmpEQ(rows, c64(1)), c64(pl.rowPanelsPerGroup),
                     c64(pl.panelsPerGroup));
  emitForEach(task.begin, task.end, c64(1), [&](Value *item) {
    Value *g = b.CreateUDiv(item, rowBlocks);
    Value *mb = b.CreateURem(item, rowBlocks);
    Value *m0 = b.CreateMul(mb, mcRows);
    Value *mEnd =
        b.CreateBinaryIntrinsic(Intrinsic::umin, b.CreateAdd(m0, mcRows), rows);
    Value *pBeg = b.CreateMul(g, perGroup);
    Value *pEnd = b.CreateBinaryIntrinsic(
        Intrinsic::umin, b.CreateAdd(pBeg, perGroup), c64(pl.panels));
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
      Value *lastK = b.CreateICmpNE(last, b.getInt32(0));
      auto lastPanel = [&](Value *p) {
        return b.CreateICmpEQ(b.CreateAdd(p, c64(1)), pEnd);
      };
      // Row m of the source from this k block on.
      auto rowPtr = [&](Value *m) {
        return gepF(in, b.CreateAdd(b.CreateMul(m, c64(lda)), kc0));
      };
      // The micro-panel that follows (p, kc0): the next panel of the group
      // in this k block, else the group's first panel in the next k block,
      // else (p, kc0) itself.
      auto nextMicroPanel = [&](Value *p) {
        Value *here =
            b.CreateAdd(b.CreateMul(p, c64(k * nr)), b.CreateMul(kc0, c64(nr)));
        Value *nextP = b.CreateAdd(here, c64(k * nr));
        Value *nextK = b.CreateAdd(b.CreateMul(pBeg, c64(k * nr)),
                                   b.CreateMul(b.CreateAdd(kc0, kc), c64(nr)));
        return gepF(wG,
                    b.CreateSelect(lastPanel(p),
                                   b.CreateSelect(lastK, here, nextK), nextP));
      };
      // Calls `fn` on rows [m, m + its mr) and the panels from p on; `pf`,
      // `pfStride`, `cNext` and `aPf` as the kernel takes them.
      auto callKernel = [&](Function *fn, Value *p, Value *m, Value *pf,
                            Value *pfStride, Value *cNext = nullptr,
                            Value *aPf = nullptr) {
        Value *bp = gepF(wG, b.CreateAdd(b.CreateMul(p, c64(k * nr)),
                                         b.CreateMul(kc0, c64(nr))));
        Value *cp = gepF(out, b.CreateMul(p, c64(nr)));
        Value *bias = biasG ? gepF(biasPtr, b.CreateMul(p, c64(nr))) : biasPtr;
        Value *nvalid = b.CreateSub(c64(n), b.CreateMul(p, c64(nr)));
        Value *aPtr = rowPtr(m);
        Value *cPtr = gepF(cp, b.CreateMul(m, c64(ldc)));
        if (!pf) {
          // Its own stream, kPrefetchSteps (32) k-steps ahead.
          pf = b.CreateGEP(f32, bp, c64(32 * nr));
          pfStride = c64(nr * 4);
        }
        if (!cNext)
          cNext = cPtr;
        if (!aPf)
          aPf = aPtr;
        b.CreateCall(fn, {aPtr, c64(lda), bp, cPtr, c64(ldc), kc, flags, bias,
                          nvalid, pf, pfStride, cNext, aPf});
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
          if (!coldTile) {
            callKernel(kernels[mrMax], p, m, tilePf(next, t), pfStride, cNext);
            return;
          }
          // A cold source: the first pass over a row block (the group's
          // first panel) fetches the rows of the tile kColdPrefetchTiles
          // on, and the last pass (last panel and k block) the first rows
          // of the next row block, where the next item starts; the passes
          // between find them in L2.
          Value *mAhead = b.CreateAdd(m, c64(kColdPrefetchTiles * mrMax));
          Value *inBlock =
              b.CreateICmpULE(b.CreateAdd(mAhead, c64(mrMax)), mTail);
          Value *nextBlock = b.CreateAdd(mEnd, b.CreateSub(mAhead, mTail));
          Value *use = b.CreateAnd(
              coldSource, b.CreateSelect(inBlock, b.CreateICmpEQ(p, pBeg),
                                         b.CreateAnd(lastPanel(p), lastK)));
          Value *aheadPtr = b.CreateSelect(
              inBlock, rowPtr(mAhead),
              b.CreateGEP(f32, in, b.CreateMul(nextBlock, c64(lda))));
          Function *fn = b.GetInsertBlock()->getParent();
          BasicBlock *coldBB = BasicBlock::Create(ctx, "tile.cold", fn);
          BasicBlock *warmBB = BasicBlock::Create(ctx, "tile.warm", fn);
          BasicBlock *doneBB = BasicBlock::Create(ctx, "tile.done", fn);
          b.CreateCondBr(use, coldBB, warmBB);
          b.SetInsertPoint(coldBB);
          callKernel(coldTile, p, m, tilePf(next, t), pfStride, cNext,
                     aheadPtr);
          b.CreateBr(doneBB);
          b.SetInsertPoint(warmBB);
          callKernel(kernels[mrMax], p, m, tilePf(next, t), pfStride, cNext);
          b.CreateBr(doneBB);
          b.SetInsertPoint(doneBB);
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
  return endTask(task);
}

} // namespace seqc::codegen::cpu
