//===- ViewTest.cpp - seqc view's graph, DOT and HTML ---------------------===//
//
// The matching of source layers to fused ops is checked on hand-made models
// whose layer names hold commas (`Linear(2, 3)`), since the fused op's
// description is those names joined by ", ". The writers must escape what a
// model file can put in a name.
//
//===----------------------------------------------------------------------===//

#include "compiler/view/GraphView.h"

#include <doctest/doctest.h>

using namespace seqc;

namespace {

ir::Op makeOp(ir::OpKind kind, int64_t in, int64_t out,
              std::string description) {
  ir::Op op;
  op.kind = kind;
  op.inFeatures = in;
  op.outFeatures = out;
  op.description = std::move(description);
  return op;
}

/// A chain of \p ops from a [B, \p inFeatures] input.
ir::Model makeModel(int64_t inFeatures, std::vector<ir::Op> ops) {
  ir::Model model;
  model.name = "Net";
  model.addValue(ir::Type::batched(inFeatures));
  for (size_t i = 0; i < ops.size(); ++i) {
    ops[i].input = static_cast<int32_t>(i);
    ops[i].result = model.addValue(ir::Type::batched(ops[i].outFeatures));
    ops[i].path = std::to_string(i);
  }
  model.ops = std::move(ops);
  return model;
}

ir::Model checkedModel() {
  ir::Model model =
      makeModel(2, {makeOp(ir::OpKind::Linear, 2, 3, "Linear(2, 3)"),
                    makeOp(ir::OpKind::Act, 3, 3, "ReLU()"),
                    makeOp(ir::OpKind::Identity, 3, 3, "Dropout(p=0.5)"),
                    makeOp(ir::OpKind::Linear, 3, 1, "Linear(3, 1)")});
  ir::Param weight;
  weight.name = "0.weight";
  weight.shape = {3, 2};
  weight.data = Tensor::zeros({3, 2});
  model.ops[0].weight = model.addParam(std::move(weight));
  return model;
}

ir::Model fusedModel() {
  return makeModel(2, {makeOp(ir::OpKind::Dense, 2, 3, "Linear(2, 3), ReLU()"),
                       makeOp(ir::OpKind::Dense, 3, 1, "Linear(3, 1)")});
}

} // namespace

TEST_CASE("each source layer lands in its fused op's group; no-ops in none") {
  view::ViewTarget target{"cpu test, f32", 2};
  view::Graph graph;
  std::string error;
  REQUIRE(view::buildGraph(checkedModel(), fusedModel(),
                           {{"stage 0", {0}}, {"stage 1", {1}}}, target, graph,
                           error));
  REQUIRE(graph.layers.size() == 4);
  CHECK(graph.layers[0].group == 0);
  CHECK(graph.layers[1].group == 0);
  CHECK(graph.layers[2].group == -1);
  CHECK(graph.layers[3].group == 1);
  CHECK(graph.layers[0].shape == "[B, 3]");
  CHECK(graph.layers[0].flops == 12);
  CHECK(graph.layers[0].paramBytes == 6 * 2); // the Linear weight, 2 bytes
  CHECK(graph.inputShape == "[B, 2]");
  CHECK(graph.outputShape == "[B, 1]");
}

TEST_CASE("a fused op outside every group or an unmatched layer is an error") {
  view::Graph graph;
  std::string error;
  CHECK_FALSE(view::buildGraph(checkedModel(), fusedModel(), {{"stage 0", {0}}},
                               {}, graph, error));
  CHECK(error.find("fused op 1") != std::string::npos);
  ir::Model fused = fusedModel();
  fused.ops[0].description = "Linear(2, 3)"; // lost the ReLU
  CHECK_FALSE(view::buildGraph(checkedModel(), fused,
                               {{"stage 0", {0}}, {"stage 1", {1}}}, {}, graph,
                               error));
  CHECK(error.find("ReLU()") != std::string::npos);
}

TEST_CASE("DOT quotes names and labels, HTML escapes them") {
  ir::Model checked = checkedModel(), fused = fusedModel();
  checked.ops[3].description = "Linear(3, 1) \"<b>\"";
  fused.ops[1].description = checked.ops[3].description;
  view::Graph graph;
  std::string error;
  REQUIRE(view::buildGraph(checked, fused,
                           {{"stage 0", {0}}, {"stage \\1", {1}}}, {}, graph,
                           error));
  std::string dot = view::writeDot(graph);
  CHECK(dot.find("Linear(3, 1) \\\"<b>\\\"") != std::string::npos);
  CHECK(dot.find("label=\"stage \\\\1\\l\"") != std::string::npos);
  CHECK(dot.find("subgraph cluster_0") != std::string::npos);
  // The dropout between two groups stays outside both, dashed.
  CHECK(dot.find("layer2 [label=\"2: Dropout(p=0.5)\\n[B, 3]\\nno-op at "
                 "inference\", style=\"rounded,dashed\"];") !=
        std::string::npos);
  std::string html = view::writeHtml(graph, "<?xml version=\"1.0\"?>\n<svg/>");
  CHECK(html.find("<?xml") == std::string::npos);
  CHECK(html.find("<svg/>") != std::string::npos);
  CHECK(html.find("Linear(3, 1) &quot;&lt;b&gt;&quot;") != std::string::npos);
  CHECK(html.find("<script") == std::string::npos);
  CHECK(view::escapeHtml("a&b'") == "a&amp;b&#39;");
}
