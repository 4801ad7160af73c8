//===- CudaPlan.cpp - The CUDA plan's names and its printed form ----------===//
//
// Part of seqc. Names of the plan's choices, lookups, and the plan as text
// (`CudaPlan::str`): one line per kernel with its launch, one line per
// stage with its blocking and parameter arrays.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cuda/CudaPlan.h"
#include "compiler/codegen/cuda/Internal.h"

#include <fmt/format.h>

namespace seqc::cuda {

const char *strategyName(Strategy strategy) {
  switch (strategy) {
  case Strategy::Auto:
    return "auto";
  case Strategy::Fused:
    return "fused";
  case Strategy::Layered:
    return "layered";
  }
  return "auto";
}

std::optional<Strategy> parseStrategy(const std::string &text) {
  for (Strategy strategy : {Strategy::Auto, Strategy::Fused, Strategy::Layered})
    if (text == strategyName(strategy))
      return strategy;
  return std::nullopt;
}

const char *bufferName(PlanBuffer buffer) {
  switch (buffer) {
  case PlanBuffer::Input:
    return "x";
  case PlanBuffer::Output:
    return "y";
  case PlanBuffer::Scratch0:
    return "scratch0";
  case PlanBuffer::Scratch1:
    return "scratch1";
  }
  return "?";
}

std::string describeGrid(const KernelShape &shape) {
  return shape.blocksPerSm ? fmt::format("min(ceil(batch/{}), {} per SM)",
                                         shape.rowsPerBlock, shape.blocksPerSm)
                           : fmt::format("ceil(batch/{})", shape.rowsPerBlock);
}

std::string describeBatches(uint64_t minBatch, uint64_t maxBatch) {
  if (minBatch <= 1 && maxBatch == UINT64_MAX)
    return "";
  return maxBatch == UINT64_MAX
             ? fmt::format(", batch >= {}", minBatch)
             : fmt::format(", batch {}..{}", minBatch, maxBatch);
}

uint64_t PlannedArray::bytes() const {
  const uint64_t element = layout == ArrayLayout::Rows16 ? 2 : 4;
  return static_cast<uint64_t>(rows * columns) * element;
}

const char *kernelKindName(KernelKind kind) {
  switch (kind) {
  case KernelKind::FusedF32:
    return "fused fp32";
  case KernelKind::FusedMma:
    return "fused mma";
  case KernelKind::Gemm:
    return "tiled GEMM";
  case KernelKind::Gemv:
    return "small-batch GEMV";
  case KernelKind::RowOps:
    return "row operations";
  }
  return "?";
}

const PlannedArray *CudaPlan::array(size_t stage, ArrayRole role) const {
  for (const PlannedArray &a : arrays)
    if (a.stage == stage && a.role == role)
      return &a;
  return nullptr;
}

namespace {

/// `kernel seqc_l0_gemv (small-batch GEMV): x -> scratch0, batch 1..64,
/// grid (ceil(batch/16), 64), 128 threads, 16 rows per block, 0 B shared`.
std::string kernelLine(const PlannedKernel &k) {
  return fmt::format("kernel {} ({}): {} -> {}{}, grid ({}, {}), {} threads, "
                     "{} rows per block, {} B shared\n",
                     k.name, kernelKindName(k.kind), bufferName(k.input),
                     bufferName(k.output),
                     describeBatches(k.minBatch, k.maxBatch),
                     describeGrid(k.shape), k.shape.gridY, k.shape.threads,
                     k.shape.rowsPerBlock, k.shape.sharedBytes);
}

/// `W^T [64][64] f32 at 0`, `bias [64] at 16384`.
std::string arrayText(const PlannedArray &a, Precision precision) {
  std::string what;
  switch (a.layout) {
  case ArrayLayout::Vector:
    what = fmt::format(
        "{} [{}]", a.role == ArrayRole::Weight ? "weight" : "bias", a.columns);
    break;
  case ArrayLayout::PaddedBias:
    what = fmt::format("bias [{}]", a.columns);
    break;
  case ArrayLayout::TransposedF32:
    what = fmt::format("W^T [{}][{}] f32", a.rows, a.columns);
    break;
  case ArrayLayout::RowsF32:
    what = fmt::format("W [{}][{}] f32", a.rows, a.columns);
    break;
  case ArrayLayout::Rows16:
    what = fmt::format("W [{}][{}] {}", a.rows, a.columns,
                       precisionName(precision));
    break;
  }
  return fmt::format("{} at {}", what, a.offset);
}

/// `stage 0: dense 2 -> 3 [...]; K 2, N 3, 1x1 outputs per thread; W^T ...`.
std::string stageLine(const CudaPlan &plan, size_t index) {
  const PlannedStage &s = plan.stages[index];
  std::string text = fmt::format("stage {}: {}", index, s.description);
  if (s.kind == ir::OpKind::Dense) {
    text += fmt::format("; K {}, N {}", s.dense.kp, s.dense.np);
    if (plan.strategy == Strategy::Fused && plan.precision == Precision::F32)
      text += fmt::format(", {}x{} outputs per thread", s.dense.rm, s.dense.rn);
  }
  for (ArrayRole role : {ArrayRole::Weight, ArrayRole::Bias})
    if (const PlannedArray *a = plan.array(index, role))
      text += "; " + arrayText(*a, plan.precision);
  return text + "\n";
}

} // namespace

std::string CudaPlan::str() const {
  std::string text =
      fmt::format("CUDA plan for model '{}': {}, {}, {}\n"
                  "  why: {}\n"
                  "  parameters {} bytes, scratch {} floats per row\n",
                  modelName, strategyName(strategy), precisionName(precision),
                  arch.smName(), reason, paramBytes, scratchFloatsPerRow);
  if (strategy == Strategy::Fused) {
    for (const PlannedKernel &k : kernels)
      text += "  " + kernelLine(k);
    for (size_t i = 0; i < stages.size(); ++i)
      text += "    " + stageLine(*this, i);
    return text;
  }
  for (size_t si = 0; si < steps.size(); ++si) {
    const LayeredStep &step = steps[si];
    text += fmt::format("  step {}: {} (row stride {}) -> {} (row stride {})\n",
                        si, bufferName(step.in.buffer), step.in.ld,
                        bufferName(step.out.buffer), step.out.ld);
    for (size_t k : step.kernels)
      text += "    " + kernelLine(kernels[k]);
    if (step.kind == StepKind::InPlaceRowNorm)
      text += fmt::format("      row norm of stage {}, in place\n",
                          step.stages.front());
    else if (step.stages.empty())
      text += "      copy of the input\n";
    else
      for (size_t i : step.stages)
        text += "      " + stageLine(*this, i);
  }
  return text;
}

} // namespace seqc::cuda
