//===- AST.cpp - Syntax tree of .nn files ---------------------------------===//

#include "frontend/AST.h"

#include <fmt/format.h>

namespace seqc::frontend {

std::string Expr::dottedName() const {
  std::string out;
  for (const std::string &part : dotted) {
    if (!out.empty())
      out += '.';
    out += part;
  }
  return out;
}

std::string Expr::describe() const {
  switch (kind) {
  case Kind::Name:
    return "the name '" + dottedName() + "'";
  case Kind::Call:
    return "a call of '" + dottedName() + "'";
  case Kind::Integer:
    return "an integer";
  case Kind::Float:
    return "a float";
  case Kind::String:
    return "a string";
  case Kind::Bool:
    return intValue ? "True" : "False";
  case Kind::None:
    return "None";
  case Kind::List:
    return isTuple ? "a tuple" : "a list";
  case Kind::Unary:
  case Kind::Binary:
    return fmt::format("an expression with '{}'", op);
  case Kind::Starred:
    return "a '*' splat";
  case Kind::ListComp:
    return "a list comprehension";
  case Kind::ModuleRef:
    return (fromCall ? "a call of '" : "the name '") + dottedName() + "'";
  }
  return "an expression";
}

ExprPtr Expr::clone(uint64_t &nodes) const {
  ++nodes;
  auto copy = std::make_unique<Expr>();
  copy->kind = kind;
  copy->loc = loc;
  copy->length = length;
  copy->dotted = dotted;
  copy->args.reserve(args.size());
  for (const ExprPtr &arg : args)
    copy->args.push_back(arg->clone(nodes));
  for (const KeywordArg &keyword : keywords)
    copy->keywords.push_back(
        {keyword.name, keyword.nameLoc, keyword.value->clone(nodes)});
  copy->isTuple = isTuple;
  copy->intValue = intValue;
  copy->floatValue = floatValue;
  copy->stringValue = stringValue;
  copy->op = op;
  copy->height = height;
  copy->module = module;
  copy->fromCall = fromCall;
  return copy;
}

} // namespace seqc::frontend
