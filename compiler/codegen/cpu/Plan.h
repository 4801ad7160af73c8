//===- Plan.h - Static decisions of the CPU backend -------------*- C++ -*-===//
//
// Part of seqc. Which code path a model takes and how its scratch memory is
// laid out; shared by the emitter, the header writer and the JIT wrapper.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_CODEGEN_CPU_PLAN_H
#define SEQC_CODEGEN_CPU_PLAN_H

#include "compiler/codegen/common/WeightPacking.h"
#include "compiler/ir/IR.h"

#include <cstdint>
#include <string>

namespace seqc::codegen::cpu {

/// The memory plan of a model.
struct ModelPlan {
  /// Whole network as straight-line code with rows in SIMD lanes (no
  /// scratch); chosen when every width is at most kTinyMaxWidth and the
  /// dense weights total at most kTinyMaxWeights.
  bool tiny = false;
  /// Ping-pong scratch buffers (0, 1 or 2), each [batch, scratchFeatures]:
  /// the widest intermediate row stride (scratchStride).
  unsigned scratchBuffers = 0;
  uint64_t scratchFeatures = 0;
};

inline constexpr int64_t kTinyMaxWidth = 16;
inline constexpr uint64_t kTinyMaxWeights = 512;

/// Row stride (floats) of a `width`-wide activation in a scratch buffer.
/// Rows of 256 floats or more start on a 64-byte line and are an odd number
/// of lines apart: the rows a microkernel tile reads or writes at once then
/// fall in different L1 sets, where a power-of-two stride (2048 floats: 8
/// KiB) would put all of them in one set and evict its weights.
inline uint64_t scratchStride(uint64_t width) {
  if (width < 256)
    return width;
  uint64_t lines = (width + 15) / 16;
  return (lines | 1) * 16;
}

ModelPlan planModel(const ir::Model &model);

/// How one Dense layer is blocked.
struct DensePlan {
  uint64_t k = 0, n = 0;       ///< in and out features
  unsigned nrVecs = 1, nr = 8; ///< microkernel width in vectors and floats
  unsigned mr = 1;             ///< microkernel rows
  uint64_t panels = 0;         ///< ceil(n / nr) packed weight panels
  uint64_t kc = 0;             ///< k block (B micro-panel in L1)
  uint64_t mc = 0;             ///< row block (A block in L2)
  unsigned gemvPanels = 1;     ///< panels across the single-row kernel
  uint64_t panelsPerGroup = 1; ///< panels per work item
  uint64_t groups = 1;         ///< panel groups per row block
  /// Panels per work item and groups when the whole batch is one row.
  uint64_t rowPanelsPerGroup = 1, rowGroups = 1;
  /// The packed weights exceed L2 (kStreamingWeightBytes), so they stream
  /// from L3 or memory and the kernels prefetch them.
  bool streamsWeights = false;
  /// Rows per tile of a layer with few outputs, which is computed as dot
  /// products instead (k across the lanes, emitNarrowDenseStage); 0 for
  /// the panel path. Its weights are n rows padded to whole vectors
  /// (weights.kPadded floats), taken in k blocks of dotKc (a whole number
  /// of vectors; weights.kPadded for one block), and its work items are
  /// dotBlockRows rows; the panel fields above are then unused.
  unsigned dotRows = 0;
  uint64_t dotKc = 0;
  uint64_t dotBlockRows = 0;
  /// The packed weights: panels of nr outputs, or rows on the dot path.
  WeightLayout weights;
  /// Floats of the padded bias: whole panels, or whole vectors on the dot
  /// path (the kernels load the padding with the rest).
  uint64_t biasLength = 0;
};

/// Packed weights (DensePlan::weights) above this many bytes stream from
/// L3 or memory.
inline constexpr uint64_t kStreamingWeightBytes = uint64_t(1) << 19;

/// A stage whose source activations exceed this many bytes reads them from
/// memory (more than a core's share of L3); its full tiles then prefetch
/// the rows of the tile kColdPrefetchTiles ahead into L2 on their first
/// pass, as the hardware prefetchers do not for a dozen rows read side by
/// side. Measured on Zen 5 (codegen-ab, 1 thread): a 512-wide first layer
/// 1.01 per call from 1 to 4 MiB of input (L3 hits), 1.00 at 8 MiB, 0.96
/// at 12 MiB, 0.89 at 16 MiB; a 64-wide one 0.95 at 8 MiB.
inline constexpr uint64_t kColdSourceBytes = uint64_t(4) << 20;
inline constexpr uint64_t kColdPrefetchTiles = 2;

/// On AVX-512 targets, Dense layers with at most this many inputs take k
/// in one block (planDense).
inline constexpr uint64_t kSingleBlockK = 2048;

/// A Dense layer takes the dot path when that needs fewer vector steps per
/// row than its panels (n * (k / lanes + 1) against k * panel vectors), it
/// has at least kDotMinKSteps vectors of inputs, its outputs fit the
/// registers as accumulators and its weights do not stream
/// (kStreamingWeightBytes). Weights over kDotMaxWeightBytes are taken in k
/// blocks of at most that size (unless a tile has 4 rows or more), which
/// stay in L1 while every tile of a row block reads them (planDense).
inline constexpr uint64_t kDotMinKSteps = 2;
inline constexpr uint64_t kDotMaxWeightBytes = 32 << 10;

/// How the kernels are shaped for a target (kernelConfigFor in Internal.h
/// derives it from an LLVM target machine).
struct KernelConfig {
  unsigned vectorWidth = 8; ///< floats per SIMD register
  unsigned vectorRegs = 16; ///< architectural vector registers
  unsigned maxMr = 12;      ///< most rows of a microkernel tile
  unsigned maxNrVecs = 2;   ///< most vectors across a microkernel tile
  bool wideVectors = false; ///< AVX-512: ask the backend for zmm registers
  bool fastMath = false;    ///< --fast-math: float activations (MathEmitter)
  std::string cpu;
  std::string features;
};

/// Blocks one Dense/Linear layer for the target.
DensePlan planDense(const ir::Op &op, const KernelConfig &cfg);

} // namespace seqc::codegen::cpu

#endif // SEQC_CODEGEN_CPU_PLAN_H
