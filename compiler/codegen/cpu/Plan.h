//===- Plan.h - Static decisions of the CPU backend -------------*- C++ -*-===//
//
// Part of seqc. Everything the CPU backend decides before it builds any
// LLVM IR, as values without LLVM: how a target shapes the kernels, how each
// Dense layer is blocked and its weights packed, how the scratch memory is
// laid out, and the model's stages in order (the ops each covers, the
// buffers and row strides it reads and writes, how its work is cut into
// items, fused groups, compact code). The emitters follow the plan, the
// header writer and the JIT wrapper read its memory part, and printPlan
// shows it (`seqc ir --print-plan`).
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_CODEGEN_CPU_PLAN_H
#define SEQC_CODEGEN_CPU_PLAN_H

#include "compiler/codegen/common/WeightPacking.h"
#include "compiler/codegen/cpu/CpuBackend.h"
#include "compiler/ir/IR.h"

#include <cstdint>
#include <string>
#include <vector>

namespace seqc::codegen::cpu {

//===----------------------------------------------------------------------===//
// Kernel shapes and Dense layers (KernelPlan.cpp)
//===----------------------------------------------------------------------===//

/// Most rows of a microkernel tile. The planner's tiles have 12 or 6 rows,
/// so row blocks of a multiple of 12 split into whole tiles on any target.
inline constexpr unsigned kMaxTileRows = 12;

/// Most rows of one row block (the largest multiple of kMaxTileRows below
/// 1024): a fused stage's block, or a dot-product stage's work item.
inline constexpr uint64_t kMaxBlockRows = 1020;

/// How int8's dot products run on a target: the k grouping of the packed
/// weights and the form of the quantised inputs. Every form gives the same
/// exact int32 sums.
enum class Int8Dot : uint8_t {
  /// Any target: each int8 input broadcast as an int32, times the weights
  /// widened to int32.
  Widen,
  /// x86 without VNNI (SSE2, AVX2, AVX512BW): pmaddwd multiplies k pairs
  /// of int16 inputs (quantised rows stored as int16) by the weights of
  /// k pairs, sign-extended from int8, and adds each pair's two products
  /// into an int32 lane (127 * 127 * 2 < 2^15: never saturates).
  Pairs,
  /// AVX512_VNNI: vpdpbusd on k groups of 4, the inputs stored as u8 =
  /// q + 128, whose 128 * sum_k q_w[o] the kernel subtracts (stored after
  /// the weights' scales; DenseParams).
  Quads, /// x86 without VNNI (AVX2, AVX512BW), a layer whose inputs are never
  /// negative (inputNeverNegative): they quantise to [0, 127], stored as
  /// u8, and pmaddubsw multiplies k groups of 4 by the weights (pair sums
  /// at most 2 * 127 * 127 < 2^15: never saturates), then pmaddwd by ones
  /// adds the pairs into int32 lanes: 3 instructions per 4 x vw products
  /// where Pairs takes 4.
  UnsignedQuads,
};

/// Consecutive inputs of one output that an int8 kernel step takes
/// together (WeightLayout::kGroup of the packed weights).
inline unsigned int8KGroup(Int8Dot dot) {
  return dot == Int8Dot::Quads || dot == Int8Dot::UnsignedQuads ? 4
         : dot == Int8Dot::Pairs                                ? 2
                                                                : 1;
}

/// Bytes of one quantised input in a work item's buffer.
inline unsigned int8InputBytes(Int8Dot dot) {
  return dot == Int8Dot::Pairs ? 2 : 1;
}

/// How the kernels are shaped for a target (kernelConfigFor in Internal.h
/// derives it from an LLVM target machine).
struct KernelConfig {
  unsigned vectorWidth = 8;      ///< floats per SIMD register
  unsigned vectorRegs = 16;      ///< architectural vector registers
  unsigned maxMr = kMaxTileRows; ///< most rows of a microkernel tile
  unsigned maxNrVecs = 2;        ///< most vectors across a microkernel tile
  bool wideVectors = false;      ///< AVX-512: ask the backend for zmm registers
  bool fastMath = false; ///< --fast-math: float activations (MathEmitter)
  /// --precision of the Dense layers (CpuTargetOptions::precision).
  Precision precision = Precision::F32;
  /// How int8's dot products run (from the target's features).
  Int8Dot int8Dot = Int8Dot::Widen;
  std::string cpu;
  std::string features;
};

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
  /// int8 (dynamic quantisation): each work item quantises its rows of the
  /// layer's input (Precision.h, quantizeRow) into a buffer on the stack,
  /// rows quantStride bytes apart: the row's values (int8Dot's form), zeros
  /// up to quantScaleOffset, then its scale (a float). 0 for other
  /// precisions.
  uint64_t quantStride = 0, quantScaleOffset = 0;
  /// int8: how the kernels take the dot products (KernelConfig::int8Dot);
  /// Widen for other precisions.
  Int8Dot int8Dot = Int8Dot::Widen;
};

/// int8: the bytes of a work item's quantised rows (mc x quantStride) on
/// the stack, which bounds mc; and the most inputs an int8 layer may have,
/// which bounds that buffer (a tile's rows) and keeps the int32 sums exact
/// (127 * 127 * k < 2^31).
inline constexpr uint64_t kQuantBlockBytes = 64 << 10;
inline constexpr uint64_t kInt8MaxInputs = 16384;

/// int8: where a quantised row of \p k inputs of \p bytes each keeps its
/// scale (its values padded to a cache line), and the bytes between two
/// such rows.
inline uint64_t quantScaleOffset(uint64_t k, unsigned bytes) {
  return roundUp(k * bytes, 64);
}
inline uint64_t quantStride(uint64_t k, unsigned bytes) {
  return roundUp(quantScaleOffset(k, bytes) + 4, 64);
}

/// int8: at most how many stack bytes \p model's Dense stages take for
/// their quantised rows on any target (a tile has at most kMaxTileRows
/// rows), all of them together (inlined into one fused stage, their
/// buffers may share its frame); 0 for a tiny network.
uint64_t int8StackBytes(const ir::Model &model);

/// Whether op \p opIndex of \p model reads values that are never negative
/// (NaN aside): the output of a ReLU, or of a sigmoid computed exactly
/// (not --fast-math), with identities in between.
bool inputNeverNegative(const ir::Model &model, size_t opIndex,
                        const KernelConfig &cfg);

/// Blocks one Dense layer for the target; \p inputsNonNegative: its inputs
/// are never negative (inputNeverNegative), which int8 may use.
DensePlan planDense(const ir::Op &op, const KernelConfig &cfg,
                    bool inputsNonNegative = false);

/// Packed weights (DensePlan::weights) above this many bytes stream from
/// L3 or memory.
inline constexpr uint64_t kStreamingWeightBytes = uint64_t(1) << 19;

/// Weights that stream are prefetched this many k-steps ahead of their
/// use: far enough to cover memory latency, near enough to stay in L1.
inline constexpr uint64_t kWeightPrefetchSteps = 32;

/// A stage whose source activations exceed this many bytes reads them from
/// memory (more than a core's share of L3); its full tiles then prefetch
/// the rows of the tile kColdPrefetchTiles ahead into L2 on their first
/// pass, as the hardware prefetchers do not for a dozen rows read side by
/// side (docs/cpu-backend.md, "Sources in memory").
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

//===----------------------------------------------------------------------===//
// Memory (ModelPlan.cpp)
//===----------------------------------------------------------------------===//

/// The memory plan of a model: the same for every target, as the header
/// states it and PREFIX_scratch_bytes computes it.
struct MemoryPlan {
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

/// Scratch buffers start on this boundary (bytes), so that rows of a
/// multiple of 16 floats start on cache lines: the caller's pointer is
/// rounded up to it, and each buffer's size too.
inline constexpr uint64_t kScratchAlign = 64;

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

MemoryPlan planMemory(const ir::Model &model);

//===----------------------------------------------------------------------===//
// Stages (ModelPlan.cpp)
//===----------------------------------------------------------------------===//

/// The [batch, F] row buffers a stage reads or writes, in the order of
/// PREFIX_run's buffer table.
enum class Buffer : uint8_t { Input, Output, Scratch0, Scratch1 };

/// One pass over the batch, a task function called on ranges of work
/// items: a Dense layer, a row-wise op, the softmax ending a Dense layer,
/// the tiny network, or a fused chain of the others.
struct StagePlan {
  StageKind kind = StageKind::Dense;
  /// The ops it computes, [firstOp, lastOp] of the fused model.
  size_t firstOp = 0, lastOp = 0;
  Buffer src = Buffer::Input, dst = Buffer::Output;
  /// Row strides (floats) of src and dst.
  uint64_t srcStride = 0, dstStride = 0;
  /// Work items = ceil(batch / rowsPerItem) * itemsPerRowBlock; with
  /// rowAlign > 0, rowsPerItem is the largest row block and the blocks are
  /// evened out at run time in multiples of rowAlign; a fused stage's
  /// blocks are at most rowsPerItem rows, fewer for small batches.
  uint64_t rowsPerItem = 1;
  uint64_t rowAlign = 0;
  uint64_t itemsPerRowBlock = 1;
  /// Work items when the batch is one row (0: as itemsPerRowBlock).
  uint64_t itemsForOneRow = 0;
  /// Rough multiply-adds per row, and below how many rows the stage runs
  /// on the calling thread (kMinParallelWork).
  uint64_t workPerRow = 1;
  uint64_t minParallelRows = 1;
  /// Whether the stage's context says, from the batch at run time, if its
  /// source is cold (kColdSourceBytes); not for the later stages of a
  /// fused chain, which read the block just written.
  bool coldCheck = true;
  /// Dense stages: how the layer is blocked and its weights packed.
  DensePlan dense;
  /// Compact code (ModelPlan::compactCode), Dense stages: the kernels have
  /// k and the row strides as constants, as inlined kernels do; those of
  /// layers that at least two share, at most kMaxSpecialised signatures.
  bool specialised = false;
  /// Fused stages: the stages it runs on each row block, in order.
  std::vector<StagePlan> inner;
};

/// The plan of a model for one target.
struct ModelPlan {
  KernelConfig config;
  MemoryPlan memory;
  /// More than kInlineDenseLayers Dense layers: microkernels shared by the
  /// layers whose code is the same, and nothing inlined.
  bool compactCode = false;
  /// What PREFIX_run calls, in order.
  std::vector<StagePlan> stages;
};

/// Models with more Dense layers than this are emitted compactly: inlined,
/// every layer brings its own dozen kernels, unrolled for its width, and
/// compile time grows faster than the layer count; shared, they cost
/// narrow layers a call each at batch 1 (docs/cpu-backend.md, "Compact
/// code").
inline constexpr unsigned kInlineDenseLayers = 16;
/// Compact code specialises the kernels of at most this many layer
/// signatures, so that the unrolled code stays bounded however many
/// distinct layers there are.
inline constexpr size_t kMaxSpecialised = 16;
/// Networks whose packed weights total at most this many bytes run as one
/// fused stage, their weights staying in L2.
inline constexpr uint64_t kFuseMaxWeightBytes = 256 << 10;
/// Bytes of one row block's input plus output activations in a fused
/// stage: they stay in L2 between layers.
inline constexpr uint64_t kFuseBlockBytes = 128 << 10;
/// A fused stage cuts a small batch into about this many row blocks, so
/// that it still shares out.
inline constexpr uint64_t kFusedShareItems = 8;
/// Below this many multiply-adds (about 5 us of work on one core) a stage
/// runs on the calling thread; above it sharing pays even when a worker is
/// slow to wake, since the pool's caller claims the items itself.
inline constexpr uint64_t kMinParallelWork = 1u << 18;
/// Floats of output per work item of a row-wise stage.
inline constexpr uint64_t kRowItemFloats = 16384;
/// Rows per work item of the tiny network's stage.
inline constexpr uint64_t kTinyRowsPerItem = 1024;

/// Plans \p model (fused) for the target \p cfg describes.
ModelPlan planModel(const ir::Model &model, const KernelConfig &cfg);

/// What the code of a Dense layer's kernels depends on besides the tile
/// and the target: panel shape, \p k, the row strides (0: passed at run
/// time), bias, activation (its parameters to the bit), prefetching.
std::string denseSignature(const ir::Op &op, const DensePlan &plan, uint64_t k,
                           uint64_t lda, uint64_t ldc);

/// `dense 784 -> 512, relu`: an op's kind, widths, activation, softmax
/// and missing bias.
std::string describeOp(const ir::Model &model, const ir::Op &op);

/// A stage as `seqc view` labels it: its number \p index, kind, ops and
/// blocking in a line or a few (the inner stages of a fused one).
std::string summarizeStage(const ir::Model &model, const StagePlan &st,
                           size_t index);

/// The plan as text, one line per stage (the stages of a fused one
/// indented below it), after a line for the target and one for the memory
/// and code shape.
std::string printPlan(const ir::Model &model, const ModelPlan &plan);

} // namespace seqc::codegen::cpu

#endif // SEQC_CODEGEN_CPU_PLAN_H
