/* A plain C program linked against two seqc CUDA objects (tests/cuda's AOT
 * test compiles it). Usage: aot_app IN_NARROW OUT_NARROW IN_WIDE OUT_WIDE
 * BATCH. Reads float32 inputs, runs both models on host pointers, writes
 * float32 outputs. Exit 0 on success, 10 + the status code on failure (11:
 * no CUDA device), after printing the model's message. */
#include "narrow.h"
#include "wide.h"

#include <stdio.h>
#include <stdlib.h>

static int readFloats(const char *path, float *data, size_t count) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return 0;
  size_t n = fread(data, sizeof(float), count, f);
  fclose(f);
  return n == count;
}

static int writeFloats(const char *path, const float *data, size_t count) {
  FILE *f = fopen(path, "wb");
  if (!f)
    return 0;
  size_t n = fwrite(data, sizeof(float), count, f);
  return fclose(f) == 0 && n == count;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s IN1 OUT1 IN2 OUT2 BATCH\n", argv[0]);
    return 2;
  }
  size_t batch = (size_t)strtoull(argv[5], NULL, 10);
  narrow_model *a = NULL;
  int status = narrow_create(&a, 0);
  if (status != NARROW_OK) {
    fprintf(stderr, "narrow_create: error %d: %s\n", status,
            narrow_error_message());
    return 10 + status;
  }
  wide_model *b = NULL;
  status = wide_create(&b, 0);
  if (status != WIDE_OK) {
    fprintf(stderr, "wide_create: error %d: %s\n", status,
            wide_error_message());
    narrow_destroy(a);
    return 10 + status;
  }
  float *x1 = malloc(batch * NARROW_INPUT_FEATURES * sizeof(float) + 4);
  float *y1 = malloc(batch * NARROW_OUTPUT_FEATURES * sizeof(float) + 4);
  float *x2 = malloc(batch * WIDE_INPUT_FEATURES * sizeof(float) + 4);
  float *y2 = malloc(batch * WIDE_OUTPUT_FEATURES * sizeof(float) + 4);
  if (!readFloats(argv[1], x1, batch * NARROW_INPUT_FEATURES) ||
      !readFloats(argv[3], x2, batch * WIDE_INPUT_FEATURES)) {
    fprintf(stderr, "cannot read the inputs\n");
    return 2;
  }
  status = narrow_run_host(a, x1, y1, batch);
  if (status == NARROW_OK)
    status = wide_run_host(b, x2, y2, batch);
  if (status != NARROW_OK) {
    fprintf(stderr, "run: error %d: %s\n", status, narrow_error_message());
    return 10 + status;
  }
  /* Misuse is an error code, not a crash. */
  if (narrow_run_host(a, NULL, y1, batch ? batch : 1) !=
      NARROW_ERROR_INVALID_ARGUMENT) {
    fprintf(stderr, "NULL input was not rejected\n");
    return 3;
  }
  if (!writeFloats(argv[2], y1, batch * NARROW_OUTPUT_FEATURES) ||
      !writeFloats(argv[4], y2, batch * WIDE_OUTPUT_FEATURES)) {
    fprintf(stderr, "cannot write the outputs\n");
    return 2;
  }
  narrow_destroy(a);
  wide_destroy(b);
  free(x1);
  free(y1);
  free(x2);
  free(y2);
  return 0;
}
