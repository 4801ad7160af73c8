/*===- Weights.c - Loading PREFIX.weights for generated models -------------===*
 *
 * Part of seqc's runtime. See Weights.h.
 *
 *===----------------------------------------------------------------------===*/

/* open, mmap and O_CLOEXEC are POSIX.1-2008, also under -std=c11; glibc
 * declares MAP_ANONYMOUS and MADV_HUGEPAGE for _DEFAULT_SOURCE. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE

#include "Weights.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The huge page size seqc_weights_load aligns to. */
#define HUGE_PAGE ((size_t)2 << 20)

/* Opens `path` as a non-empty regular file that fits in memory; returns
 * the descriptor and sets *size, or -1 with errno set. */
static int openWeights(const char *path, size_t *size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  if (!S_ISREG(st.st_mode) || st.st_size <= 0 ||
      (uintmax_t)st.st_size > (uintmax_t)SIZE_MAX - 2 * HUGE_PAGE) {
    close(fd);
    errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
    return -1;
  }
  *size = (size_t)st.st_size;
  return fd;
}

const void *seqc_weights_map(const char *path, size_t *bytes) {
  *bytes = 0;
  size_t size;
  int fd = openWeights(path, &size);
  if (fd < 0)
    return NULL;
  void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
  int err = errno;
  close(fd);
  if (p == MAP_FAILED) {
    errno = err;
    return NULL;
  }
  *bytes = size;
  return p;
}

void seqc_weights_unmap(const void *weights, size_t bytes) {
  if (weights)
    munmap((void *)weights, bytes);
}

static size_t hugeSpan(size_t bytes) {
  return (bytes + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
}

const void *seqc_weights_load(const char *path, size_t *bytes) {
  *bytes = 0;
  size_t size;
  int fd = openWeights(path, &size);
  if (fd < 0)
    return NULL;
  /* Whole 2 MiB pages from a 2 MiB boundary: map one page more, then give
   * back what lies before and after. */
  size_t span = hugeSpan(size), total = span + HUGE_PAGE;
  char *m = mmap(NULL, total, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) {
    int err = errno;
    close(fd);
    errno = err;
    return NULL;
  }
  char *p =
      (char *)(((uintptr_t)m + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
  if (p > m)
    munmap(m, (size_t)(p - m));
  if (m + total > p + span)
    munmap(p + span, (size_t)(m + total - (p + span)));
#ifdef MADV_HUGEPAGE
  /* Advice only: where the kernel has no huge pages, 4 KiB pages serve. */
  (void)madvise(p, span, MADV_HUGEPAGE);
#endif
  size_t done = 0;
  int err = 0;
  while (done < size) {
    ssize_t got = read(fd, p + done, size - done);
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0) {
      err = got < 0 ? errno : EIO; /* EOF early: the file shrank */
      break;
    }
    done += (size_t)got;
  }
  if (!err) {
    /* The file grew while it was read: not the file that was sized. */
    char extra;
    ssize_t got;
    while ((got = read(fd, &extra, 1)) < 0 && errno == EINTR)
      ;
    if (got != 0)
      err = got < 0 ? errno : EIO;
  }
  close(fd);
  if (!err && mprotect(p, span, PROT_READ) != 0)
    err = errno;
  if (err) {
    munmap(p, span);
    errno = err;
    return NULL;
  }
  *bytes = size;
  return p;
}

void seqc_weights_free(const void *weights, size_t bytes) {
  if (weights)
    munmap((void *)weights, hugeSpan(bytes));
}
