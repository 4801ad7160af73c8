//===- npycompare.cpp - Compare two .npy arrays within a tolerance --------===//
//
// Part of seqc's tests. Usage:
//
//   npycompare ACTUAL.npy EXPECTED.npy [--tol T]
//
// Exits 0 when the shapes match and every element satisfies
// |actual - expected| <= T * max(1, max |expected|), the maximum taken over
// the finite expected values (T defaults to 1e-6). A NaN must meet a NaN and
// an infinity the same infinity. Otherwise prints the worst element and
// exits 1. Usage mistakes and unreadable files exit 2. Both files are read at
// float64 precision, so float64 goldens are compared exactly as written.
//
//===----------------------------------------------------------------------===//

#include "compiler/support/Diagnostics.h"
#include "compiler/support/SourceManager.h"
#include "frontend/Npy.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

using namespace seqc;

static int usage() {
  std::fputs("usage: npycompare ACTUAL.npy EXPECTED.npy [--tol T]\n", stderr);
  return 2;
}

/// The error between two elements: 0 when they match, infinity when a
/// non-finite value is not matched exactly.
static double elementError(double actual, double expected) {
  if (std::isnan(expected) || std::isnan(actual))
    return std::isnan(expected) && std::isnan(actual)
               ? 0.0
               : std::numeric_limits<double>::infinity();
  if (std::isinf(expected) || std::isinf(actual))
    return actual == expected ? 0.0 : std::numeric_limits<double>::infinity();
  return std::fabs(actual - expected);
}

int main(int argc, char **argv) {
  std::string paths[2];
  int numPaths = 0;
  double tol = 1e-6;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--tol") {
      if (i + 1 >= argc)
        return usage();
      std::string_view value = argv[++i];
      auto result =
          std::from_chars(value.data(), value.data() + value.size(), tol);
      if (result.ec != std::errc() ||
          result.ptr != value.data() + value.size() || !(tol >= 0) ||
          std::isinf(tol)) {
        fmt::print(stderr, "npycompare: error: bad tolerance '{}'\n", value);
        return 2;
      }
    } else if (numPaths < 2 && !arg.empty() && arg[0] != '-') {
      paths[numPaths++] = std::string(arg);
    } else {
      return usage();
    }
  }
  if (numPaths != 2)
    return usage();

  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  std::optional<NpyArray> actual = readNpyDouble(paths[0], diag);
  std::optional<NpyArray> expected = readNpyDouble(paths[1], diag);
  if (!actual || !expected)
    return 2;

  if (actual->shape != expected->shape) {
    fmt::print("npycompare: shape mismatch: {} is {} but {} is {}\n", paths[0],
               Tensor::shapeString(actual->shape), paths[1],
               Tensor::shapeString(expected->shape));
    return 1;
  }

  double scale = 1.0;
  for (double e : expected->data)
    if (std::isfinite(e))
      scale = std::max(scale, std::fabs(e));
  double bound = tol * scale;

  size_t worst = 0;
  double worstError = -1.0;
  size_t failures = 0;
  for (size_t i = 0; i < expected->data.size(); ++i) {
    double error = elementError(actual->data[i], expected->data[i]);
    if (error > bound)
      ++failures;
    if (error > worstError) {
      worstError = error;
      worst = i;
    }
  }
  if (failures == 0) {
    fmt::print("npycompare: {} elements match (max error {:.3g}, bound "
               "{:.3g})\n",
               expected->data.size(), std::max(worstError, 0.0), bound);
    return 0;
  }
  int64_t cols = expected->shape[1];
  fmt::print("npycompare: {} of {} elements differ by more than {:.3g} (tol "
             "{:.3g} x scale {:.6g})\n"
             "worst at [{}, {}]: actual {:.9g}, expected {:.17g}, error "
             "{:.3g}\n",
             failures, expected->data.size(), bound, tol, scale,
             int64_t(worst) / cols, int64_t(worst) % cols, actual->data[worst],
             expected->data[worst], worstError);
  return 1;
}
