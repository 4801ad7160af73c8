//===- JsonWriter.h - One JSON object per line ------------------*- C++ -*-===//
//
// Part of seqc. `seqc bench --json` writes one flat object per line (JSON
// Lines), which scripts read one line at a time: strings, numbers, integers
// and null only, in the order the fields are added.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_BENCH_JSONWRITER_H
#define SEQC_BENCH_JSONWRITER_H

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace seqc::bench {

/// A JSON string literal. Bytes outside printable ASCII are written as
/// \u00XX, so the line stays valid JSON whatever a path holds.
std::string jsonString(std::string_view text);

/// A number with six significant digits; `null` for NaN and infinities,
/// which JSON cannot spell.
std::string jsonNumber(double value);

/// Builds `{"name": value, ...}` on one line, fields in the order added.
/// The optional* forms write `null` for an absent value.
class JsonObjectWriter {
public:
  JsonObjectWriter &string(std::string_view name, std::string_view value);
  JsonObjectWriter &optionalString(std::string_view name,
                                   std::optional<std::string_view> value);
  JsonObjectWriter &number(std::string_view name, double value);
  JsonObjectWriter &optionalNumber(std::string_view name,
                                   std::optional<double> value);
  JsonObjectWriter &integer(std::string_view name, uint64_t value);
  JsonObjectWriter &optionalInteger(std::string_view name,
                                    std::optional<uint64_t> value);
  JsonObjectWriter &null(std::string_view name);

  /// The object so far, closed: `{}` when no field was added.
  std::string str() const { return text + "}"; }

private:
  /// Appends `"name": ` after a separator where needed.
  void key(std::string_view name);

  std::string text = "{";
};

} // namespace seqc::bench

#endif // SEQC_BENCH_JSONWRITER_H
