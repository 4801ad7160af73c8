//===- Csv.h - Reading numeric CSV files ------------------------*- C++ -*-===//
//
// Part of seqc. `seqc run` accepts inputs as CSV: one sample per row, numbers
// separated by commas (spaces and tabs around them are fine). Blank lines and
// lines starting with `#` are skipped; the first row may be a header of
// column names. `nan`, `inf` and `-inf` are accepted in any case. Mistakes
// are reported at the offending field as `file:line:col: error:` with a
// caret.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_FRONTEND_CSV_H
#define SEQC_FRONTEND_CSV_H

#include "compiler/ir/Tensor.h"
#include "compiler/support/Diagnostics.h"
#include "compiler/support/SourceManager.h"

#include <cstdint>
#include <optional>
#include <string>

namespace seqc {

/// Largest CSV file readCsv accepts.
inline constexpr uint64_t kMaxCsvBytes = 256ull << 20;

/// Parses the CSV text in buffer \p bufferId of \p sourceMgr into a float32
/// `[rows, cols]` tensor. Reports mistakes through \p diag and returns
/// nullopt on any.
std::optional<Tensor> parseCsv(uint32_t bufferId, SourceManager &sourceMgr,
                               DiagnosticEngine &diag);

/// Reads the CSV file at \p path into \p sourceMgr (so diagnostics can quote
/// its lines) and parses it.
std::optional<Tensor> readCsv(const std::string &path, SourceManager &sourceMgr,
                              DiagnosticEngine &diag);

} // namespace seqc

#endif // SEQC_FRONTEND_CSV_H
