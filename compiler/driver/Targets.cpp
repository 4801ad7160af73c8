//===- Targets.cpp - Hooks from the driver into the code generators -------===//
//
// Part of seqc. The backend-independent half of Targets.h: the checks every
// backend shares and the choice of executor by --backend, which reports
// cleanly when this build lacks the backend.
//
//===----------------------------------------------------------------------===//

#include "compiler/driver/Targets.h"

#include "compiler/support/FileIO.h"

#include <fmt/format.h>

#include <cassert>
#include <cstdio>

namespace seqc::driver {

namespace {

bool externalWeightsOnCpu(const DriverOptions &opts, bool onCpu,
                          std::string_view flag, std::string_view value,
                          DiagnosticEngine &diag) {
  if (!opts.externalWeights || onCpu)
    return true;
  diag.error(fmt::format("--external-weights is for the CPU backend only, "
                         "not {} {}",
                         flag, value));
  return false;
}

std::unique_ptr<Executor>
createCudaExecutorIfBuilt([[maybe_unused]] const ir::Model &fused,
                          const DriverOptions &opts, DiagnosticEngine &diag,
                          bool profile) {
  if (!externalWeightsAllowed(opts, Backend::Cuda, diag))
    return nullptr;
  if (profile) {
    diag.error("the CUDA backend has no per-stage profile");
    return nullptr;
  }
#ifdef SEQC_HAVE_CUDA
  return createCudaExecutor(fused, opts, diag);
#else
  diag.environmentError("this seqc was built without the CUDA backend");
  return nullptr;
#endif
}

std::unique_ptr<Executor>
createCpuExecutorIfBuilt([[maybe_unused]] const ir::Model &fused,
                         [[maybe_unused]] const DriverOptions &opts,
                         DiagnosticEngine &diag,
                         [[maybe_unused]] bool profile) {
#ifdef SEQC_HAVE_LLVM
  return createCpuExecutor(fused, opts, diag, profile);
#else
  diag.environmentError("this seqc was built without the LLVM CPU backend; use "
                        "--backend ref");
  return nullptr;
#endif
}

} // namespace

bool targetBuilt(Target target, DiagnosticEngine &diag) {
  switch (target) {
  case Target::Cpu:
#ifndef SEQC_HAVE_LLVM
    diag.environmentError(
        "this seqc was built without the LLVM CPU backend "
        "(configure with -DSEQC_ENABLE_LLVM=ON and llvm-19-dev)");
    return false;
#endif
    break;
  case Target::Cuda:
#ifndef SEQC_HAVE_CUDA
    diag.environmentError(
        "this seqc was built without the CUDA backend (configure "
        "with -DSEQC_ENABLE_CUDA=ON and the CUDA toolkit's NVRTC)");
    return false;
#endif
    break;
  }
  (void)diag;
  return true;
}

bool externalWeightsAllowed(const DriverOptions &opts, Backend backend,
                            DiagnosticEngine &diag) {
  return externalWeightsOnCpu(opts, backend == Backend::Cpu, "--backend",
                              spelling(backend), diag);
}

bool externalWeightsAllowed(const DriverOptions &opts, Target target,
                            DiagnosticEngine &diag) {
  return externalWeightsOnCpu(opts, target == Target::Cpu, "--target",
                              spelling(target), diag);
}

std::optional<Precision> referencePrecision(const DriverOptions &opts,
                                            DiagnosticEngine &diag) {
  Precision precision = opts.precision.value_or(Precision::F32);
  if (precision != Precision::F16)
    return precision;
  diag.error("--precision f16 is CUDA's; the reference simulates f32, bf16, "
             "int8 and int8w");
  return std::nullopt;
}

std::unique_ptr<Executor> createExecutor(const ir::Model &fused,
                                         Backend backend,
                                         const DriverOptions &opts,
                                         DiagnosticEngine &diag, bool profile) {
  switch (backend) {
  case Backend::Ref:
    if (!externalWeightsAllowed(opts, Backend::Ref, diag))
      return nullptr;
    assert(!profile && "the reference interpreter has no stages to time");
    if (std::optional<Precision> precision = referencePrecision(opts, diag))
      return createReferenceExecutor(fused, *precision);
    return nullptr;
  case Backend::Cuda:
    return createCudaExecutorIfBuilt(fused, opts, diag, profile);
  case Backend::Cpu:
    break;
  }
  return createCpuExecutorIfBuilt(fused, opts, diag, profile);
}

int writeOutput(const DriverOptions &opts, const std::string &text,
                DiagnosticEngine &diag) {
  if (opts.output.empty() || opts.output == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }
  if (!opts.positional.empty() && isSameFile(opts.output, opts.positional[0])) {
    diag.error(
        fmt::format("refusing to overwrite the input file '{}'", opts.output));
    return 1;
  }
  std::string error;
  if (!writeFileAtomic(opts.output, text, error)) {
    diag.error(error);
    return 2;
  }
  return 0;
}

} // namespace seqc::driver
