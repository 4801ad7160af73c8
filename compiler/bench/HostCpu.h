//===- HostCpu.h - What the host CPU is and which FP32 ISA it runs -*- C++ -*-//
//
// Part of seqc. `seqc bench` names the machine it measured and measures the
// peak of the widest SIMD ISA the generated code may use, which is the
// smaller of what the CPU and the operating system support and what --cpu
// allowed the code generator.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_BENCH_HOSTCPU_H
#define SEQC_BENCH_HOSTCPU_H

#include <cstdint>
#include <string>
#include <string_view>

namespace seqc::bench {

/// The FP32 arithmetic the peak microbenchmark uses, narrowest first.
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

/// True when this CPU has AVX512_VNNI (`vpdpbusd` on zmm) and the OS
/// saves the AVX-512 state.
bool hostHasAvx512Vnni();

/// AVX512BW (CPUID leaf 7, ebx bit 30), which the 512-bit integer
/// multiply-adds (vpmaddwd) need, with OS support for AVX-512.
bool hostHasAvx512Bw();

/// True when code generated for `--cpu CPU` can use AVX512_VNNI on this
/// host: the host has it and some entry of the list is not an x86-64 level
/// (x86-64-v2/v3/v4 lack VNNI; "", "native" and CPU names are taken as the
/// host, as isaForCpuOption does).
bool cpuOptionUsesVnni(std::string_view cpu);

/// The CPU's brand string from CPUID ("AMD EPYC 7B13"), or "unknown".
std::string hostCpuName();

/// Hardware threads available to this process.
unsigned hostHardwareThreads();

/// CPU time of the calling thread in seconds where the OS has it, else
/// wall time: a thread that the scheduler takes off the core (the machine
/// is shared) does not count as slow.
double threadCpuSeconds();

/// Bytes of the largest cache level the OS reports (one instance of it), or
/// 0 when it reports none.
uint64_t lastLevelCacheBytes();

} // namespace seqc::bench

#endif // SEQC_BENCH_HOSTCPU_H
