//===- Npy.h - Reading and writing NumPy .npy files -------------*- C++ -*-===//
//
// Part of seqc. Inputs and outputs of `seqc run` are arrays of any rank
// (`[batch, features]`, `[batch, d1, d2, ...]`) in NumPy's .npy format
// (versions 1.0, 2.0 and 3.0). The reader accepts little-endian float
// (`<f2`, `<f4`, `<f8`), integer and boolean arrays and converts them to
// float32, with a note when they were not float32; a 1-D array `[F]` is read
// as one sample `[1, F]`. The writer produces `<f4` version 1.0 files like
// `numpy.save` does.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_FRONTEND_NPY_H
#define SEQC_FRONTEND_NPY_H

#include "compiler/ir/Tensor.h"
#include "compiler/support/Diagnostics.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace seqc {

/// Largest .npy file readNpy accepts.
inline constexpr uint64_t kMaxNpyBytes = 16ull << 30;
/// Largest .npy header (NumPy's own default `max_header_size`).
inline constexpr uint64_t kMaxNpyHeaderBytes = 10000;
/// Most dimensions of an array (NumPy 2's own limit).
inline constexpr size_t kMaxNpyRank = 64;

/// An array read at full precision (float64), for comparing results against
/// float64 goldens.
struct NpyArray {
  /// The file's shape (1-D arrays become `[1, F]`).
  std::vector<int64_t> shape;
  /// Row-major values.
  std::vector<double> data;
};

/// Parses a .npy image into a float32 tensor of the file's shape (a 1-D `[F]`
/// becomes `[1, F]`), in C order. Data of another dtype is converted, with a
/// note `displayName: note: input is float64 ('<f8'); converted to float32`.
/// On any problem reports `diag.fileError(displayName, ...)` and returns
/// nullopt.
std::optional<Tensor> parseNpy(std::string_view bytes,
                               std::string_view displayName,
                               DiagnosticEngine &diag);

/// Reads and parses the .npy file at \p path.
std::optional<Tensor> readNpy(const std::string &path, DiagnosticEngine &diag);

/// Like parseNpy, but keeps the values at float64 precision (`<f8` data is
/// returned exactly).
std::optional<NpyArray> parseNpyDouble(std::string_view bytes,
                                       std::string_view displayName,
                                       DiagnosticEngine &diag);

/// Reads and parses the .npy file at \p path at float64 precision.
std::optional<NpyArray> readNpyDouble(const std::string &path,
                                      DiagnosticEngine &diag);

/// The bytes of a version 1.0 `<f4` .npy file holding \p tensor (C order,
/// header padded to a multiple of 64 bytes like NumPy writes it). The
/// tensor's data must match its shape.
std::string serializeNpy(const Tensor &tensor);

/// The bytes of a `<f8` .npy file of \p shape holding \p data (the
/// reference backend's float64 results).
std::string serializeNpyDouble(const std::vector<int64_t> &shape,
                               const std::vector<double> &data);

/// Writes \p tensor to \p path as a `<f4` .npy file, atomically. Reports a
/// tensor whose data does not match its shape, and write failures.
bool writeNpy(const std::string &path, const Tensor &tensor,
              DiagnosticEngine &diag);

} // namespace seqc

#endif // SEQC_FRONTEND_NPY_H
