//===- Lexer.h - Tokens of the .nn language ---------------------*- C++ -*-===//
//
// Part of seqc. The .nn language is a subset of Python, so the lexer follows
// Python's rules for the parts it keeps: `#` comments, implicit line joining
// inside brackets, backslash continuations, int/float literals with
// underscores and exponents, single- or double-quoted strings.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_FRONTEND_LEXER_H
#define SEQC_FRONTEND_LEXER_H

#include "compiler/support/Diagnostics.h"

#include <string>
#include <string_view>
#include <vector>

namespace seqc::frontend {

enum class TokenKind {
  Identifier,
  Integer,
  Float,
  String,
  LParen,
  RParen,
  LBracket,
  RBracket,
  Comma,
  Equals,
  Dot,
  Minus,
  Plus,
  Star,
  DoubleStar,  ///< `**`
  Slash,       ///< `/`
  DoubleSlash, ///< `//`
  Percent,     ///< `%`
  Colon,       ///< never valid; lexed so the parser can name what uses it
  Newline,     ///< end of a logical line
  EndOfFile,
};

/// The spelling of a token kind for diagnostics ("')'", "a number", ...).
std::string_view tokenKindName(TokenKind kind);

struct Token {
  TokenKind kind = TokenKind::EndOfFile;
  SourceLoc loc;
  /// Length in bytes of the token's text on its line.
  uint32_t length = 1;
  /// Identifier text, or a string literal's decoded value.
  std::string text;
  /// The numeric value of Integer and Float tokens. Integers that do not fit
  /// int64 are reported by the lexer.
  int64_t intValue = 0;
  double floatValue = 0.0;
  /// True when the token is the first of its physical line and indented.
  bool indented = false;
};

/// Splits a buffer into tokens. Reports lexical errors through \p diag and
/// stops at the first one (the returned list then ends with EndOfFile).
std::vector<Token> lexBuffer(uint32_t bufferId, const SourceManager &sourceMgr,
                             DiagnosticEngine &diag);

} // namespace seqc::frontend

#endif // SEQC_FRONTEND_LEXER_H
