//===- WeightBinding.h - Loading state dicts into modules -------*- C++ -*-===//
#ifndef SEQC_FRONTEND_WEIGHTBINDING_H
#define SEQC_FRONTEND_WEIGHTBINDING_H

#include "frontend/Module.h"

#include "compiler/support/Diagnostics.h"

#include <cstdint>
#include <string>

namespace seqc::frontend {

/// Where a weights file was named, which decides how a suggested fix is
/// spelled.
enum class WeightsOrigin {
  LoadStatement, ///< `Name.load_state_dict("file", ...)` in a .nn file
  CommandLine,   ///< `--weights FILE`
};

/// How loadStateDict matches a file's keys to the model's.
struct StateDictOptions {
  /// PyTorch's `strict`: every parameter must be present and no tensor may
  /// be unexpected.
  bool strict = true;
  /// Only the tensors whose keys start with this are taken, with it
  /// removed (`model.` for a training checkpoint's `model.0.weight`);
  /// everything else in the file (optimizer state) is ignored.
  std::string prefix;
  WeightsOrigin origin = WeightsOrigin::LoadStatement;
};

/// Loads the weights file at \p path (safetensors or a torch.save
/// checkpoint, see StateDict.h) into \p root the way PyTorch's
/// `load_state_dict` does: keys are matched to state_dict names, shapes must
/// agree, and when strict every parameter must be present and no unexpected
/// tensor may be. Integer `num_batches_tracked` entries of BatchNorm layers
/// are accepted and ignored. Returns false after reporting every problem
/// (naming the file, tensor, expected and found shape, with a note at the
/// layer); when adding or removing a key prefix would make the keys match,
/// that one fix is reported instead of every tensor.
bool loadStateDict(Module &root, const std::string &path,
                   const StateDictOptions &options, DiagnosticEngine &diag);

/// The same, with no prefix, for a `load_state_dict` statement.
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
