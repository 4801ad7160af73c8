//===- CudaTestNetworks.h - The networks every CUDA test runs ---*- C++ -*-===//
//
// Part of seqc's tests. Fused models built op by op with random parameters
// (tests/cpu/TestModels.h's builder): the performance suite's shapes, every
// activation, every row operation, widths that are not multiples of
// anything, and a plan runner that replays a CudaProgram's launches the way
// runtime/CudaLoader.c does.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_TESTS_CUDA_CUDATESTNETWORKS_H
#define SEQC_TESTS_CUDA_CUDATESTNETWORKS_H

#include "compiler/codegen/cuda/CudaCodegen.h"
#include "tests/cpu/TestModels.h"

#include <functional>
#include <string>
#include <vector>

namespace seqc::test {

struct CudaTestNetwork {
  std::string name;
  ir::Model model;
  /// Small enough for the CPU emulation of the kernels.
  bool emulate = true;
};

inline ir::Activation act(ir::ActKind kind, double alpha = 0, double beta = 0) {
  return {kind, alpha, beta};
}

inline std::vector<CudaTestNetwork> cudaTestNetworks(bool includeLarge) {
  using K = ir::ActKind;
  std::vector<CudaTestNetwork> nets;
  auto add = [&](const std::string &name, ModelBuilder &b, bool emulate) {
    b.model.name = name;
    nets.push_back({name, std::move(b.model), emulate});
  };
  {
    // The lecture's 2-3-2-1 network, no activation.
    ModelBuilder b(2, 1);
    b.dense(3, act(K::None));
    b.dense(2, act(K::None));
    b.dense(1, act(K::None));
    add("lecture", b, true);
  }
  {
    ModelBuilder b(64, 2);
    b.dense(128, act(K::ReLU));
    b.dense(10, act(K::None), true, ir::RowNorm::LogSoftmax);
    add("digits", b, true);
  }
  {
    ModelBuilder b(64, 3);
    for (int i = 0; i < 4; ++i)
      b.dense(64, act(K::ReLU));
    b.dense(16, act(K::None));
    add("narrow", b, true);
  }
  {
    // Every activation, on odd widths.
    ModelBuilder b(21, 4);
    int64_t widths[] = {24, 33, 17, 40, 9};
    int i = 0;
    for (const ir::Activation &a : allActivations()) {
      b.dense(widths[i % 5], a, i % 3 != 0);
      ++i;
    }
    add("activations", b, true);
  }
  {
    // Row operations between and after dense layers.
    ModelBuilder b(40, 5);
    b.dense(48, act(K::GELU));
    b.layerNorm(true);
    b.dense(20, act(K::Tanh), false);
    b.affine(true);
    b.act(act(K::SiLU));
    b.layerNorm(false);
    b.affine(false);
    b.dense(12, act(K::None), true, ir::RowNorm::Softmax);
    add("rowops", b, true);
  }
  {
    // Standalone softmax ops and a model that starts with a row op.
    ModelBuilder b(30, 6);
    b.layerNorm(true);
    b.dense(50, act(K::ELU, 0.7));
    b.rowNorm(false);
    b.dense(7, act(K::None));
    b.rowNorm(true);
    add("softmaxes", b, true);
  }
  {
    // Wider than the fused kernel takes: per-layer kernels, several column
    // tiles, K not a multiple of 4 at the input.
    ModelBuilder b(131, 7);
    b.dense(160, act(K::Sigmoid));
    b.layerNorm(true);
    b.dense(130, act(K::ReLU));
    b.dense(9, act(K::None), true, ir::RowNorm::Softmax);
    add("wide", b, true);
  }
  if (includeLarge) {
    {
      ModelBuilder b(784, 8);
      b.dense(512, act(K::ReLU));
      b.dense(512, act(K::ReLU));
      b.dense(10, act(K::None));
      add("mnist", b, false);
    }
    {
      ModelBuilder b(429, 9);
      for (int i = 0; i < 7; ++i)
        b.dense(2048, act(K::Sigmoid));
      b.dense(9304, act(K::None));
      add("speech", b, false);
    }
    {
      ModelBuilder b(429, 10);
      b.dense(16384, act(K::Sigmoid));
      b.dense(9304, act(K::None));
      add("shallow", b, false);
    }
  }
  return nets;
}

/// The test network called \p name (the large ones included); nullptr when
/// there is none.
inline const CudaTestNetwork *findCudaTestNetwork(const std::string &name) {
  static const std::vector<CudaTestNetwork> nets = cudaTestNetworks(true);
  for (const CudaTestNetwork &net : nets)
    if (net.name == name)
      return &net;
  return nullptr;
}

/// Random inputs in [-2, 2].
inline std::vector<float> randomInput(uint64_t rows, int64_t cols,
                                      uint32_t seed) {
  // xorshift64*: fast enough for 2^20-row batches.
  uint64_t state = 0x9e3779b97f4a7c15ull * (seed + 1);
  std::vector<float> x(static_cast<size_t>(rows * cols));
  for (float &v : x) {
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    uint64_t bits = state * 0x2545f4914f6cdd1dull;
    v = static_cast<float>(bits >> 40) * (4.0f / 16777216.0f) - 2.0f;
  }
  return x;
}

/// Tolerance of the issue: 1e-4 for fp32, 2e-2 for bf16/f16, scaled by the
/// output's magnitude (scaledError divides by max(1, |want|)).
inline double cudaTolerance(cuda::Precision precision) {
  return precision == cuda::Precision::F32 ? 1e-4 : 2e-2;
}

/// Replays \p program's plan for one batch: \p launch gets each kernel with
/// its grid, as runtime/CudaLoader.c computes it.
using LaunchFn = std::function<void(const cuda::KernelLaunch &, unsigned gridX,
                                    const float *x, float *y)>;
inline void replayPlan(const cuda::CudaProgram &program, const float *input,
                       float *output, uint64_t batch, unsigned smCount,
                       std::vector<float> &scratch0,
                       std::vector<float> &scratch1, const LaunchFn &launch) {
  scratch0.assign(batch * program.scratchFloatsPerRow, 0.0f);
  scratch1.assign(batch * program.scratchFloatsPerRow, 0.0f);
  // Poison the scratch so a read of padding never written shows up.
  for (float &v : scratch0)
    v = std::numeric_limits<float>::quiet_NaN();
  for (float &v : scratch1)
    v = std::numeric_limits<float>::quiet_NaN();
  float *buffers[4] = {const_cast<float *>(input), output, scratch0.data(),
                       scratch1.data()};
  if (batch == 0)
    return;
  for (const cuda::KernelLaunch &l : program.launches) {
    if (batch < l.minBatch || batch > l.maxBatch)
      continue;
    uint64_t blocks = (batch + l.rowsPerBlock - 1) / l.rowsPerBlock;
    if (l.blocksPerSm)
      blocks = std::min<uint64_t>(blocks, uint64_t(l.blocksPerSm) * smCount);
    launch(l, static_cast<unsigned>(blocks), buffers[l.input],
           buffers[l.output]);
  }
}

} // namespace seqc::test

#endif // SEQC_TESTS_CUDA_CUDATESTNETWORKS_H
