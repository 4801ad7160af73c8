//===- Sha256.h - SHA-256 (FIPS 180-4) --------------------------*- C++ -*-===//
//
// Part of seqc. The hash behind the compile cache's keys and checksums
// (ObjectCache.h): strong enough that two different models never share an
// entry, and dependency-free so that every part of seqc may use it.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_SUPPORT_SHA256_H
#define SEQC_SUPPORT_SHA256_H

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace seqc {

/// A SHA-256 digest.
using Sha256Digest = std::array<uint8_t, 32>;

/// Incremental SHA-256: update() any number of times, then digest().
class Sha256 {
public:
  Sha256();
  void update(const void *data, size_t size);
  void update(std::string_view text) { update(text.data(), text.size()); }
  /// Appends \p value as 8 little-endian bytes (a length or a field, so
  /// that concatenated pieces cannot be confused).
  void updateU64(uint64_t value);
  /// Finishes and returns the digest; the object is spent afterwards.
  Sha256Digest digest();

  /// The digest of \p text in one call.
  static Sha256Digest of(std::string_view text);

private:
  void compress(const uint8_t *block);

  std::array<uint32_t, 8> state;
  uint8_t buffer[64];
  size_t buffered = 0;
  uint64_t totalBytes = 0;
};

/// 64 lower-case hex digits.
std::string toHex(const Sha256Digest &digest);

} // namespace seqc

#endif // SEQC_SUPPORT_SHA256_H
