//===- PeakFlops.h - Measured FP32 peak of this machine ---------*- C++ -*-===//
//
// Part of seqc. `seqc bench` reports GFLOP/s as a fraction of what this
// machine can do, measured rather than taken from a datasheet: independent
// chains of FP32 fused multiply-adds in the widest SIMD ISA the CPU and the
// operating system support (or the one the generated code is limited to),
// run on every requested thread at once.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_BENCH_PEAKFLOPS_H
#define SEQC_BENCH_PEAKFLOPS_H

#include "compiler/bench/HostCpu.h"

namespace seqc::bench {

/// One measurement of the machine's peak.
struct PeakFlops {
  SimdIsa isa = SimdIsa::Scalar;
  unsigned threads = 1;
  /// Sum over threads of FLOP/s, counting an FMA as 2 FLOP, in GFLOP/s.
  double gflops = 0.0;
};

/// Runs FMA chains (enough independent accumulators to cover the latency of
/// two FMA pipes) on \p threads threads at once, best of a few ~20 ms trials.
/// Each thread's rate is taken over its own CPU time (Linux), so time the
/// scheduler gives to other processes on a shared machine is not counted;
/// at most hostHardwareThreads() threads are counted. Takes about 0.2 s of
/// CPU time. gflops is 0 when the threads cannot be started.
PeakFlops measurePeakFlops(SimdIsa isa, unsigned threads);

} // namespace seqc::bench

#endif // SEQC_BENCH_PEAKFLOPS_H
