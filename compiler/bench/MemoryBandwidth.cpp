//===- MemoryBandwidth.cpp - Measured memory read bandwidth ---------------===//
//
// Part of seqc. The buffer is written once (so its pages exist and hold
// data the reads cannot predict), then every pass has each thread sum its
// slice with four independent 16-byte vector accumulators: enough loads in
// flight that the memory system, not the adds, limits the pass. GCC's
// vector extension keeps the loop the same on x86-64 and AArch64.
//
//===----------------------------------------------------------------------===//

#include "compiler/bench/MemoryBandwidth.h"

#include "compiler/bench/HostCpu.h"
#include "compiler/bench/RunTogether.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <new>
#include <vector>

namespace seqc::bench {

namespace {

using Vec = uint64_t __attribute__((vector_size(16)));

constexpr uint64_t kMinBufferBytes = uint64_t(64) << 20;
constexpr uint64_t kMaxBufferBytes = uint64_t(512) << 20;
constexpr int kPasses = 5;

/// Sums \p count vectors from \p data; the result depends on every one.
uint64_t sumVectors(const Vec *data, size_t count) {
  Vec a = {0, 0}, b = a, c = a, d = a;
  size_t i = 0;
  for (; i + 4 <= count; i += 4) {
    a += data[i];
    b += data[i + 1];
    c += data[i + 2];
    d += data[i + 3];
  }
  for (; i < count; ++i)
    a += data[i];
  Vec sum = a + b + c + d;
  return sum[0] + sum[1];
}

/// One pass: every thread reads its slice of \p data. Returns the GB/s of
/// the counted threads, or 0 when a thread cannot be started.
double readPass(const Vec *data, size_t count, unsigned threads,
                std::atomic<uint64_t> &sink) {
  std::vector<double> rates(threads, 0.0);
  size_t slice = count / threads;
  bool started = runTogether(threads, [&](unsigned t) {
    double start = threadCpuSeconds();
    sink.fetch_add(sumVectors(data + t * slice, slice),
                   std::memory_order_relaxed);
    double seconds = threadCpuSeconds() - start;
    rates[t] = seconds > 0 ? double(slice * sizeof(Vec)) / seconds : 0.0;
  });
  return started ? countedRate(rates) * 1e-9 : 0.0;
}

} // namespace

MemoryBandwidth measureMemoryBandwidth(unsigned threads) {
  MemoryBandwidth result;
  result.threads = std::max(threads, 1u);
  result.bufferBytes =
      std::clamp(4 * lastLevelCacheBytes(), kMinBufferBytes, kMaxBufferBytes);
  size_t count = result.bufferBytes / sizeof(Vec);
  std::unique_ptr<Vec[]> data(new (std::nothrow) Vec[count]);
  if (!data)
    return result;
  for (size_t i = 0; i < count; ++i)
    data[i] = Vec{i, i ^ 0x5555};
  std::atomic<uint64_t> sink{0};
  for (int pass = 0; pass < kPasses; ++pass)
    result.gbPerSecond = std::max(
        result.gbPerSecond, readPass(data.get(), count, result.threads, sink));
  return result;
}

} // namespace seqc::bench
