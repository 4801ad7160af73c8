//===- InputLayout.h - Inputs of any rank as [rows, features] ---*- C++ -*-===//
//
// Part of seqc. A compiled model runs `[rows, features]` data. `seqc run`
// also takes inputs of more dimensions, `[batch, d1, ..., dk]`, and runs
// them as PyTorch would:
// - when the model flattens the sample first (nn.Flatten() before any layer
//   that works along the last dimension), as `[batch, d1 * ... * dk]`, and
//   the output is `[batch, out]`;
// - otherwise each vector along the last dimension is a row, as nn.Linear
//   treats it: `[batch * d1 * ... * d(k-1), dk]`, and the output is
//   `[batch, d1, ..., d(k-1), out]`. Layers that would not act along the last
//   dimension (BatchNorm1d, a softmax over another dim) are refused.
// - A model without Flatten whose width is d1 * ... * dk (not dk) would fail
//   in PyTorch; seqc flattens the sample, with a note, as if the model began
//   with nn.Flatten().
// Every case is a reshape of the same row-major data: nothing is copied.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_DRIVER_INPUTLAYOUT_H
#define SEQC_DRIVER_INPUTLAYOUT_H

#include "compiler/ir/IR.h"
#include "compiler/support/Diagnostics.h"

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace seqc::driver {

/// How an input is run and what shape the output takes.
struct InputLayout {
  /// Rows the compiled model runs, and features per row (the model's width).
  int64_t rows = 0;
  int64_t features = 0;
  /// The output shape without its last dimension: `[batch]`, or
  /// `[batch, d1, ..., d(k-1)]` when rows run along the last dimension.
  std::vector<int64_t> outerShape;

  /// The output shape for \p outFeatures per row.
  std::vector<int64_t> outputShape(int64_t outFeatures) const;
};

/// Maps an input of \p shape (at least 2-D; a 1-D file reads as `[1, F]`)
/// onto \p model. Reports a mismatch or an unsupported layer as an error
/// about \p path and returns nullopt; notes an implied flatten.
std::optional<InputLayout> planInputLayout(const ir::Model &model,
                                           const std::vector<int64_t> &shape,
                                           std::string_view path,
                                           DiagnosticEngine &diag);

} // namespace seqc::driver

#endif // SEQC_DRIVER_INPUTLAYOUT_H
