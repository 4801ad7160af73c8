//===- CpuDifferentialTest.cpp - JIT CPU code vs the float64 reference ----===//
//
// Random fused networks (depths, widths, every activation, softmax ends,
// LayerNorm/Affine) are JIT-compiled and compared with the reference for
// batches 0, 1, odd sizes and thousands, serially and through the
// parallel-for hook; plus the error codes and buffer bounds of the contract.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cpu/CpuBackend.h"
#include "compiler/codegen/cpu/Plan.h"
#include "compiler/reference/Interpreter.h"
#include "tests/cpu/JitChecks.h"
#include "tests/cpu/TestModels.h"

#include <doctest/doctest.h>

#include <cstring>
#include <random>
#include <regex>
#include <set>

using namespace seqc;
using namespace seqc::codegen::cpu;
using test::checkBatch;
using test::compile;
using test::kGuard;

namespace {

ir::Activation randomAct(std::mt19937 &rng) {
  std::vector<ir::Activation> acts = test::allActivations();
  return acts[rng() % acts.size()];
}

} // namespace

namespace {

void randomNetworks(uint32_t seed, int trials, const std::string &cpu,
                    bool externalWeights = false, bool fastMath = false) {
  std::mt19937 rng(seed);
  const int64_t widths[] = {1, 2, 3, 5, 8, 9, 16, 17, 31, 33, 48, 64, 100, 129};
  const uint64_t batches[] = {0, 1, 2, 3, 7, 13, 64, 65, 1000, 2051};
  for (int trial = 0; trial < trials; ++trial) {
    int64_t inF = widths[rng() % std::size(widths)];
    test::ModelBuilder mb(inF, static_cast<uint32_t>(rng()));
    int depth = 1 + static_cast<int>(rng() % 5);
    std::string shape = std::to_string(inF);
    for (int d = 0; d < depth; ++d) {
      int64_t out = widths[rng() % std::size(widths)];
      bool last = d + 1 == depth;
      ir::RowNorm norm = ir::RowNorm::None;
      if (last && rng() % 3 == 0)
        norm = rng() % 2 ? ir::RowNorm::Softmax : ir::RowNorm::LogSoftmax;
      mb.dense(out, randomAct(rng), rng() % 4 != 0, norm);
      // A Linear without bias fed one feature makes every output a multiple
      // of that one value, whose LayerNorm jumps with its sign: near 0 no
      // float32 result can follow the float64 reference, so that LayerNorm
      // is left out (its random draw still taken, keeping the rest).
      bool rankOne = shape.ends_with("-1") || shape == "1";
      rankOne &= mb.model.ops.back().bias == ir::kNoParam;
      shape += "-" + std::to_string(out);
      switch (rng() % 8) {
      case 0:
        mb.act(randomAct(rng));
        break;
      case 1:
        if (bool affine = rng() % 2; !rankOne)
          mb.layerNorm(affine);
        break;
      case 2:
        mb.affine(rng() % 2);
        break;
      case 3:
        if (last)
          mb.rowNorm(rng() % 2);
        break;
      default:
        break;
      }
    }
    INFO("cpu '" << cpu << "' trial " << trial << " shape " << shape);
    std::unique_ptr<JitModel> jit =
        compile(mb.model, cpu, false, externalWeights, false, fastMath);
    for (uint64_t batch : batches)
      checkBatch(mb.model, *jit, batch, rng, static_cast<int>(batch % 3));
  }
}

} // namespace

TEST_CASE("random networks match the reference") {
  randomNetworks(20240601, 24, "");
}

TEST_CASE("random networks match the reference with external weights") {
  // Every parameter array read from the blob instead of constants; tiny
  // networks take the general path.
  randomNetworks(777, 12, "", true);
}

TEST_CASE("random networks match the reference with --fast-math") {
  // The float activations (a few ulps) stay within the same end-to-end
  // bound as the exact ones.
  randomNetworks(4242, 12, "", false, true);
}

#if defined(__x86_64__)
TEST_CASE("random networks match the reference with 4-wide SSE kernels") {
  randomNetworks(99, 8, "x86-64-v2");
}

/// The host runs AVX-512 kernels by default; "x86-64-v3" keeps the AVX2
/// ones (8 lanes, 6x16 tiles) running on it too.
static bool hostRunsAvx2Variant() {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
         __builtin_cpu_supports("avx512f");
}

TEST_CASE("random networks match the reference with 8-wide AVX2 kernels") {
  if (!hostRunsAvx2Variant()) {
    MESSAGE("skipped: the default already runs AVX2 (or less) here");
    return;
  }
  randomNetworks(4242, 12, "x86-64-v3");
}

TEST_CASE("a CPU list JIT-compiles the best variant for the host") {
  std::mt19937 rng(4);
  test::ModelBuilder mb(40, 3);
  mb.dense(50, {ir::ActKind::GELU, 0, 0});
  mb.dense(7, {});
  std::unique_ptr<JitModel> jit =
      compile(mb.model, "x86-64-v2,x86-64-v3,x86-64-v4");
  for (uint64_t batch : {1u, 29u})
    checkBatch(mb.model, *jit, batch, rng, 0);
}
#endif

/// The CPUs a kernel test compiles for: the host's default and, on an
/// AVX-512 x86 host, its AVX2 kernels too; with \p withSse also the
/// 4-wide SSE ones (x86).
static std::vector<std::string> kernelVariants(bool withSse = false) {
  std::vector<std::string> cpus = {""};
#if defined(__x86_64__)
  if (withSse)
    cpus.push_back("x86-64-v2");
  if (hostRunsAvx2Variant())
    cpus.push_back("x86-64-v3");
#else
  (void)withSse;
#endif
  return cpus;
}

TEST_CASE("deep networks share their microkernels (compact code)") {
  // More than 16 Dense layers: kernels are shared between the layers whose
  // tiles, bias, activation (to its parameters) and prefetching agree, and
  // nothing is inlined. Few widths and activations, so that most layers
  // share and some (LeakyReLU slopes, bias or not) must not.
  std::mt19937 rng(31);
  const int64_t widths[] = {8, 33, 64};
  const ir::Activation acts[] = {{ir::ActKind::ReLU, 0, 0},
                                 {ir::ActKind::LeakyReLU, 0.01, 0},
                                 {ir::ActKind::LeakyReLU, 0.2, 0},
                                 {ir::ActKind::Tanh, 0, 0},
                                 {}};
  for (int trial = 0; trial < 4; ++trial) {
    int64_t inF = widths[rng() % std::size(widths)];
    test::ModelBuilder mb(inF, static_cast<uint32_t>(rng()));
    int depth = 17 + static_cast<int>(rng() % 8);
    std::string shape = std::to_string(inF);
    for (int d = 0; d < depth; ++d) {
      int64_t out = widths[rng() % std::size(widths)];
      bool last = d + 1 == depth;
      mb.dense(out, acts[rng() % std::size(acts)], rng() % 4 != 0,
               last && trial % 2 ? ir::RowNorm::Softmax : ir::RowNorm::None);
      shape += "-" + std::to_string(out);
      if (rng() % 6 == 0)
        mb.layerNorm(true);
    }
    INFO("trial " << trial << " shape " << shape);
    std::unique_ptr<JitModel> jit = compile(mb.model);
    for (uint64_t batch : {0u, 1u, 2u, 13u, 65u, 1000u})
      checkBatch(mb.model, *jit, batch, rng, static_cast<int>(batch % 3));
  }
  // Too big to fuse, one layer streaming its weights (prefetching kernels),
  // single rows across several panels (kernels whose code has k), and two
  // specialised layers with k blocks (k = 2100, above kSingleBlockK).
  test::ModelBuilder mb(600, 17);
  mb.dense(300, {ir::ActKind::Sigmoid, 0, 0});
  for (int d = 0; d < 10; ++d)
    mb.dense(300, {ir::ActKind::ReLU, 0, 0});
  mb.dense(2100, {ir::ActKind::Tanh, 0, 0});
  for (int d = 0; d < 2; ++d)
    mb.dense(2100, {ir::ActKind::Tanh, 0, 0});
  mb.dense(600, {ir::ActKind::GELU, 0, 0});
  mb.dense(300, {ir::ActKind::ReLU, 0, 0}, false);
  mb.dense(10, {});
  std::unique_ptr<JitModel> jit = compile(mb.model);
  for (uint64_t batch : {1u, 7u, 70u})
    for (int mode = 0; mode < 3; ++mode)
      checkBatch(mb.model, *jit, batch, rng, mode);
}

TEST_CASE("compact code starts above 16 Dense layers") {
  auto emitIr = [](int layers) {
    test::ModelBuilder mb(20, 5);
    for (int d = 0; d < layers; ++d)
      mb.dense(20, {ir::ActKind::ReLU, 0, 0});
    CpuTargetOptions opts;
    opts.prefix = "net";
    std::string text, error;
    REQUIRE(generate(mb.model, opts, OutputKind::LLVMIR, text, error));
    return text;
  };
  std::string sixteen = emitIr(16), seventeen = emitIr(17);
  // 16 layers: each has its kernels, inlined into its stage; only the
  // tile for a source in memory is called (out of line on purpose), and in
  // a fused chain only the first layer's (the others read cache).
  CHECK(sixteen.find("@net.ukr") == std::string::npos);
  std::regex call(R"(call (fastcc )?void @(net\.dense\d+\.ukr[\w.]+)\()");
  std::set<std::string> called;
  for (auto it = std::sregex_iterator(sixteen.begin(), sixteen.end(), call);
       it != std::sregex_iterator(); ++it) {
    INFO("callee " << (*it)[2]);
    CHECK(std::regex_search((*it)[2].str(), std::regex(R"(\.cold$)")));
    called.insert((*it)[2].str());
  }
  REQUIRE(called.size() == 1);
  CHECK(called.begin()->rfind("net.dense0.ukr", 0) == 0);
  // 17: one shared set (not named after a layer), called from every
  // layer's stage function, which is not inlined either.
  CHECK(seventeen.find("@net.ukr") != std::string::npos);
  CHECK(seventeen.find("@net.dense0.ukr") == std::string::npos);
  CHECK(seventeen.find("void @net.dense16(") != std::string::npos);
}

TEST_CASE("wide layers take the cache-blocked path") {
  std::mt19937 rng(7);
  test::ModelBuilder mb(1500, 11);
  mb.dense(300, {ir::ActKind::GELU, 0, 0});
  mb.dense(2100, {ir::ActKind::Tanh, 0, 0}, false);
  mb.dense(70, {ir::ActKind::None, 0, 0}, true, ir::RowNorm::LogSoftmax);
  // Several row blocks and panel groups at batch 300 with either width; k
  // blocks with either (the last layer has more than kSingleBlockK inputs).
  for (const std::string &cpu : kernelVariants()) {
    INFO("cpu '" << cpu << "'");
    std::unique_ptr<JitModel> jit = compile(mb.model, cpu);
    for (uint64_t batch : {1u, 5u, 37u, 300u})
      for (int mode = 0; mode < 3; ++mode)
        checkBatch(mb.model, *jit, batch, rng, mode);
  }
}

TEST_CASE("sources in memory take the tiles that prefetch later rows") {
  // Above kColdSourceBytes of input the full tiles of a first pass (and
  // of the last, into the next row block) are out-of-line kernels that
  // also prefetch rows ahead. A fused chain, and cache-blocked layers with
  // k blocks, just over the threshold (partial tiles and blocks), serially
  // and on threads in either order.
  std::mt19937 rng(11);
  test::ModelBuilder fused(64, 12);
  fused.dense(64, {ir::ActKind::ReLU, 0, 0});
  fused.dense(64, {ir::ActKind::ReLU, 0, 0});
  fused.dense(16, {});
  test::ModelBuilder blocked(2100, 13);
  blocked.dense(300, {ir::ActKind::GELU, 0, 0});
  blocked.dense(70, {ir::ActKind::None, 0, 0});
  for (const std::string &cpu : kernelVariants())
    for (const test::ModelBuilder *mb : {&fused, &blocked}) {
      const ir::Model &model = mb->model;
      uint64_t rowBytes = model.inputType().features() * 4;
      INFO("cpu '" << cpu << "' input " << rowBytes / 4);
      CpuTargetOptions opts;
      opts.prefix = "net";
      opts.cpu = cpu;
      std::string text, error;
      REQUIRE(generate(model, opts, OutputKind::LLVMIR, text, error));
      // The first layer calls its prefetching tile (the others are inlined).
      CHECK(std::regex_search(
          text,
          std::regex(
              R"(call (fastcc )?void @net\.dense0\.ukr\d+x\d+\.cold\()")));
      std::unique_ptr<JitModel> jit = compile(model, cpu);
      uint64_t cold = kColdSourceBytes / rowBytes + 5;
      for (int mode = 0; mode < 3; ++mode)
        checkBatch(model, *jit, cold, rng, mode);
    }
}

TEST_CASE("layers with few outputs compute as dot products") {
  // Last layers (output stride n) and middle ones (the scratch stride), in
  // a fused chain and in stages of their own; k a whole number of vectors
  // and not; n of 1 (8-row tiles) to 20 (two groups of lanes, one
  // partial); k blocks; full tiles and the rows after them, serially and
  // on threads.
  std::mt19937 rng(23);
  test::ModelBuilder digits(64, 31);
  digits.dense(128, {ir::ActKind::ReLU, 0, 0});
  digits.dense(10, {});
  test::ModelBuilder middle(100, 32);
  middle.dense(5, {ir::ActKind::Sigmoid, 0, 0});
  middle.dense(40, {ir::ActKind::ReLU, 0, 0}, false);
  middle.dense(3, {ir::ActKind::Tanh, 0, 0}, false);
  test::ModelBuilder staged(1500, 33); // over 256 KiB: not fused
  staged.dense(300, {ir::ActKind::GELU, 0, 0});
  staged.dense(20, {ir::ActKind::Tanh, 0, 0});
  staged.dense(37, {ir::ActKind::ReLU, 0, 0});
  staged.dense(1, {});
  // k blocks (41 KiB of weights, the last block ending in a k tail), as
  // the last layer and in the middle, with and without bias.
  test::ModelBuilder blocked(1030, 34);
  blocked.dense(10, {ir::ActKind::Sigmoid, 0, 0});
  blocked.dense(1030, {ir::ActKind::ReLU, 0, 0}, false);
  blocked.dense(9, {ir::ActKind::None, 0, 0}, false);
  for (const std::string &cpu : kernelVariants(true))
    for (const test::ModelBuilder *mb : {&digits, &middle, &staged, &blocked}) {
      INFO("cpu '" << cpu << "' input " << mb->model.inputType().features());
      std::unique_ptr<JitModel> jit = compile(mb->model, cpu);
      for (uint64_t batch : {1u, 2u, 3u, 7u, 9u, 65u, 1000u})
        for (int mode = 0; mode < 3; ++mode)
          checkBatch(mb->model, *jit, batch, rng, mode);
    }
}

TEST_CASE("scratch rows of 256 floats or more are padded to odd lines") {
  CHECK(scratchStride(10) == 10);
  CHECK(scratchStride(255) == 255);
  CHECK(scratchStride(256) == 272);
  CHECK(scratchStride(300) == 304);
  CHECK(scratchStride(2048) == 2064);
  CHECK(scratchStride(2049) == 2064);
  CHECK(scratchStride(2065) == 2096);
  // Padded intermediates (512 -> 528, 256 -> 272, 600 -> 624) through dense
  // layers and a separate softmax row stage, at batches around the row blocks.
  std::mt19937 rng(11);
  test::ModelBuilder mb(300, 13);
  mb.dense(512, {ir::ActKind::Sigmoid, 0, 0});
  mb.dense(256, {ir::ActKind::ReLU, 0, 0});
  mb.dense(600, {ir::ActKind::None, 0, 0}, true, ir::RowNorm::Softmax);
  mb.dense(33, {});
  std::unique_ptr<JitModel> jit = compile(mb.model);
  CHECK(scratchBytes(mb.model, 10) == 64 + 2 * ((10 * 624 * 4 + 63) & ~63));
  for (uint64_t batch : {1u, 7u, 121u, 260u})
    for (int mode = 0; mode < 3; ++mode)
      checkBatch(mb.model, *jit, batch, rng, mode);
}

TEST_CASE("tiny networks take the straight-line path") {
  std::mt19937 rng(3);
  // The lecture's 2-3-2-1 network, no activations.
  test::ModelBuilder mb(2, 5);
  mb.dense(3, {});
  mb.dense(2, {});
  mb.dense(1, {});
  std::unique_ptr<JitModel> jit = compile(mb.model);
  CHECK(jit->scratchBytes(1000) == 0);
  for (uint64_t batch : {0u, 1u, 3u, 8u, 17u, 5000u})
    checkBatch(mb.model, *jit, batch, rng, static_cast<int>(batch % 3));
  // Every op kind inside the tiny path.
  test::ModelBuilder all(4, 9);
  all.dense(6, {ir::ActKind::Mish, 0, 0});
  all.layerNorm(true);
  all.affine(true);
  all.act({ir::ActKind::ELU, 0.5, 0});
  all.dense(5, {ir::ActKind::SiLU, 0, 0}, true, ir::RowNorm::Softmax);
  all.rowNorm(true);
  std::unique_ptr<JitModel> jit2 = compile(all.model);
  for (uint64_t batch : {1u, 2u, 31u, 100u})
    checkBatch(all.model, *jit2, batch, rng, 0);
}

namespace {

/// Records the marks of a profiling build's hook.
void recordMark(void *user, uint32_t mark) {
  static_cast<std::vector<uint32_t> *>(user)->push_back(mark);
}

/// Runs the profiling and the plain build of \p model on the same rows:
/// the profiling build must mark 0, 1, ..., stages in order (serially and
/// through the parallel-for hook) and compute exactly what the plain one
/// does.
void checkProfiledRuns(const ir::Model &model,
                       const std::vector<StageInfo> &expected) {
  std::unique_ptr<JitModel> plain = compile(model);
  std::unique_ptr<JitModel> profiled = compile(model, "", /*profile=*/true);
  CHECK_FALSE(plain->setProfileHook(recordMark, nullptr));
  const std::vector<StageInfo> &stages = profiled->stages();
  REQUIRE(stages.size() == expected.size());
  for (size_t i = 0; i < stages.size(); ++i) {
    INFO("stage " << i);
    CHECK(stages[i].kind == expected[i].kind);
    CHECK(stages[i].firstOp == expected[i].firstOp);
    CHECK(stages[i].lastOp == expected[i].lastOp);
  }
  std::vector<uint32_t> marks, all;
  for (uint32_t m = 0; m <= stages.size(); ++m)
    all.push_back(m);
  REQUIRE(profiled->setProfileHook(recordMark, &marks));
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 1.5f);
  for (uint64_t batch : {1u, 37u, 300u}) {
    int64_t inF = model.inputType().features();
    int64_t outF = model.outputType().features();
    std::vector<float> input(batch * inF);
    for (float &v : input)
      v = dist(rng);
    std::vector<unsigned char> scratch(plain->scratchBytes(batch) + 64);
    std::vector<float> want(batch * outF), got(batch * outF);
    REQUIRE(plain->run(input.data(), want.data(), batch, scratch.data()) ==
            kRunOk);
    for (int mode = 0; mode < 2; ++mode) {
      INFO("batch " << batch << " mode " << mode);
      marks.clear();
      std::fill(got.begin(), got.end(), kGuard);
      int status =
          mode == 0
              ? profiled->run(input.data(), got.data(), batch, scratch.data())
              : profiled->runParallel(input.data(), got.data(), batch,
                                      scratch.data(), test::reverseParallelFor,
                                      nullptr);
      REQUIRE(status == kRunOk);
      CHECK(marks == all);
      CHECK(std::memcmp(got.data(), want.data(), got.size() * 4) == 0);
    }
  }
  // Batch 0 returns before the first stage; without a hook nothing is called.
  marks.clear();
  CHECK(profiled->run(nullptr, nullptr, 0, nullptr) == kRunOk);
  CHECK(marks.empty());
  REQUIRE(profiled->setProfileHook(nullptr, nullptr));
  std::vector<float> input(model.inputType().features(), 0.5f);
  std::vector<float> out(model.outputType().features());
  std::vector<unsigned char> scratch(profiled->scratchBytes(1) + 64);
  CHECK(profiled->run(input.data(), out.data(), 1, scratch.data()) == kRunOk);
  CHECK(marks.empty());
}

} // namespace

TEST_CASE("a profiling build marks every stage in order") {
  SUBCASE("layered: dense, dense and its softmax, a row op, dense") {
    test::ModelBuilder mb(300, 17);
    mb.dense(512, {ir::ActKind::Sigmoid, 0, 0});
    mb.dense(600, {}, true, ir::RowNorm::Softmax);
    mb.layerNorm(true);
    mb.dense(33, {ir::ActKind::ReLU, 0, 0});
    checkProfiledRuns(mb.model, {{StageKind::Dense, 0, 0},
                                 {StageKind::Dense, 1, 1},
                                 {StageKind::RowNorm, 1, 1},
                                 {StageKind::RowOp, 2, 2},
                                 {StageKind::Dense, 3, 3}});
  }
  SUBCASE("small weights: one fused stage") {
    test::ModelBuilder mb(20, 19);
    mb.dense(40, {ir::ActKind::Tanh, 0, 0});
    mb.dense(10, {}, true, ir::RowNorm::LogSoftmax);
    checkProfiledRuns(mb.model, {{StageKind::Fused, 0, 1}});
  }
  SUBCASE("tiny: one straight-line stage") {
    test::ModelBuilder mb(2, 5);
    mb.dense(3, {});
    mb.dense(2, {});
    mb.dense(1, {});
    checkProfiledRuns(mb.model, {{StageKind::Tiny, 0, 2}});
  }
  SUBCASE("only profiling builds carry the hook's globals") {
    test::ModelBuilder mb(2, 5);
    mb.dense(3, {});
    CpuTargetOptions opts;
    opts.prefix = "net";
    std::string plainIr, profiledIr, error;
    REQUIRE(generate(mb.model, opts, OutputKind::LLVMIR, plainIr, error));
    opts.profile = true;
    REQUIRE(generate(mb.model, opts, OutputKind::LLVMIR, profiledIr, error));
    CHECK(plainIr.find("profile") == std::string::npos);
    CHECK(profiledIr.find("@net_profile_hook") != std::string::npos);
    CHECK(profiledIr.find("@net_profile_user") != std::string::npos);
    // A CPU list (ifunc dispatch) cannot be profiled.
    opts.cpu = "x86-64,x86-64-v3";
    CHECK_FALSE(
        generate(mb.model, opts, OutputKind::Object, profiledIr, error));
    CHECK(error.find("profiling") != std::string::npos);
  }
}

TEST_CASE("a model without ops copies its input") {
  std::mt19937 rng(1);
  test::ModelBuilder mb(5, 1);
  std::unique_ptr<JitModel> jit = compile(mb.model);
  checkBatch(mb.model, *jit, 9, rng, 0);
}

TEST_CASE("error codes") {
  test::ModelBuilder mb(10, 2);
  mb.dense(20, {ir::ActKind::ReLU, 0, 0});
  mb.dense(30, {ir::ActKind::ReLU, 0, 0});
  mb.dense(4, {});
  std::unique_ptr<JitModel> jit = compile(mb.model);
  std::vector<float> in(10 * 4), out(4 * 4);
  std::vector<unsigned char> scratch(jit->scratchBytes(4));
  CHECK(jit->scratchBytes(0) == 0);
  CHECK(jit->scratchBytes(4) > 0);
  CHECK(jit->scratchBytes(size_t(1) << 40) == SIZE_MAX);
  CHECK(jit->run(nullptr, nullptr, 0, nullptr) == kRunOk);
  CHECK(jit->run(nullptr, out.data(), 4, scratch.data()) == kRunNullPointer);
  CHECK(jit->run(in.data(), nullptr, 4, scratch.data()) == kRunNullPointer);
  CHECK(jit->run(in.data(), out.data(), 4, nullptr) == kRunNullScratch);
  CHECK(jit->run(in.data(), out.data(), size_t(1) << 40, scratch.data()) ==
        kRunBatchTooLarge);
  CHECK(jit->run(in.data(), out.data(), 4, scratch.data()) == kRunOk);
}

TEST_CASE("bad options are reported") {
  test::ModelBuilder mb(3, 2);
  mb.dense(2, {});
  std::string error, out;
  CpuTargetOptions opts;
  opts.prefix = "1bad";
  CHECK_FALSE(generate(mb.model, opts, OutputKind::LLVMIR, out, error));
  CHECK(error.find("C identifier") != std::string::npos);
  opts.prefix = "ok";
  opts.cpu = "no-such-cpu";
  CHECK_FALSE(generate(mb.model, opts, OutputKind::Object, out, error));
  CHECK(error.find("no-such-cpu") != std::string::npos);
  opts.cpu = "";
  opts.triple = "nonsense-arch-none";
  CHECK_FALSE(generate(mb.model, opts, OutputKind::Object, out, error));
  // Unbound weights are refused rather than crashing.
  ir::Model broken = mb.model;
  broken.params[broken.ops[0].weight].data.data.clear();
  opts.triple = "";
  CHECK_FALSE(generate(broken, opts, OutputKind::Object, out, error));
}
