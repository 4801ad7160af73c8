//===- Sema.cpp - Executing a .nn file into module objects ----------------===//

#include "frontend/Sema.h"

#include "frontend/Evaluator.h"
#include "frontend/WeightBinding.h"

#include "compiler/support/FileIO.h"
#include "compiler/support/Limits.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

namespace seqc::frontend {

const Program::Binding *Program::find(std::string_view name) const {
  for (const Binding &binding : models)
    if (binding.name == name)
      return &binding;
  return nullptr;
}

namespace {

//===----------------------------------------------------------------------===//
// Layer signatures, as PyTorch declares them.
//===----------------------------------------------------------------------===//

enum class ArgType {
  Int,           ///< an integer (not a bool)
  Float,         ///< an int or float
  Bool,          ///< True or False
  String,        ///< a string
  OptionalInt,   ///< an integer or None
  Shape,         ///< an int or a one-element list/tuple of ints
  Ignored,       ///< device=, dtype=: accepted, no effect
  Literal,       ///< inline parameter literal (seqc extension)
  BoolOrLiteral, ///< `bias`: True/False, or an inline literal
};

struct ArgSpec {
  std::string_view name;
  ArgType type;
  bool required = false;
};

struct LayerSpec {
  std::string_view className;
  LayerKind kind;
  std::vector<ArgSpec> args = {};
  /// Number of leading args that may be given positionally.
  size_t numPositional = 0;
  bool acceptsAnything = false; ///< nn.Identity(*args, **kwargs)
  /// Activation layers: their class in the activation table.
  const ir::ActivationClass *activation = nullptr;
};

/// An activation class's signature, from its table entry: the float
/// parameters, the variant's string, then `inplace`, all positional.
LayerSpec activationSpec(const ir::ActivationClass &activation) {
  LayerSpec spec{.className = activation.name(),
                 .kind = LayerKind::Activation,
                 .activation = &activation};
  bool takesInplace = true;
  if (!activation.isAlias()) {
    const ir::ActivationInfo &info = ir::activationInfo(activation.kind);
    for (const ir::ActParam &param : info.params)
      if (param.isUsed())
        spec.args.push_back({param.keyword, ArgType::Float});
    if (!info.variant.keyword.empty())
      spec.args.push_back({info.variant.keyword, ArgType::String});
    takesInplace = info.takesInplace;
  }
  if (takesInplace)
    spec.args.push_back({"inplace", ArgType::Bool});
  spec.numPositional = spec.args.size();
  return spec;
}

std::vector<LayerSpec> makeLayerSpecs() {
  using LK = LayerKind;
  std::vector<LayerSpec> specs = {
      {.className = "Linear",
       .kind = LK::Linear,
       .args = {{.name = "in_features", .type = ArgType::Int, .required = true},
                {.name = "out_features",
                 .type = ArgType::Int,
                 .required = true},
                {"bias", ArgType::BoolOrLiteral},
                {"device", ArgType::Ignored},
                {"dtype", ArgType::Ignored},
                {"weight", ArgType::Literal}},
       .numPositional = 5},
  };
  for (const ir::ActivationClass &activation : ir::kActivationClasses)
    if (activation.isClass())
      specs.push_back(activationSpec(activation));
  std::vector<LayerSpec> rest = {
      {.className = "Softmax",
       .kind = LK::Softmax,
       .args = {{"dim", ArgType::OptionalInt}},
       .numPositional = 1},
      {.className = "LogSoftmax",
       .kind = LK::LogSoftmax,
       .args = {{"dim", ArgType::OptionalInt}},
       .numPositional = 1},
      {.className = "Identity", .kind = LK::Identity, .acceptsAnything = true},
      {.className = "Dropout",
       .kind = LK::Identity,
       .args = {{"p", ArgType::Float}, {"inplace", ArgType::Bool}},
       .numPositional = 2},
      {.className = "Flatten",
       .kind = LK::Identity,
       .args = {{"start_dim", ArgType::Int}, {"end_dim", ArgType::Int}},
       .numPositional = 2},
      {.className = "BatchNorm1d",
       .kind = LK::BatchNorm1d,
       .args = {{.name = "num_features",
                 .type = ArgType::Int,
                 .required = true},
                {"eps", ArgType::Float},
                {"momentum", ArgType::Ignored},
                {"affine", ArgType::Bool},
                {"track_running_stats", ArgType::Bool},
                {"device", ArgType::Ignored},
                {"dtype", ArgType::Ignored},
                {"weight", ArgType::Literal},
                {"bias", ArgType::Literal},
                {"running_mean", ArgType::Literal},
                {"running_var", ArgType::Literal}},
       .numPositional = 7},
      {.className = "LayerNorm",
       .kind = LK::LayerNorm,
       .args = {{.name = "normalized_shape",
                 .type = ArgType::Shape,
                 .required = true},
                {"eps", ArgType::Float},
                {"elementwise_affine", ArgType::Bool},
                {"bias", ArgType::BoolOrLiteral},
                {"device", ArgType::Ignored},
                {"dtype", ArgType::Ignored},
                {"weight", ArgType::Literal}},
       .numPositional = 6},
  };
  specs.insert(specs.end(), rest.begin(), rest.end());
  return specs;
}

/// Every layer class, in the order the language lists them.
const std::vector<LayerSpec> &layerSpecs() {
  static const std::vector<LayerSpec> specs = makeLayerSpecs();
  return specs;
}

const LayerSpec *findLayerSpec(std::string_view name) {
  for (const LayerSpec &spec : layerSpecs())
    if (spec.className == name)
      return &spec;
  return nullptr;
}

size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      char ca =
          static_cast<char>(std::tolower(static_cast<unsigned char>(a[i - 1])));
      char cb =
          static_cast<char>(std::tolower(static_cast<unsigned char>(b[j - 1])));
      row[j] =
          std::min({row[j] + 1, row[j - 1] + 1, diag + (ca == cb ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

/// The largest edit distance at which \p name still looks like a misspelling
/// worth suggesting a fix for (plus one): a third of its length, at most 2,
/// so that `Li` does not become `ELU`.
size_t suggestionBound(std::string_view name) {
  return std::min<size_t>((name.size() + 2) / 3, 2) + 1;
}

/// Bound argument values of one call.
struct BoundArgs {
  std::map<std::string, const Expr *, std::less<>> values;
  const Expr *get(std::string_view name) const {
    auto it = values.find(name);
    return it == values.end() ? nullptr : it->second;
  }
};

/// "a, b and c" (with \p conjunction "and").
std::string listWords(const std::vector<std::string> &words,
                      std::string_view conjunction) {
  std::string text;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i)
      text += i + 1 == words.size() ? fmt::format(" {} ", conjunction) : ", ";
    text += words[i];
  }
  return text;
}

/// "Sequential, Linear, ... and LayerNorm".
std::string supportedLayers() {
  std::vector<std::string> names = {"Sequential"};
  for (const LayerSpec &spec : layerSpecs())
    names.push_back(std::string(spec.className));
  return listWords(names, "and");
}

std::string formatNumber(double value) { return fmt::format("{}", value); }

//===----------------------------------------------------------------------===//
// The analyzer.
//===----------------------------------------------------------------------===//

class Sema {
public:
  Sema(const SemaOptions &options, DiagnosticEngine &diag)
      : options(options), diag(diag),
        evaluator(
            diag, [this](ExprPtr call) { return handleCall(std::move(call)); },
            [](std::string_view name) {
              return findLayerSpec(name) || name == "Sequential" ||
                     name == "OrderedDict";
            }) {}

  std::optional<Program> run(const File &file);

private:
  bool fail(const Expr &expr, std::string_view message) {
    diag.error(expr.loc, message, expr.length);
    return false;
  }
  bool failAt(SourceLoc loc, uint32_t length, std::string_view message) {
    diag.error(loc, message, length);
    return false;
  }

  bool runStatement(const Statement &stmt);
  bool runAssign(const Statement &stmt);
  ExprPtr handleCall(ExprPtr call);
  bool runMethodCall(const Expr &call);
  std::shared_ptr<Module> evalModule(const Expr &expr);
  std::shared_ptr<Module> evalSequential(const Expr &call);
  std::shared_ptr<Module> evalLayer(const Expr &call, const LayerSpec &spec);
  bool bindArgs(const Expr &call, const LayerSpec &spec, BoundArgs &bound);

  /// A layer call being evaluated: what the per-kind functions read and
  /// fill in.
  struct LayerCall {
    const Expr &call;
    const LayerSpec &spec;
    const BoundArgs &args;
    Module &module;
    /// The arguments the description shows.
    std::vector<std::string> shown;
  };
  // One function per layer kind; each reports and returns false on error.
  bool evalLinear(LayerCall &layer);
  bool evalActivation(LayerCall &layer);
  bool selectVariant(LayerCall &layer);
  bool evalSoftmax(LayerCall &layer);
  bool evalIdentity(LayerCall &layer);
  bool evalBatchNorm(LayerCall &layer);
  bool evalLayerNorm(LayerCall &layer);
  bool readEps(LayerCall &layer);
  /// Declares a parameter of the layer, reading its inline literal if given.
  bool addParam(LayerCall &layer, const std::string &paramName,
                std::vector<int64_t> shape, ModuleParam::InitKind init);
  /// Fails when an inline literal is given for a parameter the layer lacks.
  bool checkNoLiteral(const LayerCall &layer, std::string_view paramName,
                      std::string_view reason);
  bool finishContainer(Module &module, const Expr &call);

  // Argument readers: each reports and returns false on a type error.
  bool readInt(const Expr &expr, std::string_view what, int64_t &out);
  bool readFloat(const Expr &expr, std::string_view what, double &out);
  bool readBool(const Expr &expr, std::string_view what, bool &out);
  bool readFeatures(const Expr &expr, std::string_view what, int64_t &out);
  bool readLiteral(const Expr &expr, std::string_view what,
                   const std::vector<int64_t> &shape, Tensor &out);

  const SemaOptions &options;
  DiagnosticEngine &diag;
  Evaluator evaluator;
  Program program;
};

std::string layerName(const Expr &call) {
  return call.dotted.empty() ? std::string() : call.dotted.back();
}

/// True when the callee is spelled as a torch.nn class: `X`, `nn.X`,
/// `torch.nn.X`.
bool isNnPath(const Expr &call) {
  const auto &d = call.dotted;
  if (d.size() == 1)
    return true;
  if (d.size() == 2)
    return d[0] == "nn";
  if (d.size() == 3)
    return d[0] == "torch" && d[1] == "nn";
  return false;
}

bool Sema::readInt(const Expr &expr, std::string_view what, int64_t &out) {
  if (expr.kind != Expr::Kind::Integer)
    return fail(expr, fmt::format("{} must be an integer, not {}", what,
                                  expr.describe()));
  out = expr.intValue;
  return true;
}

bool Sema::readFloat(const Expr &expr, std::string_view what, double &out) {
  if (expr.kind != Expr::Kind::Integer && expr.kind != Expr::Kind::Float)
    return fail(expr, fmt::format("{} must be a number, not {}", what,
                                  expr.describe()));
  out = expr.floatValue;
  return true;
}

bool Sema::readBool(const Expr &expr, std::string_view what, bool &out) {
  if (expr.kind != Expr::Kind::Bool)
    return fail(expr, fmt::format("{} must be True or False, not {}", what,
                                  expr.describe()));
  out = expr.intValue != 0;
  return true;
}

bool Sema::readFeatures(const Expr &expr, std::string_view what, int64_t &out) {
  if (!readInt(expr, what, out))
    return false;
  if (out <= 0)
    return fail(expr, fmt::format("{} must be positive, got {}", what, out));
  if (out > limits::kMaxFeatures)
    return fail(expr, fmt::format("{} is {}, more than the limit of {} "
                                  "features",
                                  what, out, limits::kMaxFeatures));
  return true;
}

bool Sema::readLiteral(const Expr &expr, std::string_view what,
                       const std::vector<int64_t> &shape, Tensor &out) {
  // Walk the nested lists level by level, checking the shape as we go.
  std::vector<const Expr *> level = {&expr};
  for (size_t dim = 0; dim < shape.size(); ++dim) {
    std::vector<const Expr *> next;
    for (const Expr *e : level) {
      if (e->kind != Expr::Kind::List)
        return fail(*e, fmt::format("{} must be a nested list of shape {}; "
                                    "found {} at depth {}",
                                    what, Tensor::shapeString(shape),
                                    e->describe(), dim));
      if (static_cast<int64_t>(e->args.size()) != shape[dim])
        return fail(*e, fmt::format("{} must have shape {}, but this list "
                                    "(dimension {}) has {} elements, not {}",
                                    what, Tensor::shapeString(shape), dim,
                                    e->args.size(), shape[dim]));
      for (const ExprPtr &child : e->args)
        next.push_back(child.get());
    }
    level = std::move(next);
  }
  out.shape = shape;
  out.data.clear();
  out.data.reserve(level.size());
  for (const Expr *e : level) {
    if (e->kind != Expr::Kind::Integer && e->kind != Expr::Kind::Float)
      return fail(*e, fmt::format("{} elements must be numbers, not {}", what,
                                  e->describe()));
    double v = e->floatValue;
    if (std::fabs(v) > 3.4028234663852886e38)
      return fail(*e,
                  fmt::format("{} element {} does not fit float32", what, v));
    out.data.push_back(static_cast<float>(v));
  }
  return true;
}

bool Sema::bindArgs(const Expr &call, const LayerSpec &spec, BoundArgs &bound) {
  std::string name(spec.className);
  if (spec.acceptsAnything)
    return true;
  if (call.args.size() > spec.numPositional)
    return fail(*call.args[spec.numPositional],
                fmt::format("{}() takes at most {} positional argument{} but "
                            "{} were given",
                            name, spec.numPositional,
                            spec.numPositional == 1 ? "" : "s",
                            call.args.size()));
  for (size_t i = 0; i < call.args.size(); ++i)
    bound.values[std::string(spec.args[i].name)] = call.args[i].get();
  for (const KeywordArg &keyword : call.keywords) {
    auto it =
        std::find_if(spec.args.begin(), spec.args.end(),
                     [&](const ArgSpec &a) { return a.name == keyword.name; });
    if (it == spec.args.end()) {
      std::string valid, suggestion;
      size_t best = suggestionBound(keyword.name);
      for (const ArgSpec &a : spec.args) {
        valid += (valid.empty() ? "" : ", ") + std::string(a.name);
        if (size_t distance = editDistance(keyword.name, a.name);
            distance < best) {
          best = distance;
          suggestion = std::string(a.name);
        }
      }
      std::string hint =
          !suggestion.empty()
              ? fmt::format("; did you mean '{}'?", suggestion)
              : fmt::format(" (it takes: {})",
                            valid.empty() ? "no arguments" : valid);
      return failAt(keyword.nameLoc, static_cast<uint32_t>(keyword.name.size()),
                    fmt::format("{}() got an unexpected keyword argument '{}'"
                                "{}",
                                name, keyword.name, hint));
    }
    if (bound.get(keyword.name))
      return failAt(keyword.nameLoc, static_cast<uint32_t>(keyword.name.size()),
                    fmt::format("{}() got multiple values for argument '{}'",
                                name, keyword.name));
    bound.values[keyword.name] = keyword.value.get();
  }
  for (const ArgSpec &arg : spec.args) {
    const Expr *value = bound.get(arg.name);
    if (!value) {
      if (arg.required)
        return fail(call, fmt::format("{}() missing required argument '{}'",
                                      name, arg.name));
      continue;
    }
    // Type checks common to all layers.
    switch (arg.type) {
    case ArgType::Bool:
      if (value->kind != Expr::Kind::Bool)
        return fail(*value, fmt::format("{}() argument '{}' must be True or "
                                        "False, not {}",
                                        name, arg.name, value->describe()));
      break;
    case ArgType::String:
      if (value->kind != Expr::Kind::String)
        return fail(*value, fmt::format("{}() argument '{}' must be a string, "
                                        "not {}",
                                        name, arg.name, value->describe()));
      break;
    case ArgType::OptionalInt:
      if (value->kind != Expr::Kind::Integer && value->kind != Expr::Kind::None)
        return fail(*value, fmt::format("{}() argument '{}' must be an integer "
                                        "or None, not {}",
                                        name, arg.name, value->describe()));
      break;
    case ArgType::Ignored:
      if (value->kind == Expr::Kind::List || value->kind == Expr::Kind::Call)
        return fail(*value, fmt::format("{}() argument '{}' must be a name, "
                                        "string or None",
                                        name, arg.name));
      break;
    case ArgType::Literal:
      if (value->kind != Expr::Kind::List)
        return fail(*value, fmt::format("{}() inline parameter '{}' must be a "
                                        "list literal, not {}",
                                        name, arg.name, value->describe()));
      break;
    case ArgType::BoolOrLiteral:
      if (value->kind != Expr::Kind::Bool && value->kind != Expr::Kind::List)
        return fail(*value, fmt::format("{}() argument '{}' must be True, "
                                        "False or a list literal, not {}",
                                        name, arg.name, value->describe()));
      break;
    case ArgType::Int:
    case ArgType::Float:
    case ArgType::Shape:
      break; // checked where read, with a layer-specific message
    }
  }
  return true;
}

/// Evaluates a layer call: binds the arguments to the class's signature,
/// lets the layer kind's function read them into a new module (failing at
/// the first error), then describes the module as written (`Linear(2, 3)`,
/// showing the arguments that were given) and counts its parameters.
std::shared_ptr<Module> Sema::evalLayer(const Expr &call,
                                        const LayerSpec &spec) {
  BoundArgs args;
  if (!bindArgs(call, spec, args))
    return nullptr;
  auto module = std::make_shared<Module>();
  module->kind = spec.kind;
  module->className = std::string(spec.className);
  module->loc = call.loc;
  module->locLength = call.length;
  LayerCall layer{call, spec, args, *module, {}};
  bool ok = true;
  switch (spec.kind) {
  case LayerKind::Linear:
    ok = evalLinear(layer);
    break;
  case LayerKind::Activation:
    ok = evalActivation(layer);
    break;
  case LayerKind::Softmax:
  case LayerKind::LogSoftmax:
    ok = evalSoftmax(layer);
    break;
  case LayerKind::Identity:
    ok = evalIdentity(layer);
    break;
  case LayerKind::BatchNorm1d:
    ok = evalBatchNorm(layer);
    break;
  case LayerKind::LayerNorm:
    ok = evalLayerNorm(layer);
    break;
  case LayerKind::Sequential:
    break;
  }
  if (!ok)
    return nullptr;
  module->description =
      fmt::format("{}({})", module->className, fmt::join(layer.shown, ", "));
  for (const ModuleParam &param : module->params) {
    uint64_t n = 1;
    for (int64_t d : param.shape)
      n *= static_cast<uint64_t>(d);
    module->numParamElements += n;
  }
  return module;
}

bool Sema::addParam(LayerCall &layer, const std::string &paramName,
                    std::vector<int64_t> shape, ModuleParam::InitKind init) {
  ModuleParam param;
  param.name = paramName;
  param.shape = shape;
  param.init = init;
  if (const Expr *literal = layer.args.get(paramName);
      literal && literal->kind == Expr::Kind::List) {
    if (!readLiteral(*literal,
                     fmt::format("{} {}", layer.module.className, paramName),
                     shape, param.value))
      return false;
    param.source = ParamSource::Inline;
    layer.shown.push_back(paramName + "=[...]");
  }
  layer.module.params.push_back(std::move(param));
  return true;
}

bool Sema::checkNoLiteral(const LayerCall &layer, std::string_view paramName,
                          std::string_view reason) {
  const Expr *literal = layer.args.get(paramName);
  if (literal && literal->kind == Expr::Kind::List)
    return fail(*literal,
                fmt::format("{}: inline '{}' given, but {}",
                            layer.module.className, paramName, reason));
  return true;
}

bool Sema::evalLinear(LayerCall &layer) {
  Module &module = layer.module;
  if (!readFeatures(*layer.args.get("in_features"), "Linear in_features",
                    module.inFeatures) ||
      !readFeatures(*layer.args.get("out_features"), "Linear out_features",
                    module.outFeatures))
    return false;
  layer.shown.push_back(std::to_string(module.inFeatures));
  layer.shown.push_back(std::to_string(module.outFeatures));
  bool hasBias = true;
  if (const Expr *bias = layer.args.get("bias");
      bias && bias->kind == Expr::Kind::Bool)
    hasBias = bias->intValue != 0;
  if (!hasBias)
    layer.shown.push_back("bias=False");
  uint64_t elements = static_cast<uint64_t>(module.inFeatures) *
                      static_cast<uint64_t>(module.outFeatures);
  if (elements > limits::kMaxParamElements)
    return fail(layer.call,
                fmt::format("Linear({}, {}) has {} weights, more than the "
                            "limit of {}",
                            module.inFeatures, module.outFeatures, elements,
                            limits::kMaxParamElements));
  if (!addParam(layer, "weight", {module.outFeatures, module.inFeatures},
                ModuleParam::InitKind::Uniform))
    return false;
  return !hasBias || addParam(layer, "bias", {module.outFeatures},
                              ModuleParam::InitKind::Uniform);
}

/// An activation layer, from its entry in the activation table (an alias
/// has fixed parameters and nothing to read):
///  1. the variant argument, if given, picks the class's entry (GELU's
///     approximate='tanh' gives GELUTanh);
///  2. the parameters start at their defaults and each one given is read,
///     shown in the description and checked (not 0 where the formula divides
///     by it);
///  3. Hardtanh-like entries check that the second exceeds the first.
bool Sema::evalActivation(LayerCall &layer) {
  const ir::ActivationClass &activation = *layer.spec.activation;
  ir::Activation &act = layer.module.act;
  act.kind = activation.kind;
  if (activation.isAlias()) {
    act.alpha = activation.alpha;
    act.beta = activation.beta;
    return true;
  }
  if (!selectVariant(layer))
    return false;
  const ir::ActivationInfo &info = ir::activationInfo(act.kind);
  std::string_view className = layer.spec.className;
  for (const ir::ActParam &param : info.params)
    if (param.isUsed())
      param.set(act, param.defaultValue);
  for (const ir::ActParam &param : info.params) {
    const Expr *e = param.isUsed() ? layer.args.get(param.keyword) : nullptr;
    if (!e)
      continue;
    double value;
    if (!readFloat(*e, fmt::format("{} {}", className, param.keyword), value))
      return false;
    if (param.nonZero && value == 0.0)
      return fail(*e, fmt::format("{} {} must not be 0 (the function divides "
                                  "by it)",
                                  className, param.keyword));
    param.set(act, value);
    layer.shown.push_back(
        param.describedByKeyword
            ? fmt::format("{}={}", param.keyword, formatNumber(value))
            : formatNumber(value));
  }
  const ir::ActParam &low = info.params[0], &high = info.params[1];
  if (info.secondAboveFirst && !(high.get(act) > low.get(act)))
    return fail(layer.call,
                fmt::format("{} {} ({}) must be greater than {} ({})",
                            className, high.keyword, high.get(act), low.keyword,
                            low.get(act)));
  return true;
}

bool Sema::selectVariant(LayerCall &layer) {
  ir::Activation &act = layer.module.act;
  const ir::ActivationInfo &info = ir::activationInfo(act.kind);
  const Expr *e = info.variant.keyword.empty()
                      ? nullptr
                      : layer.args.get(info.variant.keyword);
  if (!e)
    return true;
  std::vector<std::string> choices;
  for (const ir::ActivationInfo &entry : ir::kActivations) {
    if (entry.torchClass != info.torchClass)
      continue;
    if (entry.variant.value == e->stringValue) {
      act.kind = entry.kind;
      if (entry.kind != info.kind)
        layer.shown.push_back(
            fmt::format("{}='{}'", entry.variant.keyword, entry.variant.value));
      return true;
    }
    choices.push_back(fmt::format("'{}'", entry.variant.value));
  }
  return fail(*e, fmt::format("{} {} must be {}, not '{}'",
                              layer.spec.className, info.variant.keyword,
                              listWords(choices, "or"), e->stringValue));
}

bool Sema::evalSoftmax(LayerCall &layer) {
  const Expr *e = layer.args.get("dim");
  if (!e || e->kind != Expr::Kind::Integer)
    return true;
  int64_t dim = e->intValue;
  if (dim == 0 || dim == -2)
    return fail(*e, fmt::format("{} over dim {} would mix the samples of a "
                                "batch; seqc models normalise each sample (use "
                                "dim=-1 or dim=1)",
                                layer.spec.className, dim));
  if (dim != 1 && dim != -1)
    return fail(*e, fmt::format("{} dim {} is out of range for [batch, "
                                "features] data (use dim=-1 or dim=1)",
                                layer.spec.className, dim));
  layer.shown.push_back(fmt::format("dim={}", dim));
  layer.module.dim = dim;
  return true;
}

/// Identity, Dropout and Flatten are no-ops at inference; only their
/// arguments are checked.
bool Sema::evalIdentity(LayerCall &layer) {
  if (layer.spec.className == "Dropout") {
    const Expr *e = layer.args.get("p");
    if (!e)
      return true;
    double p;
    if (!readFloat(*e, "Dropout p", p))
      return false;
    if (!(p >= 0.0 && p <= 1.0))
      return fail(*e, fmt::format("Dropout probability has to be between 0 "
                                  "and 1, but got {}",
                                  p));
    layer.shown.push_back(fmt::format("p={}", p));
  } else if (layer.spec.className == "Flatten") {
    int64_t start = 1, end = -1;
    if (const Expr *e = layer.args.get("start_dim");
        e && !readInt(*e, "Flatten start_dim", start))
      return false;
    if (const Expr *e = layer.args.get("end_dim");
        e && !readInt(*e, "Flatten end_dim", end))
      return false;
    bool startOk = start == 1 || start == -1;
    bool endOk = end == 1 || end == -1;
    if (!startOk || !endOk)
      return fail(layer.call,
                  fmt::format("Flatten(start_dim={}, end_dim={}) would "
                              "reshape the batch dimension; seqc models take "
                              "[batch, features] data, where only "
                              "Flatten(1, -1) is valid",
                              start, end));
    layer.module.isFlatten = true;
    layer.module.flattenStart = start;
    layer.module.flattenEnd = end;
  }
  return true;
}

/// Reads an optional non-negative `eps` (default 1e-5) into the module.
bool Sema::readEps(LayerCall &layer) {
  layer.module.eps = 1e-5;
  const Expr *e = layer.args.get("eps");
  if (!e)
    return true;
  std::string what = fmt::format("{} eps", layer.spec.className);
  if (!readFloat(*e, what, layer.module.eps))
    return false;
  if (!(layer.module.eps >= 0.0))
    return fail(*e, what + " must not be negative");
  layer.shown.push_back("eps=" + formatNumber(layer.module.eps));
  return true;
}

bool Sema::evalBatchNorm(LayerCall &layer) {
  Module &module = layer.module;
  if (!readFeatures(*layer.args.get("num_features"), "BatchNorm1d num_features",
                    module.inFeatures))
    return false;
  layer.shown.push_back(std::to_string(module.inFeatures));
  if (!readEps(layer))
    return false;
  bool affine = true, track = true;
  if (const Expr *e = layer.args.get("affine"))
    affine = e->intValue != 0;
  if (const Expr *e = layer.args.get("track_running_stats"))
    track = e->intValue != 0;
  if (!track)
    return fail(layer.call,
                "BatchNorm1d(track_running_stats=False) normalises with the "
                "statistics of each batch even at inference; seqc needs "
                "running statistics");
  int64_t n = module.inFeatures;
  if (affine) {
    if (!addParam(layer, "weight", {n}, ModuleParam::InitKind::Ones) ||
        !addParam(layer, "bias", {n}, ModuleParam::InitKind::Zeros))
      return false;
  } else {
    layer.shown.push_back("affine=False");
    if (!checkNoLiteral(layer, "weight", "the layer has affine=False") ||
        !checkNoLiteral(layer, "bias", "the layer has affine=False"))
      return false;
  }
  return addParam(layer, "running_mean", {n}, ModuleParam::InitKind::Zeros) &&
         addParam(layer, "running_var", {n}, ModuleParam::InitKind::Ones);
}

bool Sema::evalLayerNorm(LayerCall &layer) {
  Module &module = layer.module;
  const Expr *shape = layer.args.get("normalized_shape");
  const Expr *feature = shape;
  if (shape->kind == Expr::Kind::List) {
    if (shape->args.size() != 1)
      return fail(*shape,
                  fmt::format("LayerNorm over {} dimensions: seqc models "
                              "have one feature dimension, so "
                              "normalized_shape must be one integer",
                              shape->args.size()));
    feature = shape->args.front().get();
  }
  if (!readFeatures(*feature, "LayerNorm normalized_shape", module.inFeatures))
    return false;
  layer.shown.push_back(std::to_string(module.inFeatures));
  if (!readEps(layer))
    return false;
  bool affine = true, hasBias = true;
  if (const Expr *e = layer.args.get("elementwise_affine"))
    affine = e->intValue != 0;
  if (const Expr *e = layer.args.get("bias"); e && e->kind == Expr::Kind::Bool)
    hasBias = e->intValue != 0;
  int64_t n = module.inFeatures;
  if (!affine) {
    layer.shown.push_back("elementwise_affine=False");
    return checkNoLiteral(layer, "weight",
                          "the layer has elementwise_affine=False") &&
           checkNoLiteral(layer, "bias",
                          "the layer has elementwise_affine=False");
  }
  if (!addParam(layer, "weight", {n}, ModuleParam::InitKind::Ones))
    return false;
  if (!hasBias) {
    layer.shown.push_back("bias=False");
    return true;
  }
  return addParam(layer, "bias", {n}, ModuleParam::InitKind::Zeros);
}

bool Sema::finishContainer(Module &module, const Expr &call) {
  module.depth = 1;
  module.numLayers = 0;
  module.numParamElements = 0;
  for (const auto &child : module.children) {
    module.depth = std::max(module.depth, child->depth + 1);
    module.numLayers =
        std::min<uint64_t>(module.numLayers + child->numLayers, UINT64_MAX / 2);
    module.numParamElements = std::min<uint64_t>(
        module.numParamElements + child->numParamElements, UINT64_MAX / 2);
  }
  if (module.depth > limits::kMaxModelDepth)
    return fail(call, fmt::format("Sequentials are nested {} deep, more than "
                                  "the limit of {}",
                                  module.depth, limits::kMaxModelDepth));
  if (module.numLayers > limits::kMaxLayers)
    return fail(call, fmt::format("this Sequential has {} layers, more than "
                                  "the limit of {}",
                                  module.numLayers, limits::kMaxLayers));
  if (module.numParamElements > limits::kMaxParamElements)
    return fail(call, fmt::format("this Sequential has {} parameters, more "
                                  "than the limit of {}",
                                  module.numParamElements,
                                  limits::kMaxParamElements));
  return true;
}

std::shared_ptr<Module> Sema::evalSequential(const Expr &call) {
  auto module = std::make_shared<Module>();
  module->kind = LayerKind::Sequential;
  module->className = "Sequential";
  module->loc = call.loc;
  module->locLength = call.length;
  if (!call.keywords.empty()) {
    const KeywordArg &keyword = call.keywords.front();
    failAt(keyword.nameLoc, static_cast<uint32_t>(keyword.name.size()),
           fmt::format("Sequential() got an unexpected keyword argument '{}'",
                       keyword.name));
    return nullptr;
  }
  // nn.Sequential(OrderedDict([("name", layer), ...]))
  if (call.args.size() == 1 && call.args[0]->kind == Expr::Kind::Call &&
      layerName(*call.args[0]) == "OrderedDict") {
    const Expr &dict = *call.args[0];
    if (dict.args.size() != 1 || !dict.keywords.empty() ||
        dict.args[0]->kind != Expr::Kind::List) {
      fail(dict, "OrderedDict() takes one list of (name, layer) pairs");
      return nullptr;
    }
    for (const ExprPtr &item : dict.args[0]->args) {
      if (item->kind != Expr::Kind::List || item->args.size() != 2 ||
          item->args[0]->kind != Expr::Kind::String) {
        fail(*item, "expected a (\"name\", layer) pair");
        return nullptr;
      }
      const std::string &childName = item->args[0]->stringValue;
      if (childName.empty() || childName.find('.') != std::string::npos) {
        fail(*item->args[0], "a layer name must be non-empty and contain no "
                             "'.'");
        return nullptr;
      }
      if (std::find(module->childNames.begin(), module->childNames.end(),
                    childName) != module->childNames.end()) {
        fail(*item->args[0],
             fmt::format("layer name '{}' is used twice", childName));
        return nullptr;
      }
      std::shared_ptr<Module> child = evalModule(*item->args[1]);
      if (!child)
        return nullptr;
      module->children.push_back(std::move(child));
      module->childNames.push_back(childName);
    }
  } else {
    for (const ExprPtr &arg : call.args) {
      std::shared_ptr<Module> child = evalModule(*arg);
      if (!child)
        return nullptr;
      module->childNames.push_back(std::to_string(module->children.size()));
      module->children.push_back(std::move(child));
    }
  }
  module->description =
      fmt::format("Sequential({} layers)", module->children.size());
  if (!finishContainer(*module, call))
    return nullptr;
  return module;
}

std::shared_ptr<Module> Sema::evalModule(const Expr &expr) {
  if (expr.kind == Expr::Kind::ModuleRef)
    return expr.module;
  if (expr.kind == Expr::Kind::Name) {
    if (expr.dotted.size() == 1) {
      if (const Program::Binding *binding = program.find(expr.dotted[0]))
        return binding->module;
    }
    std::string name = expr.dottedName();
    if (isNnPath(expr) && (findLayerSpec(expr.dotted.back()) ||
                           expr.dotted.back() == "Sequential")) {
      fail(expr, fmt::format("'{}' is a layer class; call it to make a layer: "
                             "{}()",
                             name, name));
      return nullptr;
    }
    fail(expr, fmt::format("unknown name '{}': a model must be defined before "
                           "it is used",
                           name));
    return nullptr;
  }
  if (expr.kind != Expr::Kind::Call) {
    fail(expr, fmt::format("expected a layer such as nn.Linear(2, 3) or the "
                           "name of a model, found {}{}",
                           expr.describe(),
                           expr.kind == Expr::Kind::List
                               ? "; spread a list of layers with '*'"
                               : ""));
    return nullptr;
  }
  std::string name = layerName(expr);
  if (expr.dotted.size() == 1 && program.find(name)) {
    fail(expr, fmt::format("'{}' is a model; use it by name, without "
                           "parentheses",
                           name));
    return nullptr;
  }
  if (!isNnPath(expr)) {
    fail(expr, fmt::format("unknown layer '{}': layers are written as "
                           "nn.Name(...), torch.nn.Name(...) or Name(...)",
                           expr.dottedName()));
    return nullptr;
  }
  if (name == "Sequential")
    return evalSequential(expr);
  if (const LayerSpec *spec = findLayerSpec(name))
    return evalLayer(expr, *spec);
  std::string suggestion;
  size_t best = suggestionBound(name);
  std::vector<std::string_view> candidates = {"Sequential"};
  for (const LayerSpec &spec : layerSpecs())
    candidates.push_back(spec.className);
  for (std::string_view candidate : candidates) {
    size_t distance = editDistance(name, candidate);
    if (distance < best) {
      best = distance;
      suggestion = std::string(candidate);
    }
  }
  if (!suggestion.empty())
    fail(expr, fmt::format("unknown layer '{}'; did you mean '{}'?", name,
                           suggestion));
  else
    fail(expr, fmt::format("unknown layer '{}'; seqc supports {}", name,
                           supportedLayers()));
  return nullptr;
}

bool Sema::runMethodCall(const Expr &call) {
  if (call.dotted.size() != 2)
    return fail(call, fmt::format("'{}(...)' is not part of the .nn language; "
                                  "statements are 'Name = nn.Sequential(...)' "
                                  "and 'Name.load_state_dict(\"file\")'",
                                  call.dottedName()));
  const std::string &target = call.dotted[0];
  const std::string &method = call.dotted[1];
  const Program::Binding *binding = program.find(target);
  if (!binding)
    return fail(call, fmt::format("unknown model '{}'", target));
  if (method == "eval") {
    if (!call.args.empty() || !call.keywords.empty())
      return fail(call, "eval() takes no arguments");
    return true;
  }
  if (method != "load_state_dict")
    return fail(call, fmt::format("'{}' is not a supported method; use "
                                  "{}.load_state_dict(\"file.safetensors\")",
                                  method, target));
  StateDictOptions load;
  for (const KeywordArg &keyword : call.keywords) {
    if (keyword.name == "strict") {
      if (!readBool(*keyword.value, "load_state_dict strict", load.strict))
        return false;
      continue;
    }
    if (keyword.name == "prefix") {
      if (keyword.value->kind != Expr::Kind::String)
        return fail(*keyword.value, "load_state_dict prefix must be a string");
      load.prefix = keyword.value->stringValue;
      continue;
    }
    return failAt(keyword.nameLoc, static_cast<uint32_t>(keyword.name.size()),
                  fmt::format("load_state_dict() got an unexpected keyword "
                              "argument '{}'",
                              keyword.name));
  }
  if (call.args.size() != 1 || call.args[0]->kind != Expr::Kind::String)
    return fail(call, "load_state_dict() takes the path of a weights file "
                      "(.pt, .pth, .bin or .safetensors) as a string");
  const Expr &pathExpr = *call.args[0];
  if (pathExpr.stringValue.empty() ||
      pathExpr.stringValue.find('\0') != std::string::npos)
    return fail(pathExpr, "the weights path is empty or invalid");
  if (options.skipLoadStatements)
    return true;
  std::string path = joinPath(options.baseDirectory, pathExpr.stringValue);
  unsigned before = diag.getNumErrors();
  if (!loadStateDict(*binding->module, path, load, diag)) {
    if (diag.getNumErrors() != before)
      diag.note(call.loc,
                fmt::format("while loading weights into '{}' here", target),
                call.length);
    return false;
  }
  return true;
}

/// The evaluator's call handler: a layer call makes its module now (so a
/// call evaluated twice makes two modules); other calls (OrderedDict,
/// torch.device, unknown names) stay calls for the code that reads them.
ExprPtr Sema::handleCall(ExprPtr call) {
  if (layerName(*call) == "OrderedDict" || !isNnPath(*call))
    return call;
  const Expr *bound = call->dotted.size() == 1
                          ? evaluator.lookup(call->dotted.front())
                          : nullptr;
  if (bound && bound->kind != Expr::Kind::ModuleRef) {
    fail(*call, fmt::format("'{}' is {}, not a layer; it cannot be called",
                            call->dotted.front(), bound->describe()));
    return nullptr;
  }
  // An unknown callee (`float("nan")`, a misspelt layer) is reported where
  // its value is read, which knows what was expected there.
  std::string name = layerName(*call);
  if (!bound && !findLayerSpec(name) && name != "Sequential")
    return call;
  std::shared_ptr<Module> module = evalModule(*call);
  if (!module)
    return nullptr;
  auto ref = std::make_unique<Expr>();
  ref->kind = Expr::Kind::ModuleRef;
  ref->loc = call->loc;
  ref->length = call->length;
  ref->dotted = call->dotted;
  ref->fromCall = true;
  ref->module = std::move(module);
  return ref;
}

/// `name = value`: a module value names a model (which a rebound name keeps
/// the position of), any other value is a constant for later statements.
bool Sema::runAssign(const Statement &stmt) {
  if (stmt.target == "nn" || stmt.target == "torch")
    return failAt(stmt.targetLoc, stmt.targetLength,
                  fmt::format("'{}' cannot be redefined", stmt.target));
  if (findLayerSpec(stmt.target) || stmt.target == "Sequential")
    return failAt(stmt.targetLoc, stmt.targetLength,
                  fmt::format("'{}' is a layer name and cannot name a model",
                              stmt.target));
  ExprPtr value = evaluator.evaluate(*stmt.value);
  if (!value)
    return false;
  // A class named but not called, or a call that makes no layer: reported
  // as in a Sequential.
  if (value->kind == Expr::Kind::Name || value->kind == Expr::Kind::Call) {
    value->module = evalModule(*value);
    if (!value->module)
      return false;
    value->kind = Expr::Kind::ModuleRef;
  }
  auto binding = std::find_if(
      program.models.begin(), program.models.end(),
      [&](const Program::Binding &b) { return b.name == stmt.target; });
  if (value->kind != Expr::Kind::ModuleRef) {
    if (binding != program.models.end())
      program.models.erase(binding);
  } else if (binding != program.models.end()) {
    binding->module = value->module;
    binding->loc = stmt.targetLoc;
  } else {
    program.models.push_back({stmt.target, stmt.targetLoc, value->module});
  }
  evaluator.bind(stmt.target, std::move(value));
  return true;
}

bool Sema::runStatement(const Statement &stmt) {
  switch (stmt.kind) {
  case Statement::Kind::Import:
    return true;
  case Statement::Kind::Call: {
    ExprPtr call = evaluator.evaluateArguments(*stmt.value);
    return call && runMethodCall(*call);
  }
  case Statement::Kind::Assign:
    return runAssign(stmt);
  }
  return false;
}

std::optional<Program> Sema::run(const File &file) {
  bool ok = true;
  for (const Statement &stmt : file.statements) {
    if (!runStatement(stmt)) {
      ok = false;
      // Statements after a broken definition would only cascade.
      if (stmt.kind == Statement::Kind::Assign)
        break;
    }
  }
  if (!ok)
    return std::nullopt;
  return std::move(program);
}

} // namespace

std::optional<Program> analyzeFile(const File &file, const SemaOptions &options,
                                   DiagnosticEngine &diag) {
  return Sema(options, diag).run(file);
}

} // namespace seqc::frontend
