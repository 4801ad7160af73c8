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
  (void)parseNpy(bytes, "fuzz.npy", diag);
  (void)parseNpyDouble(bytes, "fuzz.npy", diag);
  return 0;
}
