//===- MemoryBandwidth.h - Measured memory read bandwidth -------*- C++ -*-===//
//
// Part of seqc. The roofline of `seqc bench --layers --format html|svg`
// needs the slope that memory puts under every stage: how many bytes per
// second the cores can read from memory. Like the FLOP peak it is measured
// on the spot rather than taken from a datasheet: a streaming read of a
// buffer several times larger than the last-level cache, on the threads
// the benchmark runs with.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_BENCH_MEMORYBANDWIDTH_H
#define SEQC_BENCH_MEMORYBANDWIDTH_H

#include <cstdint>

namespace seqc::bench {

/// One measurement of the read bandwidth.
struct MemoryBandwidth {
  /// The buffer read: 4 x the last-level cache, within [64 MiB, 512 MiB].
  uint64_t bufferBytes = 0;
  unsigned threads = 1;
  /// Bytes read per second over all threads, in GB/s (10^9 bytes); 0 when
  /// the buffer or the threads could not be had.
  double gbPerSecond = 0.0;
};

/// Reads a buffer of MemoryBandwidth::bufferBytes (each of \p threads
/// threads its own contiguous slice) a few times and keeps the best pass.
/// Each thread's rate is taken over its own CPU time, as the FLOP peak's is;
/// at most hostHardwareThreads() threads are counted. Takes about 0.5 s and
/// the buffer's memory for that time.
MemoryBandwidth measureMemoryBandwidth(unsigned threads);

} // namespace seqc::bench

#endif // SEQC_BENCH_MEMORYBANDWIDTH_H
