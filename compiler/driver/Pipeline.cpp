//===- Pipeline.cpp - From a .nn file to checked and fused IR -------------===//

#include "compiler/driver/Pipeline.h"

#include "compiler/passes/Pass.h"
#include "compiler/support/FileIO.h"
#include "compiler/support/Limits.h"
#include "frontend/Lowering.h"
#include "frontend/OnnxImport.h"
#include "frontend/Parser.h"
#include "frontend/Sema.h"
#include "frontend/WeightBinding.h"

#include <fmt/format.h>

namespace seqc::driver {

namespace {

void configurePrinting(passes::PassManager &pm, const DriverOptions &opts) {
  pm.setPrintAfterAll(opts.printAfterAll);
  for (const std::string &name : opts.printAfter)
    pm.addPrintAfter(name);
}

bool checkPassNames(const DriverOptions &opts, DiagnosticEngine &diag) {
  std::vector<std::string> names = opts.printAfter;
  if (!opts.stopAfter.empty())
    names.push_back(opts.stopAfter);
  for (const std::string &name : names) {
    bool known = false;
    for (std::string_view pass : passes::allPassNames())
      known |= pass == name;
    if (!known) {
      diag.error(fmt::format("unknown pass '{}' (passes: shape-check, "
                             "canonicalize, fuse)",
                             name));
      return false;
    }
  }
  return true;
}

/// Runs the shape-check pass through a pass manager, which verifies the
/// result and prints it as --print-after asks.
bool runShapeCheck(ir::Model &model, const DriverOptions &opts,
                   DiagnosticEngine &diag) {
  passes::PassManager pm;
  configurePrinting(pm, opts);
  pm.addPass(passes::createShapeCheckPass());
  return pm.run(model, diag);
}

/// An ONNX model: one model per file, its initializers are its weights.
std::unique_ptr<ir::Model> loadOnnxModel(const DriverOptions &opts,
                                         DiagnosticEngine &diag) {
  const std::string &path = opts.positional.front();
  for (auto [given, option] :
       {std::pair{opts.weights.has_value(), "--weights"},
        std::pair{!opts.weightsPrefix.empty(), "--weights-prefix"},
        std::pair{opts.initSeed.has_value(), "--init-seed"},
        std::pair{!opts.modelName.empty(), "--model"}})
    if (given) {
      diag.error(fmt::format("{} does not apply to an ONNX model: '{}' holds "
                             "one model, and its initializers are its weights",
                             option, path));
      return nullptr;
    }
  std::unique_ptr<ir::Model> model = frontend::importOnnxModel(path, diag);
  if (!model || !runShapeCheck(*model, opts, diag))
    return nullptr;
  return model;
}

} // namespace

std::unique_ptr<ir::Model> loadCheckedModel(const DriverOptions &opts,
                                            SourceManager &sourceMgr,
                                            DiagnosticEngine &diag) {
  if (!checkPassNames(opts, diag))
    return nullptr;
  const std::string &path = opts.positional.front();
  // The one place that tells model formats apart: `.onnx` files are
  // imported, anything else is parsed as a `.nn` file.
  if (frontend::isOnnxModelPath(path))
    return loadOnnxModel(opts, diag);
  std::string error;
  std::optional<std::string> text =
      readFile(path, limits::kMaxSourceBytes, error);
  if (!text) {
    diag.error(error);
    return nullptr;
  }
  uint32_t bufferId = sourceMgr.addBuffer(path, std::move(*text));
  std::optional<frontend::File> file =
      frontend::parseBuffer(bufferId, sourceMgr, diag);
  if (!file)
    return nullptr;

  frontend::SemaOptions semaOptions;
  semaOptions.baseDirectory = parentDirectory(path);
  semaOptions.skipLoadStatements = opts.weights || opts.initSeed;
  std::optional<frontend::Program> program =
      frontend::analyzeFile(*file, semaOptions, diag);
  if (!program)
    return nullptr;
  if (program->models.empty()) {
    diag.fileError(path, "defines no model (expected 'Name = "
                         "nn.Sequential(...)')");
    return nullptr;
  }
  const frontend::Program::Binding *chosen = &program->models.back();
  if (!opts.modelName.empty()) {
    chosen = program->find(opts.modelName);
    if (!chosen) {
      std::vector<std::string> names;
      for (const auto &binding : program->models)
        names.push_back(binding.name);
      diag.fileError(path, fmt::format("no model named '{}' (models: {})",
                                       opts.modelName, fmt::join(names, ", ")));
      return nullptr;
    }
  }
  frontend::Module &root = *chosen->module;
  if (root.numLayers == 0) {
    diag.error(root.loc, fmt::format("model '{}' has no layers", chosen->name),
               root.locLength);
    return nullptr;
  }
  if (opts.weights) {
    frontend::StateDictOptions load;
    load.prefix = opts.weightsPrefix;
    load.origin = frontend::WeightsOrigin::CommandLine;
    if (!frontend::loadStateDict(root, *opts.weights, load, diag))
      return nullptr;
  } else if (opts.initSeed) {
    frontend::initializeParams(root, *opts.initSeed);
  }

  std::unique_ptr<ir::Model> model = frontend::lowerModule(chosen->name, root);
  // Layers that do not fit together are a mistake in the file whatever the
  // weights, so widths are checked before weights are required. (The pass
  // manager below runs the check again, verifying and printing the result.)
  if (!passes::createShapeCheckPass()->run(*model, diag) ||
      !frontend::checkAllParamsBound(root, chosen->name, diag))
    return nullptr;
  if (!runShapeCheck(*model, opts, diag))
    return nullptr;
  return model;
}

bool optimizeModel(ir::Model &model, const DriverOptions &opts,
                   DiagnosticEngine &diag, const std::string &stopAfter) {
  if (stopAfter == "shape-check")
    return true;
  passes::PassManager pm;
  configurePrinting(pm, opts);
  pm.addPass(passes::createCanonicalizePass());
  if (stopAfter != "canonicalize")
    pm.addPass(passes::createFusePass());
  return pm.run(model, diag);
}

std::unique_ptr<ir::Model> loadOptimizedModel(const DriverOptions &opts,
                                              SourceManager &sourceMgr,
                                              DiagnosticEngine &diag) {
  std::unique_ptr<ir::Model> model = loadCheckedModel(opts, sourceMgr, diag);
  if (!model || !optimizeModel(*model, opts, diag))
    return nullptr;
  return model;
}

} // namespace seqc::driver
