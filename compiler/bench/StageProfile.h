//===- StageProfile.h - Where a model's time goes, stage by stage -*- C++ -*-=//
//
// Part of seqc. `seqc bench --layers` times a build of the CPU code that
// timestamps every stage (a pass over the batch that computes some of the
// model's ops) in the model as it runs, so that a stage's share includes
// what the stages before left in the caches. This file describes the stages
// and turns the per-sample stage times into one distribution per stage.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_BENCH_STAGEPROFILE_H
#define SEQC_BENCH_STAGEPROFILE_H

#include "compiler/bench/Timing.h"
#include "compiler/ir/IR.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace seqc::bench {

/// What one stage of the generated code does.
enum class StageKind {
  Dense,   ///< one dense op: a GEMM with its fused epilogue
  RowOp,   ///< one row-wise op (activation, softmax, LayerNorm, affine)
  RowNorm, ///< the softmax or log-softmax that ends a dense op
  Fused,   ///< every op, one row block at a time
  Tiny,    ///< every op as straight-line code
};

/// "dense", "row op", "row norm", "fused", "tiny".
std::string_view stageKindName(StageKind kind);

/// One stage as a profiling executor times it: a pass over the batch that
/// computes ops [firstOp, lastOp] of the model.
struct ProfiledStage {
  StageKind kind = StageKind::Dense;
  size_t firstOp = 0;
  size_t lastOp = 0;
};

/// One stage of a --layers profile, described for the reports.
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
  /// f32 bytes per sample of the activations it reads and writes: the row
  /// its first op reads and the row its last op writes (a row-norm stage
  /// reads and rewrites its op's output row).
  uint64_t activationBytes = 0;
};

/// `[path] description` of op \p index, or its mnemonic and types when the
/// op carries no source description.
std::string opLabel(const ir::Model &model, size_t index);

/// What \p stage computes, for the --layers table.
std::string stageLabel(const ir::Model &model, const ProfiledStage &stage);

/// The reports of \p stages, in order. A row-norm stage owns no FLOPs or
/// weights: it finishes a dense op that the stage before computed.
std::vector<StageReport>
describeStages(const ir::Model &model,
               const std::vector<ProfiledStage> &stages);

/// One timing per stage from the per-sample stage times of a profiled run
/// timed as \p total (same batch, samples and runs per sample).
std::vector<BatchTiming> stageTimings(const BatchTiming &total,
                                      const StageSamples &samples,
                                      size_t numStages);

/// The sum of the stages' medians: what the stages account for of a run.
double sumOfMedians(const std::vector<BatchTiming> &stages);

} // namespace seqc::bench

#endif // SEQC_BENCH_STAGEPROFILE_H
