//===- CudaNvrtcTest.cpp - Every emitted kernel compiles with NVRTC -------===//
//
// Part of seqc's tests. No GPU needed: every test network (the performance
// suite's included), both strategies and all precisions compile to CUBIN for
// sm_80 and sm_90 and to PTX; the plan names kernels that exist; NVRTC's log
// reaches the error; the cache works; the golden text of a small net.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cuda/CudaCodegen.h"
#include "compiler/codegen/cuda/Nvrtc.h"
#include "compiler/support/FileIO.h"
#include "tests/cuda/CudaTestNetworks.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace seqc;

namespace {

void compileAll(const test::CudaTestNetwork &net) {
  for (const char *archName : {"sm_80", "sm_90"})
    for (cuda::Strategy strategy :
         {cuda::Strategy::Fused, cuda::Strategy::Layered})
      for (cuda::Precision precision :
           {cuda::Precision::F32, cuda::Precision::BF16,
            cuda::Precision::F16}) {
        cuda::CudaOptions options;
        options.arch = *cuda::parseGpuArch(archName);
        options.strategy = strategy;
        options.precision = precision;
        cuda::CudaProgram program;
        std::string error;
        const std::string tag = fmt::format("{} {} {} {}", net.name, archName,
                                            cuda::strategyName(strategy),
                                            cuda::precisionName(precision));
        if (!cuda::emitCudaProgram(net.model, options, program, error)) {
          INFO(tag, ": ", error);
          CHECK(strategy == cuda::Strategy::Fused);
          CHECK(error.find("fused") != std::string::npos);
          continue;
        }
        cuda::NvrtcOptions nvrtc;
        nvrtc.arch = options.arch;
        cuda::NvrtcOutput out;
        bool ok = cuda::compileCuda(program.source, nvrtc, out, error);
        INFO(tag, ": ", error);
        REQUIRE(ok);
        // A CUBIN is an ELF file; the PTX names the target and every kernel.
        REQUIRE(out.cubin.size() > 4);
        CHECK(out.cubin.compare(0, 4,
                                "\x7f"
                                "ELF") == 0);
        CHECK(out.ptx.find(".target " + options.arch.smName()) !=
              std::string::npos);
        for (const cuda::KernelLaunch &l : program.launches) {
          CHECK(out.ptx.find(".entry " + l.kernel + "(") != std::string::npos);
          CHECK(out.cubin.find(l.kernel) != std::string::npos);
          CHECK(l.sharedBytes <= options.arch.maxSharedBytes());
        }
        // Tensor-core variants really use mma.sync.
        if (precision != cuda::Precision::F32 &&
            program.launches.front().kernel == "seqc_fused")
          CHECK(out.ptx.find("mma.sync.aligned.m16n8k16") != std::string::npos);
      }
}

const test::CudaTestNetwork &network(const std::string &name) {
  const test::CudaTestNetwork *net = test::findCudaTestNetwork(name);
  REQUIRE_MESSAGE(net, "no network ", name);
  return *net;
}

} // namespace

TEST_CASE("small networks compile for sm_80 and sm_90") {
  for (const char *name : {"lecture", "digits", "narrow", "activations",
                           "rowops", "softmaxes", "wide"})
    compileAll(network(name));
}

TEST_CASE("suite networks compile for sm_80 and sm_90") {
  for (const char *name : {"mnist", "speech", "shallow"})
    compileAll(network(name));
}

TEST_CASE("strategy choice follows the widths") {
  cuda::CudaOptions options;
  cuda::CudaProgram program;
  std::string error;
  REQUIRE(
      cuda::emitCudaProgram(network("narrow").model, options, program, error));
  CHECK(program.strategy == cuda::Strategy::Fused);
  CHECK(program.launches.size() == 1);
  REQUIRE(
      cuda::emitCudaProgram(network("mnist").model, options, program, error));
  CHECK(program.strategy == cuda::Strategy::Layered);
  // Three dense layers, each a skinny and a tiled kernel.
  CHECK(program.launches.size() == 6);
  CHECK(program.scratchFloatsPerRow == 512);
  options.strategy = cuda::Strategy::Fused;
  CHECK_FALSE(
      cuda::emitCudaProgram(network("mnist").model, options, program, error));
  CHECK(error.find("784 features") != std::string::npos);
  // Tensor cores need sm_80.
  options = cuda::CudaOptions();
  options.precision = cuda::Precision::BF16;
  options.arch = *cuda::parseGpuArch("sm_75");
  CHECK_FALSE(
      cuda::emitCudaProgram(network("narrow").model, options, program, error));
  CHECK(error.find("sm_80") != std::string::npos);
}

TEST_CASE("NVRTC failures carry the NVRTC log") {
  cuda::NvrtcOptions nvrtc;
  nvrtc.sourceName = "broken.cu";
  cuda::NvrtcOutput out;
  std::string error;
  CHECK_FALSE(cuda::compileCuda("extern \"C\" __global__ void k() { "
                                "undeclared_thing(); }",
                                nvrtc, out, error));
  CHECK(error.find("broken.cu") != std::string::npos);
  CHECK(error.find("undeclared_thing") != std::string::npos);
  nvrtc.arch = *cuda::parseGpuArch("sm_30");
  CHECK_FALSE(cuda::compileCuda("", nvrtc, out, error));
  CHECK(error.find("sm_30") != std::string::npos);
}

TEST_CASE("compiled kernels are cached in memory and on disk") {
  const std::string dir = std::string(SEQC_TEST_WORKDIR) + "/nvrtc-cache";
  std::filesystem::remove_all(dir);
  cuda::NvrtcOptions nvrtc;
  nvrtc.cacheDir = dir;
  const std::string source =
      "extern \"C\" __global__ void cached_kernel(float *x) { x[0] = 1.0f; }";
  cuda::NvrtcOutput first, second;
  std::string error;
  REQUIRE(cuda::compileCuda(source, nvrtc, first, error));
  CHECK_FALSE(first.fromCache);
  REQUIRE(cuda::compileCuda(source, nvrtc, second, error));
  CHECK(second.fromCache);
  CHECK(second.cubin == first.cubin);
  CHECK(second.ptx == first.ptx);
  std::vector<std::filesystem::path> entries;
  for (const auto &entry : std::filesystem::directory_iterator(dir))
    entries.push_back(entry.path());
  REQUIRE(entries.size() == 1); // one ObjectCache entry: CUBIN and PTX
  CHECK(entries[0].extension() == ".seqcobj");

  // A damaged entry in another directory (this process's memory cache is
  // per directory) is detected, compiled again and replaced, never used.
  const std::string damagedDir = dir + "-damaged";
  std::filesystem::remove_all(damagedDir);
  std::filesystem::create_directories(damagedDir);
  const std::filesystem::path copy = damagedDir / entries[0].filename();
  std::filesystem::copy_file(entries[0], copy);
  {
    std::fstream f(copy, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-1, std::ios::end);
    f.put('\x5a');
  }
  nvrtc.cacheDir = damagedDir;
  cuda::NvrtcOutput rebuilt, reread;
  REQUIRE(cuda::compileCuda(source, nvrtc, rebuilt, error));
  CHECK_FALSE(rebuilt.fromCache);
  CHECK(rebuilt.cubin == first.cubin);
  CHECK(std::filesystem::file_size(copy) ==
        std::filesystem::file_size(entries[0]));
  // A different flag is a different entry.
  nvrtc.cacheDir = dir;
  nvrtc.fastMath = true;
  cuda::NvrtcOutput fast;
  REQUIRE(cuda::compileCuda(source, nvrtc, fast, error));
  CHECK_FALSE(fast.fromCache);
  size_t files = 0;
  for (const auto &entry : std::filesystem::directory_iterator(dir)) {
    (void)entry;
    ++files;
  }
  CHECK(files == 2);
}

TEST_CASE("architecture and precision names") {
  auto a = cuda::parseGpuArch("sm_90a");
  REQUIRE(a);
  CHECK(a->number() == 90);
  CHECK(a->smName() == "sm_90a");
  CHECK(cuda::parseGpuArch("86")->smName() == "sm_86");
  CHECK_FALSE(cuda::parseGpuArch("sm_x"));
  CHECK_FALSE(cuda::parseGpuArch("gfx90a"));
  CHECK(cuda::parsePrecision("bf16") == cuda::Precision::BF16);
  CHECK_FALSE(cuda::parsePrecision("int8"));
}

TEST_CASE("16-bit conversions round to nearest even") {
  CHECK(cuda::floatToBf16(1.0f) == 0x3f80);
  CHECK(cuda::floatToBf16(-2.0f) == 0xc000);
  // 1 + 2^-8 is halfway between two bf16 values: ties to even (1.0).
  CHECK(cuda::floatToBf16(1.00390625f) == 0x3f80);
  CHECK(cuda::floatToBf16(1.01171875f) == 0x3f82);
  CHECK(std::isnan(cuda::bf16ToFloat(cuda::floatToBf16(NAN))));
  CHECK(cuda::floatToF16(1.0f) == 0x3c00);
  CHECK(cuda::floatToF16(65504.0f) == 0x7bff);
  CHECK(cuda::floatToF16(65520.0f) == 0x7c00); // rounds to infinity
  CHECK(cuda::floatToF16(-INFINITY) == 0xfc00);
  CHECK(cuda::floatToF16(5.9604645e-8f) == 0x0001); // smallest subnormal
  CHECK(cuda::floatToF16(1.0f + 1.0f / 2048.0f) == 0x3c00); // tie to even
  for (float v : {0.1f, -3.75f, 1e-6f, 1234.5f, 6.1e-5f})
    CHECK(cuda::f16ToFloat(cuda::floatToF16(v)) ==
          doctest::Approx(v).epsilon(1e-3));
}

TEST_CASE("golden CUDA source of the lecture network") {
  // Inline weights of the lecture slides, so the text is stable.
  test::ModelBuilder b(2, 1);
  b.dense(3, test::act(ir::ActKind::None));
  b.dense(2, test::act(ir::ActKind::ReLU));
  b.dense(1, test::act(ir::ActKind::Sigmoid), true, ir::RowNorm::None);
  b.model.name = "MyNet";
  float value = 0.0f;
  for (ir::Param &p : b.model.params)
    for (float &v : p.data.data)
      v = (value += 0.25f) - 1.0f;
  for (cuda::Precision precision :
       {cuda::Precision::F32, cuda::Precision::BF16})
    for (cuda::Strategy strategy :
         {cuda::Strategy::Fused, cuda::Strategy::Layered}) {
      cuda::CudaOptions options;
      options.precision = precision;
      options.strategy = strategy;
      cuda::CudaProgram program;
      std::string error;
      REQUIRE(cuda::emitCudaProgram(b.model, options, program, error));
      // The prelude is pasted verbatim; the golden file holds the rest.
      const std::string prelude = cuda::cudaPrelude();
      size_t at = program.source.find(prelude);
      REQUIRE(at != std::string::npos);
      std::string text = program.source;
      text.replace(at, prelude.size(), "// <prelude>\n");
      const std::string path = fmt::format(
          "{}/golden/lecture-{}-{}.cu", SEQC_TEST_SOURCE_DIR,
          cuda::strategyName(strategy), cuda::precisionName(precision));
      if (std::getenv("SEQC_UPDATE_GOLDEN")) {
        REQUIRE(writeFileAtomic(path, text, error));
        continue;
      }
      auto expected = readFile(path, 1 << 20, error);
      INFO(error, " (run with SEQC_UPDATE_GOLDEN=1 to create it)");
      REQUIRE(expected);
      CHECK(text == *expected);
    }
}
