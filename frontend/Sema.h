//===- Sema.h - Executing a .nn file into module objects --------*- C++ -*-===//
#ifndef SEQC_FRONTEND_SEMA_H
#define SEQC_FRONTEND_SEMA_H

#include "frontend/AST.h"
#include "frontend/Module.h"

#include "compiler/support/Diagnostics.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace seqc::frontend {

/// The models a file defines, in definition order (a rebound name keeps its
/// first position and its latest value).
struct Program {
  struct Binding {
    std::string name;
    SourceLoc loc;
    std::shared_ptr<Module> module;
  };
  std::vector<Binding> models;

  const Binding *find(std::string_view name) const;
};

struct SemaOptions {
  /// Directory that relative load_state_dict paths are resolved against.
  std::string baseDirectory;
  /// When set (--weights or --init-seed), load_state_dict statements are
  /// checked but their files are not read.
  bool skipLoadStatements = false;
};

/// Executes the statements of \p file: builds modules, binds names, applies
/// inline literals and load_state_dict calls. Returns nullopt after
/// reporting diagnostics.
std::optional<Program> analyzeFile(const File &file, const SemaOptions &options,
                                   DiagnosticEngine &diag);

} // namespace seqc::frontend

#endif // SEQC_FRONTEND_SEMA_H
