//===- FuzzNpy.cpp - libFuzzer target: the .npy reader --------------------===//

#include "frontend/Npy.h"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace seqc;
  SourceManager sourceMgr;
  std::string sink;
  DiagnosticEngine diag(sourceMgr);
  diag.captureTo(&sink);
  std::string_view bytes(reinterpret_cast<const char *>(data), size);
  std::optional<Tensor> tensor = parseNpy(bytes, "fuzz.npy", diag);
  std::optional<NpyArray> wide = parseNpyDouble(bytes, "fuzz.npy", diag);
  // Both readers accept the same files, with a shape of at least two and at
  // most kMaxNpyRank dimensions that the data fills exactly.
  if (tensor.has_value() != wide.has_value())
    __builtin_trap();
  if (tensor && (tensor->shape != wide->shape || tensor->shape.size() < 2 ||
                 tensor->shape.size() > kMaxNpyRank ||
                 tensor->numElements() != tensor->data.size() ||
                 wide->data.size() != tensor->data.size()))
    __builtin_trap();
  return 0;
}
