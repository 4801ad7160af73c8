//===- IR.h - The seqc graph IR ---------------------------------*- C++ -*-===//
//
// Part of seqc. A model is a chain of ops over typed values: value 0 is the
// input `f32[B, F]` (B is the symbolic batch), each op reads one value and
// defines the next, and the last value is the output. Parameters (weights,
// biases, statistics) live in a table on the model and are referenced by
// index. Passes rewrite the chain; backends consume the fused form.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_IR_IR_H
#define SEQC_IR_IR_H

#include "compiler/ir/Activations.h"
#include "compiler/ir/Tensor.h"
#include "compiler/support/SourceLoc.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace seqc::ir {

/// Marks the symbolic batch dimension in a shape.
inline constexpr int64_t kBatchDim = -1;

/// The type of a value: element type (always f32 today) and a shape whose
/// dimensions are static sizes or kBatchDim.
struct Type {
  std::vector<int64_t> dims;

  Type() = default;
  explicit Type(std::vector<int64_t> dims) : dims(std::move(dims)) {}
  /// `f32[B, features]`.
  static Type batched(int64_t features) { return Type({kBatchDim, features}); }

  bool isKnown() const { return !dims.empty(); }
  /// The feature (last) dimension of a `[B, F]` value.
  int64_t features() const { return dims.empty() ? 0 : dims.back(); }
  bool operator==(const Type &other) const = default;
  /// `f32[B,784]`.
  std::string str() const;
};

/// Row-wise normalisation that may end a fused dense op.
enum class RowNorm { None, Softmax, LogSoftmax };

enum class OpKind {
  Linear,     ///< y = x W^T (+ b); params: weight [out,in], bias [out]
  Act,        ///< y = act(x)
  Softmax,    ///< softmax over features
  LogSoftmax, ///< log-softmax over features
  BatchNorm,  ///< inference BatchNorm1d; params weight, bias, mean, var
  LayerNorm,  ///< LayerNorm over features; params weight, bias (optional)
  Affine,     ///< y = x * scale + shift per feature; params weight, bias
  Identity,   ///< no-op (Identity, Dropout, Flatten at inference)
  Dense,      ///< fused Linear + bias + activation [+ softmax/log-softmax]
};

/// A dimension argument the layer did not give (`Softmax()` without dim).
inline constexpr int64_t kNoDim = INT64_MIN;

/// Index of a parameter in Model::params, or -1.
using ParamId = int32_t;
inline constexpr ParamId kNoParam = -1;

/// One op of the chain. Which fields mean something depends on the kind.
struct Op {
  OpKind kind = OpKind::Identity;
  /// Value read and value defined (indices into Model::values).
  int32_t input = 0;
  int32_t result = 0;

  /// Linear/Dense: in and out features; BatchNorm/LayerNorm/Affine: features.
  int64_t inFeatures = 0;
  int64_t outFeatures = 0;
  /// Act and Dense: the activation (Dense applies it after the bias).
  Activation act;
  /// Dense only: an optional softmax/log-softmax over the result row.
  RowNorm rowNorm = RowNorm::None;
  /// BatchNorm/LayerNorm epsilon.
  double eps = 0.0;
  /// Softmax/LogSoftmax: `dim` as written (kNoDim when omitted). Identity
  /// from nn.Flatten: isFlatten with its start_dim and end_dim. Data of two
  /// dimensions never depends on them; `seqc run` reads them to decide how an
  /// input of more dimensions maps onto `[rows, features]`.
  int64_t normDim = kNoDim;
  bool isFlatten = false;
  int64_t flattenStart = 1;
  int64_t flattenEnd = -1;

  /// Linear/Dense/Affine/BatchNorm/LayerNorm: weight (or scale).
  ParamId weight = kNoParam;
  /// Bias (or shift); kNoParam when the layer has none.
  ParamId bias = kNoParam;
  /// BatchNorm only: running statistics.
  ParamId runningMean = kNoParam;
  ParamId runningVar = kNoParam;

  /// Where the layer was written, and how (e.g. `Linear(2, 3)`), for
  /// diagnostics and `--layers`.
  SourceLoc loc;
  uint32_t locLength = 1;
  std::string description;
  /// Position of the source layer inside the model, PyTorch style: `0`,
  /// `2.0`. Fused ops keep the path of their first layer.
  std::string path;
};

/// A trained parameter: its PyTorch state_dict key, expected shape, and
/// (once weights are bound) its data.
struct Param {
  std::string name;
  std::vector<int64_t> shape;
  Tensor data;
  /// Which source layer it belongs to, for diagnostics.
  SourceLoc loc;
  uint32_t locLength = 1;
  std::string layerDescription;

  bool isBound() const {
    return data.data.size() == data.numElements() && data.shape == shape;
  }
};

/// A value of the chain.
struct Value {
  Type type;
};

/// A compiled model: one input, a chain of ops, one output.
class Model {
public:
  std::string name;
  std::vector<Value> values;
  std::vector<Op> ops;
  std::vector<Param> params;

  /// The value the model reads and the value it produces.
  int32_t inputValue() const { return 0; }
  int32_t outputValue() const { return ops.empty() ? 0 : ops.back().result; }
  const Type &inputType() const { return values.front().type; }
  const Type &outputType() const { return values[outputValue()].type; }

  /// Appends a value and returns its index.
  int32_t addValue(Type type = Type());
  /// Appends a parameter and returns its index.
  ParamId addParam(Param param);

  /// Rebuilds the value list so that op i reads value i and defines i + 1,
  /// keeping types; used by passes that remove or merge ops.
  void renumberValues();
  /// Drops parameters no op references and renumbers the rest.
  void removeDeadParams();
};

/// The IR mnemonic of an op kind (`linear`, `dense`, ...).
std::string_view opName(OpKind kind);

} // namespace seqc::ir

#endif // SEQC_IR_IR_H
