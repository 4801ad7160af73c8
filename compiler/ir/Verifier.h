//===- Verifier.h - Structural checks of the IR -----------------*- C++ -*-===//
#ifndef SEQC_IR_VERIFIER_H
#define SEQC_IR_VERIFIER_H

#include "compiler/ir/IR.h"

#include <string>

namespace seqc::ir {

/// Checks the invariants every pass after shape checking relies on: the ops
/// form a chain, every value is `f32[B, F]` with F > 0, op widths agree with
/// their operand and result types, and parameter references have the shapes
/// the op kind needs. When \p requireBound is set every parameter must also
/// hold data of its shape. Returns an empty string when the model is valid,
/// otherwise a description of the first violation.
std::string verifyModel(const Model &model, bool requireBound = false);

/// Checks the form the `fuse` pass leaves (compiler/passes/Fuse.cpp) and the
/// backends consume: only dense, act, softmax, log_softmax, layer_norm and
/// affine ops, and a row norm only in a dense op's epilogue. The pass manager
/// checks it after `fuse`; a backend checks it on entry. Returns an empty
/// string when the model is in fused form, otherwise the first violation.
std::string verifyFusedForm(const Model &model);

} // namespace seqc::ir

#endif // SEQC_IR_VERIFIER_H
