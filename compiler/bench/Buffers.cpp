//===- Buffers.cpp - The inputs and outputs seqc bench runs on ------------===//

#include "compiler/bench/Buffers.h"

#include "compiler/bench/ModelCost.h"

#include <algorithm>
#include <new>
#include <random>

namespace seqc::bench {

AlignedFloats::AlignedFloats(uint64_t count) {
  uint64_t bytes = std::max<uint64_t>(64, (count * 4 + 63) / 64 * 64);
  data.reset(static_cast<float *>(std::aligned_alloc(64, bytes)));
  if (!data)
    throw std::bad_alloc();
  std::fill_n(data.get(), count, 0.0f);
}

void fillUniform(float *data, uint64_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (uint64_t i = 0; i < count; ++i)
    data[i] = float(double(rng() >> 40) * 0x1p-23 - 1.0);
}

RunBuffers makeRunBuffers(const ir::Model &model, uint64_t maxBatch) {
  uint64_t inputs = maxBatch * uint64_t(model.inputType().features());
  uint64_t outputs = maxBatch * uint64_t(model.outputType().features());
  RunBuffers buffers{AlignedFloats(inputs), AlignedFloats(outputs)};
  fillUniform(buffers.input.get(), inputs);
  return buffers;
}

double bufferBytes(const ir::Model &model, uint64_t maxBatch,
                   bool interpreter) {
  int64_t inFeatures = model.inputType().features();
  int64_t outFeatures = model.outputType().features();
  double bytes = double(maxBatch) * double(inFeatures + outFeatures) * 4.0;
  // The interpreter holds three float64 matrices at once: the converted
  // input, the value before an op and the value after it.
  if (interpreter)
    bytes += double(maxBatch) * double(widestValue(model)) * 8.0 * 3.0;
  return bytes;
}

} // namespace seqc::bench
