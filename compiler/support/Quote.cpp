//===- Quote.cpp - Quoting untrusted names in messages --------------------===//

#include "compiler/support/Quote.h"

#include <fmt/format.h>

namespace seqc {

std::string quoteName(std::string_view name, size_t maxShown) {
  std::string out = "'";
  for (size_t i = 0; i < name.size() && i < maxShown; ++i) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c == 0x7f || c == '\\')
      out += fmt::format("\\x{:02x}", c);
    else
      out.push_back(static_cast<char>(c));
  }
  if (name.size() > maxShown)
    out += "...";
  out += "'";
  return out;
}

} // namespace seqc
