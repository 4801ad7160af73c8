//===- PassesTest.cpp - Shape check, canonicalize and fuse ----------------===//
//
// Canonicalize and fuse must not change what a model computes: every network
// here is run through the float64 reference interpreter before and after the
// passes, with random weights (BatchNorm statistics included) and random
// inputs, and the two results must agree to 1e-5 relative to their
// magnitude. The only rounding the passes add is that of folded weights to
// float32. Structural checks make sure the rewrites being tested happened.
//
//===----------------------------------------------------------------------===//

#include "compiler/ir/Verifier.h"
#include "compiler/passes/Pass.h"
#include "compiler/reference/Interpreter.h"
#include "frontend/Lowering.h"
#include "frontend/Parser.h"
#include "frontend/Sema.h"
#include "frontend/WeightBinding.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <string>

using namespace seqc;

namespace {

/// Relative tolerance of before/after agreement.
constexpr double kTolerance = 1e-5;

/// Builds the last model of \p source through the frontend, gives every
/// parameter random values (positive ones for running variances), and runs
/// the shape check. Diagnostics go to \p diagnostics.
std::unique_ptr<ir::Model> buildModel(const std::string &source, uint64_t seed,
                                      std::string &diagnostics) {
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  diag.captureTo(&diagnostics);
  uint32_t id = sourceMgr.addBuffer("t.nn", source);
  std::optional<frontend::File> file =
      frontend::parseBuffer(id, sourceMgr, diag);
  if (!file)
    return nullptr;
  std::optional<frontend::Program> program =
      frontend::analyzeFile(*file, frontend::SemaOptions{}, diag);
  if (!program || program->models.empty())
    return nullptr;
  const frontend::Program::Binding &binding = program->models.back();
  frontend::initializeParams(*binding.module, seed);
  std::unique_ptr<ir::Model> model =
      frontend::lowerModule(binding.name, *binding.module);

  // PyTorch's initialisation leaves BatchNorm as an identity (mean 0, var 1,
  // weight 1, bias 0), which would make folding trivially right: draw
  // everything instead, as a trained network would have it.
  std::mt19937_64 rng(seed * 7919 + 1);
  std::uniform_real_distribution<double> any(-1.0, 1.0), variance(0.05, 3.0);
  for (ir::Param &param : model->params) {
    bool isVariance =
        param.name.size() >= 11 &&
        param.name.compare(param.name.size() - 11, 11, "running_var") == 0;
    for (float &v : param.data.data)
      v = static_cast<float>(isVariance ? variance(rng) : any(rng));
  }

  passes::PassManager pm;
  pm.addPass(passes::createShapeCheckPass());
  if (!pm.run(*model, diag))
    return nullptr;
  return model;
}

/// Runs canonicalize and fuse on \p model.
void optimize(ir::Model &model) {
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  std::string diagnostics;
  diag.captureTo(&diagnostics);
  passes::PassManager pm;
  pm.addPass(passes::createCanonicalizePass());
  pm.addPass(passes::createFusePass());
  REQUIRE(pm.run(model, diag));
  CHECK(diagnostics.empty());
}

reference::Matrix randomInput(int64_t rows, int64_t cols, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(-3.0, 3.0);
  reference::Matrix x(rows, cols);
  for (double &v : x.data)
    v = static_cast<double>(static_cast<float>(dist(rng)));
  return x;
}

/// The largest |a - b| / max(1, |a|) over all elements.
double maxRelativeError(const reference::Matrix &a,
                        const reference::Matrix &b) {
  REQUIRE(a.rows == b.rows);
  REQUIRE(a.cols == b.cols);
  double worst = 0.0;
  for (size_t i = 0; i < a.data.size(); ++i) {
    double scale = std::max(1.0, std::fabs(a.data[i]));
    double err = std::fabs(a.data[i] - b.data[i]) / scale;
    if (std::isnan(err))
      err = std::isnan(a.data[i]) == std::isnan(b.data[i]) ? 0.0 : INFINITY;
    worst = std::max(worst, err);
  }
  return worst;
}

int countOps(const ir::Model &model, ir::OpKind kind) {
  return static_cast<int>(
      std::count_if(model.ops.begin(), model.ops.end(),
                    [&](const ir::Op &op) { return op.kind == kind; }));
}

struct Optimized {
  std::unique_ptr<ir::Model> before;
  std::unique_ptr<ir::Model> after;
};

/// Builds \p source, optimizes a copy, and checks that the reference
/// interpreter gives the same result for both on several random inputs and
/// weight draws. Returns the last pair for structural checks.
Optimized checkPassesKeepResults(const std::string &source) {
  Optimized result;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    std::string diagnostics;
    std::unique_ptr<ir::Model> model = buildModel(source, seed, diagnostics);
    INFO(diagnostics);
    REQUIRE(model);
    auto before = std::make_unique<ir::Model>(*model);
    optimize(*model);
    CHECK(ir::verifyModel(*model, /*requireBound=*/true).empty());
    // Only the ops backends consume remain.
    for (const ir::Op &op : model->ops) {
      bool consumable =
          op.kind == ir::OpKind::Dense || op.kind == ir::OpKind::Act ||
          op.kind == ir::OpKind::Softmax || op.kind == ir::OpKind::LogSoftmax ||
          op.kind == ir::OpKind::LayerNorm || op.kind == ir::OpKind::Affine;
      CHECK_MESSAGE(consumable, "op ", ir::opName(op.kind), " after fuse");
    }
    CHECK(ir::verifyFusedForm(*model).empty());
    CHECK(model->inputType() == before->inputType());
    CHECK(model->outputType() == before->outputType());
    for (int64_t batch : {1, 7}) {
      reference::Matrix x = randomInput(batch, before->inputType().features(),
                                        seed * 100 + batch);
      reference::Matrix want = reference::run(*before, x);
      reference::Matrix got = reference::run(*model, x);
      double err = maxRelativeError(want, got);
      INFO("seed ", seed, " batch ", batch);
      CHECK(err <= kTolerance);
    }
    result.before = std::move(before);
    result.after = std::move(model);
  }
  return result;
}

} // namespace

TEST_CASE("passes: BatchNorm1d after a Linear folds into it") {
  Optimized m = checkPassesKeepResults("Net = nn.Sequential(\n"
                                       "    nn.Linear(5, 6),\n"
                                       "    nn.BatchNorm1d(6),\n"
                                       "    nn.ReLU(),\n"
                                       "    nn.Linear(6, 3),\n"
                                       ")\n");
  CHECK(countOps(*m.before, ir::OpKind::BatchNorm) == 1);
  CHECK(countOps(*m.after, ir::OpKind::BatchNorm) == 0);
  CHECK(countOps(*m.after, ir::OpKind::Affine) == 0);
  REQUIRE(m.after->ops.size() == 2);
  CHECK(m.after->ops[0].act.kind == ir::ActKind::ReLU);
  CHECK(m.after->ops[0].description == "Linear(5, 6), BatchNorm1d(6), ReLU()");
}

TEST_CASE("passes: BatchNorm1d after a Linear without bias creates the bias") {
  Optimized m =
      checkPassesKeepResults("Net = nn.Sequential(\n"
                             "    nn.Linear(4, 3, bias=False),\n"
                             "    nn.BatchNorm1d(3, eps=1e-3, affine=False),\n"
                             "    nn.GELU(),\n"
                             "    nn.Linear(3, 2, bias=False),\n"
                             "    nn.BatchNorm1d(2),\n"
                             ")\n");
  REQUIRE(m.after->ops.size() == 2);
  CHECK(m.after->ops[0].bias != ir::kNoParam);
  CHECK(m.after->ops[1].bias != ir::kNoParam);
}

TEST_CASE("passes: BatchNorm1d at the start folds into the next Linear") {
  Optimized m = checkPassesKeepResults("Net = nn.Sequential(\n"
                                       "    nn.BatchNorm1d(4),\n"
                                       "    nn.Linear(4, 3),\n"
                                       "    nn.Tanh(),\n"
                                       ")\n");
  REQUIRE(m.after->ops.size() == 1);
  CHECK(m.after->ops[0].kind == ir::OpKind::Dense);
  CHECK(m.after->ops[0].act.kind == ir::ActKind::Tanh);
}

TEST_CASE("passes: BatchNorm1d between an activation and a Linear folds "
          "forward, even into a Linear without bias") {
  Optimized m = checkPassesKeepResults("Net = nn.Sequential(\n"
                                       "    nn.Linear(3, 5),\n"
                                       "    nn.Sigmoid(),\n"
                                       "    nn.BatchNorm1d(5),\n"
                                       "    nn.Linear(5, 2, bias=False),\n"
                                       "    nn.LogSoftmax(dim=1),\n"
                                       ")\n");
  REQUIRE(m.after->ops.size() == 2);
  CHECK(m.after->ops[1].rowNorm == ir::RowNorm::LogSoftmax);
  CHECK(m.after->ops[1].bias != ir::kNoParam);
}

TEST_CASE("passes: BatchNorm1d between activations stays an affine op") {
  Optimized m = checkPassesKeepResults("Net = nn.Sequential(\n"
                                       "    nn.Linear(2, 4),\n"
                                       "    nn.ReLU(),\n"
                                       "    nn.BatchNorm1d(4),\n"
                                       "    nn.Mish(),\n"
                                       "    nn.BatchNorm1d(4, affine=False),\n"
                                       ")\n");
  CHECK(countOps(*m.after, ir::OpKind::Affine) == 2);
  CHECK(countOps(*m.after, ir::OpKind::BatchNorm) == 0);
}

TEST_CASE("passes: consecutive BatchNorms fold one after the other") {
  checkPassesKeepResults("Net = nn.Sequential(\n"
                         "    nn.Linear(3, 3),\n"
                         "    nn.BatchNorm1d(3),\n"
                         "    nn.BatchNorm1d(3, eps=0.1),\n"
                         "    nn.ELU(),\n"
                         ")\n");
  Optimized m = checkPassesKeepResults("Net = nn.Sequential(\n"
                                       "    nn.BatchNorm1d(3),\n"
                                       "    nn.BatchNorm1d(3),\n"
                                       "    nn.Linear(3, 2),\n"
                                       ")\n");
  CHECK(countOps(*m.after, ir::OpKind::Affine) == 1);
  CHECK(countOps(*m.after, ir::OpKind::Dense) == 1);
}

TEST_CASE("passes: no-ops are dropped and every activation fuses") {
  Optimized m = checkPassesKeepResults(
      "Net = nn.Sequential(\n"
      "    nn.Flatten(), nn.Identity(),\n"
      "    nn.Linear(6, 6), nn.Dropout(0.3), nn.ReLU(),\n"
      "    nn.Linear(6, 6), nn.ReLU6(),\n"
      "    nn.Linear(6, 6), nn.Sigmoid(), nn.Identity(),\n"
      "    nn.Linear(6, 6), nn.Tanh(),\n"
      "    nn.Linear(6, 6), nn.GELU(),\n"
      "    nn.Linear(6, 6), nn.GELU(approximate='tanh'),\n"
      "    nn.Linear(6, 6), nn.SiLU(),\n"
      "    nn.Linear(6, 6), nn.LeakyReLU(0.3),\n"
      "    nn.Linear(6, 6), nn.ELU(alpha=0.7),\n"
      "    nn.Linear(6, 6), nn.Softplus(beta=2.0, threshold=1.0),\n"
      "    nn.Linear(6, 6), nn.Hardtanh(-0.5, 0.5),\n"
      "    nn.Linear(6, 6), nn.Hardsigmoid(),\n"
      "    nn.Linear(6, 6), nn.Hardswish(),\n"
      "    nn.Linear(6, 6), nn.Softsign(),\n"
      "    nn.Linear(6, 6), nn.Mish(), nn.Tanh(),\n"
      "    nn.Linear(6, 4), nn.Softmax(dim=-1),\n"
      ")\n");
  CHECK(countOps(*m.after, ir::OpKind::Identity) == 0);
  CHECK(countOps(*m.after, ir::OpKind::Dense) == 16);
  CHECK(countOps(*m.after, ir::OpKind::Act) == 1); // the Tanh after Mish
  CHECK(m.after->ops.back().rowNorm == ir::RowNorm::Softmax);
}

TEST_CASE("passes: LayerNorm and normalisations that do not follow a Linear "
          "are kept") {
  Optimized m = checkPassesKeepResults("Net = nn.Sequential(\n"
                                       "    nn.LayerNorm(4),\n"
                                       "    nn.Linear(4, 5),\n"
                                       "    nn.LayerNorm(5, eps=1e-3),\n"
                                       "    nn.Softmax(dim=1),\n"
                                       "    nn.Linear(5, 3),\n"
                                       "    nn.LayerNorm(3, bias=False),\n"
                                       "    nn.LogSoftmax(dim=-1),\n"
                                       ")\n");
  CHECK(countOps(*m.after, ir::OpKind::LayerNorm) == 3);
  CHECK(countOps(*m.after, ir::OpKind::Softmax) == 1);
  CHECK(countOps(*m.after, ir::OpKind::LogSoftmax) == 1);
}

TEST_CASE("passes: nested and shared Sequentials") {
  Optimized m = checkPassesKeepResults(
      "Block = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.SiLU())\n"
      "Net = nn.Sequential(\n"
      "    nn.Linear(3, 4),\n"
      "    Block,\n"
      "    nn.Sequential(Block, nn.Sequential(nn.Dropout(0.1))),\n"
      "    nn.Linear(4, 2),\n"
      ")\n");
  CHECK(m.after->ops.size() == 4);
}

TEST_CASE("passes: wide layers") {
  std::string source = "Net = nn.Sequential(nn.Linear(64, 128), "
                       "nn.BatchNorm1d(128, eps=1e-5), nn.ReLU(), "
                       "nn.BatchNorm1d(128, eps=1e-5), nn.Linear(128, 10))\n";
  checkPassesKeepResults(source);
}

TEST_CASE("passes: the comparison detects a wrongly folded weight") {
  // Guards the harness itself: a pass that got one weight wrong must fail.
  std::string diagnostics;
  std::unique_ptr<ir::Model> model =
      buildModel("Net = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))\n", 5,
                 diagnostics);
  REQUIRE(model);
  ir::Model before = *model;
  optimize(*model);
  REQUIRE(model->ops.size() == 1);
  reference::Matrix x = randomInput(4, 3, 11);
  CHECK(maxRelativeError(reference::run(before, x),
                         reference::run(*model, x)) <= kTolerance);
  model->params[model->ops[0].weight].data.data[4] *= 1.001f;
  CHECK(maxRelativeError(reference::run(before, x), reference::run(*model, x)) >
        kTolerance);
}

TEST_CASE("shape-check: types every value") {
  std::string diagnostics;
  std::unique_ptr<ir::Model> model = buildModel(
      "Net = nn.Sequential(nn.Dropout(), nn.Linear(3, 7), nn.ReLU(), "
      "nn.LayerNorm(7), nn.Linear(7, 2))\n",
      1, diagnostics);
  REQUIRE(model);
  CHECK(diagnostics.empty());
  std::vector<int64_t> widths;
  for (const ir::Value &value : model->values)
    widths.push_back(value.type.features());
  CHECK(widths == std::vector<int64_t>{3, 3, 7, 7, 7, 2});
  CHECK(model->inputType().str() == "f32[B,3]");
  CHECK(model->outputType() == ir::Type::batched(2));
}

TEST_CASE("shape-check: mismatched widths are reported at the layer") {
  struct Case {
    const char *source;
    const char *message;
  } cases[] = {
      {"Net = nn.Sequential(nn.Linear(2, 3), nn.Linear(2, 1))\n",
       "t.nn:1:38: error: Linear(2, 1) expects 2 input features, but the layer "
       "before it (Linear(2, 3)) produces 3\n"},
      {"Net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.BatchNorm1d(4))\n",
       "t.nn:1:49: error: BatchNorm1d(4) expects 4 features, but it receives "
       "3 from Linear(2, 3)\n"},
      {"Net = nn.Sequential(nn.Linear(2, 3), nn.Dropout(), nn.LayerNorm(2))\n",
       "t.nn:1:52: error: LayerNorm(2) expects 2 features, but the layer "
       "before "
       "it (Linear(2, 3)) produces 3\n"},
      {"Net = nn.Sequential(nn.LayerNorm(5), nn.Linear(4, 1))\n",
       "t.nn:1:38: error: Linear(4, 1) expects 4 input features, but the layer "
       "before it (LayerNorm(5)) produces 5\n"},
      {"Net = nn.Sequential(nn.ReLU(), nn.Tanh())\n",
       "t.nn:1:21: error: cannot tell how many input features 'Net' takes: it "
       "has no Linear, BatchNorm1d or LayerNorm layer\n"},
  };
  for (const Case &c : cases) {
    std::string diagnostics;
    CHECK_FALSE(buildModel(c.source, 1, diagnostics));
    INFO(diagnostics);
    CHECK(diagnostics.rfind(c.message, 0) == 0);
  }
}

TEST_CASE("shape-check: the note points at the layer that set the width") {
  std::string diagnostics;
  CHECK_FALSE(buildModel("Enc = nn.Sequential(nn.Linear(8, 4), nn.Tanh())\n"
                         "Net = nn.Sequential(Enc, nn.Linear(3, 1))\n",
                         1, diagnostics));
  CHECK(diagnostics ==
        "t.nn:2:26: error: Linear(3, 1) expects 3 input features, but it "
        "receives 4 from Linear(8, 4)\n"
        "  Net = nn.Sequential(Enc, nn.Linear(3, 1))\n"
        "                           ^~~~~~~~~~~~~~~\n"
        "t.nn:1:21: note: Linear(8, 4) produces 4 features here\n"
        "  Enc = nn.Sequential(nn.Linear(8, 4), nn.Tanh())\n"
        "                      ^~~~~~~~~~~~~~~\n");
}

TEST_CASE("verifier: the fused form is what fuse leaves") {
  std::string diagnostics;
  std::unique_ptr<ir::Model> model =
      buildModel("Net = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4),\n"
                 "    nn.ReLU(), nn.Identity(), nn.LayerNorm(4),\n"
                 "    nn.Linear(4, 2), nn.Softmax(dim=-1))\n",
                 1, diagnostics);
  INFO(diagnostics);
  REQUIRE(model);
  // Before the passes: the first op that fuse would remove is reported.
  CHECK(ir::verifyFusedForm(*model) ==
        "op 0 (linear) is not in fused form (dense, act, softmax, "
        "log_softmax, layer_norm or affine)");
  ir::Model unfolded = *model;
  unfolded.ops[0].kind = ir::OpKind::Dense;
  CHECK(ir::verifyFusedForm(unfolded).find("op 1 (batch_norm) is not") == 0);
  unfolded.ops[1].kind = ir::OpKind::Affine;
  CHECK(ir::verifyFusedForm(unfolded).find("op 3 (identity) is not") == 0);

  optimize(*model);
  CHECK(ir::verifyFusedForm(*model).empty());
  // dense (+ BatchNorm, ReLU), layer_norm, dense (+ softmax).
  REQUIRE(model->ops.size() == 3);
  CHECK(model->ops[2].rowNorm == ir::RowNorm::Softmax);
  // A row norm belongs in a dense epilogue only.
  ir::Model misplaced = *model;
  misplaced.ops[1].rowNorm = ir::RowNorm::LogSoftmax;
  CHECK(ir::verifyFusedForm(misplaced) ==
        "op 1 (layer_norm) carries a row norm outside a dense epilogue");
}

TEST_CASE("shape-check: a model without ops is an error, not a crash") {
  ir::Model model;
  model.name = "Empty";
  model.addValue();
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  std::string diagnostics;
  diag.captureTo(&diagnostics);
  CHECK_FALSE(passes::createShapeCheckPass()->run(model, diag));
  CHECK(diagnostics == "seqc: error: model 'Empty' has no layers\n");
}
