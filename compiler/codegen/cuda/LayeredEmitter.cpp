//===- LayeredEmitter.cpp - One CUDA kernel per layer ---------------------===//
//
// Part of seqc. The layered strategy (CudaCodegen.h) as its plan prescribes:
// per Dense layer a 128x128-tiled GEMM (fp32 FMA, or tensor cores for
// bf16/f16) with bias and activation in its epilogue, plus a small-batch
// GEMV; one warp-per-row kernel per run of row operations (LayerNorm,
// softmax, ...).
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cuda/Internal.h"

#include <fmt/format.h>

#include <cassert>

namespace seqc::cuda {

namespace {

/// The prelude's WT: how seqc_gemv reads its weights.
int gemvWeightType(Precision precision) {
  switch (precision) {
  case Precision::F32:
    return 0;
  case Precision::BF16:
    return 1;
  case Precision::F16:
    return 2;
  }
  return 0;
}

/// The offset of \p stage's array in \p role as a typed pointer, or nullptr.
std::string arrayPtr(const CudaPlan &plan, size_t stage, ArrayRole role,
                     const char *type) {
  const PlannedArray *a = plan.array(stage, role);
  return a ? ptr(type, a->offset) : "nullptr";
}

/// The two kernels of Dense step \p si: the tiled GEMM (large batches) and
/// the GEMV (small batches), with the same template arguments.
std::string denseKernels(const std::vector<Stage> &stages, const CudaPlan &plan,
                         size_t si, ActivationTable &acts) {
  const LayeredStep &step = plan.steps[si];
  const size_t i = step.stages.front();
  const Stage &s = stages[i];
  const DenseBlocking &b = plan.stages[i].dense;
  const PlannedKernel &gemv = plan.kernels[step.kernels[0]];
  const PlannedKernel &gemm = plan.kernels[step.kernels[1]];
  assert(gemv.kind == KernelKind::Gemv && gemm.kind == KernelKind::Gemm);
  const bool f32 = plan.precision == Precision::F32;
  const uint64_t weight = plan.array(i, ArrayRole::Weight)->offset;
  const std::string bias = arrayPtr(plan, i, ArrayRole::Bias, "float");
  const std::string act = acts.use(s.act);
  const std::string shape = fmt::format(
      "{}, {}, {}, {}, {}, {}, {}", s.in, b.kp, step.in.ld,
      static_cast<int>(step.inputLoad), s.out, step.out.ld, cppBool(s.bias));
  std::string text = fmt::format(
      "/// {}: {} (batch > {}: {}x{} {}-tiled GEMM)\n", si, s.comment,
      gemv.maxBatch, kGemmTile, kGemmTile, f32 ? "fp32" : "mma");
  text += fmt::format("extern \"C\" __global__ void {}\n{}{} {{\n",
                      launchBounds(gemm.shape), gemm.name, kKernelParams);
  if (f32)
    text += fmt::format("  seqc_gemm_f32<{}>(x, y, {}, {}, batch, {});\n}}\n",
                        shape, ptr("float", weight), bias, act);
  else
    text +=
        fmt::format("  seqc_gemm_mma<{}, {}>(x, y, {}, {}, batch, {});\n}}\n",
                    shape, cppBool(plan.precision == Precision::BF16),
                    ptr("unsigned short", weight), bias, act);
  text += fmt::format("/// {}: the same layer for batches of at most {}\n"
                      "extern \"C\" __global__ void {}\n"
                      "{}{} {{\n"
                      "  seqc_gemv<{}, {}>(x, y, params + {}ull, {}, batch, "
                      "{});\n}}\n\n",
                      si, gemv.maxBatch, launchBounds(gemv.shape), gemv.name,
                      kKernelParams, shape, gemvWeightType(plan.precision),
                      weight, bias, act);
  return text;
}

/// One row operation of a row step, reading \p src (`in` for the first,
/// then the output row in place).
std::string rowOp(const Stage &s, size_t i, const CudaPlan &plan,
                  const char *src, ActivationTable &acts) {
  switch (s.kind) {
  case ir::OpKind::Act:
    return fmt::format("  seqc_row_act<{}>({}, out, {}, lane);\n", s.out, src,
                       acts.use(s.act));
  case ir::OpKind::Softmax:
  case ir::OpKind::LogSoftmax:
    return fmt::format("  seqc_row_softmax<{}, {}>({}, out, lane);\n", s.out,
                       cppBool(s.kind == ir::OpKind::LogSoftmax), src);
  case ir::OpKind::LayerNorm:
    return fmt::format(
        "  seqc_row_layernorm<{}, {}, {}>({}, out, {}, {}, {}, lane);\n", s.out,
        cppBool(s.weight), cppBool(s.bias), src,
        arrayPtr(plan, i, ArrayRole::Weight, "float"),
        arrayPtr(plan, i, ArrayRole::Bias, "float"), floatLiteral(s.eps));
  case ir::OpKind::Affine:
    return fmt::format("  seqc_row_affine<{}, {}>({}, out, {}, {}, lane);\n",
                       s.out, cppBool(s.bias), src,
                       arrayPtr(plan, i, ArrayRole::Weight, "float"),
                       arrayPtr(plan, i, ArrayRole::Bias, "float"));
  default:
    assert(false && "not a row operation");
    return {};
  }
}

/// The body of row step \p si's kernel, per row:
///  1. each row operation in turn, the first reading the input row and the
///     rest working in place on the output row (a row norm step: the softmax
///     of the Dense before it, in place);
///  2. zeros into the output row's padding columns (or, for a model that is
///     the identity, a copy of the input row).
std::string rowOps(const std::vector<Stage> &stages, const CudaPlan &plan,
                   size_t si, ActivationTable &acts) {
  const LayeredStep &step = plan.steps[si];
  std::string ops;
  const char *src = "in";
  for (size_t i : step.stages) {
    const Stage &s = stages[i];
    if (step.kind == StepKind::InPlaceRowNorm) {
      ops += fmt::format("  // {}: row norm of {}\n", si, s.comment);
      ops += fmt::format("  seqc_row_softmax<{}, {}>(in, out, lane);\n", s.out,
                         cppBool(s.rowNorm == ir::RowNorm::LogSoftmax));
      src = "out";
      continue;
    }
    ops += fmt::format("  // {}\n", s.comment);
    ops += rowOp(s, i, plan, src, acts);
    ops += "  __syncwarp();\n";
    src = "out";
  }
  if (step.stages.empty())
    ops += fmt::format("  seqc_row_copy<{}, {}>(in, out, lane);\n",
                       plan.inFeatures, step.out.ld);
  else if (const int64_t width = stages[step.stages.back()].out;
           step.out.ld > width)
    ops += fmt::format("  seqc_row_copy<{}, {}>(out, out, lane);\n", width,
                       step.out.ld);
  return ops;
}

/// The one-warp-per-row kernel of row step \p si.
std::string rowKernel(const std::vector<Stage> &stages, const CudaPlan &plan,
                      size_t si, ActivationTable &acts) {
  const LayeredStep &step = plan.steps[si];
  const PlannedKernel &kernel = plan.kernels[step.kernels.front()];
  assert(kernel.kind == KernelKind::RowOps);
  assert(kernel.shape.rowsPerBlock == kernel.shape.threads / kWarpSize);
  return fmt::format(
      "/// {}: row operations, one warp per row\n"
      "extern \"C\" __global__ void {}\n{}{} {{\n"
      "  const int lane = threadIdx.x & 31;\n"
      "  const long long row = (long long)blockIdx.x * {} + (threadIdx.x >> "
      "5);\n"
      "  if (row >= batch)\n"
      "    return;\n"
      "  const float *in = x + row * {};\n"
      "  float *out = y + row * {};\n"
      "{}}}\n\n",
      si, launchBounds(kernel.shape), kernel.name, kKernelParamsAliased,
      kernel.shape.rowsPerBlock, step.in.ld, step.out.ld,
      rowOps(stages, plan, si, acts));
}

} // namespace

std::string emitLayered(const std::vector<Stage> &stages, const CudaPlan &plan,
                        ActivationTable &acts) {
  std::string body;
  for (size_t si = 0; si < plan.steps.size(); ++si)
    body += plan.steps[si].kind == StepKind::Dense
                ? denseKernels(stages, plan, si, acts)
                : rowKernel(stages, plan, si, acts);
  return body;
}

} // namespace seqc::cuda
