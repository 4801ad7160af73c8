/*===- Weights.h - Loading PREFIX.weights for generated models ---*- C -*-===*
 *
 * Part of seqc's runtime (plain C ABI, no dependency beyond libc/POSIX).
 * A model compiled with `seqc compile --external-weights` reads its
 * parameters from a buffer holding PREFIX.weights, passed to every call.
 * seqc_weights_map maps the file read-only (page-aligned, so 64-byte
 * aligned as the code requires; pages are shared between processes and
 * loaded on first use); seqc_weights_load reads it into private memory in
 * 2 MiB pages where the kernel allows, which large models read faster (see
 * docs/performance.md, "Weights in huge pages"):
 *
 *   size_t bytes;
 *   const void *w = seqc_weights_map("mnist.weights", &bytes);
 *   if (!w || mnist_check_weights(w, bytes) != MNIST_OK) ... error ...
 *   mnist_run(w, in, out, batch, scratch);
 *   seqc_weights_unmap(w, bytes);
 *
 *===----------------------------------------------------------------------===*/
#ifndef SEQC_RUNTIME_WEIGHTS_H
#define SEQC_RUNTIME_WEIGHTS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Maps the file at `path` read-only and sets *bytes to its size. Returns
 * NULL (errno set; *bytes = 0) if it cannot be opened or mapped, or is
 * empty (errno = EINVAL). The mapping stays valid after the call: the file
 * descriptor is closed. */
const void *seqc_weights_map(const char *path, size_t *bytes);

/* Unmaps what seqc_weights_map returned. NULL is ignored. */
void seqc_weights_unmap(const void *weights, size_t bytes);

/* Reads the whole file at `path` into memory of its own and sets *bytes to
 * its size. The memory is 2 MiB aligned, advised for transparent huge
 * pages before it is filled (Linux), and read-only once filled. Each
 * process holds its own copy. Returns NULL (errno set; *bytes = 0) if the
 * file cannot be opened or read, is empty (EINVAL), or changes size while
 * it is read (EIO), or memory runs out. */
const void *seqc_weights_load(const char *path, size_t *bytes);

/* Frees what seqc_weights_load returned. NULL is ignored. */
void seqc_weights_free(const void *weights, size_t bytes);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SEQC_RUNTIME_WEIGHTS_H */
