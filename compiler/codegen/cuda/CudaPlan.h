//===- CudaPlan.h - What the CUDA backend emits, decided first --*- C++ -*-===//
//
// Part of seqc. Every decision the CUDA code generator takes before it writes
// text: the strategy and why, how each Dense layer is blocked, every kernel
// with its shape and its launch, and where each parameter array sits in the
// blob. The emitters (FusedEmitter.cpp, LayeredEmitter.cpp) follow the plan;
// `str()` prints it. Needs neither LLVM nor the CUDA toolkit.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_CODEGEN_CUDA_CUDAPLAN_H
#define SEQC_CODEGEN_CUDA_CUDAPLAN_H

#include "compiler/codegen/cuda/GpuArch.h"
#include "compiler/codegen/cuda/Precision.h"
#include "compiler/ir/IR.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace seqc::cuda {

enum class Strategy { Auto, Fused, Layered };

const char *strategyName(Strategy strategy);
/// `auto`, `fused`, `layered` (strategyName's spellings); nullopt for
/// anything else.
std::optional<Strategy> parseStrategy(const std::string &text);

/// Widest layer the fused strategy accepts.
inline constexpr int64_t kFusedMaxWidth = 128;

struct CudaOptions {
  GpuArch arch;
  Precision precision = Precision::F32;
  Strategy strategy = Strategy::Auto;
  /// Passed to NVRTC as --use_fast_math.
  bool fastMath = false;
};

/// One kernel's shape: the source states `threads` in `__launch_bounds__`
/// and the launch uses all of it, so the two are one value.
struct KernelShape {
  uint32_t threads = 0;
  /// Rows of the batch one block covers: the grid is ceil(batch / rows).
  uint32_t rowsPerBlock = 1;
  uint32_t sharedBytes = 0;
  uint32_t gridY = 1;
  /// A persistent kernel's grid is capped at this many blocks per SM; 0
  /// leaves it uncapped.
  uint32_t blocksPerSm = 0;
};

/// The buffers a launch reads and writes (seqc_cuda_launch's indices).
enum class PlanBuffer : int32_t { Input, Output, Scratch0, Scratch1 };

const char *bufferName(PlanBuffer buffer);

enum class KernelKind { FusedF32, FusedMma, Gemm, Gemv, RowOps };

/// One kernel of the plan, in launch order.
struct PlannedKernel {
  std::string name;
  KernelKind kind = KernelKind::RowOps;
  KernelShape shape;
  PlanBuffer input = PlanBuffer::Input;
  PlanBuffer output = PlanBuffer::Output;
  /// The batches it runs for (the runtime skips it for the others).
  uint64_t minBatch = 0;
  uint64_t maxBatch = UINT64_MAX;
};

/// How a parameter array is laid out in the blob (WeightLayouts.cpp packs
/// each kind).
enum class ArrayLayout {
  /// The op's floats as they are (LayerNorm and Affine vectors).
  Vector,
  /// A Dense bias, zeros up to `columns`.
  PaddedBias,
  /// A Dense weight transposed, W^T as [in][columns] floats (fused fp32).
  TransposedF32,
  /// A Dense weight as [rows][columns] floats, zero padded (layered fp32).
  RowsF32,
  /// A Dense weight as [rows][columns] bf16 or f16 (the plan's precision),
  /// zero padded (tensor cores).
  Rows16,
};

enum class ArrayRole { Weight, Bias };

/// One parameter array in the blob.
struct PlannedArray {
  size_t stage = 0;
  ArrayRole role = ArrayRole::Weight;
  ArrayLayout layout = ArrayLayout::Vector;
  int64_t rows = 1;
  int64_t columns = 0;
  /// Bytes from the start of the blob.
  uint64_t offset = 0;

  uint64_t bytes() const;
};

/// How a Dense stage's product is blocked and its weight padded.
struct DenseBlocking {
  /// K and N rounded up to the kernel's steps.
  int64_t kp = 0, np = 0;
  /// Leading dimension of the packed weight.
  int64_t ldw = 0;
  /// Fused fp32: rows and columns of outputs per thread.
  int rm = 1, rn = 1;
};

/// One op of the fused model as the plan sees it.
struct PlannedStage {
  /// One line, safe inside a C comment: `dense 64 -> 10, relu [...]`.
  std::string description;
  ir::OpKind kind = ir::OpKind::Dense;
  int64_t in = 0, out = 0;
  /// Dense stages only.
  DenseBlocking dense;
};

/// A plan buffer and its row stride in floats.
struct BufferView {
  PlanBuffer buffer = PlanBuffer::Input;
  int64_t ld = 0;
};

/// How the layered GEMM/GEMV reads its input rows (the prelude's XMODE).
enum class InputLoad : int {
  /// 16-byte vectors with no column guard (a padded buffer, or K % 4 == 0).
  Vector4 = 0,
  /// One float at a time, guarded by K.
  Scalar = 1,
};

/// What a layered step computes: a Dense layer (two kernels, for small and
/// large batches), a run of row operations, or the row norm of the Dense
/// before it, in place.
enum class StepKind { Dense, RowOps, InPlaceRowNorm };

/// One step of the layered strategy.
struct LayeredStep {
  StepKind kind = StepKind::RowOps;
  /// The stages it computes (none: a model that is the identity, copied).
  std::vector<size_t> stages;
  BufferView in, out;
  /// Output features.
  int64_t width = 0;
  InputLoad inputLoad = InputLoad::Vector4;
  /// Its kernels, indices into CudaPlan::kernels.
  std::vector<size_t> kernels;
};

/// The plan of one model.
struct CudaPlan {
  std::string modelName;
  Strategy strategy = Strategy::Fused;
  Precision precision = Precision::F32;
  GpuArch arch;
  /// Why this strategy: what fits, or why the fused kernel does not.
  std::string reason;
  int64_t inFeatures = 0, outFeatures = 0;
  std::vector<PlannedStage> stages;
  std::vector<PlannedArray> arrays;
  /// Size of the blob, padding at the end included.
  uint64_t paramBytes = 0;
  uint64_t scratchFloatsPerRow = 0;
  std::vector<PlannedKernel> kernels;
  /// Fused fp32: rows of activations a block keeps in shared memory, and
  /// their leading dimension.
  int64_t fusedRows = 0, fusedLd = 0;
  /// Layered strategy only.
  std::vector<LayeredStep> steps;

  /// The array of \p stage in \p role; nullptr when it has none.
  const PlannedArray *array(size_t stage, ArrayRole role) const;
  /// The plan as text, one kernel and one stage per line.
  std::string str() const;
};

/// `fused fp32`, `fused mma`, `tiled GEMM`, `small-batch GEMV`, `row
/// operations`: the kernel kinds as the plan's text names them.
const char *kernelKindName(KernelKind kind);

/// Plans \p model (fused form, every parameter bound). Returns false and
/// sets \p error when the model uses something the CUDA backend does not
/// support or a forced strategy does not fit.
bool planCudaProgram(const ir::Model &model, const CudaOptions &options,
                     CudaPlan &plan, std::string &error);

} // namespace seqc::cuda

#endif // SEQC_CODEGEN_CUDA_CUDAPLAN_H
