//===- Diagnostics.cpp - Compiler-style error reporting -------------------===//

#include "compiler/support/Diagnostics.h"

#include <algorithm>
#include <atomic>

namespace seqc {

static const char *severityName(Severity severity) {
  switch (severity) {
  case Severity::Error:
    return "error";
  case Severity::Warning:
    return "warning";
  case Severity::Note:
    return "note";
  }
  return "error";
}

void DiagnosticEngine::emit(const std::string &text) {
  if (capture) {
    capture->append(text);
    return;
  }
  std::fputs(text.c_str(), stream);
  std::fflush(stream);
}

/// The length of the well-formed UTF-8 sequence at the start of \p text, or
/// 0 when it does not start with one.
static size_t utf8SequenceLength(std::string_view text) {
  unsigned char lead = static_cast<unsigned char>(text[0]);
  size_t length = lead >= 0xf0 && lead <= 0xf4   ? 4
                  : lead >= 0xe0 && lead <= 0xef ? 3
                  : lead >= 0xc2 && lead <= 0xdf ? 2
                                                 : 0;
  if (length == 0 || text.size() < length)
    return 0;
  for (size_t i = 1; i < length; ++i)
    if ((static_cast<unsigned char>(text[i]) & 0xc0) != 0x80)
      return 0;
  return length;
}

/// Replaces bytes that would garble a terminal (control characters other
/// than tab, and bytes that are not part of well-formed UTF-8) with '?', one
/// for one, so that quoting hostile input is safe and columns stay put.
/// Messages go through it too: they may quote strings and paths from input.
static std::string sanitizeLine(std::string_view line) {
  std::string out;
  out.reserve(line.size());
  for (size_t i = 0; i < line.size();) {
    unsigned char c = static_cast<unsigned char>(line[i]);
    if (c >= 0x80) {
      size_t length = utf8SequenceLength(line.substr(i));
      if (length == 0) {
        out.push_back('?');
        ++i;
      } else {
        out.append(line.substr(i, length));
        i += length;
      }
      continue;
    }
    out.push_back((c < 0x20 && c != '\t') || c == 0x7f ? '?' : char(c));
    ++i;
  }
  return out;
}

/// True for the bytes of a UTF-8 sequence after the first: they take no
/// column of their own on a terminal.
static bool isContinuationByte(char c) {
  return (static_cast<unsigned char>(c) & 0xc0) == 0x80;
}

void DiagnosticEngine::report(Severity severity, SourceLoc loc,
                              std::string_view message, uint32_t length) {
  if (severity == Severity::Error)
    ++numErrors;
  if (!loc.isValid()) {
    emit(fmt::format("seqc: {}: {}\n", severityName(severity),
                     sanitizeLine(message)));
    return;
  }
  std::string text = fmt::format(
      "{}:{}:{}: {}: {}\n", sanitizeLine(sourceMgr.getPath(loc.bufferId)),
      loc.line, loc.col, severityName(severity), sanitizeLine(message));
  std::string_view line = sourceMgr.getLine(loc.bufferId, loc.line);
  // Very long lines (minified or random input) are clipped around the caret.
  // Columns count bytes; sanitizing keeps every byte's position.
  size_t col = loc.col == 0 ? 0 : loc.col - 1;
  size_t start = 0;
  constexpr size_t kMaxShown = 160;
  if (line.size() > kMaxShown && col > kMaxShown / 2)
    start = std::min(col - kMaxShown / 2, line.size());
  std::string shown = sanitizeLine(line.substr(start, kMaxShown));
  text += "  " + shown + "\n  ";
  size_t caretCol = col >= start ? col - start : 0;
  // The caret line has one space (or tab) per character, not per byte.
  for (size_t i = 0; i < caretCol; ++i) {
    if (i < shown.size() && isContinuationByte(shown[i]))
      continue;
    text += (i < shown.size() && shown[i] == '\t') ? '\t' : ' ';
  }
  text += '^';
  size_t end =
      std::min<size_t>(caretCol + std::max<uint32_t>(length, 1), shown.size());
  for (size_t i = caretCol + 1; i < end; ++i)
    if (!isContinuationByte(shown[i]))
      text += '~';
  text += '\n';
  emit(text);
}

void DiagnosticEngine::reportFile(Severity severity, std::string_view path,
                                  std::string_view message) {
  if (severity == Severity::Error)
    ++numErrors;
  emit(fmt::format("{}: {}: {}\n", sanitizeLine(path), severityName(severity),
                   sanitizeLine(message)));
}

void DiagnosticEngine::report(Severity severity, std::string_view message) {
  if (severity == Severity::Error)
    ++numErrors;
  emit(fmt::format("seqc: {}: {}\n", severityName(severity),
                   sanitizeLine(message)));
}

namespace {
std::atomic<bool> sawEnvironmentFailure{false};
} // namespace

void DiagnosticEngine::environmentError(std::string_view message) {
  sawEnvironmentFailure = true;
  report(Severity::Error, message);
}

void DiagnosticEngine::environmentFileError(std::string_view path,
                                            std::string_view message) {
  sawEnvironmentFailure = true;
  reportFile(Severity::Error, path, message);
}

bool environmentFailureReported() { return sawEnvironmentFailure; }

} // namespace seqc
