//===- Buffers.h - The inputs and outputs seqc bench runs on ----*- C++ -*-===//
//
// Part of seqc. Every batch size of a benchmark runs on the first rows of
// one input and one output buffer, sized for the largest batch, aligned as
// an app's buffers would be, and filled with fixed-seed random inputs so
// that runs are repeatable.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_BENCH_BUFFERS_H
#define SEQC_BENCH_BUFFERS_H

#include "compiler/ir/IR.h"

#include <cstdint>
#include <cstdlib>
#include <memory>

namespace seqc::bench {

/// Largest input + output (+ interpreter) memory one bench may allocate.
constexpr uint64_t kMaxBufferBytes = 8ull << 30;
/// Seed of the random inputs (uniform in [-1, 1)).
constexpr uint64_t kInputSeed = 20240229;

/// 64-byte aligned float storage, zero-filled; throws std::bad_alloc.
class AlignedFloats {
public:
  explicit AlignedFloats(uint64_t count);
  float *get() const { return data.get(); }

private:
  struct Free {
    void operator()(float *p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data;
};

/// Fills \p count floats with uniform values in [-1, 1) from \p seed.
void fillUniform(float *data, uint64_t count, uint64_t seed = kInputSeed);

/// The input every run reads and the output it writes.
struct RunBuffers {
  AlignedFloats input;
  AlignedFloats output;
};

/// Buffers for batches up to \p maxBatch of \p model, the input filled
/// from kInputSeed.
RunBuffers makeRunBuffers(const ir::Model &model, uint64_t maxBatch);

/// Bytes a benchmark of \p model at batches up to \p maxBatch allocates:
/// the input and output, plus, with \p interpreter, the float64 matrices
/// the reference interpreter holds, each as wide as the widest value.
double bufferBytes(const ir::Model &model, uint64_t maxBatch, bool interpreter);

} // namespace seqc::bench

#endif // SEQC_BENCH_BUFFERS_H
