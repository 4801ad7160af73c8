//===- InputLayoutTest.cpp - Inputs of any rank as [rows, features] -------===//
//
// Each case is what PyTorch does with the same model and input shape: the
// rows and features seqc runs, the output shape `seqc run --output` writes,
// or the layer that makes seqc refuse.
//
//===----------------------------------------------------------------------===//

#include "compiler/driver/InputLayout.h"
#include "frontend/Lowering.h"
#include "frontend/Parser.h"
#include "frontend/Sema.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <memory>
#include <string>
#include <utility>

using namespace seqc;
using driver::InputLayout;
using driver::planInputLayout;

namespace {

/// Plans \p shape for the last model of \p source, keeping the diagnostics.
struct Planned {
  std::optional<InputLayout> layout;
  std::string diagnostics;
};

Planned plan(const std::string &source, std::vector<int64_t> shape) {
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  Planned result;
  diag.captureTo(&result.diagnostics);
  uint32_t id = sourceMgr.addBuffer("t.nn", source);
  std::optional<frontend::File> file =
      frontend::parseBuffer(id, sourceMgr, diag);
  REQUIRE(file);
  std::optional<frontend::Program> program =
      frontend::analyzeFile(*file, frontend::SemaOptions{}, diag);
  REQUIRE(program);
  REQUIRE_FALSE(program->models.empty());
  const frontend::Program::Binding &binding = program->models.back();
  std::unique_ptr<ir::Model> model =
      frontend::lowerModule(binding.name, *binding.module);
  // The width the shape check would give the input: the first layer's.
  for (const ir::Op &op : model->ops)
    if (op.inFeatures != 0) {
      model->values.front().type = ir::Type::batched(op.inFeatures);
      break;
    }
  result.layout = planInputLayout(*model, shape, "x.npy", diag);
  CHECK(diag.getNumErrors() == (result.layout ? 0u : 1u));
  return result;
}

void expectLayout(const Planned &planned, int64_t rows, int64_t features,
                  std::vector<int64_t> outputShape) {
  INFO(planned.diagnostics);
  REQUIRE(planned.layout);
  CHECK(planned.layout->rows == rows);
  CHECK(planned.layout->features == features);
  CHECK(planned.layout->outputShape(10) == outputShape);
}

/// The first line of the diagnostics.
std::string firstLine(const Planned &planned) {
  return planned.diagnostics.substr(0, planned.diagnostics.find('\n'));
}

const char *kFlattenNet = "Net = nn.Sequential(nn.Flatten(), nn.Linear(64, "
                          "32), nn.ReLU(), nn.Linear(32, 10))\n";
const char *kLinearNet =
    "Net = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 10))\n";

} // namespace

TEST_CASE("[batch, features] and 1-D inputs run as before") {
  expectLayout(plan(kLinearNet, {5, 8}), 5, 8, {5, 10});
  expectLayout(plan(kFlattenNet, {5, 64}), 5, 64, {5, 10});
  Planned wrong = plan(kLinearNet, {5, 9});
  CHECK(wrong.diagnostics ==
        "x.npy: error: input has 9 features per row, but model 'Net' takes "
        "8\n");
}

TEST_CASE("nn.Flatten() first flattens each sample") {
  expectLayout(plan(kFlattenNet, {5, 8, 8}), 5, 64, {5, 10});
  expectLayout(plan(kFlattenNet, {5, 4, 4, 4}), 5, 64, {5, 10});
  expectLayout(plan(kFlattenNet, {0, 8, 8}), 0, 64, {0, 10});
  // Elementwise layers and no-ops before the Flatten change nothing.
  expectLayout(plan("Net = nn.Sequential(nn.Dropout(0.1), nn.ReLU(), "
                    "nn.Flatten(1, -1), nn.Linear(64, 10))\n",
                    {3, 2, 32}),
               3, 64, {3, 10});
  // Flatten(-1, -1) and Flatten(1, 1) flatten one dimension: no-ops, so the
  // later Flatten() is the one that matters.
  expectLayout(plan("Net = nn.Sequential(nn.Flatten(-1, -1), nn.Flatten(1, "
                    "1), nn.Flatten(), nn.Linear(64, 10))\n",
                    {2, 8, 8}),
               2, 64, {2, 10});
}

TEST_CASE("without Flatten, rows run along the last dimension") {
  // PyTorch's Linear works on the last dimension: [5, 3, 8] -> [5, 3, 10].
  expectLayout(plan(kLinearNet, {5, 3, 8}), 15, 8, {5, 3, 10});
  expectLayout(plan(kLinearNet, {2, 3, 4, 8}), 24, 8, {2, 3, 4, 10});
  expectLayout(plan("Net = nn.Sequential(nn.Linear(8, 16), nn.LayerNorm(16), "
                    "nn.Linear(16, 10), nn.Softmax(dim=-1))\n",
                    {5, 3, 8}),
               15, 8, {5, 3, 10});
  // A Flatten that only flattens one dimension of 3-D data is a no-op too.
  expectLayout(plan("Net = nn.Sequential(nn.Flatten(-1, -1), nn.Linear(8, "
                    "10))\n",
                    {5, 3, 8}),
               15, 8, {5, 3, 10});
}

TEST_CASE("a model whose width is the sample size is flattened, with a note") {
  Planned planned = plan("Net = nn.Sequential(nn.Linear(64, 10))\n", {5, 8, 8});
  expectLayout(planned, 5, 64, {5, 10});
  CHECK(planned.diagnostics ==
        "x.npy: note: model 'Net' does not start with nn.Flatten(); the (5, "
        "8, 8) input is flattened to 64 features per sample as if it did\n");
  // When the last dimension fits the model, PyTorch's reading wins.
  expectLayout(plan(kLinearNet, {5, 1, 8}), 5, 8, {5, 1, 10});
}

TEST_CASE("Flatten after a layer on the last dimension") {
  const char *late = "Net = nn.Sequential(nn.Linear(8, 16), nn.Flatten(), "
                     "nn.Linear(16, 10))\n";
  // One row per sample: the Flatten only drops a dimension of size 1.
  expectLayout(plan(late, {5, 1, 8}), 5, 8, {5, 10});
  Planned planned = plan(late, {5, 3, 8});
  CHECK_FALSE(planned.layout);
  CHECK(firstLine(planned) ==
        "x.npy: error: input has shape (5, 3, 8): layer 0 (Linear(8, 16)) "
        "works along its last dimension before the Flatten of layer 1 "
        "(Flatten(start_dim=1, end_dim=-1)) makes it 2-D, which seqc cannot "
        "run; flatten first or "
        "pass [batch, features] data");
  // The note points at the layer.
  CHECK(planned.diagnostics.find("t.nn:1:21: note: this layer\n") !=
        std::string::npos);
}

TEST_CASE("sizes that fit neither reading are refused") {
  Planned planned = plan(kFlattenNet, {5, 8, 7});
  CHECK(
      firstLine(planned) ==
      "x.npy: error: input has shape (5, 8, 7): layer 0 (Flatten(start_dim=1, "
      "end_dim=-1)) makes each sample 56 features, but model 'Net' takes 64");
  planned = plan(kLinearNet, {5, 3, 9});
  CHECK(planned.diagnostics ==
        "x.npy: error: input has shape (5, 3, 9): 9 features along its last "
        "dimension and 27 per sample, but model 'Net' takes 8 (start the "
        "model with nn.Flatten() to flatten each sample)\n");
  planned = plan(kLinearNet, {4294967296, 4294967296, 0, 8});
  CHECK(planned.diagnostics == "x.npy: error: input shape (4294967296, "
                               "4294967296, 0, 8) overflows 64 bits\n");
}

TEST_CASE("layers that do not act along the last dimension are refused") {
  // Each model runs a [5, 3, 8] input; the error names the layer and why.
  const std::pair<const char *, const char *> cases[] = {
      {"nn.Linear(8, 10), nn.Softmax(dim=1)",
       "layer 1 (Softmax(dim=1)) would not: dim=1 is not the last dimension "
       "of 3-D data"},
      {"nn.Linear(8, 10), nn.LogSoftmax()",
       "layer 1 (LogSoftmax()) would not: without dim, PyTorch picks "
       "dimension 0 of 3-D data, not the last"},
      {"nn.BatchNorm1d(8), nn.Linear(8, 10)",
       "layer 0 (BatchNorm1d(8)) would not: BatchNorm1d reads 3-D data as "
       "[batch, channels, length], with channels in dimension 1"},
      // start_dim comes after end_dim on 3-D data.
      {"nn.Flatten(-1, 1), nn.Linear(8, 10)",
       "layer 0 (Flatten(start_dim=-1, end_dim=1)) would not: on 3-D data "
       "its start_dim -1 and end_dim 1 do not flatten each sample to a row"},
  };
  for (const auto &[layers, why] : cases) {
    CAPTURE(layers);
    Planned planned =
        plan(fmt::format("Net = nn.Sequential({})\n", layers), {5, 3, 8});
    CHECK(firstLine(planned) ==
          fmt::format("x.npy: error: input has shape (5, 3, 8), which seqc "
                      "runs as rows along its last dimension, but {}",
                      why));
  }
  // Before a Flatten, the same layers are refused even with one row per
  // sample.
  Planned planned = plan("Net = nn.Sequential(nn.BatchNorm1d(8), "
                         "nn.Flatten(), nn.Linear(8, 10))\n",
                         {5, 1, 8});
  CHECK_FALSE(planned.layout);
  // After a Flatten the data is 2-D: the softmax's dim is the last.
  expectLayout(plan("Net = nn.Sequential(nn.Flatten(), nn.Linear(64, 10), "
                    "nn.Softmax(dim=1))\n",
                    {5, 8, 8}),
               5, 64, {5, 10});
}
