//===- ByteOrder.h - Loading little- and big-endian integers ----*- C++ -*-===//
//
// Part of seqc. File formats fix their byte order; these loads read it from
// unaligned bytes whatever the host's order is, and the appends write it.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_SUPPORT_BYTEORDER_H
#define SEQC_SUPPORT_BYTEORDER_H

#include <cstdint>
#include <string>
#include <string_view>

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

/// Appends \p value to \p out as 8 little-endian bytes.
inline void appendLE64(std::string &out, uint64_t value) {
  for (int i = 0; i < 8; ++i)
    out += static_cast<char>(value >> (8 * i));
}

/// Appends \p value to \p out as 4 little-endian bytes.
inline void appendLE32(std::string &out, uint32_t value) {
  for (int i = 0; i < 4; ++i)
    out += static_cast<char>(value >> (8 * i));
}

/// Appends \p bytes to \p out after their length (appendLE64): a field of
/// the cache entries' payloads.
inline void appendLengthPrefixed(std::string &out, std::string_view bytes) {
  appendLE64(out, bytes.size());
  out.append(bytes);
}

/// Reads a field appendLengthPrefixed wrote at \p at into \p out and
/// moves \p at past it; false when it runs past the end of \p in.
inline bool readLengthPrefixed(std::string_view in, size_t &at,
                               std::string &out) {
  if (at > in.size() || in.size() - at < 8)
    return false;
  uint64_t size =
      loadLE64(reinterpret_cast<const unsigned char *>(in.data() + at));
  at += 8;
  if (in.size() - at < size)
    return false;
  out.assign(in.substr(at, size));
  at += size;
  return true;
}

} // namespace seqc

#endif // SEQC_SUPPORT_BYTEORDER_H
