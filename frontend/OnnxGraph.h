//===- OnnxGraph.h - An ONNX model as plain, validated data -----*- C++ -*-===//
//
// Part of seqc. An ONNX model is a protobuf `ModelProto`: a graph of nodes
// (an op type, named input and output values, attributes) with initializers
// (named constant tensors, the trained weights) and declared inputs and
// outputs. decodeOnnxModel reads it with the protobuf library (the generated
// `onnx/onnx-ml.pb.h` of Debian's libonnx-dev, with explicit recursion and
// size limits), checks every tensor's data against its dims, and copies
// what the importer reads into the structs below, which depend on nothing
// but the standard library: the chain matcher (OnnxLowering.cpp) and its
// tests do not need protobuf.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_FRONTEND_ONNXGRAPH_H
#define SEQC_FRONTEND_ONNXGRAPH_H

#include "compiler/support/Diagnostics.h"
#include "compiler/support/Limits.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace seqc::frontend {

/// Largest .onnx file read: protobuf's own limit for one message (2 GiB);
/// bigger models must keep their weights in external files, which seqc
/// refuses.
inline constexpr uint64_t kMaxOnnxFileBytes = (1ull << 31) - 1;
/// Deepest nesting of protobuf messages. A model needs 7 (model, graph,
/// value info, type, tensor type, shape, dimension); subgraphs and nested
/// sequence types go deeper and are refused anyway.
inline constexpr int kMaxOnnxNesting = 32;
/// Most nodes in a graph: the layer limit times the 13 nodes of the
/// longest pattern a layer exports to (GELU with the tanh approximation),
/// rounded up.
inline constexpr uint64_t kMaxOnnxNodes = 1ull << 16;
/// Most initializers (a layer has at most four tensors).
inline constexpr uint64_t kMaxOnnxInitializers = 1ull << 16;
/// Most dimensions of a tensor or a declared input.
inline constexpr unsigned kMaxOnnxRank = 64;

/// ONNX's element types (TensorProto.DataType) that seqc reads.
enum class OnnxDataType : int32_t {
  Undefined = 0,
  Float = 1,
  Int32 = 6,
  Int64 = 7,
  Float16 = 10,
  Double = 11,
  BFloat16 = 16,
};

/// ONNX's name of element type \p dataType (`FLOAT`, `UINT8`, ...).
std::string_view onnxDataTypeName(int32_t dataType);

/// A constant tensor: an initializer or a Constant node's value. Float
/// types (float32, float16, bfloat16, float64) are converted to float32,
/// integer types (int32, int64) to int64; other types keep no data.
struct OnnxTensor {
  std::string name;
  std::vector<int64_t> dims;
  /// TensorProto.DataType, as in the file.
  int32_t dataType = 0;
  bool isFloat = false;
  bool isInt = false;
  std::vector<float> floats;
  std::vector<int64_t> ints;

  /// The product of the dims (validated to fit the limits).
  uint64_t numElements() const;
  /// The one value of a float or integer tensor with one element.
  std::optional<double> scalar() const;
};

/// A node attribute. Only the kinds seqc reads carry their value; the
/// others (graphs, strings lists, sparse tensors) are recorded by kind.
struct OnnxAttribute {
  enum class Kind { Float, Int, String, Tensor, Floats, Ints, Other };
  std::string name;
  Kind kind = Kind::Other;
  double f = 0;
  int64_t i = 0;
  std::string s;
  std::vector<double> floats;
  std::vector<int64_t> ints;
  std::shared_ptr<const OnnxTensor> tensor;
};

struct OnnxNode {
  std::string name;
  std::string opType;
  /// Empty (or `ai.onnx`) for the standard operators.
  std::string domain;
  /// Value names; an empty name is an omitted optional input or output.
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::vector<OnnxAttribute> attributes;

  const OnnxAttribute *findAttribute(std::string_view name) const;
};

/// One dimension of a declared shape: a size, or a symbol (`batch`).
struct OnnxDim {
  /// -1 when the dimension is symbolic or absent.
  int64_t size = -1;
  std::string symbol;
};

/// A declared graph input or output.
struct OnnxValueInfo {
  std::string name;
  /// TensorProto.DataType of a tensor type; 0 when not a tensor.
  int32_t elemType = 0;
  bool hasShape = false;
  std::vector<OnnxDim> dims;
};

/// What seqc reads of a ModelProto.
struct OnnxGraph {
  /// The version of the default (`ai.onnx`) operator set.
  int64_t opsetVersion = 0;
  /// Graph inputs that are not initializers, and graph outputs.
  std::vector<OnnxValueInfo> inputs;
  std::vector<OnnxValueInfo> outputs;
  std::vector<OnnxTensor> initializers;
  /// In file order, which ONNX requires to be topological.
  std::vector<OnnxNode> nodes;
};

/// Parses and validates the ModelProto in \p bytes. Problems (malformed or
/// truncated protobuf, nesting past kMaxOnnxNesting, too many nodes, a
/// tensor whose data does not match its dims, external or sparse data) are
/// reported as `diag.fileError(displayName, ...)`. Defined only when seqc
/// is built with libonnx-dev (SEQC_HAVE_ONNX).
std::optional<OnnxGraph> decodeOnnxModel(std::string_view bytes,
                                         std::string_view displayName,
                                         DiagnosticEngine &diag);

} // namespace seqc::frontend

#endif // SEQC_FRONTEND_ONNXGRAPH_H
