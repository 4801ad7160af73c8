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
  }
  return "an expression";
}

} // namespace seqc::frontend
