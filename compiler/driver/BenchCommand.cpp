//===- BenchCommand.cpp - seqc bench --------------------------------------===//
//
// Part of seqc. `seqc bench`, in the manner of TensorRT's trtexec: compile
// the model once (timed), then for every --batch size warm up, time repeated
// runs on fixed-seed random inputs, and report the median and spread of the
// latency, the time per sample, GFLOP/s and the fraction of this machine's
// FP32 peak (measured on the spot by PeakFlops). The outputs of the last
// timed run are checked against the float64 reference on a few rows.
// --layers adds a per-stage profile of the CPU code, in the model as it
// runs: a profiling build timestamps every stage (Executor::profiledStages)
// and is timed the same way.
//
// Timing: a sample times `runsPerSample` back-to-back runs with
// std::chrono::steady_clock, so that a sample lasts at least
// kMinSampleSeconds and the clock's own cost vanishes; per-run latency is the
// sample time over the runs. Inputs stay the same between runs (a
// steady-state serving loop: what fits in cache stays there).
//
//===----------------------------------------------------------------------===//

#include "compiler/driver/Commands.h"
#include "compiler/driver/PeakFlops.h"
#include "compiler/driver/Pipeline.h"
#include "compiler/driver/Targets.h"
#include "compiler/reference/Interpreter.h"
#include "compiler/support/Limits.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace seqc::driver {

namespace {

using Clock = std::chrono::steady_clock;

/// Time spent warming up each batch size (at least one run).
constexpr double kWarmupSeconds = 0.1;
/// Timed time per batch size when --repeat does not fix the sample count.
constexpr double kTargetSeconds = 1.0;
/// Bounds on the automatic number of samples per batch size.
constexpr unsigned kMinSamples = 3;
constexpr unsigned kMaxSamples = 200;
/// Shortest sample: runs are grouped until a sample lasts this long.
constexpr double kMinSampleSeconds = 50e-6;
/// Largest input + output (+ interpreter) memory one bench may allocate.
constexpr uint64_t kMaxBufferBytes = 8ull << 30;
/// Seed of the random inputs (uniform in [-1, 1)).
constexpr uint64_t kInputSeed = 20240229;
/// Outputs the reference check looks at: this many rows at the start and at
/// the end of each batch.
constexpr uint64_t kCheckRowsEachEnd = 2;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// 64-byte aligned float storage.
struct AlignedFloats {
  struct Free {
    void operator()(float *p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data;

  explicit AlignedFloats(uint64_t count) {
    uint64_t bytes = std::max<uint64_t>(64, (count * 4 + 63) / 64 * 64);
    data.reset(static_cast<float *>(std::aligned_alloc(64, bytes)));
    if (!data)
      throw std::bad_alloc();
    std::fill_n(data.get(), count, 0.0f);
  }
  float *get() const { return data.get(); }
};

/// `--backend ref`: the float64 interpreter behind the Executor interface.
/// It converts the float32 rows to double and back, which is part of what
/// it times; it is an oracle, not a fast path.
class ReferenceExecutor final : public Executor {
public:
  explicit ReferenceExecutor(const ir::Model &model) : model(model) {}

  bool run(const float *input, float *output, uint64_t batch,
           DiagnosticEngine &) override {
    int64_t inFeatures = model.inputType().features();
    int64_t outFeatures = model.outputType().features();
    reference::Matrix x(static_cast<int64_t>(batch), inFeatures);
    std::copy_n(input, x.data.size(), x.data.begin());
    reference::Matrix y = reference::run(model, x);
    for (size_t i = 0; i < static_cast<size_t>(batch * outFeatures); ++i)
      output[i] = static_cast<float>(y.data[i]);
    return true;
  }

private:
  const ir::Model &model;
};

/// Latency distribution of one batch size, seconds per run.
struct Spread {
  double min = 0, p10 = 0, median = 0, p90 = 0, max = 0;
};

/// Linear interpolation between closest ranks of a sorted sample.
double percentile(const std::vector<double> &sorted, double q) {
  double pos = q * double(sorted.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos));
  size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - double(lo));
}

Spread spreadOf(std::vector<double> perRun) {
  std::sort(perRun.begin(), perRun.end());
  Spread s;
  s.min = perRun.front();
  s.p10 = percentile(perRun, 0.10);
  s.median = percentile(perRun, 0.50);
  s.p90 = percentile(perRun, 0.90);
  s.max = perRun.back();
  return s;
}

struct BatchResult {
  uint64_t batch = 0;
  unsigned samples = 0;
  uint64_t runsPerSample = 0;
  Spread spread;
  /// Largest |output - reference| on the checked rows, and the largest
  /// |reference| there (the scale); unset for --backend ref.
  std::optional<double> maxAbsError;
  double refMaxAbs = 0.0;
};

/// Warm-up, then timed samples. With \p stageSamples (a profiling
/// executor), also each sample's seconds per run of every stage. Returns
/// false after the executor reported.
bool timeBatch(Executor &executor, const float *input, float *output,
               uint64_t batch, unsigned repeat, DiagnosticEngine &diag,
               BatchResult &result,
               std::vector<std::vector<double>> *stageSamples = nullptr) {
  Clock::time_point warmStart = Clock::now();
  double first = 0.0;
  uint64_t warmRuns = 0;
  do {
    Clock::time_point start = Clock::now();
    if (!executor.run(input, output, batch, diag))
      return false;
    if (warmRuns++ == 0)
      first = secondsSince(start);
  } while (secondsSince(warmStart) < kWarmupSeconds);
  double warmElapsed = secondsSince(warmStart);
  // The first run may pay for page faults and lazy initialisation.
  double estimate =
      warmRuns > 1 ? (warmElapsed - first) / double(warmRuns - 1) : first;
  estimate = std::max(estimate, 1e-10);

  double sampleSeconds =
      std::max(kMinSampleSeconds, kTargetSeconds / kMaxSamples);
  uint64_t runsPerSample =
      std::max<uint64_t>(1, uint64_t(std::ceil(sampleSeconds / estimate)));
  unsigned samples = repeat;
  if (samples == 0) {
    double fit = kTargetSeconds / (double(runsPerSample) * estimate);
    samples = static_cast<unsigned>(
        std::clamp(std::round(fit), double(kMinSamples), double(kMaxSamples)));
  }

  std::vector<double> perRun;
  perRun.reserve(samples);
  if (stageSamples) {
    stageSamples->clear();
    executor.takeStageSeconds(); // drops the warm-up
  }
  for (unsigned s = 0; s < samples; ++s) {
    Clock::time_point start = Clock::now();
    for (uint64_t r = 0; r < runsPerSample; ++r)
      if (!executor.run(input, output, batch, diag))
        return false;
    perRun.push_back(secondsSince(start) / double(runsPerSample));
    if (stageSamples) {
      std::vector<double> stages = executor.takeStageSeconds();
      for (double &seconds : stages)
        seconds /= double(runsPerSample);
      stageSamples->push_back(std::move(stages));
    }
  }
  result.batch = batch;
  result.samples = samples;
  result.runsPerSample = runsPerSample;
  result.spread = spreadOf(std::move(perRun));
  return true;
}

/// Compares rows at both ends of the batch with the float64 reference.
void checkAgainstReference(const ir::Model &model, const float *input,
                           const float *output, BatchResult &result) {
  int64_t inFeatures = model.inputType().features();
  int64_t outFeatures = model.outputType().features();
  std::vector<uint64_t> rows;
  for (uint64_t r = 0; r < result.batch; ++r) {
    if (r < kCheckRowsEachEnd || r + kCheckRowsEachEnd >= result.batch)
      rows.push_back(r);
    else
      r = result.batch - kCheckRowsEachEnd - 1;
  }
  reference::Matrix x(static_cast<int64_t>(rows.size()), inFeatures);
  for (size_t i = 0; i < rows.size(); ++i)
    for (int64_t c = 0; c < inFeatures; ++c)
      x.at(int64_t(i), c) = input[rows[i] * inFeatures + c];
  reference::Matrix y = reference::run(model, x);
  double maxError = 0.0, maxRef = 0.0;
  for (size_t i = 0; i < rows.size(); ++i)
    for (int64_t c = 0; c < outFeatures; ++c) {
      double want = y.at(int64_t(i), c);
      double got = output[rows[i] * outFeatures + c];
      // NaN where the reference is finite (or the other way) is an error.
      double error = std::isnan(want) && std::isnan(got) ? 0.0
                     : want == got                       ? 0.0
                                                         : std::abs(got - want);
      if (std::isnan(error))
        error = INFINITY;
      maxError = std::max(maxError, error);
      if (std::isfinite(want))
        maxRef = std::max(maxRef, std::abs(want));
    }
  result.maxAbsError = maxError;
  result.refMaxAbs = maxRef;
}

/// FLOPs per sample of one op: 2 * in * out for a dense op, 0 for the rest.
uint64_t opFlops(const ir::Op &op) {
  if (op.kind == ir::OpKind::Dense || op.kind == ir::OpKind::Linear)
    return 2 * uint64_t(op.inFeatures) * uint64_t(op.outFeatures);
  return 0;
}

/// f32 bytes of one op's parameters.
uint64_t opWeightBytes(const ir::Model &model, const ir::Op &op) {
  uint64_t bytes = 0;
  for (ir::ParamId id : {op.weight, op.bias, op.runningMean, op.runningVar})
    if (id != ir::kNoParam)
      bytes += model.params[id].data.numElements() * sizeof(float);
  return bytes;
}

uint64_t flopsPerSample(const ir::Model &model) {
  uint64_t flops = 0;
  for (const ir::Op &op : model.ops)
    flops += opFlops(op);
  return flops;
}

uint64_t weightBytes(const ir::Model &model) {
  uint64_t bytes = 0;
  for (const ir::Param &param : model.params)
    bytes += param.data.numElements() * sizeof(float);
  return bytes;
}

int64_t widestValue(const ir::Model &model) {
  int64_t widest = 0;
  for (const ir::Value &value : model.values)
    widest = std::max(widest, value.type.features());
  return widest;
}

/// Four significant digits in the largest unit that keeps the value >= 1.
std::string formatSeconds(double s) {
  if (!std::isfinite(s))
    return "-";
  double value = s * 1e9;
  const char *unit = "ns";
  if (s >= 1.0) {
    value = s;
    unit = "s";
  } else if (s >= 1e-3) {
    value = s * 1e3;
    unit = "ms";
  } else if (s >= 1e-6) {
    value = s * 1e6;
    unit = "us";
  }
  int decimals = value >= 100 ? 1 : value >= 10 ? 2 : 3;
  return fmt::format("{:.{}f} {}", value, decimals, unit);
}

std::string formatBytes(uint64_t bytes) {
  if (bytes < 1024)
    return fmt::format("{} B", bytes);
  if (bytes < (1u << 20))
    return fmt::format("{:.1f} KiB", double(bytes) / 1024);
  if (bytes < (1u << 30))
    return fmt::format("{:.2f} MiB", double(bytes) / (1 << 20));
  return fmt::format("{:.2f} GiB", double(bytes) / (1 << 30));
}

std::string formatCount(double n) {
  if (n >= 1e9)
    return fmt::format("{:.2f} G", n * 1e-9);
  if (n >= 1e6)
    return fmt::format("{:.2f} M", n * 1e-6);
  if (n >= 1e3)
    return fmt::format("{:.2f} k", n * 1e-3);
  return fmt::format("{:.0f} ", n);
}

/// A JSON string literal. Bytes outside printable ASCII are written as
/// \u00XX, so the line stays valid JSON whatever the path holds.
std::string jsonString(std::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += fmt::format("\\u{:04x}", unsigned(c));
    } else {
      out += char(c);
    }
  }
  return out + "\"";
}

std::string jsonNumber(double value) {
  if (!std::isfinite(value))
    return "null";
  return fmt::format("{:.6g}", value);
}

std::string jsonNumber(std::optional<double> value) {
  return value ? jsonNumber(*value) : std::string("null");
}

/// What the report says about the whole run, shared by every batch line.
struct RunInfo {
  std::string file;
  std::string model;
  std::string backend;
  unsigned threads = 1;
  std::string cpuName;
  unsigned hardwareThreads = 1;
  std::optional<PeakFlops> peak;
  uint64_t flops = 0;
  double frontendSeconds = 0.0;
  std::optional<double> compileSeconds;
  uint64_t artifactBytes = 0;
  uint64_t weightBytes = 0;
  /// The CPU JIT: bytes of packed weights in 2 MiB pages, and whether it
  /// was asked to put them there (not --no-huge-pages).
  std::optional<uint64_t> hugePageBytes;
  bool hugePages = true;
};

/// One stage of the generated code in a --layers profile.
struct StageReport {
  size_t index = 0;
  ProfiledStage stage;
  /// What it computes: `[path] description` of its op as in the IR dump,
  /// or the range of ops a fused stage covers.
  std::string label;
  /// 2 * in * out of its dense ops.
  uint64_t flops = 0;
  /// f32 bytes of its ops' parameters.
  uint64_t weightBytes = 0;
};

/// One JSON line: the whole model's, or with `stage` one stage's share of
/// the profiled runs (then `info` carries the stage's own FLOPs and weight
/// bytes, and the profiling build's compile time and artifact size).
void printJsonLine(const RunInfo &info, const BatchResult &r,
                   const StageReport *stage = nullptr) {
  const Spread &s = r.spread;
  double perSample = s.median / double(r.batch);
  double gflops = double(info.flops) * double(r.batch) / s.median * 1e-9;
  std::string line = "{";
  auto field = [&](std::string_view name, const std::string &value) {
    if (line.size() > 1)
      line += ", ";
    line += fmt::format("\"{}\": {}", name, value);
  };
  field("file", jsonString(info.file));
  field("model", jsonString(info.model));
  field("backend", jsonString(info.backend));
  if (stage) {
    field("stage", fmt::format("{}", stage->index));
    field("stage_kind", jsonString(stage->stage.kind));
    field("first_op", fmt::format("{}", stage->stage.firstOp));
    field("last_op", fmt::format("{}", stage->stage.lastOp));
    field("stage_label", jsonString(stage->label));
  }
  field("batch", fmt::format("{}", r.batch));
  field("threads", fmt::format("{}", info.threads));
  field("median_seconds", jsonNumber(s.median));
  field("min_seconds", jsonNumber(s.min));
  field("p10_seconds", jsonNumber(s.p10));
  field("p90_seconds", jsonNumber(s.p90));
  field("max_seconds", jsonNumber(s.max));
  field("seconds_per_sample", jsonNumber(perSample));
  field("samples_per_second", jsonNumber(1.0 / perSample));
  field("flops_per_sample", fmt::format("{}", info.flops));
  field("gflops", jsonNumber(gflops));
  field("peak_gflops",
        info.peak ? jsonNumber(info.peak->gflops) : std::string("null"));
  field("peak_fraction", info.peak && info.peak->gflops > 0
                             ? jsonNumber(gflops / info.peak->gflops)
                             : std::string("null"));
  field("peak_isa",
        info.peak ? jsonString(isaName(info.peak->isa)) : std::string("null"));
  field("samples", fmt::format("{}", r.samples));
  field("runs_per_sample", fmt::format("{}", r.runsPerSample));
  field("frontend_seconds", jsonNumber(info.frontendSeconds));
  field("compile_seconds", jsonNumber(info.compileSeconds));
  field("artifact_bytes", info.artifactBytes
                              ? fmt::format("{}", info.artifactBytes)
                              : std::string("null"));
  field("weight_bytes", fmt::format("{}", info.weightBytes));
  field("huge_page_bytes", info.hugePageBytes
                               ? fmt::format("{}", *info.hugePageBytes)
                               : std::string("null"));
  field("max_abs_error", jsonNumber(r.maxAbsError));
  field("ref_max_abs",
        r.maxAbsError ? jsonNumber(r.refMaxAbs) : std::string("null"));
  field("cpu", jsonString(info.cpuName));
  field("hardware_threads", fmt::format("{}", info.hardwareThreads));
  fmt::print("{}}}\n", line);
  std::fflush(stdout);
}

void printHeader(const RunInfo &info, const ir::Model &model) {
  unsigned dense = 0;
  for (const ir::Op &op : model.ops)
    dense += op.kind == ir::OpKind::Dense || op.kind == ir::OpKind::Linear;
  fmt::print("seqc bench: {}, model {} ({} -> {}, {} dense op{} after "
             "fusion)\n",
             info.file, info.model, model.inputType().str(),
             model.outputType().str(), dense, dense == 1 ? "" : "s");
  fmt::print("  backend:   {}{}, {} thread{}\n", info.backend,
             info.backend == "ref" ? " (float64 reference interpreter)" : "",
             info.threads, info.threads == 1 ? "" : "s");
  fmt::print("  host:      {}, {} hardware thread{}\n", info.cpuName,
             info.hardwareThreads, info.hardwareThreads == 1 ? "" : "s");
  fmt::print("  frontend:  {} (parse, weights, passes)\n",
             formatSeconds(info.frontendSeconds));
  if (info.compileSeconds)
    fmt::print("  compile:   {} (code generation and JIT)\n",
               formatSeconds(*info.compileSeconds));
  fmt::print("  artifact:  {} (weights {} as f32)\n",
             info.artifactBytes ? formatBytes(info.artifactBytes)
                                : std::string("not reported by this backend"),
             formatBytes(info.weightBytes));
  if (info.hugePageBytes) {
    if (*info.hugePageBytes)
      fmt::print("  pages:     {} of packed weights in 2 MiB pages "
                 "(--no-huge-pages: 4 KiB)\n",
                 formatBytes(*info.hugePageBytes));
    else
      fmt::print("  pages:     4 KiB ({})\n",
                 info.hugePages ? "no whole 2 MiB page of weights, or the OS "
                                  "declined huge pages"
                                : "--no-huge-pages");
  }
  if (info.peak && info.peak->gflops > 0)
    fmt::print("  peak:      {:.1f} GFLOP/s FP32 on {} thread{} ({} chains, "
               "measured now)\n",
               info.peak->gflops, info.peak->threads,
               info.peak->threads == 1 ? "" : "s", isaName(info.peak->isa));
  else
    fmt::print("  peak:      not measured\n");
  fmt::print("  work:      {}FLOP per sample (2*in*out per dense layer; bias, "
             "activations and normalisations not counted)\n",
             formatCount(double(info.flops)));
  if (info.backend == "ref")
    fmt::print("  note:      --backend ref times the float64 oracle, not "
               "generated code; its numbers say nothing about compiled "
               "speed\n");
  fmt::print("\n{:>8} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11} {:>10} "
             "{:>9} {:>7} {:>10} {:>10}\n",
             "batch", "median", "min", "p10", "p90", "max", "per sample",
             "samples/s", "GFLOP/s", "%peak", "max|err|", "samples");
}

void printRow(const RunInfo &info, const BatchResult &r) {
  const Spread &s = r.spread;
  double perSample = s.median / double(r.batch);
  double gflops = double(info.flops) * double(r.batch) / s.median * 1e-9;
  std::string peak =
      info.peak && info.peak->gflops > 0
          ? fmt::format("{:.1f}", 100 * gflops / info.peak->gflops)
          : std::string("-");
  std::string error =
      r.maxAbsError ? fmt::format("{:.2g}", *r.maxAbsError) : std::string("-");
  fmt::print("{:>8} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11} {:>10} "
             "{:>9.2f} {:>7} {:>10} {:>10}\n",
             r.batch, formatSeconds(s.median), formatSeconds(s.min),
             formatSeconds(s.p10), formatSeconds(s.p90), formatSeconds(s.max),
             formatSeconds(perSample), formatCount(1.0 / perSample), gflops,
             peak, error, fmt::format("{}x{}", r.samples, r.runsPerSample));
  std::fflush(stdout);
}

/// `[path] description` of an op, or its mnemonic and types when the op
/// carries no source description.
std::string opLabel(const ir::Model &model, size_t index) {
  const ir::Op &op = model.ops[index];
  if (!op.description.empty())
    return fmt::format("[{}] {}", op.path, op.description);
  return fmt::format("{} {} -> {}", ir::opName(op.kind),
                     model.values[op.input].type.str(),
                     model.values[op.result].type.str());
}

/// What a stage computes, for the --layers table.
std::string stageLabel(const ir::Model &model, const ProfiledStage &stage) {
  if (stage.lastOp > stage.firstOp)
    return fmt::format("ops {}-{} {}: {} ...", stage.firstOp, stage.lastOp,
                       stage.kind, opLabel(model, stage.firstOp));
  std::string label = opLabel(model, stage.firstOp);
  if (stage.kind == "row norm")
    label += model.ops[stage.firstOp].rowNorm == ir::RowNorm::LogSoftmax
                 ? " (its log-softmax)"
                 : " (its softmax)";
  return label;
}

/// Warns when a timed run's checked rows differ from the float64 reference
/// by more than 1e-4 of the output scale; `what` names the run.
void warnIfWrong(const BatchResult &result, std::string_view what,
                 DiagnosticEngine &diag) {
  double bound = 1e-4 * std::max(1.0, result.refMaxAbs);
  if (!result.maxAbsError || *result.maxAbsError <= bound)
    return;
  diag.report(Severity::Warning,
              fmt::format("{} at batch {}: the output differs from the "
                          "float64 reference by up to {:.3g} (outputs up to "
                          "{:.3g}); these timings may be of wrong code",
                          what, result.batch, *result.maxAbsError,
                          result.refMaxAbs));
}

/// Width of the stage column of the --layers table.
constexpr size_t kStageLabelWidth = 46;

/// `--layers`: a profiling build of the model, timed like the plain one at
/// every batch size, reports each stage's median time per run. `whole`
/// holds the plain build's results, for the comparison line. Returns false
/// after the compiler or the executor reported.
bool profileStages(const ir::Model &model, const DriverOptions &opts,
                   const RunInfo &info, const float *input, float *output,
                   const std::vector<uint64_t> &batches,
                   const std::vector<BatchResult> &whole,
                   DiagnosticEngine &diag) {
  Clock::time_point compileStart = Clock::now();
  std::unique_ptr<Executor> executor =
      createExecutor(model, opts, diag, /*profile=*/true);
  if (!executor)
    return false;
  double compileSeconds = secondsSince(compileStart);
  std::vector<StageReport> stages;
  for (const ProfiledStage &stage : executor->profiledStages()) {
    StageReport report;
    report.index = stages.size();
    report.stage = stage;
    report.label = stageLabel(model, stage);
    // A row-norm stage finishes a dense op that the stage before computed.
    bool ownsOps = stage.kind != "row norm";
    for (size_t i = stage.firstOp; ownsOps && i <= stage.lastOp; ++i) {
      report.flops += opFlops(model.ops[i]);
      report.weightBytes += opWeightBytes(model, model.ops[i]);
    }
    stages.push_back(std::move(report));
  }
  if (!opts.json) {
    fmt::print("\nper stage (a build that timestamps every stage, timed the "
               "same way; a stage is one pass over the batch):\n");
    fmt::print("{:>8} {:>3}  {:<8} {:<{}} {:>11} {:>11} {:>9} {:>7} {:>6}\n",
               "batch", "#", "kind", "computes", kStageLabelWidth, "median",
               "p10", "GFLOP/s", "%peak", "share");
  }
  for (size_t b = 0; b < batches.size(); ++b) {
    BatchResult total;
    std::vector<std::vector<double>> samples;
    if (!timeBatch(*executor, input, output, batches[b], opts.repeat, diag,
                   total, &samples))
      return false;
    checkAgainstReference(model, input, output, total);
    warnIfWrong(total, "the profiling build", diag);
    double sum = 0.0;
    std::vector<BatchResult> results;
    for (const StageReport &stage : stages) {
      std::vector<double> seconds;
      for (const std::vector<double> &sample : samples) {
        assert(sample.size() == stages.size() && "one time per stage");
        seconds.push_back(sample[stage.index]);
      }
      BatchResult r;
      r.batch = total.batch;
      r.samples = total.samples;
      r.runsPerSample = total.runsPerSample;
      r.spread = spreadOf(std::move(seconds));
      sum += r.spread.median;
      results.push_back(r);
    }
    for (const StageReport &stage : stages) {
      const BatchResult &r = results[stage.index];
      if (opts.json) {
        RunInfo stageInfo = info;
        stageInfo.flops = stage.flops;
        stageInfo.weightBytes = stage.weightBytes;
        stageInfo.compileSeconds = compileSeconds;
        stageInfo.artifactBytes = executor->artifactBytes();
        printJsonLine(stageInfo, r, &stage);
        continue;
      }
      // A stage shorter than a clock read can measure 0 once that is
      // subtracted: no rate and no share then.
      bool timed = r.spread.median > 0;
      double gflops =
          timed ? double(stage.flops) * double(r.batch) / r.spread.median * 1e-9
                : 0.0;
      bool hasPeak =
          timed && info.peak && info.peak->gflops > 0 && stage.flops > 0;
      std::string label = stage.label;
      if (label.size() > kStageLabelWidth)
        label = label.substr(0, kStageLabelWidth - 3) + "...";
      fmt::print(
          "{:>8} {:>3}  {:<8} {:<{}} {:>11} {:>11} {:>9} {:>7} "
          "{:>5.1f}%\n",
          r.batch, stage.index, stage.stage.kind, label, kStageLabelWidth,
          formatSeconds(r.spread.median), formatSeconds(r.spread.p10),
          timed && stage.flops ? fmt::format("{:.2f}", gflops) : "-",
          hasPeak ? fmt::format("{:.1f}", 100 * gflops / info.peak->gflops)
                  : "-",
          sum > 0 ? 100 * r.spread.median / sum : 0.0);
    }
    if (!opts.json)
      fmt::print("{:>8} {:>3}  {:<8} {:<{}} {:>11} (profiled run {}, plain "
                 "run {})\n",
                 batches[b], "", "", "sum of the stage medians",
                 kStageLabelWidth, formatSeconds(sum),
                 formatSeconds(total.spread.median),
                 formatSeconds(whole[b].spread.median));
  }
  return true;
}

int bench(const DriverOptions &opts, SourceManager &sourceMgr,
          DiagnosticEngine &diag) {
  std::string backend = opts.backend.empty() ? "cpu" : opts.backend;
  std::vector<uint64_t> batches = opts.batches;
  if (batches.empty())
    batches = {1, 64, 1024};
  for (uint64_t batch : batches)
    if (batch == 0) {
      diag.error("--batch 0 times nothing; every batch must be at least 1");
      return 1;
    }
  if (opts.layers && backend != "cpu") {
    diag.error(fmt::format("--layers times the stages of the CPU backend's "
                           "code; --backend {} has no per-stage profile",
                           backend));
    return 1;
  }

  RunInfo info;
  info.file = opts.positional.front();
  info.backend = backend;
  info.threads = opts.threads;
  info.cpuName = hostCpuName();
  info.hardwareThreads = hostHardwareThreads();

  Clock::time_point frontendStart = Clock::now();
  std::unique_ptr<ir::Model> model = loadOptimizedModel(opts, sourceMgr, diag);
  if (!model)
    return 1;
  info.frontendSeconds = secondsSince(frontendStart);
  info.model = model->name;
  info.flops = flopsPerSample(*model);
  info.weightBytes = weightBytes(*model);

  int64_t inFeatures = model->inputType().features();
  int64_t outFeatures = model->outputType().features();
  uint64_t maxBatch = *std::max_element(batches.begin(), batches.end());
  // Input and output of the largest batch; the interpreter also keeps two
  // float64 matrices of the widest value.
  double needed = double(maxBatch) * double(inFeatures + outFeatures) * 4.0;
  if (backend == "ref")
    needed += double(maxBatch) * double(widestValue(*model)) * 8.0 * 3.0;
  if (needed > double(kMaxBufferBytes)) {
    diag.error(fmt::format("batch {} of model '{}' needs {} of buffers; "
                           "seqc bench allocates at most {}",
                           maxBatch, model->name, formatBytes(uint64_t(needed)),
                           formatBytes(kMaxBufferBytes)));
    return 1;
  }

  std::unique_ptr<Executor> executor;
  if (backend == "ref") {
    if (!externalWeightsOnCpu(opts, "--backend", "ref", diag))
      return 1;
    if (opts.threads > 1)
      diag.report(Severity::Warning,
                  fmt::format("the reference interpreter runs on one thread; "
                              "--threads {} is ignored",
                              opts.threads));
    info.threads = 1;
    executor = std::make_unique<ReferenceExecutor>(*model);
  } else {
    Clock::time_point compileStart = Clock::now();
    executor = createExecutor(*model, opts, diag);
    if (!executor)
      return 1;
    info.compileSeconds = secondsSince(compileStart);
    info.artifactBytes = executor->artifactBytes();
    info.hugePageBytes = executor->hugePageBytes();
    info.hugePages = opts.hugePages;
  }

  // The machine's peak for the ISA the code uses (a GPU's is not measured).
  if (backend != "cuda") {
    SimdIsa isa =
        backend == "ref" ? detectHostIsa() : isaForCpuOption(opts.cpu);
    info.peak = measurePeakFlops(isa, info.threads);
  }

  AlignedFloats input(maxBatch * uint64_t(inFeatures));
  AlignedFloats output(maxBatch * uint64_t(outFeatures));
  std::mt19937_64 rng(kInputSeed);
  for (uint64_t i = 0; i < maxBatch * uint64_t(inFeatures); ++i)
    input.get()[i] = float(double(rng() >> 40) * 0x1p-23 - 1.0);

  if (!opts.json)
    printHeader(info, *model);
  std::vector<BatchResult> results;
  for (uint64_t batch : batches) {
    BatchResult result;
    if (!timeBatch(*executor, input.get(), output.get(), batch, opts.repeat,
                   diag, result))
      return 1;
    if (backend != "ref") {
      checkAgainstReference(*model, input.get(), output.get(), result);
      warnIfWrong(result, fmt::format("model '{}'", model->name), diag);
    }
    if (opts.json)
      printJsonLine(info, result);
    else
      printRow(info, result);
    results.push_back(result);
  }
  if (opts.layers) {
    // The plain build's code and packed weights are not needed any more.
    executor.reset();
    if (!profileStages(*model, opts, info, input.get(), output.get(), batches,
                       results, diag))
      return 1;
  }
  return 0;
}

} // namespace

int runBenchCommand(const DriverOptions &opts) {
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  try {
    return bench(opts, sourceMgr, diag);
  } catch (const std::bad_alloc &) {
    diag.error("out of memory while setting up the benchmark buffers");
    return 2;
  }
}

} // namespace seqc::driver
