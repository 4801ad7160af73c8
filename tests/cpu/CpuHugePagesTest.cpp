//===- CpuHugePagesTest.cpp - The JIT's weights in 2 MiB pages ------------===//
//
// CpuTargetOptions::hugePages: once linked, the JIT moves its read-only
// data (the packed weights) or its external-weights blob into transparent
// huge pages. The code computes the same bits either way; the bytes it
// reports are whole 2 MiB pages, none when turned off, and some whenever
// this kernel collapses a buffer of our own.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cpu/CpuBackend.h"
#include "compiler/support/HugePages.h"
#include "tests/cpu/JitChecks.h"
#include "tests/cpu/TestModels.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

using namespace seqc;
using namespace seqc::codegen::cpu;

namespace {

/// Whether this kernel collapses a buffer of ours into huge pages.
bool kernelCollapses() {
  HugePageBuffer probe(2 * kHugePageBytes);
  if (!probe.data())
    return false;
  std::memset(probe.data(), 1, probe.size());
  return collapseToHugePages(probe.data(), probe.size()) == 2 * kHugePageBytes;
}

std::vector<float> runOnce(const ir::Model &model, const JitModel &jit,
                           const std::vector<float> &input, uint64_t batch) {
  std::vector<float> out(batch * model.outputType().features());
  std::vector<unsigned char> scratch(jit.scratchBytes(batch) + 1);
  REQUIRE(jit.run(input.data(), out.data(), batch, scratch.data()) == kRunOk);
  return out;
}

} // namespace

TEST_CASE("huge pages: same results, whole pages reported, none when off") {
  // 256 -> 1536 ReLU -> 768: 6.3 MB of packed weights, a streaming layer.
  test::ModelBuilder mb(256, 41);
  mb.dense(1536, {ir::ActKind::ReLU, 0, 0});
  mb.dense(768, {ir::ActKind::Tanh, 0, 0});
  const uint64_t weightBytes = (256 * 1536 + 1536 * 768) * 4;
  bool collapses = kernelCollapses();

  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  const uint64_t batch = 37;
  std::vector<float> input(batch * 256);
  for (float &v : input)
    v = dist(rng);

  std::vector<float> want;
  for (bool external : {false, true}) {
    for (bool huge : {false, true}) {
      INFO("external " << external << " huge pages " << huge);
      std::unique_ptr<JitModel> jit =
          test::compile(mb.model, "", false, external, huge);
      uint64_t inHuge = jit->hugePageBytes();
      CHECK(inHuge % kHugePageBytes == 0);
      CHECK(inHuge <= weightBytes + 2 * kHugePageBytes);
      if (!huge)
        CHECK(inHuge == 0);
      else if (collapses)
        CHECK(inHuge >= 2 * kHugePageBytes);
      int mode = 0;
      for (uint64_t b : {uint64_t(1), uint64_t(7), batch})
        test::checkBatch(mb.model, *jit, b, rng, mode++);
      std::vector<float> got = runOnce(mb.model, *jit, input, batch);
      if (want.empty())
        want = got;
      else
        CHECK(std::memcmp(got.data(), want.data(), got.size() * 4) == 0);
    }
  }
}
