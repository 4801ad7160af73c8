//===- ProfilePicture.cpp - seqc bench --layers --format html|svg ---------===//
//
// Part of seqc. Draws a --layers profile on `seqc view`'s picture of the
// same model, target and precision: each profiled stage belongs to the
// group (a stage of the CPU plan) that holds its first op, so a group's bar
// is the sum of its stages' times (a dense stage and the row-norm stage that
// finishes it share one box). The roofline's bytes count the weights as the
// chosen precision stores them.
//
//===----------------------------------------------------------------------===//

#include "compiler/bench/ModelCost.h"
#include "compiler/bench/Units.h"
#include "compiler/driver/Pictures.h"
#include "compiler/driver/Targets.h"
#include "compiler/view/Graphviz.h"
#include "compiler/view/Profile.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

#include <unistd.h>

namespace seqc::driver {

namespace {

/// The directory \p path is written into.
std::string directoryOf(const std::string &path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos)
    return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

/// Where --format svg writes the roofline: PATH without `.svg`, then
/// `.roofline.svg`.
std::string rooflinePath(const std::string &path) {
  std::string base = path;
  if (base.size() > 4 && base.compare(base.size() - 4, 4, ".svg") == 0)
    base.resize(base.size() - 4);
  return base + ".roofline.svg";
}

std::string threadsText(unsigned threads) {
  return fmt::format("{} thread{}", threads, threads == 1 ? "" : "s");
}

/// The index of the group holding fused op \p op, or -1.
int groupOf(const view::Graph &graph, size_t op) {
  for (size_t g = 0; g < graph.groups.size(); ++g)
    for (size_t member : graph.groups[g].fusedOps)
      if (member == op)
        return static_cast<int>(g);
  return -1;
}

/// The profile of \p measured in the picture's terms; weights take
/// \p linearWeightBytes per matrix element, as the backend stores them.
view::Profile profileOf(const MeasuredProfile &measured,
                        const view::Graph &graph, unsigned linearWeightBytes) {
  view::Profile profile;
  for (const bench::StageReport &report : measured.stages) {
    const bench::BatchTiming &timing = measured.timings[report.index];
    profile.batch = timing.batch;
    view::StageTime stage;
    stage.index = report.index;
    stage.kind = std::string(bench::stageKindName(report.stage.kind));
    stage.label = report.label;
    stage.group = groupOf(graph, report.stage.firstOp);
    stage.seconds = timing.spread.median;
    double batch = double(timing.batch);
    stage.flops = double(report.flops) * batch;
    double weights = 0.0;
    if (report.stage.kind != bench::StageKind::RowNorm)
      for (size_t op = report.stage.firstOp; op <= report.stage.lastOp; ++op)
        weights += double(bench::opWeightBytes(
            measured.fused, measured.fused.ops[op], linearWeightBytes));
    stage.bytes = weights + double(report.activationBytes) * batch;
    profile.stages.push_back(std::move(stage));
  }
  if (measured.peak && measured.peak->gflops > 0) {
    profile.peakGflops = measured.peak->gflops;
    profile.peakNote = fmt::format(
        "{} {} chains on {}",
        measured.peak->op == bench::PeakOp::Fp32Fma ? "FP32" : "int8",
        bench::peakName(*measured.peak), threadsText(measured.peak->threads));
  }
  if (measured.bandwidth && measured.bandwidth->gbPerSecond > 0) {
    profile.bandwidthGBs = measured.bandwidth->gbPerSecond;
    profile.bandwidthNote =
        fmt::format("streaming read of a {} buffer on {}",
                    bench::formatBytes(measured.bandwidth->bufferBytes),
                    threadsText(measured.bandwidth->threads));
  }
  return profile;
}

} // namespace

int checkProfilePicture(const DriverOptions &opts, std::string &dotPath,
                        DiagnosticEngine &diag) {
  if (!opts.profileFormat && opts.output.empty())
    return 0;
  if (!opts.profileFormat) {
    diag.error("seqc bench -o writes the picture of --layers --format "
               "html|svg; add --format");
    return 1;
  }
  std::string_view format = spelling(*opts.profileFormat);
  if (!opts.layers) {
    diag.error(fmt::format("--format {} draws the per-stage profile; add "
                           "--layers",
                           format));
    return 1;
  }
  if (opts.output.empty() || opts.output == "-") {
    diag.error(fmt::format("--format {} needs a file to write: -o "
                           "PROFILE.{}",
                           format, format));
    return 1;
  }
  if ((dotPath = view::findDot()).empty()) {
    diag.error(fmt::format("--format {} needs Graphviz's dot, which is not on "
                           "PATH: install Graphviz (Debian: apt install "
                           "graphviz)",
                           format));
    return 2;
  }
  // Checked now, so that an output that cannot be written costs no
  // benchmark.
  std::string dir = directoryOf(opts.output);
  if (access(dir.c_str(), W_OK) != 0) {
    diag.error(fmt::format("cannot write '{}': directory '{}': {}", opts.output,
                           dir, std::strerror(errno)));
    return 2;
  }
  return 0;
}

int writeProfilePicture(const DriverOptions &opts,
                        const MeasuredProfile &measured,
                        const std::string &dotPath, DiagnosticEngine &diag) {
  view::Graph graph;
  view::ViewTarget target;
  if (!buildViewGraph(measured.checked, measured.fused, opts, graph, target,
                      diag))
    return 1;
  view::Profile profile = profileOf(measured, graph, target.linearWeightBytes);
  view::addShares(graph, profile);
  std::string svg, error;
  if (!view::renderSvg(dotPath, view::writeDot(graph), svg, error)) {
    diag.error(error);
    return 2;
  }
  std::string roofline = view::writeRooflineSvg(graph, profile);
  if (opts.profileFormat == ProfileFormat::Html)
    return writeOutput(
        opts,
        view::writeHtml(graph, svg,
                        view::profileSection(profile, graph, roofline)),
        diag);
  if (int code = writeOutput(opts, svg, diag))
    return code;
  DriverOptions rooflineOpts = opts;
  rooflineOpts.output = rooflinePath(opts.output);
  return writeOutput(rooflineOpts, roofline, diag);
}

} // namespace seqc::driver
