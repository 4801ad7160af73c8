//===- StatisticsTest.cpp - Median, spread and percentiles of seqc bench --===//
//
// The quantiles are NumPy's default (linear interpolation between closest
// ranks): the expected values below are what numpy.percentile gives.
//
//===----------------------------------------------------------------------===//

#include "compiler/bench/Statistics.h"

#include <doctest/doctest.h>

using namespace seqc::bench;

TEST_CASE("percentile interpolates between the closest ranks") {
  std::vector<double> sorted = {1, 2, 3, 4};
  CHECK(percentile(sorted, 0.0) == 1.0);
  CHECK(percentile(sorted, 1.0) == 4.0);
  CHECK(percentile(sorted, 0.5) == doctest::Approx(2.5));
  CHECK(percentile(sorted, 0.1) == doctest::Approx(1.3));
  CHECK(percentile(sorted, 0.9) == doctest::Approx(3.7));
  CHECK(percentile({7.0}, 0.9) == 7.0);
}

TEST_CASE("spreadOf sorts its samples first") {
  Spread s = spreadOf({5, 1, 4, 2, 3});
  CHECK(s.min == 1.0);
  CHECK(s.p10 == doctest::Approx(1.4));
  CHECK(s.median == 3.0);
  CHECK(s.p90 == doctest::Approx(4.6));
  CHECK(s.max == 5.0);
}

TEST_CASE("the spread of one sample is that sample") {
  Spread s = spreadOf({0.25});
  CHECK(s.min == 0.25);
  CHECK(s.p10 == 0.25);
  CHECK(s.median == 0.25);
  CHECK(s.p90 == 0.25);
  CHECK(s.max == 0.25);
}

TEST_CASE("an outlier moves the max, not the median") {
  Spread s = spreadOf({1, 1, 1, 1, 1, 1, 1, 1, 1, 100});
  CHECK(s.median == 1.0);
  CHECK(s.max == 100.0);
  CHECK(s.p90 == doctest::Approx(10.9));
}
