//===- HugePages.cpp - Large read-mostly buffers in huge pages ------------===//
//
// Part of seqc. See HugePages.h.
//
//===----------------------------------------------------------------------===//

#include "compiler/support/HugePages.h"

#include <cstdlib>
#include <cstring>
#include <utility>

#if defined(__linux__)
#include <sys/mman.h>
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25 // Linux 6.1; glibc 2.36's headers lack it
#endif
#endif

namespace seqc {

namespace {

uintptr_t alignUp(uintptr_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

} // namespace

uint64_t collapseToHugePages(const void *begin, uint64_t bytes) {
#if defined(__linux__)
  uintptr_t lo = alignUp(reinterpret_cast<uintptr_t>(begin), kHugePageBytes);
  uintptr_t hi = (reinterpret_cast<uintptr_t>(begin) + bytes) &
                 ~uintptr_t(kHugePageBytes - 1);
  if (!begin || hi <= lo)
    return 0;
  void *p = reinterpret_cast<void *>(lo);
  // The advice keeps khugepaged from splitting the pages again; the
  // collapse works without it (it ignores the sysfs THP settings) but is
  // refused for memory advised MADV_NOHUGEPAGE.
  (void)madvise(p, hi - lo, MADV_HUGEPAGE);
  if (madvise(p, hi - lo, MADV_COLLAPSE) != 0)
    return 0;
  return hi - lo;
#else
  (void)begin;
  (void)bytes;
  return 0;
#endif
}

HugePageBuffer::HugePageBuffer(uint64_t size, bool advise) {
  if (size == 0)
    return;
#if defined(__linux__)
  // Huge buffers: whole 2 MiB pages from an aligned start, so that the last
  // one can be huge too; the rest of the mapping is never touched.
  bool huge = size >= kHugePageBytes;
  uint64_t span = huge ? alignUp(size, kHugePageBytes) : alignUp(size, 64);
  uint64_t total = span + (huge ? kHugePageBytes : 0);
  if (span < size || total < span)
    return;
  void *m = mmap(nullptr, total, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED)
    return;
  mapping = m;
  mappingBytes = total;
  begin = reinterpret_cast<void *>(
      alignUp(reinterpret_cast<uintptr_t>(m), huge ? kHugePageBytes : 64));
  bytes = size;
  if (huge && advise)
    (void)madvise(begin, span, MADV_HUGEPAGE);
#else
  (void)advise;
  begin = std::aligned_alloc(64, alignUp(size, 64));
  if (begin) {
    std::memset(begin, 0, alignUp(size, 64));
    mapping = begin;
    bytes = size;
  }
#endif
}

void HugePageBuffer::release() {
#if defined(__linux__)
  if (mapping)
    munmap(mapping, mappingBytes);
#else
  std::free(mapping);
#endif
  mapping = begin = nullptr;
  mappingBytes = bytes = 0;
}

HugePageBuffer::~HugePageBuffer() { release(); }

HugePageBuffer::HugePageBuffer(HugePageBuffer &&other) noexcept {
  *this = std::move(other);
}

HugePageBuffer &HugePageBuffer::operator=(HugePageBuffer &&other) noexcept {
  if (this != &other) {
    release();
    mapping = std::exchange(other.mapping, nullptr);
    mappingBytes = std::exchange(other.mappingBytes, 0);
    begin = std::exchange(other.begin, nullptr);
    bytes = std::exchange(other.bytes, 0);
  }
  return *this;
}

} // namespace seqc
