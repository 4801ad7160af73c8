//===- Html.cpp - The picture as one self-contained page ------------------===//
//
// The page holds everything: Graphviz's SVG inline, a table of the layers
// and a little CSS; no script, font or style sheet from anywhere else, so
// it opens the same offline and from a mail attachment.
//
//===----------------------------------------------------------------------===//

#include "compiler/bench/Units.h"
#include "compiler/view/GraphView.h"

#include <fmt/format.h>

namespace seqc::view {

std::string escapeHtml(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    case '\'':
      out += "&#39;";
      break;
    default:
      out += c;
    }
  }
  return out;
}

std::string_view svgElement(std::string_view svg) {
  size_t start = svg.find("<svg");
  return start == std::string_view::npos ? svg : svg.substr(start);
}

namespace {

std::string tableRow(const Graph &graph, const Layer &layer) {
  std::string group = layer.group < 0 ? "(no-op at inference)"
                                      : graph.groups[layer.group].label;
  return fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td class=n>{}</td>"
                     "<td class=n>{}</td><td>{}</td></tr>\n",
                     escapeHtml(layer.path), escapeHtml(layer.name),
                     escapeHtml(layer.shape), layer.paramBytes, layer.flops,
                     escapeHtml(group));
}

} // namespace

std::string writeHtml(const Graph &graph, std::string_view svg,
                      std::string_view profile) {
  std::string title = escapeHtml(graph.modelName);
  std::string page = fmt::format(
      "<!DOCTYPE html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n"
      "<title>{0}: {2}</title>\n<style>\n"
      "body {{ font-family: Helvetica, Arial, sans-serif; margin: 2em; }}\n"
      "table {{ border-collapse: collapse; margin-top: 1.5em; }}\n"
      "th, td {{ border: 1px solid #ccc; padding: 0.25em 0.6em; "
      "text-align: left; }}\n"
      "td.n {{ text-align: right; font-variant-numeric: tabular-nums; }}\n"
      "td.bar {{ width: 12em; }}\n"
      "td.bar span {{ display: block; height: 0.8em; background: #c0392b; "
      "}}\n"
      "</style>\n</head>\n<body>\n<h1>{0}</h1>\n<p>Target: {1}</p>\n",
      title, escapeHtml(graph.target),
      profile.empty() ? "seqc view" : "seqc bench --layers");
  page += svgElement(svg);
  page += profile;
  page += "\n<table>\n<tr><th>path</th><th>layer</th><th>output shape</th>"
          "<th>parameter bytes</th><th>matmul FLOPs per sample</th>"
          "<th>kernel / stage</th></tr>\n";
  page += fmt::format("<tr><td></td><td>input</td><td>{}</td><td></td><td>"
                      "</td><td></td></tr>\n",
                      escapeHtml(graph.inputShape));
  uint64_t bytes = 0, flops = 0;
  for (const Layer &layer : graph.layers) {
    page += tableRow(graph, layer);
    bytes += layer.paramBytes;
    flops += layer.flops;
  }
  page += fmt::format("<tr><th></th><th>total</th><th>{}</th><th class=n>{}"
                      "</th><th class=n>{}</th><th>{} kernels or stages</th>"
                      "</tr>\n</table>\n</body>\n</html>\n",
                      escapeHtml(graph.outputShape), bytes, flops,
                      graph.groups.size());
  return page;
}

} // namespace seqc::view
