//===- CpuJitCacheTest.cpp - The JIT and the persistent object cache ------===//
//
// CpuTargetOptions::cacheDir: the first JitModel::create of a model misses
// and stores its object; the next one loads it (a hit) and computes the same
// bits through the same stages. Changing one weight, one flag or the CPU
// misses; external weights and profiling builds are cached whole; a damaged
// entry is reported corrupt and rebuilt; without a directory nothing is
// cached.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cpu/CpuBackend.h"
#include "compiler/support/FileIO.h"
#include "compiler/support/ObjectCache.h"
#include "tests/cpu/TestModels.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

using namespace seqc;
using namespace seqc::codegen::cpu;
using Outcome = ObjectCache::Outcome;
using seqc::codegen::Precision;
using seqc::codegen::precisionName;

namespace {

/// A fresh cache directory for one test.
struct CacheDir {
  CacheDir() : dir("seqc-jit-cache"), path(dir.path()) {
    REQUIRE(!path.empty());
  }
  /// The paths of the files in it.
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (const std::string &name : dir.fileNames())
      out.push_back(joinPath(path, name));
    return out;
  }
  TemporaryDirectory dir;
  std::string path;
};

struct Compiled {
  std::unique_ptr<JitModel> jit;
  std::vector<float> output;
};

/// JIT-compiles \p model with \p opts and runs it on a fixed batch.
Compiled compileAndRun(const ir::Model &model, const CpuTargetOptions &opts) {
  std::string error;
  Compiled c;
  c.jit = JitModel::create(model, opts, error);
  INFO(error);
  REQUIRE(c.jit);
  const uint64_t batch = 5;
  std::vector<float> input(batch * model.inputType().features());
  for (size_t i = 0; i < input.size(); ++i)
    input[i] = float(int(i * 37 % 19) - 9) / 8.0f;
  c.output.resize(batch * model.outputType().features());
  std::vector<unsigned char> scratch(c.jit->scratchBytes(batch) + 1);
  REQUIRE(c.jit->run(input.data(), c.output.data(), batch, scratch.data()) ==
          kRunOk);
  return c;
}

bool sameBits(const std::vector<float> &a, const std::vector<float> &b) {
  return a.size() == b.size() &&
         std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

bool sameStages(const JitModel &a, const JitModel &b) {
  if (a.stages().size() != b.stages().size())
    return false;
  for (size_t i = 0; i < a.stages().size(); ++i)
    if (a.stages()[i].kind != b.stages()[i].kind ||
        a.stages()[i].firstOp != b.stages()[i].firstOp ||
        a.stages()[i].lastOp != b.stages()[i].lastOp)
      return false;
  return true;
}

ir::Model testModel() {
  test::ModelBuilder mb(24, 7);
  mb.dense(40, {ir::ActKind::Tanh, 0, 0});
  mb.dense(10, {ir::ActKind::None, 0, 0});
  return mb.model;
}

} // namespace

TEST_CASE("JIT cache: a hit computes the same bits as the compile") {
  CacheDir dir;
  ir::Model model = testModel();
  CpuTargetOptions opts;
  opts.prefix = "net";
  opts.cacheDir = dir.path;
  Compiled cold = compileAndRun(model, opts);
  CHECK(cold.jit->cacheOutcome() == Outcome::Miss);
  CHECK(cold.jit->cacheNote().empty());
  CHECK(dir.entries().size() == 1);
  Compiled warm = compileAndRun(model, opts);
  CHECK(warm.jit->cacheOutcome() == Outcome::Hit);
  CHECK(sameBits(cold.output, warm.output));
  CHECK(sameStages(*cold.jit, *warm.jit));
  CHECK(warm.jit->objectBytes() == cold.jit->objectBytes());

  // Without a directory: nothing is read or written.
  CpuTargetOptions off = opts;
  off.cacheDir.clear();
  Compiled uncached = compileAndRun(model, off);
  CHECK(uncached.jit->cacheOutcome() == Outcome::Disabled);
  CHECK(sameBits(cold.output, uncached.output));
  CHECK(dir.entries().size() == 1);
}

TEST_CASE("JIT cache: one weight, one flag or the CPU changes the key") {
  CacheDir dir;
  ir::Model model = testModel();
  CpuTargetOptions opts;
  opts.prefix = "net";
  opts.cacheDir = dir.path;
  Compiled base = compileAndRun(model, opts);
  REQUIRE(base.jit->cacheOutcome() == Outcome::Miss);

  ir::Model changed = model;
  changed.params[0].data.data[5] += 0.25f;
  Compiled weight = compileAndRun(changed, opts);
  CHECK(weight.jit->cacheOutcome() == Outcome::Miss);
  CHECK(!sameBits(base.output, weight.output));

  std::vector<CpuTargetOptions> variants;
  variants.push_back(opts);
  variants.back().fastMath = true;
  variants.push_back(opts);
  variants.back().prefix = "other";
  // Every precision computes other bits from the same model.
  for (Precision p : {Precision::BF16, Precision::Int8W}) {
    variants.push_back(opts);
    variants.back().precision = p;
  }
#if defined(__x86_64__)
  // CPUs every x86-64 host runs.
  variants.push_back(opts);
  variants.back().cpu = "x86-64";
  variants.push_back(opts);
  variants.back().cpu = "x86-64-v2";
#endif
  for (const CpuTargetOptions &v : variants) {
    INFO("cpu '" << v.cpu << "' fast math " << v.fastMath << " prefix "
                 << v.prefix << " precision "
                 << std::string(precisionName(v.precision)));
    Compiled first = compileAndRun(model, v);
    CHECK(first.jit->cacheOutcome() == Outcome::Miss);
    if (v.precision != Precision::F32)
      CHECK(!sameBits(base.output, first.output));
    Compiled again = compileAndRun(model, v);
    CHECK(again.jit->cacheOutcome() == Outcome::Hit);
    CHECK(sameBits(first.output, again.output));
  }
  CHECK(dir.entries().size() == 2 + variants.size());
  // The first entries are still there.
  CHECK(compileAndRun(model, opts).jit->cacheOutcome() == Outcome::Hit);
  CHECK(compileAndRun(changed, opts).jit->cacheOutcome() == Outcome::Hit);
}

TEST_CASE("JIT cache: external weights and profiling builds are cached whole") {
  CacheDir dir;
  ir::Model model = testModel();
  CpuTargetOptions opts;
  opts.prefix = "net";
  opts.cacheDir = dir.path;
  opts.externalWeights = true;
  Compiled cold = compileAndRun(model, opts);
  CHECK(cold.jit->cacheOutcome() == Outcome::Miss);
  Compiled warm = compileAndRun(model, opts);
  REQUIRE(warm.jit->cacheOutcome() == Outcome::Hit);
  CHECK(sameBits(cold.output, warm.output));
  REQUIRE(warm.jit->weightsBytes() == cold.jit->weightsBytes());
  CHECK(warm.jit->weightsBytes() > 0);
  CHECK(std::memcmp(warm.jit->weightsData(), cold.jit->weightsData(),
                    warm.jit->weightsBytes()) == 0);

  opts.externalWeights = false;
  opts.profile = true;
  Compiled profCold = compileAndRun(model, opts);
  CHECK(profCold.jit->cacheOutcome() == Outcome::Miss);
  Compiled profWarm = compileAndRun(model, opts);
  REQUIRE(profWarm.jit->cacheOutcome() == Outcome::Hit);
  CHECK(sameStages(*profCold.jit, *profWarm.jit));
  CHECK(profWarm.jit->setProfileHook(nullptr, nullptr));
}

TEST_CASE("JIT cache: a damaged entry is rebuilt, never run") {
  CacheDir dir;
  ir::Model model = testModel();
  CpuTargetOptions opts;
  opts.prefix = "net";
  opts.cacheDir = dir.path;
  Compiled cold = compileAndRun(model, opts);
  REQUIRE(dir.entries().size() == 1);
  std::string path = dir.entries()[0];
  std::string error;
  auto entry = readFile(path, 1 << 30, error);
  REQUIRE(entry);
  // A byte in the middle of the object: the checksum catches it.
  (*entry)[entry->size() / 2] ^= 0x40;
  REQUIRE(writeFileAtomic(path, *entry, error));
  Compiled rebuilt = compileAndRun(model, opts);
  CHECK(rebuilt.jit->cacheOutcome() == Outcome::Corrupt);
  CHECK(sameBits(cold.output, rebuilt.output));
  Compiled warm = compileAndRun(model, opts);
  CHECK(warm.jit->cacheOutcome() == Outcome::Hit);
  CHECK(sameBits(cold.output, warm.output));
}

TEST_CASE("JIT cache: an unusable directory costs a note, not the model") {
  CacheDir dir;
  std::string file = joinPath(dir.path, "a-file");
  std::string error;
  REQUIRE(writeFileAtomic(file, "", error));
  ir::Model model = testModel();
  CpuTargetOptions opts;
  opts.prefix = "net";
  opts.cacheDir = joinPath(file, "cache");
  Compiled c = compileAndRun(model, opts);
  CHECK(c.jit->cacheOutcome() == Outcome::Miss);
  CHECK(c.jit->cacheNote().find(opts.cacheDir) != std::string::npos);
  opts.cacheDir.clear();
  CHECK(sameBits(c.output, compileAndRun(model, opts).output));
}
