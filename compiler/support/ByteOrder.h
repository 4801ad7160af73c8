//===- ByteOrder.h - Loading little- and big-endian integers ----*- C++ -*-===//
//
// Part of seqc. File formats fix their byte order; these loads read it from
// unaligned bytes whatever the host's order is.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_SUPPORT_BYTEORDER_H
#define SEQC_SUPPORT_BYTEORDER_H

#include <cstdint>

namespace seqc {

inline uint16_t loadLE16(const unsigned char *p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}

inline uint32_t loadLE32(const unsigned char *p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}

inline uint64_t loadLE64(const unsigned char *p) {
  return static_cast<uint64_t>(loadLE32(p)) |
         (static_cast<uint64_t>(loadLE32(p + 4)) << 32);
}

inline uint16_t loadBE16(const unsigned char *p) {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}

inline uint32_t loadBE32(const unsigned char *p) {
  return (static_cast<uint32_t>(p[0]) << 24) |
         (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | static_cast<uint32_t>(p[3]);
}

inline uint64_t loadBE64(const unsigned char *p) {
  return (static_cast<uint64_t>(loadBE32(p)) << 32) |
         static_cast<uint64_t>(loadBE32(p + 4));
}

} // namespace seqc

#endif // SEQC_SUPPORT_BYTEORDER_H
