//===- LectureTest.cpp - The lecture's printed numbers --------------------===//
//
// The first acceptance test: the lecture's networks, with the weights its
// slides print to 4 decimals, reproduce the layer outputs the slides show.
// The slides computed with the unrounded weights, so each value may differ
// by what rounding the weights to 4 decimals (+-5e-5 each) can cause; the
// bound is propagated through the layers below rather than guessed.
//
//===----------------------------------------------------------------------===//

#include "compiler/driver/Pipeline.h"
#include "compiler/reference/Interpreter.h"

#include <doctest/doctest.h>

#include <cmath>

using namespace seqc;

namespace {

std::unique_ptr<ir::Model> loadExample(const char *file, SourceManager &sm,
                                       DiagnosticEngine &diag) {
  driver::DriverOptions opts;
  opts.command = driver::Command::Run;
  opts.positional = {std::string(SEQC_SOURCE_DIR) + "/examples/lecture/" +
                     file};
  return driver::loadCheckedModel(opts, sm, diag);
}

constexpr double kWeightRounding = 5e-5; // the slides print 4 decimals
constexpr double kPrintRounding = 5e-5;

} // namespace

TEST_CASE("lecture: the 2-3-2-1 network reproduces HiddenLayer1 and "
          "HiddenLayer2") {
  for (const char *file : {"mynet.nn", "mynet_inline.nn"}) {
    INFO(file);
    SourceManager sm;
    DiagnosticEngine diag(sm);
    std::unique_ptr<ir::Model> model = loadExample(file, sm, diag);
    REQUIRE(model);
    reference::Matrix x(3, 2);
    x.data = {1, 2, 2, 3, 10, 5};
    std::vector<reference::Matrix> layers;
    reference::run(*model, x, &layers);
    REQUIRE(layers.size() == 3);

    const double slideH1[3][3] = {{-1.2635, -2.4348, -1.1135},
                                  {-1.3097, -3.6061, -1.4398},
                                  {1.4340, -9.3577, -2.2441}};
    const double slideH2[3][2] = {
        {-0.2625, -0.1530}, {-0.6852, -0.1632}, {-4.0429, 0.4054}};
    const std::vector<float> &w2 = model->params[2].data.data; // 1.weight
    for (int r = 0; r < 3; ++r) {
      // Error of layer 1 from rounded weights and bias.
      double bound1 = kWeightRounding *
                      (std::fabs(x.at(r, 0)) + std::fabs(x.at(r, 1)) + 1.0);
      double h1Abs = 0.0;
      for (int c = 0; c < 3; ++c) {
        CHECK(std::fabs(layers[0].at(r, c) - slideH1[r][c]) <=
              bound1 + kPrintRounding);
        h1Abs += std::fabs(layers[0].at(r, c));
      }
      for (int c = 0; c < 2; ++c) {
        double rowAbs = std::fabs(w2[c * 3]) + std::fabs(w2[c * 3 + 1]) +
                        std::fabs(w2[c * 3 + 2]);
        double bound2 =
            rowAbs * bound1 + kWeightRounding * (h1Abs + 1.0) + kPrintRounding;
        CHECK(std::fabs(layers[1].at(r, c) - slideH2[r][c]) <= bound2);
      }
    }
  }
}

TEST_CASE("lecture: the one-layer sigmoid example gives [0.98, 0.12]") {
  SourceManager sm;
  DiagnosticEngine diag(sm);
  std::unique_ptr<ir::Model> model = loadExample("sigmoid.nn", sm, diag);
  REQUIRE(model);
  reference::Matrix x(1, 2);
  x.data = {1, -1};
  std::vector<reference::Matrix> layers;
  reference::Matrix y = reference::run(*model, x, &layers);
  // The pre-activation the slide shows under the brace.
  CHECK(layers[0].at(0, 0) == 4.0);
  CHECK(layers[0].at(0, 1) == -2.0);
  CHECK(std::round(y.at(0, 0) * 100) / 100 == doctest::Approx(0.98));
  CHECK(std::round(y.at(0, 1) * 100) / 100 == doctest::Approx(0.12));
  CHECK(y.at(0, 0) == doctest::Approx(1.0 / (1.0 + std::exp(-4.0))));
}
