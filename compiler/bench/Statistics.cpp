//===- Statistics.cpp - Median, spread and percentiles of timings ---------===//

#include "compiler/bench/Statistics.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace seqc::bench {

double percentile(const std::vector<double> &sorted, double q) {
  assert(!sorted.empty() && q >= 0.0 && q <= 1.0 && "a quantile of samples");
  double pos = q * double(sorted.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos));
  size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - double(lo));
}

Spread spreadOf(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  Spread s;
  s.min = samples.front();
  s.p10 = percentile(samples, 0.10);
  s.median = percentile(samples, 0.50);
  s.p90 = percentile(samples, 0.90);
  s.max = samples.back();
  return s;
}

} // namespace seqc::bench
