//===- AST.cpp - Syntax tree of .nn files ---------------------------------===//

#include "frontend/AST.h"

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
    return "name '" + dottedName() + "'";
  case Kind::Call:
    return "call of '" + dottedName() + "'";
  case Kind::Integer:
    return "integer";
  case Kind::Float:
    return "number";
  case Kind::String:
    return "string";
  case Kind::Bool:
    return intValue ? "True" : "False";
  case Kind::None:
    return "None";
  case Kind::List:
    return isTuple ? "tuple" : "list";
  }
  return "expression";
}

} // namespace seqc::frontend
