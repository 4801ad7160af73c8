//===- Internal.h - Shared internals of the CUDA code generator -*- C++ -*-===//
//
// Part of seqc. Private to compiler/codegen/cuda: the shapes the prelude's
// kernels are written for, the model's ops as stages, the planner of each
// strategy, the weight layouts, the activation functors and the emitters
// that follow a plan.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_CODEGEN_CUDA_INTERNAL_H
#define SEQC_CODEGEN_CUDA_INTERNAL_H

#include "compiler/codegen/cuda/CudaCodegen.h"
#include "compiler/codegen/cuda/CudaPlan.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace seqc::cuda {

//===----------------------------------------------------------------------===//
// Shapes of the prelude's kernels (Prelude.cuh). Each number here must agree
// with the device code that assumes it.
//===----------------------------------------------------------------------===//

constexpr uint32_t kWarpSize = 32;
/// The kernels move data in 16-byte vectors (float4, uint4).
constexpr uint64_t kVectorBytes = 16;
constexpr int64_t kVectorFloats = kVectorBytes / sizeof(float);

/// seqc_block_*: a block of 256 threads shares each fp32 layer's outputs.
constexpr uint32_t kFusedF32Threads = 256;
/// Rows of activations a fused fp32 block keeps in shared memory, tried in
/// this order: more rows reuse each weight more, fewer fit larger models.
constexpr int64_t kFusedF32Rows[] = {64, 32, 16};

/// seqc_warp_*/seqc_frag_*: four warps, each owning one mma tile of rows.
constexpr uint32_t kFusedMmaThreads = 128;
/// Rows, and the K step, of mma.sync.m16n8k16.
constexpr int64_t kMmaRows = 16;
constexpr int64_t kMmaK = 16;
/// Columns of one accumulator fragment (the n8 of m16n8k16).
constexpr int64_t kMmaFragmentColumns = 8;
/// 16-bit weight rows get 8 more elements so that ldmatrix is conflict-free.
constexpr int64_t kMmaWeightRowPad = 8;

/// seqc_gemm_f32 and seqc_gemm_mma: 256 threads compute a 128x128 tile.
constexpr uint32_t kGemmThreads = 256;
constexpr int64_t kGemmTile = 128;
/// K steps: 8 floats (fp32 FMA) or 32 halves (two mma K steps).
constexpr int64_t kGemmF32KStep = 8;
constexpr int64_t kGemmMmaKStep = 32;
/// Double-buffered A and B tiles: [2][8][128 + 4] floats each (fp32),
/// [2][128][32 + 8] halves each (mma).
constexpr uint32_t kGemmF32SharedBytes =
    2 * 2 * kGemmF32KStep * (kGemmTile + 4) * sizeof(float);
constexpr uint32_t kGemmMmaSharedBytes =
    2 * 2 * kGemmTile * (kGemmMmaKStep + 8) * sizeof(uint16_t);

/// seqc_gemv: four warps of two output columns each, 16 rows per block.
constexpr uint32_t kGemvThreads = 128;
constexpr uint32_t kGemvRowsPerBlock = 16;
constexpr int64_t kGemvColumnsPerBlock = 8;
/// Layered Dense layers run seqc_gemv up to this batch and the tiled GEMM
/// above it: below it a 128x128 tile leaves most SMs idle, while reading the
/// weights once per 16 rows costs little (docs/cuda-backend.md).
constexpr uint64_t kGemvMaxBatch = 64;

/// Row-operation kernels: one warp per row, eight rows per block.
constexpr uint32_t kRowOpsThreads = 256;

/// Scratch rows are padded to 32 floats, so loads of 16 bytes need no guard.
constexpr int64_t kScratchRowAlign = 32;
/// CUDA's limit on grid.y, which counts column tiles.
constexpr int64_t kMaxGridY = 65535;
/// Shared memory of one SM that resident fused blocks share (sm_90's 227 KiB
/// per block), and the most blocks per SM the plan allows.
constexpr uint64_t kSharedPerSm = 232448;
constexpr uint32_t kMaxBlocksPerSm = 4;

/// Parameter arrays are aligned for vector loads (and the fused kernels'
/// vector copy to shared memory); the layered Dense weights and biases to
/// 256 bytes, so their rows start on memory transactions.
constexpr uint64_t kArrayAlign = kVectorBytes;
constexpr uint64_t kLayeredDenseAlign = 256;

inline int64_t roundUp(int64_t value, int64_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

//===----------------------------------------------------------------------===//
// Stages and planning (Stages.cpp, Planner.cpp)
//===----------------------------------------------------------------------===//

/// An op of the fused model (ir::verifyFusedForm) with what emission needs.
struct Stage {
  /// Dense, Act, Softmax, LogSoftmax, LayerNorm or Affine.
  ir::OpKind kind = ir::OpKind::Dense;
  int64_t in = 0;
  int64_t out = 0;
  ir::Activation act;
  ir::RowNorm rowNorm = ir::RowNorm::None;
  double eps = 0.0;
  const std::vector<float> *weight = nullptr; // Dense [out,in], LN, Affine
  const std::vector<float> *bias = nullptr;
  std::string comment;
};

/// The stages of \p model, which must be in fused form.
std::vector<Stage> buildStages(const ir::Model &model);

/// Plans the fp32 fused kernel into \p plan; false (with \p reason, and \p
/// plan unchanged) when it does not fit in shared memory.
bool planFusedF32(const std::vector<Stage> &stages, const CudaOptions &options,
                  CudaPlan &plan, std::string &reason);

/// Plans the tensor-core fused kernel (bf16/f16); false (with \p reason, and
/// \p plan unchanged) when its weights do not fit in shared memory.
bool planFusedMma(const std::vector<Stage> &stages, const CudaOptions &options,
                  CudaPlan &plan, std::string &reason);

/// Plans one GEMM/GEMV kernel pair per Dense layer and one kernel per run
/// of row operations; false (with \p error) when a layer is too wide.
bool planLayered(const std::vector<Stage> &stages, CudaPlan &plan,
                 std::string &error);

/// A launch's grid in x as text: `ceil(batch/16)`,
/// `min(ceil(batch/64), 4 per SM)`.
std::string describeGrid(const KernelShape &shape);
/// `, batch 1..64`, `, batch >= 65`, or nothing for every batch.
std::string describeBatches(uint64_t minBatch, uint64_t maxBatch);

//===----------------------------------------------------------------------===//
// Weight layouts (WeightLayouts.cpp)
//===----------------------------------------------------------------------===//

/// \p size floats: \p src (if any) followed by zeros.
std::vector<float> padBias(const std::vector<float> *src, size_t size);
/// W [out][in] as W^T [in][ldw] floats, zeros in the padding columns.
std::vector<float> packTransposedF32(const std::vector<float> &weight,
                                     int64_t in, int64_t out, int64_t ldw);
/// W [out][in] as [rows][ldw] floats, zeros in the padding.
std::vector<float> packRowsF32(const std::vector<float> &weight, int64_t in,
                               int64_t out, int64_t rows, int64_t ldw);
/// W [out][in] as [rows][ldw] bf16 or f16 bit patterns, zeros in the
/// padding.
std::vector<uint16_t> packRows16(const std::vector<float> &weight, int64_t in,
                                 int64_t out, int64_t rows, int64_t ldw,
                                 Precision precision);
/// The parameter blob of \p plan: every planned array packed in its layout
/// at its offset, zeros between them.
std::vector<uint8_t> packParams(const CudaPlan &plan,
                                const std::vector<Stage> &stages);

//===----------------------------------------------------------------------===//
// Source text (SourceText.cpp)
//===----------------------------------------------------------------------===//

/// A float literal CUDA accepts: `0.0099999998f`, `SEQC_INFINITY`.
std::string floatLiteral(double value);

/// Emits activation functors, one per distinct activation.
class ActivationTable {
public:
  /// The functor expression for \p act, e.g. `seqc_act_relu()`.
  std::string use(const ir::Activation &act);
  std::string definitions;

private:
  std::map<std::string, std::string> names;
  std::map<std::string, bool> used;
};

/// The parameter lists of every kernel: the plan's input and output
/// buffers, the parameter blob and the batch.
extern const char *const kKernelParams;
/// Kernels that may run in place (x == y) must not promise no aliasing.
extern const char *const kKernelParamsAliased;

/// `reinterpret_cast<const TYPE *>(params + OFFSETull)`.
std::string ptr(const char *type, uint64_t offset);

/// `true` or `false`, for template arguments.
const char *cppBool(bool value);

/// `__launch_bounds__(THREADS)` of \p shape.
std::string launchBounds(const KernelShape &shape);

/// `PREFIX` followed by \p index (`b3`) when \p present, else `nullptr`.
std::string paramOrNull(const char *prefix, size_t index, bool present);

//===----------------------------------------------------------------------===//
// Emitters: the kernels of a plan (FusedEmitter.cpp, LayeredEmitter.cpp)
//===----------------------------------------------------------------------===//

/// The fp32 fused kernel of \p plan.
std::string emitFusedF32(const std::vector<Stage> &stages, const CudaPlan &plan,
                         ActivationTable &acts);

/// The tensor-core fused kernel (bf16/f16) of \p plan.
std::string emitFusedMma(const std::vector<Stage> &stages, const CudaPlan &plan,
                         ActivationTable &acts);

/// The layered kernels of \p plan, step by step.
std::string emitLayered(const std::vector<Stage> &stages, const CudaPlan &plan,
                        ActivationTable &acts);

} // namespace seqc::cuda

#endif // SEQC_CODEGEN_CUDA_INTERNAL_H
