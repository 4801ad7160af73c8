//===- TensorFile.cpp - Reading input tensors by file type ----------------===//

#include "frontend/TensorFile.h"

#include "frontend/Csv.h"
#include "frontend/Npy.h"

#include <fmt/format.h>

namespace seqc {

/// True when \p path ends with \p ext (lower case, with the dot), ignoring
/// case.
static bool hasExtension(const std::string &path, std::string_view ext) {
  if (path.size() <= ext.size())
    return false;
  std::string_view tail =
      std::string_view(path).substr(path.size() - ext.size());
  for (size_t i = 0; i < ext.size(); ++i) {
    char c = tail[i];
    if (c >= 'A' && c <= 'Z')
      c = char(c - 'A' + 'a');
    if (c != ext[i])
      return false;
  }
  return true;
}

std::optional<Tensor> readTensorFile(const std::string &path,
                                     SourceManager &sourceMgr,
                                     DiagnosticEngine &diag) {
  if (hasExtension(path, ".npy"))
    return readNpy(path, diag);
  if (hasExtension(path, ".csv"))
    return readCsv(path, sourceMgr, diag);
  diag.fileError(path, "unsupported input file type; expected a NumPy .npy "
                       "file or a .csv file");
  return std::nullopt;
}

} // namespace seqc
