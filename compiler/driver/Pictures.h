//===- Pictures.h - The pictures seqc view and seqc bench draw --*- C++ -*-===//
//
// Part of seqc. `seqc view` draws the model in --target's kernels or stages;
// `seqc bench --layers --format html|svg` draws the same picture with each
// stage's share of the time and a roofline. Both build the picture here.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_DRIVER_PICTURES_H
#define SEQC_DRIVER_PICTURES_H

#include "compiler/bench/MemoryBandwidth.h"
#include "compiler/bench/PeakFlops.h"
#include "compiler/bench/StageProfile.h"
#include "compiler/driver/Options.h"
#include "compiler/ir/IR.h"
#include "compiler/support/Diagnostics.h"
#include "compiler/view/GraphView.h"

#include <optional>
#include <string>
#include <vector>

namespace seqc::driver {

/// The picture of \p checked run as \p fused in the kernels or stages of
/// --target's plan, and what it is planned for (ViewCommand.cpp). Returns
/// false after reporting.
bool buildViewGraph(const ir::Model &checked, const ir::Model &fused,
                    const DriverOptions &opts, view::Graph &graph,
                    view::ViewTarget &target, DiagnosticEngine &diag);

/// What `seqc bench --layers` measured, for its picture.
struct MeasuredProfile {
  const ir::Model &checked;
  const ir::Model &fused;
  const std::vector<bench::StageReport> &stages;
  /// Each stage's timing at the batch drawn.
  const std::vector<bench::BatchTiming> &timings;
  const std::optional<bench::PeakFlops> &peak;
  const std::optional<bench::MemoryBandwidth> &bandwidth;
};

/// Checks, before anything is timed, that bench's --format can be drawn:
/// it needs --layers and a file (-o), -o needs --format, and both need
/// Graphviz's dot (set in \p dotPath) and a directory that can be written
/// to. Returns the exit code of the failure (after reporting) or 0.
int checkProfilePicture(const DriverOptions &opts, std::string &dotPath,
                        DiagnosticEngine &diag);

/// Draws \p measured as opts.profileFormat asks to opts.output (html: one
/// page; svg: the picture, and the roofline in OUTPUT.roofline.svg).
/// Returns the exit code.
int writeProfilePicture(const DriverOptions &opts,
                        const MeasuredProfile &measured,
                        const std::string &dotPath, DiagnosticEngine &diag);

} // namespace seqc::driver

#endif // SEQC_DRIVER_PICTURES_H
