//===- Diagnostics.cpp - Compiler-style error reporting -------------------===//

#include "compiler/support/Diagnostics.h"

#include <algorithm>

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

/// Replaces bytes that would garble a terminal (control characters other
/// than tab) so that quoting hostile input is safe.
static std::string sanitizeLine(std::string_view line) {
  std::string out;
  out.reserve(line.size());
  for (unsigned char c : line)
    out.push_back((c < 0x20 && c != '\t') || c == 0x7f ? '?' : char(c));
  return out;
}

void DiagnosticEngine::report(Severity severity, SourceLoc loc,
                              std::string_view message, uint32_t length) {
  if (severity == Severity::Error)
    ++numErrors;
  if (!loc.isValid()) {
    emit(fmt::format("seqc: {}: {}\n", severityName(severity), message));
    return;
  }
  std::string text =
      fmt::format("{}:{}:{}: {}: {}\n", sourceMgr.getPath(loc.bufferId),
                  loc.line, loc.col, severityName(severity), message);
  std::string line = sanitizeLine(sourceMgr.getLine(loc.bufferId, loc.line));
  // Very long lines (minified or random input) are clipped around the caret.
  size_t col = loc.col == 0 ? 0 : loc.col - 1;
  size_t start = 0;
  constexpr size_t kMaxShown = 160;
  if (line.size() > kMaxShown && col > kMaxShown / 2)
    start = std::min(col - kMaxShown / 2, line.size());
  std::string shown = line.substr(start, kMaxShown);
  text += "  " + shown + "\n  ";
  size_t caretCol = col >= start ? col - start : 0;
  for (size_t i = 0; i < caretCol; ++i)
    text += (i < shown.size() && shown[i] == '\t') ? '\t' : ' ';
  text += '^';
  size_t tildes = length > 1 ? length - 1 : 0;
  if (caretCol + 1 + tildes > shown.size())
    tildes = shown.size() > caretCol + 1 ? shown.size() - caretCol - 1 : 0;
  text.append(tildes, '~');
  text += '\n';
  emit(text);
}

void DiagnosticEngine::reportFile(Severity severity, std::string_view path,
                                  std::string_view message) {
  if (severity == Severity::Error)
    ++numErrors;
  emit(fmt::format("{}: {}: {}\n", path, severityName(severity), message));
}

void DiagnosticEngine::report(Severity severity, std::string_view message) {
  if (severity == Severity::Error)
    ++numErrors;
  emit(fmt::format("seqc: {}: {}\n", severityName(severity), message));
}

} // namespace seqc
