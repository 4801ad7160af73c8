//===- WeightLayouts.cpp - The CUDA kernels' parameter layouts ------------===//
//
// Part of seqc. The blob of a CUDA plan: each planned array at its offset,
// zeros in between. Weight matrices are packed by the layouts every backend
// shares (codegen/common/WeightPacking.h); biases are padded with zeros.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/common/WeightPacking.h"
#include "compiler/codegen/cuda/Internal.h"

#include <cassert>
#include <cstring>

namespace seqc::cuda {

namespace {

/// The common description (WeightPacking.h) of a planned weight array:
/// W^T [in][ldw] is one panel of ldw outputs, k steps apart; the row
/// layouts are W's rows padded to `columns`, `rows` of them.
codegen::WeightLayout weightLayout(const PlannedArray &array, const Stage &s,
                                   Precision precision) {
  uint64_t in = static_cast<uint64_t>(s.in), out = static_cast<uint64_t>(s.out);
  uint64_t columns = static_cast<uint64_t>(array.columns);
  uint64_t rows = static_cast<uint64_t>(array.rows);
  switch (array.layout) {
  case ArrayLayout::TransposedF32:
    assert(columns >= out && "W^T's rows hold every output");
    return codegen::WeightLayout::panelsOf(out, in, columns);
  case ArrayLayout::RowsF32:
    return codegen::WeightLayout::rowsOf(out, in, columns, rows);
  case ArrayLayout::Rows16:
    return codegen::WeightLayout::rowsOf(out, in, columns, rows,
                                         precision == Precision::BF16
                                             ? codegen::ElementType::BF16
                                             : codegen::ElementType::F16);
  case ArrayLayout::Vector:
  case ArrayLayout::PaddedBias:
    break;
  }
  assert(false && "not a weight layout");
  return {};
}

/// Copies \p values to \p array's place in \p blob.
template <typename T>
void copyInto(std::vector<uint8_t> &blob, const PlannedArray &array,
              const std::vector<T> &values) {
  assert(values.size() * sizeof(T) == array.bytes());
  if (!values.empty())
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
      copyInto(blob, a, codegen::padTo(data, static_cast<uint64_t>(a.columns)));
      break;
    case ArrayLayout::TransposedF32:
    case ArrayLayout::RowsF32:
    case ArrayLayout::Rows16: {
      codegen::WeightLayout layout = weightLayout(a, s, plan.precision);
      assert(layout.bytes() == a.bytes() && "the plan sized the array");
      codegen::packWeights(data.data(), layout, blob.data() + a.offset);
      break;
    }
    }
  }
  return blob;
}

} // namespace seqc::cuda
