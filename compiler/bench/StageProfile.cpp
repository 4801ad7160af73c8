//===- StageProfile.cpp - Where a model's time goes, stage by stage -------===//

#include "compiler/bench/StageProfile.h"

#include "compiler/bench/ModelCost.h"

#include <fmt/format.h>

#include <cassert>

namespace seqc::bench {

std::string_view stageKindName(StageKind kind) {
  switch (kind) {
  case StageKind::Dense:
    return "dense";
  case StageKind::RowOp:
    return "row op";
  case StageKind::RowNorm:
    return "row norm";
  case StageKind::Fused:
    return "fused";
  case StageKind::Tiny:
    break;
  }
  return "tiny";
}

namespace {

/// Elements of one sample of a value of type \p type.
uint64_t sampleElements(const ir::Type &type) {
  uint64_t elements = 1;
  for (int64_t dim : type.dims)
    if (dim != ir::kBatchDim)
      elements *= uint64_t(dim);
  return elements;
}

} // namespace

std::string opLabel(const ir::Model &model, size_t index) {
  const ir::Op &op = model.ops[index];
  if (!op.description.empty())
    return fmt::format("[{}] {}", op.path, op.description);
  return fmt::format("{} {} -> {}", ir::opName(op.kind),
                     model.values[op.input].type.str(),
                     model.values[op.result].type.str());
}

std::string stageLabel(const ir::Model &model, const ProfiledStage &stage) {
  if (stage.lastOp > stage.firstOp)
    return fmt::format("ops {}-{} {}: {} ...", stage.firstOp, stage.lastOp,
                       stageKindName(stage.kind),
                       opLabel(model, stage.firstOp));
  std::string label = opLabel(model, stage.firstOp);
  if (stage.kind == StageKind::RowNorm)
    label += model.ops[stage.firstOp].rowNorm == ir::RowNorm::LogSoftmax
                 ? " (its log-softmax)"
                 : " (its softmax)";
  return label;
}

std::vector<StageReport>
describeStages(const ir::Model &model,
               const std::vector<ProfiledStage> &stages) {
  std::vector<StageReport> reports;
  for (const ProfiledStage &stage : stages) {
    StageReport report;
    report.index = reports.size();
    report.stage = stage;
    report.label = stageLabel(model, stage);
    bool ownsOps = stage.kind != StageKind::RowNorm;
    int32_t in = ownsOps ? model.ops[stage.firstOp].input
                         : model.ops[stage.lastOp].result;
    int32_t out = model.ops[stage.lastOp].result;
    report.activationBytes = (sampleElements(model.values[in].type) +
                              sampleElements(model.values[out].type)) *
                             sizeof(float);
    for (size_t i = stage.firstOp; ownsOps && i <= stage.lastOp; ++i) {
      report.flops += opFlops(model.ops[i]);
      report.weightBytes += opWeightBytes(model, model.ops[i]);
    }
    reports.push_back(std::move(report));
  }
  return reports;
}

std::vector<BatchTiming> stageTimings(const BatchTiming &total,
                                      const StageSamples &samples,
                                      size_t numStages) {
  std::vector<BatchTiming> timings;
  for (size_t stage = 0; stage < numStages; ++stage) {
    std::vector<double> seconds;
    for (const std::vector<double> &sample : samples) {
      assert(sample.size() == numStages && "one time per stage");
      seconds.push_back(sample[stage]);
    }
    BatchTiming timing;
    timing.batch = total.batch;
    timing.samples = total.samples;
    timing.runsPerSample = total.runsPerSample;
    timing.spread = spreadOf(std::move(seconds));
    timings.push_back(timing);
  }
  return timings;
}

double sumOfMedians(const std::vector<BatchTiming> &stages) {
  double sum = 0.0;
  for (const BatchTiming &stage : stages)
    sum += stage.spread.median;
  return sum;
}

} // namespace seqc::bench
