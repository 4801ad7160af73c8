//===- Safetensors.cpp - Reading and writing safetensors files ------------===//
//
// Part of seqc. The validation rules follow huggingface/safetensors'
// `SafeTensors::read_metadata` and `Metadata::validate`:
//   1. the file holds at least the 8-byte header length N;
//   2. N is at most 100 MB and 8 + N is within the file;
//   3. the header is UTF-8 and a JSON object; `__metadata__` is null or a
//      string-to-string map, every other key is a tensor entry with a known
//      dtype, a shape of non-negative integers and two data offsets;
//   4. sorted by data_offsets, the first tensor starts at 0 and each starts
//      where the previous one ends (no gaps, no overlaps, end >= begin);
//   5. nelements * dtype size (with overflow checks) equals end - begin;
//   6. the last tensor ends exactly at the end of the file.
// On top of that, duplicate JSON keys are rejected (the reference's JSON
// library silently keeps one of them) and FP8 tensors are rejected as weights.
//
//===----------------------------------------------------------------------===//

#include "frontend/Safetensors.h"

#include "compiler/support/FileIO.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cctype>
#include <cstring>
#include <limits>
#include <numeric>
#include <unordered_set>

namespace seqc {

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

/// Quotes a name from a hostile file for a message: control bytes escaped,
/// very long names clipped.
static std::string quoteName(std::string_view name) {
  constexpr size_t kMaxShown = 120;
  std::string out = "'";
  for (size_t i = 0; i < name.size() && i < kMaxShown; ++i) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c == 0x7f || c == '\\')
      out += fmt::format("\\x{:02x}", c);
    else
      out.push_back(static_cast<char>(c));
  }
  if (name.size() > kMaxShown)
    out += "...";
  out += "'";
  return out;
}

static uint16_t loadLE16(const unsigned char *p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}

static uint32_t loadLE32(const unsigned char *p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}

static uint64_t loadLE64(const unsigned char *p) {
  return static_cast<uint64_t>(loadLE32(p)) |
         (static_cast<uint64_t>(loadLE32(p + 4)) << 32);
}

float halfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0) {
    if (mantissa == 0) {
      bits = sign; // +-0
    } else {
      // Subnormal half: normalise into a (normal) float.
      uint32_t e = 127 - 15 + 1;
      while (!(mantissa & 0x400u)) {
        mantissa <<= 1;
        --e;
      }
      mantissa &= 0x3ffu;
      bits = sign | (e << 23) | (mantissa << 13);
    }
  } else if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13); // inf or NaN (payload kept)
  } else {
    bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

float bfloat16ToFloat(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

//===----------------------------------------------------------------------===//
// A small strict JSON parser (RFC 8259)
//===----------------------------------------------------------------------===//

namespace {

struct JsonValue {
  enum class Kind { Null, Bool, Number, String, Array, Object };
  Kind kind = Kind::Null;
  bool boolean = false;
  /// The decoded text of a string, or the literal text of a number.
  std::string text;
  /// Array elements, or object member values.
  std::vector<JsonValue> items;
  /// Object member keys (parallel to items).
  std::vector<std::string> keys;
};

const char *kindName(JsonValue::Kind kind) {
  switch (kind) {
  case JsonValue::Kind::Null:
    return "null";
  case JsonValue::Kind::Bool:
    return "a boolean";
  case JsonValue::Kind::Number:
    return "a number";
  case JsonValue::Kind::String:
    return "a string";
  case JsonValue::Kind::Array:
    return "an array";
  case JsonValue::Kind::Object:
    return "an object";
  }
  return "a value";
}

class JsonParser {
public:
  explicit JsonParser(std::string_view text) : text(text) {}

  /// Parses the whole text as one value; on failure sets error.
  std::optional<JsonValue> parseDocument() {
    JsonValue value;
    skipSpace();
    if (!parseValue(value, 0))
      return std::nullopt;
    skipSpace();
    if (pos != text.size()) {
      fail("unexpected text after the JSON value");
      return std::nullopt;
    }
    return value;
  }

  const std::string &getError() const { return error; }

private:
  bool fail(std::string_view message) {
    if (error.empty())
      error = fmt::format("invalid JSON header at byte {}: {}", pos, message);
    return false;
  }

  void skipSpace() {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' ||
                                 text[pos] == '\n' || text[pos] == '\r'))
      ++pos;
  }

  bool consume(char c) {
    if (pos < text.size() && text[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  }

  bool parseValue(JsonValue &out, unsigned depth) {
    if (pos >= text.size())
      return fail("unexpected end of header");
    if (++numValues > kMaxSafetensorsJsonValues)
      return fail(
          fmt::format("more than {} JSON values", kMaxSafetensorsJsonValues));
    char c = text[pos];
    switch (c) {
    case '{':
      return parseObject(out, depth + 1);
    case '[':
      return parseArray(out, depth + 1);
    case '"':
      out.kind = JsonValue::Kind::String;
      return parseString(out.text);
    case 't':
      out.kind = JsonValue::Kind::Bool;
      out.boolean = true;
      return parseKeyword("true");
    case 'f':
      out.kind = JsonValue::Kind::Bool;
      out.boolean = false;
      return parseKeyword("false");
    case 'n':
      out.kind = JsonValue::Kind::Null;
      return parseKeyword("null");
    default:
      if (c == '-' || (c >= '0' && c <= '9')) {
        out.kind = JsonValue::Kind::Number;
        return parseNumber(out.text);
      }
      if (static_cast<unsigned char>(c) >= 0x80)
        return fail(fmt::format("unexpected byte 0x{:02x}",
                                static_cast<unsigned char>(c)));
      return fail(fmt::format("unexpected character {}",
                              quoteName(text.substr(pos, 1))));
    }
  }

  bool parseKeyword(std::string_view word) {
    if (text.substr(pos, word.size()) != word)
      return fail("invalid literal");
    pos += word.size();
    return true;
  }

  bool parseNumber(std::string &out) {
    size_t start = pos;
    consume('-');
    if (consume('0')) {
      // A leading zero stands alone.
    } else if (pos < text.size() && text[pos] >= '1' && text[pos] <= '9') {
      while (pos < text.size() && std::isdigit(uint8_t(text[pos])))
        ++pos;
    } else {
      return fail("invalid number");
    }
    if (consume('.')) {
      if (pos >= text.size() || !std::isdigit(uint8_t(text[pos])))
        return fail("invalid number: digits must follow '.'");
      while (pos < text.size() && std::isdigit(uint8_t(text[pos])))
        ++pos;
    }
    if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
      ++pos;
      if (!consume('+'))
        consume('-');
      if (pos >= text.size() || !std::isdigit(uint8_t(text[pos])))
        return fail("invalid number: digits must follow the exponent");
      while (pos < text.size() && std::isdigit(uint8_t(text[pos])))
        ++pos;
    }
    out.assign(text.substr(start, pos - start));
    return true;
  }

  bool parseHex4(uint32_t &out) {
    if (text.size() - pos < 4)
      return fail("truncated \\u escape");
    out = 0;
    for (int i = 0; i < 4; ++i, ++pos) {
      char c = text[pos];
      out <<= 4;
      if (c >= '0' && c <= '9')
        out |= uint32_t(c - '0');
      else if (c >= 'a' && c <= 'f')
        out |= uint32_t(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        out |= uint32_t(c - 'A' + 10);
      else
        return fail("invalid \\u escape");
    }
    return true;
  }

  static void appendUtf8(std::string &out, uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(char(cp));
    } else if (cp < 0x800) {
      out.push_back(char(0xc0 | (cp >> 6)));
      out.push_back(char(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out.push_back(char(0xe0 | (cp >> 12)));
      out.push_back(char(0x80 | ((cp >> 6) & 0x3f)));
      out.push_back(char(0x80 | (cp & 0x3f)));
    } else {
      out.push_back(char(0xf0 | (cp >> 18)));
      out.push_back(char(0x80 | ((cp >> 12) & 0x3f)));
      out.push_back(char(0x80 | ((cp >> 6) & 0x3f)));
      out.push_back(char(0x80 | (cp & 0x3f)));
    }
  }

  bool parseString(std::string &out) {
    assert(text[pos] == '"');
    ++pos;
    out.clear();
    while (true) {
      if (pos >= text.size())
        return fail("unterminated string");
      unsigned char c = static_cast<unsigned char>(text[pos]);
      if (c == '"') {
        ++pos;
        return true;
      }
      if (c < 0x20)
        return fail("control character in string");
      if (c != '\\') {
        out.push_back(char(c));
        ++pos;
        continue;
      }
      ++pos;
      if (pos >= text.size())
        return fail("unterminated string");
      char e = text[pos++];
      switch (e) {
      case '"':
      case '\\':
      case '/':
        out.push_back(e);
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'u': {
        uint32_t cp = 0;
        if (!parseHex4(cp))
          return false;
        if (cp >= 0xdc00 && cp <= 0xdfff)
          return fail("lone trailing surrogate in \\u escape");
        if (cp >= 0xd800 && cp <= 0xdbff) {
          uint32_t low = 0;
          if (!consume('\\') || !consume('u'))
            return fail("lone leading surrogate in \\u escape");
          if (!parseHex4(low))
            return false;
          if (low < 0xdc00 || low > 0xdfff)
            return fail("lone leading surrogate in \\u escape");
          cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        }
        appendUtf8(out, cp);
        break;
      }
      default:
        pos -= 2; // point at the backslash
        return fail("invalid escape in string");
      }
    }
  }

  bool parseArray(JsonValue &out, unsigned depth) {
    if (depth > kMaxSafetensorsJsonDepth)
      return fail("nested too deeply");
    out.kind = JsonValue::Kind::Array;
    ++pos; // '['
    skipSpace();
    if (consume(']'))
      return true;
    while (true) {
      out.items.emplace_back();
      skipSpace();
      if (!parseValue(out.items.back(), depth))
        return false;
      skipSpace();
      if (consume(']'))
        return true;
      if (!consume(','))
        return fail("expected ',' or ']' in array");
    }
  }

  bool parseObject(JsonValue &out, unsigned depth) {
    if (depth > kMaxSafetensorsJsonDepth)
      return fail("nested too deeply");
    out.kind = JsonValue::Kind::Object;
    ++pos; // '{'
    std::unordered_set<std::string> seen;
    skipSpace();
    if (consume('}'))
      return true;
    while (true) {
      skipSpace();
      if (pos >= text.size() || text[pos] != '"')
        return fail("expected a string key in object");
      size_t keyPos = pos;
      std::string key;
      if (!parseString(key))
        return false;
      if (!seen.insert(key).second) {
        pos = keyPos;
        return fail(fmt::format("duplicate key {}", quoteName(key)));
      }
      skipSpace();
      if (!consume(':'))
        return fail("expected ':' after object key");
      skipSpace();
      out.keys.push_back(std::move(key));
      out.items.emplace_back();
      if (!parseValue(out.items.back(), depth))
        return false;
      skipSpace();
      if (consume('}'))
        return true;
      if (!consume(','))
        return fail("expected ',' or '}' in object");
    }
  }

  std::string_view text;
  size_t pos = 0;
  uint64_t numValues = 0;
  std::string error;
};

/// Validates UTF-8 the way Rust's `str::from_utf8` does (no overlong forms,
/// no surrogates, nothing above U+10FFFF). Returns the offset of the first
/// bad byte, or npos.
size_t findInvalidUtf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  auto byteAt = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  while (i < n) {
    unsigned char c = byteAt(i);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c == 0xe0)
        lo = 0xa0;
      else if (c == 0xed)
        hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c == 0xf0)
        lo = 0x90;
      else if (c == 0xf4)
        hi = 0x8f;
    } else {
      return i;
    }
    if (n - i < len)
      return i;
    unsigned char c1 = byteAt(i + 1);
    if (c1 < lo || c1 > hi)
      return i;
    for (size_t k = 2; k < len; ++k)
      if ((byteAt(i + k) & 0xc0) != 0x80)
        return i;
    i += len;
  }
  return std::string_view::npos;
}

/// A JSON number that is a non-negative integer fitting 64 bits (what
/// serde accepts for `usize`).
std::optional<uint64_t> asUnsigned(const JsonValue &value) {
  if (value.kind != JsonValue::Kind::Number)
    return std::nullopt;
  // serde reads "-0", "1.0" and "1e3" as floats, which `usize` refuses.
  std::string_view t = value.text;
  if (t.empty() || t[0] == '-' ||
      t.find_first_of(".eE") != std::string_view::npos)
    return std::nullopt;
  uint64_t v = 0;
  for (char c : t) {
    uint64_t digit = uint64_t(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - digit) / 10)
      return std::nullopt;
    v = v * 10 + digit;
  }
  return v;
}

std::string describeJson(const JsonValue &value) {
  if (value.kind == JsonValue::Kind::Number)
    return value.text.size() > 40 ? value.text.substr(0, 40) + "..."
                                  : value.text;
  if (value.kind == JsonValue::Kind::String)
    return "the string " + quoteName(value.text);
  return kindName(value.kind);
}

struct DtypeInfo {
  const char *name;
  uint64_t size;
  bool isFloat;
  bool isFp8;
};

constexpr DtypeInfo kDtypes[] = {
    {"BOOL", 1, false, false},   {"U8", 1, false, false},
    {"I8", 1, false, false},     {"F8_E5M2", 1, false, true},
    {"F8_E4M3", 1, false, true}, {"I16", 2, false, false},
    {"U16", 2, false, false},    {"F16", 2, true, false},
    {"BF16", 2, true, false},    {"I32", 4, false, false},
    {"U32", 4, false, false},    {"F32", 4, true, false},
    {"F64", 8, true, false},     {"I64", 8, false, false},
    {"U64", 8, false, false},
};

const DtypeInfo *lookupDtype(std::string_view name) {
  for (const DtypeInfo &info : kDtypes)
    if (name == info.name)
      return &info;
  return nullptr;
}

struct Entry {
  std::string name;
  const DtypeInfo *dtype;
  std::vector<uint64_t> shape;
  uint64_t begin, end;
  size_t fileIndex;
};

std::string shapeText(const std::vector<uint64_t> &shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

} // namespace

//===----------------------------------------------------------------------===//
// Reading
//===----------------------------------------------------------------------===//

const SafetensorsTensor *SafetensorsFile::find(std::string_view name) const {
  for (const SafetensorsTensor &tensor : tensors)
    if (tensor.name == name)
      return &tensor;
  return nullptr;
}

/// Reads one tensor entry of the header; reports and returns false on error.
static bool parseEntry(const std::string &name, const JsonValue &value,
                       Entry &entry, std::string_view displayName,
                       DiagnosticEngine &diag) {
  std::string quoted = quoteName(name);
  auto error = [&](std::string_view message) {
    diag.fileError(displayName, fmt::format("tensor {}: {}", quoted, message));
    return false;
  };
  if (value.kind != JsonValue::Kind::Object)
    return error(fmt::format("header entry is {}, expected an object with "
                             "'dtype', 'shape' and 'data_offsets'",
                             kindName(value.kind)));
  const JsonValue *dtype = nullptr, *shape = nullptr, *offsets = nullptr;
  for (size_t i = 0; i < value.keys.size(); ++i) {
    // Like the reference loader, other fields are ignored.
    if (value.keys[i] == "dtype")
      dtype = &value.items[i];
    else if (value.keys[i] == "shape")
      shape = &value.items[i];
    else if (value.keys[i] == "data_offsets")
      offsets = &value.items[i];
  }
  if (!dtype)
    return error("missing 'dtype'");
  if (!shape)
    return error("missing 'shape'");
  if (!offsets)
    return error("missing 'data_offsets'");

  if (dtype->kind != JsonValue::Kind::String)
    return error(fmt::format("'dtype' is {}, expected a string such as \"F32\"",
                             kindName(dtype->kind)));
  entry.dtype = lookupDtype(dtype->text);
  if (!entry.dtype)
    return error(fmt::format(
        "unknown dtype {}; expected one of BOOL, U8, I8, I16, U16, F16, BF16, "
        "I32, U32, F32, F64, I64, U64, F8_E4M3, F8_E5M2",
        quoteName(dtype->text)));

  if (shape->kind != JsonValue::Kind::Array)
    return error(fmt::format("'shape' is {}, expected an array of integers",
                             kindName(shape->kind)));
  for (const JsonValue &dim : shape->items) {
    std::optional<uint64_t> d = asUnsigned(dim);
    if (!d)
      return error(fmt::format("'shape' holds {}, expected non-negative "
                               "integers",
                               describeJson(dim)));
    if (*d > uint64_t(std::numeric_limits<int64_t>::max()))
      return error(fmt::format("dimension {} in 'shape' is too large", *d));
    entry.shape.push_back(*d);
  }

  if (offsets->kind != JsonValue::Kind::Array || offsets->items.size() != 2)
    return error(
        "'data_offsets' must be an array of two integers [begin, end]");
  std::optional<uint64_t> begin = asUnsigned(offsets->items[0]);
  std::optional<uint64_t> end = asUnsigned(offsets->items[1]);
  if (!begin || !end)
    return error(fmt::format(
        "'data_offsets' holds {}, expected non-negative integers",
        describeJson(!begin ? offsets->items[0] : offsets->items[1])));
  entry.begin = *begin;
  entry.end = *end;
  return true;
}

/// Converts one float tensor's bytes to float32.
static void convertToFloat(const DtypeInfo &dtype, const unsigned char *p,
                           uint64_t count, std::vector<float> &out) {
  out.resize(count);
  std::string_view name = dtype.name;
  if (name == "F32") {
    for (uint64_t i = 0; i < count; ++i) {
      uint32_t bits = loadLE32(p + 4 * i);
      std::memcpy(&out[i], &bits, 4);
    }
  } else if (name == "F16") {
    for (uint64_t i = 0; i < count; ++i)
      out[i] = halfToFloat(loadLE16(p + 2 * i));
  } else if (name == "BF16") {
    for (uint64_t i = 0; i < count; ++i)
      out[i] = bfloat16ToFloat(loadLE16(p + 2 * i));
  } else {
    assert(name == "F64");
    for (uint64_t i = 0; i < count; ++i) {
      uint64_t bits = loadLE64(p + 8 * i);
      double d;
      std::memcpy(&d, &bits, 8);
      out[i] = static_cast<float>(d); // round to nearest
    }
  }
}

/// The JSON header: the 8-byte little-endian length in front of it must fit
/// the limit and the file, and the header must be UTF-8. Returns the header,
/// or an error message in \p message.
static std::optional<std::string_view> headerOf(std::string_view bytes,
                                                std::string &message) {
  const auto *data = reinterpret_cast<const unsigned char *>(bytes.data());
  if (bytes.size() < 8) {
    message = fmt::format(
        "file is {} bytes, too small for the 8-byte safetensors header length",
        bytes.size());
    return std::nullopt;
  }
  uint64_t headerLen = loadLE64(data);
  if (headerLen > limits::kMaxSafetensorsHeader) {
    message = fmt::format("header length {} is larger than the limit of {} "
                          "bytes (not a safetensors file?)",
                          headerLen, limits::kMaxSafetensorsHeader);
    return std::nullopt;
  }
  if (headerLen > bytes.size() - 8) {
    message = fmt::format("header length {} runs past the end of the file "
                          "({} bytes after the length field)",
                          headerLen, bytes.size() - 8);
    return std::nullopt;
  }
  std::string_view header = bytes.substr(8, headerLen);
  size_t badUtf8 = findInvalidUtf8(header);
  if (badUtf8 != std::string_view::npos) {
    message = fmt::format(
        "header is not valid UTF-8 (bad byte 0x{:02x} at header byte {})",
        static_cast<unsigned char>(header[badUtf8]), badUtf8);
    return std::nullopt;
  }
  return header;
}

/// Reads the header object: `__metadata__` (null, or strings) into \p file,
/// every other key as a tensor entry into \p entries, in file order.
static bool readHeader(const JsonValue &root, SafetensorsFile &file,
                       std::vector<Entry> &entries,
                       std::string_view displayName, DiagnosticEngine &diag) {
  auto error = [&](std::string_view message) {
    diag.fileError(displayName, message);
    return false;
  };
  if (root.kind != JsonValue::Kind::Object)
    return error(fmt::format("header is {}, expected a JSON object",
                             kindName(root.kind)));
  for (size_t i = 0; i < root.keys.size(); ++i) {
    const std::string &key = root.keys[i];
    const JsonValue &value = root.items[i];
    if (key != "__metadata__") {
      Entry entry;
      entry.name = key;
      entry.fileIndex = entries.size();
      if (!parseEntry(key, value, entry, displayName, diag))
        return false;
      entries.push_back(std::move(entry));
      continue;
    }
    if (value.kind == JsonValue::Kind::Null)
      continue;
    if (value.kind != JsonValue::Kind::Object)
      return error(fmt::format("'__metadata__' is {}, expected an object "
                               "mapping strings to strings",
                               kindName(value.kind)));
    for (size_t k = 0; k < value.keys.size(); ++k) {
      if (value.items[k].kind != JsonValue::Kind::String)
        return error(fmt::format("'__metadata__' entry {} is {}, expected "
                                 "a string",
                                 quoteName(value.keys[k]),
                                 kindName(value.items[k].kind)));
      file.metadata.emplace_back(value.keys[k], value.items[k].text);
    }
  }
  return true;
}

/// Checks that the entries, sorted by data_offsets as the reference loader
/// validates them, tile the data buffer of \p available bytes: each starts
/// where the previous one ends (the first at 0), covers exactly the bytes its
/// dtype and shape need, and the last ends at the end of the buffer.
static bool checkDataLayout(std::vector<Entry> &entries, uint64_t available,
                            std::string_view displayName,
                            DiagnosticEngine &diag) {
  auto error = [&](std::string_view message) {
    diag.fileError(displayName, message);
    return false;
  };
  std::stable_sort(
      entries.begin(), entries.end(), [](const Entry &a, const Entry &b) {
        return std::pair(a.begin, a.end) < std::pair(b.begin, b.end);
      });
  uint64_t start = 0;
  const Entry *previous = nullptr;
  for (const Entry &entry : entries) {
    std::string quoted = quoteName(entry.name);
    std::string offsets =
        fmt::format("data_offsets [{}, {}]", entry.begin, entry.end);
    if (entry.end < entry.begin)
      return error(
          fmt::format("tensor {}: {} end before they begin", quoted, offsets));
    if (entry.begin != start) {
      if (!previous)
        return error(fmt::format("tensor {}: {} leave a gap: the first tensor "
                                 "must start at offset 0",
                                 quoted, offsets));
      if (entry.begin > start)
        return error(fmt::format("tensor {}: {} leave a gap: the previous "
                                 "tensor {} ends at {}",
                                 quoted, offsets, quoteName(previous->name),
                                 start));
      return error(fmt::format("tensor {}: {} overlap tensor {}, which ends "
                               "at {}",
                               quoted, offsets, quoteName(previous->name),
                               start));
    }
    start = entry.end;
    previous = &entry;

    uint64_t elements = 1;
    bool overflow = false;
    for (uint64_t d : entry.shape)
      overflow |= __builtin_mul_overflow(elements, d, &elements);
    uint64_t needed = 0;
    overflow |= __builtin_mul_overflow(elements, entry.dtype->size, &needed);
    if (overflow)
      return error(fmt::format("tensor {}: shape {} of {} overflows 64 bits",
                               quoted, shapeText(entry.shape),
                               entry.dtype->name));
    if (entry.end - entry.begin != needed)
      return error(fmt::format("tensor {}: {} cover {} bytes but {}{} needs {}",
                               quoted, offsets, entry.end - entry.begin,
                               entry.dtype->name, shapeText(entry.shape),
                               needed));
  }
  if (start < available)
    return error(fmt::format(
        "the tensors' data ends at offset {} but the data buffer holds {} "
        "bytes; the data_offsets must cover the whole buffer",
        start, available));
  for (const Entry &entry : entries)
    if (entry.end > available)
      return error(fmt::format("tensor {}: data_offsets [{}, {}] run past "
                               "the end of the data buffer ({} bytes; file "
                               "truncated?)",
                               quoteName(entry.name), entry.begin, entry.end,
                               available));
  return true;
}

/// Parses a safetensors file by the rules at the top of this file, in four
/// steps: the header length and encoding (headerOf: rules 1-3), the JSON
/// entries (readHeader: 3), the data layout (checkDataLayout: 4-6), then the
/// conversion of the float tensors to f32.
std::optional<SafetensorsFile> parseSafetensors(std::string_view bytes,
                                                std::string_view displayName,
                                                DiagnosticEngine &diag) {
  auto error = [&](std::string_view message) {
    diag.fileError(displayName, message);
    return std::nullopt;
  };
  std::string message;
  std::optional<std::string_view> header = headerOf(bytes, message);
  if (!header)
    return error(message);
  JsonParser parser(*header);
  std::optional<JsonValue> root = parser.parseDocument();
  if (!root)
    return error(parser.getError());
  SafetensorsFile file;
  std::vector<Entry> entries;
  if (!readHeader(*root, file, entries, displayName, diag))
    return std::nullopt;
  root.reset();
  uint64_t available = bytes.size() - 8 - header->size();
  if (!checkDataLayout(entries, available, displayName, diag))
    return std::nullopt;

  const auto *buffer = reinterpret_cast<const unsigned char *>(bytes.data()) +
                       8 + header->size();
  file.tensors.reserve(entries.size());
  for (const Entry &entry : entries) {
    if (entry.dtype->isFp8)
      return error(fmt::format("tensor {}: dtype {} (8-bit float) is not "
                               "supported for weights; save them as F32, F16, "
                               "BF16 or F64",
                               quoteName(entry.name), entry.dtype->name));
    SafetensorsTensor tensor;
    tensor.name = entry.name;
    tensor.dtype = entry.dtype->name;
    tensor.shape.assign(entry.shape.begin(), entry.shape.end());
    tensor.isFloat = entry.dtype->isFloat;
    if (tensor.isFloat) {
      tensor.value.shape = tensor.shape;
      convertToFloat(*entry.dtype, buffer + entry.begin,
                     (entry.end - entry.begin) / entry.dtype->size,
                     tensor.value.data);
    }
    file.tensors.push_back(std::move(tensor));
  }
  return file;
}

std::optional<SafetensorsFile> readSafetensors(const std::string &path,
                                               DiagnosticEngine &diag) {
  std::string message;
  std::optional<std::string> bytes =
      readFile(path, kMaxSafetensorsFileBytes, message);
  if (!bytes) {
    diag.error(message);
    return std::nullopt;
  }
  return parseSafetensors(*bytes, path, diag);
}

//===----------------------------------------------------------------------===//
// Writing
//===----------------------------------------------------------------------===//

/// Appends \p s as a JSON string literal, escaped the way serde_json does.
static void appendJsonString(std::string &out, std::string_view s) {
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\b':
      out += "\\b";
      break;
    case '\f':
      out += "\\f";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      if (c < 0x20)
        out += fmt::format("\\u{:04x}", c);
      else
        out.push_back(char(c));
    }
  }
  out.push_back('"');
}

std::optional<std::string>
serializeSafetensors(const std::vector<std::pair<std::string, Tensor>> &tensors,
                     std::string_view displayName, DiagnosticEngine &diag) {
  std::vector<size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return tensors[a].first < tensors[b].first;
  });
  std::string header = "{";
  uint64_t offset = 0;
  for (size_t k = 0; k < order.size(); ++k) {
    const auto &[name, tensor] = tensors[order[k]];
    if (k > 0 && name == tensors[order[k - 1]].first) {
      diag.fileError(displayName,
                     fmt::format("tensor {} is given twice", quoteName(name)));
      return std::nullopt;
    }
    if (name == "__metadata__") {
      diag.fileError(displayName, "'__metadata__' is reserved and cannot name "
                                  "a tensor");
      return std::nullopt;
    }
    for (int64_t d : tensor.shape) {
      if (d < 0) {
        diag.fileError(displayName,
                       fmt::format("tensor {} has a negative dimension in "
                                   "shape {}",
                                   quoteName(name),
                                   Tensor::shapeString(tensor.shape)));
        return std::nullopt;
      }
    }
    if (tensor.numElements() != tensor.data.size()) {
      diag.fileError(
          displayName,
          fmt::format("tensor {} has {} values but shape {} needs {}",
                      quoteName(name), tensor.data.size(),
                      Tensor::shapeString(tensor.shape), tensor.numElements()));
      return std::nullopt;
    }
    if (k > 0)
      header.push_back(',');
    appendJsonString(header, name);
    uint64_t size = tensor.data.size() * 4;
    header += fmt::format(
        ":{{\"dtype\":\"F32\",\"shape\":[{}],\"data_offsets\":[{},{}]}}",
        fmt::join(tensor.shape, ","), offset, offset + size);
    offset += size;
  }
  header.push_back('}');
  header.append((8 - header.size() % 8) % 8, ' ');

  std::string out;
  out.reserve(8 + header.size() + offset);
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i)
    out.push_back(char((n >> (8 * i)) & 0xff));
  out += header;
  for (size_t index : order) {
    for (float f : tensors[index].second.data) {
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      for (int i = 0; i < 4; ++i)
        out.push_back(char((bits >> (8 * i)) & 0xff));
    }
  }
  return out;
}

bool writeSafetensors(
    const std::string &path,
    const std::vector<std::pair<std::string, Tensor>> &tensors,
    DiagnosticEngine &diag) {
  std::optional<std::string> bytes = serializeSafetensors(tensors, path, diag);
  if (!bytes)
    return false;
  std::string message;
  if (!writeFileAtomic(path, *bytes, message)) {
    diag.error(message);
    return false;
  }
  return true;
}

} // namespace seqc
