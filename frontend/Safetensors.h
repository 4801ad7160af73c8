//===- Safetensors.h - Reading and writing safetensors files ----*- C++ -*-===//
//
// Part of seqc. Trained weights arrive as safetensors files (what
// `safetensors.torch.save_file(model.state_dict(), ...)` writes). The reader
// validates a file the way the format's own loader (huggingface/safetensors,
// `SafeTensors::deserialize`) does, and converts every floating-point tensor
// to float32.
//
// Layout: 8 bytes little-endian header length N, N bytes of UTF-8 JSON
// (`{"name": {"dtype": "F32", "shape": [3, 2], "data_offsets": [0, 24]},
// "__metadata__": {"k": "v"}}`), then the data buffer, which the tensors'
// data_offsets must cover exactly, in order, without gaps or overlaps.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_FRONTEND_SAFETENSORS_H
#define SEQC_FRONTEND_SAFETENSORS_H

#include "compiler/ir/Tensor.h"
#include "compiler/support/Diagnostics.h"
#include "compiler/support/Limits.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace seqc {

/// Largest safetensors file readSafetensors accepts: the header limit plus
/// the most parameters a model may have, stored as F64.
inline constexpr uint64_t kMaxSafetensorsFileBytes =
    8 + limits::kMaxSafetensorsHeader + limits::kMaxParamElements * 8;

/// Deepest nesting of JSON arrays and objects in a safetensors header, the
/// outer object included (the reference loader's JSON library, serde_json,
/// refuses 128 levels).
inline constexpr unsigned kMaxSafetensorsJsonDepth = 127;

/// Most JSON values (numbers, strings, arrays, ...) in a safetensors header,
/// which bounds the memory a hostile header can take. A real state_dict has
/// about ten per tensor.
inline constexpr uint64_t kMaxSafetensorsJsonValues = 1ull << 22;

/// One tensor of a safetensors file.
struct SafetensorsTensor {
  /// The tensor's key (a PyTorch state_dict name such as `0.weight`).
  std::string name;
  /// The dtype as written in the file: "F32", "BF16", "I64", ...
  std::string dtype;
  /// The shape as written in the file.
  std::vector<int64_t> shape;
  /// True for F32, F16, BF16 and F64 tensors.
  bool isFloat = false;
  /// A float32 copy of the data when isFloat (with `value.shape == shape`);
  /// empty for integer and boolean tensors.
  Tensor value;
};

/// The validated contents of a safetensors file.
struct SafetensorsFile {
  /// The tensors in data (offset) order.
  std::vector<SafetensorsTensor> tensors;
  /// The `__metadata__` string map, in file order.
  std::vector<std::pair<std::string, std::string>> metadata;

  /// The tensor named \p name, or null.
  const SafetensorsTensor *find(std::string_view name) const;
};

/// Parses a safetensors image. On any problem reports
/// `diag.fileError(displayName, ...)` with a message naming the tensor and
/// what is wrong, and returns nullopt.
std::optional<SafetensorsFile> parseSafetensors(std::string_view bytes,
                                                std::string_view displayName,
                                                DiagnosticEngine &diag);

/// Reads and parses the safetensors file at \p path.
std::optional<SafetensorsFile> readSafetensors(const std::string &path,
                                               DiagnosticEngine &diag);

/// Builds the bytes of a safetensors file holding \p tensors as F32: header
/// keys sorted, data in the same order, header padded with spaces to a
/// multiple of 8 bytes, exactly like the reference implementation. Reports
/// (as errors about \p displayName) duplicate or reserved names and tensors
/// whose data does not match their shape.
std::optional<std::string>
serializeSafetensors(const std::vector<std::pair<std::string, Tensor>> &tensors,
                     std::string_view displayName, DiagnosticEngine &diag);

/// Writes serializeSafetensors' bytes to \p path atomically.
bool writeSafetensors(
    const std::string &path,
    const std::vector<std::pair<std::string, Tensor>> &tensors,
    DiagnosticEngine &diag);

/// Exact conversions of the 16-bit float formats to float32 (infinities,
/// NaNs with their payload, and subnormals included).
float halfToFloat(uint16_t bits);
float bfloat16ToFloat(uint16_t bits);

} // namespace seqc

#endif // SEQC_FRONTEND_SAFETENSORS_H
