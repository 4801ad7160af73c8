//===- Lexer.cpp - Tokens of the .nn language -----------------------------===//

#include "frontend/Lexer.h"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>

namespace seqc::frontend {

std::string_view tokenKindName(TokenKind kind) {
  switch (kind) {
  case TokenKind::Identifier:
    return "a name";
  case TokenKind::Integer:
    return "an integer";
  case TokenKind::Float:
    return "a number";
  case TokenKind::String:
    return "a string";
  case TokenKind::LParen:
    return "'('";
  case TokenKind::RParen:
    return "')'";
  case TokenKind::LBracket:
    return "'['";
  case TokenKind::RBracket:
    return "']'";
  case TokenKind::Comma:
    return "','";
  case TokenKind::Equals:
    return "'='";
  case TokenKind::Dot:
    return "'.'";
  case TokenKind::Minus:
    return "'-'";
  case TokenKind::Plus:
    return "'+'";
  case TokenKind::Star:
    return "'*'";
  case TokenKind::DoubleStar:
    return "'**'";
  case TokenKind::Slash:
    return "'/'";
  case TokenKind::DoubleSlash:
    return "'//'";
  case TokenKind::Percent:
    return "'%'";
  case TokenKind::Colon:
    return "':'";
  case TokenKind::Newline:
    return "end of line";
  case TokenKind::EndOfFile:
    return "end of file";
  }
  return "a token";
}

namespace {

class Lexer {
public:
  Lexer(uint32_t bufferId, const SourceManager &sourceMgr,
        DiagnosticEngine &diag)
      : bufferId(bufferId), text(sourceMgr.getText(bufferId)), diag(diag) {}

  std::vector<Token> run();

private:
  SourceLoc locAt(size_t offset) const {
    return SourceLoc{bufferId, line,
                     static_cast<uint32_t>(offset - lineStart + 1)};
  }
  bool error(size_t offset, std::string_view message, uint32_t length = 1) {
    diag.error(locAt(offset), message, length);
    return false;
  }
  void push(TokenKind kind, size_t start, size_t end) {
    Token token;
    token.kind = kind;
    token.loc = locAt(start);
    token.length = static_cast<uint32_t>(end - start);
    token.indented = atLineStart && start > lineStart;
    atLineStart = false;
    tokens.push_back(std::move(token));
  }
  void newline(size_t offset) {
    ++line;
    lineStart = offset + 1;
    atLineStart = true;
  }
  /// Lexes what starts at pos: skips a space, comment or line
  /// continuation, or reads one token. Reports and returns false on error.
  bool lexNext();
  bool lexNumber();
  bool lexString();
  void lexIdentifier();
  bool lexPunctuation();
  /// Ends a statement (once, and not before the first token).
  void pushNewline(size_t offset);

  uint32_t bufferId;
  std::string_view text;
  DiagnosticEngine &diag;
  std::vector<Token> tokens;
  size_t pos = 0;
  uint32_t line = 1;
  size_t lineStart = 0;
  bool atLineStart = true;
  int bracketDepth = 0;
};

bool isIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool isDigit(char c) { return c >= '0' && c <= '9'; }

bool Lexer::lexNumber() {
  size_t start = pos;
  std::string digits;
  bool isFloat = false;
  auto takeDigits = [&]() {
    bool any = false;
    while (pos < text.size() && (isDigit(text[pos]) || text[pos] == '_')) {
      if (text[pos] == '_') {
        // Python allows single underscores between digits only.
        if (!any || pos + 1 >= text.size() || !isDigit(text[pos + 1]))
          return error(pos, "invalid underscore in number literal");
      } else {
        digits.push_back(text[pos]);
        any = true;
      }
      ++pos;
    }
    return true;
  };
  if (!takeDigits())
    return false;
  if (pos < text.size() && text[pos] == '.') {
    isFloat = true;
    digits.push_back('.');
    ++pos;
    if (!takeDigits())
      return false;
  }
  if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
    isFloat = true;
    digits.push_back('e');
    ++pos;
    if (pos < text.size() && (text[pos] == '+' || text[pos] == '-'))
      digits.push_back(text[pos++]);
    if (pos >= text.size() || !isDigit(text[pos]))
      return error(start, "malformed exponent in number literal",
                   static_cast<uint32_t>(pos - start));
    if (!takeDigits())
      return false;
  }
  // A letter, digit or second '.' right after a number (`2x`, `0x10`,
  // `0.1.2`) is a malformed literal, not two tokens.
  if (pos < text.size() &&
      (isIdentStart(text[pos]) || isDigit(text[pos]) || text[pos] == '.'))
    return error(start, "invalid number literal",
                 static_cast<uint32_t>(pos - start + 1));
  if (digits == ".")
    return error(start, "expected digits after '.'");
  Token token;
  if (!isFloat) {
    // Python forbids leading zeros in decimal integers ("010").
    if (digits.size() > 1 && digits[0] == '0' &&
        digits.find_first_not_of('0') != std::string::npos)
      return error(start, "leading zeros are not allowed in integer literals",
                   static_cast<uint32_t>(pos - start));
    errno = 0;
    char *end = nullptr;
    long long value = std::strtoll(digits.c_str(), &end, 10);
    if (errno == ERANGE)
      return error(start,
                   fmt::format("integer literal {} is too large", digits),
                   static_cast<uint32_t>(pos - start));
    push(TokenKind::Integer, start, pos);
    tokens.back().intValue = value;
    tokens.back().floatValue = static_cast<double>(value);
    return true;
  }
  errno = 0;
  double value = std::strtod(digits.c_str(), nullptr);
  if (std::isinf(value))
    return error(start, "floating-point literal is out of range",
                 static_cast<uint32_t>(pos - start));
  push(TokenKind::Float, start, pos);
  tokens.back().floatValue = value;
  return true;
}

bool Lexer::lexString() {
  size_t start = pos;
  char quote = text[pos++];
  if (pos + 1 < text.size() && text[pos] == quote && text[pos + 1] == quote)
    return error(start, "triple-quoted strings are not supported", 3);
  std::string value;
  while (true) {
    if (pos >= text.size() || text[pos] == '\n')
      return error(start, "unterminated string literal");
    char c = text[pos++];
    if (c == quote)
      break;
    if (c != '\\') {
      value.push_back(c);
      continue;
    }
    if (pos >= text.size())
      return error(start, "unterminated string literal");
    char escaped = text[pos++];
    if (escaped == '\n' || escaped == '\r')
      return error(start, "unterminated string literal (a string cannot "
                          "continue on the next line)");
    switch (escaped) {
    case '\\':
    case '\'':
    case '"':
      value.push_back(escaped);
      break;
    case 'n':
      value.push_back('\n');
      break;
    case 't':
      value.push_back('\t');
      break;
    default:
      return error(pos - 2,
                   fmt::format("unsupported escape sequence '\\{}'", escaped),
                   2);
    }
  }
  push(TokenKind::String, start, pos);
  tokens.back().text = std::move(value);
  return true;
}

/// The token of a one-character punctuation mark, or nullopt.
std::optional<TokenKind> punctuationKind(char c) {
  switch (c) {
  case '(':
    return TokenKind::LParen;
  case ')':
    return TokenKind::RParen;
  case '[':
    return TokenKind::LBracket;
  case ']':
    return TokenKind::RBracket;
  case ',':
    return TokenKind::Comma;
  case '=':
    return TokenKind::Equals;
  case '.':
    return TokenKind::Dot;
  case '-':
    return TokenKind::Minus;
  case '+':
    return TokenKind::Plus;
  case '*':
    return TokenKind::Star;
  case '/':
    return TokenKind::Slash;
  case '%':
    return TokenKind::Percent;
  case ':':
    // Not part of the language, but `for x in y:` and `lambda x: x` read
    // better as "'for' is not supported" than as a bad character.
    return TokenKind::Colon;
  default:
    return std::nullopt;
  }
}

bool Lexer::lexPunctuation() {
  char c = text[pos];
  std::optional<TokenKind> kind = punctuationKind(c);
  if (!kind) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x80)
      return error(pos, "non-ASCII character in source (only ASCII is "
                        "allowed outside strings and comments)");
    if (u < 0x20 || u == 0x7f)
      return error(pos,
                   fmt::format("unexpected control character 0x{:02x}", u));
    return error(pos, fmt::format("unexpected character '{}'", c));
  }
  if (*kind == TokenKind::LParen || *kind == TokenKind::LBracket)
    ++bracketDepth;
  else if (*kind == TokenKind::RParen || *kind == TokenKind::RBracket)
    bracketDepth = bracketDepth > 0 ? bracketDepth - 1 : 0;
  // `**` and `//` are one token each, as in Python.
  size_t length = 1;
  if ((c == '*' || c == '/') && pos + 1 < text.size() && text[pos + 1] == c) {
    kind = c == '*' ? TokenKind::DoubleStar : TokenKind::DoubleSlash;
    length = 2;
  }
  push(*kind, pos, pos + length);
  pos += length;
  return true;
}

void Lexer::lexIdentifier() {
  size_t start = pos;
  while (pos < text.size() && (isIdentStart(text[pos]) || isDigit(text[pos])))
    ++pos;
  push(TokenKind::Identifier, start, pos);
  tokens.back().text = std::string(text.substr(start, pos - start));
}

void Lexer::pushNewline(size_t offset) {
  if (!tokens.empty() && tokens.back().kind != TokenKind::Newline) {
    Token token;
    token.kind = TokenKind::Newline;
    token.loc = locAt(offset);
    tokens.push_back(token);
  }
}

bool Lexer::lexNext() {
  char c = text[pos];
  if (c == '\n') {
    // Inside brackets a statement goes on over line ends, as in Python.
    if (bracketDepth == 0)
      pushNewline(pos);
    newline(pos);
    ++pos;
    return true;
  }
  if (c == ' ' || c == '\t' || c == '\r' || c == '\f') {
    ++pos;
    return true;
  }
  if (c == '#') {
    while (pos < text.size() && text[pos] != '\n')
      ++pos;
    return true;
  }
  if (c == '\\') {
    // A backslash at the end of a line joins the next line to it.
    size_t next = pos + 1;
    if (next < text.size() && text[next] == '\r')
      ++next;
    if (next >= text.size() || text[next] != '\n')
      return error(pos, "unexpected '\\' (only allowed at the end of a line)");
    newline(next);
    atLineStart = false;
    pos = next + 1;
    return true;
  }
  if (isIdentStart(c)) {
    lexIdentifier();
    return true;
  }
  if (isDigit(c) ||
      (c == '.' && pos + 1 < text.size() && isDigit(text[pos + 1])))
    return lexNumber();
  if (c == '"' || c == '\'')
    return lexString();
  return lexPunctuation();
}

/// Lexes the whole buffer, one lexNext() step at a time until the first
/// error, then ends the last statement and the file.
std::vector<Token> Lexer::run() {
  // Python accepts (and ignores) a UTF-8 byte-order mark at the start.
  if (text.substr(0, 3) == "\xEF\xBB\xBF")
    pos = lineStart = 3;
  bool ok = true;
  while (ok && pos < text.size())
    ok = lexNext();
  // Inside an unclosed bracket the file ends mid-statement: the parser sees
  // end of file there and reports the bracket.
  if (ok && bracketDepth == 0)
    pushNewline(pos);
  Token eof;
  eof.kind = TokenKind::EndOfFile;
  eof.loc = locAt(pos);
  tokens.push_back(eof);
  return tokens;
}

} // namespace

std::vector<Token> lexBuffer(uint32_t bufferId, const SourceManager &sourceMgr,
                             DiagnosticEngine &diag) {
  return Lexer(bufferId, sourceMgr, diag).run();
}

} // namespace seqc::frontend
