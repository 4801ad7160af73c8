//===- EmitCommand.cpp - seqc emit and seqc compile -----------------------===//

#include "compiler/driver/Commands.h"
#include "compiler/driver/Pipeline.h"
#include "compiler/driver/Targets.h"

#include <fmt/format.h>

namespace seqc::driver {

namespace {

/// Shared by emit and compile: load, optimise, dispatch on --target.
int generate(const DriverOptions &opts, [[maybe_unused]] bool compile) {
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  std::unique_ptr<ir::Model> model = loadOptimizedModel(opts, sourceMgr, diag);
  if (!model)
    return 1;
  if (!externalWeightsAllowed(opts, opts.target, diag))
    return 1;
  switch (opts.target) {
  case Target::Cpu:
#ifdef SEQC_HAVE_LLVM
    return compile ? compileCpu(*model, opts, diag)
                   : emitCpu(*model, opts, diag);
#else
    diag.error("this seqc was built without the LLVM CPU backend "
               "(configure with -DSEQC_ENABLE_LLVM=ON and llvm-19-dev)");
    return 1;
#endif
  case Target::Cuda:
    break;
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

} // namespace seqc::driver
