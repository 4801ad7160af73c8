//===- Report.h - What seqc bench prints ------------------------*- C++ -*-===//
//
// Part of seqc. The results of a benchmark and their two renderings: a
// table for people (TextReport.cpp) and one JSON object per line for
// scripts (JsonReport.cpp: tests/bench/run-peers.py and the smoke tests read
// its field names, so they are an interface). Rates are derived here, from
// the median, so both renderings agree.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_BENCH_REPORT_H
#define SEQC_BENCH_REPORT_H

#include "compiler/bench/MemoryBandwidth.h"
#include "compiler/bench/PeakFlops.h"
#include "compiler/bench/ReferenceCheck.h"
#include "compiler/bench/StageProfile.h"
#include "compiler/bench/Timing.h"

#include <cstdint>
#include <optional>
#include <string>

namespace seqc::bench {

/// What the report says about the whole run, shared by every batch line.
struct RunInfo {
  std::string file;
  std::string model;
  /// The model's input and output types and its dense ops after fusion.
  std::string inputType;
  std::string outputType;
  unsigned denseOps = 0;
  /// The backend as --backend spells it, and whether it is the float64
  /// reference interpreter (whose timings say nothing about compiled code).
  std::string backend;
  bool isReference = false;
  unsigned threads = 1;
  std::string cpuName;
  unsigned hardwareThreads = 1;
  std::optional<PeakFlops> peak;
  /// Measured for the roofline of --layers --format only.
  std::optional<MemoryBandwidth> bandwidth;
  uint64_t flops = 0;
  double frontendSeconds = 0.0;
  std::optional<double> compileSeconds;
  /// The CPU JIT: the same compile again, served by the object cache
  /// (docs/cache.md); unset with --no-cache or when it was not a hit.
  std::optional<double> warmCompileSeconds;
  uint64_t artifactBytes = 0;
  uint64_t weightBytes = 0;
  /// The CPU JIT: bytes of packed weights in 2 MiB pages, and whether it
  /// was asked to put them there (not --no-huge-pages).
  std::optional<uint64_t> hugePageBytes;
  bool hugePages = true;
};

/// One batch size: its timings and, for compiled code, its error against
/// the reference.
struct BatchResult {
  BatchTiming timing;
  ReferenceError error;
};

/// The text report's opening: the model, backend, host, compile time,
/// artifact, peak and work, then the column heads of textRow.
std::string textHeader(const RunInfo &info);

/// One batch size's line of the text table.
std::string textRow(const RunInfo &info, const BatchResult &result);

/// The opening of the --layers table, after a blank line.
std::string stageTableHeader();

/// One stage's line of the --layers table; \p sumOfMedians is the sum over
/// all stages at this batch size, for the stage's share.
std::string stageTextRow(const RunInfo &info, const StageReport &stage,
                         const BatchTiming &timing, double sumOfMedians);

/// The last line of one batch size in the --layers table: the stages' sum
/// beside the profiled and the plain run's medians.
std::string stageSumRow(uint64_t batch, double sumOfMedians,
                        double profiledMedian, double plainMedian);

/// One JSON line (with its newline): the whole model's, or with \p stage
/// one stage's share of the profiled runs (then \p info carries the stage's
/// own FLOPs and weight bytes, and the profiling build's compile time and
/// artifact size).
std::string jsonLine(const RunInfo &info, const BatchResult &result,
                     const StageReport *stage = nullptr);

/// GFLOP/s of \p flops per sample at \p timing's median.
inline double gflopsAt(uint64_t flops, const BatchTiming &timing) {
  return double(flops) * double(timing.batch) / timing.spread.median * 1e-9;
}

/// The measured peak in GFLOP/s, or nullopt when none was measured.
inline std::optional<double> peakGflops(const RunInfo &info) {
  if (info.peak && info.peak->gflops > 0)
    return info.peak->gflops;
  return std::nullopt;
}

} // namespace seqc::bench

#endif // SEQC_BENCH_REPORT_H
