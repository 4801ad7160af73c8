/*===- Weights.c - Loading PREFIX.weights for generated models -------------===*
 *
 * Part of seqc's runtime. See Weights.h.
 *
 *===----------------------------------------------------------------------===*/

/* open, mmap and O_CLOEXEC are POSIX.1-2008, also under -std=c11. */
#define _POSIX_C_SOURCE 200809L

#include "Weights.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

const void *seqc_weights_map(const char *path, size_t *bytes) {
  *bytes = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return NULL;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    errno = err;
    return NULL;
  }
  if (!S_ISREG(st.st_mode) || st.st_size <= 0 ||
      (uintmax_t)st.st_size > (uintmax_t)SIZE_MAX) {
    close(fd);
    errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
    return NULL;
  }
  void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  int err = errno;
  close(fd);
  if (p == MAP_FAILED) {
    errno = err;
    return NULL;
  }
  *bytes = (size_t)st.st_size;
  return p;
}

void seqc_weights_unmap(const void *weights, size_t bytes) {
  if (weights)
    munmap((void *)weights, bytes);
}
