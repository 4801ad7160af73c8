//===- Profile.h - A --layers profile drawn on the picture ------*- C++ -*-===//
//
// Part of seqc. `seqc bench --layers --format html|svg` draws the profile of
// one batch size on `seqc view`'s picture: each group's share of the time
// as a bar beside its box, and every stage's place on a roofline (achieved
// GFLOP/s against its arithmetic intensity, under the measured FLOP peak
// and memory slope), so that a reader sees which stage computes and which
// waits on memory. The driver fills the data from compiler/bench; this
// file's functions only draw it.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_VIEW_PROFILE_H
#define SEQC_VIEW_PROFILE_H

#include "compiler/view/GraphView.h"

#include <cstdint>
#include <string>
#include <vector>

namespace seqc::view {

/// One timed stage of the profiling build.
struct StageTime {
  size_t index = 0;
  /// `dense`, `row op`, ... and what it computes, as the text table says.
  std::string kind;
  std::string label;
  /// Index into Graph::groups of the group holding its first op.
  int group = -1;
  /// Median seconds per run at Profile::batch.
  double seconds = 0.0;
  /// FLOPs (matrix products only, as bench counts them) and bytes per run:
  /// its weights as stored, plus the batch's activation rows it reads and
  /// writes.
  double flops = 0.0;
  double bytes = 0.0;

  double gflops() const { return seconds > 0 ? flops / seconds * 1e-9 : 0.0; }
  double intensity() const { return bytes > 0 ? flops / bytes : 0.0; }
  /// Whether it has a place on the roofline: FLOPs, bytes and a time.
  bool plotted() const { return flops > 0 && bytes > 0 && seconds > 0; }
};

/// The profile of one batch size.
struct Profile {
  uint64_t batch = 0;
  std::vector<StageTime> stages;
  /// The measured FP32 peak in GFLOP/s and how (`AVX-512 FMA, 1 thread`);
  /// 0 when none was measured.
  double peakGflops = 0.0;
  std::string peakNote;
  /// The measured read bandwidth in GB/s and how; 0 when none.
  double bandwidthGBs = 0.0;
  std::string bandwidthNote;

  /// The sum of the stages' medians: what the shares are of.
  double totalSeconds() const;
  /// \p stage's share of totalSeconds(), 0 when nothing was timed.
  double share(const StageTime &stage) const;
  /// FLOP per byte where the bandwidth slope meets the peak; 0 without both.
  double ridge() const;
};

/// Sets graph.groupTimes: each group's share is the sum of its stages'
/// (ProfilePage.cpp).
void addShares(Graph &graph, const Profile &profile);

/// The roofline as a standalone SVG document: log-log axes, the peak, the
/// memory slope and one labelled point per plotted stage (Roofline.cpp).
std::string writeRooflineSvg(const Graph &graph, const Profile &profile);

/// The page's profile section: a table of the stages with their shares
/// (summing to 100 %), rates and bound, and \p rooflineSvg inline
/// (ProfilePage.cpp); for writeHtml's \p profile.
std::string profileSection(const Profile &profile, const Graph &graph,
                           std::string_view rooflineSvg);

} // namespace seqc::view

#endif // SEQC_VIEW_PROFILE_H
