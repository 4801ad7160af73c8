//===- Utf8.h - Validating UTF-8 from untrusted files -----------*- C++ -*-===//
//
// Part of seqc. Formats that store text (safetensors' JSON header, a pickle's
// strings) require UTF-8; readers refuse anything else, as the formats' own
// loaders do.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_SUPPORT_UTF8_H
#define SEQC_SUPPORT_UTF8_H

#include <string_view>

namespace seqc {

/// Validates UTF-8 the way Rust's `str::from_utf8` does (no overlong forms,
/// nothing above U+10FFFF, no surrogates unless \p allowSurrogates, as
/// Python's "surrogatepass" decoding allows them). Returns the offset of the
/// first bad byte, or npos.
size_t findInvalidUtf8(std::string_view text, bool allowSurrogates = false);

} // namespace seqc

#endif // SEQC_SUPPORT_UTF8_H
