//===- FuzzCheck.cpp - libFuzzer target: the whole check pipeline ---------===//
//
// Parses, analyzes, initialises small models, lowers, shape-checks,
// canonicalises, fuses, and runs the reference interpreter on one row, so
// every stage sees whatever the fuzzer can make the frontend accept.
//
//===----------------------------------------------------------------------===//

#include "compiler/passes/Pass.h"
#include "compiler/reference/Interpreter.h"
#include "frontend/Lowering.h"
#include "frontend/Parser.h"
#include "frontend/Sema.h"
#include "frontend/WeightBinding.h"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace seqc;
  SourceManager sourceMgr;
  std::string sink;
  DiagnosticEngine diag(sourceMgr);
  diag.captureTo(&sink);
  uint32_t id = sourceMgr.addBuffer(
      "fuzz.nn", std::string(reinterpret_cast<const char *>(data), size));
  std::optional<frontend::File> file =
      frontend::parseBuffer(id, sourceMgr, diag);
  if (!file)
    return 0;
  frontend::SemaOptions options;
  options.skipLoadStatements = true;
  std::optional<frontend::Program> program =
      frontend::analyzeFile(*file, options, diag);
  if (!program || program->models.empty())
    return 0;
  frontend::Module &root = *program->models.back().module;
  // Keep memory and time per input small; the limits themselves are tested
  // by the must-fail suite.
  if (root.numParamElements > (1u << 20) || root.numLayers > 64)
    return 0;
  frontend::initializeParams(root, 1);
  std::unique_ptr<ir::Model> model =
      frontend::lowerModule(program->models.back().name, root);
  passes::PassManager pm;
  pm.addPass(passes::createShapeCheckPass());
  pm.addPass(passes::createCanonicalizePass());
  pm.addPass(passes::createFusePass());
  if (!pm.run(*model, diag))
    return 0;
  reference::Matrix x(1, model->inputType().features());
  for (size_t i = 0; i < x.data.size(); ++i)
    x.data[i] = static_cast<double>(i % 7) - 3.0;
  (void)reference::run(*model, x);
  return 0;
}
