//===- FuzzCheck.cpp - libFuzzer target: the whole check pipeline ---------===//
//
// Parses, analyzes, initialises small models, lowers, shape-checks,
// canonicalises, fuses, and runs the reference interpreter on one row, so
// every stage sees whatever the fuzzer can make the frontend accept.
//
//===----------------------------------------------------------------------===//

#include "tests/fuzz/FuzzInput.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace seqc;
  // Keep memory and time per input small.
  fuzz::FuzzInput in;
  std::unique_ptr<ir::Model> model =
      in.checkedModel(data, size, uint64_t(1) << 20, 64);
  if (!model)
    return 0;
  fuzz::runOneRow(*model);
  return 0;
}
