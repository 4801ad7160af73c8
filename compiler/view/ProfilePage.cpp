//===- ProfilePage.cpp - The profile's shares and its part of the page ----===//
//
// The shares are of the sum of the stages' medians (as the text table's
// are), so a group's bar is the sum of its stages' and the bars of all
// groups add up to 100 %. The table gives each share with six decimals in
// a data attribute, for scripts and tests, beside the rounded percentage.
//
//===----------------------------------------------------------------------===//

#include "compiler/bench/Units.h"
#include "compiler/view/Profile.h"

#include <fmt/format.h>

namespace seqc::view {

double Profile::totalSeconds() const {
  double sum = 0.0;
  for (const StageTime &stage : stages)
    sum += stage.seconds;
  return sum;
}

double Profile::share(const StageTime &stage) const {
  double total = totalSeconds();
  return total > 0 ? stage.seconds / total : 0.0;
}

double Profile::ridge() const {
  return peakGflops > 0 && bandwidthGBs > 0 ? peakGflops / bandwidthGBs : 0.0;
}

void addShares(Graph &graph, const Profile &profile) {
  std::vector<double> seconds(graph.groups.size(), 0.0);
  for (const StageTime &stage : profile.stages)
    if (stage.group >= 0 && size_t(stage.group) < seconds.size())
      seconds[stage.group] += stage.seconds;
  double total = profile.totalSeconds();
  graph.groupTimes.clear();
  for (double groupSeconds : seconds) {
    double share = total > 0 ? groupSeconds / total : 0.0;
    graph.groupTimes.push_back(
        {share, fmt::format("{:.1f} %, {}", share * 100,
                            bench::formatSeconds(groupSeconds))});
  }
}

namespace {

/// "memory-bound" left of the ridge, "compute-bound" right of it.
std::string_view boundOf(const Profile &profile, const StageTime &stage) {
  if (!stage.plotted() || profile.ridge() <= 0)
    return "-";
  return stage.intensity() < profile.ridge() ? "memory-bound" : "compute-bound";
}

std::string stageRow(const Profile &profile, const Graph &graph,
                     const StageTime &stage) {
  double share = profile.share(stage);
  std::string group =
      stage.group >= 0 && size_t(stage.group) < graph.groups.size()
          ? graph.groups[stage.group].label
          : "";
  return fmt::format(
      "<tr class=stage data-stage={} data-share=\"{:.6f}\"><td class=n>{}"
      "</td><td>{}</td><td>{}</td><td>{}</td><td class=n>{}</td>"
      "<td class=n>{:.1f} %</td><td class=bar><span style=\"width: {:.1f}%\">"
      "</span></td><td class=n>{}</td><td class=n>{}</td><td>{}</td></tr>\n",
      stage.index, share, stage.index, escapeHtml(stage.kind),
      escapeHtml(stage.label), escapeHtml(group),
      bench::formatSeconds(stage.seconds), share * 100, share * 100,
      stage.plotted() ? fmt::format("{:.2f}", stage.gflops()) : "-",
      stage.plotted() ? fmt::format("{:.3g}", stage.intensity()) : "-",
      boundOf(profile, stage));
}

} // namespace

std::string profileSection(const Profile &profile, const Graph &graph,
                           std::string_view rooflineSvg) {
  std::string text = fmt::format(
      "\n<h2>Where the time goes at batch {}</h2>\n<p>Each stage's median "
      "time per run in a build that timestamps every stage; the bar beside "
      "each box above is its stages' share of the sum, {}.</p>\n"
      "<table class=profile>\n<tr><th>#</th><th>kind</th><th>computes</th>"
      "<th>box</th><th>median</th><th>share</th><th></th><th>GFLOP/s</th>"
      "<th>FLOP/byte</th><th>bound</th></tr>\n",
      profile.batch, bench::formatSeconds(profile.totalSeconds()));
  for (const StageTime &stage : profile.stages)
    text += stageRow(profile, graph, stage);
  text += "</table>\n<h2>Roofline</h2>\n<p>";
  text += profile.peakGflops > 0
              ? fmt::format("Peak {:.1f} GFLOP/s, measured ({}). ",
                            profile.peakGflops, escapeHtml(profile.peakNote))
              : "No FLOP peak was measured. ";
  text +=
      profile.bandwidthGBs > 0
          ? fmt::format("Memory {:.1f} GB/s, measured ({}). ",
                        profile.bandwidthGBs, escapeHtml(profile.bandwidthNote))
          : "No memory bandwidth was measured. ";
  text += "A stage's bytes are its weights as stored plus the activation "
          "rows of the batch it reads and writes, each counted once: a "
          "stage whose data stay in the caches can sit above the memory "
          "slope. Stages without matrix-product FLOPs have no point.</p>\n";
  text += svgElement(rooflineSvg);
  return text + "\n";
}

} // namespace seqc::view
