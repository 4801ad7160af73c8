/*===- two_models.c - Two seqc models linked into one C program ----------===*
 *
 * Part of seqc's tests (app.two_models). Both models are compiled at build
 * time by seqc_add_model; this plain C99 program links their libraries and
 * nothing else (no runtime, no libm).
 *
 *   two_models DIR
 *
 * For every model and every batch in kBatches it makes a deterministic
 * input, runs PREFIX_run, checks what the contract promises (status codes,
 * guard words after the output and the scratch untouched, run_parallel with
 * no hook equal to run bit for bit) and writes DIR/NAME_in_B.npy and
 * DIR/NAME_out_B.npy (float32) for run_two_models.cmake to compare with the
 * reference backend. Batch 0 is checked here only. mixed_ext is mixed_mv
 * compiled with EXTERNAL_WEIGHTS: it reads the file MIXED_EXT_WEIGHTS into
 * 64-byte aligned memory, checks it, and must compute what mixed_mv does,
 * bit for bit, and refuse misaligned or altered weights. Exits 0 when every
 * check passed.
 *
 *===----------------------------------------------------------------------===*/

#include "digits.h"
#include "mixed_ext.h"
#include "mixed_mv.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The batches run_two_models.cmake expects files for (besides 0). */
static const size_t kBatches[] = {1, 7, 64, 2051};
#define NUM_BATCHES (sizeof kBatches / sizeof kBatches[0])
#define GUARD_FLOATS 16
#define GUARD_BYTES 64
static const float kGuard = -1234.5f;

typedef size_t (*ScratchFn)(size_t);
typedef int (*RunFn)(const float *, float *, size_t, void *);

typedef struct {
  const char *name;
  size_t inFeatures, outFeatures;
  float lo, hi; /* input range */
  int integers; /* inputs are whole numbers (digit pixels) */
  ScratchFn scratchBytes;
  RunFn run;
  int (*runSerialParallel)(const float *, float *, size_t, void *);
} Model;

/* run_parallel with no hook runs serially. */
static int digitsParallel(const float *in, float *out, size_t batch,
                          void *scratch) {
  return digits_run_parallel(in, out, batch, scratch, NULL, NULL);
}
static int mixedParallel(const float *in, float *out, size_t batch,
                         void *scratch) {
  return mixed_mv_run_parallel(in, out, batch, scratch, NULL, NULL);
}

/* mixed_ext's weights, 64-byte aligned, and adapters with run's signature. */
static const unsigned char *mixedExtWeights;
static int mixedExtRun(const float *in, float *out, size_t batch,
                       void *scratch) {
  return mixed_ext_run(mixedExtWeights, in, out, batch, scratch);
}
static int mixedExtParallel(const float *in, float *out, size_t batch,
                            void *scratch) {
  return mixed_ext_run_parallel(mixedExtWeights, in, out, batch, scratch, NULL,
                                NULL);
}

static int failures = 0;
#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "two_models: FAILED %s:%d: %s: ", __FILE__, __LINE__,    \
              #cond);                                                          \
      fprintf(stderr, __VA_ARGS__);                                            \
      fputc('\n', stderr);                                                     \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

static uint64_t rngState = 0x9e3779b97f4a7c15u;
static double uniform01(void) {
  rngState = rngState * 6364136223846793005u + 1442695040888963407u;
  return (double)(rngState >> 11) / 9007199254740992.0;
}

/* Writes a float32 [rows, cols] array as a version 1.0 .npy file. */
static int writeNpy(const char *path, const float *data, size_t rows,
                    size_t cols) {
  char header[128];
  int len = snprintf(header, sizeof header,
                     "{'descr': '<f4', 'fortran_order': False, 'shape': "
                     "(%lu, %lu), }",
                     (unsigned long)rows, (unsigned long)cols);
  size_t total = 10 + (size_t)len + 1;
  size_t pad = (64 - total % 64) % 64;
  FILE *f = fopen(path, "wb");
  size_t i;
  uint16_t headerLen = (uint16_t)(len + pad + 1);
  unsigned char prefix[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
  if (!f)
    return 0;
  prefix[8] = (unsigned char)(headerLen & 0xff);
  prefix[9] = (unsigned char)(headerLen >> 8);
  fwrite(prefix, 1, sizeof prefix, f);
  fwrite(header, 1, (size_t)len, f);
  for (i = 0; i < pad; ++i)
    fputc(' ', f);
  fputc('\n', f);
  /* x86-64 and aarch64 are little-endian, as '<f4' says. */
  fwrite(data, sizeof(float), rows * cols, f);
  return fclose(f) == 0;
}

static void runModel(const Model *m, const char *dir) {
  size_t b, i;
  char path[4096];
  /* Batch 0 is OK at once, with every pointer NULL. */
  CHECK(m->run(NULL, NULL, 0, NULL) == 0, "%s: batch 0", m->name);

  for (b = 0; b < NUM_BATCHES; ++b) {
    size_t batch = kBatches[b];
    size_t nIn = batch * m->inFeatures, nOut = batch * m->outFeatures;
    size_t scratchBytes = m->scratchBytes(batch);
    float *in = malloc(nIn * sizeof(float));
    float *out = malloc((nOut + GUARD_FLOATS) * sizeof(float));
    float *again = malloc(nOut * sizeof(float));
    unsigned char *scratch = malloc(scratchBytes + GUARD_BYTES + 1);
    int status;
    if (!in || !out || !again || !scratch) {
      fprintf(stderr, "two_models: out of memory\n");
      exit(2);
    }
    for (i = 0; i < nIn; ++i) {
      double u = m->lo + (m->hi - m->lo) * uniform01();
      in[i] = m->integers ? (float)(int)u : (float)u;
    }
    for (i = 0; i < GUARD_FLOATS; ++i)
      out[nOut + i] = kGuard;
    /* A misaligned scratch (the code aligns it itself) with guard bytes. */
    memset(scratch, 0xA5, scratchBytes + GUARD_BYTES + 1);

    status = m->run(in, out, batch, scratch + 1);
    CHECK(status == 0, "%s: batch %lu: status %d", m->name,
          (unsigned long)batch, status);
    for (i = 0; i < GUARD_FLOATS; ++i)
      CHECK(out[nOut + i] == kGuard, "%s: batch %lu: wrote past the output",
            m->name, (unsigned long)batch);
    for (i = 0; i < GUARD_BYTES; ++i)
      CHECK(scratch[1 + scratchBytes + i] == 0xA5,
            "%s: batch %lu: wrote past scratch_bytes(batch)", m->name,
            (unsigned long)batch);

    status = m->runSerialParallel(in, again, batch, scratch + 1);
    CHECK(status == 0 && memcmp(again, out, nOut * sizeof(float)) == 0,
          "%s: batch %lu: run_parallel without a hook differs from run",
          m->name, (unsigned long)batch);

    /* Status codes. */
    CHECK(m->run(NULL, out, batch, scratch + 1) == -1, "%s: NULL input",
          m->name);
    CHECK(m->run(in, NULL, batch, scratch + 1) == -1, "%s: NULL output",
          m->name);
    if (scratchBytes > 0)
      CHECK(m->run(in, out, batch, NULL) == -2, "%s: NULL scratch", m->name);

    snprintf(path, sizeof path, "%s/%s_in_%lu.npy", dir, m->name,
             (unsigned long)batch);
    CHECK(writeNpy(path, in, batch, m->inFeatures), "cannot write %s", path);
    snprintf(path, sizeof path, "%s/%s_out_%lu.npy", dir, m->name,
             (unsigned long)batch);
    CHECK(writeNpy(path, out, batch, m->outFeatures), "cannot write %s", path);
    free(in);
    free(out);
    free(again);
    free(scratch);
  }
}

/* Reads MIXED_EXT_WEIGHTS into memory aligned to 64 bytes (plain C99: the
 * buffer is over-allocated and the pointer rounded up). */
static const unsigned char *readWeights(size_t *bytes) {
  FILE *f = fopen(MIXED_EXT_WEIGHTS, "rb");
  unsigned char *raw, *aligned;
  long size;
  if (!f || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) <= 0 ||
      fseek(f, 0, SEEK_SET) != 0) {
    fprintf(stderr, "two_models: cannot read %s\n", MIXED_EXT_WEIGHTS);
    exit(2);
  }
  raw = malloc((size_t)size + 64);
  if (!raw) {
    fprintf(stderr, "two_models: out of memory\n");
    exit(2);
  }
  aligned = raw + (64 - (size_t)((uintptr_t)raw % 64)) % 64;
  if (fread(aligned, 1, (size_t)size, f) != (size_t)size) {
    fprintf(stderr, "two_models: cannot read %s\n", MIXED_EXT_WEIGHTS);
    exit(2);
  }
  fclose(f);
  *bytes = (size_t)size;
  return aligned;
}

/* mixed_ext against mixed_mv on one batch, and the weights checks. */
static void checkExternal(void) {
  size_t batch = 33, i;
  size_t nOut = batch * MIXED_EXT_OUTPUT_FEATURES;
  size_t bytes = 0;
  float in[33 * MIXED_EXT_INPUT_FEATURES];
  float out[33 * MIXED_EXT_OUTPUT_FEATURES],
      ext[33 * MIXED_EXT_OUTPUT_FEATURES];
  unsigned char *scratch = malloc(mixed_ext_scratch_bytes(batch) +
                                  mixed_mv_scratch_bytes(batch) + 1);
  unsigned char *copy;
  mixedExtWeights = readWeights(&bytes);
  copy = malloc(bytes + 65);
  if (!scratch || !copy) {
    fprintf(stderr, "two_models: out of memory\n");
    exit(2);
  }
  CHECK(bytes == MIXED_EXT_WEIGHTS_BYTES, "%s: %lu bytes", MIXED_EXT_WEIGHTS,
        (unsigned long)bytes);
  CHECK(mixed_ext_check_weights(mixedExtWeights, bytes) == MIXED_EXT_OK,
        "mixed_ext: check_weights refuses its own file");
  for (i = 0; i < sizeof in / sizeof in[0]; ++i)
    in[i] = (float)(6.0 * uniform01() - 3.0);
  CHECK(mixed_mv_run(in, out, batch, scratch) == 0, "mixed_mv: batch 33");
  CHECK(mixedExtRun(in, ext, batch, scratch) == 0, "mixed_ext: batch 33");
  CHECK(memcmp(out, ext, nOut * sizeof(float)) == 0,
        "mixed_ext differs from mixed_mv");
  /* One byte off: misaligned; a flipped fingerprint bit: not this model's. */
  memcpy(copy + 1, mixedExtWeights, bytes);
  CHECK(mixed_ext_run(copy + 1, in, ext, batch, scratch) ==
            MIXED_EXT_ERROR_BAD_WEIGHTS,
        "mixed_ext: misaligned weights accepted");
  copy[1 + 8] ^= 4;
  CHECK(mixed_ext_check_weights(copy + 1, bytes) == MIXED_EXT_ERROR_BAD_WEIGHTS,
        "mixed_ext: altered weights accepted");
  free(scratch);
  free(copy);
}

int main(int argc, char **argv) {
  Model models[3];
  size_t i;
  if (argc != 2) {
    fprintf(stderr, "usage: two_models DIR\n");
    return 2;
  }
  models[0].name = "digits";
  models[0].inFeatures = DIGITS_INPUT_FEATURES;
  models[0].outFeatures = DIGITS_OUTPUT_FEATURES;
  models[0].lo = 0.0f;
  models[0].hi = 17.0f;
  models[0].integers = 1;
  models[0].scratchBytes = digits_scratch_bytes;
  models[0].run = digits_run;
  models[0].runSerialParallel = digitsParallel;

  models[1].name = "mixed_mv";
  models[1].inFeatures = MIXED_MV_INPUT_FEATURES;
  models[1].outFeatures = MIXED_MV_OUTPUT_FEATURES;
  models[1].lo = -3.0f;
  models[1].hi = 3.0f;
  models[1].integers = 0;
  models[1].scratchBytes = mixed_mv_scratch_bytes;
  models[1].run = mixed_mv_run;
  models[1].runSerialParallel = mixedParallel;

  checkExternal();
  models[2] = models[1];
  models[2].name = "mixed_ext";
  models[2].scratchBytes = mixed_ext_scratch_bytes;
  models[2].run = mixedExtRun;
  models[2].runSerialParallel = mixedExtParallel;

  CHECK(DIGITS_INPUT_FEATURES == 64 && DIGITS_OUTPUT_FEATURES == 10,
        "digits.h: %d -> %d features", (int)DIGITS_INPUT_FEATURES,
        (int)DIGITS_OUTPUT_FEATURES);
  CHECK(MIXED_MV_INPUT_FEATURES == 40 && MIXED_MV_OUTPUT_FEATURES == 7,
        "mixed_mv.h: %d -> %d features", (int)MIXED_MV_INPUT_FEATURES,
        (int)MIXED_MV_OUTPUT_FEATURES);

  for (i = 0; i < 3; ++i)
    runModel(&models[i], argv[1]);
  if (failures) {
    fprintf(stderr, "two_models: %d checks failed\n", failures);
    return 1;
  }
  printf("two_models: all checks passed\n");
  return 0;
}
