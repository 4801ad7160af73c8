/*===- cache_read.c - How fast a core re-reads N KiB ----------------------===*
 *
 * Part of seqc's benchmarks (not a test). Reads a buffer of N KiB from
 * start to end, over and over, with 64-byte vector loads into independent
 * OR chains (no arithmetic to wait for), and prints the median nanoseconds
 * per pass and the bytes per nanosecond: the floor for a batch-1 network
 * whose weights are that size, as every call reads each weight once in the
 * same order (docs/performance.md, "narrow at batch 1").
 *
 *   cc -O2 -march=native -o cache_read tests/bench/cache_read.c
 *   ./cache_read 48 68 96     # KiB sizes
 *
 *===----------------------------------------------------------------------===*/

#define _POSIX_C_SOURCE 199309L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef uint32_t Line __attribute__((vector_size(64)));

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

/* One pass: four lines per step into four chains. */
__attribute__((noinline)) static uint32_t pass(const Line *p, size_t lines) {
  Line a = {0}, b = {0}, c = {0}, d = {0};
  for (size_t i = 0; i + 4 <= lines; i += 4) {
    a |= p[i];
    b |= p[i + 1];
    c |= p[i + 2];
    d |= p[i + 3];
  }
  Line r = (a | b) | (c | d);
  uint32_t x = 0;
  for (int i = 0; i < 16; ++i)
    x |= r[i];
  return x;
}

static int cmp(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: cache_read KIB...\n");
    return 2;
  }
  for (int arg = 1; arg < argc; ++arg) {
    size_t kib = strtoul(argv[arg], NULL, 10);
    size_t lines = kib * 1024 / 64 / 4 * 4;
    if (lines == 0) {
      fprintf(stderr, "cache_read: %s KiB is too small\n", argv[arg]);
      return 2;
    }
    /* aligned_alloc wants a whole number of alignments. */
    Line *buf = aligned_alloc(4096, (lines * 64 + 4095) / 4096 * 4096);
    if (!buf) {
      fprintf(stderr, "cache_read: cannot allocate %zu KiB\n", kib);
      return 1;
    }
    memset(buf, 1, lines * 64);
    enum { kRounds = 21, kPasses = 20000 };
    double ns[kRounds];
    volatile uint32_t sink = 0;
    for (int i = 0; i < 1000; ++i)
      sink |= pass(buf, lines);
    for (int r = 0; r < kRounds; ++r) {
      double t = now();
      for (int i = 0; i < kPasses; ++i) {
        __asm__ volatile("" ::: "memory");
        sink |= pass(buf, lines);
      }
      ns[r] = (now() - t) / kPasses * 1e9;
    }
    qsort(ns, kRounds, sizeof ns[0], cmp);
    double median = ns[kRounds / 2];
    printf("%6zu KiB: %9.1f ns per pass (min %.1f), %6.1f bytes/ns\n",
           lines * 64 / 1024, median, ns[0], lines * 64 / median);
    free(buf);
  }
  return 0;
}
