//===- RunCommand.cpp - seqc run ------------------------------------------===//

#include "compiler/driver/Commands.h"
#include "compiler/driver/Pipeline.h"
#include "compiler/driver/Targets.h"
#include "compiler/driver/TensorPrinter.h"
#include "compiler/reference/Interpreter.h"
#include "compiler/support/FileIO.h"
#include "compiler/support/Limits.h"
#include "frontend/Npy.h"
#include "frontend/TensorFile.h"

#include <fmt/format.h>

namespace seqc::driver {

namespace {

/// `MyNet[2][0]` for path "2.0"; `MyNet.fc1` for OrderedDict names.
std::string layerExpression(const std::string &model, const std::string &path) {
  std::string out = model;
  size_t start = 0;
  while (start < path.size()) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(
        start, dot == std::string::npos ? std::string::npos : dot - start);
    bool numeric = !part.empty() &&
                   part.find_first_not_of("0123456789") == std::string::npos;
    out += numeric ? "[" + part + "]" : "." + part;
    if (dot == std::string::npos)
      break;
    start = dot + 1;
  }
  return out;
}

std::string defaultBackend() {
#ifdef SEQC_HAVE_LLVM
  return "cpu";
#else
  return "ref";
#endif
}

/// Prints every layer's output as the lecture does: HiddenLayer1, ...
void printLayers(const ir::Model &model,
                 const std::vector<reference::Matrix> &outputs) {
  std::string previous = "X";
  for (size_t i = 0; i < model.ops.size(); ++i) {
    const ir::Op &op = model.ops[i];
    std::string name = i + 1 == model.ops.size()
                           ? std::string("Output")
                           : fmt::format("HiddenLayer{}", i + 1);
    fmt::print("{} = {}({})  # {}\n", name,
               layerExpression(model.name, op.path), previous, op.description);
    const reference::Matrix &m = outputs[i];
    fmt::print("{}", formatMatrix(m.data, m.rows, m.cols));
    previous = name;
  }
}

} // namespace

int runRunCommand(const DriverOptions &opts) {
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  if (opts.input.empty()) {
    diag.error("'seqc run' needs --input X.npy or --input X.csv");
    return 1;
  }
  std::string backend = opts.backend.empty() ? defaultBackend() : opts.backend;
  if (opts.layers && backend != "ref") {
    if (!opts.backend.empty()) {
      diag.error("--layers shows the reference interpreter's view of every "
                 "layer; use it with --backend ref (or no --backend)");
      return 1;
    }
    backend = "ref";
  }
  if (backend == "ref" && !externalWeightsOnCpu(opts, "--backend", "ref", diag))
    return 1;
  std::unique_ptr<ir::Model> model = loadCheckedModel(opts, sourceMgr, diag);
  if (!model)
    return 1;
  std::optional<Tensor> input = readTensorFile(opts.input, sourceMgr, diag);
  if (!input)
    return 1;
  int64_t batch = input->shape.size() == 2 ? input->shape[0] : 1;
  int64_t features = input->shape.back();
  int64_t expected = model->inputType().features();
  if (features != expected) {
    diag.fileError(opts.input,
                   fmt::format("input has {} features per row, but model '{}' "
                               "takes {}",
                               features, model->name, expected));
    return 1;
  }
  if (static_cast<uint64_t>(batch) > limits::kMaxBatch) {
    diag.fileError(opts.input, fmt::format("batch of {} rows is more than the "
                                           "limit of {}",
                                           batch, limits::kMaxBatch));
    return 1;
  }
  if (!opts.output.empty() && isSameFile(opts.output, opts.input)) {
    diag.error(
        fmt::format("refusing to overwrite the input file '{}'", opts.input));
    return 1;
  }
  int64_t outFeatures = model->outputType().features();
  std::vector<double> result;

  if (!opts.stopAfter.empty() && backend != "ref") {
    diag.error("--stop-after applies to --backend ref only");
    return 1;
  }
  bool writeDouble = backend == "ref";
  if (backend == "ref") {
    if (!opts.stopAfter.empty() &&
        !optimizeModel(*model, opts, diag, opts.stopAfter))
      return 1;
    reference::Matrix x(batch, features);
    for (size_t i = 0; i < input->data.size(); ++i)
      x.data[i] = input->data[i];
    std::vector<reference::Matrix> layers;
    reference::Matrix y =
        reference::run(*model, x, opts.layers ? &layers : nullptr);
    if (opts.layers) {
      printLayers(*model, layers);
      return 0;
    }
    result = std::move(y.data);
  } else {
    if (!optimizeModel(*model, opts, diag))
      return 1;
    std::unique_ptr<Executor> executor = createExecutor(*model, opts, diag);
    if (!executor)
      return 1;
    std::vector<float> out(static_cast<size_t>(batch * outFeatures));
    if (!executor->run(input->data.data(), out.data(),
                       static_cast<uint64_t>(batch), diag))
      return 1;
    result.assign(out.begin(), out.end());
  }

  if (opts.output.empty()) {
    fmt::print("{}", formatMatrix(result, batch, outFeatures));
    return 0;
  }
  if (writeDouble) {
    // The reference backend computes in float64 and says so in its output.
    std::string error;
    if (!writeFileAtomic(opts.output,
                         serializeNpyDouble({batch, outFeatures}, result),
                         error)) {
      diag.error(error);
      return 2;
    }
    return 0;
  }
  Tensor out;
  out.shape = {batch, outFeatures};
  out.data.assign(result.begin(), result.end());
  return writeNpy(opts.output, out, diag) ? 0 : 2;
}

} // namespace seqc::driver
