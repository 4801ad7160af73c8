//===- PeakFlops.cpp - Measured FP32 peak of this machine -----------------===//
//
// Part of seqc. Each kernel keeps many independent accumulators in
// registers and updates every one with `acc = acc * a + b` per iteration: a
// chain per accumulator, so the number of chains in flight covers the FMA
// latency (4-5 cycles) times the FMA pipes (2) on current x86 cores. The
// values converge to b / (1 - a) and never become denormal. The kernels are
// compiled for their ISA with __attribute__((target)) and called only after
// CPUID and XGETBV say the CPU and the OS support it.
//
//===----------------------------------------------------------------------===//

#include "compiler/bench/PeakFlops.h"

#include "compiler/bench/RunTogether.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#define SEQC_PEAK_X86 1
#include <immintrin.h>
#endif

namespace seqc::bench {

namespace {

/// A kernel runs \p iters iterations and returns a value that depends on
/// every accumulator, so no chain can be dropped.
using Kernel = float (*)(uint64_t iters, float seed);

#define SEQC_REPEAT8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define SEQC_REPEAT12(X) SEQC_REPEAT8(X) X(8) X(9) X(10) X(11)
#define SEQC_REPEAT24(X)                                                       \
  SEQC_REPEAT12(X)                                                             \
  X(12) X(13) X(14) X(15) X(16) X(17) X(18) X(19) X(20) X(21) X(22) X(23)

/// 8 scalar chains of multiply + add.
constexpr unsigned kScalarChains = 8;
float scalarChains(uint64_t iters, float seed) {
  const float a = 0.9999999f, b = seed * 1e-7f;
#define SEQC_DECL(i) float acc##i = seed + float(i);
  SEQC_REPEAT8(SEQC_DECL)
#undef SEQC_DECL
  for (uint64_t n = 0; n < iters; ++n) {
#define SEQC_STEP(i) acc##i = acc##i * a + b;
    SEQC_REPEAT8(SEQC_STEP)
#undef SEQC_STEP
  }
  float sum = 0.0f;
#define SEQC_SUM(i) sum += acc##i;
  SEQC_REPEAT8(SEQC_SUM)
#undef SEQC_SUM
  return sum;
}

#ifdef SEQC_PEAK_X86

/// 12 chains of 4-wide SSE multiply + add (two instructions per update).
constexpr unsigned kSseChains = 12;
__attribute__((target("sse2"))) float sseChains(uint64_t iters, float seed) {
  const __m128 a = _mm_set1_ps(0.9999999f), b = _mm_set1_ps(seed * 1e-7f);
#define SEQC_DECL(i) __m128 acc##i = _mm_set1_ps(seed + float(i));
  SEQC_REPEAT12(SEQC_DECL)
#undef SEQC_DECL
  for (uint64_t n = 0; n < iters; ++n) {
#define SEQC_STEP(i) acc##i = _mm_add_ps(_mm_mul_ps(acc##i, a), b);
    SEQC_REPEAT12(SEQC_STEP)
#undef SEQC_STEP
  }
  __m128 sum = _mm_setzero_ps();
#define SEQC_SUM(i) sum = _mm_add_ps(sum, acc##i);
  SEQC_REPEAT12(SEQC_SUM)
#undef SEQC_SUM
  alignas(16) float lanes[4];
  _mm_store_ps(lanes, sum);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

/// 12 chains of 8-wide FMA: 14 of the 16 ymm registers.
constexpr unsigned kAvx2Chains = 12;
__attribute__((target("avx2,fma"))) float avx2Chains(uint64_t iters,
                                                     float seed) {
  const __m256 a = _mm256_set1_ps(0.9999999f), b = _mm256_set1_ps(seed * 1e-7f);
#define SEQC_DECL(i) __m256 acc##i = _mm256_set1_ps(seed + float(i));
  SEQC_REPEAT12(SEQC_DECL)
#undef SEQC_DECL
  for (uint64_t n = 0; n < iters; ++n) {
#define SEQC_STEP(i) acc##i = _mm256_fmadd_ps(acc##i, a, b);
    SEQC_REPEAT12(SEQC_STEP)
#undef SEQC_STEP
  }
  __m256 sum = _mm256_setzero_ps();
#define SEQC_SUM(i) sum = _mm256_add_ps(sum, acc##i);
  SEQC_REPEAT12(SEQC_SUM)
#undef SEQC_SUM
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, sum);
  float total = 0.0f;
  for (float lane : lanes)
    total += lane;
  return total;
}

/// 24 chains of 16-wide FMA: 26 of the 32 zmm registers.
constexpr unsigned kAvx512Chains = 24;
__attribute__((target("avx512f"))) float avx512Chains(uint64_t iters,
                                                      float seed) {
  const __m512 a = _mm512_set1_ps(0.9999999f), b = _mm512_set1_ps(seed * 1e-7f);
#define SEQC_DECL(i) __m512 acc##i = _mm512_set1_ps(seed + float(i));
  SEQC_REPEAT24(SEQC_DECL)
#undef SEQC_DECL
  for (uint64_t n = 0; n < iters; ++n) {
#define SEQC_STEP(i) acc##i = _mm512_fmadd_ps(acc##i, a, b);
    SEQC_REPEAT24(SEQC_STEP)
#undef SEQC_STEP
  }
  __m512 sum = _mm512_setzero_ps();
#define SEQC_SUM(i) sum = _mm512_add_ps(sum, acc##i);
  SEQC_REPEAT24(SEQC_SUM)
#undef SEQC_SUM
  // Not _mm512_reduce_add_ps: GCC 12's header warns inside it.
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, sum);
  float total = 0.0f;
  for (float lane : lanes)
    total += lane;
  return total;
}

/// 24 chains of `vpdpbusd` (64 u8 x s8 products summed four at a time into
/// 16 int32 lanes). Integer sums wrap without harm; the result only keeps
/// the chains alive.
constexpr unsigned kVnniChains = 24;
__attribute__((target("avx512f,avx512vnni"))) float vnniChains(uint64_t iters,
                                                               float seed) {
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-5);
#define SEQC_DECL(i) __m512i acc##i = _mm512_set1_epi32(int(seed) + i);
  SEQC_REPEAT24(SEQC_DECL)
#undef SEQC_DECL
  for (uint64_t n = 0; n < iters; ++n) {
#define SEQC_STEP(i) acc##i = _mm512_dpbusd_epi32(acc##i, a, b);
    SEQC_REPEAT24(SEQC_STEP)
#undef SEQC_STEP
  }
  __m512i sum = _mm512_setzero_si512();
#define SEQC_SUM(i) sum = _mm512_add_epi32(sum, acc##i);
  SEQC_REPEAT24(SEQC_SUM)
#undef SEQC_SUM
  alignas(64) int32_t lanes[16];
  _mm512_store_si512(lanes, sum);
  float total = 0.0f;
  for (int32_t lane : lanes)
    total += float(lane);
  return total;
}

/// int8's kernels without VNNI (Int8Dot::Pairs): per weight vector and
/// broadcast input, one `pmaddwd` added into its own accumulator. Here 8
/// chains of that pair (the chains go through `paddd`, one cycle), the
/// loop body one asm statement, so that the compiler neither hoists the
/// products out of the loop nor shares them, and keeps every accumulator
/// in a register. Integer sums wrap without harm.
#define SEQC_VEX_MADD(a, t)                                                    \
  "vpmaddwd %[w], %[s], %[" t "]\n\tvpaddd %[" t "], %[" a "], %[" a "]\n\t"
#define SEQC_SSE_MADD(a, t)                                                    \
  "movdqa %[w], %[" t "]\n\tpmaddwd %[s], %[" t "]\n\tpaddd %[" t "], %[" a    \
  "]\n\t"
#define SEQC_MADD_CHAINS(name, features, vec, set1, add, store, lanes, step)   \
  __attribute__((target(features))) float name(uint64_t iters, float seed) {   \
    vec w = set1(0x0003fffb), s = set1(int(seed) * 7), t0, t1;                 \
    vec a0 = set1(int(seed)), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0,     \
        a6 = a0, a7 = a0;                                                      \
    for (uint64_t n = 0; n < iters; ++n)                                       \
      asm volatile(                                                            \
          step("a0", "t0") step("a1", "t1") step("a2", "t0") step("a3", "t1")  \
              step("a4", "t0") step("a5", "t1") step("a6", "t0")               \
                  step("a7", "t1")                                             \
          : [a0] "+x"(a0), [a1] "+x"(a1), [a2] "+x"(a2), [a3] "+x"(a3),        \
            [a4] "+x"(a4), [a5] "+x"(a5), [a6] "+x"(a6), [a7] "+x"(a7),        \
            [t0] "=&x"(t0), [t1] "=&x"(t1)                                     \
          : [w] "x"(w), [s] "x"(s));                                           \
    vec sum =                                                                  \
        add(add(add(a0, a1), add(a2, a3)), add(add(a4, a5), add(a6, a7)));     \
    alignas(64) int32_t out[lanes];                                            \
    store(reinterpret_cast<vec *>(out), sum);                                  \
    float total = 0.0f;                                                        \
    for (int32_t lane : out)                                                   \
      total += float(lane);                                                    \
    return total;                                                              \
  }
constexpr unsigned kMaddChains = 8;
SEQC_MADD_CHAINS(sseMaddChains, "sse2", __m128i, _mm_set1_epi32, _mm_add_epi32,
                 _mm_store_si128, 4, SEQC_SSE_MADD)
SEQC_MADD_CHAINS(avx2MaddChains, "avx2", __m256i, _mm256_set1_epi32,
                 _mm256_add_epi32, _mm256_store_si256, 8, SEQC_VEX_MADD)
SEQC_MADD_CHAINS(avx512MaddChains, "avx512f,avx512bw", __m512i,
                 _mm512_set1_epi32, _mm512_add_epi32, _mm512_store_si512, 16,
                 SEQC_VEX_MADD)
#undef SEQC_MADD_CHAINS
#undef SEQC_SSE_MADD
#undef SEQC_VEX_MADD

#endif // SEQC_PEAK_X86

#undef SEQC_REPEAT8
#undef SEQC_REPEAT12
#undef SEQC_REPEAT24

/// The kernel for \p isa and \p op, and the operations one of its
/// iterations does.
Kernel kernelFor(SimdIsa isa, PeakOp op, double &flopsPerIter) {
#ifdef SEQC_PEAK_X86
  if (op == PeakOp::Int8Dot) {
    flopsPerIter = 2.0 * 64 * kVnniChains;
    return vnniChains;
  }
  if (op == PeakOp::Int16Madd && isa != SimdIsa::Scalar) {
    // 2 products per int32 lane, 2 operations each.
    unsigned lanes = isa == SimdIsa::Avx512 ? 16 : isa == SimdIsa::Sse ? 4 : 8;
    flopsPerIter = 2.0 * 2 * lanes * kMaddChains;
    return isa == SimdIsa::Avx512 ? avx512MaddChains
           : isa == SimdIsa::Sse  ? sseMaddChains
                                  : avx2MaddChains;
  }
#else
  (void)op;
#endif
  switch (isa) {
#ifdef SEQC_PEAK_X86
  case SimdIsa::Avx512:
    flopsPerIter = 2.0 * 16 * kAvx512Chains;
    return avx512Chains;
  case SimdIsa::Avx2Fma:
    flopsPerIter = 2.0 * 8 * kAvx2Chains;
    return avx2Chains;
  case SimdIsa::Sse:
    flopsPerIter = 2.0 * 4 * kSseChains;
    return sseChains;
#else
  case SimdIsa::Avx512:
  case SimdIsa::Avx2Fma:
  case SimdIsa::Sse:
#endif
  case SimdIsa::Scalar:
    break;
  }
  flopsPerIter = 2.0 * kScalarChains;
  return scalarChains;
}

/// Iterations of \p kernel for a trial of about 20 ms on this thread,
/// doubled from a small count until a run is long enough to scale from.
uint64_t calibrateIterations(Kernel kernel, volatile float &sink) {
  uint64_t iters = 1 << 12;
  double elapsed = 0.0;
  while (true) {
    double start = threadCpuSeconds();
    sink = sink + kernel(iters, 1.0f);
    elapsed = threadCpuSeconds() - start;
    if (elapsed >= 0.005 || iters >= (uint64_t(1) << 40))
      break;
    iters *= 2;
  }
  return std::max<uint64_t>(1, uint64_t(double(iters) * 0.02 / elapsed));
}

/// One trial: \p iters iterations of \p kernel on \p threads threads that
/// start together. Returns the GFLOP/s of the counted threads, or nullopt
/// when a thread cannot be started.
std::optional<double> runTrial(Kernel kernel, double flopsPerIter,
                               uint64_t iters, unsigned threads,
                               volatile float &sink) {
  std::vector<double> rates(threads, 0.0);
  std::vector<float> sums(threads, 0.0f);
  bool started = runTogether(threads, [&](unsigned t) {
    double start = threadCpuSeconds();
    sums[t] = kernel(iters, 1.0f + float(t));
    rates[t] = flopsPerIter * double(iters) / (threadCpuSeconds() - start);
  });
  if (!started)
    return std::nullopt;
  for (float sum : sums)
    sink = sink + sum;
  return countedRate(rates) * 1e-9;
}

} // namespace

std::string peakName(const PeakFlops &peak) {
  switch (peak.op) {
  case PeakOp::Int8Dot:
    return "AVX512-VNNI vpdpbusd";
  case PeakOp::Int16Madd:
    return peak.isa == SimdIsa::Avx512    ? "AVX-512 vpmaddwd"
           : peak.isa == SimdIsa::Avx2Fma ? "AVX2 vpmaddwd"
                                          : "SSE2 pmaddwd";
  case PeakOp::Fp32Fma:
    break;
  }
  return std::string(isaName(peak.isa));
}

std::string_view peakUnit(const PeakFlops &peak) {
  return peak.op == PeakOp::Fp32Fma ? "GFLOP/s FP32" : "GOP/s int8";
}

PeakFlops measurePeakFlops(SimdIsa isa, unsigned threads, PeakOp op) {
  threads = std::max(threads, 1u);
#ifndef SEQC_PEAK_X86
  op = PeakOp::Fp32Fma;
#endif
  if (op == PeakOp::Int16Madd && isa == SimdIsa::Scalar)
    op = PeakOp::Fp32Fma;
  if (op == PeakOp::Int16Madd && isa == SimdIsa::Avx512 && !hostHasAvx512Bw())
    isa = SimdIsa::Avx2Fma;
  double flopsPerIter = 0.0;
  Kernel kernel = kernelFor(isa, op, flopsPerIter);
  volatile float sink = 0.0f;
  uint64_t iters = calibrateIterations(kernel, sink);

  PeakFlops result;
  result.isa = isa;
  result.op = op;
  result.threads = threads;
  constexpr int kTrials = 6;
  for (int trial = 0; trial < kTrials; ++trial) {
    std::optional<double> gflops =
        runTrial(kernel, flopsPerIter, iters, threads, sink);
    if (!gflops) {
      result.gflops = 0.0;
      return result;
    }
    result.gflops = std::max(result.gflops, *gflops);
  }
  return result;
}

} // namespace seqc::bench
