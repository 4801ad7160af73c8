//===- FrontendTest.cpp - Lexer, parser and sema unit tests ---------------===//

#include "frontend/Lexer.h"
#include "frontend/Lowering.h"
#include "frontend/Parser.h"
#include "frontend/Sema.h"
#include "frontend/WeightBinding.h"

#include <doctest/doctest.h>

#include <cmath>
#include <string>

using namespace seqc;
using namespace seqc::frontend;

namespace {

/// Parses and analyzes \p text; returns the diagnostics printed.
struct Harness {
  SourceManager sourceMgr;
  DiagnosticEngine diag{sourceMgr};
  std::string output;
  uint32_t bufferId = 0;

  explicit Harness(std::string text) {
    diag.captureTo(&output);
    bufferId = sourceMgr.addBuffer("t.nn", std::move(text));
  }
  std::optional<File> parse() { return parseBuffer(bufferId, sourceMgr, diag); }
  std::optional<Program> analyze() {
    std::optional<File> file = parse();
    if (!file)
      return std::nullopt;
    return analyzeFile(*file, SemaOptions{}, diag);
  }
};

} // namespace

TEST_CASE("lexer: numbers, strings, names and line joining") {
  SourceManager sm;
  DiagnosticEngine diag(sm);
  uint32_t id = sm.addBuffer(
      "t.nn", "x = f(1_000, 2.5e-3, .5, 'a\\'b', \"c\",\n  [1,\n 2])  # c\n");
  std::vector<Token> tokens = lexBuffer(id, sm, diag);
  REQUIRE_FALSE(diag.hasErrors());
  std::vector<TokenKind> kinds;
  for (const Token &t : tokens)
    kinds.push_back(t.kind);
  using K = TokenKind;
  std::vector<K> expected = {
      K::Identifier, K::Equals,   K::Identifier, K::LParen,   K::Integer,
      K::Comma,      K::Float,    K::Comma,      K::Float,    K::Comma,
      K::String,     K::Comma,    K::String,     K::Comma,    K::LBracket,
      K::Integer,    K::Comma,    K::Integer,    K::RBracket, K::RParen,
      K::Newline,    K::EndOfFile};
  CHECK(kinds == expected);
  CHECK(tokens[4].intValue == 1000);
  CHECK(tokens[6].floatValue == doctest::Approx(2.5e-3));
  CHECK(tokens[8].floatValue == doctest::Approx(0.5));
  CHECK(tokens[10].text == "a'b");
  CHECK(tokens[15].loc.line == 2);
  CHECK(tokens[15].loc.col == 4);
}

TEST_CASE("lexer: errors carry a location") {
  Harness h("x = 1\ny = 99999999999999999999999\n");
  CHECK_FALSE(h.parse());
  CHECK(
      h.output.find("t.nn:2:5: error: integer literal 99999999999999999999999 "
                    "is too large") == 0);
  Harness h2("x = 'abc\n");
  CHECK_FALSE(h2.parse());
  CHECK(h2.output.find("t.nn:1:5: error: unterminated string literal") == 0);
  Harness h3("x = 1 $ 2\n");
  CHECK_FALSE(h3.parse());
  CHECK(h3.output.find("t.nn:1:7: error: unexpected character '$'") == 0);
}

TEST_CASE("parser: statements, calls and keyword arguments") {
  Harness h("import torch\nfrom torch import nn\n"
            "Net = nn.Sequential(\n  nn.Linear(2, 3, bias=False),\n"
            "  torch.nn.ReLU(inplace=True),\n)\nNet.load_state_dict('w.st')\n");
  std::optional<File> file = h.parse();
  REQUIRE(file);
  REQUIRE(file->statements.size() == 4);
  const Statement &assign = file->statements[2];
  CHECK(assign.kind == Statement::Kind::Assign);
  CHECK(assign.target == "Net");
  const Expr &seq = *assign.value;
  CHECK(seq.dottedName() == "nn.Sequential");
  REQUIRE(seq.args.size() == 2);
  CHECK(seq.args[0]->dottedName() == "nn.Linear");
  CHECK(seq.args[0]->keywords[0].name == "bias");
  CHECK(seq.args[0]->keywords[0].value->kind == Expr::Kind::Bool);
  CHECK(seq.args[1]->dottedName() == "torch.nn.ReLU");
  CHECK(file->statements[3].kind == Statement::Kind::Call);
}

TEST_CASE("parser: deep nesting is an error, not a stack overflow") {
  std::string deep =
      "x = " + std::string(10000, '(') + "1" + std::string(10000, ')') + "\n";
  Harness h(deep);
  CHECK_FALSE(h.parse());
  CHECK(h.output.find("nesting is deeper than the limit") != std::string::npos);
  std::string minus = "x = " + std::string(10000, '-') + "1\n";
  Harness h2(minus);
  CHECK_FALSE(h2.parse());
}

TEST_CASE("parser: syntax errors point at the token") {
  Harness h("Net = nn.Sequential(nn.Linear(2, 3) nn.ReLU())\n");
  CHECK_FALSE(h.parse());
  CHECK(h.output == "t.nn:1:37: error: expected ',' or ')' in the arguments of "
                    "'nn.Sequential', found 'nn'\n"
                    "  Net = nn.Sequential(nn.Linear(2, 3) nn.ReLU())\n"
                    "                                      ^~\n");
}

TEST_CASE("sema: layers, defaults and PyTorch argument binding") {
  Harness h(
      "A = nn.Sequential(nn.Linear(4, 8), LeakyReLU(0.2), "
      "nn.ELU(alpha=0.5), nn.Softplus(2, 10), nn.GELU(approximate='tanh'), "
      "nn.Hardtanh(-2, 2), nn.BatchNorm1d(8, eps=1e-3), "
      "nn.LayerNorm([8], elementwise_affine=False), nn.Dropout(0.1), "
      "nn.Linear(8, 2, bias=False), nn.LogSoftmax(dim=1))\n"
      "B = nn.Sequential(A, nn.Softmax(-1))\n");
  std::optional<Program> program = h.analyze();
  REQUIRE(program);
  REQUIRE(program->models.size() == 2);
  Module &a = *program->models[0].module;
  REQUIRE(a.children.size() == 11);
  CHECK(a.children[1]->act.kind == ir::ActKind::LeakyReLU);
  CHECK(a.children[1]->act.alpha == doctest::Approx(0.2));
  CHECK(a.children[2]->act.alpha == doctest::Approx(0.5));
  CHECK(a.children[3]->act.beta == doctest::Approx(2));
  CHECK(a.children[3]->act.alpha == doctest::Approx(10));
  CHECK(a.children[4]->act.kind == ir::ActKind::GELUTanh);
  CHECK(a.children[6]->eps == doctest::Approx(1e-3));
  CHECK(a.children[6]->params.size() == 4);
  CHECK(a.children[7]->params.empty());
  CHECK(a.children[9]->params.size() == 1);
  CHECK(a.children[9]->description == "Linear(8, 2, bias=False)");
  // B shares A's layer objects, so its state_dict keys nest under 0.
  std::vector<std::string> keys;
  forEachParam(*program->models[1].module,
               [&](const std::string &key, Module &, ModuleParam &) {
                 keys.push_back(key);
               });
  REQUIRE(keys.size() == 7);
  CHECK(keys[0] == "0.0.weight");
  CHECK(keys[2] == "0.6.weight");
  CHECK(keys[5] == "0.6.running_var");
  CHECK(keys[6] == "0.9.weight");
}

TEST_CASE("sema: inline literals and their shape checks") {
  Harness h("N = nn.Sequential(nn.Linear(2, 2, weight=[[1, -2], [-1, 1]], "
            "bias=[1, 0]))\n");
  std::optional<Program> program = h.analyze();
  REQUIRE(program);
  Module &linear = *program->models[0].module->children[0];
  CHECK(linear.params[0].source == ParamSource::Inline);
  CHECK(linear.params[0].value.data == std::vector<float>{1, -2, -1, 1});
  CHECK(linear.params[1].value.data == std::vector<float>{1, 0});

  Harness bad(
      "N = nn.Sequential(nn.Linear(2, 2, weight=[[1, -2, 3], [-1, 1]]))\n");
  CHECK_FALSE(bad.analyze());
  CHECK(bad.output.find("has 3 elements, not 2") != std::string::npos);
}

TEST_CASE("sema: user mistakes get PyTorch-like messages") {
  struct Case {
    const char *source;
    const char *message;
  } cases[] = {
      {"N = nn.Sequential(nn.Relu())\n", "did you mean 'ReLU'?"},
      {"N = nn.Sequential(nn.Linear(2))\n",
       "Linear() missing required argument 'out_features'"},
      {"N = nn.Sequential(nn.Linear(2, 3, bais=True))\n",
       "unexpected keyword argument 'bais'"},
      {"N = nn.Sequential(nn.Linear(0, 3))\n",
       "Linear in_features must be positive, got 0"},
      {"N = nn.Sequential(nn.Linear(4294967296, 3))\n", "more than the limit"},
      {"N = nn.Sequential(nn.Softmax(dim=0))\n", "would mix the samples"},
      {"N = nn.Sequential(Enc)\n", "unknown name 'Enc'"},
      {"N = nn.Sequential(nn.ReLU)\n", "is a layer class"},
      {"N = nn.Sequential(nn.Dropout(1.5))\n", "between 0 and 1"},
      {"N = nn.Sequential(nn.Linear(2, 3, 4, 5, 6, 7))\n",
       "takes at most 5 positional arguments but 6 were given"},
  };
  for (const Case &c : cases) {
    Harness h(c.source);
    CHECK_FALSE(h.analyze());
    INFO(h.output);
    CHECK(h.output.find(c.message) != std::string::npos);
  }
}

TEST_CASE("sema: a model used twice and exponential sharing are bounded") {
  std::string text = "L0 = nn.Sequential(nn.Linear(2, 2))\n";
  for (int i = 1; i <= 20; ++i)
    text += "L" + std::to_string(i) + " = nn.Sequential(L" +
            std::to_string(i - 1) + ", L" + std::to_string(i - 1) + ")\n";
  Harness h(text);
  CHECK_FALSE(h.analyze());
  CHECK(h.output.find("layers, more than the limit") != std::string::npos);
}

TEST_CASE("evaluator: constants, repeats share modules, comprehensions make "
          "new ones") {
  Harness h("h = 2 * 3 - 2\n"
            "act = nn.ReLU()\n"
            "rep = [nn.Linear(h, h)] * 2\n"
            "Net = nn.Sequential(act, *rep, act,\n"
            "    *[nn.Linear(h + 0 * i, h) for i in range(-1, 3, 2)])\n");
  std::optional<Program> program = h.analyze();
  REQUIRE(program);
  CHECK(h.output.empty());
  // `h` is a constant, not a model; `act` and `Net` are modules, so models.
  REQUIRE(program->models.size() == 2);
  CHECK(program->models[0].name == "act");
  const Module &net = *program->models[1].module;
  REQUIRE(net.children.size() == 6);
  CHECK(net.children[0] == net.children[3]);
  CHECK(net.children[1] == net.children[2]);
  CHECK(net.children[1]->inFeatures == 4);
  CHECK(net.children[4] != net.children[5]);
  CHECK(net.children[4]->className == "Linear");
}

TEST_CASE("evaluator: a rebound name and an arithmetic error") {
  Harness h("Net = nn.Sequential(nn.Linear(2, 2))\n"
            "Net = 3\n"
            "x = Net // 0\n");
  CHECK_FALSE(h.analyze());
  CHECK(h.output.find("t.nn:3:5: error: integer division or modulo by zero") ==
        0);
}

TEST_CASE("lowering: nested sequentials become one chain with PyTorch keys") {
  Harness h("Enc = nn.Sequential(nn.Linear(2, 3), nn.ReLU())\n"
            "Net = nn.Sequential(Enc, nn.Linear(3, 1))\n");
  std::optional<Program> program = h.analyze();
  REQUIRE(program);
  Module &net = *program->models[1].module;
  initializeParams(net, 7);
  std::unique_ptr<ir::Model> model = lowerModule("Net", net);
  REQUIRE(model->ops.size() == 3);
  CHECK(model->ops[0].path == "0.0");
  CHECK(model->ops[1].path == "0.1");
  CHECK(model->ops[2].path == "1");
  REQUIRE(model->params.size() == 4);
  CHECK(model->params[0].name == "0.0.weight");
  CHECK(model->params[3].name == "1.bias");
  for (const ir::Param &param : model->params) {
    CHECK(param.isBound());
    for (float v : param.data.data)
      CHECK(std::abs(v) <=
            1.0f / std::sqrt(param.name[0] == '0' ? 2.0f : 3.0f));
  }
}
