//===- RunTogether.h - Microbenchmarks on threads that start at once -*- C++
//-*-//
//
// Part of seqc. The FLOP peak and the memory bandwidth are both measured on
// every thread the benchmark runs with at once, each thread timing itself
// in CPU time; this file starts such threads and adds up their rates.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_BENCH_RUNTOGETHER_H
#define SEQC_BENCH_RUNTOGETHER_H

#include <functional>
#include <vector>

namespace seqc::bench {

/// Runs \p body(t) for every t in [0, \p threads), the calling thread being
/// thread 0, released together once every thread has started. Returns false
/// when a thread could not be started (the others still ran).
bool runTogether(unsigned threads, const std::function<void(unsigned)> &body);

/// The machine's rate from per-thread rates taken in CPU time: their sum,
/// scaled to count at most hostHardwareThreads() threads, since more
/// threads than hardware threads would each look as fast as one alone.
double countedRate(const std::vector<double> &rates);

} // namespace seqc::bench

#endif // SEQC_BENCH_RUNTOGETHER_H
