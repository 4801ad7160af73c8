//===- PeakFlopsTest.cpp - The FMA microbenchmark behind seqc bench -------===//
//
// The ISA choice follows --cpu and never exceeds what the host supports, and
// the measured peak of a wide ISA is well above the scalar one (8-16 lanes
// against 1: a factor of 2 holds even on a loaded machine).
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
