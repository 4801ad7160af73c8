//===- WeightLayouts.cpp - The CUDA kernels' parameter layouts ------------===//
//
// Part of seqc. Every way the CUDA kernels want a parameter packed (one
// function per ArrayLayout), and the blob of a plan: each planned array in
// its layout at its offset, zeros in between.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cuda/Internal.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace seqc::cuda {

std::vector<float> padBias(const std::vector<float> *src, size_t size) {
  std::vector<float> out(size, 0.0f);
  if (src)
    std::copy(src->begin(), src->begin() + std::min(size, src->size()),
              out.begin());
  return out;
}

std::vector<float> packTransposedF32(const std::vector<float> &weight,
                                     int64_t in, int64_t out, int64_t ldw) {
  std::vector<float> packed(static_cast<size_t>(in * ldw), 0.0f);
  for (int64_t n = 0; n < out; ++n)
    for (int64_t k = 0; k < in; ++k)
      packed[k * ldw + n] = weight[n * in + k];
  return packed;
}

std::vector<float> packRowsF32(const std::vector<float> &weight, int64_t in,
                               int64_t out, int64_t rows, int64_t ldw) {
  std::vector<float> packed(static_cast<size_t>(rows * ldw), 0.0f);
  for (int64_t n = 0; n < out; ++n)
    std::copy(weight.begin() + n * in, weight.begin() + (n + 1) * in,
              packed.begin() + n * ldw);
  return packed;
}

std::vector<uint16_t> packRows16(const std::vector<float> &weight, int64_t in,
                                 int64_t out, int64_t rows, int64_t ldw,
                                 Precision precision) {
  const bool bf16 = precision == Precision::BF16;
  std::vector<uint16_t> packed(static_cast<size_t>(rows * ldw), 0);
  for (int64_t n = 0; n < out; ++n)
    for (int64_t k = 0; k < in; ++k) {
      const float v = weight[n * in + k];
      packed[n * ldw + k] = bf16 ? floatToBf16(v) : floatToF16(v);
    }
  return packed;
}

namespace {

template <typename T>
void copyInto(std::vector<uint8_t> &blob, const PlannedArray &array,
              const std::vector<T> &values) {
  assert(values.size() * sizeof(T) == array.bytes());
  std::memcpy(blob.data() + array.offset, values.data(),
              values.size() * sizeof(T));
}

} // namespace

std::vector<uint8_t> packParams(const CudaPlan &plan,
                                const std::vector<Stage> &stages) {
  std::vector<uint8_t> blob(plan.paramBytes, 0);
  for (const PlannedArray &a : plan.arrays) {
    const Stage &s = stages[a.stage];
    const std::vector<float> &data =
        a.role == ArrayRole::Weight ? *s.weight : *s.bias;
    switch (a.layout) {
    case ArrayLayout::Vector:
      copyInto(blob, a, data);
      break;
    case ArrayLayout::PaddedBias:
      copyInto(blob, a, padBias(&data, static_cast<size_t>(a.columns)));
      break;
    case ArrayLayout::TransposedF32:
      copyInto(blob, a, packTransposedF32(data, s.in, s.out, a.columns));
      break;
    case ArrayLayout::RowsF32:
      copyInto(blob, a, packRowsF32(data, s.in, s.out, a.rows, a.columns));
      break;
    case ArrayLayout::Rows16:
      copyInto(
          blob, a,
          packRows16(data, s.in, s.out, a.rows, a.columns, plan.precision));
      break;
    }
  }
  return blob;
}

} // namespace seqc::cuda
