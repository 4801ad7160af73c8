//===- Arithmetic.cpp - Python's int and float arithmetic -----------------===//

#include "frontend/Arithmetic.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace seqc::frontend {

namespace {

ArithResult fail(std::string message) { return {Number{}, std::move(message)}; }

ArithResult overflow(std::string_view op) {
  return fail(fmt::format("integer overflow: the result of '{}' does not fit "
                          "a 64-bit integer",
                          op));
}

ArithResult ofInt(int64_t value) { return {Number::ofInt(value), {}}; }
ArithResult ofFloat(double value) { return {Number::ofFloat(value), {}}; }

/// `base ** exponent` for exponent >= 0 by repeated squaring; every product
/// is checked, so the loop also ends early on overflow.
ArithResult intPower(int64_t base, int64_t exponent) {
  int64_t result = 1;
  while (exponent > 0) {
    if ((exponent & 1) && __builtin_mul_overflow(result, base, &result))
      return overflow("**");
    exponent >>= 1;
    if (exponent > 0 && __builtin_mul_overflow(base, base, &base))
      return overflow("**");
  }
  return ofInt(result);
}

ArithResult intBinary(std::string_view op, int64_t a, int64_t b) {
  int64_t result = 0;
  if (op == "+")
    return __builtin_add_overflow(a, b, &result) ? overflow(op) : ofInt(result);
  if (op == "-")
    return __builtin_sub_overflow(a, b, &result) ? overflow(op) : ofInt(result);
  if (op == "*")
    return __builtin_mul_overflow(a, b, &result) ? overflow(op) : ofInt(result);
  if (op == "/") {
    if (b == 0)
      return fail("division by zero");
    return ofFloat(static_cast<double>(a) / static_cast<double>(b));
  }
  if (op == "//" || op == "%") {
    if (b == 0)
      return fail("integer division or modulo by zero");
    // C++ truncates toward zero; Python floors, so a remainder whose sign
    // differs from the divisor's moves one step. b == -1 is special-cased:
    // INT64_MIN / -1 overflows (and INT64_MIN % -1 is undefined in C++).
    if (b == -1)
      return op == "%" ? ofInt(0) : negate(Number::ofInt(a));
    int64_t quotient = a / b, remainder = a % b;
    if (remainder != 0 && ((remainder < 0) != (b < 0))) {
      quotient -= 1;
      remainder += b;
    }
    return ofInt(op == "//" ? quotient : remainder);
  }
  // "**": a negative exponent gives a float, as in Python.
  if (b >= 0)
    return intPower(a, b);
  if (a == 0)
    return fail("0.0 cannot be raised to a negative power");
  return ofFloat(std::pow(static_cast<double>(a), static_cast<double>(b)));
}

/// Python's float divmod (Objects/floatobject.c): the quotient floored and
/// the remainder with the divisor's sign, exact where fmod is.
void floatDivmod(double a, double b, double &floorDiv, double &mod) {
  mod = std::fmod(a, b);
  double div = (a - mod) / b;
  if (mod != 0.0) {
    if ((b < 0) != (mod < 0)) {
      mod += b;
      div -= 1.0;
    }
  } else {
    mod = std::copysign(0.0, b);
  }
  if (div != 0.0) {
    floorDiv = std::floor(div);
    if (div - floorDiv > 0.5)
      floorDiv += 1.0;
  } else {
    floorDiv = std::copysign(0.0, a / b);
  }
}

ArithResult floatPower(double a, double b) {
  if (a == 0.0 && b < 0.0)
    return fail("0.0 cannot be raised to a negative power");
  if (a < 0.0 && std::isfinite(b) && b != std::floor(b))
    return fail("a negative number raised to a fractional power is a complex "
                "number");
  double result = std::pow(a, b);
  if (std::isinf(result) && std::isfinite(a) && std::isfinite(b))
    return fail("float overflow in '**'");
  return ofFloat(result);
}

ArithResult floatBinary(std::string_view op, double a, double b) {
  if (op == "+")
    return ofFloat(a + b);
  if (op == "-")
    return ofFloat(a - b);
  if (op == "*")
    return ofFloat(a * b);
  if (op == "/")
    return b == 0.0 ? fail("float division by zero") : ofFloat(a / b);
  if (op == "//" || op == "%") {
    if (b == 0.0)
      return fail(op == "//" ? "float floor division by zero"
                             : "float modulo by zero");
    double floorDiv = 0.0, mod = 0.0;
    floatDivmod(a, b, floorDiv, mod);
    return ofFloat(op == "//" ? floorDiv : mod);
  }
  return floatPower(a, b);
}

} // namespace

ArithResult applyBinary(std::string_view op, Number lhs, Number rhs) {
  if (lhs.isInt && rhs.isInt)
    return intBinary(op, lhs.intValue, rhs.intValue);
  return floatBinary(op, lhs.floatValue, rhs.floatValue);
}

ArithResult negate(Number value) {
  if (!value.isInt)
    return ofFloat(-value.floatValue);
  if (value.intValue == std::numeric_limits<int64_t>::min())
    return overflow("-");
  return ofInt(-value.intValue);
}

} // namespace seqc::frontend
