//===- FuzzParser.cpp - libFuzzer target: lexer, parser and sema ----------===//

#include "frontend/Parser.h"
#include "frontend/Sema.h"

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
      "fuzz.nn", std::string(reinterpret_cast<const char *>(data), size));
  std::optional<frontend::File> file =
      frontend::parseBuffer(id, sourceMgr, diag);
  if (!file)
    return 0;
  frontend::SemaOptions options;
  options.skipLoadStatements = true;
  (void)frontend::analyzeFile(*file, options, diag);
  return 0;
}
