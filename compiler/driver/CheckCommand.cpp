//===- CheckCommand.cpp - seqc check and seqc ir --------------------------===//

#include "compiler/bench/ModelCost.h"
#include "compiler/driver/Commands.h"
#include "compiler/driver/Pipeline.h"
#include "compiler/driver/Targets.h"
#include "compiler/ir/Printer.h"

#include <fmt/format.h>

#include <cassert>

namespace seqc::driver {

int runCheckCommand(const DriverOptions &opts) {
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  std::unique_ptr<ir::Model> model = loadCheckedModel(opts, sourceMgr, diag);
  if (!model)
    return 1;
  uint64_t numParams = 0;
  for (const ir::Param &param : model->params)
    numParams += param.data.numElements();
  size_t numLayers = model->ops.size();
  fmt::print("{}: ok: model '{}' maps {} to {} with {} layer{} and {} "
             "parameter{}\n",
             opts.positional.front(), model->name, model->inputType().str(),
             model->outputType().str(), numLayers, numLayers == 1 ? "" : "s",
             numParams, numParams == 1 ? "" : "s");
  // The footprint of the code `seqc compile` would write (only the CPU
  // backend compiles in memory to tell).
  if (!optimizeModel(*model, opts, diag))
    return 1;
#ifdef SEQC_HAVE_LLVM
  std::string line;
  if (!cpuFootprintLine(*model, opts, line, diag))
    return 1;
  fmt::print("{}: footprint {}\n", opts.positional.front(), line);
#else
  fmt::print("{}: footprint: {} FLOPs/sample; code, weights, scratch and "
             "stack unknown (seqc was built without the LLVM CPU backend)\n",
             opts.positional.front(), bench::flopsPerSample(*model));
#endif
  return 0;
}

namespace {

/// `seqc ir --print-plan`: the plan of --target's backend for the fused IR.
int printPlan(const ir::Model &fused, const DriverOptions &opts,
              DiagnosticEngine &diag) {
  if (!targetBuilt(opts.target, diag))
    return 1;
#ifdef SEQC_HAVE_LLVM
  if (opts.target == Target::Cpu)
    return printCpuPlan(fused, opts, diag);
#endif
#ifdef SEQC_HAVE_CUDA
  if (opts.target == Target::Cuda)
    return printCudaPlan(fused, opts, diag);
#endif
  assert(false && "targetBuilt checked that the target is built");
  return 1;
}

} // namespace

int runIrCommand(const DriverOptions &opts) {
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  if (opts.printPlan && !opts.stopAfter.empty()) {
    diag.error("--print-plan plans the fused IR; it cannot be combined with "
               "--stop-after");
    return 1;
  }
  std::unique_ptr<ir::Model> model = loadCheckedModel(opts, sourceMgr, diag);
  if (!model || !optimizeModel(*model, opts, diag, opts.stopAfter))
    return 1;
  if (opts.printPlan)
    return printPlan(*model, opts, diag);
  fmt::print("{}", ir::printModel(*model));
  return 0;
}

} // namespace seqc::driver
