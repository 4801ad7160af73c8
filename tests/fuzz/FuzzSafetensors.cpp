//===- FuzzSafetensors.cpp - libFuzzer target: the safetensors reader -----===//

#include "frontend/Safetensors.h"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace seqc;
  SourceManager sourceMgr;
  std::string sink;
  DiagnosticEngine diag(sourceMgr);
  diag.captureTo(&sink);
  (void)parseSafetensors(
      std::string_view(reinterpret_cast<const char *>(data), size),
      "fuzz.safetensors", diag);
  return 0;
}
