//===- OnnxPatterns.h - Element-wise ONNX subgraphs as activations -*- C++
//-*-===//
//
// Part of seqc. Exporters write several layers as a handful of element-wise
// nodes: torch.onnx.export turns GELU into Div/Erf/Add/Mul/Mul, SiLU into
// Sigmoid + Mul, Softsign into Abs/Add/Div, Softplus(beta) into
// Mul/Softplus/Div and, before opset 17, LayerNorm into
// ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add. A region of such
// nodes, from the chain value x to one value y, is read as an expression of
// x and matched against the forms of seqc's layers:
//   1. each node becomes an expression node, in a canonical form: Sub and
//      Neg become Add and Mul by -1, Div by a constant becomes Mul by its
//      reciprocal (other Divs Mul by Recip), Pow by 2 or 3 repeated Mul,
//      and nested Adds and Muls are flattened into one n-ary node;
//   2. each pattern is the same kind of tree over X, numbers, and slots
//      that capture a scalar or a per-feature constant; Add and Mul match
//      their operands in any order;
//   3. numbers match constants equal at float32 precision (what exporters
//      store), so a pattern matches only the function it names.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_FRONTEND_ONNXPATTERNS_H
#define SEQC_FRONTEND_ONNXPATTERNS_H

#include "frontend/OnnxGraph.h"

#include "compiler/ir/IR.h"

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace seqc::frontend {

/// Constant values by name: initializers, Constant nodes' values, and
/// Identity or Transpose of those.
using OnnxConstants = std::unordered_map<std::string, const OnnxTensor *>;

/// Most nodes a pattern region may span (the longest pattern, tanh GELU,
/// has 9 non-constant nodes).
inline constexpr size_t kMaxOnnxPatternNodes = 32;

/// The threshold of the Softplus an ONNX Softplus becomes. ONNX's has none
/// (it is log(1 + exp(x)) everywhere); above 20, x and that agree to
/// float32 precision, and 20 is PyTorch's default, which the exporters'
/// source layers use.
inline constexpr double kOnnxSoftplusThreshold = 20.0;

/// A region of nodes that compute y from the chain value x.
struct OnnxRegion {
  /// Node indices in file (topological) order.
  std::vector<size_t> nodes;
  std::string input;
  std::string output;
};

/// What a matched region computes.
struct OnnxPatternMatch {
  enum class Kind { Activation, LayerNorm };
  Kind kind = Kind::Activation;
  /// The layer's name for descriptions: `GELU`, `SiLU`, `LayerNorm`.
  std::string name;
  /// Kind::Activation: the function.
  ir::Activation act;
  /// Kind::LayerNorm: epsilon and the optional per-feature weight and bias.
  double eps = 0;
  const OnnxTensor *weight = nullptr;
  const OnnxTensor *bias = nullptr;
};

/// The layer \p region computes, when it is one of the patterns above
/// (multi-node regions only; single nodes are mapped by op type). \p rank
/// is the rank of x: a row mean (ReduceMean over the last axis) only means
/// LayerNorm on a `[N, F]` value.
std::optional<OnnxPatternMatch> matchOnnxPattern(const OnnxGraph &graph,
                                                 const OnnxRegion &region,
                                                 const OnnxConstants &constants,
                                                 size_t rank);

/// True for the op types a pattern region may contain.
bool isOnnxPatternOp(std::string_view opType);

} // namespace seqc::frontend

#endif // SEQC_FRONTEND_ONNXPATTERNS_H
