//===- ReferenceCheck.h - Timed outputs against the float64 oracle -*- C++ -*-//
//
// Part of seqc. A benchmark of wrong code is worthless, so `seqc bench`
// compares the outputs of the last timed run with the float64 reference
// interpreter on a few rows at both ends of the batch (where tail handling
// and the first block differ from the rest), cheap enough for any batch.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_BENCH_REFERENCECHECK_H
#define SEQC_BENCH_REFERENCECHECK_H

#include "compiler/codegen/common/Precision.h"
#include "compiler/ir/IR.h"
#include "compiler/support/Diagnostics.h"

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace seqc::bench {

/// Outputs the check looks at: this many rows at the start and at the end
/// of each batch.
constexpr uint64_t kCheckRowsEachEnd = 2;

/// The outcome of a check: the largest |output - reference| on the checked
/// rows (infinite where one is NaN and the other is not), and the largest
/// finite |reference| there, the scale. Unset when nothing was checked.
struct ReferenceError {
  std::optional<double> maxAbsError;
  double refMaxAbs = 0.0;
};

/// The rows of a batch of \p batch rows that the check compares, in order.
std::vector<uint64_t> checkedRows(uint64_t batch);

/// Runs the reference on the checked rows of \p input and compares them
/// with the same rows of \p output (`[batch, features]`, float32); the
/// reference simulates \p precision (not f16).
ReferenceError
checkAgainstReference(const ir::Model &model, const float *input,
                      const float *output, uint64_t batch,
                      codegen::Precision precision = codegen::Precision::F32);

/// True when \p error is within 1e-4 of the output scale (or nothing was
/// checked).
bool closeToReference(const ReferenceError &error);

/// Warns when \p error is not closeToReference; \p what names the run.
void warnIfWrong(const ReferenceError &error, uint64_t batch,
                 std::string_view what, DiagnosticEngine &diag);

} // namespace seqc::bench

#endif // SEQC_BENCH_REFERENCECHECK_H
