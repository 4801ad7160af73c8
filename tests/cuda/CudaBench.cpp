//===- CudaBench.cpp - Time seqc's CUDA kernels on the suite networks -----===//
//
// Part of seqc's GPU checks (tests/gpu/device-check.sh runs it; it is not a
// test). For each suite network of the performance issue (random weights,
// same shapes as tests/bench/*.nn), each precision and batch, prints one JSON
// object per line: latency (launch + run + wait, batch 1 style) and
// throughput (graph launches back to back), GFLOP/s, the strategy used.
// Usage: seqc-cuda-bench [--quick]
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cuda/CudaJit.h"
#include "tests/cuda/CudaTestNetworks.h"

#include <fmt/format.h>

#include <chrono>
#include <cstring>

using namespace seqc;

namespace {

struct Suite {
  const char *name;
  std::vector<int64_t> widths; // input, hidden..., output
  ir::ActKind act;
};

ir::Model build(const Suite &s) {
  test::ModelBuilder b(s.widths.front(), 42);
  for (size_t i = 1; i < s.widths.size(); ++i)
    b.dense(s.widths[i],
            {i + 1 < s.widths.size() ? s.act : ir::ActKind::None, 0, 0});
  b.model.name = s.name;
  return std::move(b.model);
}

double flops(const Suite &s, uint64_t batch) {
  double macs = 0;
  for (size_t i = 1; i < s.widths.size(); ++i)
    macs += double(s.widths[i - 1]) * double(s.widths[i]);
  return 2.0 * macs * double(batch);
}

} // namespace

int main(int argc, char **argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  int arch = 0;
  if (seqc_cuda_device_arch(0, &arch) != SEQC_CUDA_OK) {
    fmt::print(stderr, "seqc-cuda-bench: {}\n", seqc_cuda_last_error());
    return 77;
  }
  char device[256];
  seqc_cuda_device_name(0, device, sizeof device);
  using K = ir::ActKind;
  std::vector<int64_t> speech = {429};
  for (int i = 0; i < 7; ++i)
    speech.push_back(2048);
  speech.push_back(9304);
  const std::vector<Suite> suite = {
      {"lecture", {2, 3, 2, 1}, K::None},
      {"digits", {64, 128, 10}, K::ReLU},
      {"mnist", {784, 512, 512, 10}, K::ReLU},
      {"narrow", {64, 64, 64, 64, 64, 16}, K::ReLU},
      {"speech", speech, K::Sigmoid},
      {"shallow", {429, 16384, 9304}, K::Sigmoid},
  };
  for (const Suite &s : suite) {
    ir::Model model = build(s);
    for (cuda::Precision precision :
         {cuda::Precision::F32, cuda::Precision::BF16}) {
      cuda::CudaOptions options;
      options.arch = *cuda::parseGpuArch(fmt::format("sm_{}", arch));
      options.precision = precision;
      cuda::CudaProgram program;
      std::string error;
      auto t0 = std::chrono::steady_clock::now();
      if (!cuda::emitCudaProgram(model, options, program, error)) {
        fmt::print(stderr, "{}: {}\n", s.name, error);
        return 1;
      }
      cuda::NvrtcOptions nvrtc;
      nvrtc.arch = options.arch;
      cuda::NvrtcOutput compiled;
      if (!cuda::compileCuda(program.source, nvrtc, compiled, error)) {
        fmt::print(stderr, "{}: {}\n", s.name, error);
        return 1;
      }
      double compileSeconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
              .count();
      const std::string strategy = cuda::strategyName(program.strategy);
      auto jit = cuda::CudaJitModel::create(std::move(program),
                                            std::move(compiled), 0, error);
      if (!jit) {
        fmt::print(stderr, "{}: {}\n", s.name, error);
        return 1;
      }
      std::vector<uint64_t> batches = {1, 65536};
      if (!quick && (std::strcmp(s.name, "speech") == 0 ||
                     std::strcmp(s.name, "digits") == 0))
        batches.insert(batches.begin() + 1, 256);
      if (!quick && std::strcmp(s.name, "mnist") == 0)
        batches = {1, 64, 1024, 65536};
      for (uint64_t batch : batches) {
        // Calibrate: about 0.2 s per measurement, at least 3 runs.
        double once = 0;
        if (jit->benchmark(batch, 1, true, once) != SEQC_CUDA_OK) {
          fmt::print(stderr, "{} batch {}: {}\n", s.name, batch,
                     seqc_cuda_last_error());
          return 1;
        }
        uint32_t iterations = static_cast<uint32_t>(
            std::clamp(0.2 / std::max(once, 1e-7), 3.0, 20000.0));
        double latency = 0, throughput = 0;
        if (jit->benchmark(batch, iterations, true, latency) != SEQC_CUDA_OK ||
            jit->benchmark(batch, iterations, false, throughput) !=
                SEQC_CUDA_OK) {
          fmt::print(stderr, "{} batch {}: {}\n", s.name, batch,
                     seqc_cuda_last_error());
          return 1;
        }
        fmt::print("{{\"impl\": \"seqc\", \"device\": \"{}\", \"net\": \"{}\", "
                   "\"precision\": \"{}\", \"strategy\": \"{}\", \"batch\": "
                   "{}, \"latency_s\": {:.6g}, \"throughput_s\": {:.6g}, "
                   "\"gflops\": {:.1f}, \"compile_s\": {:.3f}, "
                   "\"iterations\": {}}}\n",
                   device, s.name, cuda::precisionName(precision), strategy,
                   batch, latency, throughput,
                   flops(s, batch) / throughput * 1e-9, compileSeconds,
                   iterations);
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
