//===- Sema.cpp - Executing a .nn file into module objects ----------------===//

#include "frontend/Sema.h"

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
  ir::ActKind act = ir::ActKind::None;
  std::vector<ArgSpec> args;
  /// Number of leading args that may be given positionally.
  size_t numPositional = 0;
  bool acceptsAnything = false; ///< nn.Identity(*args, **kwargs)
};

const std::vector<LayerSpec> &layerSpecs() {
  using AK = ir::ActKind;
  using LK = LayerKind;
  static const std::vector<LayerSpec> specs = {
      {"Linear",
       LK::Linear,
       AK::None,
       {{"in_features", ArgType::Int, true},
        {"out_features", ArgType::Int, true},
        {"bias", ArgType::BoolOrLiteral},
        {"device", ArgType::Ignored},
        {"dtype", ArgType::Ignored},
        {"weight", ArgType::Literal}},
       5},
      {"ReLU", LK::Activation, AK::ReLU, {{"inplace", ArgType::Bool}}, 1},
      {"ReLU6", LK::Activation, AK::Hardtanh, {{"inplace", ArgType::Bool}}, 1},
      {"Sigmoid", LK::Activation, AK::Sigmoid, {}, 0},
      {"Tanh", LK::Activation, AK::Tanh, {}, 0},
      {"GELU", LK::Activation, AK::GELU, {{"approximate", ArgType::String}}, 1},
      {"SiLU", LK::Activation, AK::SiLU, {{"inplace", ArgType::Bool}}, 1},
      {"LeakyReLU",
       LK::Activation,
       AK::LeakyReLU,
       {{"negative_slope", ArgType::Float}, {"inplace", ArgType::Bool}},
       2},
      {"ELU",
       LK::Activation,
       AK::ELU,
       {{"alpha", ArgType::Float}, {"inplace", ArgType::Bool}},
       2},
      {"Softplus",
       LK::Activation,
       AK::Softplus,
       {{"beta", ArgType::Float}, {"threshold", ArgType::Float}},
       2},
      {"Hardtanh",
       LK::Activation,
       AK::Hardtanh,
       {{"min_val", ArgType::Float},
        {"max_val", ArgType::Float},
        {"inplace", ArgType::Bool}},
       3},
      {"Hardsigmoid",
       LK::Activation,
       AK::Hardsigmoid,
       {{"inplace", ArgType::Bool}},
       1},
      {"Hardswish",
       LK::Activation,
       AK::Hardswish,
       {{"inplace", ArgType::Bool}},
       1},
      {"Mish", LK::Activation, AK::Mish, {{"inplace", ArgType::Bool}}, 1},
      {"Softmax", LK::Softmax, AK::None, {{"dim", ArgType::OptionalInt}}, 1},
      {"LogSoftmax",
       LK::LogSoftmax,
       AK::None,
       {{"dim", ArgType::OptionalInt}},
       1},
      {"Identity", LK::Identity, AK::None, {}, 0, true},
      {"Dropout",
       LK::Identity,
       AK::None,
       {{"p", ArgType::Float}, {"inplace", ArgType::Bool}},
       2},
      {"Flatten",
       LK::Identity,
       AK::None,
       {{"start_dim", ArgType::Int}, {"end_dim", ArgType::Int}},
       2},
      {"BatchNorm1d",
       LK::BatchNorm1d,
       AK::None,
       {{"num_features", ArgType::Int, true},
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
       7},
      {"LayerNorm",
       LK::LayerNorm,
       AK::None,
       {{"normalized_shape", ArgType::Shape, true},
        {"eps", ArgType::Float},
        {"elementwise_affine", ArgType::Bool},
        {"bias", ArgType::BoolOrLiteral},
        {"device", ArgType::Ignored},
        {"dtype", ArgType::Ignored},
        {"weight", ArgType::Literal}},
       6},
  };
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

std::string formatNumber(double value) { return fmt::format("{}", value); }

//===----------------------------------------------------------------------===//
// The analyzer.
//===----------------------------------------------------------------------===//

class Sema {
public:
  Sema(const SemaOptions &options, DiagnosticEngine &diag)
      : options(options), diag(diag) {}

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
  bool runMethodCall(const Expr &call);
  std::shared_ptr<Module> evalModule(const Expr &expr);
  std::shared_ptr<Module> evalSequential(const Expr &call);
  std::shared_ptr<Module> evalLayer(const Expr &call, const LayerSpec &spec);
  bool bindArgs(const Expr &call, const LayerSpec &spec, BoundArgs &bound);
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
  std::string name = module->className;
  std::vector<std::string> shown; // description arguments

  auto addParam = [&](std::string paramName, std::vector<int64_t> shape,
                      ModuleParam::InitKind init) -> bool {
    ModuleParam param;
    param.name = paramName;
    param.shape = shape;
    param.init = init;
    if (const Expr *literal = args.get(paramName);
        literal && literal->kind == Expr::Kind::List) {
      if (!readLiteral(*literal, fmt::format("{} {}", name, paramName), shape,
                       param.value))
        return false;
      param.source = ParamSource::Inline;
      shown.push_back(paramName + "=[...]");
    }
    module->params.push_back(std::move(param));
    return true;
  };
  auto checkNoLiteral = [&](std::string_view paramName,
                            std::string_view reason) -> bool {
    const Expr *literal = args.get(paramName);
    if (literal && literal->kind == Expr::Kind::List)
      return fail(*literal, fmt::format("{}: inline '{}' given, but {}", name,
                                        paramName, reason));
    return true;
  };

  switch (spec.kind) {
  case LayerKind::Linear: {
    if (!readFeatures(*args.get("in_features"), "Linear in_features",
                      module->inFeatures) ||
        !readFeatures(*args.get("out_features"), "Linear out_features",
                      module->outFeatures))
      return nullptr;
    shown.push_back(std::to_string(module->inFeatures));
    shown.push_back(std::to_string(module->outFeatures));
    bool hasBias = true;
    if (const Expr *bias = args.get("bias");
        bias && bias->kind == Expr::Kind::Bool)
      hasBias = bias->intValue != 0;
    if (!hasBias)
      shown.push_back("bias=False");
    uint64_t elements = static_cast<uint64_t>(module->inFeatures) *
                        static_cast<uint64_t>(module->outFeatures);
    if (elements > limits::kMaxParamElements) {
      fail(call, fmt::format("Linear({}, {}) has {} weights, more than the "
                             "limit of {}",
                             module->inFeatures, module->outFeatures, elements,
                             limits::kMaxParamElements));
      return nullptr;
    }
    if (!addParam("weight", {module->outFeatures, module->inFeatures},
                  ModuleParam::InitKind::Uniform))
      return nullptr;
    if (hasBias) {
      if (!addParam("bias", {module->outFeatures},
                    ModuleParam::InitKind::Uniform))
        return nullptr;
    }
    break;
  }
  case LayerKind::Activation: {
    module->act.kind = spec.act;
    if (spec.className == "ReLU6") {
      module->act.alpha = 0.0;
      module->act.beta = 6.0;
    } else if (spec.act == ir::ActKind::LeakyReLU) {
      module->act.alpha = 0.01;
      if (const Expr *e = args.get("negative_slope")) {
        if (!readFloat(*e, "LeakyReLU negative_slope", module->act.alpha))
          return nullptr;
        shown.push_back(formatNumber(module->act.alpha));
      }
    } else if (spec.act == ir::ActKind::ELU) {
      module->act.alpha = 1.0;
      if (const Expr *e = args.get("alpha")) {
        if (!readFloat(*e, "ELU alpha", module->act.alpha))
          return nullptr;
        shown.push_back("alpha=" + formatNumber(module->act.alpha));
      }
    } else if (spec.act == ir::ActKind::Softplus) {
      module->act.beta = 1.0;
      module->act.alpha = 20.0;
      if (const Expr *e = args.get("beta")) {
        if (!readFloat(*e, "Softplus beta", module->act.beta))
          return nullptr;
        if (module->act.beta == 0.0) {
          fail(*e, "Softplus beta must not be 0 (the function divides by it)");
          return nullptr;
        }
        shown.push_back("beta=" + formatNumber(module->act.beta));
      }
      if (const Expr *e = args.get("threshold")) {
        if (!readFloat(*e, "Softplus threshold", module->act.alpha))
          return nullptr;
        shown.push_back("threshold=" + formatNumber(module->act.alpha));
      }
    } else if (spec.act == ir::ActKind::Hardtanh) {
      module->act.alpha = -1.0;
      module->act.beta = 1.0;
      if (const Expr *e = args.get("min_val")) {
        if (!readFloat(*e, "Hardtanh min_val", module->act.alpha))
          return nullptr;
        shown.push_back("min_val=" + formatNumber(module->act.alpha));
      }
      if (const Expr *e = args.get("max_val")) {
        if (!readFloat(*e, "Hardtanh max_val", module->act.beta))
          return nullptr;
        shown.push_back("max_val=" + formatNumber(module->act.beta));
      }
      if (!(module->act.beta > module->act.alpha)) {
        fail(call, fmt::format("Hardtanh max_val ({}) must be greater than "
                               "min_val ({})",
                               module->act.beta, module->act.alpha));
        return nullptr;
      }
    } else if (spec.act == ir::ActKind::GELU) {
      if (const Expr *e = args.get("approximate")) {
        if (e->stringValue == "tanh") {
          module->act.kind = ir::ActKind::GELUTanh;
          shown.push_back("approximate='tanh'");
        } else if (e->stringValue != "none") {
          fail(*e, fmt::format("GELU approximate must be 'none' or 'tanh', "
                               "not '{}'",
                               e->stringValue));
          return nullptr;
        }
      }
    }
    break;
  }
  case LayerKind::Softmax:
  case LayerKind::LogSoftmax: {
    if (const Expr *e = args.get("dim"); e && e->kind == Expr::Kind::Integer) {
      int64_t dim = e->intValue;
      if (dim == 0 || dim == -2) {
        fail(*e, fmt::format("{} over dim {} would mix the samples of a "
                             "batch; seqc models normalise each sample (use "
                             "dim=-1 or dim=1)",
                             name, dim));
        return nullptr;
      }
      if (dim != 1 && dim != -1) {
        fail(*e, fmt::format("{} dim {} is out of range for [batch, features] "
                             "data (use dim=-1 or dim=1)",
                             name, dim));
        return nullptr;
      }
      shown.push_back(fmt::format("dim={}", dim));
    }
    break;
  }
  case LayerKind::Identity: {
    if (spec.className == "Dropout") {
      if (const Expr *e = args.get("p")) {
        double p;
        if (!readFloat(*e, "Dropout p", p))
          return nullptr;
        if (!(p >= 0.0 && p <= 1.0)) {
          fail(*e, fmt::format("Dropout probability has to be between 0 and 1, "
                               "but got {}",
                               p));
          return nullptr;
        }
        shown.push_back(fmt::format("p={}", p));
      }
    } else if (spec.className == "Flatten") {
      int64_t start = 1, end = -1;
      if (const Expr *e = args.get("start_dim");
          e && !readInt(*e, "Flatten start_dim", start))
        return nullptr;
      if (const Expr *e = args.get("end_dim");
          e && !readInt(*e, "Flatten end_dim", end))
        return nullptr;
      bool startOk = start == 1 || start == -1;
      bool endOk = end == 1 || end == -1;
      if (!startOk || !endOk) {
        fail(call, fmt::format("Flatten(start_dim={}, end_dim={}) would "
                               "reshape the batch dimension; seqc models take "
                               "[batch, features] data, where only "
                               "Flatten(1, -1) is valid",
                               start, end));
        return nullptr;
      }
    }
    break;
  }
  case LayerKind::BatchNorm1d: {
    if (!readFeatures(*args.get("num_features"), "BatchNorm1d num_features",
                      module->inFeatures))
      return nullptr;
    shown.push_back(std::to_string(module->inFeatures));
    module->eps = 1e-5;
    if (const Expr *e = args.get("eps")) {
      if (!readFloat(*e, "BatchNorm1d eps", module->eps))
        return nullptr;
      if (!(module->eps >= 0.0)) {
        fail(*e, "BatchNorm1d eps must not be negative");
        return nullptr;
      }
      shown.push_back("eps=" + formatNumber(module->eps));
    }
    bool affine = true, track = true;
    if (const Expr *e = args.get("affine"))
      affine = e->intValue != 0;
    if (const Expr *e = args.get("track_running_stats"))
      track = e->intValue != 0;
    if (!track) {
      fail(call, "BatchNorm1d(track_running_stats=False) normalises with the "
                 "statistics of each batch even at inference; seqc needs "
                 "running statistics");
      return nullptr;
    }
    int64_t n = module->inFeatures;
    if (affine) {
      if (!addParam("weight", {n}, ModuleParam::InitKind::Ones) ||
          !addParam("bias", {n}, ModuleParam::InitKind::Zeros))
        return nullptr;
    } else {
      shown.push_back("affine=False");
      if (!checkNoLiteral("weight", "the layer has affine=False") ||
          !checkNoLiteral("bias", "the layer has affine=False"))
        return nullptr;
    }
    if (!addParam("running_mean", {n}, ModuleParam::InitKind::Zeros) ||
        !addParam("running_var", {n}, ModuleParam::InitKind::Ones))
      return nullptr;
    break;
  }
  case LayerKind::LayerNorm: {
    const Expr *shape = args.get("normalized_shape");
    const Expr *feature = shape;
    if (shape->kind == Expr::Kind::List) {
      if (shape->args.size() != 1) {
        fail(*shape, fmt::format("LayerNorm over {} dimensions: seqc models "
                                 "have one feature dimension, so "
                                 "normalized_shape must be one integer",
                                 shape->args.size()));
        return nullptr;
      }
      feature = shape->args.front().get();
    }
    if (!readFeatures(*feature, "LayerNorm normalized_shape",
                      module->inFeatures))
      return nullptr;
    shown.push_back(std::to_string(module->inFeatures));
    module->eps = 1e-5;
    if (const Expr *e = args.get("eps")) {
      if (!readFloat(*e, "LayerNorm eps", module->eps))
        return nullptr;
      if (!(module->eps >= 0.0)) {
        fail(*e, "LayerNorm eps must not be negative");
        return nullptr;
      }
      shown.push_back("eps=" + formatNumber(module->eps));
    }
    bool affine = true, hasBias = true;
    if (const Expr *e = args.get("elementwise_affine"))
      affine = e->intValue != 0;
    if (const Expr *e = args.get("bias"); e && e->kind == Expr::Kind::Bool)
      hasBias = e->intValue != 0;
    int64_t n = module->inFeatures;
    if (affine) {
      if (!addParam("weight", {n}, ModuleParam::InitKind::Ones))
        return nullptr;
      if (hasBias && !addParam("bias", {n}, ModuleParam::InitKind::Zeros))
        return nullptr;
      if (!hasBias)
        shown.push_back("bias=False");
    } else {
      shown.push_back("elementwise_affine=False");
      if (!checkNoLiteral("weight", "the layer has elementwise_affine=False") ||
          !checkNoLiteral("bias", "the layer has elementwise_affine=False"))
        return nullptr;
    }
    break;
  }
  case LayerKind::Sequential:
    break;
  }
  module->description =
      fmt::format("{}({})", module->className, fmt::join(shown, ", "));
  for (const ModuleParam &param : module->params) {
    uint64_t n = 1;
    for (int64_t d : param.shape)
      n *= static_cast<uint64_t>(d);
    module->numParamElements += n;
  }
  return module;
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
                           "name of a model, found {}",
                           expr.describe()));
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
    fail(expr, fmt::format("unknown layer '{}'; seqc supports Sequential, "
                           "Linear, ReLU, ReLU6, Sigmoid, Tanh, GELU, SiLU, "
                           "LeakyReLU, ELU, Softplus, Hardtanh, Hardsigmoid, "
                           "Hardswish, Mish, Softmax, LogSoftmax, Identity, "
                           "Dropout, Flatten, BatchNorm1d and LayerNorm",
                           name));
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
  bool strict = true;
  for (const KeywordArg &keyword : call.keywords) {
    if (keyword.name != "strict")
      return failAt(keyword.nameLoc, static_cast<uint32_t>(keyword.name.size()),
                    fmt::format("load_state_dict() got an unexpected keyword "
                                "argument '{}'",
                                keyword.name));
    if (!readBool(*keyword.value, "load_state_dict strict", strict))
      return false;
  }
  if (call.args.size() != 1 || call.args[0]->kind != Expr::Kind::String)
    return fail(call, "load_state_dict() takes the path of a .safetensors "
                      "file as a string");
  const Expr &pathExpr = *call.args[0];
  if (pathExpr.stringValue.empty() ||
      pathExpr.stringValue.find('\0') != std::string::npos)
    return fail(pathExpr, "the weights path is empty or invalid");
  if (options.skipLoadStatements)
    return true;
  std::string path = joinPath(options.baseDirectory, pathExpr.stringValue);
  unsigned before = diag.getNumErrors();
  if (!loadStateDict(*binding->module, path, strict, diag)) {
    if (diag.getNumErrors() != before)
      diag.note(call.loc,
                fmt::format("while loading weights into '{}' here", target),
                call.length);
    return false;
  }
  return true;
}

bool Sema::runStatement(const Statement &stmt) {
  switch (stmt.kind) {
  case Statement::Kind::Import:
    return true;
  case Statement::Kind::Call:
    return runMethodCall(*stmt.value);
  case Statement::Kind::Assign: {
    if (stmt.target == "nn" || stmt.target == "torch")
      return failAt(stmt.targetLoc, stmt.targetLength,
                    fmt::format("'{}' cannot be redefined", stmt.target));
    if (findLayerSpec(stmt.target) || stmt.target == "Sequential")
      return failAt(stmt.targetLoc, stmt.targetLength,
                    fmt::format("'{}' is a layer name and cannot name a model",
                                stmt.target));
    std::shared_ptr<Module> module = evalModule(*stmt.value);
    if (!module)
      return false;
    for (Program::Binding &binding : program.models) {
      if (binding.name == stmt.target) {
        binding.module = std::move(module);
        binding.loc = stmt.targetLoc;
        return true;
      }
    }
    program.models.push_back({stmt.target, stmt.targetLoc, std::move(module)});
    return true;
  }
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
