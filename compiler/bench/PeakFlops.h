//===- PeakFlops.h - Measured FP32 peak of this machine ---------*- C++ -*-===//
//
// Part of seqc. `seqc bench` reports GFLOP/s as a fraction of what this
// machine can do, measured rather than taken from a datasheet: independent
// chains of FP32 fused multiply-adds in the widest SIMD ISA the CPU and the
// operating system support (or the one the generated code is limited to),
// run on every requested thread at once. For int8 code that uses VNNI, the
// same for chains of `vpdpbusd` (issue 21: each precision against the peak
// of the instruction its kernels use).
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_BENCH_PEAKFLOPS_H
#define SEQC_BENCH_PEAKFLOPS_H

#include "compiler/bench/HostCpu.h"

#include <string>
#include <string_view>

namespace seqc::bench {

/// The instruction whose peak is measured.
enum class PeakOp {
  Fp32Fma, ///< FP32 fused multiply-add (or mul + add) in `isa`
  Int8Dot, ///< AVX512-VNNI `vpdpbusd`: u8 x s8 products summed into int32
  /// `pmaddwd` + `paddd` in `isa` (SSE2, AVX2 or AVX-512BW): int16 x int16
  /// products summed in pairs, then into int32 accumulators; int8's
  /// kernels on x86 without VNNI.
  Int16Madd,
};

/// One measurement of the machine's peak.
struct PeakFlops {
  SimdIsa isa = SimdIsa::Scalar;
  unsigned threads = 1;
  /// Sum over threads of operations per second in G/s: FLOP/s counting an
  /// FMA as 2 FLOP, or for Int8Dot and Int16Madd 2 integer operations (a
  /// multiply and an add) per product.
  double gflops = 0.0;
  PeakOp op = PeakOp::Fp32Fma;
};

/// What was measured: isaName(isa) for Fp32Fma ("AVX-512 FMA"),
/// "AVX512-VNNI vpdpbusd" for Int8Dot, "AVX2 vpmaddwd" (or "AVX-512
/// vpmaddwd", "SSE2 pmaddwd") for Int16Madd.
std::string peakName(const PeakFlops &peak);
/// "GFLOP/s FP32" or "GOP/s int8" (Int8Dot, Int16Madd): what peak.gflops
/// counts.
std::string_view peakUnit(const PeakFlops &peak);

/// Runs FMA chains (enough independent accumulators to cover the latency of
/// two FMA pipes) on \p threads threads at once, best of a few ~20 ms trials.
/// Each thread's rate is taken over its own CPU time (Linux), so time the
/// scheduler gives to other processes on a shared machine is not counted;
/// at most hostHardwareThreads() threads are counted. Takes about 0.2 s of
/// CPU time. gflops is 0 when the threads cannot be started.
/// With \p op Int8Dot, chains of `vpdpbusd` instead (isa is then Avx512
/// and the host must have AVX512_VNNI: hostHasAvx512Vnni); with Int16Madd,
/// `pmaddwd` in isa (AVX-512 without AVX512BW measures AVX2's; Scalar
/// measures FP32 multiply + add, as there is no such instruction).
PeakFlops measurePeakFlops(SimdIsa isa, unsigned threads,
                           PeakOp op = PeakOp::Fp32Fma);

} // namespace seqc::bench

#endif // SEQC_BENCH_PEAKFLOPS_H
