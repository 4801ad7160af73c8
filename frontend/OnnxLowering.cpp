//===- OnnxLowering.cpp - A chain of ONNX nodes as seqc IR ----------------===//
//
// Part of seqc. Lowering a decoded graph:
//   1. index the values: every node input must be defined before the node
//      (a graph input, an initializer or an earlier output: ONNX's
//      topological order); nodes that only read constants are folded
//      (Constant, and Identity or Transpose of a constant); the others are
//      the chain's nodes, and each value records which of them read it;
//   2. check the one graph input (float, `[N, F]`, or `[N, d1, d2, ...]`
//      read as `[N, d1*d2*...]`) and the one output;
//   3. walk from the input to the output: where the current value's only
//      reader is a structural node (Gemm, MatMul, Flatten, Reshape,
//      Identity, Dropout, BatchNormalization, LayerNormalization, Softmax,
//      LogSoftmax), lower that node; where it starts element-wise nodes,
//      grow a region over them and lower the longest prefix that ends in
//      one value and is either a pattern (OnnxPatterns.h) or one
//      activation node;
//   4. require every chain node to have been lowered.
// Value ranks are tracked so that element-wise nodes may run on a rank-4
// input before its Flatten, while everything that is not element-wise
// needs `[N, F]`.
//
//===----------------------------------------------------------------------===//

#include "frontend/OnnxImport.h"
#include "frontend/OnnxPatterns.h"

#include "compiler/support/Quote.h"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <set>
#include <unordered_set>

namespace seqc::frontend {

namespace {

/// What the error for an unsupported node lists.
constexpr std::string_view kSupportedOps =
    "Gemm, MatMul (+ Add), Flatten and Reshape to [N, -1], Identity, "
    "Dropout, BatchNormalization, LayerNormalization (or its "
    "ReduceMean/Sub/Pow/Sqrt/Div pattern), Relu, Sigmoid, Tanh, LeakyRelu, "
    "Elu, Selu with gamma 1, Softplus, Softsign, HardSigmoid with alpha 1/6 "
    "and beta 1/2, HardSwish, Mish, Clip, Gelu, the Erf and Tanh patterns of "
    "GELU, Sigmoid + Mul (SiLU), Abs/Add/Div (Softsign), and Softmax and "
    "LogSoftmax over the last axis";

bool isStructuralOp(std::string_view op) {
  static constexpr std::string_view kOps[] = {"Gemm",
                                              "MatMul",
                                              "Flatten",
                                              "Reshape",
                                              "Identity",
                                              "Dropout",
                                              "BatchNormalization",
                                              "LayerNormalization",
                                              "Softmax",
                                              "LogSoftmax"};
  return std::find(std::begin(kOps), std::end(kOps), op) != std::end(kOps);
}

bool isStandardDomain(const OnnxNode &node) {
  return node.domain.empty() || node.domain == "ai.onnx";
}

double floatAttribute(const OnnxNode &node, std::string_view name,
                      double fallback) {
  const OnnxAttribute *attribute = node.findAttribute(name);
  if (!attribute)
    return fallback;
  if (attribute->kind == OnnxAttribute::Kind::Int)
    return static_cast<double>(attribute->i);
  return attribute->kind == OnnxAttribute::Kind::Float ? attribute->f
                                                       : fallback;
}

int64_t intAttribute(const OnnxNode &node, std::string_view name,
                     int64_t fallback) {
  const OnnxAttribute *attribute = node.findAttribute(name);
  return attribute && attribute->kind == OnnxAttribute::Kind::Int ? attribute->i
                                                                  : fallback;
}

/// A parameter key from an initializer name: control bytes, quotes and
/// backslashes escaped, so the IR dump stays one line per parameter.
std::string paramKey(std::string_view name) {
  std::string key;
  for (char c : name) {
    unsigned char byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f || c == '"' || c == '\\')
      key += fmt::format("\\x{:02x}", byte);
    else
      key += c;
  }
  return key;
}

/// \p text as quoteName shows it, without the quotes.
std::string unquoted(std::string_view text) {
  std::string quoted = quoteName(text, 60);
  return quoted.substr(1, quoted.size() - 2);
}

/// A point where a growing region leaves one live value.
struct Cut {
  size_t numNodes;
  std::string value;
};

class OnnxLowering {
public:
  OnnxLowering(const OnnxGraph &graph, const std::string &modelName,
               std::string_view displayName, DiagnosticEngine &diag)
      : graph(graph), modelName(modelName), displayName(displayName),
        diag(diag), lowered(graph.nodes.size(), false),
        isConstantNode(graph.nodes.size(), false) {}

  std::unique_ptr<ir::Model> run();

private:
  // Reporting.
  bool fail(std::string_view message) {
    diag.fileError(displayName, message);
    return false;
  }
  bool failAt(size_t node, std::string_view message) {
    return fail(fmt::format("{}: {}", nodeRef(node), message));
  }
  bool unsupported(size_t node);
  std::string nodeRef(size_t node) const;
  std::string nodeLabel(size_t node) const;
  std::string valueRef(const std::string &value) const;

  // Step 1.
  bool indexValues();
  bool foldConstantNode(size_t index);
  // Step 2.
  bool checkInputAndOutput();
  // Step 3.
  bool walk();
  bool lowerStructural(size_t index);
  bool weightInput(size_t index, bool transposed, const OnnxTensor *&b,
                   int64_t &in, int64_t &out);
  bool lowerGemm(size_t index);
  bool lowerMatMul(size_t index);
  bool lowerBatchNorm(size_t index);
  bool lowerLayerNorm(size_t index);
  bool lowerSoftmax(size_t index);
  bool lowerReshape(size_t index);
  bool lowerNoOp(size_t index);
  bool lowerRegion();
  std::vector<Cut> growRegion(std::vector<size_t> &nodes);
  bool singleActivation(size_t index, ir::Activation &act, std::string &why);
  bool clipActivation(size_t index, ir::Activation &act, std::string &why);
  bool reportUnmatchedRegion(const std::vector<size_t> &nodes,
                             const std::string &why);

  // Helpers.
  const std::vector<size_t> &readersOf(const std::string &value) const;
  size_t usesOf(const std::string &value) const;
  const OnnxTensor *constantInput(size_t node, size_t slot);
  bool floatInput(size_t node, size_t slot, std::string_view role,
                  const OnnxTensor *&tensor);
  bool checkExtraOutputs(size_t index);
  bool requireRank2(size_t index, std::string_view why);
  bool fixWidth(size_t node, int64_t features, std::string_view what);
  std::optional<std::vector<float>>
  featureVector(size_t node, const OnnxTensor &tensor, std::string_view role);
  bool addFeatureParam(size_t node, ir::Op &op, ir::ParamId &slot,
                       const OnnxTensor &tensor, std::string_view role);
  /// A constant input per slot, from input 1 on.
  struct FeatureInput {
    ir::ParamId *slot;
    const char *role;
    bool required;
  };
  bool addFeatureInputs(size_t node, ir::Op &op,
                        std::initializer_list<FeatureInput> inputs);
  ir::Op &appendOp(ir::OpKind kind, size_t node, std::string description);
  bool addParam(ir::Op &op, ir::ParamId &slot, const OnnxTensor &source,
                std::vector<int64_t> shape, std::vector<float> data);
  void advance(size_t lastNode) { current = graph.nodes[lastNode].outputs[0]; }

  const OnnxGraph &graph;
  const std::string &modelName;
  std::string_view displayName;
  DiagnosticEngine &diag;
  std::unique_ptr<ir::Model> model;

  /// Constant values by name, and the tensors folded constants made.
  OnnxConstants constants;
  std::deque<OnnxTensor> folded;
  std::vector<bool> lowered;
  std::vector<bool> isConstantNode;
  /// Per value: the chain nodes that read it (each once), and how many
  /// input slots of chain nodes name it.
  std::unordered_map<std::string, std::vector<size_t>> readers;
  std::unordered_map<std::string, size_t> uses;

  std::string inputName, outputName;
  /// The declared batch size, or -1 when symbolic.
  int64_t declaredBatch = -1;
  int64_t inputWidth = 0;
  /// The value the walk has reached, its rank and feature count (0 while
  /// no declaration or layer has fixed it).
  std::string current;
  size_t rank = 2;
  int64_t width = 0;
  uint64_t numParamElements = 0;
};

//===----------------------------------------------------------------------===//
// Reporting
//===----------------------------------------------------------------------===//

std::string OnnxLowering::nodeRef(size_t index) const {
  const OnnxNode &node = graph.nodes[index];
  std::string op = unquoted(node.opType);
  if (!isStandardDomain(node))
    op = unquoted(node.domain) + "." + op;
  if (node.name.empty())
    return fmt::format("node {} ({})", index, op);
  return fmt::format("node {} ({}, {})", index, quoteName(node.name, 80), op);
}

/// `Gemm '/0/Gemm'`: how descriptions name a node. They end up in C
/// comments of generated headers, so `*` is escaped too.
std::string OnnxLowering::nodeLabel(size_t index) const {
  const OnnxNode &node = graph.nodes[index];
  std::string label =
      node.name.empty()
          ? fmt::format("{} (node {})", node.opType, index)
          : fmt::format("{} {}", node.opType, quoteName(node.name, 60));
  std::string safe;
  for (char c : label) {
    unsigned char byte = static_cast<unsigned char>(c);
    if (c == '*' || byte < 0x20 || byte == 0x7f)
      safe += fmt::format("\\x{:02x}", byte);
    else
      safe += c;
  }
  return safe;
}

std::string OnnxLowering::valueRef(const std::string &value) const {
  return quoteName(value, 80);
}

bool OnnxLowering::unsupported(size_t index) {
  return fail(fmt::format("{} is not supported; seqc imports chains of {}",
                          nodeRef(index), kSupportedOps));
}

//===----------------------------------------------------------------------===//
// Step 1: values
//===----------------------------------------------------------------------===//

bool OnnxLowering::foldConstantNode(size_t index) {
  const OnnxNode &node = graph.nodes[index];
  const std::string &out = node.outputs[0];
  if (node.opType == "Constant") {
    if (node.attributes.size() != 1)
      return failAt(index, "a Constant node needs exactly one attribute");
    const OnnxAttribute &value = node.attributes[0];
    OnnxTensor tensor;
    if (value.name == "value" && value.tensor) {
      tensor = *value.tensor;
    } else if (value.name == "value_float" || value.name == "value_floats") {
      tensor.isFloat = true;
      tensor.dataType = static_cast<int32_t>(OnnxDataType::Float);
      if (value.name == "value_float")
        tensor.floats = {static_cast<float>(value.f)};
      else
        tensor.floats.assign(value.floats.begin(), value.floats.end());
      if (value.name == "value_floats")
        tensor.dims = {static_cast<int64_t>(tensor.floats.size())};
    } else if (value.name == "value_int" || value.name == "value_ints") {
      tensor.isInt = true;
      tensor.dataType = static_cast<int32_t>(OnnxDataType::Int64);
      tensor.ints = value.name == "value_int" ? std::vector<int64_t>{value.i}
                                              : value.ints;
      if (value.name == "value_ints")
        tensor.dims = {static_cast<int64_t>(tensor.ints.size())};
    } else {
      return failAt(index, fmt::format("a Constant with attribute {} is not "
                                       "supported",
                                       quoteName(value.name)));
    }
    tensor.name = out;
    folded.push_back(std::move(tensor));
    constants[out] = &folded.back();
    return true;
  }
  if ((node.opType != "Identity" && node.opType != "Transpose") ||
      node.inputs.empty() || node.inputs[0].empty())
    return unsupported(index);
  const OnnxTensor *source = constants.at(node.inputs[0]);
  if (node.opType == "Identity") {
    // The copy takes the output's name: exporters share equal tensors
    // (a new BatchNorm's running_var and weight) through Identity nodes
    // named for the parameter they stand for.
    OnnxTensor tensor = *source;
    tensor.name = out;
    folded.push_back(std::move(tensor));
    constants[out] = &folded.back();
    return true;
  }
  if (source->dims.size() < 2) {
    constants[out] = source;
    return true;
  }
  const OnnxAttribute *perm = node.findAttribute("perm");
  if (source->dims.size() != 2 ||
      (perm && perm->ints != std::vector<int64_t>{1, 0}))
    return failAt(index, "only two-dimensional constants are transposed");
  // The transposed copy keeps the source's name: a MatMul by it is a
  // Linear layer whose weight is the source.
  OnnxTensor tensor = *source;
  int64_t rows = source->dims[0], cols = source->dims[1];
  tensor.dims = {cols, rows};
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      if (tensor.isFloat)
        tensor.floats[c * rows + r] = source->floats[r * cols + c];
      if (tensor.isInt)
        tensor.ints[c * rows + r] = source->ints[r * cols + c];
    }
  folded.push_back(std::move(tensor));
  constants[out] = &folded.back();
  return true;
}

bool OnnxLowering::indexValues() {
  std::unordered_set<std::string> defined;
  for (const OnnxTensor &tensor : graph.initializers) {
    constants[tensor.name] = &tensor;
    defined.insert(tensor.name);
  }
  for (const OnnxValueInfo &input : graph.inputs)
    defined.insert(input.name);
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const OnnxNode &node = graph.nodes[i];
    if (node.outputs.empty() || node.outputs[0].empty())
      return failAt(i, "the node has no output");
    bool allConstant = true;
    for (const std::string &input : node.inputs) {
      if (input.empty())
        continue;
      if (!defined.count(input))
        return failAt(
            i, fmt::format("input {} is not defined before the node (by the "
                           "graph's inputs, its initializers or an earlier "
                           "node; ONNX requires topological order)",
                           valueRef(input)));
      allConstant &= constants.count(input) != 0;
    }
    for (const std::string &output : node.outputs)
      if (!output.empty() && !defined.insert(output).second)
        return failAt(
            i, fmt::format("output {} is defined twice", valueRef(output)));
    if (allConstant && isStandardDomain(node)) {
      // A node that reads nothing but constants computes a constant.
      isConstantNode[i] = true;
      if (!foldConstantNode(i))
        return false;
      continue;
    }
    for (const std::string &input : node.inputs) {
      if (input.empty() || constants.count(input))
        continue;
      std::vector<size_t> &list = readers[input];
      if (list.empty() || list.back() != i)
        list.push_back(i);
      ++uses[input];
    }
  }
  return true;
}

const std::vector<size_t> &
OnnxLowering::readersOf(const std::string &value) const {
  static const std::vector<size_t> kNone;
  auto it = readers.find(value);
  return it == readers.end() ? kNone : it->second;
}

size_t OnnxLowering::usesOf(const std::string &value) const {
  auto it = uses.find(value);
  return it == uses.end() ? 0 : it->second;
}

//===----------------------------------------------------------------------===//
// Step 2: the graph's input and output
//===----------------------------------------------------------------------===//

bool OnnxLowering::checkInputAndOutput() {
  if (graph.inputs.size() != 1) {
    std::vector<std::string> names;
    for (const OnnxValueInfo &input : graph.inputs)
      names.push_back(valueRef(input.name));
    return fail(
        graph.inputs.empty()
            ? std::string("the graph has no input besides its initializers")
            : fmt::format("the graph has {} inputs ({}); seqc models take one",
                          names.size(), fmt::join(names, ", ")));
  }
  if (graph.outputs.size() != 1)
    return fail(fmt::format("the graph has {} outputs; seqc models have one",
                            graph.outputs.size()));
  const OnnxValueInfo &input = graph.inputs.front();
  inputName = input.name;
  outputName = graph.outputs.front().name;
  if (input.elemType != 0 &&
      input.elemType != static_cast<int32_t>(OnnxDataType::Float))
    return fail(fmt::format("the graph's input {} is {}; seqc models take "
                            "float32 (FLOAT)",
                            valueRef(inputName),
                            onnxDataTypeName(input.elemType)));
  if (input.hasShape) {
    rank = input.dims.size();
    if (rank < 2)
      return fail(fmt::format("the graph's input {} has rank {}; seqc needs "
                              "a batch dimension and features ([N, F])",
                              valueRef(inputName), rank));
    declaredBatch = input.dims[0].size;
    // Rank 2 may leave the features symbolic; higher ranks are flattened
    // into them, so every dimension must be known.
    uint64_t features = 1;
    for (size_t d = 1; d < rank; ++d) {
      int64_t size = input.dims[d].size;
      if (size < 0 && rank == 2)
        break;
      if (size <= 0 || features > static_cast<uint64_t>(limits::kMaxFeatures) /
                                      static_cast<uint64_t>(size))
        return fail(fmt::format(
            "the graph's input {} has dimension {} of {}; seqc needs a "
            "fixed size, and at most {} features in all",
            valueRef(inputName), d,
            size < 0 ? quoteName(input.dims[d].symbol) : std::to_string(size),
            limits::kMaxFeatures));
      features *= static_cast<uint64_t>(size);
      width = static_cast<int64_t>(features);
    }
    inputWidth = width;
  }
  if (inputName == outputName)
    return fail("the graph's output is its input: it computes nothing");
  current = inputName;
  return true;
}

//===----------------------------------------------------------------------===//
// Step 3: the walk
//===----------------------------------------------------------------------===//

bool OnnxLowering::walk() {
  while (current != outputName) {
    const std::vector<size_t> &users = readersOf(current);
    if (users.empty())
      return fail(fmt::format("no node reads {}, and the graph's output is "
                              "{}: the nodes do not form a chain from the "
                              "input to the output",
                              valueRef(current), valueRef(outputName)));
    for (size_t user : users)
      if (!isStandardDomain(graph.nodes[user]) ||
          (!isStructuralOp(graph.nodes[user].opType) &&
           !isOnnxPatternOp(graph.nodes[user].opType)))
        return unsupported(user);
    bool structural = isStructuralOp(graph.nodes[users.front()].opType);
    if (users.size() == 1 && structural) {
      if (!lowerStructural(users.front()))
        return false;
      continue;
    }
    bool elementWise = true;
    for (size_t user : users)
      elementWise &= isOnnxPatternOp(graph.nodes[user].opType);
    if (!elementWise) {
      std::vector<std::string> refs;
      for (size_t user : users)
        refs.push_back(nodeRef(user));
      return fail(fmt::format("{} is read by {} nodes ({}); seqc imports "
                              "chains, where each layer reads the one before",
                              valueRef(current), users.size(),
                              fmt::join(refs, ", ")));
    }
    if (!lowerRegion())
      return false;
  }
  if (!readersOf(outputName).empty())
    return failAt(readersOf(outputName).front(),
                  fmt::format("it reads the graph's output {}: seqc imports "
                              "chains that end at the output",
                              valueRef(outputName)));
  return true;
}

const OnnxTensor *OnnxLowering::constantInput(size_t node, size_t slot) {
  const OnnxNode &n = graph.nodes[node];
  if (slot >= n.inputs.size() || n.inputs[slot].empty())
    return nullptr;
  auto it = constants.find(n.inputs[slot]);
  return it == constants.end() ? nullptr : it->second;
}

/// The constant at input \p slot (null when omitted); false after
/// reporting when it is not a float tensor.
bool OnnxLowering::floatInput(size_t node, size_t slot, std::string_view role,
                              const OnnxTensor *&tensor) {
  tensor = constantInput(node, slot);
  if (tensor && !tensor->isFloat)
    return failAt(node, fmt::format("its {} {} is {}; seqc reads float "
                                    "tensors (FLOAT, FLOAT16, BFLOAT16, "
                                    "DOUBLE)",
                                    role, valueRef(tensor->name),
                                    onnxDataTypeName(tensor->dataType)));
  return true;
}

/// Outputs after the first (BatchNormalization's statistics, Dropout's
/// mask) must be unused.
bool OnnxLowering::checkExtraOutputs(size_t index) {
  const OnnxNode &node = graph.nodes[index];
  for (size_t k = 1; k < node.outputs.size(); ++k) {
    const std::string &out = node.outputs[k];
    if (!out.empty() && (usesOf(out) != 0 || out == outputName))
      return failAt(index, fmt::format("its output #{} {} is used; seqc "
                                       "imports only the first",
                                       k, valueRef(out)));
  }
  return true;
}

bool OnnxLowering::requireRank2(size_t index, std::string_view why) {
  if (rank == 2)
    return true;
  return failAt(index, fmt::format("its input has rank {}; {} (flatten the "
                                   "input to [N, F] before it)",
                                   rank, why));
}

bool OnnxLowering::fixWidth(size_t node, int64_t features,
                            std::string_view what) {
  if (features <= 0 || features > limits::kMaxFeatures)
    return failAt(node, fmt::format("{} has {} features; seqc takes 1 to {}",
                                    what, features, limits::kMaxFeatures));
  if (width == 0) {
    width = features;
    if (inputWidth == 0)
      inputWidth = features;
    return true;
  }
  if (width != features)
    return failAt(node, fmt::format("{} takes {} features, but its input has "
                                    "{}",
                                    what, features, width));
  return true;
}

/// A per-feature tensor, `[F]` or `[1, F]`, as float32 values.
std::optional<std::vector<float>>
OnnxLowering::featureVector(size_t node, const OnnxTensor &tensor,
                            std::string_view role) {
  const std::vector<int64_t> &dims = tensor.dims;
  bool shaped = dims.size() == 1 || (dims.size() == 2 && dims[0] == 1);
  if (!shaped ||
      !fixWidth(node, static_cast<int64_t>(tensor.numElements()),
                fmt::format("its {} {}", role, valueRef(tensor.name)))) {
    if (!shaped)
      failAt(node,
             fmt::format("its {} {} has shape [{}]; seqc needs one "
                         "value per feature ([F])",
                         role, valueRef(tensor.name), fmt::join(dims, ", ")));
    return std::nullopt;
  }
  return tensor.floats;
}

bool OnnxLowering::addFeatureParam(size_t node, ir::Op &op, ir::ParamId &slot,
                                   const OnnxTensor &tensor,
                                   std::string_view role) {
  std::optional<std::vector<float>> values = featureVector(node, tensor, role);
  return values && addParam(op, slot, tensor, {width}, std::move(*values));
}

/// Reads inputs 1, 2, ... of a normalisation node as per-feature
/// parameters of \p op.
bool OnnxLowering::addFeatureInputs(
    size_t node, ir::Op &op, std::initializer_list<FeatureInput> inputs) {
  size_t k = 1;
  for (const FeatureInput &input : inputs) {
    const OnnxTensor *tensor = nullptr;
    if (!floatInput(node, k++, input.role, tensor))
      return false;
    if (!tensor && input.required)
      return failAt(node, fmt::format("it has no {} input", input.role));
    if (tensor && !addFeatureParam(node, op, *input.slot, *tensor, input.role))
      return false;
  }
  return true;
}

ir::Op &OnnxLowering::appendOp(ir::OpKind kind, size_t node,
                               std::string description) {
  ir::Op op;
  op.kind = kind;
  op.input = static_cast<int32_t>(model->values.size() - 1);
  op.result = model->addValue();
  op.path = std::to_string(node);
  op.description = std::move(description);
  model->ops.push_back(std::move(op));
  return model->ops.back();
}

bool OnnxLowering::addParam(ir::Op &op, ir::ParamId &slot,
                            const OnnxTensor &source,
                            std::vector<int64_t> shape,
                            std::vector<float> data) {
  numParamElements += data.size();
  if (numParamElements > limits::kMaxParamElements)
    return fail(fmt::format("the model has more than {} parameters",
                            limits::kMaxParamElements));
  ir::Param param;
  param.name = paramKey(source.name);
  param.shape = shape;
  param.data = Tensor(std::move(shape), std::move(data));
  param.layerDescription = op.description;
  slot = model->addParam(std::move(param));
  return true;
}

bool OnnxLowering::lowerStructural(size_t index) {
  const OnnxNode &node = graph.nodes[index];
  // The chain value is the data input; everything else is a constant.
  if (node.inputs.empty() || node.inputs[0] != current)
    return failAt(index, fmt::format("it reads {} as input #1 or later; seqc "
                                     "imports chains, where the previous "
                                     "layer's output is the first input",
                                     valueRef(current)));
  for (size_t k = 1; k < node.inputs.size(); ++k)
    if (!node.inputs[k].empty() && !constants.count(node.inputs[k]))
      return failAt(index,
                    fmt::format("its input #{} {} is computed by the graph; "
                                "seqc needs it to be a constant (an "
                                "initializer)",
                                k + 1, valueRef(node.inputs[k])));
  if (!checkExtraOutputs(index))
    return false;
  if (model->ops.size() >= limits::kMaxLayers)
    return fail(
        fmt::format("the model has more than {} layers", limits::kMaxLayers));
  lowered[index] = true;
  const std::string &op = node.opType;
  bool ok = op == "Gemm"                            ? lowerGemm(index)
            : op == "MatMul"                        ? lowerMatMul(index)
            : op == "BatchNormalization"            ? lowerBatchNorm(index)
            : op == "LayerNormalization"            ? lowerLayerNorm(index)
            : op == "Softmax" || op == "LogSoftmax" ? lowerSoftmax(index)
            : op == "Reshape"                       ? lowerReshape(index)
                                                    : lowerNoOp(index);
  return ok;
}

/// Input 1 of a Gemm or MatMul: a constant matrix, [in, out] or (when
/// \p transposed) [out, in], whose `in` matches the chain's width.
bool OnnxLowering::weightInput(size_t index, bool transposed,
                               const OnnxTensor *&b, int64_t &in,
                               int64_t &out) {
  if (!floatInput(index, 1, "B", b))
    return false;
  if (!b)
    return failAt(index, "it has no B input (the weight)");
  if (b->dims.size() != 2)
    return failAt(index, fmt::format("its B {} has rank {}; seqc needs a "
                                     "weight matrix",
                                     valueRef(b->name), b->dims.size()));
  out = transposed ? b->dims[0] : b->dims[1];
  in = transposed ? b->dims[1] : b->dims[0];
  if (!fixWidth(index, in, "its weight " + valueRef(b->name)))
    return false;
  if (out <= 0 || out > limits::kMaxFeatures)
    return failAt(index, fmt::format("it produces {} features; seqc takes 1 "
                                     "to {}",
                                     out, limits::kMaxFeatures));
  return true;
}

bool OnnxLowering::lowerGemm(size_t index) {
  const OnnxNode &node = graph.nodes[index];
  if (!requireRank2(index, "Gemm multiplies matrices"))
    return false;
  if (intAttribute(node, "transA", 0) != 0)
    return failAt(index, "transA = 1 multiplies the transposed input, whose "
                         "batch becomes the inner dimension; that is not a "
                         "Linear layer");
  bool transB = intAttribute(node, "transB", 0) != 0;
  double alpha = floatAttribute(node, "alpha", 1.0);
  double beta = floatAttribute(node, "beta", 1.0);
  const OnnxTensor *b = nullptr;
  int64_t in = 0, out = 0;
  if (!weightInput(index, transB, b, in, out))
    return false;
  ir::Op &op = appendOp(ir::OpKind::Linear, index, nodeLabel(index));
  op.inFeatures = in;
  op.outFeatures = out;
  // y = alpha * A B' + beta * C, with W = alpha * B' as [out, in], computed
  // in double and rounded once.
  std::vector<float> weight(static_cast<size_t>(out * in));
  for (int64_t o = 0; o < out; ++o)
    for (int64_t i = 0; i < in; ++i)
      weight[o * in + i] = static_cast<float>(
          alpha * (transB ? b->floats[o * in + i] : b->floats[i * out + o]));
  if (!addParam(op, op.weight, *b, {out, in}, std::move(weight)))
    return false;
  const OnnxTensor *c = nullptr;
  if (!floatInput(index, 2, "C", c))
    return false;
  if (c && beta != 0.0) {
    const std::vector<int64_t> &dims = c->dims;
    uint64_t n = c->numElements();
    bool perFeature = (dims.size() == 1 || (dims.size() == 2 && dims[0] == 1));
    if (!(n == 1 || (perFeature && n == static_cast<uint64_t>(out))))
      return failAt(index,
                    fmt::format("its C {} has shape [{}]; seqc needs "
                                "one bias per output feature ([{}]) "
                                "or a scalar",
                                valueRef(c->name), fmt::join(dims, ", "), out));
    std::vector<float> bias(static_cast<size_t>(out));
    for (int64_t o = 0; o < out; ++o)
      bias[o] = static_cast<float>(beta * c->floats[n == 1 ? 0 : o]);
    if (!addParam(op, op.bias, *c, {out}, std::move(bias)))
      return false;
  }
  width = out;
  advance(index);
  return true;
}

bool OnnxLowering::lowerMatMul(size_t index) {
  if (!requireRank2(index, "MatMul multiplies its last axis only"))
    return false;
  const OnnxTensor *b = nullptr;
  int64_t in = 0, out = 0;
  if (!weightInput(index, /*transposed=*/false, b, in, out))
    return false;
  // A following Add of a per-feature constant is the Linear's bias.
  const std::string &product = graph.nodes[index].outputs[0];
  std::optional<size_t> addNode;
  const OnnxTensor *bias = nullptr;
  if (product != outputName && usesOf(product) == 1 &&
      readersOf(product).size() == 1) {
    size_t next = readersOf(product).front();
    const OnnxNode &add = graph.nodes[next];
    if (add.opType == "Add" && isStandardDomain(add) &&
        add.inputs.size() == 2) {
      const std::string &other =
          add.inputs[0] == product ? add.inputs[1] : add.inputs[0];
      auto it = constants.find(other);
      if (it != constants.end() && it->second->isFloat &&
          it->second->numElements() == static_cast<uint64_t>(out) &&
          (it->second->dims.size() == 1 ||
           (it->second->dims.size() == 2 && it->second->dims[0] == 1))) {
        addNode = next;
        bias = it->second;
      }
    }
  }
  std::string label = nodeLabel(index);
  if (addNode)
    label += " + " + nodeLabel(*addNode);
  ir::Op &op = appendOp(ir::OpKind::Linear, index, label);
  op.inFeatures = in;
  op.outFeatures = out;
  std::vector<float> weight(static_cast<size_t>(out * in));
  for (int64_t o = 0; o < out; ++o)
    for (int64_t i = 0; i < in; ++i)
      weight[o * in + i] = b->floats[i * out + o];
  if (!addParam(op, op.weight, *b, {out, in}, std::move(weight)))
    return false;
  if (bias && !addParam(op, op.bias, *bias, {out}, bias->floats))
    return false;
  width = out;
  if (addNode) {
    lowered[*addNode] = true;
    advance(*addNode);
  } else {
    advance(index);
  }
  return true;
}

bool OnnxLowering::lowerBatchNorm(size_t index) {
  const OnnxNode &node = graph.nodes[index];
  if (!requireRank2(index, "BatchNormalization of a rank-3 or higher value "
                           "normalises channels, not features"))
    return false;
  if (intAttribute(node, "training_mode", 0) != 0)
    return failAt(index, "training_mode = 1 normalises with the batch's "
                         "statistics; seqc imports inference graphs");
  ir::Op &op = appendOp(ir::OpKind::BatchNorm, index, nodeLabel(index));
  op.eps = floatAttribute(node, "epsilon", 1e-5);
  if (!addFeatureInputs(index, op,
                        {{&op.weight, "scale", true},
                         {&op.bias, "B", true},
                         {&op.runningMean, "mean", true},
                         {&op.runningVar, "var", true}}))
    return false;
  op.inFeatures = op.outFeatures = width;
  advance(index);
  return true;
}

bool OnnxLowering::lowerLayerNorm(size_t index) {
  const OnnxNode &node = graph.nodes[index];
  if (!requireRank2(index, "seqc's LayerNorm normalises the features of "
                           "[N, F] values"))
    return false;
  int64_t axis = intAttribute(node, "axis", -1);
  if (axis != -1 && axis != 1)
    return failAt(index, fmt::format("it normalises from axis {}; seqc's "
                                     "LayerNorm normalises the last axis",
                                     axis));
  ir::Op &op = appendOp(ir::OpKind::LayerNorm, index, nodeLabel(index));
  op.eps = floatAttribute(node, "epsilon", 1e-5);
  if (!addFeatureInputs(index, op,
                        {{&op.weight, "scale", false}, {&op.bias, "B", false}}))
    return false;
  if (width == 0)
    return failAt(index, "it has no scale and its input has no fixed "
                         "number of features");
  op.inFeatures = op.outFeatures = width;
  advance(index);
  return true;
}

bool OnnxLowering::lowerSoftmax(size_t index) {
  const OnnxNode &node = graph.nodes[index];
  // Before opset 13, Softmax flattens from `axis` (default 1) into rows:
  // axis 1 is exactly a softmax over the flattened features. Since 13 it
  // is over one axis (default -1), the features only on [N, F] values.
  bool legacy = graph.opsetVersion < 13;
  int64_t axis = intAttribute(node, "axis", legacy ? 1 : -1);
  int64_t normalized = axis < 0 ? axis + static_cast<int64_t>(rank) : axis;
  if (normalized != 1 || (!legacy && rank != 2))
    return failAt(index,
                  fmt::format("it is over axis {} of a rank-{} value; seqc's "
                              "{} is over the features of [N, F] values "
                              "(the last axis)",
                              axis, rank, node.opType));
  // Over the features, the last axis, as nn.Softmax(dim=-1) is.
  appendOp(node.opType == "Softmax" ? ir::OpKind::Softmax
                                    : ir::OpKind::LogSoftmax,
           index, nodeLabel(index))
      .normDim = -1;
  advance(index);
  return true;
}

bool OnnxLowering::lowerReshape(size_t index) {
  const OnnxNode &node = graph.nodes[index];
  const OnnxTensor *shape = constantInput(index, 1);
  constexpr std::string_view kOnly =
      "seqc imports Reshape only to [N, -1] (keeping the batch and "
      "flattening the rest), with a constant shape";
  if (!shape || !shape->isInt || shape->ints.size() != 2)
    return failAt(index, kOnly);
  int64_t rows = shape->ints[0], cols = shape->ints[1];
  bool allowZero = intAttribute(node, "allowzero", 0) != 0;
  // 0 copies the batch (unless allowzero), -1 infers it from fixed
  // features, and a number may repeat a fixed declared batch.
  bool batchKept = (rows == 0 && !allowZero) || (rows == -1 && cols > 0) ||
                   (rows > 0 && rows == declaredBatch);
  if (!batchKept || (cols != -1 && cols <= 0))
    return failAt(
        index, fmt::format("it reshapes to [{}, {}]; {}", rows, cols, kOnly));
  if (cols > 0 && !fixWidth(index, cols, "its shape"))
    return false;
  // [N, -1] is nn.Flatten(): the run command maps N-d inputs by it.
  appendOp(ir::OpKind::Identity, index, nodeLabel(index)).isFlatten = true;
  rank = 2;
  advance(index);
  return true;
}

/// Identity, Dropout and Flatten: no-ops at inference on `[N, F]`.
bool OnnxLowering::lowerNoOp(size_t index) {
  const OnnxNode &node = graph.nodes[index];
  if (node.opType == "Flatten") {
    int64_t axis = intAttribute(node, "axis", 1);
    if (axis < 0)
      axis += static_cast<int64_t>(rank);
    if (axis != 1)
      return failAt(index, fmt::format("it flattens from axis {}; seqc keeps "
                                       "the batch axis and flattens the rest "
                                       "(axis 1)",
                                       axis));
    rank = 2;
  }
  if (node.opType == "Dropout") {
    // Opset 12 made training a (constant) input; it must be false.
    const OnnxTensor *training = constantInput(index, 2);
    if (training && training->scalar() != 0.0)
      return failAt(index, "its training_mode is not false; seqc imports "
                           "inference graphs");
  }
  // Flatten(axis=1) is nn.Flatten(): the run command maps N-d inputs by it.
  appendOp(ir::OpKind::Identity, index, nodeLabel(index)).isFlatten =
      node.opType == "Flatten";
  advance(index);
  return true;
}

//===----------------------------------------------------------------------===//
// Element-wise regions
//===----------------------------------------------------------------------===//

/// Grows a region from `current` over element-wise nodes in file order: a
/// node joins when all its non-constant inputs are live values of the
/// region. Returns the cut points (where one value is live).
std::vector<Cut> OnnxLowering::growRegion(std::vector<size_t> &nodes) {
  std::vector<Cut> cuts;
  std::unordered_map<std::string, size_t> live{{current, usesOf(current)}};
  std::set<size_t> frontier(readersOf(current).begin(),
                            readersOf(current).end());
  while (!frontier.empty() && nodes.size() < kMaxOnnxPatternNodes) {
    size_t index = *frontier.begin();
    frontier.erase(frontier.begin());
    const OnnxNode &node = graph.nodes[index];
    if (!isStandardDomain(node) || !isOnnxPatternOp(node.opType))
      break;
    bool joins = true;
    for (const std::string &input : node.inputs)
      joins &= input.empty() || constants.count(input) || live.count(input);
    for (size_t k = 1; k < node.outputs.size(); ++k)
      joins &= node.outputs[k].empty() || usesOf(node.outputs[k]) == 0;
    if (!joins)
      break;
    nodes.push_back(index);
    for (const std::string &input : node.inputs) {
      auto it = live.find(input);
      if (it != live.end() && --it->second == 0)
        live.erase(it);
    }
    const std::string &out = node.outputs[0];
    // The graph's output stays live: nothing after it can consume it.
    size_t outUses = usesOf(out) + (out == outputName ? 1 : 0);
    if (outUses != 0) {
      live[out] = outUses;
      frontier.insert(readersOf(out).begin(), readersOf(out).end());
    }
    // A cut ends at this node's output (a node whose output nobody reads
    // is no layer).
    if (live.size() == 1 && live.begin()->first == out) {
      cuts.push_back({nodes.size(), live.begin()->first});
      if (live.begin()->first == outputName)
        break;
    }
  }
  return cuts;
}

bool OnnxLowering::lowerRegion() {
  std::vector<size_t> nodes;
  std::vector<Cut> cuts = growRegion(nodes);
  std::string why;
  // The longest prefix that is a pattern or one activation wins.
  for (auto cut = cuts.rbegin(); cut != cuts.rend(); ++cut) {
    OnnxRegion region;
    region.input = current;
    region.output = cut->value;
    region.nodes.assign(nodes.begin(), nodes.begin() + cut->numNodes);
    size_t first = region.nodes.front(), last = region.nodes.back();
    std::string description;
    ir::Activation act;
    std::optional<OnnxPatternMatch> match;
    if (region.nodes.size() == 1) {
      if (!singleActivation(first, act, why))
        continue;
      description = nodeLabel(first);
    } else if ((match = matchOnnxPattern(graph, region, constants, rank))) {
      act = match->act;
      description =
          fmt::format("{} from {} nodes, {} .. {}", match->name,
                      region.nodes.size(), nodeLabel(first), nodeLabel(last));
    } else {
      continue;
    }
    if (model->ops.size() >= limits::kMaxLayers)
      return fail(
          fmt::format("the model has more than {} layers", limits::kMaxLayers));
    if (match && match->kind == OnnxPatternMatch::Kind::LayerNorm) {
      ir::Op &op = appendOp(ir::OpKind::LayerNorm, first, description);
      op.eps = match->eps;
      if ((match->weight &&
           !addFeatureParam(first, op, op.weight, *match->weight, "weight")) ||
          (match->bias &&
           !addFeatureParam(first, op, op.bias, *match->bias, "bias")))
        return false;
      if (width == 0)
        return failAt(first, "this LayerNorm has no weight and its input "
                             "has no fixed number of features");
      op.inFeatures = op.outFeatures = width;
    } else {
      appendOp(ir::OpKind::Act, first, description).act = act;
    }
    for (size_t index : region.nodes)
      lowered[index] = true;
    current = region.output;
    return true;
  }
  return reportUnmatchedRegion(nodes, why);
}

bool OnnxLowering::reportUnmatchedRegion(const std::vector<size_t> &nodes,
                                         const std::string &why) {
  const std::vector<size_t> &users = readersOf(current);
  size_t first = nodes.empty() ? users.front() : nodes.front();
  if (!why.empty())
    return failAt(first, fmt::format("{}; seqc imports chains of {}", why,
                                     kSupportedOps));
  if (users.size() == 1) {
    const OnnxNode &node = graph.nodes[first];
    for (const std::string &input : node.inputs)
      if (!input.empty() && input != current && !constants.count(input))
        return failAt(first,
                      fmt::format("it combines {} with {}, which is "
                                  "computed elsewhere in the graph; seqc "
                                  "imports chains",
                                  valueRef(current), valueRef(input)));
    return unsupported(first);
  }
  std::vector<std::string> refs;
  for (size_t user : users)
    refs.push_back(nodeRef(user));
  return fail(fmt::format(
      "{} is read by {} nodes ({}) that do not form a supported pattern "
      "(GELU, SiLU, Hardswish, Mish, Softplus with beta, Softsign, "
      "LayerNorm); seqc imports chains of {}",
      valueRef(current), users.size(), fmt::join(refs, ", "), kSupportedOps));
}

bool OnnxLowering::clipActivation(size_t index, ir::Activation &act,
                                  std::string &why) {
  const OnnxNode &node = graph.nodes[index];
  std::optional<double> low, high;
  if (graph.opsetVersion < 11) {
    if (const OnnxAttribute *a = node.findAttribute("min"))
      low = a->f;
    if (const OnnxAttribute *a = node.findAttribute("max"))
      high = a->f;
  } else {
    for (size_t k = 1; k < 3 && k < node.inputs.size(); ++k) {
      if (node.inputs[k].empty())
        continue;
      const OnnxTensor *bound = constantInput(index, k);
      std::optional<double> value =
          bound && bound->isFloat ? bound->scalar() : std::nullopt;
      if (!value) {
        why = fmt::format("its {} is not a float constant with one value",
                          k == 1 ? "min" : "max");
        return false;
      }
      (k == 1 ? low : high) = value;
    }
  }
  if (!low && !high) {
    act.kind = ir::ActKind::None;
  } else if (low && !high && *low == 0.0) {
    act.kind = ir::ActKind::ReLU;
  } else if (low && high && *low <= *high) {
    act.kind = ir::ActKind::Hardtanh;
    act.alpha = *low;
    act.beta = *high;
  } else {
    why = low && high
              ? fmt::format("Clip to [{}, {}] is empty", *low, *high)
              : std::string("seqc imports Clip with both bounds "
                            "(Hardtanh, ReLU6), with min 0 only (ReLU), or "
                            "with none");
    return false;
  }
  return true;
}

/// One element-wise node as an activation. Returns false with \p why empty
/// when the op is no activation on its own (Add, Erf, ...), and with a
/// reason when its attributes are not supported.
bool OnnxLowering::singleActivation(size_t index, ir::Activation &act,
                                    std::string &why) {
  const OnnxNode &node = graph.nodes[index];
  const std::string &op = node.opType;
  using ir::ActKind;
  if (op == "Relu" || op == "Sigmoid" || op == "Tanh" || op == "HardSwish" ||
      op == "Mish" || op == "Softsign" || op == "Softplus") {
    act.kind = op == "Relu"        ? ActKind::ReLU
               : op == "Sigmoid"   ? ActKind::Sigmoid
               : op == "Tanh"      ? ActKind::Tanh
               : op == "HardSwish" ? ActKind::Hardswish
               : op == "Mish"      ? ActKind::Mish
               : op == "Softsign"  ? ActKind::Softsign
                                   : ActKind::Softplus;
    if (act.kind == ActKind::Softplus) {
      act.alpha = kOnnxSoftplusThreshold;
      act.beta = 1.0;
    }
    return true;
  }
  if (op == "LeakyRelu" || op == "Elu") {
    act.kind = op == "Elu" ? ActKind::ELU : ActKind::LeakyReLU;
    act.alpha = floatAttribute(node, "alpha", op == "Elu" ? 1.0 : 0.01);
    return true;
  }
  if (op == "Selu") {
    // ONNX's defaults are the float32 roundings of SELU's constants.
    double gamma = floatAttribute(node, "gamma", 1.05070102214813232421875);
    if (gamma != 1.0) {
      why = fmt::format("Selu with gamma {} is gamma * ELU(x, alpha); seqc's "
                        "IR has no SELU, and imports Selu only with gamma 1 "
                        "(which is ELU)",
                        gamma);
      return false;
    }
    act.kind = ActKind::ELU;
    act.alpha = floatAttribute(node, "alpha", 1.67326319217681884765625);
    return true;
  }
  if (op == "HardSigmoid") {
    double alpha = floatAttribute(node, "alpha", 0.2);
    double beta = floatAttribute(node, "beta", 0.5);
    if (static_cast<float>(alpha) != 1.0f / 6.0f || beta != 0.5) {
      why = fmt::format("HardSigmoid with alpha {} and beta {} is not "
                        "PyTorch's Hardsigmoid (alpha 1/6, beta 1/2), the "
                        "only one seqc imports",
                        alpha, beta);
      return false;
    }
    act.kind = ActKind::Hardsigmoid;
    return true;
  }
  if (op == "Gelu") {
    const OnnxAttribute *approximate = node.findAttribute("approximate");
    std::string mode = approximate ? approximate->s : "none";
    if (mode != "none" && mode != "tanh") {
      why = fmt::format("Gelu with approximate = {} is not supported (none "
                        "or tanh)",
                        quoteName(mode));
      return false;
    }
    act.kind = mode == "none" ? ActKind::GELU : ActKind::GELUTanh;
    return true;
  }
  if (op == "Clip")
    return clipActivation(index, act, why);
  return false;
}

//===----------------------------------------------------------------------===//
// Driver
//===----------------------------------------------------------------------===//

std::unique_ptr<ir::Model> OnnxLowering::run() {
  model = std::make_unique<ir::Model>();
  model->name = modelName;
  model->addValue();
  if (graph.nodes.empty()) {
    fail("the graph has no nodes: there is nothing to compile");
    return nullptr;
  }
  if (!indexValues() || !checkInputAndOutput() || !walk())
    return nullptr;
  for (size_t i = 0; i < graph.nodes.size(); ++i)
    if (!lowered[i] && !isConstantNode[i]) {
      failAt(i, fmt::format("it is not on the chain from the input {} to the "
                            "output {}",
                            valueRef(inputName), valueRef(outputName)));
      return nullptr;
    }
  if (inputWidth == 0) {
    fail(fmt::format("the graph's input {} has no fixed number of features, "
                     "and no layer fixes it",
                     valueRef(inputName)));
    return nullptr;
  }
  model->values[0].type = ir::Type::batched(inputWidth);
  return std::move(model);
}

} // namespace

std::unique_ptr<ir::Model> lowerOnnxGraph(const OnnxGraph &graph,
                                          const std::string &modelName,
                                          std::string_view displayName,
                                          DiagnosticEngine &diag) {
  return OnnxLowering(graph, modelName, displayName, diag).run();
}

} // namespace seqc::frontend
