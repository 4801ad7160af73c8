//===- HostCpu.cpp - What the host CPU is and which FP32 ISA it runs ------===//

#include "compiler/bench/HostCpu.h"

#include <algorithm>
#include <cstdint>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#define SEQC_HOST_X86 1
#include <cpuid.h>
#endif

#include <chrono>

#ifdef __linux__
#include <sched.h>
#include <time.h>
#include <unistd.h>
#endif

namespace seqc::bench {

namespace {

#ifdef SEQC_HOST_X86
/// XCR0, the register state the OS saves on a context switch.
uint64_t readXcr0() {
  uint32_t eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (uint64_t(edx) << 32) | eax;
}
#endif // SEQC_HOST_X86

} // namespace

std::string_view isaName(SimdIsa isa) {
  switch (isa) {
  case SimdIsa::Avx512:
    return "AVX-512 FMA";
  case SimdIsa::Avx2Fma:
    return "AVX2 FMA";
  case SimdIsa::Sse:
    return "SSE mul+add";
  case SimdIsa::Scalar:
    break;
  }
  return "scalar";
}

SimdIsa detectHostIsa() {
#ifdef SEQC_HOST_X86
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
    return SimdIsa::Sse;
  bool osxsave = ecx & (1u << 27), avx = ecx & (1u << 28),
       fma = ecx & (1u << 12);
  if (!osxsave || !avx)
    return SimdIsa::Sse;
  uint64_t xcr0 = readXcr0();
  // XMM and YMM state (bits 1, 2); opmask, ZMM_Hi256, Hi16_ZMM (5, 6, 7).
  bool osAvx = (xcr0 & 0x6) == 0x6;
  bool osAvx512 = (xcr0 & 0xe6) == 0xe6;
  if (!osAvx || !__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx))
    return SimdIsa::Sse;
  bool avx2 = ebx & (1u << 5), avx512f = ebx & (1u << 16);
  if (avx512f && osAvx512 && fma)
    return SimdIsa::Avx512;
  if (avx2 && fma)
    return SimdIsa::Avx2Fma;
  return SimdIsa::Sse;
#else
  return SimdIsa::Scalar;
#endif
}

SimdIsa isaForCpuOption(std::string_view cpu) {
  SimdIsa host = detectHostIsa();
  if (cpu.empty())
    return host;
  bool any = false;
  SimdIsa best = SimdIsa::Scalar;
  while (true) {
    size_t comma = cpu.find(',');
    std::string_view entry = cpu.substr(0, comma);
    SimdIsa level = host;
    if (entry == "x86-64-v4")
      level = SimdIsa::Avx512;
    else if (entry == "x86-64-v3")
      level = SimdIsa::Avx2Fma;
    else if (entry == "x86-64-v2" || entry == "x86-64")
      level = SimdIsa::Sse;
    SimdIsa usable = std::min(level, host);
    best = any ? std::max(best, usable) : usable;
    any = true;
    if (comma == std::string_view::npos)
      break;
    cpu.remove_prefix(comma + 1);
  }
  return best;
}

namespace {

/// An AVX-512 extension's bit in CPUID leaf 7 (subleaf 0): register \p reg
/// (1 = ebx, 2 = ecx), bit \p bit; false without AVX-512 and its OS
/// support.
bool hostHasAvx512Bit([[maybe_unused]] unsigned reg,
                      [[maybe_unused]] unsigned bit) {
#ifdef SEQC_HOST_X86
  if (detectHostIsa() != SimdIsa::Avx512)
    return false;
  unsigned regs[4];
  if (!__get_cpuid_count(7, 0, &regs[0], &regs[1], &regs[2], &regs[3]))
    return false;
  return regs[reg] & (1u << bit);
#else
  return false;
#endif
}

} // namespace

bool hostHasAvx512Vnni() { return hostHasAvx512Bit(2, 11); }

bool hostHasAvx512Bw() { return hostHasAvx512Bit(1, 30); }

bool cpuOptionUsesVnni(std::string_view cpu) {
  if (!hostHasAvx512Vnni())
    return false;
  if (cpu.empty())
    return true;
  while (true) {
    size_t comma = cpu.find(',');
    std::string_view entry = cpu.substr(0, comma);
    if (entry != "x86-64-v4" && entry != "x86-64-v3" && entry != "x86-64-v2" &&
        entry != "x86-64")
      return true;
    if (comma == std::string_view::npos)
      return false;
    cpu.remove_prefix(comma + 1);
  }
}

std::string hostCpuName() {
#ifdef SEQC_HOST_X86
  unsigned regs[12] = {};
  unsigned maxLeaf = __get_cpuid_max(0x80000000u, nullptr);
  if (maxLeaf < 0x80000004u)
    return "unknown";
  for (unsigned i = 0; i < 3; ++i)
    __get_cpuid(0x80000002u + i, &regs[4 * i], &regs[4 * i + 1],
                &regs[4 * i + 2], &regs[4 * i + 3]);
  std::string name(reinterpret_cast<const char *>(regs), sizeof(regs));
  name.resize(name.find('\0') == std::string::npos ? name.size()
                                                   : name.find('\0'));
  size_t first = name.find_first_not_of(' ');
  size_t last = name.find_last_not_of(' ');
  if (first == std::string::npos)
    return "unknown";
  return name.substr(first, last - first + 1);
#else
  return "unknown";
#endif
}

unsigned hostHardwareThreads() {
#ifdef __linux__
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
    return static_cast<unsigned>(CPU_COUNT(&set));
#endif
  unsigned n = std::thread::hardware_concurrency();
  return n ? n : 1;
}

double threadCpuSeconds() {
#ifdef __linux__
  timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0)
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
#endif
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

uint64_t lastLevelCacheBytes() {
#if defined(__linux__) && defined(_SC_LEVEL3_CACHE_SIZE)
  for (int level :
       {_SC_LEVEL4_CACHE_SIZE, _SC_LEVEL3_CACHE_SIZE, _SC_LEVEL2_CACHE_SIZE}) {
    long bytes = sysconf(level);
    if (bytes > 0)
      return uint64_t(bytes);
  }
#endif
  return 0;
}

} // namespace seqc::bench
