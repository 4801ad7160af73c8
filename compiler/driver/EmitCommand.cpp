//===- EmitCommand.cpp - seqc emit and seqc compile -----------------------===//

#include "compiler/driver/Commands.h"
#include "compiler/driver/Pipeline.h"
#include "compiler/driver/Targets.h"

#include <fmt/format.h>

#include <cassert>

namespace seqc::driver {

namespace {

/// Shared by emit and compile: load, optimise, dispatch on --target.
int generate(const DriverOptions &opts, [[maybe_unused]] bool compile) {
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  std::unique_ptr<ir::Model> model = loadOptimizedModel(opts, sourceMgr, diag);
  if (!model)
    return 1;
  if (!externalWeightsAllowed(opts, opts.target, diag) ||
      !targetBuilt(opts.target, diag))
    return 1;
#ifdef SEQC_HAVE_LLVM
  if (opts.target == Target::Cpu)
    return compile ? compileCpu(*model, opts, diag)
                   : emitCpu(*model, opts, diag);
#endif
#ifdef SEQC_HAVE_CUDA
  if (opts.target == Target::Cuda)
    return compile ? compileCuda(*model, opts, diag)
                   : emitCuda(*model, opts, diag);
#endif
  assert(false && "targetBuilt checked that the target is built");
  return 1;
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
