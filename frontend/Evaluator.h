//===- Evaluator.h - Evaluating .nn expressions into values -----*- C++ -*-===//
//
// Part of seqc. Runs the Python expressions of a .nn file the way Python
// would, but only the safe subset the language has: names bound by earlier
// statements, int and float arithmetic, lists with `+`, `*` and `*` splats,
// and list comprehensions over range(). A value is an Expr of a literal
// kind (Integer, Float, String, Bool, None), a List of values, or a
// ModuleRef; layer calls are handed to the caller (Sema), which makes the
// module, so each evaluation of a call is a new module, as in Python.
//
// Hostile input cannot make evaluation unbounded: lists and ranges are
// limited to limits::kMaxLiteralElements elements, the nodes evaluated in
// comprehensions and copied (list repeats, uses of names) to
// limits::kMaxEvalSteps, the layer calls to limits::kMaxLayerCalls and the
// nesting of list values to limits::kMaxNestingDepth.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_FRONTEND_EVALUATOR_H
#define SEQC_FRONTEND_EVALUATOR_H

#include "frontend/AST.h"

#include "compiler/support/Diagnostics.h"

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace seqc::frontend {

class Evaluator {
public:
  /// Given a call whose arguments are values, returns its value: a
  /// ModuleRef for a layer call, the call itself for calls the caller reads
  /// later (OrderedDict, torch.device), or nullptr after reporting.
  using CallHandler = std::function<ExprPtr(ExprPtr call)>;
  /// True for names that mean a class without being bound (`ReLU`), which
  /// are left for the caller to report in context.
  using ClassNamePredicate = std::function<bool(std::string_view name)>;

  Evaluator(DiagnosticEngine &diag, CallHandler handleCall,
            ClassNamePredicate isClassName)
      : diag(diag), handleCall(std::move(handleCall)),
        isClassName(std::move(isClassName)) {}

  /// The value of \p expr, or nullptr after reporting an error.
  ExprPtr evaluate(const Expr &expr);
  /// \p call with its arguments evaluated, without calling it (for
  /// statements such as `Net.load_state_dict(path)`).
  ExprPtr evaluateArguments(const Expr &call);

  /// Binds a module-level name to a value.
  void bind(const std::string &name, ExprPtr value);
  /// The value bound to \p name, or nullptr.
  const Expr *lookup(std::string_view name) const;

private:
  bool fail(const Expr &expr, std::string_view message);
  bool charge(uint64_t nodes, const Expr &where);
  ExprPtr copyValue(const Expr &value, const Expr &use);
  ExprPtr evalName(const Expr &name);
  ExprPtr evalUnary(const Expr &unary);
  ExprPtr evalBinary(const Expr &binary);
  ExprPtr evalListOperator(const Expr &binary, ExprPtr lhs, ExprPtr rhs);
  ExprPtr evalList(const Expr &list);
  ExprPtr evalComprehension(const Expr &comp);
  bool evalRange(const Expr &iterable, int64_t &start, int64_t &step,
                 uint64_t &count);
  ExprPtr evalCall(const Expr &call, bool invoke);
  /// Appends the value of \p element to \p out, spreading a `*` splat.
  bool appendElement(const Expr &element, std::vector<ExprPtr> &out);
  ExprPtr makeList(const Expr &where, bool isTuple,
                   std::vector<ExprPtr> elements);

  DiagnosticEngine &diag;
  CallHandler handleCall;
  ClassNamePredicate isClassName;
  std::map<std::string, ExprPtr, std::less<>> globals;
  /// Comprehension variables, innermost last.
  std::vector<std::pair<std::string, ExprPtr>> locals;
  uint64_t steps = 0;
  uint64_t calls = 0;
};

} // namespace seqc::frontend

#endif // SEQC_FRONTEND_EVALUATOR_H
