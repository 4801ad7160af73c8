//===- Tensor.cpp - Dense float32 tensors ---------------------------------===//

#include "compiler/ir/Tensor.h"

#include <fmt/format.h>

namespace seqc {

uint64_t Tensor::numElements() const {
  uint64_t n = 1;
  for (int64_t d : shape)
    n *= static_cast<uint64_t>(d);
  return n;
}

Tensor Tensor::zeros(std::vector<int64_t> shape) {
  Tensor t;
  t.shape = std::move(shape);
  t.data.assign(t.numElements(), 0.0f);
  return t;
}

std::string Tensor::shapeString(const std::vector<int64_t> &shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

} // namespace seqc
