/*===- codegen_ab.c - One model from two seqc builds, one process --------===*
 *
 * Part of seqc's benchmarks (run by codegen-ab.sh, not a test). Links the
 * same model compiled by two builds of seqc (or one build with two
 * settings), as MODEL_a and MODEL_b, both with --external-weights and their
 * weights loaded with seqc_weights_load (2 MiB pages, as `seqc bench`'s JIT
 * holds them), and times them in turn, round by round, so that both see
 * the same machine:
 *
 *   codegen_ab BATCH REPS WEIGHTS_A WEIGHTS_B [THREADS]
 *
 * prints the median and minimum seconds per call of each and the median of
 * the per-round ratio b / a. Runs shorter than about 20 us are timed many
 * calls at a time. THREADS > 1 runs PREFIX_run_parallel on the runtime's
 * pool. Needs -DMODEL=<prefix> -DIN_F=<inputs> -DOUT_F=<outputs> and the
 * headers as -DHEADER_A='"<prefix>_a.h"' -DHEADER_B=....
 *
 *===----------------------------------------------------------------------===*/

#define _POSIX_C_SOURCE 199309L

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define STR2(x) #x
#define STR(x) STR2(x)
#define A(name) CAT(CAT(MODEL, _a), name)
#define B(name) CAT(CAT(MODEL, _b), name)

#include HEADER_A
#include HEADER_B

#include "ThreadPool.h"
#include "Weights.h"
#include "ab_timing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static seqc_thread_pool *pool;

static int runA(const void *w, const float *in, float *out, size_t batch,
                void *scratch) {
  return pool ? A(_run_parallel)(w, in, out, batch, scratch, seqc_parallel_for,
                                 pool)
              : A(_run)(w, in, out, batch, scratch);
}

static int runB(const void *w, const float *in, float *out, size_t batch,
                void *scratch) {
  return pool ? B(_run_parallel)(w, in, out, batch, scratch, seqc_parallel_for,
                                 pool)
              : B(_run)(w, in, out, batch, scratch);
}

/* Seconds per call of `inner` back-to-back calls of variant v. */
static double timeCalls(int v, int inner, const void *w, const float *in,
                        float *out, size_t batch, void *scratch) {
  double start = now();
  int k;
  for (k = 0; k < inner; ++k)
    if ((v ? runB : runA)(w, in, out, batch, scratch) != 0) {
      fprintf(stderr, "codegen_ab: variant %c failed\n", v ? 'b' : 'a');
      exit(1);
    }
  return (now() - start) / inner;
}

int main(int argc, char **argv) {
  size_t batch, bytesA, bytesB, scratchBytes, i;
  int reps, r, j, v, threads, inner;
  const void *w[2];
  float *in, *out[2];
  void *scratch;
  double *t[2], *ratio, once;
  if (argc != 5 && argc != 6)
    return 2;
  batch = (size_t)strtoull(argv[1], NULL, 10);
  reps = atoi(argv[2]);
  threads = argc == 6 ? atoi(argv[5]) : 1;
  w[0] = seqc_weights_load(argv[3], &bytesA);
  w[1] = seqc_weights_load(argv[4], &bytesB);
  if (!w[0] || !w[1] || A(_check_weights)(w[0], bytesA) != 0 ||
      B(_check_weights)(w[1], bytesB) != 0 || reps < 1 || threads < 1) {
    fprintf(stderr, "codegen_ab: cannot use %s or %s\n", argv[3], argv[4]);
    return 1;
  }
  if (threads > 1 && !(pool = seqc_thread_pool_create((unsigned)threads)))
    return 1;
  in = malloc(batch * IN_F * sizeof(float) + 1);
  out[0] = malloc(batch * OUT_F * sizeof(float) + 1);
  out[1] = malloc(batch * OUT_F * sizeof(float) + 1);
  scratchBytes = A(_scratch_bytes)(batch); /* one buffer serves both */
  if (B(_scratch_bytes)(batch) > scratchBytes)
    scratchBytes = B(_scratch_bytes)(batch);
  scratch = malloc(scratchBytes + 1);
  t[0] = malloc((size_t)reps * sizeof(double));
  t[1] = malloc((size_t)reps * sizeof(double));
  ratio = malloc((size_t)reps * sizeof(double));
  if (!in || !out[0] || !out[1] || !scratch || !t[0] || !t[1] || !ratio)
    return 1;
  for (i = 0; i < batch * IN_F; ++i)
    in[i] = (float)((i * 7919) % 97) / 50.0f - 1.0f;
  /* Warm up both and size the inner loop to about 20 us per timing. */
  once = 0;
  for (r = 0; r < 3; ++r)
    for (v = 0; v < 2; ++v)
      once = timeCalls(v, 1, w[v], in, out[v], batch, scratch);
  inner = once >= 20e-6 ? 1 : (int)(20e-6 / (once > 1e-9 ? once : 1e-9)) + 1;
  /* Both variants compute the same function; a large difference means one
   * of them is broken and its timing worthless. */
  for (i = 0; i < batch * OUT_F; ++i) {
    float d = out[0][i] - out[1][i], m = out[0][i] < 0 ? -out[0][i] : out[0][i];
    if ((d < 0 ? -d : d) > 1e-4f * (m > 1 ? m : 1)) {
      fprintf(stderr, "codegen_ab: outputs differ at %lu: %g vs %g\n",
              (unsigned long)i, out[0][i], out[1][i]);
      return 1;
    }
  }
  for (r = 0; r < reps; ++r)
    for (j = 0; j < 2; ++j) {
      v = (r + j) % 2; /* each goes first in turn */
      t[v][r] = timeCalls(v, inner, w[v], in, out[v], batch, scratch);
    }
  for (r = 0; r < reps; ++r)
    ratio[r] = t[1][r] / t[0][r];
  qsort(t[0], (size_t)reps, sizeof(double), compare);
  qsort(t[1], (size_t)reps, sizeof(double), compare);
  qsort(ratio, (size_t)reps, sizeof(double), compare);
  printf("%s batch %lu, %d thread%s, %d rounds of %d call%s: a median %.4g s "
         "min %.4g s | b median %.4g s min %.4g s | b/a per round: median "
         "%.3f (p25 %.3f, p75 %.3f)\n",
         STR(MODEL), (unsigned long)batch, threads, threads == 1 ? "" : "s",
         reps, inner, inner == 1 ? "" : "s", t[0][reps / 2], t[0][0],
         t[1][reps / 2], t[1][0], ratio[reps / 2], ratio[reps / 4],
         ratio[reps * 3 / 4]);
  seqc_thread_pool_destroy(pool);
  seqc_weights_free(w[0], bytesA);
  seqc_weights_free(w[1], bytesB);
  return 0;
}
