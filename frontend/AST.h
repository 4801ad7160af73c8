//===- AST.h - Syntax tree of .nn files -------------------------*- C++ -*-===//
//
// Part of seqc. The parser produces one Statement per logical line. The
// expressions kept are the ones an nn.Sequential definition needs: dotted
// names, calls with positional and keyword arguments, numbers, strings,
// booleans, None, and list/tuple literals (inline weights).
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_FRONTEND_AST_H
#define SEQC_FRONTEND_AST_H

#include "compiler/support/SourceLoc.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace seqc::frontend {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct KeywordArg {
  std::string name;
  SourceLoc nameLoc;
  ExprPtr value;
};

/// An expression. Which fields mean something depends on the kind.
struct Expr {
  enum class Kind { Name, Call, Integer, Float, String, Bool, None, List };

  Kind kind = Kind::None;
  SourceLoc loc;
  /// Bytes to underline in diagnostics (on the first line of the expression).
  uint32_t length = 1;

  /// Name: the dotted parts (`nn.Linear` is {"nn", "Linear"}). Call: the
  /// callee's dotted name.
  std::vector<std::string> dotted;
  /// Call: arguments. List: elements.
  std::vector<ExprPtr> args;
  std::vector<KeywordArg> keywords;
  /// List: written with parentheses (a tuple) rather than brackets.
  bool isTuple = false;

  int64_t intValue = 0;    ///< Integer, Bool (0/1)
  double floatValue = 0;   ///< Integer and Float
  std::string stringValue; ///< String

  /// `nn.Linear` for a Name or Call.
  std::string dottedName() const;
  /// A short description of the expression for messages, with its article:
  /// "an integer", "a call of 'nn.ReLU'", "True".
  std::string describe() const;
};

/// One logical line of a .nn file.
struct Statement {
  enum class Kind {
    Assign, ///< target = value
    Call,   ///< a bare call such as `Net.load_state_dict("w.safetensors")`
    Import, ///< `import torch`, `from torch import nn`: accepted, ignored
  };
  Kind kind = Kind::Call;
  SourceLoc loc;
  std::string target;
  SourceLoc targetLoc;
  uint32_t targetLength = 1;
  ExprPtr value;
};

struct File {
  uint32_t bufferId = 0;
  std::vector<Statement> statements;
};

} // namespace seqc::frontend

#endif // SEQC_FRONTEND_AST_H
