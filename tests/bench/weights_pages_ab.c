/*===- weights_pages_ab.c - Three ways to hold PREFIX.weights, one process ===*
 *
 * Part of seqc's benchmarks (run by weights-pages-ab.sh, not a test). Runs
 * one model compiled with --external-weights on three copies of its
 * weights, in turn, call by call, so that all three see the same machine:
 *
 *   map:    seqc_weights_map (the file's page cache, shared)
 *   malloc: aligned_alloc + fread, what an app might write (4 KiB pages
 *           where the kernel's THP setting is "madvise")
 *   load:   seqc_weights_load (2 MiB pages where the kernel allows)
 *
 *   weights_pages_ab BATCH REPS WEIGHTS_FILE [THREADS]
 *
 * prints per copy the median and minimum seconds per call and the median
 * of its per-round ratio to `map`. THREADS > 1 runs PREFIX_run_parallel on
 * the runtime's pool. Needs -DMODEL=<prefix> -DIN_F=<inputs> -DOUT_F=...
 * and -DHEADER='"<prefix>.h"'.
 *
 *===----------------------------------------------------------------------===*/

#define _POSIX_C_SOURCE 199309L

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define STR2(x) #x
#define STR(x) STR2(x)
#define M(name) CAT(MODEL, name)

#include HEADER

#include "ThreadPool.h"
#include "Weights.h"
#include "ab_timing.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  enum { kCopies = 3 };
  static const char *const names[kCopies] = {"map", "malloc", "load"};
  const void *w[kCopies];
  size_t batch, bytes, loadedBytes, i;
  int reps, r, j, v, threads, status;
  float *in, *out;
  void *scratch, *copy;
  double *t[kCopies], *ratio[kCopies], start;
  FILE *f;
  seqc_thread_pool *pool = NULL;
  if (argc != 4 && argc != 5)
    return 2;
  batch = (size_t)strtoull(argv[1], NULL, 10);
  reps = atoi(argv[2]);
  threads = argc == 5 ? atoi(argv[4]) : 1;
  w[0] = seqc_weights_map(argv[3], &bytes);
  copy = w[0] ? aligned_alloc(64, (bytes + 63) / 64 * 64) : NULL;
  f = fopen(argv[3], "rb");
  if (!copy || !f || fread(copy, 1, bytes, f) != bytes)
    return 1;
  fclose(f);
  w[1] = copy;
  w[2] = seqc_weights_load(argv[3], &loadedBytes);
  if (!w[2] || loadedBytes != bytes || reps < 1 || threads < 1)
    return 1;
  for (v = 0; v < kCopies; ++v)
    if (M(_check_weights)(w[v], bytes) != 0)
      return 1;
  if (threads > 1 && !(pool = seqc_thread_pool_create((unsigned)threads)))
    return 1;
  in = malloc(batch * IN_F * sizeof(float) + 1);
  out = malloc(batch * OUT_F * sizeof(float) + 1);
  scratch = malloc(M(_scratch_bytes)(batch) + 1);
  for (v = 0; v < kCopies; ++v) {
    t[v] = malloc((size_t)reps * sizeof(double));
    ratio[v] = malloc((size_t)reps * sizeof(double));
    if (!t[v] || !ratio[v])
      return 1;
  }
  if (!in || !out || !scratch)
    return 1;
  for (i = 0; i < batch * IN_F; ++i)
    in[i] = (float)((i * 7919) % 97) / 50.0f - 1.0f;
  for (r = 0; r < reps + 2; ++r)
    for (j = 0; j < kCopies; ++j) {
      v = (r + j) % kCopies; /* each copy goes first in turn */
      start = now();
      status = pool ? M(_run_parallel)(w[v], in, out, batch, scratch,
                                       seqc_parallel_for, pool)
                    : M(_run)(w[v], in, out, batch, scratch);
      if (status != 0)
        return 1;
      if (r >= 2) /* two warm-up rounds */
        t[v][r - 2] = now() - start;
    }
  for (v = 0; v < kCopies; ++v)
    for (r = 0; r < reps; ++r)
      ratio[v][r] = t[v][r] / t[0][r];
  printf("%s batch %lu, %d thread%s, %d rounds:\n", STR(MODEL),
         (unsigned long)batch, threads, threads == 1 ? "" : "s", reps);
  for (v = 0; v < kCopies; ++v) {
    qsort(t[v], (size_t)reps, sizeof(double), compare);
    qsort(ratio[v], (size_t)reps, sizeof(double), compare);
    printf("  %-6s median %.4g s  min %.4g s  per-round ratio to map: "
           "median %.3f\n",
           names[v], t[v][reps / 2], t[v][0], ratio[v][reps / 2]);
  }
  seqc_thread_pool_destroy(pool);
  seqc_weights_free(w[2], loadedBytes);
  free(copy);
  seqc_weights_unmap(w[0], bytes);
  return 0;
}
