//===- Graphviz.h - Running Graphviz's dot ----------------------*- C++ -*-===//
//
// Part of seqc. `seqc view -o net.svg` and `.html` lay the DOT text out with
// Graphviz's `dot`, run as a program found on PATH, so seqc neither links
// nor requires Graphviz: `.dot` output works without it.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_VIEW_GRAPHVIZ_H
#define SEQC_VIEW_GRAPHVIZ_H

#include <string>
#include <string_view>

namespace seqc::view {

/// The path of `dot` on PATH, or "" when there is none.
std::string findDot();

/// Runs `\p dotPath -Tsvg` on \p dot and returns its output in \p svg.
/// Nothing is written to disk. Returns false and sets \p error (with what
/// dot printed on stderr) when it cannot be run or fails.
bool renderSvg(const std::string &dotPath, std::string_view dot,
               std::string &svg, std::string &error);

} // namespace seqc::view

#endif // SEQC_VIEW_GRAPHVIZ_H
