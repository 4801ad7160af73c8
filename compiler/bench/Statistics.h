//===- Statistics.h - Median, spread and percentiles of timings -*- C++ -*-===//
//
// Part of seqc. `seqc bench` reports a distribution rather than a mean: on a
// shared machine the slow samples are interference, and the median with the
// 10th and 90th percentiles says how much of it there was.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_BENCH_STATISTICS_H
#define SEQC_BENCH_STATISTICS_H

#include <vector>

namespace seqc::bench {

/// The distribution of a set of samples (seconds per run in `seqc bench`).
struct Spread {
  double min = 0, p10 = 0, median = 0, p90 = 0, max = 0;
};

/// The \p q quantile (0 <= q <= 1) of a sorted, non-empty sample, by linear
/// interpolation between the closest ranks (NumPy's default), so the median
/// of an even count is the mean of the middle two.
double percentile(const std::vector<double> &sorted, double q);

/// Min, 10th percentile, median, 90th percentile and max of a non-empty
/// sample, in any order.
Spread spreadOf(std::vector<double> samples);

} // namespace seqc::bench

#endif // SEQC_BENCH_STATISTICS_H
