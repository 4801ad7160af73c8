//===- Quote.h - Quoting untrusted names in messages ------------*- C++ -*-===//
//
// Part of seqc. Names read from files downloaded from the internet (tensor
// keys, archive entries, pickled globals) go into diagnostics; quoting keeps
// control bytes out of the terminal and very long names short.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_SUPPORT_QUOTE_H
#define SEQC_SUPPORT_QUOTE_H

#include <string>
#include <string_view>

namespace seqc {

/// \p name in single quotes, control bytes and backslashes escaped as
/// `\xNN`, clipped to \p maxShown bytes followed by `...`.
std::string quoteName(std::string_view name, size_t maxShown = 120);

} // namespace seqc

#endif // SEQC_SUPPORT_QUOTE_H
