//===- ByteStrings.h - Building binary file images in tests -----*- C++ -*-===//
//
// Tests of the file readers build their inputs byte by byte: little-endian
// integers and float32 arrays as strings.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_TESTS_UNIT_BYTESTRINGS_H
#define SEQC_TESTS_UNIT_BYTESTRINGS_H

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>

namespace seqc::test {

inline std::string le16(uint16_t v) {
  return {static_cast<char>(v & 0xff), static_cast<char>(v >> 8)};
}

inline std::string le32(uint32_t v) {
  return le16(static_cast<uint16_t>(v & 0xffff)) +
         le16(static_cast<uint16_t>(v >> 16));
}

inline std::string le64(uint64_t v) {
  return le32(static_cast<uint32_t>(v)) + le32(static_cast<uint32_t>(v >> 32));
}

/// The bytes of \p values as little-endian float32 (the host's order).
inline std::string floatBytes(std::initializer_list<float> values) {
  std::string out;
  for (float f : values) {
    char bytes[4];
    std::memcpy(bytes, &f, 4);
    out.append(bytes, 4);
  }
  return out;
}

} // namespace seqc::test

#endif // SEQC_TESTS_UNIT_BYTESTRINGS_H
