//===- FuzzInput.h - Fuzz bytes as a checked .nn model ----------*- C++ -*-===//
//
// Part of seqc. What the libFuzzer targets share: the bytes as a `.nn` file
// analysed by Sema, its last model taken through the whole check pipeline,
// and that pipeline and a reference run for models from other readers.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_TESTS_FUZZ_FUZZINPUT_H
#define SEQC_TESTS_FUZZ_FUZZINPUT_H

#include "compiler/passes/Pass.h"
#include "compiler/reference/Interpreter.h"
#include "frontend/Lowering.h"
#include "frontend/Parser.h"
#include "frontend/Sema.h"
#include "frontend/WeightBinding.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace seqc::fuzz {

/// Shape-checks, canonicalises and fuses \p model; the pass manager
/// verifies the IR after each pass (and aborts on a broken one).
inline bool optimize(ir::Model &model, DiagnosticEngine &diag) {
  passes::PassManager pm;
  pm.addPass(passes::createShapeCheckPass());
  pm.addPass(passes::createCanonicalizePass());
  pm.addPass(passes::createFusePass());
  return pm.run(model, diag);
}

/// Runs the reference interpreter on one row of small values.
inline void runOneRow(const ir::Model &model) {
  reference::Matrix x(1, model.inputType().features());
  for (size_t i = 0; i < x.data.size(); ++i)
    x.data[i] = static_cast<double>(i % 7) - 3.0;
  (void)reference::run(model, x);
}

/// One fuzz input read as a `.nn` file; diagnostics go to a string.
struct FuzzInput {
  SourceManager sourceMgr;
  std::string sink;
  DiagnosticEngine diag{sourceMgr};

  /// Parses and analyses the bytes (load statements skipped); nullopt where
  /// either rejects them.
  std::optional<frontend::Program> analyze(const uint8_t *data, size_t size) {
    diag.captureTo(&sink);
    uint32_t id = sourceMgr.addBuffer(
        "fuzz.nn", std::string(reinterpret_cast<const char *>(data), size));
    std::optional<frontend::File> file =
        frontend::parseBuffer(id, sourceMgr, diag);
    if (!file)
      return std::nullopt;
    frontend::SemaOptions options;
    options.skipLoadStatements = true;
    return frontend::analyzeFile(*file, options, diag);
  }

  /// The last model of the bytes, initialised PyTorch-style (seed 1),
  /// lowered, shape-checked, canonicalised and fused; nullptr where a step
  /// rejects it or it has more than \p maxParams parameters or \p maxLayers
  /// layers (the limits themselves are tested by the must-fail suite).
  std::unique_ptr<ir::Model> checkedModel(const uint8_t *data, size_t size,
                                          uint64_t maxParams,
                                          uint64_t maxLayers) {
    std::optional<frontend::Program> program = analyze(data, size);
    if (!program || program->models.empty())
      return nullptr;
    frontend::Module &root = *program->models.back().module;
    if (root.numParamElements > maxParams || root.numLayers > maxLayers)
      return nullptr;
    frontend::initializeParams(root, 1);
    std::unique_ptr<ir::Model> model =
        frontend::lowerModule(program->models.back().name, root);
    if (!optimize(*model, diag))
      return nullptr;
    return model;
  }
};

} // namespace seqc::fuzz

#endif // SEQC_TESTS_FUZZ_FUZZINPUT_H
