//===- JitChecks.h - JIT-compiled models against the reference -*- C++ -*-===//
//
// Part of seqc's tests: compile a model with the JIT and check its output
// for a batch of random rows against the float64 reference; generate code
// with external weights.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_TESTS_CPU_JITCHECKS_H
#define SEQC_TESTS_CPU_JITCHECKS_H

#include "compiler/codegen/cpu/CpuBackend.h"
#include "compiler/codegen/cpu/WeightsBlob.h"
#include "compiler/reference/Interpreter.h"
#include "tests/cpu/TestModels.h"

#ifdef SEQC_HAVE_RUNTIME
#include "runtime/ThreadPool.h"
#endif

#include <doctest/doctest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

namespace seqc::test {

using codegen::cpu::CpuTargetOptions;
using codegen::cpu::JitModel;
using codegen::cpu::kRunOk;
using codegen::cpu::scratchBytes;

inline constexpr float kGuard = 12345.0f;

/// Runs \p jit on \p batch random rows and checks against the reference:
/// serially (mode 0), through a parallel-for that runs the items back to
/// front (1) or through the runtime's pool of 3 threads (2); misaligned
/// scratch, guards after every buffer.
/// \p batch rows of \p features random inputs, normal with sigma 1.5.
inline std::vector<float> randomRows(uint64_t batch, int64_t features,
                                     std::mt19937 &rng) {
  std::normal_distribution<float> dist(0.0f, 1.5f);
  std::vector<float> input(batch * features);
  for (float &v : input)
    v = dist(rng);
  return input;
}

inline void checkBatch(const ir::Model &model, const JitModel &jit,
                       uint64_t batch, std::mt19937 &rng, int mode) {
  int64_t inF = model.inputType().features();
  int64_t outF = model.outputType().features();
  std::vector<float> input = randomRows(batch, inF, rng);
  size_t scratch = jit.scratchBytes(batch);
  REQUIRE(scratch == scratchBytes(model, batch));
  // Misaligned scratch and guards after every buffer.
  std::vector<unsigned char> scratchBuf(scratch + 3 + 64, 0xAB);
  std::vector<float> output(batch * outF + 16, kGuard);
  void *scratchPtr = scratch ? scratchBuf.data() + 3 : nullptr;
  int status;
  if (mode == 0) {
    status = jit.run(input.data(), output.data(), batch, scratchPtr);
  } else if (mode == 1) {
    status = jit.runParallel(input.data(), output.data(), batch, scratchPtr,
                             reverseParallelFor, nullptr);
  } else {
#ifdef SEQC_HAVE_RUNTIME
    seqc_thread_pool *pool = seqc_thread_pool_create(3);
    REQUIRE(pool);
    status = jit.runParallel(input.data(), output.data(), batch, scratchPtr,
                             seqc_parallel_for, pool);
    seqc_thread_pool_destroy(pool);
#else
    status = jit.run(input.data(), output.data(), batch, scratchPtr);
#endif
  }
  REQUIRE(status == kRunOk);
  for (size_t i = 0; i < 16; ++i)
    REQUIRE(output[batch * outF + i] == kGuard);
  for (size_t i = 0; i < 64; ++i)
    REQUIRE(scratchBuf[scratch + 3 + i] == 0xAB);
  output.resize(batch * outF);
  reference::Matrix want = reference::run(model, toMatrix(input, batch, inF));
  double err = scaledError(output, want);
  INFO("batch " << batch << " mode " << mode);
  CHECK(err <= 1e-4);
}

/// JIT-compiles \p model with \p opts and the prefix "net". With
/// \p skipIfHostLacks, returns null, with a message, where this host lacks
/// a feature the code of opts.cpu may use (JitModel::create refuses it);
/// fails the test on any other error.
inline std::unique_ptr<JitModel> createJit(const ir::Model &model,
                                           CpuTargetOptions opts,
                                           bool skipIfHostLacks = false) {
  std::string error;
  opts.prefix = "net";
  std::unique_ptr<JitModel> jit = JitModel::create(model, opts, error);
  if (!jit && skipIfHostLacks &&
      error.find("which this host lacks") != std::string::npos) {
    MESSAGE("skipped --cpu " << opts.cpu << ": " << error);
    return nullptr;
  }
  INFO(error);
  REQUIRE(jit);
  return jit;
}

/// JIT-compiles \p model with the prefix "net"; fails the test if it
/// cannot.
inline std::unique_ptr<JitModel>
compile(const ir::Model &model, const std::string &cpu = "",
        bool profile = false, bool externalWeights = false,
        bool hugePages = false, bool fastMath = false,
        codegen::Precision precision = codegen::Precision::F32) {
  CpuTargetOptions opts;
  opts.cpu = cpu;
  opts.profile = profile;
  opts.externalWeights = externalWeights;
  opts.hugePages = hugePages;
  opts.fastMath = fastMath;
  opts.precision = precision;
  return createJit(model, opts);
}

/// JIT-compiles \p model for the single CPU \p cpu in \p precision, or
/// returns null where this host cannot run its code (createJit).
inline std::unique_ptr<JitModel>
compileIfHostRuns(const ir::Model &model, const std::string &cpu,
                  codegen::Precision precision = codegen::Precision::F32) {
  CpuTargetOptions opts;
  opts.cpu = cpu;
  opts.precision = precision;
  return createJit(model, opts, true);
}

/// Generates \p kind for \p model with external weights (prefix \p prefix,
/// CPU \p cpu); returns the code and sets \p blob to PREFIX.weights.
inline std::string generateExternal(const ir::Model &model,
                                    const std::string &prefix,
                                    const std::string &cpu,
                                    codegen::cpu::OutputKind kind,
                                    std::string &blob) {
  CpuTargetOptions opts;
  opts.prefix = prefix;
  opts.cpu = cpu;
  opts.externalWeights = true;
  std::string out, error;
  codegen::cpu::WeightsBlob weights;
  INFO(error);
  REQUIRE(codegen::cpu::generate(model, opts, kind, out, error, &weights));
  blob = weights.str();
  REQUIRE(blob.size() == weights.size());
  return out;
}

} // namespace seqc::test

#endif // SEQC_TESTS_CPU_JITCHECKS_H
