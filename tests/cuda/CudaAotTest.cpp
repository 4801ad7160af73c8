//===- CudaAotTest.cpp - PREFIX.h + PREFIX.o linked into a C program ------===//
//
// Part of seqc's tests. Two CUDA models (one fused, one layered) are written
// as objects with their headers, linked with the runtime into aot_app.c, and
// run. Without a GPU the program must get SEQC_CUDA_ERROR_NO_DEVICE and a
// message (exit 11), also when libcuda is the toolkit's stub or missing; with
// a GPU its outputs must match the reference.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cuda/CudaObject.h"
#include "compiler/support/FileIO.h"
#include "runtime/seqc_cuda_runtime.h"
#include "tests/cuda/CudaTestNetworks.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sys/wait.h>

using namespace seqc;

namespace {

const std::string workDir = SEQC_TEST_WORKDIR;

/// Runs a shell command; returns its exit code and output.
int run(const std::string &command, std::string &output) {
  output.clear();
  FILE *pipe = popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe);
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0)
    output.append(buffer, n);
  int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void writeModel(const test::CudaTestNetwork &net, const std::string &prefix,
                cuda::CudaProgram &program) {
  cuda::CudaOptions options;
  std::string error;
  REQUIRE_MESSAGE(cuda::emitCudaProgram(net.model, options, program, error),
                  error);
  cuda::NvrtcOptions nvrtc;
  cuda::NvrtcOutput compiled;
  REQUIRE_MESSAGE(cuda::compileCuda(program.source, nvrtc, compiled, error),
                  error);
  const std::string base = workDir + "/" + prefix;
  REQUIRE_MESSAGE(
      cuda::writeCudaArtifacts(program, compiled, base, prefix, error), error);
  // The object carries the CUBIN, the PTX and the parameters verbatim.
  auto object = readFile(base + ".o", 1ull << 32, error);
  REQUIRE(object);
  CHECK(object->find(compiled.cubin) != std::string::npos);
  CHECK(object->find(compiled.ptx) != std::string::npos);
  std::string params(program.params.begin(), program.params.end());
  CHECK(object->find(params) != std::string::npos);
  auto header = readFile(base + ".h", 1 << 20, error);
  REQUIRE(header);
  CHECK(header->find(fmt::format("int {}_run({}_model *model", prefix,
                                 prefix)) != std::string::npos);
}

void writeFloats(const std::string &path, const std::vector<float> &data) {
  std::string error;
  REQUIRE(writeFileAtomic(
      path,
      std::string_view(reinterpret_cast<const char *>(data.data()),
                       data.size() * 4),
      error));
}

} // namespace

TEST_CASE("a C program linked with two CUDA objects") {
  std::filesystem::create_directories(workDir);
  std::vector<test::CudaTestNetwork> nets = test::cudaTestNetworks(false);
  const test::CudaTestNetwork *narrow = nullptr, *wide = nullptr;
  for (const auto &n : nets) {
    if (n.name == "narrow")
      narrow = &n;
    if (n.name == "wide")
      wide = &n;
  }
  REQUIRE(narrow);
  REQUIRE(wide);
  cuda::CudaProgram narrowProgram, wideProgram;
  writeModel(*narrow, "narrow", narrowProgram);
  writeModel(*wide, "wide", wideProgram);
  CHECK(narrowProgram.strategy == cuda::Strategy::Fused);
  CHECK(wideProgram.strategy == cuda::Strategy::Layered);

  // Only prefixed symbols are exported; the blobs are local.
  std::string output;
  REQUIRE(run(fmt::format("nm -g --defined-only '{}/narrow.o'", workDir),
              output) == 0);
  for (const char *fn : {"narrow_create", "narrow_run", "narrow_run_host",
                         "narrow_destroy", "narrow_error_message"})
    CHECK(output.find(fn) != std::string::npos);
  CHECK(output.find("seqc_params") == std::string::npos);

  const std::string app = workDir + "/aot_app";
  std::string command = fmt::format(
      "'{}' -std=c11 -Wall -Wextra -Werror {} -I'{}' -o '{}' '{}/aot_app.c' "
      "'{}/narrow.o' '{}/wide.o' '{}' -ldl -lpthread",
      SEQC_TEST_CC, SEQC_TEST_SANITIZE_FLAGS, workDir, app,
      SEQC_TEST_SOURCE_DIR, workDir, workDir, SEQC_TEST_RUNTIME_LIB);
  INFO(command);
  REQUIRE(run(command, output) == 0);

  const uint64_t batch = 37;
  std::vector<float> x1 = test::randomInput(batch, 64, 1);
  std::vector<float> x2 = test::randomInput(batch, 131, 2);
  writeFloats(workDir + "/x1.bin", x1);
  writeFloats(workDir + "/x2.bin", x2);
  const std::string args =
      fmt::format("'{0}/x1.bin' '{0}/y1.bin' '{0}/x2.bin' '{0}/y2.bin' {1}",
                  workDir, batch);

  int devices = 0;
  if (seqc_cuda_device_count(&devices) != SEQC_CUDA_OK) {
    // No GPU here: a clean error, whatever libcuda is.
    int code = run(fmt::format("'{}' {}", app, args), output);
    INFO(output);
    CHECK(code == 10 + SEQC_CUDA_ERROR_NO_DEVICE);
    CHECK(output.find("no CUDA device") != std::string::npos);
    code = run(fmt::format("SEQC_CUDA_DRIVER=/nonexistent/libcuda.so.1 '{}' {}",
                           app, args),
               output);
    CHECK(code == 10 + SEQC_CUDA_ERROR_NO_DEVICE);
    CHECK(output.find("/nonexistent/libcuda.so.1") != std::string::npos);
    const char *stub = SEQC_TEST_CUDA_STUB;
    if (std::filesystem::exists(stub)) {
      code = run(fmt::format("SEQC_CUDA_DRIVER='{}' '{}' {}", stub, app, args),
                 output);
      INFO(output);
      CHECK(code == 10 + SEQC_CUDA_ERROR_NO_DEVICE);
      CHECK(output.find("no CUDA device") != std::string::npos);
    }
    return;
  }
  // A GPU: the program's outputs match the reference.
  int code = run(fmt::format("'{}' {}", app, args), output);
  INFO(output);
  REQUIRE(code == 0);
  std::string error;
  auto y1 = readFile(workDir + "/y1.bin", 1 << 24, error);
  auto y2 = readFile(workDir + "/y2.bin", 1 << 24, error);
  REQUIRE(y1);
  REQUIRE(y2);
  auto floats = [](const std::string &bytes) {
    std::vector<float> v(bytes.size() / 4);
    std::memcpy(v.data(), bytes.data(), v.size() * 4);
    return v;
  };
  CHECK(test::scaledError(
            floats(*y1),
            reference::run(narrow->model, test::toMatrix(x1, batch, 64))) <=
        1e-4);
  CHECK(test::scaledError(
            floats(*y2),
            reference::run(wide->model, test::toMatrix(x2, batch, 131))) <=
        1e-4);
}
