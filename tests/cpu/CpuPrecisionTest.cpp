//===- CpuPrecisionTest.cpp - --precision bf16, int8, int8w on the CPU ----===//
//
// JIT-compiled models in bf16, int8 and int8w against the reference's
// simulation of the same precision (reference/ReducedPrecision.h) and
// against f32: single layers on every path a Dense layer can take (tiny,
// panels, k blocks, batch 1), random networks, compact code, external
// weights, an AVX2 target; int8's rows of zeros, NaN and infinities, and
// every batch up to 65; and the weights' bytes.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cpu/Plan.h"
#include "tests/cpu/JitChecks.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>

using namespace seqc;
using namespace seqc::codegen::cpu;
using codegen::Precision;
using test::kGuard;
using test::scaledError;
using test::toMatrix;

namespace {

constexpr Precision kModes[] = {Precision::BF16, Precision::Int8,
                                Precision::Int8W};

std::unique_ptr<JitModel> compileIn(const ir::Model &model, Precision precision,
                                    const std::string &cpu = "",
                                    bool externalWeights = false) {
  return test::compile(model, cpu, false, externalWeights, false, false,
                       precision);
}

/// The bound against f32 (scaled by the output's magnitude).
double f32Bound(Precision precision) {
  return precision == Precision::BF16 ? 2e-2 : 5e-2;
}

/// The largest error of each row of \p got against \p want, scaled by the
/// row's largest |want| (at least 1): int8's error against f32 is its
/// rounding of each input row, a step of amax / 127, which every output
/// of the row carries whatever its own size (a 1024 -> 600 layer of
/// random rows reaches 0.056 scaled output by output, 0.02 by row).
double rowScaledError(const std::vector<float> &got,
                      const reference::Matrix &want) {
  double worst = 0.0;
  for (int64_t r = 0; r < want.rows; ++r) {
    double magnitude = 1.0, err = 0.0;
    for (int64_t j = 0; j < want.cols; ++j) {
      double g = got[r * want.cols + j], w = want.at(r, j);
      if (std::isnan(g) != std::isnan(w))
        return INFINITY;
      if (std::isnan(w))
        continue;
      magnitude = std::max(magnitude, std::fabs(w));
      err = std::max(err, std::fabs(g - w));
    }
    worst = std::max(worst, err / magnitude);
  }
  return worst;
}

/// Runs \p jit on \p batch random rows; checks it against the simulation
/// of \p precision within \p tight and, with \p nearF32, against f32
/// within f32Bound.
void checkRun(const ir::Model &model, const JitModel &jit, Precision precision,
              uint64_t batch, std::mt19937 &rng, double tight,
              bool nearF32 = true) {
  int64_t inF = model.inputType().features();
  int64_t outF = model.outputType().features();
  std::vector<float> input = test::randomRows(batch, inF, rng);
  std::vector<unsigned char> scratch(jit.scratchBytes(batch) + 64);
  std::vector<float> output(batch * outF + 16, kGuard);
  REQUIRE(jit.run(input.data(), output.data(), batch, scratch.data()) ==
          kRunOk);
  for (size_t i = 0; i < 16; ++i)
    REQUIRE(output[batch * outF + i] == kGuard);
  output.resize(batch * outF);
  reference::Matrix x = toMatrix(input, batch, inF);
  INFO("batch " << batch << " precision " << codegen::precisionName(precision));
  CHECK(scaledError(output, reference::run(model, x, nullptr, precision)) <=
        tight);
  if (nearF32)
    CHECK((precision == Precision::Int8
               ? rowScaledError(output, reference::run(model, x))
               : scaledError(output, reference::run(model, x))) <=
          f32Bound(precision));
}

/// One Dense layer k -> n with \p act: its inputs are the caller's floats,
/// so the code and the simulation round the very same values.
ir::Model oneLayer(int64_t k, int64_t n, uint32_t seed, bool bias = true) {
  test::ModelBuilder mb(k, seed);
  mb.dense(n, {ir::ActKind::ReLU, 0, 0}, bias);
  return mb.model;
}

} // namespace

TEST_CASE("single layers match their precision's simulation") {
  std::mt19937 rng(3);
  // Tiny (straight-line), narrow (panels here, dot products in f32),
  // panels with a partial last one, no bias, k blocks (k > 2048 takes
  // several on every target), and one wide enough to stream its weights.
  struct Shape {
    int64_t k, n;
    bool bias;
  };
  for (Shape s :
       {Shape{3, 5, true}, Shape{64, 10, true}, Shape{100, 129, true},
        Shape{33, 48, false}, Shape{2500, 40, true}, Shape{1024, 600, true}})
    for (Precision precision : kModes) {
      INFO("k " << s.k << " n " << s.n);
      ir::Model model = oneLayer(s.k, s.n, 11, s.bias);
      std::unique_ptr<JitModel> jit = compileIn(model, precision);
      for (uint64_t batch : {1u, 2u, 13u, 65u})
        checkRun(model, *jit, precision, batch, rng, 1e-4);
    }
}

TEST_CASE("random networks match their precision's simulation") {
  // In bf16 a later layer rounds inputs that the code (float) and the
  // reference (double) computed differently in their last bits: where one
  // lies at a rounding tie of bf16 they round apart by 2^-8 of the value,
  // so networks are held to 5e-3 against the simulation; single layers,
  // whose inputs are the same floats, to 1e-4 above. How far the precision
  // itself lies from f32 is not checked here: on random stacks of up to
  // four layers (some narrow, some with LayerNorm, which magnifies any
  // change of a narrow row) the simulation reaches 0.03 (bf16) and 0.1
  // (int8w) of f32; single layers and the deep network below stay within
  // the bounds.
  std::mt19937 rng(17);
  const int64_t widths[] = {1, 3, 8, 10, 16, 17, 33, 64, 100, 129};
  for (int trial = 0; trial < 12; ++trial) {
    int64_t inF = widths[rng() % std::size(widths)];
    test::ModelBuilder mb(inF, static_cast<uint32_t>(rng()));
    int depth = 1 + static_cast<int>(rng() % 4);
    for (int d = 0; d < depth; ++d) {
      mb.dense(widths[rng() % std::size(widths)],
               {d % 2 ? ir::ActKind::Tanh : ir::ActKind::ReLU, 0, 0},
               rng() % 4 != 0);
      if (rng() % 3 == 0)
        mb.layerNorm(true);
    }
    for (Precision precision : kModes) {
      INFO("trial " << trial);
      std::unique_ptr<JitModel> jit =
          compileIn(mb.model, precision, "", trial % 3 == 0);
      for (uint64_t batch : {0u, 1u, 7u, 64u, 1000u})
        checkRun(mb.model, *jit, precision, batch, rng,
                 precision == Precision::BF16 ? 5e-3 : 1e-4, false);
    }
  }
}

TEST_CASE("reduced precisions run on an AVX2 target and in compact code") {
  std::mt19937 rng(23);
  // 18 Dense layers (compact code, shared kernels) of alternating widths:
  // int8w's kernels find each layer's scales after its own bias; int8's
  // layers after a ReLU take pmaddubsw, the others pmaddwd, so layers of
  // one shape share no kernel across those forms.
  test::ModelBuilder mb(20, 5);
  for (int d = 0; d < 18; ++d)
    mb.dense(d % 3 == 0 ? 40 : 24,
             {d % 4 == 1 ? ir::ActKind::ReLU : ir::ActKind::Tanh, 0, 0},
             d % 2 == 0);
  ir::Model wide = oneLayer(300, 70, 9);
  for (Precision precision : kModes)
    for (const char *cpu : {"", "x86-64-v3"}) {
      INFO("cpu '" << std::string(cpu) << "'");
      std::unique_ptr<JitModel> deep = compileIn(mb.model, precision, cpu);
      std::unique_ptr<JitModel> one = compileIn(wide, precision, cpu);
      for (uint64_t batch : {1u, 30u}) {
        checkRun(mb.model, *deep, precision, batch, rng,
                 precision == Precision::BF16 ? 5e-3 : 1e-4);
        checkRun(wide, *one, precision, batch, rng, 1e-4);
      }
    }
}

TEST_CASE("int8 quantises every batch size, and rows of zeros, NaN, inf") {
  std::mt19937 rng(29);
  // Every batch 1..65 on the panel path (whole 12-row tiles, remainders,
  // single rows across several panels), in a fused stage of two layers
  // too; then rows that quantizeRow treats apart: all zeros (scale 0), a
  // NaN or an infinity (NaN outputs), a subnormal largest value (inv
  // overflows), and values at the ties of the rounding (+-0.5 steps).
  ir::Model one = oneLayer(100, 129, 7);
  test::ModelBuilder mb(40, 8);
  mb.dense(70, {ir::ActKind::ReLU, 0, 0});
  mb.dense(33, {ir::ActKind::Sigmoid, 0, 0});
  mb.dense(21, {ir::ActKind::None, 0, 0});
  // Every form of int8's dot products (Int8Dot), the same results: the
  // host's CPU (vpdpbusd where it has AVX512_VNNI), AVX-512BW without VNNI
  // and AVX2 and SSE2 (pmaddwd, 512, 256 and 128 bits; the stage's layers
  // after the ReLU and the sigmoid pmaddubsw on AVX-512BW and AVX2), AVX
  // without AVX2 (sandybridge: int32 multiplies). A CPU this host cannot
  // run is skipped.
  for (const ir::Model *model : {&one, &mb.model})
    for (const char *cpu :
         {"", "x86-64", "sandybridge", "x86-64-v3", "x86-64-v4"}) {
      INFO("cpu '" << std::string(cpu) << "'");
      std::unique_ptr<JitModel> jit =
          test::compileIfHostRuns(*model, cpu, Precision::Int8);
      if (!jit)
        continue;
      for (uint64_t batch = 1; batch <= 65; ++batch)
        checkRun(*model, *jit, Precision::Int8, batch, rng, 1e-4, false);
    }
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  for (int64_t k : {5, 100}) {
    test::ModelBuilder lb(k, 12);
    lb.dense(k == 5 ? 3 : 129, {ir::ActKind::None, 0, 0});
    std::unique_ptr<JitModel> jit = compileIn(lb.model, Precision::Int8);
    std::vector<float> input = test::randomRows(9, k, rng);
    auto row = [&](int r) { return input.begin() + r * k; };
    std::fill(row(0), row(1), 0.0f);
    input[1 * k + 2] = nan;
    input[2 * k + k - 1] = inf;
    input[3 * k] = -inf;
    std::fill(row(4), row(5), 0.0f);
    input[4 * k + 1] = 1e-40f;
    input[4 * k + 3] = -3e-41f;
    for (int64_t i = 0; i < k; ++i)
      input[5 * k + i] = 127.0f * static_cast<float>((i % 7) - 3) / 254.0f;
    input[5 * k] = 127.0f;
    std::vector<unsigned char> scratch(jit->scratchBytes(9) + 64);
    std::vector<float> output(9 * lb.model.outputType().features());
    REQUIRE(jit->run(input.data(), output.data(), 9, scratch.data()) == kRunOk);
    reference::Matrix want = reference::run(lb.model, toMatrix(input, 9, k),
                                            nullptr, Precision::Int8);
    INFO("k " << k);
    CHECK(scaledError(output, want) <= 1e-4);
    for (int r : {1, 2, 3})
      CHECK(std::isnan(output[r * lb.model.outputType().features()]));
  }
}

TEST_CASE("int8's dot products: vpdpbusd with VNNI, else pmaddwd on x86") {
  // vpdpbusd on sapphirerapids; pmaddwd on AVX-512BW without VNNI
  // (x86-64-v4), AVX2 (x86-64-v3) and SSE2 (x86-64); int32 multiplies on
  // AVX without AVX2 (sandybridge), which has no 256-bit integer ops. The
  // results are checked above on every one this host runs.
  ir::Model model = oneLayer(100, 129, 7);
  struct Expect {
    const char *cpu;
    const char *instruction;
  };
  for (const Expect &e :
       {Expect{"sapphirerapids", "vpdpbusd"},
        Expect{"x86-64-v4", "vpmaddwd\t%zmm"},
        Expect{"x86-64-v3", "vpmaddwd\t%ymm"},
        Expect{"x86-64", "pmaddwd\t%xmm"}, Expect{"sandybridge", "vpmulld"}}) {
    CpuTargetOptions opts;
    opts.cpu = e.cpu;
    opts.precision = Precision::Int8;
    std::string asmText, error;
    REQUIRE(generate(model, opts, OutputKind::Assembly, asmText, error));
    INFO(std::string(e.cpu));
    CHECK(asmText.find(e.instruction) != std::string::npos);
    for (const char *other : {"vpdpbusd", "pmaddwd", "vpmulld"})
      if (std::string_view(e.instruction).find(other) == std::string::npos)
        CHECK(asmText.find(other) == std::string::npos);
  }
}

TEST_CASE("int8 takes pmaddubsw where a layer's inputs are never negative") {
  // After a ReLU, or a sigmoid computed exactly, on AVX2 and AVX-512BW
  // without VNNI; not on the first layer (signed inputs), not after tanh,
  // not after a --fast-math sigmoid, not on SSE2 (pmaddubsw is SSSE3's).
  for (ir::ActKind act :
       {ir::ActKind::ReLU, ir::ActKind::Sigmoid, ir::ActKind::Tanh})
    for (bool fastMath : {false, true})
      for (const char *cpu : {"x86-64-v3", "x86-64-v4", "x86-64"}) {
        test::ModelBuilder mb(30, 2);
        mb.dense(40, {act, 0, 0});
        mb.dense(20, {ir::ActKind::None, 0, 0});
        CpuTargetOptions opts;
        opts.cpu = cpu;
        opts.fastMath = fastMath;
        opts.precision = Precision::Int8;
        std::string asmText, error;
        REQUIRE(generate(mb.model, opts, OutputKind::Assembly, asmText, error));
        bool expected = std::string(cpu) != "x86-64" &&
                        (act == ir::ActKind::ReLU ||
                         (act == ir::ActKind::Sigmoid && !fastMath));
        INFO(std::string(cpu) << " act " << int(act) << " fast " << fastMath);
        CHECK((asmText.find("pmaddubsw") != std::string::npos) == expected);
        // The first layer's signed inputs take pmaddwd on every x86 target.
        CHECK(asmText.find("pmaddwd") != std::string::npos);
      }
}

TEST_CASE("the JIT refuses a --cpu whose instructions this host lacks") {
  // Its code would stop at the first one. The host's own CPU always runs.
  ir::Model model = oneLayer(10, 3, 1);
  CpuTargetOptions opts;
  opts.cpu = "x86-64-v4";
  std::string error;
  std::unique_ptr<JitModel> jit = JitModel::create(model, opts, error);
  bool avx512 =
      __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512cd") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
  CHECK(bool(jit) == avx512);
  if (!avx512)
    CHECK(error.find("--cpu x86-64-v4 needs avx512f") != std::string::npos);
}

TEST_CASE("bf16 halves and int8 and int8w quarter the weights") {
  ir::Model model = oneLayer(1024, 512, 4);
  std::unique_ptr<JitModel> f32 = compileIn(model, Precision::F32, "", true);
  std::unique_ptr<JitModel> bf16 = compileIn(model, Precision::BF16, "", true);
  uint64_t weights = 1024 * 512;
  CHECK(f32->weightsBytes() >= weights * 4);
  CHECK(bf16->weightsBytes() >= weights * 2);
  CHECK(bf16->weightsBytes() < weights * 2 + 64 * 1024);
  for (Precision precision : {Precision::Int8, Precision::Int8W}) {
    std::unique_ptr<JitModel> i8 = compileIn(model, precision, "", true);
    CHECK(i8->weightsBytes() >= weights);
    CHECK(i8->weightsBytes() < weights + 64 * 1024);
  }
}

TEST_CASE("f16, and int8 on layers too wide for its kernels, are refused") {
  // int8 quantises a tile's rows on the stack and sums in int32: at most
  // kInt8MaxInputs inputs, said so; the other modes take the same layer.
  ir::Model wide = oneLayer(kInt8MaxInputs + 1, 2, 1);
  ir::Model narrow = oneLayer(8, 4, 1);
  struct Refusal {
    const ir::Model &model;
    Precision precision;
    const char *says;
  };
  for (const Refusal &r : {Refusal{narrow, Precision::F16, "--precision f16"},
                           Refusal{wide, Precision::Int8,
                                   "--precision int8: a Dense layer has "
                                   "16385 inputs"}}) {
    CpuTargetOptions opts;
    opts.precision = r.precision;
    std::string error;
    CHECK_FALSE(JitModel::create(r.model, opts, error));
    CHECK(error.find(r.says) != std::string::npos);
  }
  compileIn(wide, Precision::Int8W);
}
