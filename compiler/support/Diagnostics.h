//===- Diagnostics.h - Compiler-style error reporting -----------*- C++ -*-===//
//
// Part of seqc. Every mistake in user input is reported through a
// DiagnosticEngine: `file:line:col: error: message`, the source line, and a
// caret under the offending text.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_SUPPORT_DIAGNOSTICS_H
#define SEQC_SUPPORT_DIAGNOSTICS_H

#include "compiler/support/SourceManager.h"

#include <fmt/core.h>

#include <cstdio>
#include <string>

namespace seqc {

enum class Severity { Error, Warning, Note };

/// Formats and counts diagnostics. Messages go to a FILE (stderr by default)
/// or are collected into a string for tests.
class DiagnosticEngine {
public:
  explicit DiagnosticEngine(const SourceManager &sourceMgr,
                            std::FILE *stream = stderr)
      : sourceMgr(sourceMgr), stream(stream) {}

  /// Reports at a source location; \p length is the number of bytes the
  /// caret line underlines (at least one).
  void report(Severity severity, SourceLoc loc, std::string_view message,
              uint32_t length = 1);
  /// Reports about a whole file (weights, inputs): `path: error: message`.
  void reportFile(Severity severity, std::string_view path,
                  std::string_view message);
  /// Reports with no location: `seqc: error: message`.
  void report(Severity severity, std::string_view message);

  void error(SourceLoc loc, std::string_view message, uint32_t length = 1) {
    report(Severity::Error, loc, message, length);
  }
  void note(SourceLoc loc, std::string_view message, uint32_t length = 1) {
    report(Severity::Note, loc, message, length);
  }
  void fileError(std::string_view path, std::string_view message) {
    reportFile(Severity::Error, path, message);
  }
  void error(std::string_view message) { report(Severity::Error, message); }
  /// An error of the environment, not of the user's input: a backend or
  /// reader this seqc was built without, no CUDA driver or device, NVRTC
  /// refusing the generated source. Reported like error(); the command then
  /// exits 2 instead of 1 (environmentFailureReported).
  void environmentError(std::string_view message);
  void environmentFileError(std::string_view path, std::string_view message);

  unsigned getNumErrors() const { return numErrors; }
  bool hasErrors() const { return numErrors != 0; }

  /// When set, diagnostics are appended here instead of written to the stream.
  void captureTo(std::string *sink) { capture = sink; }

  const SourceManager &getSourceManager() const { return sourceMgr; }

private:
  void emit(const std::string &text);

  const SourceManager &sourceMgr;
  std::FILE *stream;
  std::string *capture = nullptr;
  unsigned numErrors = 0;
};

/// True once any DiagnosticEngine of this process has reported an
/// environmentError: main() turns a command's exit code 1 into 2.
bool environmentFailureReported();

} // namespace seqc

#endif // SEQC_SUPPORT_DIAGNOSTICS_H
