//===- SourceLoc.h - A position in a source file ----------------*- C++ -*-===//
#ifndef SEQC_SUPPORT_SOURCELOC_H
#define SEQC_SUPPORT_SOURCELOC_H

#include <cstdint>

namespace seqc {

/// A position in a buffer owned by a SourceManager. Lines and columns are
/// 1-based; columns count bytes. A default-constructed location is invalid.
struct SourceLoc {
  uint32_t bufferId = 0;
  uint32_t line = 0;
  uint32_t col = 0;

  bool isValid() const { return bufferId != 0 && line != 0; }
};

} // namespace seqc

#endif // SEQC_SUPPORT_SOURCELOC_H
