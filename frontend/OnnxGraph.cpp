//===- OnnxGraph.cpp - An ONNX model as plain, validated data -------------===//

#include "frontend/OnnxGraph.h"

namespace seqc::frontend {

std::string_view onnxDataTypeName(int32_t dataType) {
  static constexpr std::string_view kNames[] = {
      "UNDEFINED", "FLOAT",  "UINT8",     "INT8",       "UINT16",  "INT16",
      "INT32",     "INT64",  "STRING",    "BOOL",       "FLOAT16", "DOUBLE",
      "UINT32",    "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16"};
  if (dataType >= 0 && static_cast<size_t>(dataType) < std::size(kNames))
    return kNames[dataType];
  return "an unknown type";
}

uint64_t OnnxTensor::numElements() const {
  uint64_t n = 1;
  for (int64_t d : dims)
    n *= static_cast<uint64_t>(d);
  return n;
}

std::optional<double> OnnxTensor::scalar() const {
  if (numElements() != 1)
    return std::nullopt;
  if (isFloat && floats.size() == 1)
    return floats[0];
  if (isInt && ints.size() == 1)
    return static_cast<double>(ints[0]);
  return std::nullopt;
}

const OnnxAttribute *OnnxNode::findAttribute(std::string_view name) const {
  for (const OnnxAttribute &attribute : attributes)
    if (attribute.name == name)
      return &attribute;
  return nullptr;
}

} // namespace seqc::frontend
