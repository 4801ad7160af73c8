//===- Tensor.h - Dense float32 tensors for parameters and data -*- C++ -*-===//
#ifndef SEQC_IR_TENSOR_H
#define SEQC_IR_TENSOR_H

#include <cstdint>
#include <string>
#include <vector>

namespace seqc {

/// A dense row-major float32 tensor: trained parameters, inputs, outputs.
struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;

  Tensor() = default;
  Tensor(std::vector<int64_t> shape, std::vector<float> data)
      : shape(std::move(shape)), data(std::move(data)) {}

  /// Number of elements the shape describes (1 for a scalar).
  uint64_t numElements() const;
  /// A tensor of zeros with the given shape.
  static Tensor zeros(std::vector<int64_t> shape);
  /// `[3, 2]`-style rendering of a shape.
  static std::string shapeString(const std::vector<int64_t> &shape);
};

} // namespace seqc

#endif // SEQC_IR_TENSOR_H
