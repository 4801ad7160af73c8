//===- Arithmetic.h - Python's int and float arithmetic ---------*- C++ -*-===//
//
// Part of seqc. The operators of .nn expressions (`+ - * / // % **` and
// unary minus) on ints and floats, with Python's semantics: `//` floors
// toward minus infinity, `%` takes the sign of the divisor, `/` always gives
// a float and an int raised to a negative power gives a float. Python's ints
// never overflow; seqc's are int64, and an overflow is an error rather than a
// wrong value.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_FRONTEND_ARITHMETIC_H
#define SEQC_FRONTEND_ARITHMETIC_H

#include <cstdint>
#include <string>
#include <string_view>

namespace seqc::frontend {

/// An int or a float value.
struct Number {
  bool isInt = true;
  int64_t intValue = 0;
  double floatValue = 0.0; ///< the value as a float, for ints too

  static Number ofInt(int64_t value) {
    return {true, value, static_cast<double>(value)};
  }
  static Number ofFloat(double value) { return {false, 0, value}; }
};

/// The result of an operation: a number, or the error Python would raise
/// (`integer division or modulo by zero`, or seqc's int64 overflow).
struct ArithResult {
  Number value;
  std::string error; ///< empty on success
  bool ok() const { return error.empty(); }
};

/// Applies the binary operator \p op ("+", "-", "*", "/", "//", "%", "**").
ArithResult applyBinary(std::string_view op, Number lhs, Number rhs);

/// Unary minus.
ArithResult negate(Number value);

} // namespace seqc::frontend

#endif // SEQC_FRONTEND_ARITHMETIC_H
