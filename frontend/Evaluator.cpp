//===- Evaluator.cpp - Evaluating .nn expressions into values -------------===//

#include "frontend/Evaluator.h"

#include "frontend/Arithmetic.h"

#include "compiler/support/Limits.h"

#include <fmt/format.h>

#include <algorithm>

namespace seqc::frontend {

namespace {

bool isNumber(const Expr &value) {
  return value.kind == Expr::Kind::Integer || value.kind == Expr::Kind::Float;
}

Number toNumber(const Expr &value) {
  return value.kind == Expr::Kind::Integer ? Number::ofInt(value.intValue)
                                           : Number::ofFloat(value.floatValue);
}

/// A number value at the location of \p where.
ExprPtr makeNumber(const Number &number, const Expr &where) {
  auto value = std::make_unique<Expr>();
  value->kind = number.isInt ? Expr::Kind::Integer : Expr::Kind::Float;
  value->loc = where.loc;
  value->length = where.length;
  value->intValue = number.intValue;
  value->floatValue = number.floatValue;
  return value;
}

/// The kind of a value for operator messages: "an integer", "a list", ...
std::string operandName(const Expr &value) {
  if (value.kind == Expr::Kind::ModuleRef)
    return "a layer";
  return value.describe();
}

} // namespace

bool Evaluator::fail(const Expr &expr, std::string_view message) {
  diag.error(expr.loc, message, expr.length);
  return false;
}

/// Counts \p nodes evaluation steps; fails at \p where past the limit.
bool Evaluator::charge(uint64_t nodes, const Expr &where) {
  steps += nodes;
  if (steps <= limits::kMaxEvalSteps)
    return true;
  return fail(where, fmt::format("evaluating the file takes more than the "
                                 "limit of {} steps (a list repeated or a "
                                 "comprehension run too many times?)",
                                 limits::kMaxEvalSteps));
}

void Evaluator::bind(const std::string &name, ExprPtr value) {
  globals[name] = std::move(value);
}

const Expr *Evaluator::lookup(std::string_view name) const {
  auto it = globals.find(name);
  return it == globals.end() ? nullptr : it->second.get();
}

/// A copy of a bound value for one use of its name: the copy is located at
/// the use, so a message about the value points where it is used.
ExprPtr Evaluator::copyValue(const Expr &value, const Expr &use) {
  uint64_t nodes = 0;
  ExprPtr copy = value.clone(nodes);
  if (!charge(nodes, use))
    return nullptr;
  copy->loc = use.loc;
  copy->length = use.length;
  if (copy->kind == Expr::Kind::ModuleRef && use.kind == Expr::Kind::Name) {
    copy->dotted = use.dotted;
    copy->fromCall = false;
  }
  return copy;
}

ExprPtr Evaluator::evalName(const Expr &name) {
  // `torch.float32`, `nn.ReLU`: attributes of modules the file imports,
  // read by the caller where they are allowed.
  uint64_t nodes = 0;
  if (name.dotted.size() != 1)
    return name.clone(nodes);
  const std::string &id = name.dotted.front();
  for (auto it = locals.rbegin(); it != locals.rend(); ++it)
    if (it->first == id)
      return copyValue(*it->second, name);
  if (const Expr *value = lookup(id))
    return copyValue(*value, name);
  if (isClassName(id))
    return name.clone(nodes);
  fail(name, fmt::format("unknown name '{}': names must be defined before "
                         "they are used",
                         id));
  return nullptr;
}

ExprPtr Evaluator::evalUnary(const Expr &unary) {
  const Expr &source = *unary.args.front();
  ExprPtr operand = evaluate(source);
  if (!operand)
    return nullptr;
  if (!isNumber(*operand)) {
    const Expr &shown = source.kind == Expr::Kind::Name ? *operand : source;
    diag.error(unary.loc,
               fmt::format("unary '{}' applies to numbers only, not to {}",
                           unary.op, shown.describe()),
               1);
    return nullptr;
  }
  if (unary.op == "+")
    return makeNumber(toNumber(*operand), unary);
  ArithResult result = negate(toNumber(*operand));
  if (!result.ok()) {
    fail(unary, result.error);
    return nullptr;
  }
  return makeNumber(result.value, unary);
}

ExprPtr Evaluator::evalBinary(const Expr &binary) {
  ExprPtr lhs = evaluate(*binary.args[0]);
  if (!lhs)
    return nullptr;
  ExprPtr rhs = evaluate(*binary.args[1]);
  if (!rhs)
    return nullptr;
  if (isNumber(*lhs) && isNumber(*rhs)) {
    ArithResult result = applyBinary(binary.op, toNumber(*lhs), toNumber(*rhs));
    if (!result.ok()) {
      fail(binary, result.error);
      return nullptr;
    }
    return makeNumber(result.value, binary);
  }
  return evalListOperator(binary, std::move(lhs), std::move(rhs));
}

/// `list + list` concatenates, `list * int` and `int * list` repeat. The
/// elements are values, so a repeated layer is the same module each time,
/// as in Python (`[nn.Linear(4, 4)] * 3` shares one Linear).
ExprPtr Evaluator::evalListOperator(const Expr &binary, ExprPtr lhs,
                                    ExprPtr rhs) {
  bool lhsList = lhs->kind == Expr::Kind::List;
  bool rhsList = rhs->kind == Expr::Kind::List;
  if (binary.op == "+" && lhsList && rhsList && lhs->isTuple == rhs->isTuple) {
    for (ExprPtr &element : rhs->args)
      lhs->args.push_back(std::move(element));
    return makeList(binary, lhs->isTuple, std::move(lhs->args));
  }
  if (binary.op == "*" && lhsList != rhsList) {
    ExprPtr &list = lhsList ? lhs : rhs;
    const Expr &count = lhsList ? *rhs : *lhs;
    if (count.kind != Expr::Kind::Integer) {
      fail(binary, fmt::format("a list can only be repeated an integer number "
                               "of times, not {}",
                               count.describe()));
      return nullptr;
    }
    uint64_t times = count.intValue > 0 ? count.intValue : 0;
    uint64_t size = list->args.size();
    if (size != 0 && times > limits::kMaxLiteralElements / size) {
      fail(binary, fmt::format("the repeated list has {} x {} elements, more "
                               "than the limit of {}",
                               size, times, limits::kMaxLiteralElements));
      return nullptr;
    }
    std::vector<ExprPtr> elements;
    elements.reserve(size * times);
    for (uint64_t i = 0; i < times; ++i)
      for (const ExprPtr &element : list->args)
        if (ExprPtr copy = copyValue(*element, *element))
          elements.push_back(std::move(copy));
        else
          return nullptr;
    return makeList(binary, list->isTuple, std::move(elements));
  }
  fail(binary, fmt::format("unsupported operand types for '{}': {} and {}",
                           binary.op, operandName(*lhs), operandName(*rhs)));
  return nullptr;
}

ExprPtr Evaluator::makeList(const Expr &where, bool isTuple,
                            std::vector<ExprPtr> elements) {
  auto list = std::make_unique<Expr>();
  list->kind = Expr::Kind::List;
  list->loc = where.loc;
  list->length = where.length;
  list->isTuple = isTuple;
  for (const ExprPtr &element : elements)
    if (element->kind == Expr::Kind::List)
      list->height = std::max(list->height, element->height + 1);
  if (list->height > limits::kMaxNestingDepth) {
    fail(where, fmt::format("lists nest deeper than the limit of {} levels",
                            limits::kMaxNestingDepth));
    return nullptr;
  }
  if (elements.size() > limits::kMaxLiteralElements) {
    fail(where, fmt::format("the list has {} elements, more than the limit of "
                            "{}",
                            elements.size(), limits::kMaxLiteralElements));
    return nullptr;
  }
  list->args = std::move(elements);
  return list;
}

bool Evaluator::appendElement(const Expr &element, std::vector<ExprPtr> &out) {
  if (element.kind != Expr::Kind::Starred) {
    ExprPtr value = evaluate(element);
    if (!value)
      return false;
    out.push_back(std::move(value));
    return true;
  }
  ExprPtr spread = evaluate(*element.args.front());
  if (!spread)
    return false;
  if (spread->kind != Expr::Kind::List)
    return fail(element, fmt::format("'*' spreads a list or tuple, not {}",
                                     operandName(*spread)));
  if (out.size() + spread->args.size() > limits::kMaxLiteralElements)
    return fail(element, fmt::format("more than the limit of {} elements",
                                     limits::kMaxLiteralElements));
  for (ExprPtr &value : spread->args)
    out.push_back(std::move(value));
  return true;
}

ExprPtr Evaluator::evalList(const Expr &list) {
  std::vector<ExprPtr> elements;
  elements.reserve(list.args.size());
  for (const ExprPtr &element : list.args)
    if (!appendElement(*element, elements))
      return nullptr;
  return makeList(list, list.isTuple, std::move(elements));
}

/// Reads `range(stop)`, `range(start, stop)` or `range(start, stop, step)`
/// with int arguments, and the number of values it yields.
bool Evaluator::evalRange(const Expr &iterable, int64_t &start, int64_t &step,
                          uint64_t &count) {
  if (iterable.kind != Expr::Kind::Call || iterable.dotted.size() != 1 ||
      iterable.dotted.front() != "range")
    return fail(iterable, fmt::format("a list comprehension iterates over "
                                      "range(...), not {}",
                                      iterable.describe()));
  if (!iterable.keywords.empty() || iterable.args.empty() ||
      iterable.args.size() > 3)
    return fail(iterable, "range() takes 1 to 3 integer arguments");
  int64_t bounds[3] = {0, 0, 1};
  size_t first = iterable.args.size() == 1 ? 1 : 0;
  for (size_t i = 0; i < iterable.args.size(); ++i) {
    ExprPtr value = evaluate(*iterable.args[i]);
    if (!value)
      return false;
    if (value->kind != Expr::Kind::Integer)
      return fail(*value, fmt::format("range() arguments must be integers, "
                                      "not {}",
                                      value->describe()));
    bounds[first + i] = value->intValue;
  }
  start = bounds[0];
  step = bounds[2];
  if (step == 0)
    return fail(*iterable.args[2], "range() step must not be zero");
  // Exact in 128 bits: the span of two int64 values can exceed int64.
  __int128 span = step > 0 ? static_cast<__int128>(bounds[1]) - start
                           : static_cast<__int128>(start) - bounds[1];
  __int128 stride = step > 0 ? step : -static_cast<__int128>(step);
  __int128 n = span <= 0 ? 0 : (span + stride - 1) / stride;
  if (n > static_cast<__int128>(limits::kMaxLiteralElements))
    return fail(iterable,
                fmt::format("range() of {} values is longer than the limit of "
                            "{} elements of a list",
                            static_cast<uint64_t>(n),
                            limits::kMaxLiteralElements));
  count = static_cast<uint64_t>(n);
  return true;
}

/// `[element for name in range(...)]`: the element is evaluated once per
/// value with the name bound to it, so each layer call in it makes a new
/// module.
ExprPtr Evaluator::evalComprehension(const Expr &comp) {
  int64_t start = 0, step = 1;
  uint64_t count = 0;
  if (!evalRange(*comp.args[1], start, step, count))
    return nullptr;
  std::vector<ExprPtr> elements;
  elements.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    // start + i * step stays between start and stop, so it fits int64.
    auto index = std::make_unique<Expr>();
    index->kind = Expr::Kind::Integer;
    index->intValue = static_cast<int64_t>(
        start + static_cast<__int128>(i) * static_cast<__int128>(step));
    index->floatValue = static_cast<double>(index->intValue);
    locals.emplace_back(comp.dotted.front(), std::move(index));
    ExprPtr element = evaluate(*comp.args[0]);
    locals.pop_back();
    if (!element)
      return nullptr;
    elements.push_back(std::move(element));
  }
  return makeList(comp, false, std::move(elements));
}

ExprPtr Evaluator::evalCall(const Expr &call, bool invoke) {
  if (invoke && call.dotted.size() == 1 && call.dotted.front() == "range") {
    fail(call, "range() is only part of the .nn language in a list "
               "comprehension: [... for i in range(n)]");
    return nullptr;
  }
  auto result = std::make_unique<Expr>();
  result->kind = Expr::Kind::Call;
  result->loc = call.loc;
  result->length = call.length;
  result->dotted = call.dotted;
  for (const ExprPtr &arg : call.args)
    if (!appendElement(*arg, result->args))
      return nullptr;
  for (const KeywordArg &keyword : call.keywords) {
    ExprPtr value = evaluate(*keyword.value);
    if (!value)
      return nullptr;
    result->keywords.push_back(
        {keyword.name, keyword.nameLoc, std::move(value)});
  }
  if (!invoke)
    return result;
  if (++calls > limits::kMaxLayerCalls) {
    fail(call, fmt::format("the file makes more than the limit of {} layers",
                           limits::kMaxLayerCalls));
    return nullptr;
  }
  return handleCall(std::move(result));
}

ExprPtr Evaluator::evaluateArguments(const Expr &call) {
  return evalCall(call, /*invoke=*/false);
}

ExprPtr Evaluator::evaluate(const Expr &expr) {
  // Evaluating the source once is bounded by the file's size; what can
  // grow past it, and is counted, is evaluating it again in a comprehension
  // and copying values (copyValue).
  if (!locals.empty() && !charge(1, expr))
    return nullptr;
  uint64_t nodes = 0;
  switch (expr.kind) {
  case Expr::Kind::Name:
    return evalName(expr);
  case Expr::Kind::Call:
    return evalCall(expr, /*invoke=*/true);
  case Expr::Kind::List:
    return evalList(expr);
  case Expr::Kind::Unary:
    return evalUnary(expr);
  case Expr::Kind::Binary:
    return evalBinary(expr);
  case Expr::Kind::ListComp:
    return evalComprehension(expr);
  case Expr::Kind::Starred:
    fail(expr, "a '*' splat is only allowed in call arguments and lists");
    return nullptr;
  case Expr::Kind::Integer:
  case Expr::Kind::Float:
  case Expr::Kind::String:
  case Expr::Kind::Bool:
  case Expr::Kind::None:
  case Expr::Kind::ModuleRef:
    return expr.clone(nodes);
  }
  return nullptr;
}

} // namespace seqc::frontend
