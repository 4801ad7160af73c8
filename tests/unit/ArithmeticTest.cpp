//===- ArithmeticTest.cpp - Python int and float arithmetic ---------------===//
//
// The expected values are what CPython 3 prints for the same expressions.
//
//===----------------------------------------------------------------------===//

#include "frontend/Arithmetic.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>

using namespace seqc::frontend;

namespace {

Number I(int64_t v) { return Number::ofInt(v); }
Number F(double v) { return Number::ofFloat(v); }

int64_t intOf(std::string_view op, Number a, Number b) {
  ArithResult r = applyBinary(op, a, b);
  REQUIRE(r.ok());
  REQUIRE(r.value.isInt);
  return r.value.intValue;
}

double floatOf(std::string_view op, Number a, Number b) {
  ArithResult r = applyBinary(op, a, b);
  REQUIRE(r.ok());
  REQUIRE(!r.value.isInt);
  return r.value.floatValue;
}

std::string errorOf(std::string_view op, Number a, Number b) {
  ArithResult r = applyBinary(op, a, b);
  REQUIRE(!r.ok());
  return r.error;
}

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

} // namespace

TEST_CASE("arithmetic: // floors toward minus infinity, % takes the divisor's "
          "sign") {
  CHECK(intOf("//", I(7), I(2)) == 3);
  CHECK(intOf("//", I(-7), I(2)) == -4);
  CHECK(intOf("//", I(7), I(-2)) == -4);
  CHECK(intOf("//", I(-7), I(-2)) == 3);
  CHECK(intOf("%", I(7), I(3)) == 1);
  CHECK(intOf("%", I(-7), I(3)) == 2);
  CHECK(intOf("%", I(7), I(-3)) == -2);
  CHECK(intOf("%", I(-7), I(-3)) == -1);
  CHECK(intOf("%", I(-6), I(3)) == 0);
  CHECK(intOf("//", I(kMin), I(1)) == kMin);
  CHECK(intOf("%", I(kMin), I(-1)) == 0);
  CHECK(floatOf("//", F(5.5), I(2)) == 2.0);
  CHECK(floatOf("//", F(-5.5), I(2)) == -3.0);
  CHECK(floatOf("%", F(-5.5), I(2)) == 0.5);
  CHECK(floatOf("%", F(5.5), F(-2)) == -0.5);
  // -0.0 // 1 is -0.0 and 6.0 % -3 is -0.0 in Python.
  CHECK(std::signbit(floatOf("//", F(-0.0), I(1))));
  CHECK(std::signbit(floatOf("%", F(6.0), I(-3))));
}

TEST_CASE("arithmetic: / always gives a float") {
  CHECK(floatOf("/", I(7), I(2)) == 3.5);
  CHECK(floatOf("/", I(6), I(3)) == 2.0);
  CHECK(floatOf("/", I(-1), I(4)) == -0.25);
}

TEST_CASE("arithmetic: ** on ints is exact, a negative exponent gives a "
          "float") {
  CHECK(intOf("**", I(2), I(10)) == 1024);
  CHECK(intOf("**", I(-3), I(3)) == -27);
  CHECK(intOf("**", I(7), I(0)) == 1);
  CHECK(intOf("**", I(0), I(0)) == 1);
  CHECK(intOf("**", I(2), I(62)) == (int64_t{1} << 62));
  CHECK(intOf("**", I(-2), I(63)) == kMin);
  CHECK(intOf("**", I(1), I(kMax)) == 1);
  CHECK(intOf("**", I(-1), I(kMax)) == -1);
  CHECK(floatOf("**", I(2), I(-1)) == 0.5);
  CHECK(floatOf("**", I(-2), I(-2)) == 0.25);
  CHECK(floatOf("**", F(2.0), I(3)) == 8.0);
  CHECK(floatOf("**", I(4), F(0.5)) == 2.0);
}

TEST_CASE("arithmetic: int64 overflow is an error, not a wrapped value") {
  CHECK(errorOf("+", I(kMax), I(1)).find("integer overflow") == 0);
  CHECK(errorOf("-", I(kMin), I(1)).find("integer overflow") == 0);
  CHECK(errorOf("*", I(kMax / 2 + 1), I(2)).find("integer overflow") == 0);
  CHECK(errorOf("**", I(2), I(63)).find("integer overflow") == 0);
  CHECK(errorOf("**", I(10), I(19)).find("integer overflow") == 0);
  CHECK(errorOf("//", I(kMin), I(-1)).find("integer overflow") == 0);
  CHECK(!negate(I(kMin)).ok());
  CHECK(negate(I(kMax)).value.intValue == -kMax);
  CHECK(intOf("+", I(kMax - 1), I(1)) == kMax);
  CHECK(intOf("*", I(-(int64_t{1} << 31)), I(int64_t{1} << 32)) == kMin);
}

TEST_CASE("arithmetic: division by zero gives Python's message") {
  CHECK(errorOf("/", I(1), I(0)) == "division by zero");
  CHECK(errorOf("//", I(1), I(0)) == "integer division or modulo by zero");
  CHECK(errorOf("%", I(1), I(0)) == "integer division or modulo by zero");
  CHECK(errorOf("/", F(1.0), I(0)) == "float division by zero");
  CHECK(errorOf("//", F(1.0), F(0.0)) == "float floor division by zero");
  CHECK(errorOf("%", I(1), F(0.0)) == "float modulo by zero");
  CHECK(errorOf("**", I(0), I(-1)) ==
        "0.0 cannot be raised to a negative power");
  CHECK(errorOf("**", F(0.0), F(-0.5)) ==
        "0.0 cannot be raised to a negative power");
}

TEST_CASE("arithmetic: float ** that would be complex or overflow is an "
          "error") {
  CHECK(errorOf("**", F(-8.0), F(1.0 / 3)).find("complex") !=
        std::string::npos);
  CHECK(errorOf("**", F(10.0), I(400)) == "float overflow in '**'");
  CHECK(floatOf("**", F(-2.0), F(2.0)) == 4.0);
}

TEST_CASE("arithmetic: mixed int and float promote to float") {
  CHECK(floatOf("+", I(1), F(0.5)) == 1.5);
  CHECK(floatOf("*", F(0.5), I(4)) == 2.0);
  CHECK(floatOf("-", I(3), F(3.0)) == 0.0);
  CHECK(intOf("-", I(3), I(5)) == -2);
}
