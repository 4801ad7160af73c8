//===- FuzzTorchCheckpoint.cpp - libFuzzer target: torch.save checkpoints -===//
//
// Runs the whole reader (zip archive, unpickler, storages, views, flattening)
// on each input and converts every float tensor it accepts, so a view that
// escaped its storage would read out of bounds under ASan. CRC-32 checks are
// off: mutated pickles would otherwise rarely get past them.
//
//===----------------------------------------------------------------------===//

#include "frontend/TorchCheckpoint.h"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace seqc;
  SourceManager sourceMgr;
  std::string sink;
  DiagnosticEngine diag(sourceMgr);
  diag.captureTo(&sink);
  auto bytes = std::make_shared<const std::string>(
      reinterpret_cast<const char *>(data), size);
  std::optional<StateDict> dict =
      parseTorchCheckpoint(bytes, "fuzz.pt", diag, /*verifyChecksums=*/false);
  if (!dict)
    return 0;
  // Expanded views can describe far more elements than the input holds;
  // converting those is bounded by the model in real use, here by a cap.
  constexpr uint64_t kMaxConverted = 1u << 20;
  uint64_t converted = 0;
  for (const StateDictTensor &tensor : dict->tensors) {
    if (!tensor.isFloat)
      continue;
    uint64_t elements = 1;
    for (int64_t d : tensor.shape)
      elements *= static_cast<uint64_t>(d);
    if ((converted += elements) > kMaxConverted)
      break;
    (void)tensor.load();
  }
  return 0;
}
