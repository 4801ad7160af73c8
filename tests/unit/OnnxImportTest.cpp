//===- OnnxImportTest.cpp - ONNX graphs lowered to IR ---------------------===//
//
// Graphs built here as plain OnnxGraph structs (no protobuf, so these run in
// every build) test the chain walk and the pattern matcher: operand order
// and node order do not matter, constants must be the layer's own, and
// what is not a chain or not exact is refused with the node named. The
// exported files of tests/data/onnx are run end to end by tests/onnx.
//
//===----------------------------------------------------------------------===//

#include "frontend/OnnxImport.h"
#include "frontend/OnnxPatterns.h"

#include "compiler/passes/Pass.h"
#include "compiler/reference/Interpreter.h"
#include "compiler/support/SourceManager.h"

#include <doctest/doctest.h>

#include <cmath>

using namespace seqc;
using namespace seqc::frontend;

namespace {

/// Builds a graph with input x [batch, width] and output y.
struct GraphBuilder {
  OnnxGraph graph;

  explicit GraphBuilder(int64_t width, int64_t opset = 13) {
    graph.opsetVersion = opset;
    OnnxValueInfo x;
    x.name = "x";
    x.elemType = 1;
    x.hasShape = true;
    x.dims = {OnnxDim{-1, "batch"}, OnnxDim{width, ""}};
    graph.inputs.push_back(x);
    OnnxValueInfo y;
    y.name = "y";
    graph.outputs.push_back(y);
  }

  GraphBuilder &node(std::string op, std::vector<std::string> inputs,
                     std::string output,
                     std::vector<OnnxAttribute> attributes = {}) {
    OnnxNode n;
    n.opType = std::move(op);
    n.name = "/" + std::to_string(graph.nodes.size()) + "/" + n.opType;
    n.inputs = std::move(inputs);
    n.outputs = {std::move(output)};
    n.attributes = std::move(attributes);
    graph.nodes.push_back(std::move(n));
    return *this;
  }

  GraphBuilder &constant(std::string name, std::vector<int64_t> dims,
                         std::vector<float> values) {
    OnnxTensor t;
    t.name = std::move(name);
    t.dims = std::move(dims);
    t.dataType = 1;
    t.isFloat = true;
    t.floats = std::move(values);
    graph.initializers.push_back(std::move(t));
    return *this;
  }

  GraphBuilder &scalar(std::string name, float value) {
    return constant(std::move(name), {}, {value});
  }
};

OnnxAttribute floatAttr(std::string name, double value) {
  OnnxAttribute a;
  a.name = std::move(name);
  a.kind = OnnxAttribute::Kind::Float;
  a.f = value;
  return a;
}

OnnxAttribute intAttr(std::string name, int64_t value) {
  OnnxAttribute a;
  a.name = std::move(name);
  a.kind = OnnxAttribute::Kind::Int;
  a.i = value;
  return a;
}

struct Lowered {
  std::unique_ptr<ir::Model> model;
  std::string diagnostics;
};

Lowered lower(const GraphBuilder &builder) {
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  Lowered result;
  diag.captureTo(&result.diagnostics);
  result.model = lowerOnnxGraph(builder.graph, "net", "net.onnx", diag);
  if (result.model) {
    passes::PassManager pm;
    pm.addPass(passes::createShapeCheckPass());
    REQUIRE(pm.run(*result.model, diag));
  }
  return result;
}

/// The one op of a lowered single-layer graph.
const ir::Op &onlyOp(const Lowered &lowered) {
  REQUIRE_MESSAGE(lowered.model, lowered.diagnostics);
  REQUIRE(lowered.model->ops.size() == 1);
  return lowered.model->ops.front();
}

} // namespace

TEST_CASE("onnx: .onnx paths are recognised in any case") {
  CHECK(isOnnxModelPath("models/mnist.onnx"));
  CHECK(isOnnxModelPath("MNIST.ONNX"));
  CHECK_FALSE(isOnnxModelPath("mnist.nn"));
  CHECK_FALSE(isOnnxModelPath("onnx"));
}

TEST_CASE("onnx: GELU is found whatever the operand order") {
  // torch.onnx.export: ((x * (erf(x / sqrt2) + 1)) * 0.5).
  GraphBuilder torch(3);
  torch.scalar("sqrt2", 1.41421354f).scalar("one", 1).scalar("half", 0.5f);
  torch.node("Div", {"x", "sqrt2"}, "d")
      .node("Erf", {"d"}, "e")
      .node("Add", {"e", "one"}, "a")
      .node("Mul", {"x", "a"}, "m")
      .node("Mul", {"m", "half"}, "y");
  CHECK(onlyOp(lower(torch)).act.kind == ir::ActKind::GELU);

  // Another order: 0.5 * x first, then times (1 + erf(x * (1 / sqrt2))).
  GraphBuilder other(3);
  other.scalar("rsqrt2", 0.70710677f).scalar("one", 1).scalar("half", 0.5f);
  other.node("Mul", {"half", "x"}, "h")
      .node("Mul", {"rsqrt2", "x"}, "d")
      .node("Erf", {"d"}, "e")
      .node("Add", {"one", "e"}, "a")
      .node("Mul", {"a", "h"}, "y");
  Lowered lowered = lower(other);
  const ir::Op &op = onlyOp(lowered);
  CHECK(op.act.kind == ir::ActKind::GELU);
  CHECK(op.description == "GELU from 5 nodes, Mul '/0/Mul' .. Mul '/4/Mul'");
}

TEST_CASE("onnx: a constant that is not the layer's is refused") {
  // 1.4142 is not sqrt(2) at float32 precision: not GELU.
  GraphBuilder builder(3);
  builder.scalar("c", 1.4142f).scalar("one", 1).scalar("half", 0.5f);
  builder.node("Div", {"x", "c"}, "d")
      .node("Erf", {"d"}, "e")
      .node("Add", {"e", "one"}, "a")
      .node("Mul", {"x", "a"}, "m")
      .node("Mul", {"m", "half"}, "y");
  Lowered lowered = lower(builder);
  CHECK_FALSE(lowered.model);
  CHECK(lowered.diagnostics.find("net.onnx: error: 'x' is read by 2 nodes "
                                 "(node 0 ('/0/Div', Div), node 3 ('/3/Mul', "
                                 "Mul)) that do not form a supported "
                                 "pattern") == 0);
}

TEST_CASE("onnx: SiLU, Mish and a Sigmoid after SiLU") {
  GraphBuilder builder(4);
  builder.node("Sigmoid", {"x"}, "s")
      .node("Mul", {"s", "x"}, "silu")
      .node("Sigmoid", {"silu"}, "s2")
      .node("Softplus", {"s2"}, "sp")
      .node("Tanh", {"sp"}, "t")
      .node("Mul", {"s2", "t"}, "y");
  Lowered lowered = lower(builder);
  REQUIRE_MESSAGE(lowered.model, lowered.diagnostics);
  REQUIRE(lowered.model->ops.size() == 3);
  CHECK(lowered.model->ops[0].act.kind == ir::ActKind::SiLU);
  CHECK(lowered.model->ops[1].act.kind == ir::ActKind::Sigmoid);
  CHECK(lowered.model->ops[2].act.kind == ir::ActKind::Mish);
  // The declared width types the input although no layer fixes it.
  CHECK(lowered.model->inputType() == ir::Type::batched(4));
}

TEST_CASE("onnx: Softplus with beta needs the same beta on both sides") {
  auto softplus = [](float scale, float divisor) {
    GraphBuilder builder(2);
    builder.scalar("b", scale).scalar("d", divisor);
    builder.node("Mul", {"x", "b"}, "m")
        .node("Softplus", {"m"}, "s")
        .node("Div", {"s", "d"}, "y");
    return lower(builder);
  };
  Lowered good = softplus(2, 2);
  CHECK(onlyOp(good).act.kind == ir::ActKind::Softplus);
  CHECK(onlyOp(good).act.beta == 2);
  CHECK(onlyOp(good).act.alpha == kOnnxSoftplusThreshold);
  Lowered bad = softplus(2, 3);
  CHECK_FALSE(bad.model);
  CHECK(bad.diagnostics.find("node 0 ('/0/Mul', Mul) is not supported") !=
        std::string::npos);
}

TEST_CASE("onnx: decomposed LayerNorm, with a one-feature weight") {
  GraphBuilder builder(1, 11);
  OnnxAttribute axes;
  axes.name = "axes";
  axes.kind = OnnxAttribute::Kind::Ints;
  axes.ints = {-1};
  builder.scalar("two", 2).scalar("eps", 1e-5f);
  builder.constant("ln.weight", {1}, {1.5f}).constant("ln.bias", {1}, {0.25f});
  builder.node("ReduceMean", {"x"}, "mean", {axes})
      .node("Sub", {"x", "mean"}, "d")
      .node("Pow", {"d", "two"}, "sq")
      .node("ReduceMean", {"sq"}, "var", {axes})
      .node("Add", {"var", "eps"}, "ve")
      .node("Sqrt", {"ve"}, "std")
      .node("Div", {"d", "std"}, "n")
      .node("Mul", {"n", "ln.weight"}, "w")
      .node("Add", {"w", "ln.bias"}, "y");
  Lowered lowered = lower(builder);
  const ir::Op &op = onlyOp(lowered);
  CHECK(op.kind == ir::OpKind::LayerNorm);
  CHECK(op.eps == doctest::Approx(1e-5));
  CHECK(lowered.model->params[op.weight].name == "ln.weight");
  CHECK(lowered.model->params[op.bias].name == "ln.bias");
}

TEST_CASE("onnx: Gemm folds alpha, beta and transB into the Linear") {
  GraphBuilder builder(2);
  // B is [in, out] = [2, 3] (transB = 0); C is a scalar.
  builder.constant("w", {2, 3}, {1, 2, 3, 4, 5, 6}).scalar("c", 1);
  builder.node("Gemm", {"x", "w", "c"}, "y",
               {floatAttr("alpha", 2), floatAttr("beta", 0.5)});
  Lowered lowered = lower(builder);
  const ir::Op &op = onlyOp(lowered);
  REQUIRE(op.kind == ir::OpKind::Linear);
  const ir::Param &w = lowered.model->params[op.weight];
  CHECK(w.name == "w");
  CHECK(w.shape == std::vector<int64_t>{3, 2});
  CHECK(w.data.data == std::vector<float>{2, 8, 4, 10, 6, 12});
  CHECK(lowered.model->params[op.bias].data.data ==
        std::vector<float>{0.5f, 0.5f, 0.5f});
}

TEST_CASE("onnx: MatMul + Add is one Linear; a rank-4 input is flattened") {
  GraphBuilder builder(0);
  builder.graph.inputs[0].dims = {OnnxDim{-1, "n"}, OnnxDim{1, ""},
                                  OnnxDim{2, ""}, OnnxDim{1, ""}};
  builder.constant("w", {2, 2}, {1, 0, 0, 1}).constant("b", {2}, {1, -1});
  builder.node("Relu", {"x"}, "r", {})
      .node("Flatten", {"r"}, "f", {intAttr("axis", 1)})
      .node("MatMul", {"f", "w"}, "m")
      .node("Add", {"b", "m"}, "y");
  Lowered lowered = lower(builder);
  REQUIRE_MESSAGE(lowered.model, lowered.diagnostics);
  REQUIRE(lowered.model->ops.size() == 3);
  CHECK(lowered.model->inputType() == ir::Type::batched(2));
  const ir::Op &linear = lowered.model->ops[2];
  CHECK(linear.description == "MatMul '/2/MatMul' + Add '/3/Add'");
  CHECK(lowered.model->params[linear.bias].name == "b");
  reference::Matrix x(1, 2);
  x.data = {-3, 2};
  CHECK(reference::run(*lowered.model, x).data == std::vector<double>{1, 1});
}

TEST_CASE("onnx: single activation nodes") {
  auto act = [](std::string op, std::vector<OnnxAttribute> attributes,
                std::vector<std::string> bounds = {}, int64_t opset = 20) {
    GraphBuilder builder(3, opset);
    builder.scalar("zero", 0).scalar("six", 6);
    std::vector<std::string> inputs{"x"};
    inputs.insert(inputs.end(), bounds.begin(), bounds.end());
    builder.node(std::move(op), inputs, "y", std::move(attributes));
    Lowered lowered = lower(builder);
    REQUIRE_MESSAGE(lowered.model, lowered.diagnostics);
    return lowered.model->ops.front().act;
  };
  OnnxAttribute tanh;
  tanh.name = "approximate";
  tanh.kind = OnnxAttribute::Kind::String;
  tanh.s = "tanh";
  CHECK(act("Gelu", {}).kind == ir::ActKind::GELU);
  CHECK(act("Gelu", {tanh}).kind == ir::ActKind::GELUTanh);
  CHECK(act("HardSwish", {}).kind == ir::ActKind::Hardswish);
  CHECK(act("Mish", {}).kind == ir::ActKind::Mish);
  CHECK(act("Softsign", {}).kind == ir::ActKind::Softsign);
  CHECK(act("LeakyRelu", {}) ==
        ir::Activation{ir::ActKind::LeakyReLU, 0.01, 0.0});
  CHECK(act("Softplus", {}) ==
        ir::Activation{ir::ActKind::Softplus, kOnnxSoftplusThreshold, 1.0});
  CHECK(act("HardSigmoid", {floatAttr("alpha", 1.0f / 6.0f)}).kind ==
        ir::ActKind::Hardsigmoid);
  // Clip: ReLU6 from constant inputs (opset 11 on), ReLU from min 0 alone,
  // Hardtanh from attributes (before opset 11).
  CHECK(act("Clip", {}, {"zero", "six"}) ==
        ir::Activation{ir::ActKind::Hardtanh, 0.0, 6.0});
  CHECK(act("Clip", {}, {"zero"}).kind == ir::ActKind::ReLU);
  CHECK(act("Clip", {floatAttr("min", -1), floatAttr("max", 1)}, {}, 6) ==
        ir::Activation{ir::ActKind::Hardtanh, -1.0, 1.0});
}

TEST_CASE("onnx: refusals name the node") {
  SUBCASE("a Softmax over a rank-4 value, opset 13") {
    GraphBuilder builder(0);
    builder.graph.inputs[0].dims = {OnnxDim{2, ""}, OnnxDim{3, ""},
                                    OnnxDim{4, ""}, OnnxDim{5, ""}};
    builder.node("Softmax", {"x"}, "y");
    Lowered lowered = lower(builder);
    CHECK(lowered.diagnostics ==
          "net.onnx: error: node 0 ('/0/Softmax', Softmax): it is over axis "
          "-1 of a rank-4 value; seqc's Softmax is over the features of "
          "[N, F] values (the last axis)\n");
  }
  SUBCASE("Selu is ELU only with gamma 1") {
    GraphBuilder builder(3);
    builder.node("Selu", {"x"}, "y",
                 {floatAttr("gamma", 1.0), floatAttr("alpha", 0.5)});
    CHECK(onlyOp(lower(builder)).act ==
          ir::Activation{ir::ActKind::ELU, 0.5, 0.0});
  }
  SUBCASE("a Gemm whose weight is computed") {
    GraphBuilder builder(3);
    builder.node("Relu", {"x"}, "r").node("Gemm", {"x", "r"}, "y");
    Lowered lowered = lower(builder);
    CHECK(lowered.diagnostics.find("'x' is read by 2 nodes") !=
          std::string::npos);
  }
  SUBCASE("the output feeds another node") {
    GraphBuilder builder(3);
    builder.graph.outputs[0].name = "r";
    builder.node("Relu", {"x"}, "r").node("Tanh", {"r"}, "t");
    Lowered lowered = lower(builder);
    CHECK(lowered.diagnostics ==
          "net.onnx: error: node 1 ('/1/Tanh', Tanh): it reads the graph's "
          "output 'r': seqc imports chains that end at the output\n");
  }
}

TEST_CASE("onnx: a build without libonnx-dev refuses .onnx files") {
  if (onnxSupportBuilt())
    return;
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  std::string text;
  diag.captureTo(&text);
  CHECK_FALSE(importOnnxModel("x.onnx", diag));
  CHECK(text.find("built without ONNX support; install libonnx-dev") !=
        std::string::npos);
}
