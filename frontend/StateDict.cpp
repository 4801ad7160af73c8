//===- StateDict.cpp - Reading weights files of any format ----------------===//

#include "frontend/StateDict.h"

#include "frontend/Safetensors.h"
#include "frontend/TorchCheckpoint.h"

#include "compiler/support/ByteOrder.h"
#include "compiler/support/FileIO.h"

#include <fmt/format.h>

#include <algorithm>

namespace seqc {

const StateDictTensor *StateDict::find(std::string_view name) const {
  for (const StateDictTensor &tensor : tensors)
    if (tensor.name == name)
      return &tensor;
  return nullptr;
}

bool hasTorchCheckpointExtension(std::string_view path) {
  for (std::string_view extension : {".pt", ".pth", ".bin", ".ckpt"})
    if (path.ends_with(extension))
      return true;
  return false;
}

namespace {

/// True when \p bytes start with a plausible safetensors header: a length
/// that fits the file, then a JSON object.
bool looksLikeSafetensors(std::string_view bytes) {
  if (bytes.size() < 10)
    return false;
  uint64_t headerLength =
      loadLE64(reinterpret_cast<const unsigned char *>(bytes.data()));
  return headerLength <= bytes.size() - 8 && bytes[8] == '{';
}

/// The safetensors reader's tensors as a StateDict (already converted).
StateDict fromSafetensors(SafetensorsFile &&file) {
  StateDict dict;
  dict.tensors.reserve(file.tensors.size());
  for (SafetensorsTensor &source : file.tensors) {
    StateDictTensor tensor;
    tensor.name = std::move(source.name);
    tensor.dtype = std::move(source.dtype);
    tensor.shape = std::move(source.shape);
    tensor.isFloat = source.isFloat;
    if (tensor.isFloat)
      tensor.load = [value = std::make_shared<Tensor>(
                         std::move(source.value))] { return *value; };
    dict.tensors.push_back(std::move(tensor));
  }
  return dict;
}

} // namespace

std::optional<StateDict>
parseStateDict(std::shared_ptr<const std::string> bytes,
               std::string_view displayName, DiagnosticEngine &diag) {
  if (looksLikeZip(*bytes))
    return parseTorchCheckpoint(std::move(bytes), displayName, diag);
  if (looksLikeLegacyTorchCheckpoint(*bytes)) {
    reportLegacyTorchCheckpoint(displayName, diag);
    return std::nullopt;
  }
  // A name that says PyTorch and content that is not safetensors: say what
  // a checkpoint should look like rather than how safetensors parsing failed.
  if (hasTorchCheckpointExtension(displayName) &&
      !looksLikeSafetensors(*bytes)) {
    std::string_view start = std::string_view(*bytes).substr(0, 4);
    std::string shown;
    for (unsigned char c : start)
      shown += fmt::format("{}{:02x}", shown.empty() ? "" : " ", c);
    bool pickle =
        !start.empty() && static_cast<unsigned char>(start[0]) == 0x80;
    diag.fileError(
        displayName,
        fmt::format("not a PyTorch checkpoint: torch.save writes a zip archive "
                    "(starting with 'PK'), but this file {}{}",
                    bytes->empty() ? "is empty"
                                   : fmt::format("starts with bytes {}", shown),
                    pickle ? " (a bare pickle, as pickle.dump writes; save "
                             "with torch.save instead)"
                           : ""));
    return std::nullopt;
  }
  std::optional<SafetensorsFile> file =
      parseSafetensors(*bytes, displayName, diag);
  if (!file)
    return std::nullopt;
  return fromSafetensors(std::move(*file));
}

std::optional<StateDict> readStateDict(const std::string &path,
                                       DiagnosticEngine &diag) {
  std::string message;
  std::optional<std::string> bytes = readFile(
      path, std::max(kMaxSafetensorsFileBytes, kMaxTorchCheckpointBytes),
      message);
  if (!bytes) {
    diag.error(message);
    return std::nullopt;
  }
  bool isZip = looksLikeZip(*bytes);
  uint64_t limit = isZip ? kMaxTorchCheckpointBytes : kMaxSafetensorsFileBytes;
  if (bytes->size() > limit) {
    diag.error(fmt::format("'{}' is {} bytes, more than the limit of {} bytes",
                           path, bytes->size(), limit));
    return std::nullopt;
  }
  return parseStateDict(std::make_shared<const std::string>(std::move(*bytes)),
                        path, diag);
}

} // namespace seqc
