//===- Utf8.cpp - Validating UTF-8 from untrusted files -------------------===//

#include "compiler/support/Utf8.h"

namespace seqc {

size_t findInvalidUtf8(std::string_view text, bool allowSurrogates) {
  const auto *p = reinterpret_cast<const unsigned char *>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    // The sequence's length and the range of its second byte (which rules
    // out overlong forms, surrogates and values above U+10FFFF).
    size_t length;
    unsigned char low = 0x80, high = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
      length = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      length = 3;
      if (c == 0xe0)
        low = 0xa0;
      else if (c == 0xed && !allowSurrogates)
        high = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      length = 4;
      if (c == 0xf0)
        low = 0x90;
      else if (c == 0xf4)
        high = 0x8f;
    } else {
      return i;
    }
    if (n - i < length || p[i + 1] < low || p[i + 1] > high)
      return i;
    for (size_t k = 2; k < length; ++k)
      if ((p[i + k] & 0xc0) != 0x80)
        return i;
    i += length;
  }
  return std::string_view::npos;
}

} // namespace seqc
