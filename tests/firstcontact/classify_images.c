/*===- classify_images.c - The first-contact model linked into C ----------===*
 *
 * Part of seqc's tests (firstcontact.compiled). The classifier of
 * train_classifier.py, compiled by seqc_add_model from the pasted
 * Sequential and the user's own torch.save checkpoint, called from plain
 * C99 on image-shaped input:
 *
 *   classify_images IMAGES.npy OUT.npy
 *
 * reads a float32 .npy of shape [N, 8, 8] (C order), runs classifier_run on
 * the N images (the model's Flatten makes each a row of 64) and writes the
 * [N, 10] scores as a float32 .npy. Exits 0 on success.
 *
 *===----------------------------------------------------------------------===*/

#include "classifier.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IMAGES 1024

/* Reads a version-1 .npy of little-endian float32 [n, 8, 8]. */
static float *readImages(const char *path, size_t *count) {
  FILE *file = fopen(path, "rb");
  unsigned char preamble[10];
  char header[256];
  size_t headerLength, n = 0, total;
  float *data;
  const char *shape;
  if (!file)
    return NULL;
  if (fread(preamble, 1, 10, file) != 10 ||
      memcmp(preamble, "\x93NUMPY\x01", 7) != 0) {
    fclose(file);
    return NULL;
  }
  headerLength = preamble[8] | (size_t)preamble[9] << 8;
  if (headerLength >= sizeof header ||
      fread(header, 1, headerLength, file) != headerLength) {
    fclose(file);
    return NULL;
  }
  header[headerLength] = '\0';
  shape = strstr(header, "'shape': (");
  if (!strstr(header, "'descr': '<f4'") ||
      !strstr(header, "'fortran_order': False") || !shape ||
      sscanf(shape, "'shape': (%zu, 8, 8)", &n) != 1 || n == 0 ||
      n > MAX_IMAGES) {
    fclose(file);
    return NULL;
  }
  total = n * 64;
  data = malloc(total * sizeof *data);
  if (!data || fread(data, sizeof *data, total, file) != total) {
    free(data);
    fclose(file);
    return NULL;
  }
  fclose(file);
  *count = n;
  return data;
}

/* Writes scores [n, outFeatures] as a version-1 float32 .npy. */
static int writeScores(const char *path, const float *scores, size_t n) {
  char header[128];
  int length = snprintf(header, sizeof header,
                        "{'descr': '<f4', 'fortran_order': False, "
                        "'shape': (%zu, %d), }",
                        n, CLASSIFIER_OUTPUT_FEATURES);
  /* Pad with spaces and a newline to a multiple of 64 bytes in all. */
  size_t padded = (10 + (size_t)length + 1 + 63) / 64 * 64 - 10;
  unsigned char preamble[10] = {0x93,
                                'N',
                                'U',
                                'M',
                                'P',
                                'Y',
                                1,
                                0,
                                (unsigned char)(padded & 0xff),
                                (unsigned char)(padded >> 8)};
  size_t i, values = n * CLASSIFIER_OUTPUT_FEATURES;
  FILE *file = fopen(path, "wb");
  int ok;
  if (!file)
    return 0;
  ok = fwrite(preamble, 1, 10, file) == 10 &&
       fwrite(header, 1, (size_t)length, file) == (size_t)length;
  for (i = (size_t)length; ok && i + 1 < padded; ++i)
    ok = fputc(' ', file) != EOF;
  ok = ok && fputc('\n', file) != EOF &&
       fwrite(scores, sizeof *scores, values, file) == values;
  return fclose(file) == 0 && ok;
}

int main(int argc, char **argv) {
  size_t n = 0;
  float *images, *scores;
  void *scratch;
  int status;
  if (argc != 3) {
    fprintf(stderr, "usage: classify_images IMAGES.npy OUT.npy\n");
    return 2;
  }
  if (CLASSIFIER_INPUT_FEATURES != 64) {
    fprintf(stderr, "the model takes %d features, not 8x8\n",
            CLASSIFIER_INPUT_FEATURES);
    return 1;
  }
  images = readImages(argv[1], &n);
  if (!images) {
    fprintf(stderr, "cannot read float32 [N, 8, 8] images from %s\n", argv[1]);
    return 1;
  }
  scores = malloc(n * CLASSIFIER_OUTPUT_FEATURES * sizeof *scores);
  scratch = malloc(classifier_scratch_bytes(n) + 1);
  if (!scores || !scratch) {
    fprintf(stderr, "out of memory\n");
    return 1;
  }
  status = classifier_run(images, scores, n, scratch);
  if (status != 0) {
    fprintf(stderr, "classifier_run returned %d\n", status);
    return 1;
  }
  if (!writeScores(argv[2], scores, n)) {
    fprintf(stderr, "cannot write %s\n", argv[2]);
    return 1;
  }
  free(scratch);
  free(scores);
  free(images);
  return 0;
}
