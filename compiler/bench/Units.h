//===- Units.h - Times, sizes and counts for people -------------*- C++ -*-===//
//
// Part of seqc. The text report of `seqc bench` prints every quantity in the
// unit that keeps it readable (`8.356 ns`, `66.9 KiB`, `119.67 M`), so that
// columns spanning nanoseconds to seconds stay comparable at a glance.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_BENCH_UNITS_H
#define SEQC_BENCH_UNITS_H

#include <cstdint>
#include <string>

namespace seqc::bench {

/// Four significant digits in the largest of s, ms, us, ns that keeps the
/// value at least 1 (`314.3 ns`, `1.920 s`); `-` when not finite.
std::string formatSeconds(double seconds);

/// `80 B`, `66.9 KiB`, `2.55 MiB`, `1.50 GiB`.
std::string formatBytes(uint64_t bytes);

/// With an SI prefix and a trailing space for a unit to follow: `28 `,
/// `18.94 k`, `119.67 M`, `1.34 G`.
std::string formatCount(double count);

} // namespace seqc::bench

#endif // SEQC_BENCH_UNITS_H
