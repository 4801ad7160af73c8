//===- CudaGpuTest.cpp - Every network on a real GPU vs the reference -----===//
//
// Part of seqc's tests, label `gpu`. Exits with 77 (ctest SKIP_RETURN_CODE)
// when there is no CUDA device. Otherwise: every test network, every
// strategy that fits, fp32/bf16/f16, compiled for the GPU at hand (and once
// for sm_80 with PTX, to exercise the PTX fallback on newer GPUs), run
// through the runtime's CUDA graphs on batches 0, 1, odd, 16, 17, 1000 and
// 2^20 (4096 for the networks with thousands of features), compared with the
// float64 reference on up to 256 sampled rows. `CudaGpuTest NAME` runs one
// network.
//
//===----------------------------------------------------------------------===//

#define DOCTEST_CONFIG_IMPLEMENT
#include "compiler/codegen/cuda/CudaJit.h"
#include "tests/cuda/CudaTestNetworks.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cstdio>

using namespace seqc;

namespace {

std::string onlyNetwork;
int deviceArch = 0;

/// Reference outputs of the sampled rows, compared with the GPU's.
double sampledError(const ir::Model &model, const std::vector<float> &x,
                    const std::vector<float> &y, uint64_t batch) {
  const int64_t in = model.inputType().features();
  const int64_t out = model.outputType().features();
  const uint64_t maxRows =
      model.params.size() && model.params[0].data.data.size() > 1000000 ? 32
                                                                        : 256;
  std::vector<uint64_t> rows;
  if (batch <= maxRows) {
    for (uint64_t r = 0; r < batch; ++r)
      rows.push_back(r);
  } else {
    for (uint64_t i = 0; i < maxRows; ++i)
      rows.push_back(i * (batch - 1) / (maxRows - 1));
  }
  reference::Matrix xs(static_cast<int64_t>(rows.size()), in);
  std::vector<float> ys;
  for (size_t i = 0; i < rows.size(); ++i) {
    for (int64_t c = 0; c < in; ++c)
      xs.at(static_cast<int64_t>(i), c) = x[rows[i] * in + c];
    ys.insert(ys.end(), y.begin() + rows[i] * out,
              y.begin() + (rows[i] + 1) * out);
  }
  return test::scaledError(ys, reference::run(model, xs));
}

void checkOnGpu(const test::CudaTestNetwork &net) {
  const int64_t in = net.model.inputType().features();
  const int64_t out = net.model.outputType().features();
  const bool large = in + out > 1024;
  for (cuda::Strategy strategy :
       {cuda::Strategy::Fused, cuda::Strategy::Layered})
    for (cuda::Precision precision :
         {cuda::Precision::F32, cuda::Precision::BF16, cuda::Precision::F16})
      for (bool ptxFallback : {false, true}) {
        if (ptxFallback &&
            (precision != cuda::Precision::F32 || deviceArch < 90 || large))
          continue;
        cuda::CudaOptions options;
        options.arch = *cuda::parseGpuArch(
            ptxFallback ? "sm_80" : fmt::format("sm_{}", deviceArch));
        options.strategy = strategy;
        options.precision = precision;
        const std::string tag =
            fmt::format("{} {} {} {}", net.name, cuda::strategyName(strategy),
                        cuda::precisionName(precision), options.arch.smName());
        cuda::CudaProgram program;
        std::string error;
        if (!cuda::emitCudaProgram(net.model, options, program, error)) {
          INFO(tag, ": ", error);
          CHECK(strategy == cuda::Strategy::Fused);
          continue;
        }
        cuda::NvrtcOptions nvrtc;
        nvrtc.arch = options.arch;
        cuda::NvrtcOutput compiled;
        REQUIRE_MESSAGE(
            cuda::compileCuda(program.source, nvrtc, compiled, error), error);
        auto model = cuda::CudaJitModel::create(program, compiled, 0, error);
        REQUIRE_MESSAGE(model, tag, ": ", error);
        const uint64_t big = large ? 4096 : (1ull << 20);
        for (uint64_t batch :
             {uint64_t(0), uint64_t(1), uint64_t(7), uint64_t(16), uint64_t(17),
              uint64_t(1000), big}) {
          std::vector<float> x =
              test::randomInput(batch, in, static_cast<uint32_t>(batch));
          std::vector<float> y(static_cast<size_t>(batch * out), -777.0f);
          int status = model->runHost(x.data(), y.data(), batch);
          REQUIRE_MESSAGE(status == SEQC_CUDA_OK, tag, " batch ", batch, ": ",
                          seqc_cuda_last_error());
          // Replaying the recorded graph gives the same bits.
          if (batch == 1000) {
            std::vector<float> again(y.size());
            REQUIRE(model->runHost(x.data(), again.data(), batch) ==
                    SEQC_CUDA_OK);
            CHECK(std::memcmp(again.data(), y.data(), y.size() * 4) == 0);
          }
          double err = sampledError(net.model, x, y, batch);
          INFO(tag, " batch ", batch, " scaled error ", err);
          CHECK(err <= test::cudaTolerance(precision));
          std::printf("%-40s batch %8llu  error %.3g\n", tag.c_str(),
                      static_cast<unsigned long long>(batch), err);
        }
      }
}

const test::CudaTestNetwork *
findNetwork(const std::vector<test::CudaTestNetwork> &nets,
            const std::string &name) {
  for (const auto &n : nets)
    if (n.name == name)
      return &n;
  return nullptr;
}

} // namespace

TEST_CASE("every network on the GPU matches the reference") {
  std::vector<test::CudaTestNetwork> nets = test::cudaTestNetworks(true);
  for (const auto &net : nets)
    if (onlyNetwork.empty() || net.name == onlyNetwork)
      checkOnGpu(net);
}

TEST_CASE("runtime misuse returns error codes") {
  std::vector<test::CudaTestNetwork> nets = test::cudaTestNetworks(false);
  const test::CudaTestNetwork *net = findNetwork(nets, "narrow");
  REQUIRE(net);
  cuda::CudaOptions options;
  options.arch = *cuda::parseGpuArch(fmt::format("sm_{}", deviceArch));
  cuda::CudaProgram program;
  std::string error;
  REQUIRE(cuda::emitCudaProgram(net->model, options, program, error));
  cuda::NvrtcOptions nvrtc;
  nvrtc.arch = options.arch;
  cuda::NvrtcOutput compiled;
  REQUIRE(cuda::compileCuda(program.source, nvrtc, compiled, error));
  auto model = cuda::CudaJitModel::create(program, compiled, 0, error);
  REQUIRE(model);
  float x[64] = {}, y[16];
  CHECK(model->runHost(nullptr, y, 1) == SEQC_CUDA_ERROR_INVALID_ARGUMENT);
  CHECK(model->runHost(x, y, SEQC_CUDA_MAX_BATCH + 1) ==
        SEQC_CUDA_ERROR_INVALID_ARGUMENT);
  CHECK(model->runDevice(x + 1, y, 1, nullptr) ==
        SEQC_CUDA_ERROR_INVALID_ARGUMENT); // misaligned
  CHECK(model->runHost(x, y, 0) == SEQC_CUDA_OK);
  auto bad = cuda::CudaJitModel::create(program, compiled, 4096, error);
  CHECK_FALSE(bad);
  CHECK(error.find("device 4096") != std::string::npos);
}

int main(int argc, char **argv) {
  int count = 0;
  if (seqc_cuda_device_count(&count) != SEQC_CUDA_OK) {
    std::printf("skipped: %s\n", seqc_cuda_last_error());
    return 77;
  }
  if (seqc_cuda_device_arch(0, &deviceArch) != SEQC_CUDA_OK) {
    std::printf("error: %s\n", seqc_cuda_last_error());
    return 1;
  }
  char name[256];
  seqc_cuda_device_name(0, name, sizeof name);
  std::printf("GPU: %s (sm_%d)\n", name, deviceArch);
  doctest::Context context;
  std::vector<char *> args;
  for (int i = 0; i < argc; ++i) {
    if (i > 0 && argv[i][0] != '-') {
      onlyNetwork = argv[i];
      continue;
    }
    args.push_back(argv[i]);
  }
  context.applyCommandLine(static_cast<int>(args.size()), args.data());
  return context.run();
}
