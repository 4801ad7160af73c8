//===- Dot.cpp - The picture as Graphviz DOT text -------------------------===//
//
// Top to bottom: the input, one box per source layer, the output. Boxes of
// one group sit in a cluster titled with the kernel or stage; no-op layers
// are dashed and outside every cluster. Layer names come from the model
// file, so every string is escaped for DOT's quoted strings.
//
//===----------------------------------------------------------------------===//

#include "compiler/bench/Units.h"
#include "compiler/view/GraphView.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace seqc::view {

namespace {

/// \p text as a DOT quoted string; '\n' in it becomes \p lineBreak, a
/// centred (`\n`) or left-justified (`\l`) line break.
std::string quoted(std::string_view text, std::string_view lineBreak = "\\n") {
  std::string out = "\"";
  for (char c : text) {
    if (c == '\n')
      out += lineBreak;
    else if (c == '"' || c == '\\')
      out += {'\\', c};
    else
      out += c;
  }
  return out + "\"";
}

/// The second and third lines of a layer's box: shape, then bytes and
/// FLOPs where it has them.
std::string layerDetails(const Layer &layer) {
  std::string text = layer.shape;
  std::vector<std::string> costs;
  if (layer.paramBytes)
    costs.push_back(bench::formatBytes(layer.paramBytes));
  if (layer.flops)
    costs.push_back(bench::formatCount(double(layer.flops)) + "FLOP");
  if (layer.group < 0)
    costs.push_back("no-op at inference");
  if (!costs.empty())
    text += fmt::format("\n{}", fmt::join(costs, ", "));
  return text;
}

std::string layerNode(const Layer &layer, size_t index,
                      std::string_view indent) {
  std::string label = layer.name;
  if (!layer.path.empty())
    label = layer.path + ": " + label;
  return fmt::format("{}layer{} [label={}{}];\n", indent, index,
                     quoted(label + "\n" + layerDetails(layer)),
                     layer.group < 0 ? ", style=\"rounded,dashed\"" : "");
}

/// Bar cells of a group's time share: the track's width in points.
constexpr int kBarWidth = 120;

/// A group's title: its label, left-justified; with a time share, an
/// HTML-like label with the bar (a red cell as wide as the share of the
/// track, a grey one for the rest) and the share's text under the title.
std::string groupTitle(const Graph &graph, size_t index) {
  const Group &group = graph.groups[index];
  if (index >= graph.groupTimes.size())
    return quoted(group.label + "\n", "\\l");
  const GroupTime &time = graph.groupTimes[index];
  int filled = static_cast<int>(
      std::lround(std::clamp(time.share, 0.0, 1.0) * kBarWidth));
  // The bar is a table of its own, fixed in size and aligned left (a
  // cell of the outer table would be stretched to the title's width).
  std::string cells;
  for (auto [width, colour] :
       {std::pair{filled, "#c0392b"}, std::pair{kBarWidth - filled, "#dddddd"}})
    if (width > 0)
      cells += fmt::format("<TD FIXEDSIZE=\"TRUE\" WIDTH=\"{}\" HEIGHT=\"10\" "
                           "BGCOLOR=\"{}\"></TD>",
                           width, colour);
  std::string title = escapeHtml(group.label);
  for (size_t pos; (pos = title.find('\n')) != std::string::npos;)
    title.replace(pos, 1, "<BR ALIGN=\"LEFT\"/>");
  return fmt::format(
      "<<TABLE BORDER=\"0\" CELLBORDER=\"0\" CELLSPACING=\"0\" "
      "CELLPADDING=\"1\"><TR><TD ALIGN=\"LEFT\">{}</TD></TR><TR><TD "
      "ALIGN=\"LEFT\"><TABLE ALIGN=\"LEFT\" FIXEDSIZE=\"TRUE\" WIDTH=\"{}\" "
      "HEIGHT=\"10\" BORDER=\"0\" CELLBORDER=\"0\" CELLSPACING=\"0\" "
      "CELLPADDING=\"0\"><TR>{}</TR></TABLE></TD></TR><TR><TD "
      "ALIGN=\"LEFT\">{}</TD></TR></TABLE>>",
      title, kBarWidth, cells, escapeHtml(time.text));
}

/// The group of the first layer after \p i that runs somewhere, or -1.
int nextGroup(const Graph &graph, size_t i) {
  for (size_t j = i + 1; j < graph.layers.size(); ++j)
    if (graph.layers[j].group >= 0)
      return graph.layers[j].group;
  return -1;
}

} // namespace

std::string writeDot(const Graph &graph) {
  std::string text = fmt::format("digraph {} {{\n", quoted(graph.modelName));
  text += fmt::format(
      "  graph [label={}, labelloc=t, fontname=\"Helvetica\", fontsize=16, "
      "rankdir=TB, nodesep=0.3, ranksep=0.35];\n",
      quoted(fmt::format("{}: {}\nboxes: source layers (output shape, "
                         "parameter bytes, matmul FLOPs per sample);\n"
                         "clusters: the kernels or stages the backend runs",
                         graph.modelName, graph.target)));
  text += "  node [shape=box, style=\"rounded,filled\", fillcolor=white, "
          "fontname=\"Helvetica\", fontsize=11];\n"
          "  edge [arrowsize=0.7];\n";
  text +=
      fmt::format("  input [shape=oval, fillcolor=\"#e8f0fe\", label={}];\n",
                  quoted("input\n" + graph.inputShape));
  text +=
      fmt::format("  output [shape=oval, fillcolor=\"#e8f0fe\", label={}];\n",
                  quoted("output\n" + graph.outputShape));
  // Layers in source order; a group's layers are consecutive, so each
  // cluster opens at its first layer and closes after its last (a no-op
  // between two layers of one group stays inside).
  int open = -1;
  for (size_t i = 0; i < graph.layers.size(); ++i) {
    const Layer &layer = graph.layers[i];
    if (open >= 0 && layer.group != open &&
        !(layer.group < 0 && nextGroup(graph, i) == open)) {
      text += "  }\n";
      open = -1;
    }
    if (layer.group >= 0 && layer.group != open) {
      // The group's title is a text node beside its first layer rather
      // than the cluster's label, which the edges would run through.
      open = layer.group;
      text += fmt::format(
          "  subgraph cluster_{0} {{\n    label=\"\";\n"
          "    style=\"rounded,filled\";\n    fillcolor=\"{1}\";\n"
          "    color=\"#8a8a8a\";\n"
          "    group{0} [shape=plaintext, style=\"\", fontsize=11, "
          "label={2}];\n"
          "    {{ rank=same; group{0}; layer{3}; }}\n",
          open, open % 2 ? "#fdf1dc" : "#e4f2e4", groupTitle(graph, open), i);
    }
    text += layerNode(layer, i, open >= 0 ? "    " : "  ");
  }
  if (open >= 0)
    text += "  }\n";
  std::string previous = "input";
  for (size_t i = 0; i < graph.layers.size(); ++i) {
    std::string node = fmt::format("layer{}", i);
    text += fmt::format("  {} -> {};\n", previous, node);
    previous = node;
  }
  text += fmt::format("  {} -> output;\n}}\n", previous);
  return text;
}

} // namespace seqc::view
