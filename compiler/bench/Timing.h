//===- Timing.h - The timing loop of seqc bench -----------------*- C++ -*-===//
//
// Part of seqc. How `seqc bench` times one batch size, in the manner of
// TensorRT's trtexec:
//   1. Warm up for kWarmupSeconds (at least one run) and estimate one run's
//      time from every run but the first, which may pay for page faults and
//      lazy initialisation.
//   2. Group back-to-back runs into samples of at least kMinSampleSeconds,
//      so the clock's own cost vanishes, and take enough samples to fill
//      kTargetSeconds (or exactly --repeat of them).
//   3. Time each sample with std::chrono::steady_clock; a run's latency is
//      the sample's time over its runs. The inputs stay the same between
//      runs: a steady-state serving loop, where what fits in cache stays.
// The loop is a template over the workload so that a timed run costs what
// the workload's own call costs, and nothing for the loop's indirection.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_BENCH_TIMING_H
#define SEQC_BENCH_TIMING_H

#include "compiler/bench/Statistics.h"

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <optional>
#include <vector>

namespace seqc::bench {

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

inline double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// What the timing loop times: `run()` runs the model once on the batch
/// (false after it reported a failure); `takeStageSeconds()` returns the
/// seconds each stage took, summed over the runs since the last call (empty
/// when the workload does not profile its stages).
template <typename W>
concept Workload = requires(W &workload) {
  { workload.run() } -> std::same_as<bool>;
  { workload.takeStageSeconds() } -> std::same_as<std::vector<double>>;
};

/// How many samples to take and how many runs each groups.
struct SamplePlan {
  unsigned samples = 0;
  uint64_t runsPerSample = 0;
};

/// The plan for runs of about \p secondsPerRun each: runs per sample so
/// that a sample lasts at least kMinSampleSeconds (and at least the target
/// time over kMaxSamples), then \p repeat samples, or, when \p repeat is 0,
/// as many as fill kTargetSeconds within [kMinSamples, kMaxSamples].
SamplePlan planSamples(double secondsPerRun, unsigned repeat);

/// One batch size's timings: the spread of seconds per run over the samples.
struct BatchTiming {
  uint64_t batch = 0;
  unsigned samples = 0;
  uint64_t runsPerSample = 0;
  Spread spread;
};

/// Per sample, each stage's seconds per run (a profiling workload).
using StageSamples = std::vector<std::vector<double>>;

/// Step 1: runs \p workload for kWarmupSeconds and returns the estimated
/// seconds of one run, or nullopt when a run failed.
template <Workload W> std::optional<double> warmUp(W &workload) {
  Clock::time_point warmStart = Clock::now();
  double first = 0.0;
  uint64_t warmRuns = 0;
  do {
    Clock::time_point start = Clock::now();
    if (!workload.run())
      return std::nullopt;
    if (warmRuns++ == 0)
      first = secondsSince(start);
  } while (secondsSince(warmStart) < kWarmupSeconds);
  double warmElapsed = secondsSince(warmStart);
  double estimate =
      warmRuns > 1 ? (warmElapsed - first) / double(warmRuns - 1) : first;
  return std::max(estimate, 1e-10);
}

/// Step 3 for one sample: \p runs back-to-back runs; seconds per run, or
/// nullopt when a run failed.
template <Workload W>
std::optional<double> timeSample(W &workload, uint64_t runs) {
  Clock::time_point start = Clock::now();
  for (uint64_t r = 0; r < runs; ++r)
    if (!workload.run())
      return std::nullopt;
  return secondsSince(start) / double(runs);
}

/// Times \p workload, which runs batch size \p batch, into \p timing. With
/// \p stageSamples, also records each sample's seconds per run of every
/// stage (the warm-up's are dropped). Returns false when a run failed.
template <Workload W>
bool timeBatch(W &workload, uint64_t batch, unsigned repeat,
               BatchTiming &timing, StageSamples *stageSamples = nullptr) {
  std::optional<double> estimate = warmUp(workload);
  if (!estimate)
    return false;
  SamplePlan plan = planSamples(*estimate, repeat);
  std::vector<double> perRun;
  perRun.reserve(plan.samples);
  if (stageSamples) {
    stageSamples->clear();
    workload.takeStageSeconds();
  }
  for (unsigned s = 0; s < plan.samples; ++s) {
    std::optional<double> seconds = timeSample(workload, plan.runsPerSample);
    if (!seconds)
      return false;
    perRun.push_back(*seconds);
    if (stageSamples) {
      std::vector<double> stages = workload.takeStageSeconds();
      for (double &stageSeconds : stages)
        stageSeconds /= double(plan.runsPerSample);
      stageSamples->push_back(std::move(stages));
    }
  }
  timing.batch = batch;
  timing.samples = plan.samples;
  timing.runsPerSample = plan.runsPerSample;
  timing.spread = spreadOf(std::move(perRun));
  return true;
}

} // namespace seqc::bench

#endif // SEQC_BENCH_TIMING_H
