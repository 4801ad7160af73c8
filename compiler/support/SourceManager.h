//===- SourceManager.h - Source buffers and locations -----------*- C++ -*-===//
//
// Part of seqc. Owns the text of every input file so diagnostics can quote
// the offending line.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_SUPPORT_SOURCEMANAGER_H
#define SEQC_SUPPORT_SOURCEMANAGER_H

#include "compiler/support/SourceLoc.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace seqc {

/// Owns source buffers (network definition files) and answers questions
/// about lines in them.
class SourceManager {
public:
  /// Adds a buffer and returns its id (never 0).
  uint32_t addBuffer(std::string path, std::string contents);

  /// The path a buffer was registered under.
  const std::string &getPath(uint32_t bufferId) const;
  /// The full text of a buffer.
  std::string_view getText(uint32_t bufferId) const;
  /// The text of line \p line (1-based) without its newline; empty when the
  /// line does not exist.
  std::string_view getLine(uint32_t bufferId, uint32_t line) const;

private:
  struct Buffer {
    std::string path;
    std::string text;
    std::vector<size_t> lineStarts;
  };
  std::vector<Buffer> buffers;
};

} // namespace seqc

#endif // SEQC_SUPPORT_SOURCEMANAGER_H
