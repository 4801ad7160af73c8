//===- Planner.cpp - The CUDA strategy, kernels and blob layout -----------===//
//
// Part of seqc. Decides, before any text is written, what CudaCodegen.cpp
// emits (CudaPlan.h):
//  1. the fused strategy when every width is at most kFusedMaxWidth and the
//     parameters fit in shared memory (fp32: with as many rows per block as
//     fit), unless the layered strategy is asked for;
//  2. otherwise the layered strategy: one GEMV/GEMM kernel pair per Dense
//     layer and one kernel per run of row operations, with activations in
//     ping-pong scratch buffers between them;
//  3. for either, how each Dense layer is blocked, every kernel's shape and
//     launch, and where each parameter array sits in the blob.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cuda/Internal.h"
#include "compiler/ir/Verifier.h"

#include <fmt/format.h>

#include <algorithm>

namespace seqc::cuda {

namespace {

uint64_t alignUp(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

/// Places parameter arrays in the blob one after the other, each aligned.
class BlobLayout {
public:
  explicit BlobLayout(CudaPlan &plan) : plan(plan) {}

  void place(size_t stage, ArrayRole role, ArrayLayout layout, int64_t rows,
             int64_t columns, uint64_t alignment) {
    PlannedArray array{stage, role, layout, rows, columns, 0};
    array.offset = alignUp(plan.paramBytes, alignment);
    plan.paramBytes = array.offset + array.bytes();
    plan.arrays.push_back(array);
  }
  /// Pads the blob's end to \p alignment.
  void finish(uint64_t alignment) {
    plan.paramBytes = alignUp(plan.paramBytes, alignment);
  }

private:
  CudaPlan &plan;
};

/// Places a LayerNorm's or Affine's vectors; \p biasFirst keeps the order
/// the layered blob has always had.
void placeVectors(BlobLayout &blob, const Stage &s, size_t index,
                  bool biasFirst) {
  auto place = [&](const std::vector<float> *data, ArrayRole role) {
    if (data)
      blob.place(index, role, ArrayLayout::Vector, 1,
                 static_cast<int64_t>(data->size()), kArrayAlign);
  };
  if (biasFirst)
    place(s.bias, ArrayRole::Bias);
  place(s.weight, ArrayRole::Weight);
  if (!biasFirst)
    place(s.bias, ArrayRole::Bias);
}

/// Blocks of a persistent fused kernel resident per SM (the plan caps its
/// grid at this many per SM): as many as kSharedPerSm holds, at least one.
uint32_t blocksPerSm(uint64_t sharedBytes) {
  return static_cast<uint32_t>(std::clamp<uint64_t>(
      kSharedPerSm / std::max<uint64_t>(sharedBytes, 1), 1, kMaxBlocksPerSm));
}

/// The fused fp32 blocking of a Dense layer of \p n outputs in a block of
/// \p rows rows: RN columns per thread (more for wider layers, so that a
/// thread's weight loads are vectors), then RM rows per thread doubled while
/// every thread of the block still gets a task.
DenseBlocking blockFusedF32(int64_t in, int64_t n, int64_t rows) {
  DenseBlocking b;
  b.rn = n >= 96 ? 8 : n >= 48 ? 4 : n >= 24 ? 2 : 1;
  const int64_t columnGroups = (n + b.rn - 1) / b.rn;
  b.kp = in;
  b.np = b.ldw = columnGroups * b.rn;
  while (b.rm < 8 && rows % (b.rm * 2) == 0 &&
         (rows / (b.rm * 2)) * columnGroups >=
             static_cast<int64_t>(kFusedF32Threads))
    b.rm *= 2;
  return b;
}

/// The fused mma blocking of a Dense layer: a layer's outputs are the next
/// one's K, so both are padded to the K step.
DenseBlocking blockFusedMma(int64_t in, int64_t n) {
  DenseBlocking b;
  b.kp = roundUp(in, kMmaK);
  b.np = roundUp(n, kMmaK);
  b.ldw = b.kp + kMmaWeightRowPad;
  return b;
}

/// The fused blob, in stage order: per Dense layer its weight (fp32: W^T
/// [in][np], which does not depend on the rows per block; mma: W [np][ldw]
/// 16-bit) and its bias padded to np; the vectors of the row operations.
/// Dense stages get their blocking.
void placeFusedParams(const std::vector<Stage> &stages, CudaPlan &plan) {
  const bool f32 = plan.precision == Precision::F32;
  const ArrayLayout layout =
      f32 ? ArrayLayout::TransposedF32 : ArrayLayout::Rows16;
  BlobLayout blob(plan);
  for (size_t i = 0; i < stages.size(); ++i) {
    const Stage &s = stages[i];
    if (s.kind == ir::OpKind::Dense) {
      const DenseBlocking b = plan.stages[i].dense =
          f32 ? blockFusedF32(s.in, s.out, kFusedF32Rows[0])
              : blockFusedMma(s.in, s.out);
      blob.place(i, ArrayRole::Weight, layout, f32 ? s.in : b.np, b.ldw,
                 kArrayAlign);
      if (s.bias)
        blob.place(i, ArrayRole::Bias, ArrayLayout::PaddedBias, 1, b.np,
                   kArrayAlign);
    } else if (s.kind == ir::OpKind::LayerNorm ||
               s.kind == ir::OpKind::Affine) {
      placeVectors(blob, s, i, /*biasFirst=*/false);
    }
  }
  blob.finish(kArrayAlign);
}

/// The layered strategy's steps: one per Dense layer (and one more for its
/// row norm, in place), one per run of row operations.
std::vector<LayeredStep> groupSteps(const std::vector<Stage> &stages,
                                    int64_t inWidth) {
  std::vector<LayeredStep> steps;
  auto add = [&](StepKind kind, std::vector<size_t> indices, int64_t width) {
    LayeredStep step;
    step.kind = kind;
    step.stages = std::move(indices);
    step.width = width;
    steps.push_back(std::move(step));
  };
  for (size_t i = 0; i < stages.size(); ++i) {
    const Stage &s = stages[i];
    if (s.kind == ir::OpKind::Dense) {
      add(StepKind::Dense, {i}, s.out);
      if (s.rowNorm != ir::RowNorm::None)
        add(StepKind::InPlaceRowNorm, {i}, s.out);
      continue;
    }
    if (steps.empty() || steps.back().kind != StepKind::RowOps)
      add(StepKind::RowOps, {}, s.out);
    steps.back().stages.push_back(i);
    steps.back().width = s.out;
  }
  if (steps.empty()) // a model that is the identity: copy
    add(StepKind::RowOps, {}, inWidth);
  return steps;
}

/// Plans the GEMV (small batches) and GEMM kernels of Dense step \p si.
bool planDenseStep(const std::vector<Stage> &stages, size_t si, int kernelIndex,
                   CudaPlan &plan, BlobLayout &blob, std::string &error) {
  LayeredStep &step = plan.steps[si];
  const size_t i = step.stages.front();
  const Stage &s = stages[i];
  const bool f32 = plan.precision == Precision::F32;
  DenseBlocking &b = plan.stages[i].dense;
  b.kp = b.ldw = roundUp(s.in, f32 ? kGemmF32KStep : kGemmMmaKStep);
  b.np = roundUp(s.out, kGemmTile);
  // The GEMV also writes the padding columns of its output (zeros).
  const int64_t gemvColumnTiles =
      roundUp(std::max(s.out, step.out.ld), kGemvColumnsPerBlock) /
      kGemvColumnsPerBlock;
  if (b.np / kGemmTile > kMaxGridY || gemvColumnTiles > kMaxGridY) {
    error = fmt::format("layer {} is too wide for the CUDA backend (at "
                        "most {} outputs)",
                        s.comment, kMaxGridY * kGemvColumnsPerBlock);
    return false;
  }
  blob.place(i, ArrayRole::Weight,
             f32 ? ArrayLayout::RowsF32 : ArrayLayout::Rows16, b.np, b.kp,
             kLayeredDenseAlign);
  if (s.bias)
    blob.place(i, ArrayRole::Bias, ArrayLayout::PaddedBias, 1, b.np,
               kLayeredDenseAlign);

  const std::string name = fmt::format("seqc_l{}", kernelIndex);
  PlannedKernel gemv{name + "_gemv", KernelKind::Gemv, {},
                     step.in.buffer, step.out.buffer,  1,
                     kGemvMaxBatch};
  gemv.shape.threads = kGemvThreads;
  gemv.shape.rowsPerBlock = kGemvRowsPerBlock;
  gemv.shape.gridY = static_cast<uint32_t>(gemvColumnTiles);
  PlannedKernel gemm{name + "_gemm", KernelKind::Gemm, {},
                     step.in.buffer, step.out.buffer,  kGemvMaxBatch + 1,
                     UINT64_MAX};
  gemm.shape.threads = kGemmThreads;
  gemm.shape.rowsPerBlock = static_cast<uint32_t>(kGemmTile);
  gemm.shape.sharedBytes = f32 ? kGemmF32SharedBytes : kGemmMmaSharedBytes;
  gemm.shape.gridY = static_cast<uint32_t>(b.np / kGemmTile);
  step.kernels = {plan.kernels.size(), plan.kernels.size() + 1};
  plan.kernels.push_back(std::move(gemv));
  plan.kernels.push_back(std::move(gemm));
  return true;
}

/// Plans the one-warp-per-row kernel of row-operation step \p si.
void planRowStep(const std::vector<Stage> &stages, size_t si, int kernelIndex,
                 CudaPlan &plan, BlobLayout &blob) {
  LayeredStep &step = plan.steps[si];
  if (step.kind == StepKind::RowOps)
    for (size_t i : step.stages)
      if (stages[i].kind == ir::OpKind::LayerNorm ||
          stages[i].kind == ir::OpKind::Affine)
        placeVectors(blob, stages[i], i, /*biasFirst=*/true);
  PlannedKernel rows{fmt::format("seqc_l{}_rows", kernelIndex),
                     KernelKind::RowOps,
                     {},
                     step.in.buffer,
                     step.out.buffer,
                     1,
                     UINT64_MAX};
  rows.shape.threads = kRowOpsThreads;
  rows.shape.rowsPerBlock = kRowOpsThreads / kWarpSize;
  step.kernels = {plan.kernels.size()};
  plan.kernels.push_back(std::move(rows));
}

bool isScratch(PlanBuffer buffer) {
  return buffer == PlanBuffer::Scratch0 || buffer == PlanBuffer::Scratch1;
}

} // namespace

bool planFusedF32(const std::vector<Stage> &stages, const CudaOptions &options,
                  CudaPlan &plan, std::string &reason) {
  CudaPlan fused = plan;
  placeFusedParams(stages, fused);
  int64_t maxWidth = fused.inFeatures;
  for (const Stage &s : stages)
    maxWidth = std::max({maxWidth, s.in, s.out});
  // An odd leading dimension puts a column's rows in different banks.
  const int64_t ld = maxWidth % 2 ? maxWidth : maxWidth + 1;
  const uint32_t budget = options.arch.maxSharedBytes();
  for (int64_t rows : kFusedF32Rows) {
    // Parameters plus two buffers of activations (ping-pong).
    const uint64_t shared = fused.paramBytes + 2 * rows * ld * sizeof(float);
    if (shared > budget) {
      reason =
          fmt::format("the fused fp32 kernel needs {} bytes of shared "
                      "memory ({} of parameters), more than the {} of "
                      "{}",
                      shared, fused.paramBytes, budget, options.arch.smName());
      continue;
    }
    for (size_t i = 0; i < stages.size(); ++i)
      if (stages[i].kind == ir::OpKind::Dense)
        fused.stages[i].dense =
            blockFusedF32(stages[i].in, stages[i].out, rows);
    fused.fusedRows = rows;
    fused.fusedLd = ld;
    PlannedKernel kernel{"seqc_fused",      KernelKind::FusedF32, {},
                         PlanBuffer::Input, PlanBuffer::Output,   0,
                         UINT64_MAX};
    kernel.shape.threads = kFusedF32Threads;
    kernel.shape.rowsPerBlock = static_cast<uint32_t>(rows);
    kernel.shape.sharedBytes = static_cast<uint32_t>(shared);
    kernel.shape.blocksPerSm = blocksPerSm(shared);
    fused.kernels = {std::move(kernel)};
    fused.strategy = Strategy::Fused;
    fused.reason = fmt::format(
        "every width is at most {} and the fp32 kernel with {} rows per block "
        "needs {} of the {} bytes of shared memory of {}",
        kFusedMaxWidth, rows, shared, budget, options.arch.smName());
    plan = std::move(fused);
    return true;
  }
  return false;
}

bool planFusedMma(const std::vector<Stage> &stages, const CudaOptions &options,
                  CudaPlan &plan, std::string &reason) {
  CudaPlan fused = plan;
  placeFusedParams(stages, fused);
  const uint64_t shared = fused.paramBytes;
  const uint32_t budget = options.arch.maxSharedBytes();
  if (shared > budget) {
    reason = fmt::format("the fused {} kernel needs {} bytes of shared memory "
                         "for its parameters, more than the {} of {}",
                         precisionName(options.precision), shared, budget,
                         options.arch.smName());
    return false;
  }
  PlannedKernel kernel{"seqc_fused",      KernelKind::FusedMma, {},
                       PlanBuffer::Input, PlanBuffer::Output,   0,
                       UINT64_MAX};
  kernel.shape.threads = kFusedMmaThreads;
  kernel.shape.rowsPerBlock =
      static_cast<uint32_t>(kFusedMmaThreads / kWarpSize * kMmaRows);
  kernel.shape.sharedBytes = static_cast<uint32_t>(shared);
  kernel.shape.blocksPerSm = blocksPerSm(shared);
  fused.kernels = {std::move(kernel)};
  fused.strategy = Strategy::Fused;
  fused.reason = fmt::format("every width is at most {} and the {} weights "
                             "need {} of the {} bytes of shared memory of {}",
                             kFusedMaxWidth, precisionName(options.precision),
                             shared, budget, options.arch.smName());
  plan = std::move(fused);
  return true;
}

bool planLayered(const std::vector<Stage> &stages, CudaPlan &plan,
                 std::string &error) {
  plan.strategy = Strategy::Layered;
  plan.steps = groupSteps(stages, plan.inFeatures);
  BlobLayout blob(plan);
  BufferView current{PlanBuffer::Input, plan.inFeatures};
  uint64_t scratch = 0;
  for (size_t si = 0; si < plan.steps.size(); ++si) {
    LayeredStep &step = plan.steps[si];
    const size_t left = plan.steps.size() - si;
    const bool last = left == 1 || (left == 2 && plan.steps[si + 1].kind ==
                                                     StepKind::InPlaceRowNorm);
    step.in = current;
    if (step.kind == StepKind::InPlaceRowNorm) {
      step.out = current;
    } else if (last) {
      step.out = {PlanBuffer::Output, plan.outFeatures};
    } else {
      step.out.buffer = current.buffer == PlanBuffer::Scratch0
                            ? PlanBuffer::Scratch1
                            : PlanBuffer::Scratch0;
      step.out.ld = roundUp(step.width, kScratchRowAlign);
      scratch = std::max<uint64_t>(scratch, step.out.ld);
    }
    step.inputLoad =
        isScratch(current.buffer) || current.ld % kVectorFloats == 0
            ? InputLoad::Vector4
            : InputLoad::Scalar;
    const int kernelIndex = static_cast<int>(si);
    if (step.kind == StepKind::Dense) {
      if (!planDenseStep(stages, si, kernelIndex, plan, blob, error))
        return false;
    } else {
      planRowStep(stages, si, kernelIndex, plan, blob);
    }
    current = step.out;
  }
  plan.scratchFloatsPerRow = scratch;
  blob.finish(kLayeredDenseAlign);
  return true;
}

namespace {

/// Why the CUDA backend cannot take \p model as it is; empty when it can.
std::string unsupported(const ir::Model &model, const CudaOptions &options) {
  if (options.precision != Precision::F32 && options.arch.number() < 80)
    return fmt::format("--precision {} uses mma.sync tensor-core "
                       "instructions that need sm_80 or newer, not {}",
                       precisionName(options.precision), options.arch.smName());
  for (const ir::Param &p : model.params)
    if (!p.isBound())
      return fmt::format("parameter '{}' has no data", p.name);
  std::string problem = ir::verifyModel(model, /*requireBound=*/true);
  if (problem.empty())
    problem = ir::verifyFusedForm(model);
  if (!problem.empty())
    return "the model is not in fused form (run the passes first): " + problem;
  return {};
}

} // namespace

bool planCudaProgram(const ir::Model &model, const CudaOptions &options,
                     CudaPlan &plan, std::string &error) {
  plan = CudaPlan();
  if (error = unsupported(model, options); !error.empty())
    return false;
  const std::vector<Stage> stages = buildStages(model);
  plan.modelName = model.name;
  plan.precision = options.precision;
  plan.arch = options.arch;
  plan.inFeatures = model.inputType().features();
  plan.outFeatures = model.outputType().features();
  int64_t maxWidth = plan.inFeatures;
  for (const Stage &s : stages) {
    plan.stages.push_back({s.comment, s.kind, s.in, s.out, {}});
    maxWidth = std::max({maxWidth, s.in, s.out});
  }

  std::string fusedReason;
  if (options.strategy != Strategy::Layered) {
    if (maxWidth > kFusedMaxWidth)
      fusedReason = fmt::format("its widest layer has {} features (the fused "
                                "kernel takes at most {})",
                                maxWidth, kFusedMaxWidth);
    else if (options.precision == Precision::F32
                 ? planFusedF32(stages, options, plan, fusedReason)
                 : planFusedMma(stages, options, plan, fusedReason))
      return true;
    if (options.strategy == Strategy::Fused) {
      error = "the fused CUDA strategy does not fit this model: " + fusedReason;
      return false;
    }
  }
  plan.reason = options.strategy == Strategy::Layered
                    ? "the layered strategy was asked for"
                    : "the fused strategy does not fit: " + fusedReason;
  return planLayered(stages, plan, error);
}

} // namespace seqc::cuda
