//===- PeakFlops.h - Measured FP32 peak of this machine ---------*- C++ -*-===//
//
// Part of seqc. `seqc bench` reports GFLOP/s as a fraction of what this
// machine can do, measured rather than taken from a datasheet: independent
// chains of FP32 fused multiply-adds in the widest SIMD ISA the CPU and the
// operating system support (or the one the generated code is limited to),
// run on every requested thread at once.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_DRIVER_PEAKFLOPS_H
#define SEQC_DRIVER_PEAKFLOPS_H

#include <string>
#include <string_view>

namespace seqc::driver {

/// The FP32 arithmetic the microbenchmark uses, narrowest first.
enum class SimdIsa {
  Scalar,  ///< scalar multiply and add (no x86 SIMD)
  Sse,     ///< 4-wide SSE multiply + add (x86-64 v1/v2: no FMA)
  Avx2Fma, ///< 8-wide AVX2 FMA (x86-64-v3)
  Avx512,  ///< 16-wide AVX-512F FMA (x86-64-v4)
};

/// "AVX-512 FMA", "AVX2 FMA", "SSE mul+add", "scalar".
std::string_view isaName(SimdIsa isa);

/// The widest ISA this CPU (CPUID) and operating system (XGETBV: the OS
/// saves the wide registers) support.
SimdIsa detectHostIsa();

/// The ISA code generated for `--cpu CPU` uses on this host: the host's best
/// for "" and "native", capped by the x86-64 level (v2, v3, v4) or by the
/// best entry of a comma-separated list. CPU names that are not x86-64
/// levels give the host's best.
SimdIsa isaForCpuOption(std::string_view cpu);

/// The CPU's brand string from CPUID ("AMD EPYC 7B13"), or "unknown".
std::string hostCpuName();

/// Hardware threads available to this process.
unsigned hostHardwareThreads();

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

} // namespace seqc::driver

#endif // SEQC_DRIVER_PEAKFLOPS_H
