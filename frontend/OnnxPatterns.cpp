//===- OnnxPatterns.cpp - Element-wise ONNX subgraphs as activations ------===//

#include "frontend/OnnxPatterns.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <deque>
#include <numbers>

namespace seqc::frontend {

namespace {

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

/// One node of a region's expression, in canonical form.
struct Expr {
  enum class Kind { Input, Const, Add, Mul, Recip, Call };
  Kind kind = Kind::Input;
  /// Call: the function (`Erf`, `Tanh`, `RowMean`, ...); unknown functions
  /// keep their op type and match no pattern.
  std::string fn;
  /// Const: the tensor (null for a folded number) and, with one element,
  /// its value.
  const OnnxTensor *tensor = nullptr;
  std::optional<double> value;
  std::vector<const Expr *> args;
};

/// Most expression nodes one region may build, and most operands of one
/// flattened Add or Mul: a region of 32 nodes that squares a value again
/// and again would otherwise flatten to 2^32 operands.
constexpr size_t kMaxExprNodes = 512;
constexpr size_t kMaxOperands = 16;

/// Builds the expression of a region's output, memoised by value name so a
/// value used twice (x in x * sigmoid(x)) is one shared node.
class ExprBuilder {
public:
  ExprBuilder(const OnnxGraph &graph, const OnnxRegion &region,
              const OnnxConstants &constants, size_t rank)
      : graph(graph), region(region), constants(constants), rank(rank) {
    for (size_t index : region.nodes)
      for (const std::string &output : graph.nodes[index].outputs)
        if (!output.empty())
          producers.emplace(output, index);
  }

  /// The expression of \p value, or null when the region cannot be read
  /// as one (too large, or a value from outside it).
  const Expr *build(const std::string &value);
  /// How many of the region's nodes the built expression uses.
  size_t nodesUsed() const { return visited.size(); }

private:
  const Expr *make(Expr expr);
  const Expr *number(double value);
  const Expr *nary(Expr::Kind kind, std::vector<const Expr *> operands);
  const Expr *call(std::string fn, std::vector<const Expr *> args);
  const Expr *buildNode(const OnnxNode &node);
  bool isRowMean(const OnnxNode &node) const;

  const OnnxGraph &graph;
  const OnnxRegion &region;
  const OnnxConstants &constants;
  size_t rank;
  std::unordered_map<std::string, size_t> producers;
  std::unordered_map<std::string, const Expr *> memo;
  std::unordered_map<size_t, bool> visited;
  std::deque<Expr> arena;
  bool tooLarge = false;
};

const Expr *ExprBuilder::make(Expr expr) {
  if (arena.size() >= kMaxExprNodes) {
    tooLarge = true;
    return nullptr;
  }
  arena.push_back(std::move(expr));
  return &arena.back();
}

const Expr *ExprBuilder::number(double value) {
  Expr expr;
  expr.kind = Expr::Kind::Const;
  expr.value = value;
  return make(std::move(expr));
}

const Expr *ExprBuilder::call(std::string fn, std::vector<const Expr *> args) {
  Expr expr;
  expr.kind = Expr::Kind::Call;
  expr.fn = std::move(fn);
  expr.args = std::move(args);
  return make(std::move(expr));
}

/// Flattens nested nodes of the same kind and folds two or more numbers
/// into one (a single constant keeps its tensor, so a per-feature weight
/// of one element is still a weight).
const Expr *ExprBuilder::nary(Expr::Kind kind,
                              std::vector<const Expr *> operands) {
  std::vector<const Expr *> flat;
  std::vector<const Expr *> numbers;
  for (const Expr *operand : operands) {
    const std::vector<const Expr *> *parts = nullptr;
    std::vector<const Expr *> single{operand};
    parts = operand->kind == kind ? &operand->args : &single;
    for (const Expr *part : *parts)
      (part->kind == Expr::Kind::Const && part->value ? numbers : flat)
          .push_back(part);
  }
  if (numbers.size() > 1) {
    double folded = kind == Expr::Kind::Mul ? 1.0 : 0.0;
    for (const Expr *n : numbers)
      folded =
          kind == Expr::Kind::Mul ? folded * *n->value : folded + *n->value;
    numbers = {number(folded)};
    if (!numbers.front())
      return nullptr;
  }
  flat.insert(flat.end(), numbers.begin(), numbers.end());
  if (flat.size() > kMaxOperands) {
    tooLarge = true;
    return nullptr;
  }
  Expr expr;
  expr.kind = kind;
  expr.args = std::move(flat);
  return make(std::move(expr));
}

/// ReduceMean over the last axis of a `[N, F]` value, keeping the axis:
/// the row mean LayerNorm takes.
bool ExprBuilder::isRowMean(const OnnxNode &node) const {
  if (rank != 2)
    return false;
  const OnnxAttribute *keep = node.findAttribute("keepdims");
  if (keep && keep->i != 1)
    return false;
  std::vector<int64_t> axes;
  if (const OnnxAttribute *attribute = node.findAttribute("axes"))
    axes = attribute->ints;
  else if (node.inputs.size() > 1 && !node.inputs[1].empty()) {
    // Opset 18 passes the axes as a constant input.
    auto it = constants.find(node.inputs[1]);
    if (it == constants.end() || !it->second->isInt)
      return false;
    axes = it->second->ints;
  }
  return axes.size() == 1 && (axes[0] == -1 || axes[0] == 1);
}

const Expr *ExprBuilder::buildNode(const OnnxNode &node) {
  // Operand i as an expression (inputs are checked to exist by the caller).
  auto operand = [&](size_t i) -> const Expr * {
    return i < node.inputs.size() && !node.inputs[i].empty()
               ? build(node.inputs[i])
               : nullptr;
  };
  const std::string &op = node.opType;
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Pow") {
    const Expr *a = operand(0), *b = operand(1);
    if (!a || !b)
      return nullptr;
    if (op == "Add")
      return nary(Expr::Kind::Add, {a, b});
    if (op == "Mul")
      return nary(Expr::Kind::Mul, {a, b});
    if (op == "Sub") {
      const Expr *minusOne = number(-1.0);
      const Expr *negated =
          minusOne ? nary(Expr::Kind::Mul, {minusOne, b}) : nullptr;
      return negated ? nary(Expr::Kind::Add, {a, negated}) : nullptr;
    }
    if (op == "Div") {
      if (b->kind == Expr::Kind::Const && b->value && *b->value != 0.0) {
        const Expr *reciprocal = number(1.0 / *b->value);
        return reciprocal ? nary(Expr::Kind::Mul, {a, reciprocal}) : nullptr;
      }
      Expr recip;
      recip.kind = Expr::Kind::Recip;
      recip.args = {b};
      const Expr *r = make(std::move(recip));
      return r ? nary(Expr::Kind::Mul, {a, r}) : nullptr;
    }
    // Pow by a small integer constant is repeated multiplication.
    if (b->kind == Expr::Kind::Const && b->value &&
        (*b->value == 2.0 || *b->value == 3.0))
      return nary(Expr::Kind::Mul,
                  std::vector<const Expr *>(static_cast<size_t>(*b->value), a));
    return call("Pow", {a, b});
  }
  const Expr *x = operand(0);
  if (!x)
    return nullptr;
  if (op == "Neg") {
    const Expr *minusOne = number(-1.0);
    return minusOne ? nary(Expr::Kind::Mul, {minusOne, x}) : nullptr;
  }
  if (op == "Reciprocal") {
    Expr recip;
    recip.kind = Expr::Kind::Recip;
    recip.args = {x};
    return make(std::move(recip));
  }
  if (op == "ReduceMean")
    return call(isRowMean(node) ? "RowMean" : "ReduceMean", {x});
  if (op == "HardSigmoid") {
    // Only PyTorch's Hardsigmoid (alpha 1/6, beta 1/2) takes part in the
    // Hardswish pattern.
    const OnnxAttribute *alpha = node.findAttribute("alpha");
    const OnnxAttribute *beta = node.findAttribute("beta");
    bool torch = alpha && static_cast<float>(alpha->f) == 1.0f / 6.0f &&
                 (!beta || beta->f == 0.5);
    return call(torch ? "Hardsigmoid" : "HardSigmoid", {x});
  }
  // Attribute-free functions keep their name; the others (LeakyRelu, Clip,
  // ...) are opaque to the patterns, which do not use them.
  bool plain = node.attributes.empty() && node.inputs.size() == 1;
  return call(plain ? op : op + "#", {x});
}

const Expr *ExprBuilder::build(const std::string &value) {
  if (tooLarge)
    return nullptr;
  if (auto it = memo.find(value); it != memo.end())
    return it->second;
  const Expr *result = nullptr;
  if (value == region.input) {
    result = make(Expr{});
  } else if (auto c = constants.find(value); c != constants.end()) {
    Expr expr;
    expr.kind = Expr::Kind::Const;
    expr.tensor = c->second;
    expr.value = c->second->scalar();
    result = make(std::move(expr));
  } else if (auto p = producers.find(value); p != producers.end()) {
    visited[p->second] = true;
    // Depth is bounded: each level is a different node of the region.
    result = buildNode(graph.nodes[p->second]);
  }
  memo.emplace(value, result);
  return result;
}

//===----------------------------------------------------------------------===//
// Patterns
//===----------------------------------------------------------------------===//

/// A pattern tree. Scalar and Vector capture a constant into a slot.
struct Pat {
  enum class Kind { X, Number, Scalar, Vector, Add, Mul, Recip, Call };
  Kind kind = Kind::X;
  double number = 0;
  int slot = -1;
  std::string_view fn;
  std::vector<Pat> args;
};

Pat X() { return Pat{}; }
Pat num(double value) { return Pat{Pat::Kind::Number, value, -1, {}, {}}; }
Pat scalar(int slot) { return Pat{Pat::Kind::Scalar, 0, slot, {}, {}}; }
Pat vec(int slot) { return Pat{Pat::Kind::Vector, 0, slot, {}, {}}; }
Pat add(std::vector<Pat> args) {
  return Pat{Pat::Kind::Add, 0, -1, {}, std::move(args)};
}
Pat mul(std::vector<Pat> args) {
  return Pat{Pat::Kind::Mul, 0, -1, {}, std::move(args)};
}
Pat recip(Pat arg) { return Pat{Pat::Kind::Recip, 0, -1, {}, {arg}}; }
Pat fn(std::string_view name, Pat arg) {
  return Pat{Pat::Kind::Call, 0, -1, name, {arg}};
}

/// Constants captured by Scalar and Vector slots.
struct Captures {
  std::array<const Expr *, 3> slots{};
};

/// Equal at float32 precision: within two float32 ulps, which covers a
/// constant stored as float32 and its reciprocal taken in double.
bool sameNumber(double found, double expected) {
  return std::fabs(found - expected) <= std::ldexp(std::fabs(expected), -22);
}

bool match(const Pat &pat, const Expr &expr, Captures &captures);

/// Matches \p pats to \p operands in any order (backtracking; patterns
/// have at most four operands).
bool matchOperands(const std::vector<Pat> &pats, size_t next,
                   const std::vector<const Expr *> &operands, uint32_t used,
                   Captures &captures) {
  if (next == pats.size())
    return true;
  for (size_t j = 0; j < operands.size(); ++j) {
    if (used & (1u << j))
      continue;
    Captures saved = captures;
    if (match(pats[next], *operands[j], captures) &&
        matchOperands(pats, next + 1, operands, used | (1u << j), captures))
      return true;
    captures = saved;
  }
  return false;
}

bool match(const Pat &pat, const Expr &expr, Captures &captures) {
  switch (pat.kind) {
  case Pat::Kind::X:
    return expr.kind == Expr::Kind::Input;
  case Pat::Kind::Number:
    return expr.kind == Expr::Kind::Const && expr.value &&
           sameNumber(*expr.value, pat.number);
  case Pat::Kind::Scalar:
    if (expr.kind != Expr::Kind::Const || !expr.value)
      return false;
    captures.slots[pat.slot] = &expr;
    return true;
  case Pat::Kind::Vector: {
    if (expr.kind != Expr::Kind::Const || !expr.tensor || !expr.tensor->isFloat)
      return false;
    const std::vector<int64_t> &dims = expr.tensor->dims;
    if (!(dims.size() == 1 || (dims.size() == 2 && dims[0] == 1)))
      return false;
    captures.slots[pat.slot] = &expr;
    return true;
  }
  case Pat::Kind::Add:
  case Pat::Kind::Mul:
    if (expr.kind !=
            (pat.kind == Pat::Kind::Add ? Expr::Kind::Add : Expr::Kind::Mul) ||
        expr.args.size() != pat.args.size())
      return false;
    return matchOperands(pat.args, 0, expr.args, 0, captures);
  case Pat::Kind::Recip:
    return expr.kind == Expr::Kind::Recip &&
           match(pat.args[0], *expr.args[0], captures);
  case Pat::Kind::Call:
    return expr.kind == Expr::Kind::Call && expr.fn == pat.fn &&
           expr.args.size() == 1 && match(pat.args[0], *expr.args[0], captures);
  }
  return false;
}

/// A pattern and what it means; `check` accepts or refuses the captures.
struct Pattern {
  const char *name;
  Pat tree;
  OnnxPatternMatch (*make)(const Captures &);
  bool (*check)(const Captures &) = nullptr;
};

OnnxPatternMatch activation(const char *name, ir::ActKind kind,
                            double alpha = 0, double beta = 0) {
  OnnxPatternMatch m;
  m.name = name;
  m.act.kind = kind;
  m.act.alpha = alpha;
  m.act.beta = beta;
  return m;
}

OnnxPatternMatch layerNorm(const Captures &c) {
  OnnxPatternMatch m;
  m.kind = OnnxPatternMatch::Kind::LayerNorm;
  m.name = "LayerNorm";
  m.eps = *c.slots[0]->value;
  m.weight = c.slots[1] ? c.slots[1]->tensor : nullptr;
  m.bias = c.slots[2] ? c.slots[2]->tensor : nullptr;
  return m;
}

/// The patterns, most specific first. Constants are PyTorch's.
const std::vector<Pattern> &patterns() {
  static const std::vector<Pattern> table = [] {
    using std::numbers::pi;
    const double sqrtHalf = std::sqrt(0.5);
    const double sqrtTwoOverPi = std::sqrt(2.0 / pi);
    // x - mean(x), and 1 / sqrt(mean((x - mean(x))^2) + eps).
    Pat centered = add({X(), mul({num(-1.0), fn("RowMean", X())})});
    Pat invStd = recip(
        fn("Sqrt", add({fn("RowMean", mul({centered, centered})), scalar(0)})));
    auto eps = [](const Captures &c) { return *c.slots[0]->value >= 0.0; };
    std::vector<Pattern> t;
    // GELU: x * 0.5 * (1 + erf(x / sqrt(2))).
    t.push_back({"GELU",
                 mul({num(0.5), X(),
                      add({num(1.0), fn("Erf", mul({X(), num(sqrtHalf)}))})}),
                 [](const Captures &) {
                   return activation("GELU", ir::ActKind::GELU);
                 }});
    // GELU, tanh approximation:
    // x * 0.5 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))).
    t.push_back(
        {"GELU (tanh)",
         mul({num(0.5), X(),
              add({num(1.0), fn("Tanh", mul({num(sqrtTwoOverPi),
                                             add({X(), mul({num(0.044715), X(),
                                                            X(), X()})})}))})}),
         [](const Captures &) {
           return activation("GELU (tanh)", ir::ActKind::GELUTanh);
         }});
    t.push_back({"SiLU", mul({X(), fn("Sigmoid", X())}), [](const Captures &) {
                   return activation("SiLU", ir::ActKind::SiLU);
                 }});
    t.push_back(
        {"Hardswish", mul({X(), fn("Hardsigmoid", X())}), [](const Captures &) {
           return activation("Hardswish", ir::ActKind::Hardswish);
         }});
    t.push_back({"Mish", mul({X(), fn("Tanh", fn("Softplus", X()))}),
                 [](const Captures &) {
                   return activation("Mish", ir::ActKind::Mish);
                 }});
    // Softsign: x / (1 + |x|).
    t.push_back({"Softsign", mul({X(), recip(add({fn("Abs", X()), num(1.0)}))}),
                 [](const Captures &) {
                   return activation("Softsign", ir::ActKind::Softsign);
                 }});
    // Softplus(beta): softplus(x * beta) / beta. ONNX's Softplus has no
    // threshold; PyTorch's default (20) gives the same float32 values.
    t.push_back(
        {"Softplus", mul({scalar(0), fn("Softplus", mul({X(), scalar(1)}))}),
         [](const Captures &c) {
           return activation("Softplus", ir::ActKind::Softplus,
                             kOnnxSoftplusThreshold, *c.slots[1]->value);
         },
         [](const Captures &c) {
           double beta = *c.slots[1]->value;
           return beta > 0.0 && sameNumber(*c.slots[0]->value * beta, 1.0);
         }});
    // LayerNorm: (x - mean) * invStd [* weight] [+ bias].
    t.push_back({"LayerNorm", add({mul({centered, invStd, vec(1)}), vec(2)}),
                 layerNorm, eps});
    t.push_back({"LayerNorm", mul({centered, invStd, vec(1)}), layerNorm, eps});
    t.push_back(
        {"LayerNorm", add({mul({centered, invStd}), vec(2)}), layerNorm, eps});
    t.push_back({"LayerNorm", mul({centered, invStd}), layerNorm, eps});
    return t;
  }();
  return table;
}

} // namespace

bool isOnnxPatternOp(std::string_view opType) {
  static constexpr std::string_view kOps[] = {
      "Relu",     "Sigmoid",   "Tanh",        "LeakyRelu", "Elu",  "Selu",
      "Softplus", "Softsign",  "HardSigmoid", "HardSwish", "Mish", "Clip",
      "Gelu",     "Erf",       "Add",         "Sub",       "Mul",  "Div",
      "Pow",      "Sqrt",      "Reciprocal",  "Neg",       "Abs",  "Exp",
      "Log",      "ReduceMean"};
  return std::find(std::begin(kOps), std::end(kOps), opType) != std::end(kOps);
}

std::optional<OnnxPatternMatch> matchOnnxPattern(const OnnxGraph &graph,
                                                 const OnnxRegion &region,
                                                 const OnnxConstants &constants,
                                                 size_t rank) {
  ExprBuilder builder(graph, region, constants, rank);
  const Expr *root = builder.build(region.output);
  // Every node of the region must be part of what it computes.
  if (!root || builder.nodesUsed() != region.nodes.size())
    return std::nullopt;
  for (const Pattern &pattern : patterns()) {
    Captures captures;
    if (match(pattern.tree, *root, captures) &&
        (!pattern.check || pattern.check(captures)))
      return pattern.make(captures);
  }
  return std::nullopt;
}

} // namespace seqc::frontend
