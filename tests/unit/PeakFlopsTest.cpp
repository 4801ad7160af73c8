//===- PeakFlopsTest.cpp - The FMA microbenchmark behind seqc bench -------===//
//
// The ISA choice follows --cpu and never exceeds what the host supports, and
// the measured peak of a wide ISA is well above the scalar one (8-16 lanes
// against 1: a factor of 2 holds even on a loaded machine). The int8 peak is
// `vpdpbusd`'s, used only where --cpu lets the kernels use VNNI.
//
//===----------------------------------------------------------------------===//

#include "compiler/bench/PeakFlops.h"

#include <doctest/doctest.h>

#include <algorithm>

using namespace seqc::bench;

TEST_CASE("isaForCpuOption caps the x86-64 level at the host's ISA") {
  SimdIsa host = detectHostIsa();
  CHECK(isaForCpuOption("") == host);
  CHECK(isaForCpuOption("native") == host);
  CHECK(isaForCpuOption("znver3") == host);
#if defined(__x86_64__)
  CHECK(host >= SimdIsa::Sse);
  CHECK(isaForCpuOption("x86-64") == SimdIsa::Sse);
  CHECK(isaForCpuOption("x86-64-v2") == SimdIsa::Sse);
  CHECK(isaForCpuOption("x86-64-v3") == std::min(SimdIsa::Avx2Fma, host));
  CHECK(isaForCpuOption("x86-64-v4") == std::min(SimdIsa::Avx512, host));
  // A list is dispatched at run time: the best entry the host runs.
  CHECK(isaForCpuOption("x86-64-v2,x86-64-v3") ==
        std::min(SimdIsa::Avx2Fma, host));
  CHECK(isaForCpuOption("x86-64-v4,x86-64-v2") ==
        std::min(SimdIsa::Avx512, host));
#endif
}

TEST_CASE("ISA names") {
  CHECK(isaName(SimdIsa::Avx512) == "AVX-512 FMA");
  CHECK(isaName(SimdIsa::Avx2Fma) == "AVX2 FMA");
  CHECK(isaName(SimdIsa::Sse) == "SSE mul+add");
  CHECK(isaName(SimdIsa::Scalar) == "scalar");
}

TEST_CASE("host description") {
  CHECK(hostHardwareThreads() >= 1);
  CHECK(!hostCpuName().empty());
}

TEST_CASE("the widest ISA's measured peak is well above scalar code's") {
  SimdIsa host = detectHostIsa();
  PeakFlops scalar = measurePeakFlops(SimdIsa::Scalar, 1);
  CHECK(scalar.isa == SimdIsa::Scalar);
  CHECK(scalar.threads == 1);
  CHECK(scalar.gflops > 0.0);
  if (host == SimdIsa::Scalar)
    return;
  PeakFlops wide = measurePeakFlops(host, 1);
  CHECK(wide.isa == host);
  CHECK(wide.gflops > 2.0 * scalar.gflops);
  // Every ISA below the host's runs too (the kernels check nothing
  // themselves: the caller's CPUID check is what keeps them safe).
  for (SimdIsa isa : {SimdIsa::Sse, SimdIsa::Avx2Fma, SimdIsa::Avx512})
    if (isa <= host)
      CHECK(measurePeakFlops(isa, 1).gflops > 0.0);
}

TEST_CASE("the peak is measured on every requested thread") {
  PeakFlops two = measurePeakFlops(detectHostIsa(), 2);
  CHECK(two.threads == 2);
  CHECK(two.gflops > 0.0);
}

TEST_CASE("VNNI follows the host and --cpu: x86-64 levels lack it") {
  bool vnni = hostHasAvx512Vnni();
  if (vnni)
    CHECK(detectHostIsa() == SimdIsa::Avx512);
  CHECK(cpuOptionUsesVnni("") == vnni);
  CHECK(cpuOptionUsesVnni("native") == vnni);
  CHECK(cpuOptionUsesVnni("sapphirerapids") == vnni);
  CHECK(cpuOptionUsesVnni("x86-64-v3,sapphirerapids") == vnni);
  CHECK_FALSE(cpuOptionUsesVnni("x86-64-v4"));
  CHECK_FALSE(cpuOptionUsesVnni("x86-64-v3,x86-64-v4"));
  CHECK_FALSE(cpuOptionUsesVnni("x86-64,x86-64-v2"));
}

TEST_CASE("the int8 peak counts vpdpbusd's products, named as such") {
  PeakFlops fma{SimdIsa::Avx512, 1, 100.0};
  CHECK(peakName(fma) == "AVX-512 FMA");
  CHECK(peakUnit(fma) == "GFLOP/s FP32");
  PeakFlops dot{SimdIsa::Avx512, 1, 400.0, PeakOp::Int8Dot};
  CHECK(peakName(dot) == "AVX512-VNNI vpdpbusd");
  CHECK(peakUnit(dot) == "GOP/s int8");
  if (!hostHasAvx512Vnni())
    return;
  // 64 products a zmm instruction against 16 FMAs: at least as many
  // operations a second even on a loaded machine.
  PeakFlops measured = measurePeakFlops(SimdIsa::Avx512, 1, PeakOp::Int8Dot);
  CHECK(measured.op == PeakOp::Int8Dot);
  CHECK(measured.gflops > measurePeakFlops(SimdIsa::Avx512, 1).gflops);
}

TEST_CASE("without VNNI, the int8 peak is pmaddwd's in the ISA") {
  for (auto [isa, name] : {std::pair{SimdIsa::Avx512, "AVX-512 vpmaddwd"},
                           std::pair{SimdIsa::Avx2Fma, "AVX2 vpmaddwd"},
                           std::pair{SimdIsa::Sse, "SSE2 pmaddwd"}}) {
    PeakFlops madd{isa, 1, 200.0, PeakOp::Int16Madd};
    CHECK(peakName(madd) == name);
    CHECK(peakUnit(madd) == "GOP/s int8");
  }
  // Measured in every ISA up to the host's (AVX-512 without AVX512BW
  // measures AVX2's); how fast is bench's business, not a test's.
  SimdIsa host = detectHostIsa();
  for (SimdIsa isa : {SimdIsa::Sse, SimdIsa::Avx2Fma, SimdIsa::Avx512}) {
    if (isa > host)
      continue;
    PeakFlops measured = measurePeakFlops(isa, 1, PeakOp::Int16Madd);
    INFO(peakName(measured));
    CHECK(measured.op == PeakOp::Int16Madd);
    CHECK(measured.gflops > 0.0);
  }
  // A CPU without x86 SIMD has no such instruction: FP32 it is.
  CHECK(measurePeakFlops(SimdIsa::Scalar, 1, PeakOp::Int16Madd).op ==
        PeakOp::Fp32Fma);
}
