//===- Parser.h - Parser of .nn files ---------------------------*- C++ -*-===//
#ifndef SEQC_FRONTEND_PARSER_H
#define SEQC_FRONTEND_PARSER_H

#include "frontend/AST.h"

#include "compiler/support/Diagnostics.h"

#include <optional>

namespace seqc::frontend {

/// Parses the buffer \p bufferId. Returns nullopt after reporting the first
/// syntax error. Nesting deeper than limits::kMaxNestingDepth is an error, so
/// hostile input cannot exhaust the stack.
std::optional<File> parseBuffer(uint32_t bufferId,
                                const SourceManager &sourceMgr,
                                DiagnosticEngine &diag);

} // namespace seqc::frontend

#endif // SEQC_FRONTEND_PARSER_H
