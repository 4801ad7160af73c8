//===- ReferenceTarget.cpp - The float64 interpreter as an executor -------===//
//
// Part of seqc. `seqc bench --backend ref` times the reference interpreter
// through the same Executor interface as the compiled backends, as a sanity
// check of the benchmark itself; it is an oracle, not a fast path.
//
//===----------------------------------------------------------------------===//

#include "compiler/driver/Targets.h"
#include "compiler/reference/Interpreter.h"

#include <algorithm>

namespace seqc::driver {

namespace {

class ReferenceExecutor final : public Executor {
public:
  ReferenceExecutor(const ir::Model &model, Precision precision)
      : model(model), precision(precision) {}

  bool run(const float *input, float *output, uint64_t batch,
           DiagnosticEngine &) override {
    int64_t inFeatures = model.inputType().features();
    int64_t outFeatures = model.outputType().features();
    reference::Matrix x(static_cast<int64_t>(batch), inFeatures);
    std::copy_n(input, x.data.size(), x.data.begin());
    reference::Matrix y = reference::run(model, x, nullptr, precision);
    for (size_t i = 0; i < static_cast<size_t>(batch * outFeatures); ++i)
      output[i] = static_cast<float>(y.data[i]);
    return true;
  }

private:
  const ir::Model &model;
  Precision precision;
};

} // namespace

std::unique_ptr<Executor> createReferenceExecutor(const ir::Model &model,
                                                  Precision precision) {
  return std::make_unique<ReferenceExecutor>(model, precision);
}

} // namespace seqc::driver
