//===- Npy.cpp - Reading and writing NumPy .npy files ---------------------===//
//
// Part of seqc. The format (numpy/lib/format.py): the magic "\x93NUMPY", a
// major and minor version byte (1.0, 2.0 or 3.0), the header length (2 bytes
// little-endian in 1.0, 4 bytes in 2.0 and 3.0), then the header, a Python
// dict literal such as `{'descr': '<f4', 'fortran_order': False,
// 'shape': (3, 2), }` padded with spaces and ended by a newline, then the raw
// data.
//
//===----------------------------------------------------------------------===//

#include "frontend/Npy.h"

#include "compiler/support/FileIO.h"
#include "frontend/Safetensors.h"

#include <fmt/format.h>

#include <bit>
#include <cassert>
#include <cctype>
#include <cstring>
#include <limits>

namespace seqc {

namespace {

/// The parsed header and where the data is.
struct NpyLayout {
  char kind = 0;     // 'f', 'i', 'u' or 'b'
  unsigned size = 0; // bytes per element
  std::string descr;
  bool fortranOrder = false;
  std::vector<uint64_t> fileShape;
  /// The shape returned: the file's, with a 1-D `[F]` read as `[1, F]`.
  std::vector<int64_t> shape;
  uint64_t count = 0; // elements
  const unsigned char *data = nullptr;
};

std::string quoteText(std::string_view text) {
  constexpr size_t kMaxShown = 60;
  std::string out = "'";
  for (size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c >= 0x7f || c == '\\')
      out += fmt::format("\\x{:02x}", c);
    else
      out.push_back(static_cast<char>(c));
  }
  if (text.size() > kMaxShown)
    out += "...";
  return out + "'";
}

std::string pythonShape(const std::vector<uint64_t> &shape) {
  if (shape.size() == 1)
    return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

/// Parses the header dict literal. Only the subset NumPy writes is accepted:
/// string keys, string / True / False / tuple-of-integers values.
class HeaderParser {
public:
  explicit HeaderParser(std::string_view text) : text(text) {}

  bool parse(std::string &descr, bool &fortranOrder,
             std::vector<uint64_t> &shape) {
    bool haveDescr = false, haveOrder = false, haveShape = false;
    skipSpace();
    if (!consume('{'))
      return fail("the header is not a Python dict literal");
    while (true) {
      skipSpace();
      if (consume('}'))
        break;
      std::string key;
      if (!parseString(key))
        return fail("expected a quoted key in the header");
      skipSpace();
      if (!consume(':'))
        return fail(fmt::format("expected ':' after {}", quoteText(key)));
      skipSpace();
      if (key == "descr") {
        if (haveDescr)
          return fail("'descr' appears twice");
        haveDescr = true;
        if (peek() == '[' || peek() == '(')
          return fail("structured (record) dtypes are not supported; expected "
                      "a plain float or integer array");
        if (!parseString(descr))
          return fail("'descr' is not a string");
      } else if (key == "fortran_order") {
        if (haveOrder)
          return fail("'fortran_order' appears twice");
        haveOrder = true;
        if (consumeWord("True"))
          fortranOrder = true;
        else if (consumeWord("False"))
          fortranOrder = false;
        else
          return fail("'fortran_order' is not True or False");
      } else if (key == "shape") {
        if (haveShape)
          return fail("'shape' appears twice");
        haveShape = true;
        if (!parseShape(shape))
          return false;
      } else {
        return fail(fmt::format("unexpected key {} in the header (expected "
                                "'descr', 'fortran_order' and 'shape')",
                                quoteText(key)));
      }
      skipSpace();
      if (consume('}'))
        break;
      if (!consume(','))
        return fail("expected ',' or '}' in the header");
    }
    skipSpace();
    if (pos != text.size())
      return fail("unexpected text after the header dict");
    if (!haveDescr || !haveOrder || !haveShape)
      return fail(fmt::format("the header lacks {}", !haveDescr ? "'descr'"
                                                     : !haveOrder
                                                         ? "'fortran_order'"
                                                         : "'shape'"));
    return true;
  }

  const std::string &getError() const { return error; }

private:
  bool fail(std::string message) {
    if (error.empty())
      error = std::move(message);
    return false;
  }
  char peek() const { return pos < text.size() ? text[pos] : '\0'; }
  void skipSpace() {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' ||
                                 text[pos] == '\n' || text[pos] == '\r'))
      ++pos;
  }
  bool consume(char c) {
    if (peek() != c)
      return false;
    ++pos;
    return true;
  }
  bool consumeWord(std::string_view word) {
    if (text.substr(pos, word.size()) != word)
      return false;
    size_t end = pos + word.size();
    if (end < text.size() &&
        (std::isalnum(static_cast<unsigned char>(text[end])) ||
         text[end] == '_'))
      return false;
    pos = end;
    return true;
  }
  bool parseString(std::string &out) {
    char quote = peek();
    if (quote != '\'' && quote != '"')
      return false;
    ++pos;
    out.clear();
    while (pos < text.size() && text[pos] != quote) {
      if (text[pos] == '\\' || text[pos] == '\n')
        return false;
      out.push_back(text[pos++]);
    }
    return consume(quote);
  }
  bool parseShape(std::vector<uint64_t> &shape) {
    if (!consume('('))
      return fail("'shape' is not a tuple");
    bool sawComma = false;
    while (true) {
      skipSpace();
      if (consume(')'))
        break;
      if (!std::isdigit(static_cast<unsigned char>(peek())))
        return fail("'shape' must be a tuple of non-negative integers");
      uint64_t value = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        uint64_t digit = uint64_t(text[pos++] - '0');
        if (value >
            (uint64_t(std::numeric_limits<int64_t>::max()) - digit) / 10)
          return fail("a dimension in 'shape' is too large");
        value = value * 10 + digit;
      }
      shape.push_back(value);
      skipSpace();
      if (consume(')'))
        break;
      if (!consume(','))
        return fail("expected ',' or ')' in 'shape'");
      sawComma = true;
    }
    if (shape.size() == 1 && !sawComma)
      return fail("'shape' is not a tuple");
    return true;
  }

  std::string_view text;
  size_t pos = 0;
  std::string error;
};

uint32_t loadLE32(const unsigned char *p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}

uint64_t loadLE64(const unsigned char *p) {
  return static_cast<uint64_t>(loadLE32(p)) |
         (static_cast<uint64_t>(loadLE32(p + 4)) << 32);
}

/// ` (complex)` for the NumPy kinds seqc cannot read, or "".
std::string_view kindName(char kind) {
  switch (kind) {
  case 'c':
    return " (complex)";
  case 'U':
  case 'S':
  case 'a':
    return " (strings)";
  case 'M':
    return " (datetime64)";
  case 'm':
    return " (timedelta64)";
  case 'V':
    return " (raw bytes)";
  default:
    return "";
  }
}

/// Checks \p descr and sets kind and size; returns an error message or "".
std::string classifyDescr(std::string_view descr, NpyLayout &layout) {
  std::string quoted = quoteText(descr);
  char order = '=';
  std::string_view rest = descr;
  if (!rest.empty() &&
      (rest[0] == '<' || rest[0] == '>' || rest[0] == '|' || rest[0] == '=')) {
    order = rest[0];
    rest.remove_prefix(1);
  }
  if (rest.empty())
    return fmt::format("dtype {} is not a valid NumPy dtype", quoted);
  char kind = rest[0];
  std::string_view digits = rest.substr(1);
  unsigned size = 0;
  for (char c : digits) {
    if (c < '0' || c > '9' || size > 1000)
      return fmt::format("dtype {}{} is not supported; expected a float, "
                         "integer or boolean array",
                         quoted, kindName(kind));
    size = size * 10 + unsigned(c - '0');
  }
  if (kind == 'O')
    return fmt::format("dtype {} is an object array (it needs pickle), which "
                       "is not supported; save a float array",
                       quoted);
  bool known = false;
  switch (kind) {
  case 'f':
    known = size == 2 || size == 4 || size == 8;
    break;
  case 'i':
  case 'u':
    known = size == 1 || size == 2 || size == 4 || size == 8;
    break;
  case 'b':
    known = size == 1;
    break;
  default:
    break;
  }
  if (!known)
    return fmt::format("dtype {}{} is not supported; expected a float (f2, "
                       "f4, f8), integer or boolean array",
                       quoted, kindName(kind));
  if (size > 1) {
    if (order == '>')
      return fmt::format("dtype {} is big-endian; only little-endian data is "
                         "supported (convert with arr.astype('<{}{}'))",
                         quoted, kind, size);
    // NumPy reads '|' and '=' (or no mark) as the native byte order.
    if (order != '<' && std::endian::native != std::endian::little)
      return fmt::format("dtype {} does not state its byte order", quoted);
  }
  layout.kind = kind;
  layout.size = size;
  return "";
}

std::optional<NpyLayout> parseLayout(std::string_view bytes,
                                     std::string_view displayName,
                                     DiagnosticEngine &diag) {
  auto error = [&](std::string_view message) -> std::optional<NpyLayout> {
    diag.fileError(displayName, message);
    return std::nullopt;
  };
  const auto *data = reinterpret_cast<const unsigned char *>(bytes.data());
  constexpr std::string_view kMagic("\x93NUMPY", 6);
  if (bytes.size() < 10 || bytes.substr(0, 6) != kMagic)
    return error("not a NumPy .npy file (the \\x93NUMPY magic is missing)");
  unsigned major = data[6], minor = data[7];
  if ((major != 1 && major != 2 && major != 3) || minor != 0)
    return error(fmt::format("unsupported .npy format version {}.{} (expected "
                             "1.0, 2.0 or 3.0)",
                             major, minor));
  uint64_t headerStart = major == 1 ? 10 : 12;
  if (bytes.size() < headerStart)
    return error("file ends inside the .npy header length");
  uint64_t headerLen = major == 1 ? uint64_t(data[8] | (data[9] << 8))
                                  : uint64_t(loadLE32(data + 8));
  if (headerLen > kMaxNpyHeaderBytes)
    return error(fmt::format("header length {} is larger than the limit of {} "
                             "bytes",
                             headerLen, kMaxNpyHeaderBytes));
  if (headerLen > bytes.size() - headerStart)
    return error(fmt::format("header length {} runs past the end of the file "
                             "(truncated?)",
                             headerLen));
  std::string_view header = bytes.substr(headerStart, headerLen);

  NpyLayout layout;
  HeaderParser parser(header);
  if (!parser.parse(layout.descr, layout.fortranOrder, layout.fileShape))
    return error(fmt::format("bad .npy header: {}", parser.getError()));
  std::string descrError = classifyDescr(layout.descr, layout);
  if (!descrError.empty())
    return error(descrError);

  const std::vector<uint64_t> &shape = layout.fileShape;
  if (shape.empty())
    return error("array is 0-dimensional (a scalar); expected a "
                 "[batch, features, ...] or 1-D [features] array");
  if (shape.size() > kMaxNpyRank)
    return error(fmt::format("array has {} dimensions; at most {} are "
                             "supported",
                             shape.size(), kMaxNpyRank));
  uint64_t count = 1, needed = 0;
  bool overflow = false;
  for (uint64_t d : shape)
    overflow |= __builtin_mul_overflow(count, d, &count);
  overflow |= __builtin_mul_overflow(count, uint64_t(layout.size), &needed);
  if (overflow)
    return error(fmt::format("shape {} overflows 64 bits", pythonShape(shape)));
  uint64_t available = bytes.size() - headerStart - headerLen;
  if (available != needed)
    return error(fmt::format("the data is {} bytes but shape {} of {} needs "
                             "{}{}",
                             available, pythonShape(shape),
                             quoteText(layout.descr), needed,
                             available < needed ? " (truncated file?)" : ""));
  if (shape.size() == 1)
    layout.shape.push_back(1);
  layout.shape.insert(layout.shape.end(), shape.begin(), shape.end());
  layout.count = count;
  layout.data = data + headerStart + headerLen;
  return layout;
}

/// Reads element \p index (in storage order) converted to T.
template <typename T> T loadElement(const NpyLayout &layout, uint64_t index) {
  const unsigned char *p = layout.data + index * layout.size;
  switch (layout.kind) {
  case 'f':
    if (layout.size == 2)
      return static_cast<T>(halfToFloat(uint16_t(p[0] | (p[1] << 8))));
    if (layout.size == 4) {
      uint32_t bits = loadLE32(p);
      float f;
      std::memcpy(&f, &bits, 4);
      return static_cast<T>(f);
    } else {
      uint64_t bits = loadLE64(p);
      double d;
      std::memcpy(&d, &bits, 8);
      return static_cast<T>(d); // rounds to nearest for float
    }
  case 'b':
    return p[0] != 0 ? T(1) : T(0);
  case 'u': {
    uint64_t v = 0;
    for (unsigned i = 0; i < layout.size; ++i)
      v |= uint64_t(p[i]) << (8 * i);
    return static_cast<T>(v);
  }
  case 'i': {
    uint64_t v = 0;
    for (unsigned i = 0; i < layout.size; ++i)
      v |= uint64_t(p[i]) << (8 * i);
    unsigned shift = 64 - 8 * layout.size;
    int64_t s = static_cast<int64_t>(v << shift) >> shift; // sign-extend
    return static_cast<T>(s);
  }
  default:
    assert(false && "unclassified npy dtype");
    return T(0);
  }
}

/// Decodes all elements in row-major (C) order, transposing Fortran-order
/// data.
template <typename T> std::vector<T> decode(const NpyLayout &layout) {
  std::vector<T> out(layout.count);
  const std::vector<int64_t> &dims = layout.shape;
  if (!layout.fortranOrder || dims.size() <= 1 || out.empty()) {
    for (uint64_t i = 0; i < out.size(); ++i)
      out[i] = loadElement<T>(layout, i);
    return out;
  }
  // Column-major: index (i0, ..., ik) is stored at i0 + d0 * (i1 + d1 * ...),
  // so dimension j has stride d0 * ... * d(j-1). Walk the C-order output
  // with an odometer over the indices, keeping the storage offset in step.
  size_t rank = dims.size();
  std::vector<uint64_t> stride(rank, 1), index(rank, 0);
  for (size_t j = 1; j < rank; ++j)
    stride[j] = stride[j - 1] * uint64_t(dims[j - 1]);
  uint64_t offset = 0;
  for (uint64_t i = 0; i < out.size(); ++i) {
    out[i] = loadElement<T>(layout, offset);
    for (size_t j = rank; j-- > 0;) {
      offset += stride[j];
      if (++index[j] < uint64_t(dims[j]))
        break;
      offset -= stride[j] * index[j];
      index[j] = 0;
    }
  }
  return out;
}

/// NumPy's name for a supported dtype (`float64`, `uint8`, `bool`).
std::string dtypeName(const NpyLayout &layout) {
  if (layout.kind == 'b')
    return "bool";
  std::string_view base = layout.kind == 'f'   ? "float"
                          : layout.kind == 'i' ? "int"
                                               : "uint";
  return fmt::format("{}{}", base, layout.size * 8);
}

/// Says on stderr that the data was converted to float32, when it was.
void noteConversion(const NpyLayout &layout, std::string_view displayName,
                    DiagnosticEngine &diag) {
  if (layout.kind == 'f' && layout.size == 4)
    return;
  // float32 holds every integer up to 2^24 exactly, and every float16.
  bool mayRound =
      (layout.kind == 'f' && layout.size == 8) ||
      ((layout.kind == 'i' || layout.kind == 'u') && layout.size >= 4);
  diag.reportFile(Severity::Note, displayName,
                  fmt::format("input is {} ({}); converted to float32{}",
                              dtypeName(layout), quoteText(layout.descr),
                              mayRound ? " (values float32 cannot hold are "
                                         "rounded)"
                                       : ""));
}

} // namespace

std::optional<Tensor> parseNpy(std::string_view bytes,
                               std::string_view displayName,
                               DiagnosticEngine &diag) {
  std::optional<NpyLayout> layout = parseLayout(bytes, displayName, diag);
  if (!layout)
    return std::nullopt;
  noteConversion(*layout, displayName, diag);
  return Tensor(layout->shape, decode<float>(*layout));
}

std::optional<NpyArray> parseNpyDouble(std::string_view bytes,
                                       std::string_view displayName,
                                       DiagnosticEngine &diag) {
  std::optional<NpyLayout> layout = parseLayout(bytes, displayName, diag);
  if (!layout)
    return std::nullopt;
  return NpyArray{layout->shape, decode<double>(*layout)};
}

static std::optional<std::string> readNpyBytes(const std::string &path,
                                               DiagnosticEngine &diag) {
  std::string message;
  std::optional<std::string> bytes = readFile(path, kMaxNpyBytes, message);
  if (!bytes)
    diag.error(message);
  return bytes;
}

std::optional<Tensor> readNpy(const std::string &path, DiagnosticEngine &diag) {
  std::optional<std::string> bytes = readNpyBytes(path, diag);
  if (!bytes)
    return std::nullopt;
  return parseNpy(*bytes, path, diag);
}

std::optional<NpyArray> readNpyDouble(const std::string &path,
                                      DiagnosticEngine &diag) {
  std::optional<std::string> bytes = readNpyBytes(path, diag);
  if (!bytes)
    return std::nullopt;
  return parseNpyDouble(*bytes, path, diag);
}

namespace {

/// The magic, version 1.0 and a header padded the way NumPy pads it.
std::string npyPreamble(std::string_view descr,
                        const std::vector<int64_t> &dims) {
  std::string shape;
  if (dims.size() == 1)
    shape = fmt::format("({},)", dims[0]);
  else
    shape = fmt::format("({})", fmt::join(dims, ", "));
  std::string header = fmt::format(
      "{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shape);
  // Pad with spaces so that magic + length + header + '\n' is a multiple of
  // 64 bytes, as NumPy does.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  assert(header.size() <= 0xffff && "npy v1.0 header too long");

  std::string out("\x93NUMPY\x01\x00", 8);
  out.push_back(char(header.size() & 0xff));
  out.push_back(char(header.size() >> 8));
  out += header;
  return out;
}

template <typename T, typename Bits>
void appendLittleEndian(std::string &out, const std::vector<T> &values) {
  out.reserve(out.size() + values.size() * sizeof(T));
  for (T v : values) {
    Bits bits;
    std::memcpy(&bits, &v, sizeof(T));
    for (size_t i = 0; i < sizeof(T); ++i)
      out.push_back(char((bits >> (8 * i)) & 0xff));
  }
}

} // namespace

std::string serializeNpy(const Tensor &tensor) {
  assert(tensor.numElements() == tensor.data.size() &&
         "tensor data does not match its shape");
  std::string out = npyPreamble("<f4", tensor.shape);
  appendLittleEndian<float, uint32_t>(out, tensor.data);
  return out;
}

std::string serializeNpyDouble(const std::vector<int64_t> &shape,
                               const std::vector<double> &data) {
  std::string out = npyPreamble("<f8", shape);
  appendLittleEndian<double, uint64_t>(out, data);
  return out;
}

bool writeNpy(const std::string &path, const Tensor &tensor,
              DiagnosticEngine &diag) {
  for (int64_t d : tensor.shape) {
    if (d < 0) {
      diag.fileError(path, fmt::format("cannot write shape {}: negative "
                                       "dimension",
                                       Tensor::shapeString(tensor.shape)));
      return false;
    }
  }
  if (tensor.numElements() != tensor.data.size()) {
    diag.fileError(path, fmt::format("cannot write a tensor of shape {} with "
                                     "{} values",
                                     Tensor::shapeString(tensor.shape),
                                     tensor.data.size()));
    return false;
  }
  std::string message;
  if (!writeFileAtomic(path, serializeNpy(tensor), message)) {
    diag.error(message);
    return false;
  }
  return true;
}

} // namespace seqc
