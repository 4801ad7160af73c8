//===- FuzzCsv.cpp - libFuzzer target: the CSV reader ---------------------===//

#include "frontend/Csv.h"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace seqc;
  SourceManager sourceMgr;
  std::string sink;
  DiagnosticEngine diag(sourceMgr);
  diag.captureTo(&sink);
  uint32_t id = sourceMgr.addBuffer(
      "fuzz.csv", std::string(reinterpret_cast<const char *>(data), size));
  (void)parseCsv(id, sourceMgr, diag);
  return 0;
}
