//===- WeightBinding.h - Loading state dicts into modules -------*- C++ -*-===//
#ifndef SEQC_FRONTEND_WEIGHTBINDING_H
#define SEQC_FRONTEND_WEIGHTBINDING_H

#include "frontend/Module.h"

#include "compiler/support/Diagnostics.h"

#include <cstdint>
#include <string>

namespace seqc::frontend {

/// Loads the safetensors file at \p path into \p root the way PyTorch's
/// `load_state_dict(strict=...)` does: keys are matched to state_dict names,
/// shapes must agree, and with \p strict every parameter must be present
/// and no unexpected tensor may be. Integer `num_batches_tracked` entries of
/// BatchNorm layers are accepted and ignored. Returns false after reporting
/// every problem (naming the file, tensor, expected and found shape, with a
/// note at the layer).
bool loadStateDict(Module &root, const std::string &path, bool strict,
                   DiagnosticEngine &diag);

/// Gives every parameter of \p root that has no inline value PyTorch's
/// default initialisation (uniform +-1/sqrt(fan_in) for Linear, ones and
/// zeros for norms), drawn from a generator seeded with \p seed.
void initializeParams(Module &root, uint64_t seed);

/// Reports (at the layer) every parameter of \p root that has no value.
/// Returns false when there was one.
bool checkAllParamsBound(Module &root, std::string_view modelName,
                         DiagnosticEngine &diag);

} // namespace seqc::frontend

#endif // SEQC_FRONTEND_WEIGHTBINDING_H
