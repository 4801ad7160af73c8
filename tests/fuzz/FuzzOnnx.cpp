//===- FuzzOnnx.cpp - libFuzzer target: ONNX import -----------------------===//
//
// Decodes each input as an ONNX model (protobuf with its limits, tensor
// checks), lowers the graph to IR, and takes small results through
// shape-check, canonicalize and fuse (the pass manager verifies the IR
// after each, so an importer that made invalid IR aborts) and the
// reference interpreter on one row. Seeded with the .onnx files under
// tests/.
//
//===----------------------------------------------------------------------===//

#include "frontend/OnnxImport.h"
#include "tests/fuzz/FuzzInput.h"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace seqc;
  fuzz::FuzzInput in;
  in.diag.captureTo(&in.sink);
  std::unique_ptr<ir::Model> model = frontend::parseOnnxModel(
      std::string_view(reinterpret_cast<const char *>(data), size), "fuzz",
      "fuzz.onnx", in.diag);
  if (!model)
    return 0;
  // Keep memory and time per input small; the limits themselves are tested
  // by the must-fail suite.
  uint64_t numParams = 0;
  for (const ir::Param &param : model->params)
    numParams += param.data.data.size();
  if (numParams > (uint64_t(1) << 20) || model->ops.size() > 64 ||
      !fuzz::optimize(*model, in.diag) ||
      model->inputType().features() > (1 << 16))
    return 0;
  fuzz::runOneRow(*model);
  return 0;
}
