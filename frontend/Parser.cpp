//===- Parser.cpp - Parser of .nn files -----------------------------------===//

#include "frontend/Parser.h"

#include "frontend/Lexer.h"

#include "compiler/support/Limits.h"

#include <fmt/format.h>

namespace seqc::frontend {

namespace {

class Parser {
public:
  Parser(std::vector<Token> tokens, DiagnosticEngine &diag)
      : tokens(std::move(tokens)), diag(diag) {}

  std::optional<File> parseFile(uint32_t bufferId);

private:
  const Token &peek(size_t ahead = 0) const {
    size_t index = std::min(pos + ahead, tokens.size() - 1);
    return tokens[index];
  }
  bool at(TokenKind kind) const { return peek().kind == kind; }
  bool atKeyword(std::string_view word) const {
    return at(TokenKind::Identifier) && peek().text == word;
  }
  const Token &consume() {
    const Token &token = tokens[pos];
    if (pos + 1 < tokens.size())
      ++pos;
    return token;
  }
  bool fail(const Token &token, std::string_view message) {
    if (!failed)
      diag.error(token.loc, message, token.length);
    failed = true;
    return false;
  }
  bool expect(TokenKind kind, std::string_view context) {
    if (at(kind)) {
      consume();
      return true;
    }
    return fail(peek(),
                fmt::format("expected {} {}, found {}", tokenKindName(kind),
                            context, describe(peek())));
  }
  std::string describe(const Token &token) const {
    if (token.kind == TokenKind::Identifier)
      return fmt::format("'{}'", token.text);
    return std::string(tokenKindName(token.kind));
  }

  bool parseStatement(File &file);
  bool parseImport(Statement &stmt);
  bool parseDotted(std::vector<std::string> &parts);
  ExprPtr parseExpr();
  ExprPtr parseBinary(int level);
  ExprPtr parseFactor();
  ExprPtr parsePower();
  ExprPtr parsePrimary();
  ExprPtr parseStarred();
  ExprPtr makeBinary(std::string_view op, ExprPtr lhs, ExprPtr rhs,
                     const Token &start);
  ExprPtr finishOperator(ExprPtr node, const Token &start);
  bool parseComprehension(Expr &list, TokenKind close);
  bool parseCallArgs(Expr &call);
  ExprPtr parseBracketed(TokenKind open);

  /// Tracks bracket nesting so deep input is rejected before the stack is.
  struct DepthGuard {
    Parser &parser;
    explicit DepthGuard(Parser &parser) : parser(parser) { ++parser.depth; }
    ~DepthGuard() { --parser.depth; }
  };
  bool checkDepth(const Token &token) {
    if (depth <= limits::kMaxNestingDepth)
      return true;
    return fail(token, fmt::format("nesting is deeper than the limit of {} "
                                   "levels",
                                   limits::kMaxNestingDepth));
  }

  std::vector<Token> tokens;
  DiagnosticEngine &diag;
  size_t pos = 0;
  unsigned depth = 0;
  bool failed = false;
};

static bool isKeyword(std::string_view word) {
  static constexpr std::string_view kKeywords[] = {
      "and",      "as",       "assert", "async", "await",  "break",  "class",
      "continue", "def",      "del",    "elif",  "else",   "except", "finally",
      "for",      "from",     "global", "if",    "import", "in",     "is",
      "lambda",   "nonlocal", "not",    "or",    "pass",   "raise",  "return",
      "try",      "while",    "with",   "yield"};
  for (std::string_view keyword : kKeywords)
    if (keyword == word)
      return true;
  return false;
}

bool Parser::parseDotted(std::vector<std::string> &parts) {
  if (!at(TokenKind::Identifier) || isKeyword(peek().text))
    return fail(peek(),
                fmt::format("expected a name, found {}", describe(peek())));
  parts.push_back(consume().text);
  while (at(TokenKind::Dot)) {
    consume();
    if (!at(TokenKind::Identifier) || isKeyword(peek().text))
      return fail(peek(), fmt::format("expected a name after '.', found {}",
                                      describe(peek())));
    parts.push_back(consume().text);
  }
  return true;
}

bool Parser::parseImport(Statement &stmt) {
  stmt.kind = Statement::Kind::Import;
  bool isFrom = peek().text == "from";
  consume();
  std::vector<std::string> module;
  if (!parseDotted(module))
    return false;
  if (module.front() != "torch" && module.front() != "collections" &&
      module.front() != "safetensors")
    return fail(tokens[pos - 1],
                fmt::format("only imports from torch are allowed in a .nn "
                            "file, not '{}'",
                            module.front()));
  if (isFrom) {
    if (!atKeyword("import"))
      return fail(peek(),
                  fmt::format("expected 'import', found {}", describe(peek())));
    consume();
    if (at(TokenKind::Star)) {
      consume();
      return true;
    }
    do {
      std::vector<std::string> name;
      if (!parseDotted(name))
        return false;
      if (atKeyword("as")) {
        consume();
        std::vector<std::string> alias;
        if (!parseDotted(alias))
          return false;
      }
    } while (at(TokenKind::Comma) && (consume(), true));
    return true;
  }
  if (atKeyword("as")) {
    consume();
    std::vector<std::string> alias;
    if (!parseDotted(alias))
      return false;
  }
  return true;
}

bool Parser::parseStatement(File &file) {
  Statement stmt;
  const Token &first = peek();
  stmt.loc = first.loc;
  if (first.indented)
    return fail(first, "unexpected indentation at the start of a statement");
  if (first.kind == TokenKind::Identifier &&
      (first.text == "import" || first.text == "from")) {
    if (!parseImport(stmt))
      return false;
  } else if (first.kind == TokenKind::Identifier &&
             peek(1).kind == TokenKind::Equals) {
    if (isKeyword(first.text))
      return fail(first, fmt::format("'{}' is a Python keyword that .nn files "
                                     "do not support",
                                     first.text));
    stmt.kind = Statement::Kind::Assign;
    stmt.target = first.text;
    stmt.targetLoc = first.loc;
    stmt.targetLength = first.length;
    consume();
    consume();
    stmt.value = parseExpr();
    if (!stmt.value)
      return false;
  } else {
    if (first.kind == TokenKind::Identifier && isKeyword(first.text))
      return fail(first, fmt::format("'{}' statements are not part of the .nn "
                                     "language",
                                     first.text));
    stmt.kind = Statement::Kind::Call;
    stmt.value = parseExpr();
    if (!stmt.value)
      return false;
    if (stmt.value->kind != Expr::Kind::Call)
      return fail(first, "expected an assignment 'Name = nn.Sequential(...)' "
                         "or a call such as 'Name.load_state_dict(\"file\")'");
  }
  if (at(TokenKind::RParen) || at(TokenKind::RBracket))
    return fail(peek(),
                fmt::format("unmatched {}", tokenKindName(peek().kind)));
  if (!at(TokenKind::Newline) && !at(TokenKind::EndOfFile))
    return fail(peek(), fmt::format("expected end of line, found {}",
                                    describe(peek())));
  if (at(TokenKind::Newline))
    consume();
  file.statements.push_back(std::move(stmt));
  return true;
}

/// `-x` and `+x`. A number literal takes the sign directly, so `-1` stays
/// one literal as before arithmetic existed.
ExprPtr Parser::parseFactor() {
  const Token &start = peek();
  if (!at(TokenKind::Minus) && !at(TokenKind::Plus))
    return parsePower();
  bool negate = at(TokenKind::Minus);
  consume();
  DepthGuard guard(*this);
  if (!checkDepth(start))
    return nullptr;
  ExprPtr operand = parseFactor();
  if (!operand)
    return nullptr;
  if (operand->kind == Expr::Kind::Integer ||
      operand->kind == Expr::Kind::Float) {
    if (negate) {
      operand->intValue = -operand->intValue;
      operand->floatValue = -operand->floatValue;
    }
    operand->loc = start.loc;
    operand->length += 1;
    return operand;
  }
  auto unary = std::make_unique<Expr>();
  unary->kind = Expr::Kind::Unary;
  unary->op.push_back(negate ? '-' : '+');
  unary->height = operand->height + 1;
  unary->args.push_back(std::move(operand));
  return finishOperator(std::move(unary), start);
}

/// `a ** b`: binds tighter than unary minus on its left (`-2 ** 2` is -4)
/// and looser on its right (`2 ** -1`), as in Python.
ExprPtr Parser::parsePower() {
  const Token &start = peek();
  ExprPtr base = parsePrimary();
  if (!base || !at(TokenKind::DoubleStar))
    return base;
  consume();
  ExprPtr exponent = parseFactor();
  if (!exponent)
    return nullptr;
  return makeBinary("**", std::move(base), std::move(exponent), start);
}

ExprPtr Parser::makeBinary(std::string_view op, ExprPtr lhs, ExprPtr rhs,
                           const Token &start) {
  auto binary = std::make_unique<Expr>();
  binary->kind = Expr::Kind::Binary;
  binary->op = std::string(op);
  binary->height = std::max(lhs->height, rhs->height) + 1;
  binary->args.push_back(std::move(lhs));
  binary->args.push_back(std::move(rhs));
  return finishOperator(std::move(binary), start);
}

/// Sets an operator's location to its source span (when on one line) and
/// bounds the height of operator trees, which later passes walk
/// recursively.
ExprPtr Parser::finishOperator(ExprPtr node, const Token &start) {
  node->loc = start.loc;
  const Token &last = tokens[pos - 1];
  if (last.loc.line == start.loc.line)
    node->length = last.loc.col + last.length - start.loc.col;
  if (node->height > limits::kMaxNestingDepth) {
    fail(start, fmt::format("the expression nests operators deeper than the "
                            "limit of {} levels",
                            limits::kMaxNestingDepth));
    return nullptr;
  }
  return node;
}

/// The binary operator \p kind spells at precedence \p level (0: `+ -`,
/// 1: `* / // %`), or "" when it is none of that level's.
static std::string_view binaryOperator(TokenKind kind, int level) {
  struct Operator {
    TokenKind kind;
    int level;
    std::string_view spelling;
  };
  static constexpr Operator kOperators[] = {
      {TokenKind::Plus, 0, "+"},         {TokenKind::Minus, 0, "-"},
      {TokenKind::Star, 1, "*"},         {TokenKind::Slash, 1, "/"},
      {TokenKind::DoubleSlash, 1, "//"}, {TokenKind::Percent, 1, "%"}};
  for (const Operator &op : kOperators)
    if (op.kind == kind && op.level == level)
      return op.spelling;
  return "";
}

/// Left-associative binary operators: `+` and `-` over terms (level 0),
/// `*`, `/`, `//` and `%` over factors (level 1).
ExprPtr Parser::parseBinary(int level) {
  const Token &start = peek();
  ExprPtr lhs = level == 0 ? parseBinary(1) : parseFactor();
  while (lhs && !binaryOperator(peek().kind, level).empty()) {
    std::string_view op = binaryOperator(consume().kind, level);
    ExprPtr rhs = level == 0 ? parseBinary(1) : parseFactor();
    if (!rhs)
      return nullptr;
    lhs = makeBinary(op, std::move(lhs), std::move(rhs), start);
  }
  return lhs;
}

ExprPtr Parser::parseExpr() { return parseBinary(0); }

/// `*expr` in call arguments and list displays.
ExprPtr Parser::parseStarred() {
  const Token &star = consume();
  ExprPtr operand = parseExpr();
  if (!operand)
    return nullptr;
  auto starred = std::make_unique<Expr>();
  starred->kind = Expr::Kind::Starred;
  starred->loc = star.loc;
  starred->length = operand->loc.line == star.loc.line
                        ? operand->loc.col + operand->length - star.loc.col
                        : 1;
  starred->args.push_back(std::move(operand));
  return starred;
}

ExprPtr Parser::parsePrimary() {
  const Token &token = peek();
  auto expr = std::make_unique<Expr>();
  expr->loc = token.loc;
  expr->length = token.length;
  switch (token.kind) {
  case TokenKind::Integer:
    expr->kind = Expr::Kind::Integer;
    expr->intValue = token.intValue;
    expr->floatValue = token.floatValue;
    consume();
    return expr;
  case TokenKind::Float:
    expr->kind = Expr::Kind::Float;
    expr->floatValue = token.floatValue;
    consume();
    return expr;
  case TokenKind::String:
    expr->kind = Expr::Kind::String;
    expr->stringValue = token.text;
    consume();
    // Python concatenates adjacent string literals.
    while (at(TokenKind::String))
      expr->stringValue += consume().text;
    return expr;
  case TokenKind::LParen:
  case TokenKind::LBracket:
    return parseBracketed(token.kind);
  case TokenKind::Identifier: {
    if (token.text == "True" || token.text == "False") {
      expr->kind = Expr::Kind::Bool;
      expr->intValue = token.text == "True";
      consume();
      return expr;
    }
    if (token.text == "None") {
      expr->kind = Expr::Kind::None;
      consume();
      return expr;
    }
    if (isKeyword(token.text)) {
      fail(token, fmt::format("'{}' is a Python keyword that .nn files do not "
                              "support",
                              token.text));
      return nullptr;
    }
    expr->kind = Expr::Kind::Name;
    if (!parseDotted(expr->dotted))
      return nullptr;
    const Token &last = tokens[pos - 1];
    if (last.loc.line == token.loc.line)
      expr->length = last.loc.col + last.length - token.loc.col;
    if (at(TokenKind::LParen)) {
      expr->kind = Expr::Kind::Call;
      if (!parseCallArgs(*expr))
        return nullptr;
      if (at(TokenKind::Dot) || at(TokenKind::LParen) ||
          at(TokenKind::LBracket)) {
        fail(peek(), "method calls, calls and indexing on the result of a "
                     "call are not part of the .nn language");
        return nullptr;
      }
    } else if (at(TokenKind::LBracket)) {
      fail(peek(), "indexing is not part of the .nn language");
      return nullptr;
    }
    return expr;
  }
  default:
    fail(token,
         fmt::format("expected an expression, found {}", describe(token)));
    return nullptr;
  }
}

bool Parser::parseCallArgs(Expr &call) {
  const Token &open = peek();
  DepthGuard guard(*this);
  if (!checkDepth(open))
    return false;
  consume(); // '('
  while (!at(TokenKind::RParen)) {
    if (at(TokenKind::EndOfFile))
      return fail(open, "'(' was never closed");
    if (at(TokenKind::DoubleStar))
      return fail(peek(), "'**' keyword splats are not part of the .nn "
                          "language; write the keyword arguments");
    if (at(TokenKind::Identifier) && peek(1).kind == TokenKind::Equals) {
      KeywordArg keyword;
      keyword.name = peek().text;
      keyword.nameLoc = peek().loc;
      for (const KeywordArg &other : call.keywords)
        if (other.name == keyword.name)
          return fail(peek(), fmt::format("keyword argument '{}' repeated",
                                          keyword.name));
      consume();
      consume();
      keyword.value = parseExpr();
      if (!keyword.value)
        return false;
      call.keywords.push_back(std::move(keyword));
    } else {
      if (!call.keywords.empty())
        return fail(peek(), "positional argument follows keyword argument");
      ExprPtr arg = at(TokenKind::Star) ? parseStarred() : parseExpr();
      if (!arg)
        return false;
      call.args.push_back(std::move(arg));
    }
    if (at(TokenKind::Comma)) {
      consume();
      continue;
    }
    if (at(TokenKind::EndOfFile))
      return fail(open, "'(' was never closed");
    if (!at(TokenKind::RParen))
      return fail(peek(), fmt::format("expected ',' or ')' in the arguments "
                                      "of '{}', found {}",
                                      call.dottedName(), describe(peek())));
  }
  const Token &close = consume();
  if (close.loc.line == call.loc.line)
    call.length = close.loc.col + 1 - call.loc.col;
  return true;
}

ExprPtr Parser::parseBracketed(TokenKind open) {
  const Token &start = peek();
  DepthGuard guard(*this);
  if (!checkDepth(start))
    return nullptr;
  consume();
  TokenKind close =
      open == TokenKind::LParen ? TokenKind::RParen : TokenKind::RBracket;
  auto list = std::make_unique<Expr>();
  list->kind = Expr::Kind::List;
  list->loc = start.loc;
  list->isTuple = open == TokenKind::LParen;
  bool sawComma = false;
  while (!at(close)) {
    if (at(TokenKind::EndOfFile)) {
      fail(start, fmt::format("{} was never closed", tokenKindName(open)));
      return nullptr;
    }
    ExprPtr element = at(TokenKind::Star) ? parseStarred() : parseExpr();
    if (!element)
      return nullptr;
    list->args.push_back(std::move(element));
    if (atKeyword("for") && list->args.size() == 1) {
      if (!parseComprehension(*list, close))
        return nullptr;
      break;
    }
    if (list->args.size() > limits::kMaxLiteralElements) {
      fail(start, "literal has too many elements");
      return nullptr;
    }
    if (at(TokenKind::Comma)) {
      consume();
      sawComma = true;
      continue;
    }
    if (at(TokenKind::EndOfFile)) {
      fail(start, fmt::format("{} was never closed", tokenKindName(open)));
      return nullptr;
    }
    if (!at(close)) {
      fail(peek(),
           fmt::format("expected ',' or {} in a {}, found {}",
                       tokenKindName(close), list->isTuple ? "tuple" : "list",
                       describe(peek())));
      return nullptr;
    }
  }
  const Token &end = consume();
  if (end.loc.line == start.loc.line)
    list->length = end.loc.col + 1 - start.loc.col;
  // `(x)` is just x in Python; `(x,)` and `()` are tuples. A parenthesized
  // operator keeps its parentheses in messages.
  if (list->isTuple && list->args.size() == 1 && !sawComma) {
    ExprPtr inner = std::move(list->args.front());
    if (inner->kind == Expr::Kind::Unary || inner->kind == Expr::Kind::Binary) {
      inner->loc = list->loc;
      inner->length = list->length;
    }
    return inner;
  }
  return list;
}

/// `[element for name in iterable]`, after the element: one `for` clause
/// and no `if`, which is what building layers in a loop needs.
bool Parser::parseComprehension(Expr &list, TokenKind close) {
  const Token &forToken = consume();
  if (list.isTuple)
    return fail(forToken, "generator expressions are not part of the .nn "
                          "language; use a list comprehension [... for ...]");
  if (list.args.front()->kind == Expr::Kind::Starred)
    return fail(forToken, "a '*' splat cannot be the element of a list "
                          "comprehension");
  if (!at(TokenKind::Identifier) || isKeyword(peek().text))
    return fail(peek(), fmt::format("expected a loop variable after 'for', "
                                    "found {}",
                                    describe(peek())));
  list.kind = Expr::Kind::ListComp;
  list.dotted = {consume().text};
  if (!atKeyword("in"))
    return fail(peek(), fmt::format("expected 'in' after the loop variable, "
                                    "found {}",
                                    describe(peek())));
  consume();
  ExprPtr iterable = parseExpr();
  if (!iterable)
    return false;
  list.args.push_back(std::move(iterable));
  if (atKeyword("for") || atKeyword("if"))
    return fail(peek(), fmt::format("'{}' clauses in a list comprehension are "
                                    "not part of the .nn language (one 'for' "
                                    "over range() is)",
                                    peek().text));
  if (!at(close))
    return fail(peek(), fmt::format("expected {} after the list "
                                    "comprehension, found {}",
                                    tokenKindName(close), describe(peek())));
  return true;
}

std::optional<File> Parser::parseFile(uint32_t bufferId) {
  File file;
  file.bufferId = bufferId;
  while (!at(TokenKind::EndOfFile)) {
    if (at(TokenKind::Newline)) {
      consume();
      continue;
    }
    if (!parseStatement(file))
      return std::nullopt;
  }
  return file;
}

} // namespace

std::optional<File> parseBuffer(uint32_t bufferId,
                                const SourceManager &sourceMgr,
                                DiagnosticEngine &diag) {
  unsigned errorsBefore = diag.getNumErrors();
  std::vector<Token> tokens = lexBuffer(bufferId, sourceMgr, diag);
  if (diag.getNumErrors() != errorsBefore)
    return std::nullopt;
  return Parser(std::move(tokens), diag).parseFile(bufferId);
}

} // namespace seqc::frontend
