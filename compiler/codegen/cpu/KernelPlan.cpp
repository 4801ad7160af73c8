//===- KernelPlan.cpp - Kernel shapes and Dense-layer blocking ------------===//
//
// Part of seqc. How each Dense layer is blocked for the caches and the
// registers of a target (KernelConfig): panel width, tile rows, k and row
// blocks, panel groups, or dot products for layers with few outputs
// (docs/cpu-backend.md). No LLVM: the plan exists before any IR does.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cpu/Plan.h"

#include <algorithm>

namespace seqc::codegen::cpu {

namespace {

/// The tile: nr columns (at most maxNrVecs vectors, no more than n needs)
/// by mr rows, as many as the registers hold as accumulators beside the
/// weight vectors of a k-step and one broadcast input.
void planTile(DensePlan &p, const KernelConfig &cfg, bool inputsNonNegative) {
  unsigned vw = cfg.vectorWidth;
  p.nrVecs = static_cast<unsigned>(
      std::min<uint64_t>(cfg.maxNrVecs, (p.n + vw - 1) / vw));
  p.nr = p.nrVecs * vw;
  if (cfg.precision == Precision::Int8)
    p.int8Dot = cfg.int8Dot;
  // pmaddubsw is SSSE3's: only the AVX2 and AVX-512BW Pairs targets.
  if (p.int8Dot == Int8Dot::Pairs && inputsNonNegative && vw >= 8)
    p.int8Dot = Int8Dot::UnsignedQuads;
  // UnsignedQuads keeps a vector of ones for pmaddwd beside them (with
  // 12 accumulators on AVX2 its tiles spill: 15-25 % slower than with 10).
  unsigned accBudget = cfg.vectorRegs - p.nrVecs - 2 -
                       (p.int8Dot == Int8Dot::UnsignedQuads ? 1 : 0);
  p.mr = std::max(1u, std::min(cfg.maxMr, accBudget / p.nrVecs));
  p.panels = (p.n + p.nr - 1) / p.nr;
  p.weights = WeightLayout::panelsOf(
      p.n, p.k, p.nr, weightElement(cfg.precision), int8KGroup(p.int8Dot));
  p.biasLength = p.panels * p.nr;
}

/// Cache blocks: the weight micro-panel (kc x nr) stays in L1, about 32
/// KiB, k cut into blocks of equal size so that no short last block pays a
/// full pass over the output. On AVX-512 (cores with 1-2 MiB of L2) a
/// layer of up to kSingleBlockK inputs takes k in one block instead: its
/// micro-panel (up to 256 KiB) is read from L2, which a 12x32 tile's two
/// loads per 24 FMAs can afford, and its partial sums never go back to
/// memory between blocks. The input block (mc x kc) stays in L2, about 256
/// KiB.
void planCacheBlocks(DensePlan &p, const KernelConfig &cfg) {
  uint64_t kcTarget = std::max<uint64_t>(64, 8192 / p.nr);
  if (p.k <= kcTarget * 3 / 2 || (cfg.wideVectors && p.k <= kSingleBlockK)) {
    p.kc = std::max<uint64_t>(p.k, 1);
  } else {
    uint64_t blocks = (p.k + kcTarget - 1) / kcTarget;
    p.kc = (p.k + blocks - 1) / blocks;
  }
  uint64_t mc = 262144 / (4 * p.kc);
  if (cfg.precision == Precision::Int8) {
    // int8 takes k in one block (its micro-panels are a quarter of f32's,
    // and a row's scale applies to its whole sum), and a row block is as
    // many quantised rows as the stack buffer holds (DensePlan).
    p.kc = std::max<uint64_t>(p.k, 1);
    p.quantScaleOffset = quantScaleOffset(p.k, int8InputBytes(p.int8Dot));
    p.quantStride = quantStride(p.k, int8InputBytes(p.int8Dot));
    mc = kQuantBlockBytes / p.quantStride;
  }
  mc = std::clamp<uint64_t>(mc / p.mr * p.mr, p.mr, 20 * p.mr);
  p.mc = mc;
  p.streamsWeights = p.weights.bytes() > kStreamingWeightBytes;
}

/// Panels per group, and groups, for at most `maxGroups` groups of whole
/// runs of `unit` panels.
void groupPanels(const DensePlan &p, uint64_t maxGroups, uint64_t unit,
                 uint64_t &perGroup, uint64_t &groups) {
  perGroup = (p.panels + maxGroups - 1) / maxGroups;
  perGroup = std::min<uint64_t>(p.panels, (perGroup + unit - 1) / unit * unit);
  groups = (p.panels + perGroup - 1) / perGroup;
}

/// A single row (batch 1, or the last row of a block) is a matrix-vector
/// product: one broadcast input feeds gemvPanels adjacent panels, so the
/// loads of packed weights, not the broadcasts, set the pace, and enough
/// independent accumulators hide the FMA latency without splitting k:
/// `widest` panels, as many as the registers allow. Weights that stream
/// from memory go faster in few streams that each advance quickly (the
/// hardware prefetchers run further ahead on them): 128 bytes of weights a
/// k-step, one AVX-512 panel or two AVX2 ones.
///
/// Work items are groups of panels, up to 8 per row block, so that one
/// row block still splits across threads, each a whole number of `widest`
/// runs. A batch of one row, when the weights stream, is cut into up to 16
/// groups of whole gemvPanels runs instead: enough items per layer for two
/// threads that run at different speeds.
void planPanelGroups(DensePlan &p, const KernelConfig &cfg) {
  unsigned widest = p.mr == 1
                        ? 1
                        : static_cast<unsigned>(std::clamp<uint64_t>(
                              cfg.vectorRegs / 2 / p.nrVecs, 1, p.panels));
  p.gemvPanels = p.streamsWeights
                     ? std::clamp(32 / (p.nrVecs * cfg.vectorWidth), 1u, widest)
                     : widest;
  groupPanels(p, 8, widest, p.panelsPerGroup, p.groups);
  p.rowPanelsPerGroup = p.panelsPerGroup;
  p.rowGroups = p.groups;
  if (p.streamsWeights)
    groupPanels(p, 16, p.gemvPanels, p.rowPanelsPerGroup, p.rowGroups);
}

/// Few outputs: n dot products per row, k across the lanes. Panels of n =
/// 10 outputs on 16 lanes waste 6 lanes of every multiply-add for the whole
/// of k; dot products waste none (but the padding of k to whole vectors),
/// and pay instead, once per row and output, for adding up the lanes (a
/// shuffle tree: about two shuffles and an add), counted as one more vector
/// step. The path with fewer vector steps per row wins (docs/cpu-backend.md
/// has the single-layer measurements it matched). The accumulators (rows x
/// n) take at most 3/4 of the registers, the rest hold a vector of each row
/// and one of weights; a tile has rows enough for 8 independent chains
/// where n is small (two FMA pipes, four cycles each). Every tile reads all
/// of the weights, so they must stay in L1 (kDotMaxWeightBytes): larger
/// ones are cut into k blocks that do, and each tile adds a block's sums to
/// the output; not when a tile has 4 rows or more (n <= 2), as a weight
/// vector read from L2 then feeds 4 multiply-adds. Weights that stream stay
/// on the panel path, which prefetches them.
void planDotProducts(DensePlan &p, const KernelConfig &cfg) {
  unsigned vw = cfg.vectorWidth;
  uint64_t kSteps = (p.k + vw - 1) / vw;
  unsigned accRegs = cfg.vectorRegs * 3 / 4;
  uint64_t kPadded = kSteps * vw;
  uint64_t dotSteps = p.n * (kSteps + 1),
           panelSteps = p.k * p.panels * p.nrVecs;
  if (dotSteps >= panelSteps || p.n > accRegs || kSteps < kDotMinKSteps)
    return;
  unsigned n = static_cast<unsigned>(p.n);
  unsigned rows = std::max(2u, (8 + n - 1) / n);
  rows = std::max(1u, std::min(rows, accRegs / n));
  uint64_t bytes = p.n * kPadded * 4;
  if (bytes > kStreamingWeightBytes)
    return;
  p.dotRows = rows;
  p.weights = WeightLayout::rowsOf(p.n, p.k, kPadded, p.n);
  p.biasLength = roundUp(p.n, vw);
  p.dotKc = kPadded;
  if (bytes > kDotMaxWeightBytes && rows < 4) {
    // Blocks of equal size (in vectors of k) that each fit.
    uint64_t maxSteps =
        std::max<uint64_t>(1, kDotMaxWeightBytes / (p.n * vw * 4));
    uint64_t blocks = (kSteps + maxSteps - 1) / maxSteps;
    p.dotKc = (kSteps + blocks - 1) / blocks * vw;
  }
  // Work items of about 64K multiply-adds, a whole number of tiles; with k
  // blocks at least 64 rows, so that a block read into L1 serves many
  // tiles.
  uint64_t perRow = p.n * kPadded;
  uint64_t target = (65536 + perRow - 1) / perRow;
  if (p.dotKc < kPadded)
    target = std::max<uint64_t>(target, 64);
  uint64_t r = p.dotRows;
  p.dotBlockRows =
      std::clamp<uint64_t>((target + r - 1) / r * r, r, kMaxBlockRows / r * r);
  p.streamsWeights = false;
}

} // namespace

uint64_t int8StackBytes(const ir::Model &model) {
  if (planMemory(model).tiny)
    return 0;
  uint64_t bytes = 0;
  for (const ir::Op &op : model.ops)
    if (op.kind == ir::OpKind::Dense)
      bytes +=
          std::max(kQuantBlockBytes,
                   kMaxTileRows * quantStride(op.inFeatures,
                                              int8InputBytes(Int8Dot::Pairs)));
  return bytes;
}

bool inputNeverNegative(const ir::Model &model, size_t opIndex,
                        const KernelConfig &cfg) {
  for (size_t i = opIndex; i-- > 0;) {
    const ir::Op &op = model.ops[i];
    if (op.kind == ir::OpKind::Identity)
      continue;
    if (op.kind != ir::OpKind::Dense && op.kind != ir::OpKind::Act)
      return false;
    if (op.kind == ir::OpKind::Dense && op.rowNorm != ir::RowNorm::None)
      return false;
    return op.act.kind == ir::ActKind::ReLU ||
           (op.act.kind == ir::ActKind::Sigmoid && !cfg.fastMath);
  }
  return false;
}

DensePlan planDense(const ir::Op &op, const KernelConfig &cfg,
                    bool inputsNonNegative) {
  DensePlan p;
  p.k = op.inFeatures;
  p.n = op.outFeatures;
  planTile(p, cfg, inputsNonNegative);
  planCacheBlocks(p, cfg);
  planPanelGroups(p, cfg);
  // Reduced precisions have panel kernels only so far.
  if (cfg.precision == Precision::F32)
    planDotProducts(p, cfg);
  return p;
}

} // namespace seqc::codegen::cpu
