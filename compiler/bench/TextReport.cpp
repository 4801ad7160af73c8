//===- TextReport.cpp - seqc bench's tables for people --------------------===//

#include "compiler/bench/Report.h"
#include "compiler/bench/Units.h"

#include <fmt/format.h>

namespace seqc::bench {

namespace {

/// Width of the stage column of the --layers table.
constexpr size_t kStageLabelWidth = 46;

const char *plural(uint64_t count) { return count == 1 ? "" : "s"; }

/// The header's lines on the artifact and the pages its weights are in.
std::string artifactLines(const RunInfo &info) {
  std::string out = fmt::format(
      "  artifact:  {} (weights {} as f32)\n",
      info.artifactBytes ? formatBytes(info.artifactBytes)
                         : std::string("not reported by this backend"),
      formatBytes(info.weightBytes));
  if (!info.hugePageBytes)
    return out;
  if (*info.hugePageBytes)
    return out + fmt::format("  pages:     {} of packed weights in 2 MiB "
                             "pages (--no-huge-pages: 4 KiB)\n",
                             formatBytes(*info.hugePageBytes));
  return out + fmt::format("  pages:     4 KiB ({})\n",
                           info.hugePages
                               ? "no whole 2 MiB page of weights, or the OS "
                                 "declined huge pages"
                               : "--no-huge-pages");
}

/// The header's lines on the peak and the work per sample.
std::string peakAndWorkLines(const RunInfo &info) {
  std::string out;
  if (peakGflops(info))
    out +=
        fmt::format("  peak:      {:.1f} {} on {} thread{} ({} "
                    "chains, measured now)\n",
                    info.peak->gflops, peakUnit(*info.peak), info.peak->threads,
                    plural(info.peak->threads), peakName(*info.peak));
  else
    out += "  peak:      not measured\n";
  if (info.bandwidth && info.bandwidth->gbPerSecond > 0)
    out += fmt::format("  memory:    {:.1f} GB/s read on {} thread{} "
                       "(streaming a {} buffer, measured now)\n",
                       info.bandwidth->gbPerSecond, info.bandwidth->threads,
                       plural(info.bandwidth->threads),
                       formatBytes(info.bandwidth->bufferBytes));
  out += fmt::format("  work:      {}FLOP per sample (2*in*out per dense "
                     "layer; bias, activations and normalisations not "
                     "counted)\n",
                     formatCount(double(info.flops)));
  if (info.isReference)
    out += "  note:      --backend ref times the float64 oracle, not "
           "generated code; its numbers say nothing about compiled speed\n";
  return out;
}

} // namespace

std::string textHeader(const RunInfo &info) {
  std::string out = fmt::format(
      "seqc bench: {}, model {} ({} -> {}, {} dense op{} after fusion)\n",
      info.file, info.model, info.inputType, info.outputType, info.denseOps,
      plural(info.denseOps));
  out += fmt::format("  backend:   {}{}, {} thread{}\n", info.backend,
                     info.isReference ? " (float64 reference interpreter)" : "",
                     info.threads, plural(info.threads));
  out += fmt::format("  host:      {}, {} hardware thread{}\n", info.cpuName,
                     info.hardwareThreads, plural(info.hardwareThreads));
  out += fmt::format("  frontend:  {} (parse, weights, passes)\n",
                     formatSeconds(info.frontendSeconds));
  if (info.compileSeconds)
    out += fmt::format("  compile:   {} (code generation and JIT)\n",
                       formatSeconds(*info.compileSeconds));
  if (info.warmCompileSeconds)
    out += fmt::format("  warm:      {} (the same from the object cache)\n",
                       formatSeconds(*info.warmCompileSeconds));
  out += artifactLines(info) + peakAndWorkLines(info);
  out +=
      fmt::format("\n{:>8} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11} "
                  "{:>10} {:>9} {:>7} {:>10} {:>10}\n",
                  "batch", "median", "min", "p10", "p90", "max", "per sample",
                  "samples/s", "GFLOP/s", "%peak", "max|err|", "samples");
  return out;
}

std::string textRow(const RunInfo &info, const BatchResult &result) {
  const BatchTiming &t = result.timing;
  const Spread &s = t.spread;
  double perSample = s.median / double(t.batch);
  double gflops = gflopsAt(info.flops, t);
  std::optional<double> peak = peakGflops(info);
  std::string peakShare =
      peak ? fmt::format("{:.1f}", 100 * gflops / *peak) : std::string("-");
  std::string error = result.error.maxAbsError
                          ? fmt::format("{:.2g}", *result.error.maxAbsError)
                          : std::string("-");
  return fmt::format("{:>8} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11} {:>10} "
                     "{:>9.2f} {:>7} {:>10} {:>10}\n",
                     t.batch, formatSeconds(s.median), formatSeconds(s.min),
                     formatSeconds(s.p10), formatSeconds(s.p90),
                     formatSeconds(s.max), formatSeconds(perSample),
                     formatCount(1.0 / perSample), gflops, peakShare, error,
                     fmt::format("{}x{}", t.samples, t.runsPerSample));
}

std::string stageTableHeader() {
  return fmt::format(
      "\nper stage (a build that timestamps every stage, timed the same way; "
      "a stage is one pass over the batch):\n"
      "{:>8} {:>3}  {:<8} {:<{}} {:>11} {:>11} {:>9} {:>7} {:>6}\n",
      "batch", "#", "kind", "computes", kStageLabelWidth, "median", "p10",
      "GFLOP/s", "%peak", "share");
}

std::string stageTextRow(const RunInfo &info, const StageReport &stage,
                         const BatchTiming &timing, double sumOfMedians) {
  // A stage shorter than a clock read can measure 0 once that is
  // subtracted: no rate and no share then.
  bool timed = timing.spread.median > 0;
  double gflops = timed ? gflopsAt(stage.flops, timing) : 0.0;
  std::optional<double> peak = peakGflops(info);
  bool hasPeak = timed && peak && stage.flops > 0;
  std::string label = stage.label;
  if (label.size() > kStageLabelWidth)
    label = label.substr(0, kStageLabelWidth - 3) + "...";
  return fmt::format(
      "{:>8} {:>3}  {:<8} {:<{}} {:>11} {:>11} {:>9} {:>7} {:>5.1f}%\n",
      timing.batch, stage.index, stageKindName(stage.stage.kind), label,
      kStageLabelWidth, formatSeconds(timing.spread.median),
      formatSeconds(timing.spread.p10),
      timed && stage.flops ? fmt::format("{:.2f}", gflops) : "-",
      hasPeak ? fmt::format("{:.1f}", 100 * gflops / *peak) : "-",
      sumOfMedians > 0 ? 100 * timing.spread.median / sumOfMedians : 0.0);
}

std::string stageSumRow(uint64_t batch, double sumOfMedians,
                        double profiledMedian, double plainMedian) {
  return fmt::format("{:>8} {:>3}  {:<8} {:<{}} {:>11} (profiled run {}, "
                     "plain run {})\n",
                     batch, "", "", "sum of the stage medians",
                     kStageLabelWidth, formatSeconds(sumOfMedians),
                     formatSeconds(profiledMedian), formatSeconds(plainMedian));
}

} // namespace seqc::bench
