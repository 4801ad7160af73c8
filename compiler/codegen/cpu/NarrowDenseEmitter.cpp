//===- NarrowDenseEmitter.cpp - Dense layers with few outputs -------------===//
//
// Part of seqc. A Dense layer with fewer outputs than its panels would
// fill (a classifier's 10 on 16 lanes, a regression's 1) as dot products:
// k across the SIMD lanes, one accumulator per row and output, the lanes
// added up by a shuffle tree once per row (docs/cpu-backend.md, "Layers
// with few outputs").
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cpu/ModelEmitter.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <functional>

using namespace llvm;

namespace seqc::codegen::cpu {

Value *ModelEmitter::sumEachAcrossLanes(std::vector<Value *> vecs) {
  unsigned vw = cfg.vectorWidth;
  assert((vw == 4 || vw == 8 || vw == 16) && "no shuffle tree for this width");
  assert(vecs.size() <= vw && "more sums than lanes");
  vecs.resize(vw, nullptr);
  // Each level adds pairs of vectors x, y: the sum of a shuffle of both
  // (lo) and another (hi), so that every lane adds two partial sums of one
  // slot; the first two levels stay within 128-bit blocks (unpack of
  // floats, then of float pairs), the others move whole blocks. Indices
  // below vw are x's lanes, the others y's. After the last level lane s
  // holds slot s. `slot` tracks which slot each lane's partial sum
  // belongs to, to check the masks.
  struct Level {
    std::vector<int> lo, hi;
  };
  int w = static_cast<int>(vw);
  Level unpack, pairs;
  for (int base = 0; base < w; base += 4) {
    unpack.lo.insert(unpack.lo.end(), {base, w + base, base + 1, w + base + 1});
    unpack.hi.insert(unpack.hi.end(),
                     {base + 2, w + base + 2, base + 3, w + base + 3});
    pairs.lo.insert(pairs.lo.end(), {base, base + 1, w + base, w + base + 1});
    pairs.hi.insert(pairs.hi.end(),
                    {base + 2, base + 3, w + base + 2, w + base + 3});
  }
  std::vector<Level> levels = {unpack, pairs};
  // Whole blocks of 4: x's blocks 0.., y's w / 4...
  auto blocks = [&](std::vector<int> lo, std::vector<int> hi) {
    Level l;
    for (int blk : lo)
      for (int i = 0; i < 4; ++i)
        l.lo.push_back(blk * 4 + i);
    for (int blk : hi)
      for (int i = 0; i < 4; ++i)
        l.hi.push_back(blk * 4 + i);
    return l;
  };
  if (vw == 8)
    levels.push_back(blocks({0, 2}, {1, 3}));
  if (vw == 16) {
    levels.push_back(blocks({0, 1, 4, 5}, {2, 3, 6, 7}));
    levels.push_back(blocks({0, 2, 4, 6}, {1, 3, 5, 7}));
  }
  std::vector<std::vector<int>> slot(vw);
  for (unsigned s = 0; s < vw; ++s)
    slot[s].assign(vw, static_cast<int>(s));
  for (const Level &l : levels) {
    std::vector<Value *> next;
    std::vector<std::vector<int>> nextSlot;
    for (size_t i = 0; i + 1 < vecs.size(); i += 2) {
      std::vector<int> s(vw);
      for (unsigned lane = 0; lane < vw; ++lane) {
        auto from = [&](int idx) {
          return idx < w ? slot[i][idx] : slot[i + 1][idx - w];
        };
        assert(from(l.lo[lane]) == from(l.hi[lane]) &&
               "a lane adds partial sums of two slots");
        s[lane] = from(l.lo[lane]);
      }
      nextSlot.push_back(s);
      Value *x = vecs[i], *y = vecs[i + 1];
      if (!x && !y) {
        next.push_back(nullptr);
        continue;
      }
      // An absent slot's lanes are undefined: let them repeat the other's.
      if (!x)
        x = y;
      if (!y)
        y = x;
      next.push_back(
          builder.CreateFAdd(builder.CreateShuffleVector(x, y, l.lo),
                             builder.CreateShuffleVector(x, y, l.hi)));
    }
    vecs = std::move(next);
    slot = std::move(nextSlot);
  }
  assert(vecs.size() == 1 && vecs[0] && "the tree ends in one vector");
  for (unsigned lane = 0; lane < vw; ++lane)
    assert(slot[0][lane] == static_cast<int>(lane) && "lanes out of order");
  return vecs[0];
}

std::vector<Value *> ModelEmitter::emitIf(
    Value *cond, std::vector<Value *> values,
    const std::function<std::vector<Value *>(std::vector<Value *>)> &then) {
  if (!cond)
    return then(std::move(values));
  Function *fn = builder.GetInsertBlock()->getParent();
  BasicBlock *before = builder.GetInsertBlock();
  BasicBlock *thenBB = BasicBlock::Create(ctx, "dot.then", fn);
  BasicBlock *joinBB = BasicBlock::Create(ctx, "dot.join", fn);
  builder.CreateCondBr(cond, thenBB, joinBB);
  builder.SetInsertPoint(thenBB);
  std::vector<Value *> changed = then(values);
  BasicBlock *thenEnd = builder.GetInsertBlock();
  builder.CreateBr(joinBB);
  builder.SetInsertPoint(joinBB);
  for (size_t i = 0; i < values.size(); ++i) {
    PHINode *phi = builder.CreatePHI(values[i]->getType(), 2);
    phi->addIncoming(values[i], before);
    phi->addIncoming(changed[i], thenEnd);
    values[i] = phi;
  }
  return values;
}

/// The rows of a dot-product tile and what its steps read.
struct ModelEmitter::DotTile {
  const ir::Op &op;
  const DensePlan &pl;
  unsigned rows;
  std::vector<Value *> aRow, cRow;
  uint64_t lda;
  Value *weights, *bias;
  uint64_t prefetchRows;
  const DotBlock *block;
};

std::vector<Value *> ModelEmitter::emitDotStep(const DotTile &t, Value *kk,
                                               Value *mask,
                                               std::vector<Value *> acc) {
  // Accumulator i * n + j: row i, output j.
  uint64_t n = t.pl.n;
  Value *zero = Constant::getNullValue(vecTy);
  std::vector<Value *> av;
  for (unsigned i = 0; i < t.rows; ++i)
    av.push_back(loadRowVec(t.aRow[i], kk, mask, zero));
  if (t.prefetchRows && !mask)
    for (unsigned i = 0; i < t.rows; ++i)
      // Not inbounds: near the end of the batch the rows ahead are past
      // the buffer, which a prefetch may touch but an inbounds GEP not.
      emitPrefetch(
          builder.CreateGEP(f32, t.aRow[i],
                            builder.CreateAdd(kk, c64(t.prefetchRows * t.lda))),
          false, kPrefetchToL1);
  for (uint64_t j = 0; j < n; ++j) {
    // Padded with zeros past k, where the rows' masked loads read zeros.
    Value *wv = builder.CreateAlignedLoad(
        vecTy,
        gepF(t.weights, builder.CreateAdd(c64(t.pl.weights.index(j, 0)), kk)),
        Align(cfg.vectorWidth * 4));
    for (unsigned i = 0; i < t.rows; ++i)
      acc[i * n + j] = math.mulAdd(av[i], wv, acc[i * n + j]);
  }
  return acc;
}

void ModelEmitter::emitDotOutputs(const DotTile &t,
                                  const std::vector<Value *> &accs) {
  // Per row, each vector of outputs: its sums across lanes, plus (with k
  // blocks) what the earlier blocks stored, and on the last block the bias
  // and the activation.
  unsigned vw = cfg.vectorWidth;
  uint64_t n = t.pl.n;
  const DotBlock *block = t.block;
  Value *zero = Constant::getNullValue(vecTy);
  for (unsigned i = 0; i < t.rows; ++i)
    for (uint64_t g = 0; g * vw < n; ++g) {
      uint64_t count = std::min<uint64_t>(vw, n - g * vw);
      Value *mask = count == vw ? nullptr : maskFor(vw, count);
      std::vector<Value *> group(accs.begin() + i * n + g * vw,
                                 accs.begin() + i * n + g * vw + count);
      Value *x = sumEachAcrossLanes(group);
      // A read of the first block's output is discarded.
      if (block)
        x = builder.CreateFAdd(
            x, builder.CreateSelect(
                   block->first, zero,
                   loadRowVec(t.cRow[i], c64(g * vw), mask, zero)));
      x = emitIf(
          block ? block->last : nullptr, {x}, [&](std::vector<Value *> v) {
            Value *y = v[0];
            if (t.bias)
              y = builder.CreateFAdd(
                  y, builder.CreateAlignedLoad(vecTy, gepF(t.bias, c64(g * vw)),
                                               Align(vw * 4)));
            return std::vector<Value *>{math.activation(t.op.act, y)};
          })[0];
      storeRowVec(x, t.cRow[i], c64(g * vw), mask);
    }
}

void ModelEmitter::emitDotTile(const ir::Op &op, const DensePlan &pl,
                               unsigned rows, Value *m, Value *in, Value *out,
                               uint64_t lda, uint64_t ldc, Value *weights,
                               Value *bias, uint64_t prefetchRows,
                               const DotBlock *block) {
  unsigned vw = cfg.vectorWidth;
  uint64_t k = pl.k;
  DotTile t{.op = op,
            .pl = pl,
            .rows = rows,
            .aRow = {},
            .cRow = {},
            .lda = lda,
            .weights = weights,
            .bias = bias,
            .prefetchRows = prefetchRows,
            .block = block};
  for (unsigned i = 0; i < rows; ++i) {
    Value *row = builder.CreateAdd(m, c64(i));
    t.aRow.push_back(gepF(in, builder.CreateMul(row, c64(lda))));
    t.cRow.push_back(gepF(out, builder.CreateMul(row, c64(ldc))));
  }
  std::vector<Value *> accs(rows * pl.n, Constant::getNullValue(vecTy));
  uint64_t kFull = k / vw * vw;
  // This block's whole vectors of k, then (in the last block) the rest.
  Value *kBegin = block ? block->k0 : c64(0);
  Value *kEnd =
      block ? builder.CreateBinaryIntrinsic(
                  Intrinsic::umin, builder.CreateAdd(block->k0, c64(pl.dotKc)),
                  c64(kFull))
            : c64(kFull);
  if (kFull > 0)
    accs = emitLoop(kBegin, kEnd, c64(vw), accs,
                    [&](Value *kk, const std::vector<Value *> &carried) {
                      return emitDotStep(t, kk, nullptr, carried);
                    });
  if (k % vw)
    accs = emitIf(block ? block->last : nullptr, accs,
                  [&](std::vector<Value *> acc) {
                    return emitDotStep(t, c64(kFull), maskFor(vw, k % vw), acc);
                  });
  emitDotOutputs(t, accs);
}

Function *ModelEmitter::emitNarrowDenseStage(const ir::Op &op,
                                             const DensePlan &pl,
                                             unsigned opIndex, uint64_t lda,
                                             uint64_t ldc) {
  uint64_t kp = pl.weights.kPadded;
  // Named variables, not a structured binding: the lambdas below capture
  // them, which clang before 16 refuses for bindings (the fuzz build).
  DenseParams params = denseParams(op, pl, opIndex);
  GlobalVariable *wG = params.weight, *biasG = params.bias;
  Task task = beginTask(fmt::format("{}.dense{}", prefix, opIndex));
  unsigned tileRows = pl.dotRows;
  // A tile reads its rows once, each from start to end, a few side by
  // side: too few streams for the hardware prefetchers to hide L3's
  // latency. So each k-step of a full tile also prefetches (into L1) the
  // same columns of the rows about 16 KiB further on.
  constexpr uint64_t kAheadBytes = 16 << 10;
  uint64_t prefetchRows = (kAheadBytes + lda * 4 - 1) / (lda * 4);
  prefetchRows = (prefetchRows + tileRows - 1) / tileRows * tileRows;
  Value *blockRows = rowBlockRows(task.rows, pl.dotBlockRows, tileRows);
  emitForEach(task.begin, task.end, c64(1), [&](Value *item) {
    Value *m0 = builder.CreateMul(item, blockRows);
    Value *mEnd = builder.CreateBinaryIntrinsic(
        Intrinsic::umin, builder.CreateAdd(m0, blockRows), task.rows);
    Value *count = builder.CreateSub(mEnd, m0);
    Value *mTail = builder.CreateAdd(
        m0, builder.CreateMul(builder.CreateUDiv(count, c64(tileRows)),
                              c64(tileRows)));
    // One pass over the row block (per k block, when the weights are
    // cut into blocks that stay in L1 while every tile reads them).
    auto pass = [&](const DotBlock *block) {
      emitForEach(m0, mTail, c64(tileRows), [&](Value *m) {
        emitDotTile(op, pl, tileRows, m, task.in, task.out, lda, ldc, wG, biasG,
                    prefetchRows, block);
      });
      if (tileRows > 1)
        emitForEach(mTail, mEnd, c64(1), [&](Value *m) {
          emitDotTile(op, pl, 1, m, task.in, task.out, lda, ldc, wG, biasG, 0,
                      block);
        });
    };
    if (pl.dotKc >= kp) {
      pass(nullptr);
      return;
    }
    emitForEach(c64(0), c64(kp), c64(pl.dotKc), [&](Value *k0) {
      DotBlock block;
      block.k0 = k0;
      block.first = builder.CreateICmpEQ(k0, c64(0));
      block.last =
          builder.CreateICmpUGE(builder.CreateAdd(k0, c64(pl.dotKc)), c64(kp));
      pass(&block);
    });
  });
  return endTask(task);
}

} // namespace seqc::codegen::cpu
