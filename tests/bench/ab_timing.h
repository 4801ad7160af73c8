/*===- ab_timing.h - Clock and sorting for the A/B benchmark harnesses ---===*
 *
 * Part of seqc's benchmarks (not a test): the monotonic clock and the
 * comparison for qsort that external_ab.c and weights_pages_ab.c share.
 * Include after defining _POSIX_C_SOURCE (clock_gettime).
 *
 *===----------------------------------------------------------------------===*/
#ifndef SEQC_BENCH_AB_TIMING_H
#define SEQC_BENCH_AB_TIMING_H

#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

#endif /* SEQC_BENCH_AB_TIMING_H */
