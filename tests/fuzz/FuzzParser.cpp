//===- FuzzParser.cpp - libFuzzer target: lexer, parser and sema ----------===//

#include "tests/fuzz/FuzzInput.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  seqc::fuzz::FuzzInput in;
  (void)in.analyze(data, size);
  return 0;
}
