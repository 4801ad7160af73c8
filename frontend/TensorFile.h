//===- TensorFile.h - Reading input tensors by file type --------*- C++ -*-===//
//
// Part of seqc. Picks the reader for an input data file from its extension:
// `.npy` (NumPy) or `.csv`.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_FRONTEND_TENSORFILE_H
#define SEQC_FRONTEND_TENSORFILE_H

#include "compiler/ir/Tensor.h"
#include "compiler/support/Diagnostics.h"
#include "compiler/support/SourceManager.h"

#include <optional>
#include <string>

namespace seqc {

/// Reads a float32 tensor from a `.npy` file (of the file's shape, any rank)
/// or a `.csv` file (`[rows, cols]`); the extension is matched without
/// regard to case. Any other extension is
/// reported as an error naming the file and the accepted extensions.
std::optional<Tensor> readTensorFile(const std::string &path,
                                     SourceManager &sourceMgr,
                                     DiagnosticEngine &diag);

} // namespace seqc

#endif // SEQC_FRONTEND_TENSORFILE_H
