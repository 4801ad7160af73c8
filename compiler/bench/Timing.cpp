//===- Timing.cpp - The timing loop of seqc bench -------------------------===//

#include "compiler/bench/Timing.h"

#include <algorithm>
#include <cmath>

namespace seqc::bench {

SamplePlan planSamples(double secondsPerRun, unsigned repeat) {
  double sampleSeconds =
      std::max(kMinSampleSeconds, kTargetSeconds / kMaxSamples);
  SamplePlan plan;
  plan.runsPerSample =
      std::max<uint64_t>(1, uint64_t(std::ceil(sampleSeconds / secondsPerRun)));
  plan.samples = repeat;
  if (plan.samples == 0) {
    double fit = kTargetSeconds / (double(plan.runsPerSample) * secondsPerRun);
    plan.samples = static_cast<unsigned>(
        std::clamp(std::round(fit), double(kMinSamples), double(kMaxSamples)));
  }
  return plan;
}

} // namespace seqc::bench
