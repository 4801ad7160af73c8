//===- ReferenceCheck.cpp - Timed outputs against the float64 oracle ------===//

#include "compiler/bench/ReferenceCheck.h"

#include "compiler/reference/Interpreter.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace seqc::bench {

namespace {

/// |got - want|: 0 where both are NaN or equal (the same infinity), and
/// infinite where only one is NaN, since a NaN where the other is a number
/// is an error.
double absError(double want, double got) {
  double error = std::isnan(want) && std::isnan(got) ? 0.0
                 : want == got                       ? 0.0
                                                     : std::abs(got - want);
  return std::isnan(error) ? INFINITY : error;
}

} // namespace

std::vector<uint64_t> checkedRows(uint64_t batch) {
  std::vector<uint64_t> rows;
  for (uint64_t r = 0; r < batch; ++r) {
    if (r < kCheckRowsEachEnd || r + kCheckRowsEachEnd >= batch)
      rows.push_back(r);
    else
      r = batch - kCheckRowsEachEnd - 1;
  }
  return rows;
}

ReferenceError checkAgainstReference(const ir::Model &model, const float *input,
                                     const float *output, uint64_t batch,
                                     codegen::Precision precision) {
  int64_t inFeatures = model.inputType().features();
  int64_t outFeatures = model.outputType().features();
  std::vector<uint64_t> rows = checkedRows(batch);
  reference::Matrix x(static_cast<int64_t>(rows.size()), inFeatures);
  for (size_t i = 0; i < rows.size(); ++i)
    for (int64_t c = 0; c < inFeatures; ++c)
      x.at(int64_t(i), c) = input[rows[i] * inFeatures + c];
  reference::Matrix y = reference::run(model, x, nullptr, precision);
  double maxError = 0.0, maxRef = 0.0;
  for (size_t i = 0; i < rows.size(); ++i)
    for (int64_t c = 0; c < outFeatures; ++c) {
      double want = y.at(int64_t(i), c);
      maxError =
          std::max(maxError, absError(want, output[rows[i] * outFeatures + c]));
      if (std::isfinite(want))
        maxRef = std::max(maxRef, std::abs(want));
    }
  ReferenceError error;
  error.maxAbsError = maxError;
  error.refMaxAbs = maxRef;
  return error;
}

bool closeToReference(const ReferenceError &error) {
  double bound = 1e-4 * std::max(1.0, error.refMaxAbs);
  return !error.maxAbsError || *error.maxAbsError <= bound;
}

void warnIfWrong(const ReferenceError &error, uint64_t batch,
                 std::string_view what, DiagnosticEngine &diag) {
  if (closeToReference(error))
    return;
  diag.report(Severity::Warning,
              fmt::format("{} at batch {}: the output differs from the "
                          "float64 reference by up to {:.3g} (outputs up to "
                          "{:.3g}); these timings may be of wrong code",
                          what, batch, *error.maxAbsError, error.refMaxAbs));
}

} // namespace seqc::bench
