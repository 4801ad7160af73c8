//===- GraphView.h - A model as a picture, before any drawing ---*- C++ -*-===//
//
// Part of seqc. `seqc view` draws the network a person wrote, one box per
// source layer, inside the kernels or stages a backend will run. This file
// builds that picture as data: the source layers of the shape-checked model
// with their shapes, parameter bytes and FLOPs, matched to the ops of the
// fused model, and the groups of fused ops a backend's plan makes (which the
// driver fills from either backend). Dot.cpp and Html.cpp write it out; none
// of it needs LLVM, CUDA or Graphviz.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_VIEW_GRAPHVIEW_H
#define SEQC_VIEW_GRAPHVIEW_H

#include "compiler/ir/IR.h"

#include <cstdint>
#include <string>
#include <vector>

namespace seqc::view {

/// Fused ops a backend runs as one kernel, stage or step: the neutral form
/// of either backend's plan.
struct Group {
  /// The cluster's title: `stage 0: dense 64 -> 256, gelu (tiles 12x32)`.
  std::string label;
  /// Indices into the fused model's ops, in order.
  std::vector<size_t> fusedOps;
};

/// With a profile (`seqc bench --layers --format`): the share of the run's
/// time a group's stages take, drawn as a bar beside its title.
struct GroupTime {
  /// In [0, 1].
  double share = 0.0;
  /// After the bar: `41.2 %, 12.30 us`.
  std::string text;
};

/// What the picture is of, beside the model.
struct ViewTarget {
  /// `cpu x86-64-v4, f32` or `cuda sm_90, bf16 (layered)`: the subtitle.
  std::string description;
  /// Bytes of one element of a Linear weight as the backend stores it (4
  /// for f32, 2 for bf16 and f16); every other parameter is f32.
  unsigned linearWeightBytes = 4;
};

/// One box: a layer of the source model.
struct Layer {
  /// As written: `Linear(64, 256)`, `GELU()`.
  std::string name;
  /// Its position in the model, PyTorch style (`0`, `2.1`).
  std::string path;
  /// Its output shape: `[B, 256]`.
  std::string shape;
  uint64_t paramBytes = 0;
  /// FLOPs per sample of its matrix product (as `seqc bench` counts them);
  /// 0 for the others.
  uint64_t flops = 0;
  /// Index into Graph::groups, or -1 for a layer that is a no-op at
  /// inference (Dropout, Identity) and runs nowhere.
  int group = -1;
};

/// The picture as data.
struct Graph {
  std::string modelName;
  std::string target;
  std::string inputShape, outputShape;
  std::vector<Layer> layers;
  std::vector<Group> groups;
  /// Empty, or one per group (Profile.h's addShares).
  std::vector<GroupTime> groupTimes;
};

/// `[B, 256]`.
std::string shapeText(const ir::Type &type);

/// Builds the picture of \p checked (the shape-checked model: one op per
/// source layer) run as \p fused in \p groups. Each source layer is found
/// in the description of the fused op it became part of (passes append the
/// descriptions of the layers they fold or fuse, in order); layers found in
/// none are no-ops. Returns false and sets \p error when a fused op is in no
/// group, or the descriptions do not account for the source layers.
bool buildGraph(const ir::Model &checked, const ir::Model &fused,
                std::vector<Group> groups, const ViewTarget &target, Graph &out,
                std::string &error);

/// The graph as Graphviz DOT text (Dot.cpp).
std::string writeDot(const Graph &graph);

/// \p text with &, <, >, " and ' escaped for HTML and XML (Html.cpp).
std::string escapeHtml(std::string_view text);

/// One self-contained page: the model name, the target, \p svg (dot's
/// output, inlined) and a table of the layers (Html.cpp). A non-empty
/// \p profile (HTML: the profile and roofline of `seqc bench --layers`)
/// goes between the picture and the table.
std::string writeHtml(const Graph &graph, std::string_view svg,
                      std::string_view profile = {});

/// The <svg> element of an SVG document, without the XML declaration and
/// DOCTYPE before it, which may not appear inside HTML (Html.cpp).
std::string_view svgElement(std::string_view svg);

} // namespace seqc::view

#endif // SEQC_VIEW_GRAPHVIEW_H
