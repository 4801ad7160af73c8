//===- TorchPickle.h - A restricted unpickler for torch.save data -*- C++
//-*-===//
//
// Part of seqc. The `data.pkl` of a PyTorch checkpoint is a Python pickle: a
// program for a stack machine that may import and call any Python function.
// This is a data interpreter for it that allows exactly what
// `torch.load(weights_only=True)` allows: dicts and OrderedDicts, lists,
// tuples, sets, ints, floats, strings, bytes, None and booleans, tensors
// rebuilt from storages by persistent id (`torch._utils._rebuild_tensor_v2`,
// `_rebuild_parameter`, ...), `torch.Size`, dtypes and devices. Every other
// global is an error naming it, raised when the pickle names it: nothing is
// ever imported, called or executed. Opcodes of protocols 1 to 5 are read
// (torch.save writes protocol 2 by default); the text opcodes of protocol 0
// that torch.save cannot write are refused.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_FRONTEND_TORCHPICKLE_H
#define SEQC_FRONTEND_TORCHPICKLE_H

#include "compiler/support/Diagnostics.h"

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace seqc {

/// Most values and references one pickle may push (every opcode that
/// pushes counts once). A state_dict takes about 20 per tensor.
inline constexpr uint64_t kMaxPickleElements = 1ull << 22;
/// Deepest the unpickler's stack (values and marks) may grow.
inline constexpr uint64_t kMaxPickleStack = 1ull << 20;
/// Most memo entries (objects a pickle may refer back to).
inline constexpr uint64_t kMaxPickleMemo = 1ull << 22;
/// Longest string or bytes object in a pickle.
inline constexpr uint64_t kMaxPickleString = 1ull << 24;
/// Most dimensions of a tensor.
inline constexpr unsigned kMaxTensorRank = 64;

/// A PyTorch storage class (`torch.FloatStorage`) and its element type.
struct TorchStorageType {
  /// The class name, as pickled (`FloatStorage`).
  const char *className;
  /// The element type in safetensors' spelling (`F32`, `I64`, ...).
  const char *dtype;
  /// Bytes per element.
  unsigned size;
  /// F32, F16, BF16 and F64 convert to float32; the others are kept as
  /// non-float tensors (ignored like `num_batches_tracked`).
  bool isFloat;
};

/// A storage the pickle refers to by persistent id
/// `('storage', torch.FloatStorage, key, location, numel)`; its bytes are
/// the archive's `data/<key>` entry.
struct TorchStorage {
  std::string key;
  const TorchStorageType *type = nullptr;
  /// Number of elements.
  uint64_t numel = 0;
};

/// A tensor: a strided view of a storage (TorchCheckpoint checks that it
/// lies within it).
struct TorchTensor {
  /// Index into UnpickledData::storages.
  size_t storage = 0;
  /// Offset of element [0, 0, ...] in the storage, in elements.
  uint64_t offset = 0;
  std::vector<int64_t> shape;
  /// Strides in elements (non-negative, as PyTorch requires).
  std::vector<int64_t> strides;
};

/// A value of the unpickled object graph. Containers point to other values
/// of the same UnpickledData (a pickle can make cycles; the arena owns all).
struct PickleValue {
  enum class Kind : uint8_t {
    None,
    Bool,
    Int,
    BigInt, ///< an integer beyond 64 bits (kept only as a number)
    Float,
    String,
    Bytes,
    Tuple,
    List,
    Dict,
    Set,
    Global,  ///< an allowed global (`torch.Size`, `collections.OrderedDict`)
    Storage, ///< integer: index into UnpickledData::storages
    Tensor,  ///< integer: index into UnpickledData::tensors
    Opaque,  ///< an allowed object seqc does not look into (a torch.device)
  };
  Kind kind = Kind::None;
  bool boolean = false;
  int64_t integer = 0;
  double real = 0.0;
  /// String and Bytes contents; a Global's `module.name`; what an Opaque is.
  std::string text;
  /// Tuple, List and Set elements; a Dict's keys and values, alternating.
  std::vector<PickleValue *> items;
};

/// What a checkpoint's pickle describes.
struct UnpickledData {
  /// Owns every value (deque: elements never move).
  std::deque<PickleValue> values;
  /// The object the pickle returns.
  const PickleValue *root = nullptr;
  std::vector<TorchStorage> storages;
  std::vector<TorchTensor> tensors;
};

/// Interprets \p pickle (the bytes of `data.pkl`). On any problem, a
/// forbidden global above all, reports `diag.fileError(displayName, ...)`
/// and returns null.
std::unique_ptr<UnpickledData> unpickleTorchData(std::string_view pickle,
                                                 std::string_view displayName,
                                                 DiagnosticEngine &diag);

/// Describes \p kind for messages ("a dict", "an int").
const char *describePickleKind(PickleValue::Kind kind);

} // namespace seqc

#endif // SEQC_FRONTEND_TORCHPICKLE_H
