//===- HugePages.h - Large read-mostly buffers in huge pages ----*- C++ -*-===//
//
// Part of seqc. Packed weights are read from front to back on every call; a
// model whose weights stream from memory (batch 1 of a large network) then
// walks its page tables once per 4 KiB. In 2 MiB pages it walks them once
// per 2 MiB (docs/performance.md, "Weights in huge pages"). These helpers ask
// Linux for transparent huge pages; elsewhere, or where the kernel declines,
// nothing changes but the page size.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_SUPPORT_HUGEPAGES_H
#define SEQC_SUPPORT_HUGEPAGES_H

#include <cstdint>

namespace seqc {

/// The huge page size these helpers align to: 2 MiB.
inline constexpr uint64_t kHugePageBytes = uint64_t(2) << 20;

/// Backs the whole 2 MiB pages inside [begin, begin + bytes) of this
/// process's anonymous memory with transparent huge pages, now: advises the
/// range (MADV_HUGEPAGE) and collapses it (MADV_COLLAPSE, Linux 6.1 and
/// later), which copies the contents. Returns the bytes now in huge pages:
/// 0 where the range holds no whole 2 MiB page, or the platform or kernel
/// does not allow it; the memory is unchanged then.
uint64_t collapseToHugePages(const void *begin, uint64_t bytes);

/// Zero-filled anonymous memory for a large buffer written once and then
/// read many times: aligned to kHugePageBytes when it is at least that
/// large (64 bytes otherwise), and (unless \p advise is false) advised for
/// transparent huge pages before its first touch, so that filling it takes
/// huge pages where the kernel has them.
class HugePageBuffer {
public:
  HugePageBuffer() = default;
  /// Maps \p bytes; data() is null if that fails (or \p bytes is 0).
  explicit HugePageBuffer(uint64_t bytes, bool advise = true);
  ~HugePageBuffer();
  HugePageBuffer(HugePageBuffer &&other) noexcept;
  HugePageBuffer &operator=(HugePageBuffer &&other) noexcept;
  HugePageBuffer(const HugePageBuffer &) = delete;
  HugePageBuffer &operator=(const HugePageBuffer &) = delete;

  void *data() const { return begin; }
  uint64_t size() const { return bytes; }

private:
  void release();
  void *mapping = nullptr;
  uint64_t mappingBytes = 0;
  void *begin = nullptr;
  uint64_t bytes = 0;
};

} // namespace seqc

#endif // SEQC_SUPPORT_HUGEPAGES_H
