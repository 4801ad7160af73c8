//===- ViewTest.cpp - seqc view's graph, DOT and HTML ---------------------===//
//
// The matching of source layers to fused ops is checked on hand-made models
// whose layer names hold commas (`Linear(2, 3)`), since the fused op's
// description is those names joined by ", ". The writers must escape what a
// model file can put in a name.
//
// The profile drawing (`seqc bench --layers --format`) is checked on made-up
// timings: shares, bars, and which stages get a point on the roofline.
//
//===----------------------------------------------------------------------===//

#include "compiler/view/GraphView.h"
#include "compiler/view/Profile.h"

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

/// A profile of the two stages of fusedModel() and a row-norm stage
/// without FLOPs, in group 1.
view::Profile makeProfile() {
  view::Profile profile;
  profile.batch = 8;
  profile.peakGflops = 100;
  profile.bandwidthGBs = 10;
  // 3 s, 1 s and 0 s of 4 s: three quarters, one quarter, nothing.
  profile.stages = {{0, "dense", "[0] Linear(2, 3), ReLU()", 0, 3.0, 96, 64},
                    {1, "dense", "[3] Linear(3, 1) <&>", 1, 1.0, 48, 4},
                    {2, "row norm", "[3] (its softmax)", 1, 0.0, 0, 8}};
  return profile;
}

/// checkedModel() run as fusedModel() in one group per fused op.
view::Graph twoStageGraph() {
  view::Graph graph;
  std::string error;
  REQUIRE(view::buildGraph(checkedModel(), fusedModel(),
                           {{"stage 0", {0}}, {"stage 1", {1}}}, {}, graph,
                           error));
  return graph;
}

/// How often \p needle occurs in \p text.
size_t count(const std::string &text, const std::string &needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos;
       pos = text.find(needle, pos + 1))
    ++n;
  return n;
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

TEST_CASE("a profile's shares add up per group and are drawn as bars") {
  view::Graph graph = twoStageGraph();
  view::Profile profile = makeProfile();
  CHECK(profile.totalSeconds() == 4.0);
  CHECK(profile.ridge() == 10.0);
  view::addShares(graph, profile);
  REQUIRE(graph.groupTimes.size() == 2);
  CHECK(graph.groupTimes[0].share == 0.75);
  CHECK(graph.groupTimes[1].share == 0.25);
  CHECK(graph.groupTimes[0].text == "75.0 %, 3.000 s");
  std::string dot = view::writeDot(graph);
  // A bar per group: 90 and 30 of 120 points filled.
  CHECK(dot.find("WIDTH=\"90\" HEIGHT=\"10\" BGCOLOR=\"#c0392b\"") !=
        std::string::npos);
  CHECK(dot.find("WIDTH=\"30\" HEIGHT=\"10\" BGCOLOR=\"#c0392b\"") !=
        std::string::npos);
  CHECK(count(dot, "BGCOLOR=\"#dddddd\"") == 2);
  // Without a profile the titles stay plain text.
  graph.groupTimes.clear();
  CHECK(view::writeDot(graph).find("<TABLE") == std::string::npos);
}

TEST_CASE("the roofline has one point per stage with FLOPs, and the page a "
          "row per stage") {
  view::Graph graph = twoStageGraph();
  view::Profile profile = makeProfile();
  // Stage 0: 96 FLOP in 3 s over 64 bytes, intensity 1.5 (memory-bound
  // left of the ridge at 10); stage 1: 12 FLOP/byte (compute-bound).
  CHECK(profile.stages[0].intensity() == 1.5);
  CHECK(profile.stages[1].intensity() == 12.0);
  CHECK_FALSE(profile.stages[2].plotted());
  std::string svg = view::writeRooflineSvg(graph, profile);
  CHECK(count(svg, "<g class=\"stage\"") == 2);
  CHECK(svg.find("data-stage=\"2\"") == std::string::npos);
  CHECK(count(svg, "class=\"peak\"") == 1);
  CHECK(count(svg, "class=\"bandwidth\"") == 1);
  CHECK(svg.find("Linear(3, 1) &lt;&amp;&gt;") != std::string::npos);
  std::string page = view::writeHtml(graph, "<svg/>",
                                     view::profileSection(profile, graph, svg));
  CHECK(count(page, "<tr class=stage") == 3);
  CHECK(page.find("data-share=\"0.750000\"") != std::string::npos);
  CHECK(page.find("data-share=\"0.250000\"") != std::string::npos);
  CHECK(count(page, "memory-bound") == 1);
  CHECK(count(page, "compute-bound") == 1);
  CHECK(page.find("<?xml") == std::string::npos);
  CHECK(page.find("<script") == std::string::npos);
}
