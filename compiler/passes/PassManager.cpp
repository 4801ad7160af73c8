//===- PassManager.cpp - Running passes in order --------------------------===//

#include "compiler/passes/Pass.h"

#include "compiler/ir/Printer.h"
#include "compiler/ir/Verifier.h"

#include <fmt/core.h>

#include <cstdlib>

namespace seqc::passes {

const std::vector<std::string_view> &allPassNames() {
  static const std::vector<std::string_view> names = {"shape-check",
                                                      "canonicalize", "fuse"};
  return names;
}

bool PassManager::run(ir::Model &model, DiagnosticEngine &diag) {
  bool fused = false;
  for (const std::unique_ptr<Pass> &pass : passes) {
    if (!pass->run(model, diag))
      return false;
    fused = fused || pass->establishesFusedForm();
    std::string problem = ir::verifyModel(model, /*requireBound=*/true);
    if (problem.empty() && fused)
      problem = ir::verifyFusedForm(model);
    if (!problem.empty()) {
      fmt::print(stderr,
                 "seqc: internal error: the IR is invalid after pass '{}': "
                 "{}\n{}",
                 pass->getName(), problem, ir::printModel(model));
      std::abort();
    }
    if (printAfterAll || printAfter.count(pass->getName())) {
      fmt::print(dumpStream, "// -----// IR Dump After {} //----- //\n{}",
                 pass->getName(), ir::printModel(model));
      std::fflush(dumpStream);
    }
  }
  return true;
}

} // namespace seqc::passes
