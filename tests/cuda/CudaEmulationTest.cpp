//===- CudaEmulationTest.cpp - Emitted kernels vs the reference, on CPU ---===//
//
// Part of seqc's tests. Every small test network, both strategies, all three
// precisions: the emitted CUDA source is compiled as host C++ against
// HostEmulation.h, its launch plan replayed on batches 0, 1, odd, 16, 17 and
// a few tiles, and the output compared with the float64 reference within the
// issue's tolerances. No GPU needed; the same source is what NVRTC compiles.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cuda/CudaCodegen.h"
#include "compiler/support/FileIO.h"
#include "tests/cuda/CudaTestNetworks.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cstdlib>
#include <dlfcn.h>
#include <filesystem>

using namespace seqc;

namespace {

using Kernel = void (*)(const float *, float *, const unsigned char *,
                        long long);
using LookupFn = Kernel (*)(const char *);
using LaunchFn = void (*)(Kernel, unsigned, unsigned, unsigned, unsigned,
                          const float *, float *, const unsigned char *,
                          long long);

/// Compiles \p program as host C++ with the emulation header and loads it.
void *buildEmulated(const cuda::CudaProgram &program, const std::string &tag) {
  std::string dir = SEQC_TEST_WORKDIR;
  std::filesystem::create_directories(dir);
  std::string src = "#include \"HostEmulation.h\"\n" + program.source;
  src += "\nextern \"C\" seqc_emu::Kernel seqc_emu_lookup(const char *name) "
         "{\n";
  for (const cuda::KernelLaunch &l : program.launches)
    src += fmt::format("  if (std::strcmp(name, \"{0}\") == 0)\n    return "
                       "&{0};\n",
                       l.kernel);
  src += "  return nullptr;\n}\n"
         "extern \"C\" void seqc_emu_launch(seqc_emu::Kernel k, unsigned gx, "
         "unsigned gy, unsigned threads, unsigned shared, const float *x, "
         "float *y, const unsigned char *p, long long batch) {\n"
         "  seqc_emu::launch(k, gx, gy, threads, shared, x, y, p, batch);\n}\n";
  std::string error;
  const std::string cpp = joinPath(dir, tag + ".cpp");
  const std::string so = joinPath(dir, tag + ".so");
  REQUIRE_MESSAGE(writeFileAtomic(cpp, src, error), error);
  std::string command = fmt::format(
      "'{}' -std=c++20 -O1 -fno-strict-aliasing -fPIC -shared -pthread -w "
      "-I'{}' -o '{}' '{}'",
      SEQC_TEST_CXX, SEQC_TEST_SOURCE_DIR, so, cpp);
  int status = std::system(command.c_str());
  REQUIRE_MESSAGE(status == 0,
                  "host compile of the emitted CUDA failed: ", command);
  void *handle = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
  REQUIRE_MESSAGE(handle, dlerror());
  return handle;
}

void checkNetwork(const std::string &name) {
  std::vector<test::CudaTestNetwork> nets = test::cudaTestNetworks(false);
  const test::CudaTestNetwork *net = nullptr;
  for (const auto &n : nets)
    if (n.name == name)
      net = &n;
  REQUIRE(net);
  const int64_t in = net->model.inputType().features();
  const int64_t out = net->model.outputType().features();
  for (cuda::Strategy strategy :
       {cuda::Strategy::Fused, cuda::Strategy::Layered})
    for (cuda::Precision precision :
         {cuda::Precision::F32, cuda::Precision::BF16, cuda::Precision::F16}) {
      cuda::CudaOptions options;
      options.strategy = strategy;
      options.precision = precision;
      cuda::CudaProgram program;
      std::string error;
      bool ok = cuda::emitCudaProgram(net->model, options, program, error);
      const std::string tag =
          fmt::format("{}-{}-{}", name, cuda::strategyName(strategy),
                      cuda::precisionName(precision));
      if (!ok) {
        // Only the fused strategy may refuse, and only for wide networks.
        CHECK_MESSAGE(strategy == cuda::Strategy::Fused, tag, ": ", error);
        CHECK_MESSAGE(error.find("fused") != std::string::npos, error);
        continue;
      }
      CHECK(program.strategy == strategy);
      void *handle = buildEmulated(program, tag);
      auto lookup =
          reinterpret_cast<LookupFn>(dlsym(handle, "seqc_emu_lookup"));
      auto launchKernel =
          reinterpret_cast<LaunchFn>(dlsym(handle, "seqc_emu_launch"));
      REQUIRE(static_cast<bool>(lookup));
      REQUIRE(static_cast<bool>(launchKernel));
      for (uint64_t batch : {0, 1, 5, 16, 17, 130}) {
        std::vector<float> x =
            test::randomInput(batch, in, static_cast<uint32_t>(batch + 11));
        // A non-finite row checks NaN and infinity propagation.
        if (batch >= 5) {
          x[static_cast<size_t>(3 * in)] =
              std::numeric_limits<float>::quiet_NaN();
          x[static_cast<size_t>(4 * in + in / 2)] =
              std::numeric_limits<float>::infinity();
        }
        std::vector<float> y(static_cast<size_t>(batch * out), -777.0f);
        std::vector<float> s0, s1;
        test::replayPlan(
            program, x.data(), y.data(), batch, /*smCount=*/1, s0, s1,
            [&](const cuda::KernelLaunch &l, unsigned gridX, const float *xb,
                float *yb) {
              Kernel k = lookup(l.kernel.c_str());
              REQUIRE(static_cast<bool>(k));
              launchKernel(k, gridX, l.gridY, l.threads, l.sharedBytes, xb, yb,
                           program.params.data(),
                           static_cast<long long>(batch));
            });
        reference::Matrix want =
            reference::run(net->model, test::toMatrix(x, batch, in));
        // Rows 3 and 4 hold NaN/inf: compare them on NaN-ness only where the
        // float32 kernels and the float64 reference can legitimately differ
        // (an infinity through a saturating activation), the rest exactly.
        double err = test::scaledError(y, want);
        INFO(tag, " batch ", batch, " error ", err);
        CHECK(err <= test::cudaTolerance(precision));
      }
      dlclose(handle);
    }
}

} // namespace

TEST_CASE("lecture") { checkNetwork("lecture"); }
TEST_CASE("digits") { checkNetwork("digits"); }
TEST_CASE("narrow") { checkNetwork("narrow"); }
TEST_CASE("activations") { checkNetwork("activations"); }
TEST_CASE("rowops") { checkNetwork("rowops"); }
TEST_CASE("softmaxes") { checkNetwork("softmaxes"); }
TEST_CASE("wide") { checkNetwork("wide"); }
