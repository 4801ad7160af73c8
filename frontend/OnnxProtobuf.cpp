//===- OnnxProtobuf.cpp - Decoding ONNX ModelProtos with protobuf ---------===//
//
// Part of seqc, built only with libonnx-dev and libprotobuf-dev. Decoding:
//   1. parse the bytes as an `onnx.ModelProto` through a CodedInputStream
//      whose total-bytes and recursion limits are set explicitly, and
//      require it to consume the whole input;
//   2. find the default operator set's version;
//   3. count nodes and initializers against their limits, refuse sparse
//      initializers and model-local functions' use later (as unknown ops);
//   4. convert every initializer (and every Constant node's tensor): refuse
//      external and segmented data, check the dims (non-negative, rank and
//      element count bounded, products computed without overflow) and that
//      exactly one data field holds exactly that many elements;
//   5. copy node names, op types, inputs, outputs and attributes, and the
//      declared inputs (minus initializers, which IR version 3 files also
//      list as inputs) and outputs.
// Nothing read from the file names anything on the filesystem: external
// data locations are only quoted in the error that refuses them.
//
//===----------------------------------------------------------------------===//

#include "frontend/OnnxGraph.h"

#include "frontend/Safetensors.h"

#include "compiler/support/ByteOrder.h"
#include "compiler/support/Quote.h"

#include <fmt/format.h>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/stubs/logging.h>
#include <onnx/onnx_pb.h>

#include <cstring>
#include <limits>
#include <unordered_set>

namespace seqc::frontend {

namespace {

/// Collects what protobuf logs while one message is parsed (it would
/// otherwise print to stderr), so the diagnostic can include it.
class ProtobufLogCapture {
public:
  ProtobufLogCapture() { previous = google::protobuf::SetLogHandler(&handle); }
  ~ProtobufLogCapture() { google::protobuf::SetLogHandler(previous); }
  ProtobufLogCapture(const ProtobufLogCapture &) = delete;
  ProtobufLogCapture &operator=(const ProtobufLogCapture &) = delete;

  static std::string take() { return std::exchange(messages(), {}); }

private:
  static std::string &messages() {
    thread_local std::string text;
    return text;
  }
  static void handle(google::protobuf::LogLevel, const char *, int,
                     const std::string &message) {
    std::string &text = messages();
    if (text.size() < 1000)
      text += (text.empty() ? "" : "; ") + message;
  }

  google::protobuf::LogHandler *previous = nullptr;
};

/// Bytes per element of the types whose data may be raw, or 0.
unsigned elementSize(int32_t dataType) {
  switch (dataType) {
  case onnx::TensorProto::FLOAT:
  case onnx::TensorProto::INT32:
  case onnx::TensorProto::UINT32:
    return 4;
  case onnx::TensorProto::INT64:
  case onnx::TensorProto::UINT64:
  case onnx::TensorProto::DOUBLE:
  case onnx::TensorProto::COMPLEX64:
    return 8;
  case onnx::TensorProto::FLOAT16:
  case onnx::TensorProto::BFLOAT16:
  case onnx::TensorProto::INT16:
  case onnx::TensorProto::UINT16:
    return 2;
  case onnx::TensorProto::INT8:
  case onnx::TensorProto::UINT8:
  case onnx::TensorProto::BOOL:
    return 1;
  case onnx::TensorProto::COMPLEX128:
    return 16;
  default:
    return 0;
  }
}

/// How many elements of each typed field (not raw_data) the tensor has.
int64_t typedFieldCount(const onnx::TensorProto &proto) {
  return int64_t{proto.float_data_size()} + proto.int32_data_size() +
         proto.string_data_size() + proto.int64_data_size() +
         proto.double_data_size() + proto.uint64_data_size();
}

/// The number of typed-field entries \p numel elements of \p dataType take.
uint64_t typedEntries(int32_t dataType, uint64_t numel) {
  // Complex numbers are stored as two floats (or doubles) each.
  bool complex = dataType == onnx::TensorProto::COMPLEX64 ||
                 dataType == onnx::TensorProto::COMPLEX128;
  return complex ? numel * 2 : numel;
}

/// Deeper nesting than seqc accepts, to which a failed parse is retried
/// only to say whether nesting was the reason.
constexpr int kMaxOnnxNestingProbe = 512;

/// Parses \p bytes as one whole ModelProto with protobuf's total-bytes and
/// recursion limits set explicitly.
bool parseWithin(std::string_view bytes, int nesting, onnx::ModelProto &model) {
  google::protobuf::io::CodedInputStream input(
      reinterpret_cast<const uint8_t *>(bytes.data()),
      static_cast<int>(bytes.size()));
  input.SetTotalBytesLimit(static_cast<int>(kMaxOnnxFileBytes));
  input.SetRecursionLimit(nesting);
  return model.ParseFromCodedStream(&input) && input.ConsumedEntireMessage() &&
         input.CurrentPosition() == static_cast<int>(bytes.size());
}

class Decoder {
public:
  Decoder(std::string_view displayName, DiagnosticEngine &diag)
      : displayName(displayName), diag(diag) {}

  std::optional<OnnxGraph> decode(std::string_view bytes);

private:
  bool fail(std::string_view message) {
    diag.fileError(displayName, message);
    return false;
  }

  bool parse(std::string_view bytes, onnx::ModelProto &model);
  bool readOpset(const onnx::ModelProto &model);
  bool readTensor(const onnx::TensorProto &proto, std::string_view what,
                  OnnxTensor &tensor);
  bool checkTensorLayout(const onnx::TensorProto &proto, std::string_view what,
                         OnnxTensor &tensor);
  void convertTensor(const onnx::TensorProto &proto, OnnxTensor &tensor);
  bool readNode(const onnx::NodeProto &proto, size_t index, OnnxNode &node);
  bool readAttribute(const onnx::AttributeProto &proto, std::string_view what,
                     OnnxAttribute &attribute);
  bool readValueInfo(const onnx::ValueInfoProto &proto, OnnxValueInfo &info);

  std::string_view displayName;
  DiagnosticEngine &diag;
  OnnxGraph graph;
};

bool Decoder::parse(std::string_view bytes, onnx::ModelProto &model) {
  if (bytes.size() > kMaxOnnxFileBytes)
    return fail(fmt::format("the model is {} bytes, more than protobuf's "
                            "limit of {} bytes for one message",
                            bytes.size(), kMaxOnnxFileBytes));
  ProtobufLogCapture capture;
  ProtobufLogCapture::take();
  if (parseWithin(bytes, kMaxOnnxNesting, model))
    return model.has_graph() || fail("not an ONNX model: it has no graph");
  std::string log = ProtobufLogCapture::take();
  // Parsing again with a deeper (still bounded) limit tells nesting apart
  // from broken data, for the message.
  onnx::ModelProto deeper;
  if (parseWithin(bytes, kMaxOnnxNestingProbe, deeper))
    return fail(fmt::format("the model's protobuf messages are nested more "
                            "than {} deep, the limit",
                            kMaxOnnxNesting));
  return fail(fmt::format(
      "not a valid ONNX model: the protobuf data is malformed or truncated, "
      "or nested more than {} deep{}{}",
      kMaxOnnxNestingProbe, log.empty() ? "" : " (protobuf: ",
      log.empty() ? "" : quoteName(log, 200) + ")"));
}

bool Decoder::readOpset(const onnx::ModelProto &model) {
  for (const onnx::OperatorSetIdProto &opset : model.opset_import())
    if (opset.domain().empty() || opset.domain() == "ai.onnx")
      graph.opsetVersion = opset.version();
  // IR version 1 and 2 files may omit opset_import; they mean version 1.
  if (model.opset_import_size() == 0)
    graph.opsetVersion = 1;
  if (graph.opsetVersion < 1)
    return fail("the model does not import the standard ONNX operator set "
                "(opset_import has no entry for the domain 'ai.onnx')");
  return true;
}

bool Decoder::checkTensorLayout(const onnx::TensorProto &proto,
                                std::string_view what, OnnxTensor &tensor) {
  if (proto.data_location() == onnx::TensorProto::EXTERNAL ||
      proto.external_data_size() != 0) {
    std::string location;
    for (const onnx::StringStringEntryProto &entry : proto.external_data())
      if (entry.key() == "location")
        location = entry.value();
    return fail(fmt::format(
        "{} keeps its data in an external file{}; seqc reads only "
        "self-contained models (save with onnx.save_model(model, path, "
        "save_as_external_data=False))",
        what, location.empty() ? "" : " (" + quoteName(location) + ")"));
  }
  if (proto.has_segment())
    return fail(fmt::format("{} is a segment of a larger tensor, which seqc "
                            "does not read",
                            what));
  if (proto.dims_size() > static_cast<int>(kMaxOnnxRank))
    return fail(fmt::format("{} has {} dimensions, more than the limit of {}",
                            what, proto.dims_size(), kMaxOnnxRank));
  uint64_t numel = 1;
  for (int64_t d : proto.dims()) {
    if (d < 0)
      return fail(fmt::format("{} has a negative dimension ({})", what, d));
    // The element count may not pass the parameter limit, so the product
    // is checked before each multiplication.
    if (d != 0 && numel > limits::kMaxParamElements / static_cast<uint64_t>(d))
      return fail(fmt::format("{} has dims [{}]: more than {} elements", what,
                              fmt::join(proto.dims(), ", "),
                              limits::kMaxParamElements));
    numel *= static_cast<uint64_t>(d);
    tensor.dims.push_back(d);
  }
  int32_t type = proto.data_type();
  tensor.dataType = type;
  bool hasRaw = proto.has_raw_data();
  int64_t typed = typedFieldCount(proto);
  if (hasRaw && typed != 0)
    return fail(fmt::format("{} has both raw_data and typed data", what));
  unsigned size = elementSize(type);
  if (hasRaw) {
    if (size == 0)
      return fail(fmt::format("{} of type {} cannot have raw_data", what,
                              onnxDataTypeName(type)));
    if (proto.raw_data().size() != numel * size)
      return fail(fmt::format(
          "{} has dims [{}] ({} elements of {} bytes) but {} bytes of "
          "raw_data",
          what, fmt::join(proto.dims(), ", "), numel, size,
          proto.raw_data().size()));
    return true;
  }
  if (static_cast<uint64_t>(typed) != typedEntries(type, numel))
    return fail(fmt::format("{} has dims [{}] ({} elements) but {} values",
                            what, fmt::join(proto.dims(), ", "), numel, typed));
  // Each type has one field; values in another are a malformed tensor.
  int64_t expected = 0;
  switch (type) {
  case onnx::TensorProto::FLOAT:
  case onnx::TensorProto::COMPLEX64:
    expected = proto.float_data_size();
    break;
  case onnx::TensorProto::INT64:
    expected = proto.int64_data_size();
    break;
  case onnx::TensorProto::DOUBLE:
  case onnx::TensorProto::COMPLEX128:
    expected = proto.double_data_size();
    break;
  case onnx::TensorProto::UINT32:
  case onnx::TensorProto::UINT64:
    expected = proto.uint64_data_size();
    break;
  case onnx::TensorProto::STRING:
    expected = proto.string_data_size();
    break;
  default:
    expected = proto.int32_data_size();
    break;
  }
  if (expected != typed)
    return fail(fmt::format("{} of type {} keeps values in a field for "
                            "another type",
                            what, onnxDataTypeName(type)));
  return true;
}

/// Float elements (FLOAT, FLOAT16, BFLOAT16, DOUBLE) as float32; the layout
/// was checked, so every read is inside the data.
std::vector<float> readFloats(const onnx::TensorProto &proto, uint64_t numel) {
  std::vector<float> floats(numel);
  const auto *raw =
      reinterpret_cast<const unsigned char *>(proto.raw_data().data());
  bool hasRaw = proto.has_raw_data();
  switch (proto.data_type()) {
  case onnx::TensorProto::FLOAT:
    for (uint64_t i = 0; i < numel; ++i) {
      if (!hasRaw) {
        floats[i] = proto.float_data(static_cast<int>(i));
        continue;
      }
      uint32_t bits = loadLE32(raw + 4 * i);
      std::memcpy(&floats[i], &bits, sizeof bits);
    }
    break;
  case onnx::TensorProto::FLOAT16:
  case onnx::TensorProto::BFLOAT16: {
    bool half = proto.data_type() == onnx::TensorProto::FLOAT16;
    for (uint64_t i = 0; i < numel; ++i) {
      // Without raw_data, each int32_data entry holds the 16 bits.
      uint16_t bits =
          hasRaw ? loadLE16(raw + 2 * i)
                 : static_cast<uint16_t>(proto.int32_data(static_cast<int>(i)));
      floats[i] = half ? halfToFloat(bits) : bfloat16ToFloat(bits);
    }
    break;
  }
  case onnx::TensorProto::DOUBLE:
    for (uint64_t i = 0; i < numel; ++i) {
      double value = 0;
      if (hasRaw) {
        uint64_t bits = loadLE64(raw + 8 * i);
        std::memcpy(&value, &bits, sizeof bits);
      } else {
        value = proto.double_data(static_cast<int>(i));
      }
      floats[i] = static_cast<float>(value); // round to nearest
    }
    break;
  default:
    break;
  }
  return floats;
}

/// Integer elements (INT64, INT32, INT16, UINT16, INT8, UINT8, BOOL) as
/// int64.
std::vector<int64_t> readInts(const onnx::TensorProto &proto, uint64_t numel) {
  std::vector<int64_t> ints(numel);
  const auto *raw =
      reinterpret_cast<const unsigned char *>(proto.raw_data().data());
  bool hasRaw = proto.has_raw_data();
  int32_t type = proto.data_type();
  unsigned size = elementSize(type);
  for (uint64_t i = 0; i < numel; ++i) {
    if (!hasRaw) {
      // INT64 has its own field; the narrower types use int32_data.
      ints[i] = type == onnx::TensorProto::INT64
                    ? proto.int64_data(static_cast<int>(i))
                    : proto.int32_data(static_cast<int>(i));
      continue;
    }
    const unsigned char *p = raw + size * i;
    switch (type) {
    case onnx::TensorProto::INT64:
      ints[i] = static_cast<int64_t>(loadLE64(p));
      break;
    case onnx::TensorProto::INT32:
      ints[i] = static_cast<int32_t>(loadLE32(p));
      break;
    case onnx::TensorProto::INT16:
      ints[i] = static_cast<int16_t>(loadLE16(p));
      break;
    case onnx::TensorProto::UINT16:
      ints[i] = loadLE16(p);
      break;
    case onnx::TensorProto::INT8:
      ints[i] = static_cast<int8_t>(*p);
      break;
    default: // UINT8, BOOL
      ints[i] = *p;
      break;
    }
  }
  return ints;
}

void Decoder::convertTensor(const onnx::TensorProto &proto,
                            OnnxTensor &tensor) {
  switch (proto.data_type()) {
  case onnx::TensorProto::FLOAT:
  case onnx::TensorProto::FLOAT16:
  case onnx::TensorProto::BFLOAT16:
  case onnx::TensorProto::DOUBLE:
    tensor.isFloat = true;
    tensor.floats = readFloats(proto, tensor.numElements());
    break;
  case onnx::TensorProto::INT64:
  case onnx::TensorProto::INT32:
  case onnx::TensorProto::INT16:
  case onnx::TensorProto::UINT16:
  case onnx::TensorProto::INT8:
  case onnx::TensorProto::UINT8:
  case onnx::TensorProto::BOOL:
    tensor.isInt = true;
    tensor.ints = readInts(proto, tensor.numElements());
    break;
  default:
    break; // kept without data; refused where it is used
  }
}

bool Decoder::readTensor(const onnx::TensorProto &proto, std::string_view what,
                         OnnxTensor &tensor) {
  tensor.name = proto.name();
  if (!checkTensorLayout(proto, what, tensor))
    return false;
  convertTensor(proto, tensor);
  return true;
}

bool Decoder::readAttribute(const onnx::AttributeProto &proto,
                            std::string_view what, OnnxAttribute &attribute) {
  using Type = onnx::AttributeProto;
  attribute.name = proto.name();
  // Files from before IR version 2 may leave `type` unset; the field that
  // is present says it then.
  Type::AttributeType type = proto.type();
  if (type == Type::UNDEFINED) {
    if (proto.has_f())
      type = Type::FLOAT;
    else if (proto.has_i())
      type = Type::INT;
    else if (proto.has_s())
      type = Type::STRING;
    else if (proto.has_t())
      type = Type::TENSOR;
    else if (proto.floats_size() != 0)
      type = Type::FLOATS;
    else if (proto.ints_size() != 0)
      type = Type::INTS;
  }
  switch (type) {
  case Type::FLOAT:
    attribute.kind = OnnxAttribute::Kind::Float;
    attribute.f = proto.f();
    return true;
  case Type::INT:
    attribute.kind = OnnxAttribute::Kind::Int;
    attribute.i = proto.i();
    return true;
  case Type::STRING:
    attribute.kind = OnnxAttribute::Kind::String;
    attribute.s = proto.s();
    return true;
  case Type::FLOATS:
    attribute.kind = OnnxAttribute::Kind::Floats;
    attribute.floats.assign(proto.floats().begin(), proto.floats().end());
    return true;
  case Type::INTS:
    attribute.kind = OnnxAttribute::Kind::Ints;
    attribute.ints.assign(proto.ints().begin(), proto.ints().end());
    return true;
  case Type::TENSOR: {
    attribute.kind = OnnxAttribute::Kind::Tensor;
    auto tensor = std::make_shared<OnnxTensor>();
    if (!readTensor(proto.t(),
                    fmt::format("the tensor of attribute {} of {}",
                                quoteName(proto.name()), what),
                    *tensor))
      return false;
    attribute.tensor = std::move(tensor);
    return true;
  }
  default:
    attribute.kind = OnnxAttribute::Kind::Other;
    return true;
  }
}

bool Decoder::readNode(const onnx::NodeProto &proto, size_t index,
                       OnnxNode &node) {
  node.name = proto.name();
  node.opType = proto.op_type();
  node.domain = proto.domain();
  node.inputs.assign(proto.input().begin(), proto.input().end());
  node.outputs.assign(proto.output().begin(), proto.output().end());
  std::string what = fmt::format("node {} ({})", index, quoteName(node.name));
  for (const onnx::AttributeProto &attributeProto : proto.attribute()) {
    OnnxAttribute attribute;
    if (!readAttribute(attributeProto, what, attribute))
      return false;
    node.attributes.push_back(std::move(attribute));
  }
  return true;
}

bool Decoder::readValueInfo(const onnx::ValueInfoProto &proto,
                            OnnxValueInfo &info) {
  info.name = proto.name();
  if (!proto.has_type() || !proto.type().has_tensor_type())
    return true;
  const onnx::TypeProto::Tensor &tensorType = proto.type().tensor_type();
  info.elemType = tensorType.elem_type();
  if (!tensorType.has_shape())
    return true;
  if (tensorType.shape().dim_size() > static_cast<int>(kMaxOnnxRank))
    return fail(fmt::format("the graph's value {} has {} dimensions, more "
                            "than the limit of {}",
                            quoteName(info.name), tensorType.shape().dim_size(),
                            kMaxOnnxRank));
  info.hasShape = true;
  for (const onnx::TensorShapeProto::Dimension &dim :
       tensorType.shape().dim()) {
    OnnxDim out;
    if (dim.has_dim_value())
      out.size = dim.dim_value() >= 0 ? dim.dim_value() : -1;
    else
      out.symbol = dim.dim_param();
    info.dims.push_back(std::move(out));
  }
  return true;
}

std::optional<OnnxGraph> Decoder::decode(std::string_view bytes) {
  onnx::ModelProto model;
  if (!parse(bytes, model) || !readOpset(model))
    return std::nullopt;
  const onnx::GraphProto &graphProto = model.graph();
  if (static_cast<uint64_t>(graphProto.node_size()) > kMaxOnnxNodes) {
    fail(fmt::format("the graph has {} nodes, more than the limit of {}",
                     graphProto.node_size(), kMaxOnnxNodes));
    return std::nullopt;
  }
  if (static_cast<uint64_t>(graphProto.initializer_size()) >
      kMaxOnnxInitializers) {
    fail(fmt::format("the graph has {} initializers, more than the limit of "
                     "{}",
                     graphProto.initializer_size(), kMaxOnnxInitializers));
    return std::nullopt;
  }
  if (graphProto.sparse_initializer_size() != 0) {
    fail("the graph has sparse initializers, which seqc does not read");
    return std::nullopt;
  }
  std::unordered_set<std::string> initializerNames;
  uint64_t totalElements = 0;
  for (const onnx::TensorProto &proto : graphProto.initializer()) {
    OnnxTensor tensor;
    if (!readTensor(proto,
                    fmt::format("initializer {}", quoteName(proto.name())),
                    tensor))
      return std::nullopt;
    totalElements += tensor.numElements();
    if (totalElements > limits::kMaxParamElements) {
      fail(fmt::format("the initializers hold more than {} elements",
                       limits::kMaxParamElements));
      return std::nullopt;
    }
    if (tensor.name.empty() || !initializerNames.insert(tensor.name).second) {
      fail(fmt::format("initializer {} is {}", quoteName(tensor.name),
                       tensor.name.empty() ? "unnamed" : "defined twice"));
      return std::nullopt;
    }
    graph.initializers.push_back(std::move(tensor));
  }
  for (int i = 0; i < graphProto.node_size(); ++i) {
    OnnxNode node;
    if (!readNode(graphProto.node(i), static_cast<size_t>(i), node))
      return std::nullopt;
    graph.nodes.push_back(std::move(node));
  }
  for (const onnx::ValueInfoProto &proto : graphProto.input()) {
    if (initializerNames.count(proto.name()))
      continue;
    OnnxValueInfo info;
    if (!readValueInfo(proto, info))
      return std::nullopt;
    graph.inputs.push_back(std::move(info));
  }
  for (const onnx::ValueInfoProto &proto : graphProto.output()) {
    OnnxValueInfo info;
    if (!readValueInfo(proto, info))
      return std::nullopt;
    graph.outputs.push_back(std::move(info));
  }
  return std::move(graph);
}

} // namespace

std::optional<OnnxGraph> decodeOnnxModel(std::string_view bytes,
                                         std::string_view displayName,
                                         DiagnosticEngine &diag) {
  return Decoder(displayName, diag).decode(bytes);
}

} // namespace seqc::frontend
