//===- StateDict.h - Reading weights files of any format --------*- C++ -*-===//
//
// Part of seqc. A state dict is what `model.state_dict()` returns: tensors
// named by PyTorch's keys (`0.weight`, `2.0.bias`). Users save it either as
// safetensors (`safetensors.torch.save_file`) or with `torch.save` (`.pt`,
// `.pth`, `.bin`); readStateDict picks the reader by the file's content and
// returns the same tensor list for both, so everything downstream of it is
// format-neutral.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_FRONTEND_STATEDICT_H
#define SEQC_FRONTEND_STATEDICT_H

#include "compiler/ir/Tensor.h"
#include "compiler/support/Diagnostics.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace seqc {

/// One tensor of a state dict.
struct StateDictTensor {
  /// The key (`0.weight`; nested checkpoints are flattened to dotted keys,
  /// `model.0.weight`).
  std::string name;
  /// The element type in safetensors' spelling: `F32`, `BF16`, `I64`, ...
  std::string dtype;
  std::vector<int64_t> shape;
  /// True for F32, F16, BF16 and F64 tensors.
  bool isFloat = false;
  /// For float tensors: makes a float32 copy of the values (`shape` as
  /// above, row-major). Readers validate everything up front and convert
  /// only on demand, so tensors a model does not use (optimizer state in a
  /// training checkpoint) cost no memory.
  std::function<Tensor()> load;
};

/// The validated tensors of a weights file, in file order.
struct StateDict {
  std::vector<StateDictTensor> tensors;

  /// The tensor named \p name, or null.
  const StateDictTensor *find(std::string_view name) const;
};

/// True for the extensions PyTorch's checkpoints use: `.pt`, `.pth`, `.bin`
/// and `.ckpt`.
bool hasTorchCheckpointExtension(std::string_view path);

/// Parses a weights file image by its content: a zip archive is a
/// torch.save checkpoint, PyTorch's legacy (pre-1.6) format gets an error
/// saying how to re-save it, and anything else is read as safetensors
/// (unless its name says it is a PyTorch checkpoint). Problems are reported
/// as `diag.fileError(displayName, ...)`.
std::optional<StateDict>
parseStateDict(std::shared_ptr<const std::string> bytes,
               std::string_view displayName, DiagnosticEngine &diag);

/// Reads the weights file at \p path (safetensors or torch.save).
std::optional<StateDict> readStateDict(const std::string &path,
                                       DiagnosticEngine &diag);

} // namespace seqc

#endif // SEQC_FRONTEND_STATEDICT_H
