//===- FusedEmitter.cpp - One persistent CUDA kernel for the network ------===//
//
// Part of seqc. The fused strategy (CudaCodegen.h): every width at most 128
// and the weights in shared memory. fp32 keeps a block's rows of
// activations in shared memory between layers; bf16/f16 keeps 16 rows per
// warp in mma accumulator registers (the tiny-cuda-nn idea).
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cuda/Internal.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>

namespace seqc::cuda {

namespace {

/// Thread blocking of one fp32 dense layer in the fused kernel.
struct DenseTiling {
  int rm = 1, rn = 1, nc = 1, np = 1;
};

DenseTiling tileDense(int64_t rows, int64_t n) {
  DenseTiling t;
  t.rn = n >= 96 ? 8 : n >= 48 ? 4 : n >= 24 ? 2 : 1;
  t.nc = static_cast<int>((n + t.rn - 1) / t.rn);
  t.np = t.nc * t.rn;
  while (t.rm < 8 && rows % (t.rm * 2) == 0 &&
         (rows / (t.rm * 2)) * t.nc >= 256)
    t.rm *= 2;
  return t;
}

/// Blocks of the fused kernel resident per SM (the plan caps its grid at
/// this many per SM): as many as 227 KiB of shared memory holds (the most
/// one block may use on sm_90), from 1 to 4.
uint32_t blocksPerSm(uint64_t sharedBytes) {
  constexpr uint64_t kSharedPerSm = 232448;
  return static_cast<uint32_t>(std::clamp<uint64_t>(
      kSharedPerSm / std::max<uint64_t>(sharedBytes, 1), 1, 4));
}

} // namespace

bool emitFusedF32(const ir::Model &model, const std::vector<Stage> &stages,
                  const CudaOptions &options, CudaProgram &program,
                  ActivationTable &acts, std::string &body,
                  std::string &reason) {
  const int64_t inWidth = model.inputType().features();
  const int64_t outWidth = model.outputType().features();
  int64_t maxWidth = inWidth;
  for (const Stage &s : stages)
    maxWidth = std::max({maxWidth, s.in, s.out});
  const int64_t ld = maxWidth % 2 ? maxWidth : maxWidth + 1;
  const uint32_t budget = options.arch.maxSharedBytes();

  // Parameters are laid out for shared memory; the tiling (and so the
  // padding) does not depend on the row count for R >= 16.
  for (int64_t rows : {64, 32, 16}) {
    ParamPacker pack;
    std::string setup, loop;
    std::vector<DenseTiling> tilings;
    for (size_t i = 0; i < stages.size(); ++i) {
      const Stage &s = stages[i];
      switch (s.kind) {
      case ir::OpKind::Dense: {
        DenseTiling t = tileDense(rows, s.out);
        std::vector<float> wt(static_cast<size_t>(s.in * t.np), 0.0f);
        for (int64_t n = 0; n < s.out; ++n)
          for (int64_t k = 0; k < s.in; ++k)
            wt[k * t.np + n] = (*s.weight)[n * s.in + k];
        uint64_t w = pack.floats(wt);
        setup +=
            fmt::format("  const float *w{0} = smem + {1}; // W^T [{2}][{3}]\n",
                        i, w / 4, s.in, t.np);
        if (s.bias) {
          uint64_t b = pack.floats(paddedCopy(s.bias, t.np));
          setup += fmt::format("  const float *b{} = smem + {};\n", i, b / 4);
        }
        tilings.push_back(t);
        break;
      }
      case ir::OpKind::LayerNorm:
      case ir::OpKind::Affine:
        if (s.weight)
          setup += fmt::format("  const float *w{} = smem + {};\n", i,
                               pack.floats(*s.weight) / 4);
        if (s.bias)
          setup += fmt::format("  const float *b{} = smem + {};\n", i,
                               pack.floats(*s.bias) / 4);
        break;
      default:
        break;
      }
    }
    const uint64_t paramBytes = pack.align(16);
    const uint64_t shared = paramBytes + 2 * rows * ld * 4;
    if (shared > budget) {
      reason = fmt::format("the fused fp32 kernel needs {} bytes of shared "
                           "memory ({} of parameters), more than the {} of "
                           "{}",
                           shared, paramBytes, budget, options.arch.smName());
      continue;
    }

    // The tile loop: activations ping-pong between buf0 and buf1.
    int cur = 0;
    size_t tiling = 0;
    loop += fmt::format("    seqc_block_load_rows<{}, {}, {}>(buf0, x, row0, "
                        "batch);\n    __syncthreads();\n",
                        rows, inWidth, ld);
    for (size_t i = 0; i < stages.size(); ++i) {
      const Stage &s = stages[i];
      loop += fmt::format("    // {}: {}\n", i, s.comment);
      switch (s.kind) {
      case ir::OpKind::Dense: {
        const DenseTiling &t = tilings[tiling++];
        loop += fmt::format(
            "    seqc_block_dense_f32<{}, {}, {}, {}, {}, {}, {}, {}, {}>("
            "buf{}, buf{}, w{}, {}, {});\n",
            rows, s.in, s.out, t.np, ld, ld, t.rm, t.rn,
            s.bias ? "true" : "false", cur, 1 - cur, i,
            s.bias ? fmt::format("b{}", i) : "nullptr", acts.use(s.act));
        cur = 1 - cur;
        if (s.rowNorm != ir::RowNorm::None) {
          loop += "    __syncthreads();\n";
          loop += fmt::format(
              "    seqc_block_softmax<{}, {}, {}, {}>(buf{});\n", rows, s.out,
              ld, s.rowNorm == ir::RowNorm::LogSoftmax ? "true" : "false", cur);
        }
        break;
      }
      case ir::OpKind::Act:
        loop += fmt::format("    seqc_block_act<{}, {}, {}>(buf{}, {});\n",
                            rows, s.out, ld, cur, acts.use(s.act));
        break;
      case ir::OpKind::Softmax:
      case ir::OpKind::LogSoftmax:
        loop += fmt::format(
            "    seqc_block_softmax<{}, {}, {}, {}>(buf{});\n", rows, s.out, ld,
            s.kind == ir::OpKind::LogSoftmax ? "true" : "false", cur);
        break;
      case ir::OpKind::LayerNorm:
        loop += fmt::format("    seqc_block_layernorm<{}, {}, {}, {}, "
                            "{}>(buf{}, {}, {}, {});\n",
                            rows, s.out, ld, s.weight ? "true" : "false",
                            s.bias ? "true" : "false", cur,
                            s.weight ? fmt::format("w{}", i) : "nullptr",
                            s.bias ? fmt::format("b{}", i) : "nullptr",
                            floatLiteral(s.eps));
        break;
      case ir::OpKind::Affine:
        loop += fmt::format("    seqc_block_affine<{}, {}, {}, {}>(buf{}, w{}, "
                            "{});\n",
                            rows, s.out, ld, s.bias ? "true" : "false", cur, i,
                            s.bias ? fmt::format("b{}", i) : "nullptr");
        break;
      default:
        assert(false && "unexpected stage");
      }
      loop += "    __syncthreads();\n";
    }
    loop += fmt::format("    seqc_block_store_rows<{}, {}, {}>(buf{}, y, row0, "
                        "batch);\n    __syncthreads();\n",
                        rows, outWidth, ld, cur);

    const uint32_t perSm = blocksPerSm(shared);
    body += fmt::format(
        "/// The whole network, fp32: a block of 256 threads owns {0} rows at "
        "a\n/// time; parameters ({1} bytes) stay in shared memory.\n"
        "extern \"C\" __global__ void __launch_bounds__(256)\nseqc_fused{2} "
        "{{\n"
        "  float *smem = reinterpret_cast<float *>(seqc_shared_memory());\n"
        "  {{\n"
        "    const float4 *src = reinterpret_cast<const float4 *>(params);\n"
        "    float4 *dst = reinterpret_cast<float4 *>(smem);\n"
        "    for (int i = threadIdx.x; i < {3}; i += blockDim.x)\n"
        "      dst[i] = src[i];\n"
        "  }}\n"
        "{4}"
        "  float *buf0 = smem + {5};\n"
        "  float *buf1 = buf0 + {6};\n"
        "  __syncthreads();\n"
        "  for (long long row0 = (long long)blockIdx.x * {0}; row0 < batch;\n"
        "       row0 += (long long)gridDim.x * {0}) {{\n"
        "{7}"
        "  }}\n"
        "}}\n",
        rows, paramBytes, kKernelParams, paramBytes / 16, setup, paramBytes / 4,
        rows * ld, loop);
    KernelLaunch launch;
    launch.kernel = "seqc_fused";
    launch.threads = 256;
    launch.sharedBytes = static_cast<uint32_t>(shared);
    launch.rowsPerBlock = static_cast<uint32_t>(rows);
    launch.blocksPerSm = perSm;
    launch.input = 0;
    launch.output = 1;
    program.launches.push_back(launch);
    program.params = std::move(pack.bytes);
    return true;
  }
  return false;
}

bool emitFusedMma(const ir::Model &model, const std::vector<Stage> &stages,
                  const CudaOptions &options, CudaProgram &program,
                  ActivationTable &acts, std::string &body,
                  std::string &reason) {
  const bool bf16 = options.precision == Precision::BF16;
  const char *bf = bf16 ? "true" : "false";
  const int64_t inWidth = model.inputType().features();
  const int64_t outWidth = model.outputType().features();
  const uint32_t budget = options.arch.maxSharedBytes();
  ParamPacker pack;
  std::string setup, loop;

  int h = 0;                             // current fragment array
  int64_t width = inWidth;               // its valid columns
  int64_t padded = roundUp(inWidth, 16); // its padded columns
  loop += fmt::format("    float h0[{}][4];\n    seqc_warp_load_rows<{}, {}>("
                      "h0, x, row0, batch, lane);\n",
                      padded / 8, inWidth, padded);
  for (size_t i = 0; i < stages.size(); ++i) {
    const Stage &s = stages[i];
    loop += fmt::format("    // {}: {}\n", i, s.comment);
    switch (s.kind) {
    case ir::OpKind::Dense: {
      const int64_t kp = roundUp(s.in, 16), np = roundUp(s.out, 16);
      const int64_t ldw = kp + 8;
      std::vector<uint16_t> w(static_cast<size_t>(np * ldw), 0);
      for (int64_t n = 0; n < s.out; ++n)
        for (int64_t k = 0; k < s.in; ++k) {
          float v = (*s.weight)[n * s.in + k];
          w[n * ldw + k] = bf16 ? floatToBf16(v) : floatToF16(v);
        }
      uint64_t wOff = pack.halves(w);
      setup +=
          fmt::format("  const unsigned short *w{0} = reinterpret_cast<"
                      "const unsigned short *>(smem + {1}); // W [{2}][{3}]\n",
                      i, wOff, np, ldw);
      if (s.bias) {
        uint64_t bOff = pack.floats(paddedCopy(s.bias, np));
        setup += fmt::format("  const float *b{0} = reinterpret_cast<const "
                             "float *>(smem + {1});\n",
                             i, bOff);
      }
      loop += fmt::format("    float h{}[{}][4];\n", h + 1, np / 8);
      loop += fmt::format("    seqc_warp_dense_mma<{}, {}, {}, {}, {}>(h{}, "
                          "h{}, w{}, lane);\n",
                          s.in, kp, np, ldw, bf, h, h + 1, i);
      ++h;
      width = s.out;
      padded = np;
      if (s.bias || !s.act.isNone())
        loop += fmt::format(
            "    seqc_frag_bias_act<{}, {}, {}>(h{}, {}, {}, lane);\n", width,
            padded, s.bias ? "true" : "false", h,
            s.bias ? fmt::format("b{}", i) : "nullptr", acts.use(s.act));
      if (s.rowNorm != ir::RowNorm::None)
        loop += fmt::format(
            "    seqc_frag_softmax<{}, {}, {}>(h{}, lane);\n", width, padded,
            s.rowNorm == ir::RowNorm::LogSoftmax ? "true" : "false", h);
      break;
    }
    case ir::OpKind::Act:
      loop += fmt::format(
          "    seqc_frag_bias_act<{}, {}, false>(h{}, nullptr, {}, lane);\n",
          width, padded, h, acts.use(s.act));
      break;
    case ir::OpKind::Softmax:
    case ir::OpKind::LogSoftmax:
      loop += fmt::format(
          "    seqc_frag_softmax<{}, {}, {}>(h{}, lane);\n", width, padded,
          s.kind == ir::OpKind::LogSoftmax ? "true" : "false", h);
      break;
    case ir::OpKind::LayerNorm:
    case ir::OpKind::Affine: {
      std::string w = "nullptr", b = "nullptr";
      if (s.weight) {
        w = fmt::format("w{}", i);
        setup += fmt::format("  const float *w{} = reinterpret_cast<const "
                             "float *>(smem + {});\n",
                             i, pack.floats(*s.weight));
      }
      if (s.bias) {
        b = fmt::format("b{}", i);
        setup += fmt::format("  const float *b{} = reinterpret_cast<const "
                             "float *>(smem + {});\n",
                             i, pack.floats(*s.bias));
      }
      if (s.kind == ir::OpKind::LayerNorm)
        loop += fmt::format(
            "    seqc_frag_layernorm<{}, {}, {}, {}>(h{}, {}, {}, {}, lane);\n",
            width, padded, s.weight ? "true" : "false",
            s.bias ? "true" : "false", h, w, b, floatLiteral(s.eps));
      else
        loop += fmt::format(
            "    seqc_frag_affine<{}, {}, {}>(h{}, {}, {}, lane);\n", width,
            padded, s.bias ? "true" : "false", h, w, b);
      break;
    }
    default:
      assert(false && "unexpected stage");
    }
  }
  loop += fmt::format("    seqc_warp_store_rows<{}, {}>(h{}, y, row0, batch, "
                      "lane);\n",
                      outWidth, padded, h);
  const uint64_t shared = pack.align(16);
  if (shared > budget) {
    reason = fmt::format("the fused {} kernel needs {} bytes of shared memory "
                         "for its parameters, more than the {} of {}",
                         precisionName(options.precision), shared, budget,
                         options.arch.smName());
    return false;
  }
  const uint32_t perSm = blocksPerSm(shared);
  body += fmt::format(
      "/// The whole network on tensor cores ({0}): each warp owns 16 rows at "
      "a\n/// time and keeps them in registers from layer to layer; weights "
      "({1}\n/// bytes with biases) stay in shared memory.\n"
      "extern \"C\" __global__ void __launch_bounds__(128)\nseqc_fused{2} {{\n"
      "  unsigned char *smem = seqc_shared_memory();\n"
      "  {{\n"
      "    const uint4 *src = reinterpret_cast<const uint4 *>(params);\n"
      "    uint4 *dst = reinterpret_cast<uint4 *>(smem);\n"
      "    for (int i = threadIdx.x; i < {3}; i += blockDim.x)\n"
      "      dst[i] = src[i];\n"
      "  }}\n"
      "{4}"
      "  __syncthreads();\n"
      "  const int lane = threadIdx.x & 31;\n"
      "  for (long long row0 = ((long long)blockIdx.x * 4 + (threadIdx.x >> "
      "5)) * 16;\n"
      "       row0 < batch; row0 += (long long)gridDim.x * 64) {{\n"
      "{5}"
      "  }}\n"
      "}}\n",
      precisionName(options.precision), shared, kKernelParams, shared / 16,
      setup, loop);
  KernelLaunch launch;
  launch.kernel = "seqc_fused";
  launch.threads = 128;
  launch.sharedBytes = static_cast<uint32_t>(shared);
  launch.rowsPerBlock = 64;
  launch.blocksPerSm = perSm;
  program.launches.push_back(launch);
  program.params = std::move(pack.bytes);
  return true;
}

} // namespace seqc::cuda
