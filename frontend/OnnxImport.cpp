//===- OnnxImport.cpp - ONNX models as seqc IR ----------------------------===//

#include "frontend/OnnxImport.h"

#include "compiler/support/FileIO.h"

#include <fmt/format.h>

namespace seqc::frontend {

bool isOnnxModelPath(std::string_view path) {
  constexpr std::string_view kExtension = ".onnx";
  if (path.size() < kExtension.size())
    return false;
  std::string_view tail = path.substr(path.size() - kExtension.size());
  for (size_t i = 0; i < tail.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(tail[i])) != kExtension[i])
      return false;
  return true;
}

bool onnxSupportBuilt() {
#ifdef SEQC_HAVE_ONNX
  return true;
#else
  return false;
#endif
}

namespace {

/// `mnist` for `models/mnist.onnx`: the file's stem, with every character
/// that cannot be in a C identifier replaced by `_` (the name prefixes the
/// generated symbols by default).
std::string modelNameFor(const std::string &path) {
  size_t slash = path.find_last_of('/');
  std::string stem = slash == std::string::npos ? path : path.substr(slash + 1);
  stem = stem.substr(0, stem.size() - std::string_view(".onnx").size());
  std::string name;
  for (char c : stem)
    name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0])))
    name = "model_" + name;
  return name;
}

} // namespace

std::unique_ptr<ir::Model> parseOnnxModel(std::string_view bytes,
                                          const std::string &modelName,
                                          std::string_view displayName,
                                          DiagnosticEngine &diag) {
#ifdef SEQC_HAVE_ONNX
  std::optional<OnnxGraph> graph = decodeOnnxModel(bytes, displayName, diag);
  if (!graph)
    return nullptr;
  return lowerOnnxGraph(*graph, modelName, displayName, diag);
#else
  (void)bytes;
  (void)modelName;
  diag.environmentFileError(
      displayName, "this seqc was built without ONNX support; install "
                   "libonnx-dev and libprotobuf-dev (Debian: apt-get install "
                   "libonnx-dev libprotobuf-dev, or tests/install-deps.sh) and "
                   "rebuild");
  return nullptr;
#endif
}

std::unique_ptr<ir::Model> importOnnxModel(const std::string &path,
                                           DiagnosticEngine &diag) {
  if (!onnxSupportBuilt())
    return parseOnnxModel({}, "", path, diag);
  std::string error;
  std::optional<std::string> bytes = readFile(path, kMaxOnnxFileBytes, error);
  if (!bytes) {
    diag.error(error);
    return nullptr;
  }
  return parseOnnxModel(*bytes, modelNameFor(path), path, diag);
}

} // namespace seqc::frontend
