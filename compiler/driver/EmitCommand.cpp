//===- EmitCommand.cpp - seqc emit and seqc compile -----------------------===//

#include "compiler/driver/Commands.h"
#include "compiler/driver/Pipeline.h"
#include "compiler/driver/Targets.h"

#include <fmt/format.h>

namespace seqc::driver {

bool externalWeightsOnCpu(const DriverOptions &opts, const std::string &flag,
                          const std::string &value, DiagnosticEngine &diag) {
  if (!opts.externalWeights || value == "cpu")
    return true;
  diag.error(fmt::format("--external-weights is for the CPU backend only, "
                         "not {} {}",
                         flag, value));
  return false;
}

namespace {

/// Shared by emit and compile: load, optimise, dispatch on --target.
int generate(const DriverOptions &opts, [[maybe_unused]] bool compile) {
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  std::unique_ptr<ir::Model> model = loadOptimizedModel(opts, sourceMgr, diag);
  if (!model)
    return 1;
  std::string target = opts.target.empty() ? "cpu" : opts.target;
  if (!externalWeightsOnCpu(opts, "--target", target, diag))
    return 1;
  if (target == "cpu") {
#ifdef SEQC_HAVE_LLVM
    return compile ? compileCpu(*model, opts, diag)
                   : emitCpu(*model, opts, diag);
#else
    diag.error("this seqc was built without the LLVM CPU backend "
               "(configure with -DSEQC_ENABLE_LLVM=ON and llvm-19-dev)");
    return 1;
#endif
  }
#ifdef SEQC_HAVE_CUDA
  return compile ? compileCuda(*model, opts, diag)
                 : emitCuda(*model, opts, diag);
#else
  diag.error("this seqc was built without the CUDA backend (configure with "
             "-DSEQC_ENABLE_CUDA=ON and the CUDA toolkit's NVRTC)");
  return 1;
#endif
}

} // namespace

int runEmitCommand(const DriverOptions &opts) { return generate(opts, false); }

int runCompileCommand(const DriverOptions &opts) {
  if (opts.output.empty()) {
    fmt::print(stderr, "seqc: error: 'seqc compile' needs -o DIR/PREFIX\n");
    return 1;
  }
  return generate(opts, true);
}

std::unique_ptr<Executor>
createExecutor([[maybe_unused]] const ir::Model &fused,
               const DriverOptions &opts, DiagnosticEngine &diag,
               [[maybe_unused]] bool profile) {
  if (opts.backend == "cuda") {
    if (!externalWeightsOnCpu(opts, "--backend", "cuda", diag))
      return nullptr;
    if (profile) {
      diag.error("the CUDA backend has no per-stage profile");
      return nullptr;
    }
#ifdef SEQC_HAVE_CUDA
    return createCudaExecutor(fused, opts, diag);
#else
    diag.error("this seqc was built without the CUDA backend");
    return nullptr;
#endif
  }
#ifdef SEQC_HAVE_LLVM
  return createCpuExecutor(fused, opts, diag, profile);
#else
  diag.error("this seqc was built without the LLVM CPU backend; use "
             "--backend ref");
  return nullptr;
#endif
}

} // namespace seqc::driver
