//===- AST.h - Syntax tree of .nn files -------------------------*- C++ -*-===//
//
// Part of seqc. The parser produces one Statement per logical line. The
// expressions kept are the ones an nn.Sequential definition needs: dotted
// names, calls with positional and keyword arguments, numbers, strings,
// booleans, None, list/tuple literals (inline weights), int and float
// arithmetic, `*` splats and list comprehensions over range(). The
// evaluator (Evaluator.h) turns an expression into a value, which is an
// expression too: a literal, a list of values, or a reference to a module.
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
struct Module;

struct KeywordArg {
  std::string name;
  SourceLoc nameLoc;
  ExprPtr value;
};

/// An expression. Which fields mean something depends on the kind.
struct Expr {
  enum class Kind {
    Name,
    Call,
    Integer,
    Float,
    String,
    Bool,
    None,
    List,
    Unary,     ///< op args[0]
    Binary,    ///< args[0] op args[1]
    Starred,   ///< `*args[0]`, in call arguments and list displays
    ListComp,  ///< `[args[0] for dotted[0] in args[1]]`
    ModuleRef, ///< a value: the module an evaluated layer call made
  };

  Kind kind = Kind::None;
  SourceLoc loc;
  /// Bytes to underline in diagnostics (on the first line of the expression).
  uint32_t length = 1;

  /// Name: the dotted parts (`nn.Linear` is {"nn", "Linear"}). Call: the
  /// callee's dotted name. ListComp: the loop variable. ModuleRef: the
  /// callee or the name the module came from, for messages.
  std::vector<std::string> dotted;
  /// Call: arguments. List: elements.
  std::vector<ExprPtr> args;
  std::vector<KeywordArg> keywords;
  /// List: written with parentheses (a tuple) rather than brackets.
  bool isTuple = false;

  int64_t intValue = 0;    ///< Integer, Bool (0/1)
  double floatValue = 0;   ///< Integer and Float
  std::string stringValue; ///< String
  /// Unary and Binary: the operator (`-`, `//`, `**`, ...).
  std::string op;
  /// Unary and Binary: height of the operator tree, which the parser bounds.
  /// List values: nesting depth, which the evaluator bounds.
  unsigned height = 1;
  /// ModuleRef: the module; `fromCall` when it was made by a call here
  /// rather than named.
  std::shared_ptr<Module> module;
  bool fromCall = false;

  /// `nn.Linear` for a Name or Call.
  std::string dottedName() const;
  /// A short description of the expression for messages, with its article:
  /// "an integer", "a call of 'nn.ReLU'", "True".
  std::string describe() const;
  /// A deep copy; \p nodes counts the nodes copied.
  ExprPtr clone(uint64_t &nodes) const;
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
