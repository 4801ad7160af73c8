//===- BenchReportTest.cpp - What seqc bench measures and prints ----------===//
//
// The pieces of compiler/bench around the timing loop: the units of the
// text table, the benchmark buffers, the FLOPs and weight bytes of a model
// and of each profiled stage, the per-stage distributions, the reference
// check, and the exact text and JSON lines (scripts parse both).
//
//===----------------------------------------------------------------------===//

#include "compiler/bench/Buffers.h"
#include "compiler/bench/ModelCost.h"
#include "compiler/bench/Report.h"
#include "compiler/bench/Units.h"
#include "compiler/driver/Pipeline.h"
#include "compiler/reference/Interpreter.h"

#include <doctest/doctest.h>

#include <cmath>

using namespace seqc;
using namespace seqc::bench;

namespace {

/// tests/bench/NAME.nn with --init-seed 1, canonicalised and fused.
std::unique_ptr<ir::Model> loadSuiteModel(const char *name) {
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  driver::DriverOptions opts;
  opts.command = driver::Command::Bench;
  opts.positional = {std::string(SEQC_SOURCE_DIR) + "/tests/bench/" + name};
  opts.initSeed = 1;
  return driver::loadOptimizedModel(opts, sourceMgr, diag);
}

/// A run of 1000 FLOPs per sample at batch 10, median 2 us, on a machine
/// whose measured peak is 100 GFLOP/s.
RunInfo sampleInfo() {
  RunInfo info;
  info.file = "net.nn";
  info.model = "Net";
  info.inputType = "f32[B,4]";
  info.outputType = "f32[B,2]";
  info.denseOps = 2;
  info.backend = "cpu";
  info.cpuName = "Test CPU";
  info.hardwareThreads = 2;
  info.peak = PeakFlops{SimdIsa::Avx2Fma, 1, 100.0};
  info.flops = 1000;
  info.frontendSeconds = 0.5;
  info.compileSeconds = 0.25;
  info.warmCompileSeconds = 0.0125;
  info.artifactBytes = 4096;
  info.weightBytes = 4000;
  info.hugePageBytes = 0;
  return info;
}

BatchResult sampleResult() {
  BatchResult result;
  result.timing.batch = 10;
  result.timing.samples = 3;
  result.timing.runsPerSample = 7;
  result.timing.spread = Spread{1e-6, 1e-6, 2e-6, 4e-6, 5e-6};
  result.error.maxAbsError = 1e-7;
  result.error.refMaxAbs = 0.5;
  return result;
}

} // namespace

TEST_CASE("units: four significant digits in the largest fitting unit") {
  CHECK(formatSeconds(8.356e-9) == "8.356 ns");
  CHECK(formatSeconds(314.3e-9) == "314.3 ns");
  CHECK(formatSeconds(10.52e-6) == "10.52 us");
  CHECK(formatSeconds(0.2114) == "211.4 ms");
  CHECK(formatSeconds(1.92) == "1.920 s");
  CHECK(formatSeconds(INFINITY) == "-");
  CHECK(formatBytes(80) == "80 B");
  CHECK(formatBytes(68506) == "66.9 KiB");
  CHECK(formatBytes(1u << 20) == "1.00 MiB");
  CHECK(formatBytes(3ull << 30) == "3.00 GiB");
  CHECK(formatCount(28) == "28 ");
  CHECK(formatCount(18940) == "18.94 k");
  CHECK(formatCount(119.67e6) == "119.67 M");
  CHECK(formatCount(1.5e9) == "1.50 G");
}

TEST_CASE("model cost: 2 * in * out per dense op, f32 bytes of parameters") {
  std::unique_ptr<ir::Model> mnist = loadSuiteModel("mnist.nn");
  REQUIRE(mnist);
  CHECK(flopsPerSample(*mnist) == 2 * (784 * 512 + 512 * 512 + 512 * 10));
  CHECK(weightBytes(*mnist) ==
        4 * (784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10));
  CHECK(denseOpCount(*mnist) == 3);
  CHECK(widestValue(*mnist) == 784);
}

TEST_CASE("buffers: aligned, sized for the largest batch, fixed inputs") {
  std::unique_ptr<ir::Model> mnist = loadSuiteModel("mnist.nn");
  REQUIRE(mnist);
  RunBuffers a = makeRunBuffers(*mnist, 3);
  RunBuffers b = makeRunBuffers(*mnist, 3);
  CHECK(reinterpret_cast<uintptr_t>(a.input.get()) % 64 == 0);
  CHECK(reinterpret_cast<uintptr_t>(a.output.get()) % 64 == 0);
  for (uint64_t i = 0; i < 3 * 784; ++i) {
    CHECK(a.input.get()[i] >= -1.0f);
    CHECK(a.input.get()[i] < 1.0f);
    CHECK(a.input.get()[i] == b.input.get()[i]);
  }
  CHECK(a.input.get()[0] != a.input.get()[1]);
  for (uint64_t i = 0; i < 3 * 10; ++i)
    CHECK(a.output.get()[i] == 0.0f);
  // Input and output in f32; the interpreter adds three f64 matrices of the
  // widest value.
  CHECK(bufferBytes(*mnist, 100, false) == 100.0 * (784 + 10) * 4);
  CHECK(bufferBytes(*mnist, 100, true) ==
        100.0 * (784 + 10) * 4 + 100.0 * 784 * 8 * 3);
}

TEST_CASE("stages: each owns the FLOPs and weights of its ops") {
  std::unique_ptr<ir::Model> mnist = loadSuiteModel("mnist.nn");
  REQUIRE(mnist);
  std::vector<StageReport> stages =
      describeStages(*mnist, {{StageKind::Dense, 0, 0},
                              {StageKind::Dense, 1, 1},
                              {StageKind::Dense, 2, 2},
                              {StageKind::RowNorm, 2, 2}});
  REQUIRE(stages.size() == 4);
  CHECK(stages[0].index == 0);
  CHECK(stages[0].flops == 802816);
  CHECK(stages[0].weightBytes == 1607680);
  CHECK(stages[0].label == "[0] Linear(784, 512), ReLU()");
  CHECK(stages[1].flops == 524288);
  CHECK(stages[2].weightBytes == 20520);
  // A row norm finishes the dense op before it: no work of its own.
  CHECK(stages[3].flops == 0);
  CHECK(stages[3].weightBytes == 0);
  CHECK(stages[3].label == stages[2].label + " (its softmax)");

  std::vector<StageReport> fused =
      describeStages(*mnist, {{StageKind::Fused, 0, 2}});
  CHECK(fused[0].label == "ops 0-2 fused: [0] Linear(784, 512), ReLU() ...");
  CHECK(fused[0].flops == flopsPerSample(*mnist));
  CHECK(stageKindName(StageKind::RowOp) == "row op");
}

TEST_CASE("stage timings: one distribution per stage across the samples") {
  BatchTiming total;
  total.batch = 4;
  total.samples = 3;
  total.runsPerSample = 5;
  std::vector<BatchTiming> stages =
      stageTimings(total, {{1, 10}, {3, 30}, {2, 20}}, 2);
  REQUIRE(stages.size() == 2);
  CHECK(stages[0].batch == 4);
  CHECK(stages[0].samples == 3);
  CHECK(stages[0].runsPerSample == 5);
  CHECK(stages[0].spread.min == 1);
  CHECK(stages[0].spread.median == 2);
  CHECK(stages[1].spread.max == 30);
  CHECK(sumOfMedians(stages) == 22);
}

TEST_CASE("the reference check looks at rows at both ends of the batch") {
  CHECK(checkedRows(1) == std::vector<uint64_t>{0});
  CHECK(checkedRows(3) == std::vector<uint64_t>{0, 1, 2});
  CHECK(checkedRows(4) == std::vector<uint64_t>{0, 1, 2, 3});
  CHECK(checkedRows(10) == std::vector<uint64_t>{0, 1, 8, 9});

  std::unique_ptr<ir::Model> lecture = loadSuiteModel("lecture.nn");
  REQUIRE(lecture);
  constexpr int64_t kBatch = 10;
  reference::Matrix x(kBatch, 2);
  for (int64_t i = 0; i < kBatch * 2; ++i)
    x.data[size_t(i)] = 0.25 * double(i) - 2.0;
  reference::Matrix y = reference::run(*lecture, x);
  std::vector<float> input(x.data.begin(), x.data.end());
  std::vector<float> output(y.data.begin(), y.data.end());
  ReferenceError exact =
      checkAgainstReference(*lecture, input.data(), output.data(), kBatch);
  REQUIRE(exact.maxAbsError);
  CHECK(*exact.maxAbsError < 1e-6);
  CHECK(exact.refMaxAbs > 0);
  CHECK(closeToReference(exact));

  // A wrong row in the middle is not looked at; one at an end is.
  output[5] += 1.0f;
  CHECK(*checkAgainstReference(*lecture, input.data(), output.data(), kBatch)
             .maxAbsError < 1e-6);
  output[9] += 1.0f;
  ReferenceError wrong =
      checkAgainstReference(*lecture, input.data(), output.data(), kBatch);
  CHECK(*wrong.maxAbsError == doctest::Approx(1.0).epsilon(1e-5));
  CHECK_FALSE(closeToReference(wrong));
  output[9] = NAN;
  CHECK(std::isinf(
      *checkAgainstReference(*lecture, input.data(), output.data(), kBatch)
           .maxAbsError));
  CHECK(closeToReference(ReferenceError{}));
}

TEST_CASE("the JSON line: every field, in order, derived from the median") {
  CHECK(jsonLine(sampleInfo(), sampleResult()) ==
        "{\"file\": \"net.nn\", \"model\": \"Net\", \"backend\": \"cpu\", "
        "\"batch\": 10, \"threads\": 1, \"median_seconds\": 2e-06, "
        "\"min_seconds\": 1e-06, \"p10_seconds\": 1e-06, \"p90_seconds\": "
        "4e-06, \"max_seconds\": 5e-06, \"seconds_per_sample\": 2e-07, "
        "\"samples_per_second\": 5e+06, \"flops_per_sample\": 1000, "
        "\"gflops\": 5, \"peak_gflops\": 100, \"peak_fraction\": 0.05, "
        "\"peak_isa\": \"AVX2 FMA\", \"samples\": 3, \"runs_per_sample\": 7, "
        "\"frontend_seconds\": 0.5, \"compile_seconds\": 0.25, "
        "\"warm_compile_seconds\": 0.0125, "
        "\"artifact_bytes\": 4096, \"weight_bytes\": 4000, "
        "\"huge_page_bytes\": 0, \"max_abs_error\": 1e-07, \"ref_max_abs\": "
        "0.5, \"cpu\": \"Test CPU\", \"hardware_threads\": 2}\n");
}

TEST_CASE("the JSON line of the reference backend and of a stage") {
  RunInfo info = sampleInfo();
  info.backend = "ref";
  info.isReference = true;
  info.peak.reset();
  info.compileSeconds.reset();
  info.warmCompileSeconds.reset();
  info.artifactBytes = 0;
  info.hugePageBytes.reset();
  BatchResult result = sampleResult();
  result.error = ReferenceError{};
  std::string line = jsonLine(info, result);
  CHECK(line.find("\"peak_gflops\": null, \"peak_fraction\": null, "
                  "\"peak_isa\": null") != std::string::npos);
  CHECK(line.find("\"compile_seconds\": null, \"warm_compile_seconds\": "
                  "null, \"artifact_bytes\": null") != std::string::npos);
  CHECK(line.find("\"huge_page_bytes\": null, \"max_abs_error\": null, "
                  "\"ref_max_abs\": null") != std::string::npos);

  StageReport stage;
  stage.index = 1;
  stage.stage = {StageKind::RowOp, 2, 3};
  stage.label = "a \"quoted\" label";
  std::string stageLine = jsonLine(sampleInfo(), sampleResult(), &stage);
  CHECK(stageLine.find("\"backend\": \"cpu\", \"stage\": 1, \"stage_kind\": "
                       "\"row op\", \"first_op\": 2, \"last_op\": 3, "
                       "\"stage_label\": \"a \\\"quoted\\\" label\", "
                       "\"batch\": 10") != std::string::npos);
}

TEST_CASE("the text table's row and header") {
  CHECK(textRow(sampleInfo(), sampleResult()) ==
        "      10    2.000 us    1.000 us    1.000 us    4.000 us    5.000 us "
        "   200.0 ns     5.00 M      5.00     5.0      1e-07        3x7\n");
  std::string header = textHeader(sampleInfo());
  CHECK(header.find("seqc bench: net.nn, model Net (f32[B,4] -> f32[B,2], 2 "
                    "dense ops after fusion)\n  backend:   cpu, 1 thread\n  "
                    "host:      Test CPU, 2 hardware threads\n") == 0);
  CHECK(header.find("  peak:      100.0 GFLOP/s FP32 on 1 thread (AVX2 FMA "
                    "chains, measured now)\n") != std::string::npos);
  RunInfo int8 = sampleInfo();
  int8.peak = PeakFlops{SimdIsa::Avx512, 1, 700.0, PeakOp::Int8Dot};
  CHECK(textHeader(int8).find("  peak:      700.0 GOP/s int8 on 1 thread "
                              "(AVX512-VNNI vpdpbusd chains, measured "
                              "now)\n") != std::string::npos);
  CHECK(header.find("  pages:     4 KiB (no whole 2 MiB page") !=
        std::string::npos);
  CHECK(header.find("note:") == std::string::npos);
  CHECK(header.find("  compile:   250.0 ms (code generation and JIT)\n  "
                    "warm:      12.50 ms (the same from the object cache)\n") !=
        std::string::npos);
  RunInfo ref = sampleInfo();
  ref.isReference = true;
  ref.peak.reset();
  std::string refHeader = textHeader(ref);
  CHECK(refHeader.find("  peak:      not measured\n") != std::string::npos);
  CHECK(refHeader.find("  note:      --backend ref times the float64 oracle") !=
        std::string::npos);
}

TEST_CASE("a stage too short to measure gets no rate and no share") {
  StageReport stage;
  stage.stage = {StageKind::Dense, 0, 0};
  stage.label = std::string(60, 'x');
  stage.flops = 1000;
  BatchTiming timing = sampleResult().timing;
  timing.spread = Spread{};
  std::string row = stageTextRow(sampleInfo(), stage, timing, 0.0);
  // The label is cut to the column with an ellipsis.
  CHECK(row.find(std::string(43, 'x') + "... ") != std::string::npos);
  CHECK(row.find(std::string(44, 'x')) == std::string::npos);
  CHECK(row.find("         -       -   0.0%\n") != std::string::npos);
}
