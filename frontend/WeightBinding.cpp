//===- WeightBinding.cpp - Loading state dicts into modules ---------------===//

#include "frontend/WeightBinding.h"

#include "frontend/StateDict.h"

#include <fmt/format.h>

#include <algorithm>
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

/// The model's state_dict keys.
struct ModelKeys {
  std::map<std::string, Slot> slots;
  /// The keys in PyTorch's state_dict order.
  std::vector<std::string> order;
  /// `<bn>.num_batches_tracked`, which files have and the model ignores.
  std::set<std::string> statsKeys;

  bool has(const std::string &key) const {
    return slots.count(key) || statsKeys.count(key);
  }
};

ModelKeys collectModelKeys(Module &root) {
  ModelKeys keys;
  forEachParam(root, [&](const std::string &key, Module &owner,
                         ModuleParam &param) {
    if (keys.slots.emplace(key, Slot{&owner, &param}).second)
      keys.order.push_back(key);
    if (owner.kind == LayerKind::BatchNorm1d && param.name == "running_mean")
      keys.statsKeys.insert(
          key.substr(0, key.size() - std::string("running_mean").size()) +
          "num_batches_tracked");
  });
  return keys;
}

/// A file tensor taken for the model, under its key without the prefix.
struct Selected {
  std::string key;
  const StateDictTensor *tensor;
};

std::vector<Selected> selectTensors(const StateDict &file,
                                    std::string_view prefix) {
  std::vector<Selected> selected;
  for (const StateDictTensor &tensor : file.tensors)
    if (std::string_view(tensor.name).starts_with(prefix))
      selected.push_back({tensor.name.substr(prefix.size()), &tensor});
  return selected;
}

/// A prefix change that makes the file's keys the model's.
struct PrefixFix {
  enum class Kind {
    /// Taking the file's keys under `prefix` (instead of the given one).
    Take,
    /// The file is the state_dict of the model's part at `prefix`.
    Part,
  } kind;
  std::string prefix;
  /// One key of the file and the model key it matches, as an example.
  std::string fileKey, modelKey;
};

/// Finds a prefix Q such that every model key m is in the file as Q + m.
/// Candidates come from the file keys that end in the first model key.
std::optional<PrefixFix> findTakePrefix(const ModelKeys &model,
                                        const StateDict &file,
                                        std::string_view givenPrefix) {
  std::set<std::string_view> fileKeys;
  for (const StateDictTensor &tensor : file.tensors)
    fileKeys.insert(tensor.name);
  const std::string &first = model.order.front();
  std::set<std::string> tried;
  for (const StateDictTensor &tensor : file.tensors) {
    std::string_view key = tensor.name;
    if (!key.ends_with(first))
      continue;
    std::string prefix(key.substr(0, key.size() - first.size()));
    if (!(prefix.empty() || prefix.ends_with('.')) || prefix == givenPrefix ||
        !tried.insert(prefix).second)
      continue;
    bool all = std::all_of(model.order.begin(), model.order.end(),
                           [&](const std::string &modelKey) {
                             return fileKeys.count(prefix + modelKey);
                           });
    if (all)
      return PrefixFix{PrefixFix::Kind::Take, prefix, tensor.name, first};
  }
  return std::nullopt;
}

/// Finds a prefix R of the model's keys such that the selected tensors are
/// exactly the keys under R with R removed: the file holds one part of the
/// model.
std::optional<PrefixFix> findPartPrefix(const ModelKeys &model,
                                        const std::vector<Selected> &selected) {
  if (selected.empty())
    return std::nullopt;
  std::set<std::string_view> selectedKeys;
  for (const Selected &s : selected)
    selectedKeys.insert(s.key);
  const std::string &first = selected.front().key;
  for (const std::string &modelKey : model.order) {
    if (modelKey.size() <= first.size() || !modelKey.ends_with(first) ||
        modelKey[modelKey.size() - first.size() - 1] != '.')
      continue;
    std::string prefix = modelKey.substr(0, modelKey.size() - first.size());
    bool fileInPart =
        std::all_of(selected.begin(), selected.end(), [&](const Selected &s) {
          return model.has(prefix + s.key);
        });
    bool partInFile = std::all_of(
        model.order.begin(), model.order.end(), [&](const std::string &key) {
          return !key.starts_with(prefix) ||
                 selectedKeys.count(
                     std::string_view(key).substr(prefix.size()));
        });
    if (fileInPart && partInFile)
      return PrefixFix{PrefixFix::Kind::Part, prefix, first, modelKey};
  }
  return std::nullopt;
}

/// The part of \p root at the state_dict path \p prefix (`1.0.`), or null.
const Module *findPart(const Module &root, std::string_view prefix) {
  const Module *module = &root;
  while (!prefix.empty()) {
    size_t dot = prefix.find('.');
    std::string_view name = prefix.substr(0, dot);
    prefix.remove_prefix(dot + 1);
    const Module *next = nullptr;
    for (size_t i = 0; i < module->children.size(); ++i)
      if (module->childNames[i] == name)
        next = module->children[i].get();
    if (!next)
      return nullptr;
    module = next;
  }
  return module;
}

/// How the user passes \p prefix where the weights were named.
std::string spellPrefix(const StateDictOptions &options,
                        const std::string &prefix) {
  bool statement = options.origin == WeightsOrigin::LoadStatement;
  if (prefix.empty())
    return statement ? "drop load_state_dict's prefix argument"
                     : "drop --weights-prefix";
  return statement
             ? fmt::format("pass prefix=\"{}\" to load_state_dict", prefix)
             : fmt::format("pass --weights-prefix {}", prefix);
}

/// Reports \p fix as one error (and, for a part, a note at the part).
void reportPrefixFix(const PrefixFix &fix, const Module &root,
                     const std::string &path, const StateDictOptions &options,
                     DiagnosticEngine &diag) {
  if (fix.kind == PrefixFix::Kind::Take) {
    std::string example =
        fmt::format("'{}' for '{}'", fix.fileKey, fix.modelKey);
    std::string message =
        options.prefix.empty()
            ? fmt::format("the file's keys have the prefix '{}' that the "
                          "model's lack ({}): {} to take the tensors under it",
                          fix.prefix, example, spellPrefix(options, fix.prefix))
        : fix.prefix.empty()
            ? fmt::format("no key starts with the prefix '{}', but the file "
                          "holds the model's keys without it: {}",
                          options.prefix, spellPrefix(options, fix.prefix))
            : fmt::format("the model's keys are under '{}' in the file, not "
                          "under '{}' ({}): {}",
                          fix.prefix, options.prefix, example,
                          spellPrefix(options, fix.prefix));
    diag.fileError(path, message);
    return;
  }
  std::string partName = fix.prefix.substr(0, fix.prefix.size() - 1);
  const Module *part = findPart(root, fix.prefix);
  diag.fileError(path,
                 fmt::format("the file holds the weights of the model's part "
                             "'{}' only ('{}' is '{}' in the model): load it "
                             "into that part instead",
                             partName, fix.fileKey, fix.modelKey));
  if (part)
    diag.note(part->loc,
              fmt::format("part '{}' is {}, defined here", partName,
                          part->description),
              part->locLength);
}

/// In strict mode, reports the one prefix fix that makes the keys match (or
/// that nothing is under the given prefix) when some key is missing.
/// Returns true when it reported.
bool reportKeyMismatch(Module &root, const ModelKeys &model,
                       const StateDict &file,
                       const std::vector<Selected> &selected,
                       const std::string &path, const StateDictOptions &options,
                       DiagnosticEngine &diag) {
  if (!options.strict || model.order.empty())
    return false;
  std::set<std::string_view> selectedKeys;
  for (const Selected &s : selected)
    selectedKeys.insert(s.key);
  bool missing = std::any_of(
      model.order.begin(), model.order.end(),
      [&](const std::string &key) { return !selectedKeys.count(key); });
  if (!missing)
    return false;
  std::optional<PrefixFix> fix = findTakePrefix(model, file, options.prefix);
  if (!fix)
    fix = findPartPrefix(model, selected);
  if (fix) {
    reportPrefixFix(*fix, root, path, options, diag);
    return true;
  }
  if (!selected.empty() || options.prefix.empty())
    return false;
  // Nothing under the given prefix: show what the keys start with instead.
  std::vector<std::string> starts;
  for (const StateDictTensor &tensor : file.tensors) {
    std::string start = tensor.name.substr(0, tensor.name.find('.') + 1);
    if (std::find(starts.begin(), starts.end(), start) == starts.end())
      starts.push_back(start);
    if (starts.size() > 5)
      break;
  }
  std::string shown;
  for (size_t i = 0; i < starts.size() && i < 5; ++i)
    shown += fmt::format("{}'{}'", i ? ", " : "", starts[i]);
  diag.fileError(
      path, fmt::format("no key starts with the prefix '{}'{}", options.prefix,
                        file.tensors.empty()
                            ? " (the file holds no tensors)"
                            : fmt::format(" (the keys start with {}{})", shown,
                                          starts.size() > 5 ? ", ..." : "")));
  return true;
}

} // namespace

bool loadStateDict(Module &root, const std::string &path, bool strict,
                   DiagnosticEngine &diag) {
  StateDictOptions options;
  options.strict = strict;
  return loadStateDict(root, path, options, diag);
}

bool loadStateDict(Module &root, const std::string &path,
                   const StateDictOptions &options, DiagnosticEngine &diag) {
  std::optional<StateDict> file = readStateDict(path, diag);
  if (!file)
    return false;
  ModelKeys model = collectModelKeys(root);
  std::vector<Selected> selected = selectTensors(*file, options.prefix);
  if (reportKeyMismatch(root, model, *file, selected, path, options, diag))
    return false;

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
  for (const auto &[key, tensor] : selected) {
    auto it = model.slots.find(key);
    if (it == model.slots.end()) {
      if (model.statsKeys.count(key))
        continue; // BatchNorm's counter: ignored at inference.
      if (options.strict)
        report(fmt::format("unexpected tensor '{}' ({}{}): the model has no "
                           "parameter of that name",
                           tensor->name, tensor->dtype,
                           Tensor::shapeString(tensor->shape)),
               nullptr);
      continue;
    }
    Slot &slot = it->second;
    seen.insert(key);
    if (!tensor->isFloat) {
      report(fmt::format("tensor '{}' has dtype {}, but {} needs a floating-"
                         "point tensor (F32, F16, BF16 or F64)",
                         tensor->name, tensor->dtype, slot.owner->description),
             slot.owner);
      continue;
    }
    if (tensor->shape != slot.param->shape) {
      report(fmt::format("tensor '{}' has shape {}, but {} expects {}",
                         tensor->name, Tensor::shapeString(tensor->shape),
                         slot.owner->description,
                         Tensor::shapeString(slot.param->shape)),
             slot.owner);
      continue;
    }
    slot.param->value = tensor->load();
    slot.param->source = ParamSource::StateDict;
  }
  if (options.strict) {
    for (const std::string &key : model.order) {
      if (seen.count(key))
        continue;
      const Slot &slot = model.slots[key];
      report(fmt::format("missing tensor '{}{}' ({}) for {}", options.prefix,
                         key, typeString(slot.param->shape),
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
