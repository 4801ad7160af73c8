//===- Module.h - Layer objects built from a .nn file -----------*- C++ -*-===//
//
// Part of seqc. Executing a .nn file builds module objects the way running it
// in Python would: each layer call makes one object, `Name = ...` binds a
// name to it, and Sequentials hold references, so a model used inside
// another is shared (weights loaded into it are seen by both).
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_FRONTEND_MODULE_H
#define SEQC_FRONTEND_MODULE_H

#include "compiler/ir/IR.h"
#include "compiler/ir/Tensor.h"
#include "compiler/support/SourceLoc.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace seqc::frontend {

enum class LayerKind {
  Sequential,
  Linear,
  Activation, ///< ReLU, Sigmoid, ... (Module::act says which)
  Softmax,
  LogSoftmax,
  BatchNorm1d,
  LayerNorm,
  Identity, ///< Identity, Dropout and Flatten: no-ops at inference
};

/// Where a parameter's current value came from.
enum class ParamSource { None, Inline, StateDict, Init };

/// A trained parameter of a layer (`weight`, `running_var`, ...).
struct ModuleParam {
  std::string name;
  std::vector<int64_t> shape;
  Tensor value;
  ParamSource source = ParamSource::None;
  /// BatchNorm statistics and norm scales get their own default init.
  enum class InitKind { Uniform, Ones, Zeros } init = InitKind::Uniform;
};

struct Module {
  LayerKind kind = LayerKind::Identity;
  /// The PyTorch class name (`Linear`, `Dropout`, `Sequential`).
  std::string className;
  /// Canonical spelling used in messages: `Linear(3, 2, bias=False)`.
  std::string description;
  SourceLoc loc;
  uint32_t locLength = 1;

  int64_t inFeatures = 0;  ///< Linear in_features; norm num_features
  int64_t outFeatures = 0; ///< Linear out_features
  ir::Activation act;      ///< Activation layers
  double eps = 0.0;        ///< BatchNorm1d, LayerNorm
  /// Softmax/LogSoftmax dim (ir::kNoDim when omitted).
  int64_t dim = ir::kNoDim;
  /// Flatten (an Identity): its start_dim and end_dim.
  bool isFlatten = false;
  int64_t flattenStart = 1, flattenEnd = -1;
  std::vector<ModuleParam> params;

  /// Sequential children and their names (`0`, `1`, or OrderedDict keys).
  std::vector<std::shared_ptr<Module>> children;
  std::vector<std::string> childNames;

  /// Nesting depth (1 for a layer) and number of leaf layers, saturating.
  unsigned depth = 1;
  uint64_t numLayers = 1;
  /// Total parameter elements, saturating.
  uint64_t numParamElements = 0;

  ModuleParam *findParam(std::string_view name);
  const ModuleParam *findParam(std::string_view name) const;
};

/// Visits every parameter of \p root with its state_dict key (`2.0.weight`),
/// in PyTorch's state_dict order.
void forEachParam(
    Module &root,
    const std::function<void(const std::string &key, Module &owner,
                             ModuleParam &param)> &visit);

} // namespace seqc::frontend

#endif // SEQC_FRONTEND_MODULE_H
