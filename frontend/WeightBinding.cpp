//===- WeightBinding.cpp - Loading state dicts into modules ---------------===//

#include "frontend/WeightBinding.h"

#include "frontend/Safetensors.h"

#include <fmt/format.h>

#include <cmath>
#include <map>
#include <set>

namespace seqc::frontend {

namespace {

/// Diagnostics beyond this many per file would only repeat the same mistake.
constexpr unsigned kMaxReportsPerFile = 20;

std::string typeString(const std::vector<int64_t> &shape) {
  return "f32" + Tensor::shapeString(shape);
}

/// A state_dict key the model has, with the layer that owns it.
struct Slot {
  Module *owner;
  ModuleParam *param;
};

} // namespace

bool loadStateDict(Module &root, const std::string &path, bool strict,
                   DiagnosticEngine &diag) {
  std::optional<SafetensorsFile> file = readSafetensors(path, diag);
  if (!file)
    return false;

  std::map<std::string, Slot> slots;
  std::vector<std::string> order;
  std::set<std::string> statsKeys; // `<bn>.num_batches_tracked`
  forEachParam(root, [&](const std::string &key, Module &owner,
                         ModuleParam &param) {
    if (slots.emplace(key, Slot{&owner, &param}).second)
      order.push_back(key);
    if (owner.kind == LayerKind::BatchNorm1d && param.name == "running_mean")
      statsKeys.insert(
          key.substr(0, key.size() - std::string("running_mean").size()) +
          "num_batches_tracked");
  });

  unsigned reports = 0;
  bool ok = true;
  auto report = [&](const std::string &message, const Module *owner) {
    ok = false;
    if (++reports > kMaxReportsPerFile)
      return;
    diag.fileError(path, message);
    if (owner)
      diag.note(
          owner->loc,
          fmt::format("the parameter belongs to {} here", owner->description),
          owner->locLength);
  };

  std::set<std::string> seen;
  for (const SafetensorsTensor &tensor : file->tensors) {
    auto it = slots.find(tensor.name);
    if (it == slots.end()) {
      if (statsKeys.count(tensor.name))
        continue; // BatchNorm's counter: ignored at inference.
      if (strict)
        report(fmt::format("unexpected tensor '{}' ({}{}): the model has no "
                           "parameter of that name",
                           tensor.name, tensor.dtype,
                           Tensor::shapeString(tensor.shape)),
               nullptr);
      continue;
    }
    Slot &slot = it->second;
    seen.insert(tensor.name);
    if (!tensor.isFloat) {
      report(fmt::format("tensor '{}' has dtype {}, but {} needs a floating-"
                         "point tensor (F32, F16, BF16 or F64)",
                         tensor.name, tensor.dtype, slot.owner->description),
             slot.owner);
      continue;
    }
    if (tensor.shape != slot.param->shape) {
      report(fmt::format("tensor '{}' has shape {}, but {} expects {}",
                         tensor.name, Tensor::shapeString(tensor.shape),
                         slot.owner->description,
                         Tensor::shapeString(slot.param->shape)),
             slot.owner);
      continue;
    }
    slot.param->value = tensor.value;
    slot.param->source = ParamSource::StateDict;
  }
  if (strict) {
    for (const std::string &key : order) {
      if (seen.count(key))
        continue;
      const Slot &slot = slots[key];
      report(fmt::format("missing tensor '{}' ({}) for {}", key,
                         typeString(slot.param->shape),
                         slot.owner->description),
             slot.owner);
    }
  }
  if (reports > kMaxReportsPerFile)
    diag.fileError(path, fmt::format("{} more problems not shown",
                                     reports - kMaxReportsPerFile));
  return ok;
}

namespace {

/// splitmix64: small, fast, and good enough for benchmark weights.
class Random {
public:
  explicit Random(uint64_t seed) : state(seed) {}
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  /// Uniform in [-bound, bound).
  float uniform(double bound) {
    double unit = static_cast<double>(next() >> 11) * 0x1.0p-53;
    return static_cast<float>((2.0 * unit - 1.0) * bound);
  }

private:
  uint64_t state;
};

} // namespace

void initializeParams(Module &root, uint64_t seed) {
  Random random(seed);
  forEachParam(
      root, [&](const std::string &, Module &owner, ModuleParam &param) {
        if (param.source == ParamSource::Inline)
          return;
        param.value = Tensor::zeros(param.shape);
        switch (param.init) {
        case ModuleParam::InitKind::Ones:
          std::fill(param.value.data.begin(), param.value.data.end(), 1.0f);
          break;
        case ModuleParam::InitKind::Zeros:
          break;
        case ModuleParam::InitKind::Uniform: {
          // PyTorch's Linear: kaiming_uniform(a=sqrt(5)) for the weight and
          // U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the bias: both have bound
          // 1/sqrt(in_features).
          double bound = 1.0 / std::sqrt(static_cast<double>(owner.inFeatures));
          for (float &v : param.value.data)
            v = random.uniform(bound);
          break;
        }
        }
        param.source = ParamSource::Init;
      });
}

bool checkAllParamsBound(Module &root, std::string_view modelName,
                         DiagnosticEngine &diag) {
  // One report per layer, listing its unbound parameters.
  struct Unbound {
    const Module *owner;
    std::vector<std::string> keys;
  };
  std::vector<Unbound> unbound;
  forEachParam(root,
               [&](const std::string &key, Module &owner, ModuleParam &param) {
                 if (param.source != ParamSource::None)
                   return;
                 if (unbound.empty() || unbound.back().owner != &owner)
                   unbound.push_back({&owner, {}});
                 unbound.back().keys.push_back("'" + key + "'");
               });
  for (size_t i = 0; i < unbound.size() && i < kMaxReportsPerFile; ++i) {
    const Unbound &layer = unbound[i];
    std::string message =
        fmt::format("no weights for {} of {}", fmt::join(layer.keys, ", "),
                    layer.owner->description);
    // The remedy is the same for every layer: say it once.
    if (i == 0)
      message += fmt::format(": add {}.load_state_dict(\"file.safetensors\"), "
                             "pass --weights FILE, or use --init-seed N",
                             modelName);
    diag.error(layer.owner->loc, message, layer.owner->locLength);
  }
  if (unbound.size() > kMaxReportsPerFile)
    diag.error(fmt::format("{} more layers without weights not shown",
                           unbound.size() - kMaxReportsPerFile));
  return unbound.empty();
}

} // namespace seqc::frontend
