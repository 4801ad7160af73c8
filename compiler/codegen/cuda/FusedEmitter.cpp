//===- FusedEmitter.cpp - One persistent CUDA kernel for the network ------===//
//
// Part of seqc. The fused strategy (CudaCodegen.h) as its plan prescribes:
// the weights in shared memory; fp32 keeps a block's rows of activations in
// shared memory between layers, bf16/f16 keeps 16 rows per warp in mma
// accumulator registers (the tiny-cuda-nn idea).
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cuda/Internal.h"

#include <fmt/format.h>

#include <cassert>

namespace seqc::cuda {

namespace {

//===----------------------------------------------------------------------===//
// Parameters in shared memory (both kernels)
//===----------------------------------------------------------------------===//

/// How a kernel addresses its shared memory: the fp32 kernel as floats, the
/// mma kernel as bytes.
enum class SmemView { Floats, Bytes };

/// The block copies the parameter blob into shared memory, one vector per
/// thread and step (\p vectorType is kVectorBytes wide).
std::string sharedParamCopy(const char *vectorType, uint64_t paramBytes) {
  return fmt::format(
      "  {{\n"
      "    const {0} *src = reinterpret_cast<const {0} *>(params);\n"
      "    {0} *dst = reinterpret_cast<{0} *>(smem);\n"
      "    for (int i = threadIdx.x; i < {1}; i += blockDim.x)\n"
      "      dst[i] = src[i];\n"
      "  }}\n",
      vectorType, paramBytes / kVectorBytes);
}

/// One pointer into shared memory per planned array: `w3`, `b3`.
std::string sharedParamPointers(const CudaPlan &plan, SmemView view) {
  std::string text;
  for (const PlannedArray &a : plan.arrays) {
    const char *type =
        a.layout == ArrayLayout::Rows16 ? "unsigned short" : "float";
    const std::string where =
        view == SmemView::Floats
            ? fmt::format("smem + {}", a.offset / sizeof(float))
            : fmt::format("reinterpret_cast<const {} *>(smem + {})", type,
                          a.offset);
    std::string comment;
    if (a.layout == ArrayLayout::TransposedF32)
      comment = fmt::format(" // W^T [{}][{}]", a.rows, a.columns);
    else if (a.layout == ArrayLayout::Rows16)
      comment = fmt::format(" // W [{}][{}]", a.rows, a.columns);
    text += fmt::format("  const {} *{}{} = {};{}\n", type,
                        a.role == ArrayRole::Weight ? 'w' : 'b', a.stage, where,
                        comment);
  }
  return text;
}

//===----------------------------------------------------------------------===//
// fp32: rows of activations in shared memory
//===----------------------------------------------------------------------===//

std::string blockSoftmax(int64_t rows, int64_t n, int64_t ld, bool log,
                         int buffer) {
  return fmt::format("    seqc_block_softmax<{}, {}, {}, {}>(buf{});\n", rows,
                     n, ld, cppBool(log), buffer);
}

/// Stage \p i of the fp32 kernel on buffer \p cur, which a Dense stage
/// switches (it writes the other buffer).
std::string fusedF32Stage(const Stage &s, const PlannedStage &planned, size_t i,
                          const CudaPlan &plan, int &cur,
                          ActivationTable &acts) {
  const int64_t rows = plan.fusedRows, ld = plan.fusedLd;
  switch (s.kind) {
  case ir::OpKind::Dense: {
    const DenseBlocking &b = planned.dense;
    std::string text = fmt::format(
        "    seqc_block_dense_f32<{}, {}, {}, {}, {}, {}, {}, {}, {}>("
        "buf{}, buf{}, w{}, {}, {});\n",
        rows, s.in, s.out, b.np, ld, ld, b.rm, b.rn, cppBool(s.bias), cur,
        1 - cur, i, paramOrNull("b", i, s.bias), acts.use(s.act));
    cur = 1 - cur;
    if (s.rowNorm != ir::RowNorm::None)
      text += "    __syncthreads();\n" +
              blockSoftmax(rows, s.out, ld,
                           s.rowNorm == ir::RowNorm::LogSoftmax, cur);
    return text;
  }
  case ir::OpKind::Act:
    return fmt::format("    seqc_block_act<{}, {}, {}>(buf{}, {});\n", rows,
                       s.out, ld, cur, acts.use(s.act));
  case ir::OpKind::Softmax:
  case ir::OpKind::LogSoftmax:
    return blockSoftmax(rows, s.out, ld, s.kind == ir::OpKind::LogSoftmax, cur);
  case ir::OpKind::LayerNorm:
    return fmt::format("    seqc_block_layernorm<{}, {}, {}, {}, "
                       "{}>(buf{}, {}, {}, {});\n",
                       rows, s.out, ld, cppBool(s.weight), cppBool(s.bias), cur,
                       paramOrNull("w", i, s.weight),
                       paramOrNull("b", i, s.bias), floatLiteral(s.eps));
  case ir::OpKind::Affine:
    return fmt::format("    seqc_block_affine<{}, {}, {}, {}>(buf{}, w{}, "
                       "{});\n",
                       rows, s.out, ld, cppBool(s.bias), cur, i,
                       paramOrNull("b", i, s.bias));
  default:
    assert(false && "not a stage of the fused form");
    return {};
  }
}

/// The fp32 kernel's tile loop body:
///  1. load the block's rows of x into buf0;
///  2. run every stage, activations ping-ponging between buf0 and buf1, a
///     barrier after each;
///  3. store the last buffer's rows to y.
std::string fusedF32Loop(const std::vector<Stage> &stages, const CudaPlan &plan,
                         ActivationTable &acts) {
  const int64_t rows = plan.fusedRows, ld = plan.fusedLd;
  std::string loop =
      fmt::format("    seqc_block_load_rows<{}, {}, {}>(buf0, x, row0, "
                  "batch);\n    __syncthreads();\n",
                  rows, plan.inFeatures, ld);
  int cur = 0;
  for (size_t i = 0; i < stages.size(); ++i) {
    loop += fmt::format("    // {}: {}\n", i, stages[i].comment);
    loop += fusedF32Stage(stages[i], plan.stages[i], i, plan, cur, acts);
    loop += "    __syncthreads();\n";
  }
  loop += fmt::format("    seqc_block_store_rows<{}, {}, {}>(buf{}, y, row0, "
                      "batch);\n    __syncthreads();\n",
                      rows, plan.outFeatures, ld, cur);
  return loop;
}

//===----------------------------------------------------------------------===//
// bf16/f16: 16 rows per warp in mma fragments
//===----------------------------------------------------------------------===//

/// The fragment array that holds a warp's rows: `h<index>`, with `width`
/// valid and `padded` columns.
struct Fragments {
  int index = 0;
  int64_t width = 0, padded = 0;
};

std::string fragmentSoftmax(const Fragments &h, bool log) {
  return fmt::format("    seqc_frag_softmax<{}, {}, {}>(h{}, lane);\n", h.width,
                     h.padded, cppBool(log), h.index);
}

/// Dense stage \p i of the mma kernel: a product into a new fragment array,
/// then bias, activation and row norm in registers.
std::string fusedMmaDense(const Stage &s, const DenseBlocking &b, size_t i,
                          Precision precision, Fragments &h,
                          ActivationTable &acts) {
  std::string text = fmt::format("    float h{}[{}][4];\n", h.index + 1,
                                 b.np / kMmaFragmentColumns);
  text += fmt::format("    seqc_warp_dense_mma<{}, {}, {}, {}, {}>(h{}, "
                      "h{}, w{}, lane);\n",
                      s.in, b.kp, b.np, b.ldw,
                      cppBool(precision == Precision::BF16), h.index,
                      h.index + 1, i);
  h = {h.index + 1, s.out, b.np};
  if (s.bias || !s.act.isNone())
    text +=
        fmt::format("    seqc_frag_bias_act<{}, {}, {}>(h{}, {}, {}, lane);\n",
                    h.width, h.padded, cppBool(s.bias), h.index,
                    paramOrNull("b", i, s.bias), acts.use(s.act));
  if (s.rowNorm != ir::RowNorm::None)
    text += fragmentSoftmax(h, s.rowNorm == ir::RowNorm::LogSoftmax);
  return text;
}

/// Stage \p i of the mma kernel on the fragments \p h.
std::string fusedMmaStage(const Stage &s, const PlannedStage &planned, size_t i,
                          Precision precision, Fragments &h,
                          ActivationTable &acts) {
  switch (s.kind) {
  case ir::OpKind::Dense:
    return fusedMmaDense(s, planned.dense, i, precision, h, acts);
  case ir::OpKind::Act:
    return fmt::format(
        "    seqc_frag_bias_act<{}, {}, false>(h{}, nullptr, {}, lane);\n",
        h.width, h.padded, h.index, acts.use(s.act));
  case ir::OpKind::Softmax:
  case ir::OpKind::LogSoftmax:
    return fragmentSoftmax(h, s.kind == ir::OpKind::LogSoftmax);
  case ir::OpKind::LayerNorm:
    return fmt::format(
        "    seqc_frag_layernorm<{}, {}, {}, {}>(h{}, {}, {}, {}, lane);\n",
        h.width, h.padded, cppBool(s.weight), cppBool(s.bias), h.index,
        paramOrNull("w", i, s.weight), paramOrNull("b", i, s.bias),
        floatLiteral(s.eps));
  case ir::OpKind::Affine:
    return fmt::format("    seqc_frag_affine<{}, {}, {}>(h{}, {}, {}, lane);\n",
                       h.width, h.padded, cppBool(s.bias), h.index,
                       paramOrNull("w", i, s.weight),
                       paramOrNull("b", i, s.bias));
  default:
    assert(false && "not a stage of the fused form");
    return {};
  }
}

/// The mma kernel's loop body, per warp and 16 rows:
///  1. load the rows of x into fragments h0 (columns padded to 16);
///  2. run every stage on the fragments, each Dense stage producing the next
///     fragment array from the last;
///  3. store the last fragments' valid columns to y.
std::string fusedMmaLoop(const std::vector<Stage> &stages, const CudaPlan &plan,
                         ActivationTable &acts) {
  Fragments h{0, plan.inFeatures, roundUp(plan.inFeatures, kMmaK)};
  std::string loop =
      fmt::format("    float h0[{}][4];\n    seqc_warp_load_rows<{}, {}>("
                  "h0, x, row0, batch, lane);\n",
                  h.padded / kMmaFragmentColumns, plan.inFeatures, h.padded);
  for (size_t i = 0; i < stages.size(); ++i) {
    loop += fmt::format("    // {}: {}\n", i, stages[i].comment);
    loop +=
        fusedMmaStage(stages[i], plan.stages[i], i, plan.precision, h, acts);
  }
  loop += fmt::format("    seqc_warp_store_rows<{}, {}>(h{}, y, row0, batch, "
                      "lane);\n",
                      plan.outFeatures, h.padded, h.index);
  return loop;
}

} // namespace

std::string emitFusedF32(const std::vector<Stage> &stages, const CudaPlan &plan,
                         ActivationTable &acts) {
  const PlannedKernel &kernel = plan.kernels.front();
  assert(kernel.kind == KernelKind::FusedF32);
  const uint32_t rows = kernel.shape.rowsPerBlock;
  const std::string loop = fusedF32Loop(stages, plan, acts);
  return fmt::format(
      "/// The whole network, fp32: a block of {0} threads owns {1} rows at "
      "a\n/// time; parameters ({2} bytes) stay in shared memory.\n"
      "extern \"C\" __global__ void {3}\n{4}{5} {{\n"
      "  float *smem = reinterpret_cast<float *>(seqc_shared_memory());\n"
      "{6}{7}"
      "  float *buf0 = smem + {8};\n"
      "  float *buf1 = buf0 + {9};\n"
      "  __syncthreads();\n"
      "  for (long long row0 = (long long)blockIdx.x * {1}; row0 < batch;\n"
      "       row0 += (long long)gridDim.x * {1}) {{\n"
      "{10}"
      "  }}\n"
      "}}\n",
      kernel.shape.threads, rows, plan.paramBytes, launchBounds(kernel.shape),
      kernel.name, kKernelParams, sharedParamCopy("float4", plan.paramBytes),
      sharedParamPointers(plan, SmemView::Floats),
      plan.paramBytes / sizeof(float), rows * plan.fusedLd, loop);
}

std::string emitFusedMma(const std::vector<Stage> &stages, const CudaPlan &plan,
                         ActivationTable &acts) {
  const PlannedKernel &kernel = plan.kernels.front();
  assert(kernel.kind == KernelKind::FusedMma);
  const uint32_t warps = kernel.shape.threads / kWarpSize;
  assert(kernel.shape.rowsPerBlock == warps * kMmaRows);
  const std::string loop = fusedMmaLoop(stages, plan, acts);
  return fmt::format(
      "/// The whole network on tensor cores ({0}): each warp owns {1} rows at "
      "a\n/// time and keeps them in registers from layer to layer; weights "
      "({2}\n/// bytes with biases) stay in shared memory.\n"
      "extern \"C\" __global__ void {3}\n{4}{5} {{\n"
      "  unsigned char *smem = seqc_shared_memory();\n"
      "{6}{7}"
      "  __syncthreads();\n"
      "  const int lane = threadIdx.x & 31;\n"
      "  for (long long row0 = ((long long)blockIdx.x * {8} + (threadIdx.x >> "
      "5)) * {1};\n"
      "       row0 < batch; row0 += (long long)gridDim.x * {9}) {{\n"
      "{10}"
      "  }}\n"
      "}}\n",
      precisionName(plan.precision), kMmaRows, plan.paramBytes,
      launchBounds(kernel.shape), kernel.name, kKernelParams,
      sharedParamCopy("uint4", plan.paramBytes),
      sharedParamPointers(plan, SmemView::Bytes), warps,
      kernel.shape.rowsPerBlock, loop);
}

} // namespace seqc::cuda
