//===- FuzzCpuCodegen.cpp - libFuzzer target: CPU code vs the reference ---===//
//
// Takes whatever small model the fuzzer can make the frontend accept through
// the whole pipeline, JIT-compiles it with the LLVM CPU backend (the module
// is verified before it is optimised; for two small models in three an
// AVX-512 multiversioned or an AArch64 object is generated as well), runs it on
// a few rows with guards after the output and scratch buffers, serially and
// through a parallel-for that runs the items in reverse, and compares the
// result with the float64 reference interpreter. A model the checks accept that
// the backend refuses, a status other than OK, a write past a buffer, a
// parallel run that differs from the serial one or a wrong result aborts, so
// libFuzzer keeps the input as a crash.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cpu/CpuBackend.h"
#include "compiler/codegen/cpu/WeightsBlob.h"
#include "compiler/reference/Interpreter.h"
#include "tests/cpu/TestModels.h"
#include "tests/fuzz/FuzzInput.h"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using namespace seqc;

[[noreturn]] void fail(const std::string &what) {
  std::fprintf(stderr, "FuzzCpuCodegen: %s\n", what.c_str());
  std::abort();
}

/// Whether float32 arithmetic is expected to follow the float64 reference to
/// the differential tests' tolerance: activation parameters and epsilons of
/// ordinary size (an ELU alpha of 1e30 or a LayerNorm eps of 0 legitimately
/// overflow or cancel in float32 where float64 does not). The model is fused
/// (checkedModel): its BatchNorms are affine maps already, computed in
/// double and rounded once, which the reference then reads as they are.
bool wellConditioned(const ir::Model &model) {
  auto ordinary = [](double v) {
    return v == 0.0 || (std::fabs(v) >= 1e-3 && std::fabs(v) <= 1e3);
  };
  for (const ir::Op &op : model.ops) {
    if (!ordinary(op.act.alpha) || !ordinary(op.act.beta))
      return false;
    if (op.kind == ir::OpKind::LayerNorm && !(op.eps >= 1e-6 && op.eps <= 1e3))
      return false;
  }
  return true;
}

/// Whether every value the reference computed on the way is well inside
/// float32's range (one beyond it overflows in the generated code only).
bool inFloatRange(const std::vector<reference::Matrix> &layers) {
  for (const reference::Matrix &m : layers)
    for (double v : m.data)
      if (std::fabs(v) > 1e30)
        return false;
  return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // Compiling with LLVM's O3 pipeline costs tens of milliseconds even for a
  // tiny model; keep models small so the fuzzer still tries many. 48 layers
  // reach the compact code of models with more than 16 Dense layers
  // (corpus/FuzzCpuCodegen/deep_compact.nn is such a model).
  fuzz::FuzzInput in;
  std::unique_ptr<ir::Model> model =
      in.checkedModel(data, size, uint64_t(1) << 14, 48);
  if (!model)
    return 0;

  // Half the inputs compile with external weights: every parameter is
  // then read from the blob (and tiny models take the general path).
  codegen::cpu::CpuTargetOptions opts;
  opts.prefix = "fuzz";
  opts.externalWeights = (size / 3) % 2 == 1;
  std::string error;
  std::unique_ptr<codegen::cpu::JitModel> jit =
      codegen::cpu::JitModel::create(*model, opts, error);
  if (!jit)
    fail("a model the checks accept does not compile: " + error);

  // Code this machine cannot run is still generated and verified: every
  // third input with at most 4K parameters also becomes an x86-64-v3/v4
  // multiversioned object (16-lane AVX-512 kernels, CPUID dispatch), every
  // third an AArch64 one (bigger models, and deeper ones, take seconds for
  // these: the 19-layer seed's AArch64 object took 19 s under ASan).
  size_t paramElements = 0;
  for (const ir::Param &p : model->params)
    paramElements += p.data.numElements();
  if (size % 3 != 2 && paramElements <= 4096 && model->ops.size() <= 16) {
    codegen::cpu::CpuTargetOptions other;
    other.prefix = "fuzz";
    other.externalWeights = opts.externalWeights;
    if (size % 3 == 0)
      other.cpu = "x86-64-v3,x86-64-v4";
    else
      other.triple = "aarch64-linux-gnu";
    std::string object;
    codegen::cpu::WeightsBlob weights;
    if (!codegen::cpu::generate(*model, other, codegen::cpu::OutputKind::Object,
                                object, error,
                                other.externalWeights ? &weights : nullptr) ||
        object.empty() || (other.externalWeights && !weights.sealed()))
      fail("a model the checks accept has no object for " +
           (other.cpu.empty() ? other.triple : other.cpu) + ": " + error);
  }

  // A batch of 1 to 13 rows (single rows, remainders and full tiles), and
  // inputs spread over [-3, 3].
  size_t batch = 1 + size % 13;
  int64_t inF = model->inputType().features();
  int64_t outF = model->outputType().features();
  std::vector<float> input(batch * inF);
  reference::Matrix x(static_cast<int64_t>(batch), inF);
  for (size_t i = 0; i < input.size(); ++i) {
    input[i] = static_cast<float>((i * 7919 + size) % 97) / 16.0f - 3.0f;
    x.data[i] = input[i];
  }
  constexpr float kGuard = 12345.0f;
  constexpr size_t kGuardCount = 16;
  std::vector<float> output(batch * outF + kGuardCount, kGuard);
  size_t scratchBytes = jit->scratchBytes(batch);
  std::vector<unsigned char> scratch(scratchBytes + 64, 0xAB);
  int status = jit->run(input.data(), output.data(), batch,
                        scratchBytes ? scratch.data() : nullptr);
  if (status != codegen::cpu::kRunOk)
    fail("run returned " + std::to_string(status));
  for (size_t i = 0; i < kGuardCount; ++i)
    if (output[batch * outF + i] != kGuard)
      fail("write past the output buffer");
  for (size_t i = 0; i < 64; ++i)
    if (scratch[scratchBytes + i] != 0xAB)
      fail("write past the scratch buffer");
  output.resize(batch * outF);
  // The work items are fixed by the batch, not by who runs them: the
  // parallel entry point gives the same bits.
  std::vector<float> parallel(batch * outF, kGuard);
  status = jit->runParallel(input.data(), parallel.data(), batch,
                            scratchBytes ? scratch.data() : nullptr,
                            test::reverseParallelFor, nullptr);
  if (status != codegen::cpu::kRunOk)
    fail("run_parallel returned " + std::to_string(status));
  if (std::memcmp(parallel.data(), output.data(),
                  output.size() * sizeof(float)) != 0)
    fail("run_parallel differs from run");

  if (!wellConditioned(*model))
    return 0;
  std::vector<reference::Matrix> layers;
  reference::Matrix want = reference::run(*model, x, &layers);
  if (!inFloatRange(layers))
    return 0;
  double err = test::scaledError(output, want);
  if (!(err <= 1e-4))
    fail("output differs from the reference by " + std::to_string(err) +
         " (scaled)");
  return 0;
}
