//===- LayeredEmitter.cpp - One CUDA kernel per layer ---------------------===//
//
// Part of seqc. The layered strategy (CudaCodegen.h): per Dense layer a
// 128x128-tiled GEMM (fp32 FMA, or tensor cores for bf16/f16) with bias and
// activation in its epilogue, plus a small-batch GEMV; one warp-per-row
// kernel per run of row operations (LayerNorm, softmax, ...).
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cuda/Internal.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>

namespace seqc::cuda {

namespace {

/// A buffer of the plan and how it is laid out.
struct Buffer {
  int id = 0;
  int64_t ld = 0;
};

} // namespace

bool emitLayered(const ir::Model &model, const std::vector<Stage> &stages,
                 const CudaOptions &options, CudaProgram &program,
                 ActivationTable &acts, std::string &body, std::string &error) {
  const bool f32 = options.precision == Precision::F32;
  const bool bf16 = options.precision == Precision::BF16;
  const int wt = f32 ? 0 : bf16 ? 1 : 2;
  const int64_t kAlign = f32 ? 8 : 32;
  const int64_t inWidth = model.inputType().features();
  const int64_t outWidth = model.outputType().features();
  ParamPacker pack;

  // Group stages into steps: one per Dense (+ an in-place softmax step if it
  // has a row norm), one per run of row operations.
  struct Step {
    bool dense = false;
    std::vector<size_t> stages;
    bool inPlaceSoftmax = false; // the row norm of the Dense before it
    int64_t width = 0;           // output features
  };
  std::vector<Step> steps;
  for (size_t i = 0; i < stages.size(); ++i) {
    const Stage &s = stages[i];
    if (s.kind == ir::OpKind::Dense) {
      steps.push_back({true, {i}, false, s.out});
      if (s.rowNorm != ir::RowNorm::None)
        steps.push_back({false, {i}, true, s.out});
      continue;
    }
    if (steps.empty() || steps.back().dense || steps.back().inPlaceSoftmax)
      steps.push_back({false, {}, false, s.out});
    steps.back().stages.push_back(i);
    steps.back().width = s.out;
  }
  if (steps.empty()) // a model that is the identity: copy
    steps.push_back({false, {}, false, inWidth});

  Buffer current{0, inWidth};
  uint64_t scratch = 0;
  int kernelIndex = 0;
  for (size_t si = 0; si < steps.size(); ++si) {
    const Step &step = steps[si];
    const bool last = si + 1 == steps.size() ||
                      (si + 2 == steps.size() && steps[si + 1].inPlaceSoftmax);
    Buffer out;
    if (step.inPlaceSoftmax) {
      out = current;
    } else if (last) {
      out = {1, outWidth};
    } else {
      out.id = current.id == 2 ? 3 : 2;
      out.ld = roundUp(step.width, 32);
      scratch = std::max<uint64_t>(scratch, out.ld);
    }
    const int xmode = current.id >= 2 || (current.ld % 4 == 0) ? 0 : 1;

    if (step.dense) {
      const size_t i = step.stages.front();
      const Stage &s = stages[i];
      const int64_t kp = roundUp(s.in, kAlign), np = roundUp(s.out, 128);
      if (np / 128 > 65535 || roundUp(std::max(s.out, out.ld), 8) / 8 > 65535) {
        error = fmt::format("layer {} is too wide for the CUDA backend (at "
                            "most {} outputs)",
                            s.comment, 65535 * 8);
        return false;
      }
      uint64_t wOff;
      if (f32) {
        std::vector<float> w(static_cast<size_t>(np * kp), 0.0f);
        for (int64_t n = 0; n < s.out; ++n)
          std::copy(s.weight->begin() + n * s.in,
                    s.weight->begin() + (n + 1) * s.in, w.begin() + n * kp);
        wOff = pack.floats(w, 256);
      } else {
        std::vector<uint16_t> w(static_cast<size_t>(np * kp), 0);
        for (int64_t n = 0; n < s.out; ++n)
          for (int64_t k = 0; k < s.in; ++k) {
            float v = (*s.weight)[n * s.in + k];
            w[n * kp + k] = bf16 ? floatToBf16(v) : floatToF16(v);
          }
        wOff = pack.halves(w, 256);
      }
      std::string bias = "nullptr";
      if (s.bias)
        bias = ptr("float", pack.floats(paddedCopy(s.bias, np), 256));
      const std::string act = acts.use(s.act);
      const std::string name = fmt::format("seqc_l{}", kernelIndex++);
      const std::string shape =
          fmt::format("{}, {}, {}, {}, {}, {}, {}", s.in, kp, current.ld, xmode,
                      s.out, out.ld, s.bias ? "true" : "false");
      body +=
          fmt::format("/// {}: {} (batch > {}: {}-tiled GEMM)\n", si, s.comment,
                      kGemvMaxBatch, f32 ? "128x128 fp32" : "128x128 mma");
      body +=
          fmt::format("extern \"C\" __global__ void __launch_bounds__(256)\n"
                      "{}_gemm{} {{\n",
                      name, kKernelParams);
      if (f32)
        body +=
            fmt::format("  seqc_gemm_f32<{}>(x, y, {}, {}, batch, {});\n}}\n",
                        shape, ptr("float", wOff), bias, act);
      else
        body += fmt::format(
            "  seqc_gemm_mma<{}, {}>(x, y, {}, {}, batch, {});\n}}\n", shape,
            bf16 ? "true" : "false", ptr("unsigned short", wOff), bias, act);
      body += fmt::format(
          "/// {}: the same layer for batches of at most {}\n"
          "extern \"C\" __global__ void __launch_bounds__(128)\n"
          "{}_gemv{} {{\n"
          "  seqc_gemv<{}, {}>(x, y, params + {}ull, {}, batch, "
          "{});\n}}\n\n",
          si, kGemvMaxBatch, name, kKernelParams, shape, wt, wOff, bias, act);
      KernelLaunch gemm;
      gemm.kernel = name + "_gemm";
      gemm.threads = 256;
      gemm.sharedBytes = f32 ? 2 * 2 * 8 * 132 * 4 : 2 * 2 * 128 * 40 * 2;
      gemm.rowsPerBlock = 128;
      gemm.gridY = static_cast<uint32_t>(np / 128);
      gemm.input = current.id;
      gemm.output = out.id;
      gemm.minBatch = kGemvMaxBatch + 1;
      KernelLaunch gemv;
      gemv.kernel = name + "_gemv";
      gemv.threads = 128;
      gemv.rowsPerBlock = 16;
      // Cover the padding columns of the output buffer too (zeros).
      gemv.gridY =
          static_cast<uint32_t>(roundUp(std::max(s.out, out.ld), 8) / 8);
      gemv.input = current.id;
      gemv.output = out.id;
      gemv.minBatch = 1;
      gemv.maxBatch = kGemvMaxBatch;
      program.launches.push_back(gemv);
      program.launches.push_back(gemm);
    } else {
      // Row operations: the first reads the input buffer, the rest work in
      // place on the output row.
      const std::string name = fmt::format("seqc_l{}_rows", kernelIndex++);
      std::string ops;
      std::string src = "in";
      int64_t width = current.ld == inWidth && current.id == 0 ? inWidth : 0;
      for (size_t i : step.stages) {
        const Stage &s = stages[i];
        width = s.out;
        if (step.inPlaceSoftmax) {
          ops += fmt::format("  // {}: row norm of {}\n", si, s.comment);
          ops += fmt::format(
              "  seqc_row_softmax<{}, {}>(in, out, lane);\n", s.out,
              s.rowNorm == ir::RowNorm::LogSoftmax ? "true" : "false");
          src = "out";
          continue;
        }
        ops += fmt::format("  // {}\n", s.comment);
        switch (s.kind) {
        case ir::OpKind::Act:
          ops += fmt::format("  seqc_row_act<{}>({}, out, {}, lane);\n", s.out,
                             src, acts.use(s.act));
          break;
        case ir::OpKind::Softmax:
        case ir::OpKind::LogSoftmax:
          ops += fmt::format(
              "  seqc_row_softmax<{}, {}>({}, out, lane);\n", s.out,
              s.kind == ir::OpKind::LogSoftmax ? "true" : "false", src);
          break;
        case ir::OpKind::LayerNorm:
          ops += fmt::format(
              "  seqc_row_layernorm<{}, {}, {}>({}, out, {}, {}, {}, lane);\n",
              s.out, s.weight ? "true" : "false", s.bias ? "true" : "false",
              src, s.weight ? ptr("float", pack.floats(*s.weight)) : "nullptr",
              s.bias ? ptr("float", pack.floats(*s.bias)) : "nullptr",
              floatLiteral(s.eps));
          break;
        case ir::OpKind::Affine:
          ops += fmt::format(
              "  seqc_row_affine<{}, {}>({}, out, {}, {}, lane);\n", s.out,
              s.bias ? "true" : "false", src,
              ptr("float", pack.floats(*s.weight)),
              s.bias ? ptr("float", pack.floats(*s.bias)) : "nullptr");
          break;
        default:
          assert(false && "unexpected stage");
        }
        ops += "  __syncwarp();\n";
        src = "out";
      }
      if (step.stages.empty()) {
        width = inWidth;
        ops += fmt::format("  seqc_row_copy<{}, {}>(in, out, lane);\n", width,
                           out.ld);
      } else if (out.ld > width) {
        ops += fmt::format("  seqc_row_copy<{}, {}>(out, out, lane);\n", width,
                           out.ld);
      }
      body += fmt::format(
          "/// {}: row operations, one warp per row\n"
          "extern \"C\" __global__ void __launch_bounds__(256)\n{}{} {{\n"
          "  const int lane = threadIdx.x & 31;\n"
          "  const long long row = (long long)blockIdx.x * 8 + (threadIdx.x >> "
          "5);\n"
          "  if (row >= batch)\n"
          "    return;\n"
          "  const float *in = x + row * {};\n"
          "  float *out = y + row * {};\n"
          "{}}}\n\n",
          si, name, kKernelParamsAliased, current.ld, out.ld, ops);
      KernelLaunch rowsLaunch;
      rowsLaunch.kernel = name;
      rowsLaunch.threads = 256;
      rowsLaunch.rowsPerBlock = 8;
      rowsLaunch.input = current.id;
      rowsLaunch.output = out.id;
      rowsLaunch.minBatch = 1;
      program.launches.push_back(rowsLaunch);
    }
    current = out;
  }
  program.scratchFloatsPerRow = scratch;
  pack.align(256);
  program.params = std::move(pack.bytes);
  return true;
}

} // namespace seqc::cuda
