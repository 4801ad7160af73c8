//===- OnnxImport.h - ONNX models as seqc IR --------------------*- C++ -*-===//
//
// Part of seqc. `seqc check|ir|run|emit|compile|bench model.onnx` reads an
// ONNX model (its graph and its initializers, which are the weights) into
// the IR a `.nn` file lowers to. The graph must be a chain: from its one
// input to its one output, each node (or each recognised group of
// element-wise nodes, OnnxPatterns.h) consumes the previous one's output
// plus constants. Parameters are named by their initializers (`0.weight`,
// `onnx::MatMul_7`), and each op's description names its node
// (`Gemm '/0/Gemm'`). Anything else is a file-level error naming the node,
// its op type and the supported list.
//
// Reading the protobuf needs libonnx-dev and libprotobuf-dev; without them
// (SEQC_HAVE_ONNX undefined) seqc still builds and importOnnxModel reports
// that ONNX support was not built.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_FRONTEND_ONNXIMPORT_H
#define SEQC_FRONTEND_ONNXIMPORT_H

#include "frontend/OnnxGraph.h"

#include "compiler/ir/IR.h"

#include <memory>
#include <string>
#include <string_view>

namespace seqc::frontend {

/// True when \p path names an ONNX model (`.onnx`, any case): the driver
/// imports it instead of parsing a `.nn` file.
bool isOnnxModelPath(std::string_view path);

/// True when this seqc can read ONNX files.
bool onnxSupportBuilt();

/// Reads the ONNX model at \p path (at most kMaxOnnxFileBytes) and lowers
/// it. The model is named after the file (`mnist` for `dir/mnist.onnx`).
/// Value types are left for the shape-check pass, except the input's when
/// the graph declares its width. Returns nullptr after reporting.
std::unique_ptr<ir::Model> importOnnxModel(const std::string &path,
                                           DiagnosticEngine &diag);

/// decodeOnnxModel + lowerOnnxGraph on a file image (for tests and the
/// fuzzer). Reports that support was not built when it was not.
std::unique_ptr<ir::Model> parseOnnxModel(std::string_view bytes,
                                          const std::string &modelName,
                                          std::string_view displayName,
                                          DiagnosticEngine &diag);

/// Lowers a decoded graph to a chain of IR ops named \p modelName.
std::unique_ptr<ir::Model> lowerOnnxGraph(const OnnxGraph &graph,
                                          const std::string &modelName,
                                          std::string_view displayName,
                                          DiagnosticEngine &diag);

} // namespace seqc::frontend

#endif // SEQC_FRONTEND_ONNXIMPORT_H
