//===- BenchTimingTest.cpp - The timing loop of seqc bench ----------------===//
//
// The sample plan follows from the estimated time of one run, --repeat
// fixes the number of samples, a failing run stops the loop, and a
// profiling workload's stage times come back per run.
//
//===----------------------------------------------------------------------===//

#include "compiler/bench/Timing.h"

#include <doctest/doctest.h>

using namespace seqc::bench;

namespace {

/// Spins for a fixed time per run, and reports two stages that take a
/// quarter and three quarters of it; fails at run `failAt` (0: never).
struct SpinWorkload {
  double secondsPerRun = 20e-6;
  uint64_t failAt = 0;
  uint64_t runs = 0;
  uint64_t runsSinceTake = 0;

  bool run() {
    if (++runs == failAt)
      return false;
    Clock::time_point start = Clock::now();
    while (secondsSince(start) < secondsPerRun) {
    }
    ++runsSinceTake;
    return true;
  }
  std::vector<double> takeStageSeconds() {
    double runs = double(runsSinceTake);
    runsSinceTake = 0;
    return {0.25 * runs, 0.75 * runs};
  }
};

static_assert(Workload<SpinWorkload>);

} // namespace

TEST_CASE("planSamples groups fast runs and caps the sample count") {
  // Samples last at least kTargetSeconds / kMaxSamples (5 ms). A slow run
  // is its own sample, and the target time gives too few samples, so the
  // minimum applies.
  SamplePlan slow = planSamples(1.0, 0);
  CHECK(slow.runsPerSample == 1);
  CHECK(slow.samples == kMinSamples);
  CHECK(planSamples(0.25, 0).samples == 4);
  CHECK(planSamples(0.1, 0).samples == 10);
  // 2 ms runs: three to a sample, 167 samples fill a second.
  SamplePlan middle = planSamples(2e-3, 0);
  CHECK(middle.runsPerSample == 3);
  CHECK(middle.samples == 167);
  // 1 us runs: 5000 to a sample, and the sample count is capped.
  SamplePlan fast = planSamples(1e-6, 0);
  CHECK(fast.runsPerSample == 5000);
  CHECK(fast.samples == kMaxSamples);
}

TEST_CASE("--repeat fixes the number of samples, not their length") {
  CHECK(planSamples(1.0, 7).samples == 7);
  SamplePlan one = planSamples(1e-6, 1);
  CHECK(one.samples == 1);
  CHECK(one.runsPerSample == 5000);
}

TEST_CASE("timeBatch measures what the workload takes") {
  SpinWorkload workload;
  BatchTiming timing;
  REQUIRE(timeBatch(workload, 64, 4, timing));
  CHECK(timing.batch == 64);
  CHECK(timing.samples == 4);
  // Runs of at least 20 us: at most 250 to a 5 ms sample.
  CHECK(timing.runsPerSample >= 1);
  CHECK(timing.runsPerSample <= 250);
  const Spread &s = timing.spread;
  CHECK(s.min >= 20e-6);
  CHECK(s.min <= s.p10);
  CHECK(s.p10 <= s.median);
  CHECK(s.median <= s.p90);
  CHECK(s.p90 <= s.max);
}

TEST_CASE("timeBatch stops at a failing run") {
  SpinWorkload failsInWarmUp;
  failsInWarmUp.failAt = 1;
  BatchTiming timing;
  CHECK_FALSE(timeBatch(failsInWarmUp, 1, 3, timing));
  // The warm-up runs for 0.1 s, 5000 runs of 20 us: this fails while timed.
  SpinWorkload failsTimed;
  failsTimed.failAt = 6000;
  CHECK_FALSE(timeBatch(failsTimed, 1, 1000, timing));
}

TEST_CASE("timeBatch returns each sample's stage seconds per run") {
  SpinWorkload workload;
  BatchTiming timing;
  StageSamples samples = {{123.0}};
  REQUIRE(timeBatch(workload, 2, 3, timing, &samples));
  // The warm-up's stage times are dropped; each sample's are divided by
  // its runs.
  REQUIRE(samples.size() == 3);
  for (const std::vector<double> &sample : samples) {
    REQUIRE(sample.size() == 2);
    CHECK(sample[0] == doctest::Approx(0.25));
    CHECK(sample[1] == doctest::Approx(0.75));
  }
}
