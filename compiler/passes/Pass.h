//===- Pass.h - Passes over the IR and the pass manager ---------*- C++ -*-===//
//
// Part of seqc. Each pass is a small unit with one job and a name that
// `--print-after=NAME` accepts. The pass manager verifies the IR after each
// pass (and its fused form from `fuse` on): a pass that breaks an invariant
// is a compiler bug and aborts.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_PASSES_PASS_H
#define SEQC_PASSES_PASS_H

#include "compiler/ir/IR.h"
#include "compiler/support/Diagnostics.h"

#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace seqc::passes {

class Pass {
public:
  virtual ~Pass() = default;
  /// The name `--print-after` uses (`shape-check`, `canonicalize`, `fuse`).
  virtual std::string_view getName() const = 0;
  /// Transforms \p model. Returns false after reporting a user-facing
  /// diagnostic (only the shape checker has any).
  virtual bool run(ir::Model &model, DiagnosticEngine &diag) = 0;
  /// Whether the model is in fused form after this pass
  /// (ir::verifyFusedForm): the pass manager then checks that form after it
  /// and after every later pass, because the backends rely on it.
  virtual bool establishesFusedForm() const { return false; }
};

std::unique_ptr<Pass> createShapeCheckPass();
std::unique_ptr<Pass> createCanonicalizePass();
std::unique_ptr<Pass> createFusePass();

/// The names of every pass, in pipeline order.
const std::vector<std::string_view> &allPassNames();

/// Runs passes in order, printing the IR after those asked for.
class PassManager {
public:
  void addPass(std::unique_ptr<Pass> pass) {
    passes.push_back(std::move(pass));
  }
  void setPrintAfterAll(bool value) { printAfterAll = value; }
  void addPrintAfter(std::string name) { printAfter.insert(std::move(name)); }
  /// Where IR dumps go (stderr by default, as in LLVM).
  void setDumpStream(std::FILE *stream) { dumpStream = stream; }

  /// Runs every pass; stops and returns false when one fails.
  bool run(ir::Model &model, DiagnosticEngine &diag);

private:
  std::vector<std::unique_ptr<Pass>> passes;
  std::set<std::string, std::less<>> printAfter;
  bool printAfterAll = false;
  std::FILE *dumpStream = stderr;
};

} // namespace seqc::passes

#endif // SEQC_PASSES_PASS_H
