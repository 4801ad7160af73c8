/*===- external_ab.c - Embedded against external weights, one process ----===*
 *
 * Part of seqc's benchmarks (run by external-weights-ab.sh, not a test).
 * Links the same model compiled twice, as MODEL (weights embedded) and
 * MODEL_x (--external-weights, PREFIX.weights mapped with the runtime), and
 * times them alternately, call by call, so that both see the same machine:
 *
 *   external_ab BATCH REPS WEIGHTS_FILE
 *
 * prints the median and minimum seconds per call of each and their ratio.
 * Batches of 3 rows or fewer of narrow models are timed 1000 calls at a
 * time. Needs -DMODEL=<prefix> -DIN_F=<inputs> -DOUT_F=<outputs> and the
 * two headers as -DEMB_HEADER='"emb/<prefix>.h"' -DEXT_HEADER=....
 *
 *===----------------------------------------------------------------------===*/

#define _POSIX_C_SOURCE 199309L

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define STR2(x) #x
#define STR(x) STR2(x)
#define EMB(name) CAT(MODEL, name)
#define EXT(name) CAT(CAT(MODEL, _x), name)

#include EMB_HEADER
#include EXT_HEADER

#include "Weights.h"
#include "ab_timing.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  size_t batch, bytes, i;
  int reps, r, k, inner;
  const void *w;
  float *in, *out;
  void *scratchEmb, *scratchExt;
  double *tEmb, *tExt, t;
  if (argc != 4)
    return 2;
  batch = (size_t)strtoull(argv[1], NULL, 10);
  reps = atoi(argv[2]);
  w = seqc_weights_map(argv[3], &bytes);
  if (!w || EXT(_check_weights)(w, bytes) != 0 || reps < 1) {
    fprintf(stderr, "external_ab: cannot use %s\n", argv[3]);
    return 1;
  }
  in = malloc(batch * IN_F * sizeof(float) + 1);
  out = malloc(batch * OUT_F * sizeof(float) + 1);
  scratchEmb = malloc(EMB(_scratch_bytes)(batch) + 1);
  scratchExt = malloc(EXT(_scratch_bytes)(batch) + 1);
  tEmb = malloc((size_t)reps * sizeof(double));
  tExt = malloc((size_t)reps * sizeof(double));
  if (!in || !out || !scratchEmb || !scratchExt || !tEmb || !tExt)
    return 1;
  for (i = 0; i < batch * IN_F; ++i)
    in[i] = (float)((i * 7919) % 97) / 50.0f - 1.0f;
  inner = batch <= 3 && IN_F < 100 ? 1000 : 1;
  for (r = 0; r < 3; ++r) {
    EMB(_run)(in, out, batch, scratchEmb);
    EXT(_run)(w, in, out, batch, scratchExt);
  }
  for (r = 0; r < reps; ++r) {
    t = now();
    for (k = 0; k < inner; ++k)
      EMB(_run)(in, out, batch, scratchEmb);
    tEmb[r] = (now() - t) / inner;
    t = now();
    for (k = 0; k < inner; ++k)
      EXT(_run)(w, in, out, batch, scratchExt);
    tExt[r] = (now() - t) / inner;
  }
  qsort(tEmb, (size_t)reps, sizeof(double), compare);
  qsort(tExt, (size_t)reps, sizeof(double), compare);
  printf("%s batch %lu: embedded median %.4g s min %.4g s | external median "
         "%.4g s min %.4g s | external/embedded %.3f\n",
         STR(MODEL), (unsigned long)batch, tEmb[reps / 2], tEmb[0],
         tExt[reps / 2], tExt[0], tExt[reps / 2] / tEmb[reps / 2]);
  seqc_weights_unmap(w, bytes);
  return 0;
}
