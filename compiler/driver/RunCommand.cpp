//===- RunCommand.cpp - seqc run ------------------------------------------===//

#include "compiler/driver/Commands.h"
#include "compiler/driver/InputLayout.h"
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

Backend defaultBackend() {
#ifdef SEQC_HAVE_LLVM
  return Backend::Cpu;
#else
  return Backend::Ref;
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

/// The backend `seqc run` uses: --backend, else the default; --layers
/// needs the reference interpreter. Nullopt after reporting.
std::optional<Backend> chooseBackend(const DriverOptions &opts,
                                     DiagnosticEngine &diag) {
  Backend backend = opts.backend.value_or(defaultBackend());
  if (opts.layers && backend != Backend::Ref) {
    if (opts.backend) {
      diag.error("--layers shows the reference interpreter's view of every "
                 "layer; use it with --backend ref (or no --backend)");
      return std::nullopt;
    }
    backend = Backend::Ref;
  }
  if (backend == Backend::Ref &&
      !externalWeightsAllowed(opts, Backend::Ref, diag))
    return std::nullopt;
  return backend;
}

/// The input as read, and how it runs.
struct RunInput {
  Tensor tensor;
  InputLayout layout;
};

/// Reads --input, maps it onto \p model (InputLayout.h) and checks that
/// --output does not overwrite it. Nullopt after reporting.
std::optional<RunInput> readInput(const DriverOptions &opts,
                                  const ir::Model &model,
                                  SourceManager &sourceMgr,
                                  DiagnosticEngine &diag) {
  std::optional<Tensor> input = readTensorFile(opts.input, sourceMgr, diag);
  if (!input)
    return std::nullopt;
  std::optional<InputLayout> layout =
      planInputLayout(model, input->shape, opts.input, diag);
  if (!layout)
    return std::nullopt;
  if (static_cast<uint64_t>(layout->rows) > limits::kMaxBatch) {
    diag.fileError(opts.input, fmt::format("batch of {} rows is more than the "
                                           "limit of {}",
                                           layout->rows, limits::kMaxBatch));
    return std::nullopt;
  }
  if (!opts.output.empty() && isSameFile(opts.output, opts.input)) {
    diag.error(
        fmt::format("refusing to overwrite the input file '{}'", opts.input));
    return std::nullopt;
  }
  return RunInput{std::move(*input), std::move(*layout)};
}

/// Prints the result as `[rows, outFeatures]`, or writes it to --output in
/// PyTorch's shape (InputLayout::outputShape): as float64 when it is the
/// reference's (which says so in its output), else as float32.
int writeResult(const DriverOptions &opts, const std::vector<double> &result,
                const InputLayout &layout, int64_t outFeatures, bool asDouble,
                DiagnosticEngine &diag) {
  if (opts.output.empty()) {
    fmt::print("{}", formatMatrix(result, layout.rows, outFeatures));
    return 0;
  }
  std::vector<int64_t> shape = layout.outputShape(outFeatures);
  if (asDouble) {
    std::string error;
    if (!writeFileAtomic(opts.output, serializeNpyDouble(shape, result),
                         error)) {
      diag.error(error);
      return 2;
    }
    return 0;
  }
  Tensor out;
  out.shape = std::move(shape);
  out.data.assign(result.begin(), result.end());
  return writeNpy(opts.output, out, diag) ? 0 : 2;
}

/// --backend ref: interprets the checked IR (or the IR after --stop-after)
/// in float64.
int runReference(const DriverOptions &opts, ir::Model &model,
                 const RunInput &input, DiagnosticEngine &diag) {
  if (!opts.stopAfter.empty() &&
      !optimizeModel(model, opts, diag, opts.stopAfter))
    return 1;
  std::optional<Precision> precision = referencePrecision(opts, diag);
  if (!precision)
    return 1;
  reference::Matrix x(input.layout.rows, input.layout.features);
  for (size_t i = 0; i < input.tensor.data.size(); ++i)
    x.data[i] = input.tensor.data[i];
  std::vector<reference::Matrix> layers;
  reference::Matrix y =
      reference::run(model, x, opts.layers ? &layers : nullptr, *precision);
  if (opts.layers) {
    printLayers(model, layers);
    return 0;
  }
  return writeResult(opts, y.data, input.layout, model.outputType().features(),
                     /*asDouble=*/true, diag);
}

/// --backend cpu|cuda: optimises the model, compiles and runs it.
int runCompiled(const DriverOptions &opts, Backend backend, ir::Model &model,
                const RunInput &input, DiagnosticEngine &diag) {
  if (!optimizeModel(model, opts, diag))
    return 1;
  std::unique_ptr<Executor> executor =
      createExecutor(model, backend, opts, diag);
  if (!executor)
    return 1;
  int64_t rows = input.layout.rows;
  int64_t outFeatures = model.outputType().features();
  std::vector<float> out(static_cast<size_t>(rows * outFeatures));
  if (!executor->run(input.tensor.data.data(), out.data(),
                     static_cast<uint64_t>(rows), diag))
    return 1;
  std::vector<double> result(out.begin(), out.end());
  return writeResult(opts, result, input.layout, outFeatures,
                     /*asDouble=*/false, diag);
}

} // namespace

int runRunCommand(const DriverOptions &opts) {
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  if (opts.input.empty()) {
    diag.error("'seqc run' needs --input X.npy or --input X.csv");
    return 1;
  }
  std::optional<Backend> backend = chooseBackend(opts, diag);
  if (!backend)
    return 1;
  std::unique_ptr<ir::Model> model = loadCheckedModel(opts, sourceMgr, diag);
  if (!model)
    return 1;
  std::optional<RunInput> input = readInput(opts, *model, sourceMgr, diag);
  if (!input)
    return 1;
  if (!opts.stopAfter.empty() && *backend != Backend::Ref) {
    diag.error("--stop-after applies to --backend ref only");
    return 1;
  }
  if (*backend == Backend::Ref)
    return runReference(opts, *model, *input, diag);
  return runCompiled(opts, *backend, *model, *input, diag);
}

} // namespace seqc::driver
