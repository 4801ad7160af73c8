//===- CheckCommand.cpp - seqc check and seqc ir --------------------------===//

#include "compiler/driver/Commands.h"
#include "compiler/driver/Pipeline.h"
#include "compiler/ir/Printer.h"

#include <fmt/format.h>

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
  return 0;
}

int runIrCommand(const DriverOptions &opts) {
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  std::unique_ptr<ir::Model> model = loadCheckedModel(opts, sourceMgr, diag);
  if (!model || !optimizeModel(*model, opts, diag, opts.stopAfter))
    return 1;
  fmt::print("{}", ir::printModel(*model));
  return 0;
}

} // namespace seqc::driver
