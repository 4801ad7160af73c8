//===- WeightsBlob.h - The contents of an external weights file -*- C++ -*-===//
//
// Part of seqc. A model compiled with external weights
// (CpuTargetOptions::externalWeights) reads every parameter array from a
// caller-supplied buffer holding the contents of PREFIX.weights instead of
// from constants in its object. This class builds those contents; their
// format is documented in docs/cpu-backend.md ("External weights"). No LLVM
// here.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_CODEGEN_CPU_WEIGHTSBLOB_H
#define SEQC_CODEGEN_CPU_WEIGHTSBLOB_H

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace seqc::codegen::cpu {

/// PREFIX.weights: a 64-byte header (the magic "SEQCWTS1", then the
/// fingerprint and the total size as 64-bit integers in the target's byte
/// order, then zeros), followed by the parameter arrays, each starting on a
/// 64-byte boundary, in the order the code generator asked for them, and
/// zeros up to a multiple of 64 bytes.
///
/// The arrays are kept apart, never in one growing buffer: a model's
/// weights can be most of the machine's memory, and the compiler then holds
/// them once besides the model itself (pieces() writes them out as they
/// are, moveTo() copies them into one buffer one array at a time).
class WeightsBlob {
public:
  static constexpr uint64_t kHeaderBytes = 64;
  static constexpr uint64_t kAlign = 64;
  /// "SEQCWTS1" read as a little-endian 64-bit integer.
  static constexpr uint64_t kMagic = 0x3153545743514553ull;
  /// Header fields, as byte offsets.
  static constexpr uint64_t kFingerprintOffset = 8;
  static constexpr uint64_t kSizeOffset = 16;

  WeightsBlob();

  /// Adds an array of \p bytes bytes at the next 64-byte boundary: returns
  /// a zeroed buffer for its contents (owned by the blob) and sets
  /// \p offset. \p what names the array and its layout (it goes into the
  /// fingerprint with the offset and size).
  char *append(uint64_t bytes, const std::string &what, uint64_t &offset);
  /// append() and copy \p bytes from \p src; returns the offset.
  uint64_t add(const void *src, uint64_t bytes, const std::string &what);

  /// Seals the blob: computes the fingerprint of \p identity (what else the
  /// code depends on) and the layout of the arrays, and writes the header.
  /// Nothing may be added afterwards.
  void seal(const std::string &identity);

  bool sealed() const { return isSealed; }
  /// Valid once sealed.
  uint64_t fingerprint() const { return print; }
  /// The file's size: a multiple of 64 once sealed.
  uint64_t size() const;

  /// The file's contents in order, as views into the blob (the header, the
  /// arrays and the zeros between them).
  std::vector<std::string_view> pieces() const;
  /// Copies the contents to \p dst (size() bytes), freeing each array once
  /// copied; the blob is empty afterwards.
  void moveTo(char *dst);
  /// The contents as one string (for tests).
  std::string str() const;

private:
  struct Array {
    uint64_t offset;
    uint64_t bytes;
    std::unique_ptr<char[]> data;
  };
  std::array<char, kHeaderBytes> header{};
  std::vector<Array> arrays;
  uint64_t end = kHeaderBytes;
  std::string layout;
  uint64_t print = 0;
  bool isSealed = false;
};

} // namespace seqc::codegen::cpu

#endif // SEQC_CODEGEN_CPU_WEIGHTSBLOB_H
