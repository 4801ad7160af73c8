//===- BenchCommand.cpp - seqc bench --------------------------------------===//
//
// Part of seqc. `seqc bench`, in the manner of TensorRT's trtexec: compile
// the model once (timed), then for every --batch size time repeated runs on
// fixed-seed random inputs (compiler/bench/Timing.h says how), check the
// last run's outputs against the float64 reference, and print the latency
// distribution, GFLOP/s and the share of this machine's FP32 peak, measured
// on the spot. --layers then times a profiling build of the CPU code stage
// by stage. The measuring and the reports live in compiler/bench; this file
// connects them to the options and the backends.
//
//===----------------------------------------------------------------------===//

#include "compiler/bench/Buffers.h"
#include "compiler/bench/ModelCost.h"
#include "compiler/bench/Report.h"
#include "compiler/bench/Units.h"
#include "compiler/driver/Commands.h"
#include "compiler/driver/Pictures.h"
#include "compiler/driver/Pipeline.h"
#include "compiler/driver/Targets.h"
#include "compiler/support/FileIO.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <new>

namespace seqc::driver {

namespace {

using bench::Clock;
using bench::secondsSince;

/// One run of an executor on fixed buffers: what bench::timeBatch times.
struct ExecutorRun {
  Executor &executor;
  const float *input;
  float *output;
  uint64_t batch;
  DiagnosticEngine &diag;

  bool run() { return executor.run(input, output, batch, diag); }
  std::vector<double> takeStageSeconds() { return executor.takeStageSeconds(); }
};

/// Prints a piece of the report at once: a long benchmark shows each line
/// as soon as it is measured.
void show(const std::string &text) {
  fmt::print("{}", text);
  std::fflush(stdout);
}

/// What `seqc bench` was asked to do, defaults filled in.
struct BenchPlan {
  Backend backend = Backend::Cpu;
  std::vector<uint64_t> batches;
  uint64_t maxBatch = 0;
};

/// The plan from the options; nullopt after reporting a contradiction.
std::optional<BenchPlan> planFrom(const DriverOptions &opts,
                                  DiagnosticEngine &diag) {
  BenchPlan plan;
  plan.backend = opts.backend.value_or(Backend::Cpu);
  plan.batches = opts.batches;
  if (plan.batches.empty())
    plan.batches = {1, 64, 1024};
  for (uint64_t batch : plan.batches)
    if (batch == 0) {
      diag.error("--batch 0 times nothing; every batch must be at least 1");
      return std::nullopt;
    }
  if (opts.layers && plan.backend != Backend::Cpu) {
    diag.error(fmt::format("--layers times the stages of the CPU backend's "
                           "code; --backend {} has no per-stage profile",
                           spelling(plan.backend)));
    return std::nullopt;
  }
  plan.maxBatch = *std::max_element(plan.batches.begin(), plan.batches.end());
  return plan;
}

/// The report's description of the model and the host.
void describeModel(const ir::Model &model, bench::RunInfo &info) {
  info.model = model.name;
  info.inputType = model.inputType().str();
  info.outputType = model.outputType().str();
  info.denseOps = bench::denseOpCount(model);
  info.flops = bench::flopsPerSample(model);
  info.weightBytes = bench::weightBytes(model);
}

/// False (after reporting) when the buffers for the largest batch exceed
/// what one benchmark may allocate.
bool buffersFit(const ir::Model &model, const BenchPlan &plan,
                DiagnosticEngine &diag) {
  double needed =
      bench::bufferBytes(model, plan.maxBatch, plan.backend == Backend::Ref);
  if (needed <= double(bench::kMaxBufferBytes))
    return true;
  diag.error(fmt::format("batch {} of model '{}' needs {} of buffers; "
                         "seqc bench allocates at most {}",
                         plan.maxBatch, model.name,
                         bench::formatBytes(uint64_t(needed)),
                         bench::formatBytes(bench::kMaxBufferBytes)));
  return false;
}

/// Creates the executor of the plain runs and notes in \p info what
/// building it cost. Nullptr after reporting.
std::unique_ptr<Executor> prepareExecutor(const ir::Model &model,
                                          const BenchPlan &plan,
                                          const DriverOptions &opts,
                                          bench::RunInfo &info,
                                          DiagnosticEngine &diag) {
  // The CPU JIT compiles through a private object cache, so that the first
  // compile is cold whatever the user's cache holds and the second is
  // served by it (the warm compile time).
  std::optional<TemporaryDirectory> cacheDir;
  DriverOptions compileOpts = opts;
  if (plan.backend == Backend::Cpu && opts.cache) {
    cacheDir.emplace("seqc-bench-cache");
    compileOpts.benchCacheDir = cacheDir->path();
  }
  Clock::time_point compileStart = Clock::now();
  std::unique_ptr<Executor> executor =
      createExecutor(model, plan.backend, compileOpts, diag);
  if (!executor)
    return nullptr;
  if (plan.backend == Backend::Ref) {
    if (opts.threads > 1)
      diag.report(Severity::Warning,
                  fmt::format("the reference interpreter runs on one thread; "
                              "--threads {} is ignored",
                              opts.threads));
    info.threads = 1;
    return executor;
  }
  info.compileSeconds = secondsSince(compileStart);
  if (!compileOpts.benchCacheDir.empty()) {
    Clock::time_point warmStart = Clock::now();
    std::unique_ptr<Executor> warm =
        createExecutor(model, plan.backend, compileOpts, diag);
    if (warm && warm->fromCache())
      info.warmCompileSeconds = secondsSince(warmStart);
  }
  info.artifactBytes = executor->artifactBytes();
  info.hugePageBytes = executor->hugePageBytes();
  info.hugePages = opts.hugePages;
  return executor;
}

/// The machine's peak for the instruction the code's products use: FP32
/// FMA in the ISA of --cpu; for the CPU's int8, `vpdpbusd` where --cpu lets
/// the kernels use VNNI, else `pmaddwd` in that ISA (bf16 and int8w widen
/// to FP32 FMAs); a GPU's is not measured.
std::optional<bench::PeakFlops>
measurePeak(Backend backend, const DriverOptions &opts, unsigned threads) {
  if (backend == Backend::Cuda)
    return std::nullopt;
  if (backend == Backend::Ref)
    return bench::measurePeakFlops(bench::detectHostIsa(), threads);
  bench::SimdIsa isa = bench::isaForCpuOption(opts.cpu);
  bool int8 = opts.precision == Precision::Int8;
  if (int8 && isa == bench::SimdIsa::Avx512 &&
      bench::cpuOptionUsesVnni(opts.cpu))
    return bench::measurePeakFlops(isa, threads, bench::PeakOp::Int8Dot);
  // Without VNNI, int8's x86 kernels use pmaddwd (SSE2, AVX2, AVX512BW).
  if (int8 && isa != bench::SimdIsa::Scalar)
    return bench::measurePeakFlops(isa, threads, bench::PeakOp::Int16Madd);
  return bench::measurePeakFlops(isa, threads);
}

/// What every timed batch size shares.
struct BenchContext {
  const ir::Model &model;
  const DriverOptions &opts;
  const bench::RunBuffers &buffers;
  DiagnosticEngine &diag;
};

/// Times \p executor at \p batch and, when \p checkedAs names the run for
/// a warning, compares its outputs with the reference. With
/// \p stageSamples, also the stages' times. False when a run failed.
bool timeAndCheck(const BenchContext &ctx, Executor &executor, uint64_t batch,
                  std::optional<std::string_view> checkedAs,
                  bench::BatchResult &result,
                  bench::StageSamples *stageSamples = nullptr) {
  const float *input = ctx.buffers.input.get();
  float *output = ctx.buffers.output.get();
  ExecutorRun workload{executor, input, output, batch, ctx.diag};
  if (!bench::timeBatch(workload, batch, ctx.opts.repeat, result.timing,
                        stageSamples))
    return false;
  if (checkedAs) {
    // The CPU's reduced precisions against the reference's simulation of
    // them (CUDA's bf16 and f16 against f32, as before).
    Precision precision = ctx.opts.precision.value_or(Precision::F32);
    if (ctx.opts.backend == Backend::Cuda || precision == Precision::F16)
      precision = Precision::F32;
    result.error = bench::checkAgainstReference(ctx.model, input, output, batch,
                                                precision);
    bench::warnIfWrong(result.error, batch, *checkedAs, ctx.diag);
  }
  return true;
}

/// The report's line of one stage at one batch size; a JSON line carries
/// the stage's own FLOPs and weights, and \p profiled's build costs.
void showStage(const bench::RunInfo &profiled, const bench::StageReport &stage,
               const bench::BatchTiming &timing, double sum, bool json) {
  if (!json) {
    show(bench::stageTextRow(profiled, stage, timing, sum));
    return;
  }
  bench::RunInfo own = profiled;
  own.flops = stage.flops;
  own.weightBytes = stage.weightBytes;
  show(bench::jsonLine(own, bench::BatchResult{timing, {}}, &stage));
}

/// The stages of a --layers profile and their timings at one batch size:
/// what --format draws.
struct DrawnProfile {
  uint64_t batch = 0;
  std::vector<bench::StageReport> stages;
  std::vector<bench::BatchTiming> timings;
};

/// `--layers`: a profiling build of the model, timed like the plain one at
/// every batch size, reports each stage's median time per run. \p whole
/// holds the plain build's results, for the comparison line; \p drawn
/// receives the stages at drawn.batch. Returns false after the compiler or
/// the executor reported.
bool profileStages(const BenchContext &ctx, const bench::RunInfo &info,
                   const std::vector<bench::BatchResult> &whole,
                   DrawnProfile &drawn) {
  Clock::time_point compileStart = Clock::now();
  std::unique_ptr<Executor> executor = createExecutor(
      ctx.model, Backend::Cpu, ctx.opts, ctx.diag, /*profile=*/true);
  if (!executor)
    return false;
  bench::RunInfo profiled = info;
  profiled.compileSeconds = secondsSince(compileStart);
  profiled.artifactBytes = executor->artifactBytes();
  std::vector<bench::StageReport> stages =
      bench::describeStages(ctx.model, executor->profiledStages());
  if (!ctx.opts.json)
    show(bench::stageTableHeader());
  for (const bench::BatchResult &plain : whole) {
    uint64_t batch = plain.timing.batch;
    bench::BatchResult total;
    bench::StageSamples samples;
    if (!timeAndCheck(ctx, *executor, batch, "the profiling build", total,
                      &samples))
      return false;
    std::vector<bench::BatchTiming> timings =
        bench::stageTimings(total.timing, samples, stages.size());
    double sum = bench::sumOfMedians(timings);
    if (batch == drawn.batch && drawn.timings.empty()) {
      drawn.stages = stages;
      drawn.timings = timings;
    }
    for (const bench::StageReport &stage : stages)
      showStage(profiled, stage, timings[stage.index], sum, ctx.opts.json);
    if (!ctx.opts.json)
      show(bench::stageSumRow(batch, sum, total.timing.spread.median,
                              plain.timing.spread.median));
  }
  return true;
}

/// Times every batch size with \p executor, printing each result as it
/// comes, into \p results. False when a run failed.
bool timeBatches(const BenchContext &ctx, Executor &executor,
                 const BenchPlan &plan, const bench::RunInfo &info,
                 std::vector<bench::BatchResult> &results) {
  // The reference checked against itself would say nothing.
  std::string name = fmt::format("model '{}'", ctx.model.name);
  std::optional<std::string_view> checkedAs;
  if (plan.backend != Backend::Ref)
    checkedAs = name;
  for (uint64_t batch : plan.batches) {
    bench::BatchResult result;
    if (!timeAndCheck(ctx, executor, batch, checkedAs, result))
      return false;
    show(ctx.opts.json ? bench::jsonLine(info, result)
                       : bench::textRow(info, result));
    results.push_back(result);
  }
  return true;
}

int runBench(const DriverOptions &opts, SourceManager &sourceMgr,
             DiagnosticEngine &diag) {
  std::optional<BenchPlan> plan = planFrom(opts, diag);
  if (!plan)
    return 1;
  std::string dotPath;
  if (int code = checkProfilePicture(opts, dotPath, diag))
    return code;
  bench::RunInfo info;
  info.file = opts.positional.front();
  info.backend = std::string(spelling(plan->backend));
  info.isReference = plan->backend == Backend::Ref;
  info.threads = opts.threads;
  info.cpuName = bench::hostCpuName();
  info.hardwareThreads = bench::hostHardwareThreads();

  // A picture needs the source layers too: the checked model is kept.
  Clock::time_point frontendStart = Clock::now();
  std::unique_ptr<ir::Model> checked, model;
  if (opts.profileFormat) {
    if (!(checked = loadCheckedModel(opts, sourceMgr, diag)))
      return 1;
    model = std::make_unique<ir::Model>(*checked);
    if (!optimizeModel(*model, opts, diag))
      return 1;
  } else if (!(model = loadOptimizedModel(opts, sourceMgr, diag))) {
    return 1;
  }
  info.frontendSeconds = secondsSince(frontendStart);
  describeModel(*model, info);
  if (!buffersFit(*model, *plan, diag))
    return 1;
  std::unique_ptr<Executor> executor =
      prepareExecutor(*model, *plan, opts, info, diag);
  if (!executor)
    return 1;
  info.peak = measurePeak(plan->backend, opts, info.threads);
  if (opts.profileFormat)
    info.bandwidth = bench::measureMemoryBandwidth(info.threads);
  bench::RunBuffers buffers = bench::makeRunBuffers(*model, plan->maxBatch);

  if (!opts.json)
    show(bench::textHeader(info));
  BenchContext ctx{*model, opts, buffers, diag};
  std::vector<bench::BatchResult> results;
  if (!timeBatches(ctx, *executor, *plan, info, results))
    return 1;
  if (!opts.layers)
    return 0;
  // The plain build's code and packed weights are not needed any more.
  executor.reset();
  DrawnProfile drawn;
  drawn.batch = plan->maxBatch;
  if (!profileStages(ctx, info, results, drawn))
    return 1;
  if (!opts.profileFormat)
    return 0;
  return writeProfilePicture(opts,
                             MeasuredProfile{*checked, *model, drawn.stages,
                                             drawn.timings, info.peak,
                                             info.bandwidth},
                             dotPath, diag);
}

} // namespace

int runBenchCommand(const DriverOptions &opts) {
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  try {
    return runBench(opts, sourceMgr, diag);
  } catch (const std::bad_alloc &) {
    diag.error("out of memory while setting up the benchmark buffers");
    return 2;
  }
}

} // namespace seqc::driver
