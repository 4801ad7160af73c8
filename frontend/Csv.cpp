//===- Csv.cpp - Reading numeric CSV files --------------------------------===//

#include "frontend/Csv.h"

#include "compiler/support/FileIO.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace seqc {

namespace {

enum class FieldKind { Number, NotNumber, OutOfRange };

struct Field {
  size_t offset; // byte offset of the trimmed text within its line
  std::string_view text;
  FieldKind kind;
  float value;
};

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z')
      x = char(x - 'A' + 'a');
    if (x != y)
      return false;
  }
  return true;
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }

/// True when \p t is a decimal number: [+-]? (d+ (. d*)? | . d+) ([eE][+-]?d+)?
bool isDecimal(std::string_view t) {
  size_t i = 0, n = t.size();
  if (i < n && (t[i] == '+' || t[i] == '-'))
    ++i;
  size_t intDigits = 0, fracDigits = 0;
  while (i < n && isDigit(t[i]))
    ++i, ++intDigits;
  if (i < n && t[i] == '.') {
    ++i;
    while (i < n && isDigit(t[i]))
      ++i, ++fracDigits;
  }
  if (intDigits + fracDigits == 0)
    return false;
  if (i < n && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < n && (t[i] == '+' || t[i] == '-'))
      ++i;
    size_t expDigits = 0;
    while (i < n && isDigit(t[i]))
      ++i, ++expDigits;
    if (expDigits == 0)
      return false;
  }
  return i == n;
}

/// For a valid decimal whose value is nonzero, true when its magnitude is at
/// least 1 (used to tell float32 overflow from underflow).
bool magnitudeAtLeastOne(std::string_view t) {
  if (!t.empty() && (t[0] == '+' || t[0] == '-'))
    t.remove_prefix(1);
  size_t e = t.find_first_of("eE");
  std::string_view mantissa = t.substr(0, e);
  int64_t exponent = 0;
  if (e != std::string_view::npos) {
    std::string_view digits = t.substr(e + 1);
    bool negative = !digits.empty() && digits[0] == '-';
    if (!digits.empty() && (digits[0] == '-' || digits[0] == '+'))
      digits.remove_prefix(1);
    for (char c : digits)
      exponent = std::min<int64_t>(exponent * 10 + (c - '0'), 1'000'000'000);
    if (negative)
      exponent = -exponent;
  }
  size_t point = mantissa.find('.');
  if (point == std::string_view::npos)
    point = mantissa.size();
  for (size_t k = 0; k < mantissa.size(); ++k) {
    if (mantissa[k] == '.' || mantissa[k] == '0')
      continue;
    // The value is in [10^(m-1), 10^m) times 10^exponent.
    int64_t m = k < point ? int64_t(point - k) : -int64_t(k - point - 1);
    return m + exponent >= 1;
  }
  return false;
}

Field classify(size_t offset, std::string_view text) {
  Field field{offset, text, FieldKind::NotNumber, 0.0f};
  std::string_view body = text;
  bool negative = false;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (equalsIgnoreCase(body, "nan")) {
    field.kind = FieldKind::Number;
    field.value = std::numeric_limits<float>::quiet_NaN();
    return field;
  }
  if (equalsIgnoreCase(body, "inf") || equalsIgnoreCase(body, "infinity")) {
    field.kind = FieldKind::Number;
    field.value = negative ? -std::numeric_limits<float>::infinity()
                           : std::numeric_limits<float>::infinity();
    return field;
  }
  if (!isDecimal(text))
    return field;
  // from_chars rejects a leading '+'.
  std::string_view digits = text[0] == '+' ? text.substr(1) : text;
  float value = 0.0f;
  auto result = std::from_chars(digits.data(), digits.data() + digits.size(),
                                value, std::chars_format::general);
  if (result.ec == std::errc() && result.ptr == digits.data() + digits.size()) {
    field.kind = FieldKind::Number;
    field.value = value;
    return field;
  }
  if (result.ec == std::errc::result_out_of_range) {
    if (magnitudeAtLeastOne(text)) {
      field.kind = FieldKind::OutOfRange;
    } else {
      // Too small for float32: rounds to zero.
      field.kind = FieldKind::Number;
      field.value = negative ? -0.0f : 0.0f;
    }
  }
  return field;
}

/// Splits a line into trimmed fields.
std::vector<Field> splitFields(std::string_view line) {
  std::vector<Field> fields;
  size_t start = 0;
  while (true) {
    size_t comma = line.find(',', start);
    size_t end = comma == std::string_view::npos ? line.size() : comma;
    size_t b = start, e = end;
    while (b < e && (line[b] == ' ' || line[b] == '\t'))
      ++b;
    while (e > b && (line[e - 1] == ' ' || line[e - 1] == '\t'))
      --e;
    fields.push_back(classify(b, line.substr(b, e - b)));
    if (comma == std::string_view::npos)
      break;
    start = comma + 1;
  }
  return fields;
}

std::string shownField(std::string_view text) {
  constexpr size_t kMaxShown = 40;
  std::string out;
  for (size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    out.push_back((c < 0x20 || c == 0x7f) ? '?' : char(c));
  }
  if (text.size() > kMaxShown)
    out += "...";
  return out;
}

uint32_t caretLength(size_t n) {
  return static_cast<uint32_t>(std::clamp<size_t>(n, 1, 1u << 16));
}

} // namespace

std::optional<Tensor> parseCsv(uint32_t bufferId, SourceManager &sourceMgr,
                               DiagnosticEngine &diag) {
  std::string_view text = sourceMgr.getText(bufferId);
  auto errorAt = [&](uint32_t line, size_t offset, size_t length,
                     std::string_view message) {
    diag.error(SourceLoc{bufferId, line, static_cast<uint32_t>(offset + 1)},
               message, caretLength(length));
    return std::nullopt;
  };

  size_t lineStart = 0;
  uint32_t lineNo = 0;
  if (text.substr(0, 3) == "\xEF\xBB\xBF")
    lineStart = 3; // a UTF-8 byte order mark, as spreadsheets write
  size_t bomSkip = lineStart;
  bool seenContent = false;
  bool haveHeader = false;
  size_t headerColumns = 0;
  size_t columns = 0;
  uint64_t rows = 0;
  std::vector<float> data;

  while (lineStart <= text.size()) {
    ++lineNo;
    size_t newline = text.find('\n', lineStart);
    size_t lineEnd = newline == std::string_view::npos ? text.size() : newline;
    // Offsets in diagnostics count from the true start of the line.
    size_t base = lineNo == 1 ? bomSkip : 0;
    std::string_view line = text.substr(lineStart, lineEnd - lineStart);
    lineStart =
        newline == std::string_view::npos ? text.size() + 1 : newline + 1;
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);

    size_t first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#')
      continue;

    std::vector<Field> fields = splitFields(line);
    bool isFirst = !seenContent;
    seenContent = true;

    if (isFirst) {
      bool allText = true;
      for (const Field &f : fields)
        allText &= f.kind == FieldKind::NotNumber && !f.text.empty();
      if (allText) {
        haveHeader = true;
        headerColumns = fields.size();
        continue;
      }
    }

    for (const Field &f : fields) {
      if (f.text.empty())
        return errorAt(lineNo, base + f.offset, 1, "empty field");
      if (f.kind == FieldKind::NotNumber)
        return errorAt(lineNo, base + f.offset, f.text.size(),
                       fmt::format("'{}' is not a number", shownField(f.text)));
      if (f.kind == FieldKind::OutOfRange)
        return errorAt(
            lineNo, base + f.offset, f.text.size(),
            fmt::format("{} is out of the float32 range", shownField(f.text)));
    }

    size_t trimmedEnd = line.find_last_not_of(" \t") + 1;
    if (rows == 0) {
      columns = fields.size();
      if (haveHeader && headerColumns != columns)
        return errorAt(lineNo, base + first, trimmedEnd - first,
                       fmt::format("row has {} value{}, but the header names "
                                   "{} column{}",
                                   columns, columns == 1 ? "" : "s",
                                   headerColumns,
                                   headerColumns == 1 ? "" : "s"));
    } else if (fields.size() != columns) {
      return errorAt(lineNo, base + first, trimmedEnd - first,
                     fmt::format("row has {} value{}, but the first row has {}",
                                 fields.size(), fields.size() == 1 ? "" : "s",
                                 columns));
    }
    for (const Field &f : fields)
      data.push_back(f.value);
    ++rows;
  }

  if (rows == 0) {
    diag.fileError(sourceMgr.getPath(bufferId),
                   haveHeader ? "no data rows after the header"
                              : "no data rows");
    return std::nullopt;
  }
  return Tensor({static_cast<int64_t>(rows), static_cast<int64_t>(columns)},
                std::move(data));
}

std::optional<Tensor> readCsv(const std::string &path, SourceManager &sourceMgr,
                              DiagnosticEngine &diag) {
  std::string message;
  std::optional<std::string> text = readFile(path, kMaxCsvBytes, message);
  if (!text) {
    diag.error(message);
    return std::nullopt;
  }
  uint32_t bufferId = sourceMgr.addBuffer(path, std::move(*text));
  return parseCsv(bufferId, sourceMgr, diag);
}

} // namespace seqc
