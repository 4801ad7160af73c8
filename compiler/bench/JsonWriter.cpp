//===- JsonWriter.cpp - One JSON object per line --------------------------===//

#include "compiler/bench/JsonWriter.h"

#include <fmt/format.h>

#include <cmath>

namespace seqc::bench {

std::string jsonString(std::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += fmt::format("\\u{:04x}", unsigned(c));
    } else {
      out += char(c);
    }
  }
  return out + "\"";
}

std::string jsonNumber(double value) {
  if (!std::isfinite(value))
    return "null";
  return fmt::format("{:.6g}", value);
}

void JsonObjectWriter::key(std::string_view name) {
  if (text.size() > 1)
    text += ", ";
  text += jsonString(name);
  text += ": ";
}

JsonObjectWriter &JsonObjectWriter::string(std::string_view name,
                                           std::string_view value) {
  key(name);
  text += jsonString(value);
  return *this;
}

JsonObjectWriter &
JsonObjectWriter::optionalString(std::string_view name,
                                 std::optional<std::string_view> value) {
  return value ? string(name, *value) : null(name);
}

JsonObjectWriter &JsonObjectWriter::number(std::string_view name,
                                           double value) {
  key(name);
  text += jsonNumber(value);
  return *this;
}

JsonObjectWriter &
JsonObjectWriter::optionalNumber(std::string_view name,
                                 std::optional<double> value) {
  return value ? number(name, *value) : null(name);
}

JsonObjectWriter &JsonObjectWriter::integer(std::string_view name,
                                            uint64_t value) {
  key(name);
  text += fmt::format("{}", value);
  return *this;
}

JsonObjectWriter &
JsonObjectWriter::optionalInteger(std::string_view name,
                                  std::optional<uint64_t> value) {
  return value ? integer(name, *value) : null(name);
}

JsonObjectWriter &JsonObjectWriter::null(std::string_view name) {
  key(name);
  text += "null";
  return *this;
}

} // namespace seqc::bench
