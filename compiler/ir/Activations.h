//===- Activations.h - The element-wise activations -------------*- C++ -*-===//
//
// Part of seqc. The activation kinds and their table, both expanded from
// Activations.def: everything but a backend's code is read from here.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_IR_ACTIVATIONS_H
#define SEQC_IR_ACTIVATIONS_H

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace seqc::ir {

/// Element-wise functions, one per Activations.def entry.
enum class ActKind : uint8_t {
#define ACTIVATION(Kind, ...) Kind,
#include "compiler/ir/Activations.def"
};

/// The number of activation kinds.
inline constexpr size_t kNumActKinds = 0
#define ACTIVATION(Kind, ...) +1
#include "compiler/ir/Activations.def"
    ;

/// An activation function with its parameters; which parameter goes to
/// alpha and which to beta is in its table entry (LeakyReLU: negative_slope
/// in alpha; Softplus: beta in beta, threshold in alpha).
struct Activation {
  ActKind kind = ActKind::None;
  double alpha = 0.0;
  double beta = 0.0;

  bool isNone() const { return kind == ActKind::None; }
  bool operator==(const Activation &other) const = default;
  /// The IR spelling: `relu`, `leaky_relu(0.01)`,
  /// `softplus(beta=1, threshold=20)`.
  std::string str() const;
};

/// Where a parameter is kept in Activation.
enum class ActSlot : uint8_t { Alpha, Beta };

/// One float parameter of an activation's PyTorch constructor.
struct ActParam {
  /// PyTorch's keyword (`negative_slope`); empty for an unused entry.
  std::string_view keyword;
  ActSlot slot = ActSlot::Alpha;
  double defaultValue = 0.0;
  /// Layer descriptions show a given value as `alpha=0.5` rather than `0.5`.
  bool describedByKeyword = true;
  /// The formula divides by it, so 0 is an error.
  bool nonZero = false;

  bool isUsed() const { return !keyword.empty(); }
  double get(const Activation &act) const {
    return slot == ActSlot::Alpha ? act.alpha : act.beta;
  }
  void set(Activation &act, double value) const {
    (slot == ActSlot::Alpha ? act.alpha : act.beta) = value;
  }
};

/// A string argument that picks one of the activations of a PyTorch class
/// (GELU's `approximate='none'` or `'tanh'`).
struct ActVariant {
  std::string_view keyword;
  std::string_view value;
};

/// How the CPU backend computes an activation (Activations.def: CpuMath).
enum class CpuMath : uint8_t {
  Cheap,  ///< a few float instructions
  Double, ///< in double, rounded once to float
  Fast,   ///< as Double; in float under --fast-math
};

/// An activation's entry in the table: see Activations.def.
struct ActivationInfo {
  ActKind kind;
  CpuMath cpuMath;
  /// The IR mnemonic (`leaky_relu`).
  std::string_view irName;
  /// The PyTorch class that makes it (`LeakyReLU`); empty for None.
  std::string_view torchClass = {};
  ActVariant variant = {};
  /// The constructor's float parameters, in positional order.
  ActParam params[2] = {};
  /// The constructor takes `inplace` (accepted, no effect) after them.
  bool takesInplace = false;
  /// The IR prints `softplus(beta=1, threshold=20)` rather than
  /// `softplus(1, 20)`.
  bool irShowsKeywords = false;
  /// The second parameter must be greater than the first (Hardtanh).
  bool secondAboveFirst = false;
  /// The value in double, as PyTorch defines it, NaN and infinities
  /// included.
  double (*reference)(const Activation &act, double x) = nullptr;
  /// The CUDA expression of the value (see Activations.def).
  std::string_view cuda = {};

  size_t numParams() const {
    return static_cast<size_t>(
        std::count_if(std::begin(params), std::end(params),
                      [](const ActParam &param) { return param.isUsed(); }));
  }
};

/// A constant that several renderings of a formula share.
#define ACTIVATION_CONSTANT(Name, Value) inline constexpr double Name = Value;
#include "compiler/ir/Activations.def"

/// The activation table, in ActKind order.
inline constexpr ActivationInfo kActivations[] = {
#define ACTIVATION(Kind, CpuMath, ...)                                         \
  {.kind = ActKind::Kind, .cpuMath = SEQC_CPU_MATH_##CpuMath, __VA_ARGS__},
#define SEQC_CPU_MATH_CHEAP CpuMath::Cheap
#define SEQC_CPU_MATH_DOUBLE CpuMath::Double
#define SEQC_CPU_MATH_FAST CpuMath::Fast
#include "compiler/ir/Activations.def"
#undef SEQC_CPU_MATH_CHEAP
#undef SEQC_CPU_MATH_DOUBLE
#undef SEQC_CPU_MATH_FAST
};

/// Whether entry i of the table is kind i, as both come from one list.
constexpr bool tableInKindOrder() {
  for (size_t i = 0; i < kNumActKinds; ++i)
    if (static_cast<size_t>(kActivations[i].kind) != i)
      return false;
  return true;
}
static_assert(tableInKindOrder());

/// The table entry of \p kind.
constexpr const ActivationInfo &activationInfo(ActKind kind) {
  return kActivations[static_cast<size_t>(kind)];
}

/// A named constant of Activations.def, for renderers that spell constants
/// by name (the CUDA expressions).
struct ActConstant {
  std::string_view name;
  double value;
};
inline constexpr ActConstant kActConstants[] = {
#define ACTIVATION_CONSTANT(Name, Value) {#Name, Name},
#include "compiler/ir/Activations.def"
};

/// The entry of \p kind's PyTorch class that layers of the class start
/// from: the first in the table (GELU for GELUTanh).
constexpr ActKind classDefault(ActKind kind) {
  for (const ActivationInfo &info : kActivations)
    if (info.torchClass == activationInfo(kind).torchClass)
      return info.kind;
  return kind;
}

/// A PyTorch class that makes an activation layer, or an alias.
struct ActivationClass {
  ActKind kind;
  /// Aliases only: the class name and the fixed parameters.
  std::string_view aliasName = {};
  double alpha = 0.0;
  double beta = 0.0;

  bool isAlias() const { return !aliasName.empty(); }
  std::string_view name() const {
    return isAlias() ? aliasName : activationInfo(kind).torchClass;
  }
  /// False for the entries that make no class of their own: None, and the
  /// later entries of a class (GELUTanh).
  bool isClass() const {
    return isAlias() || (!name().empty() && classDefault(kind) == kind);
  }
};

/// The entries and aliases in Activations.def's order, which is the order
/// the language lists its layers in.
inline constexpr ActivationClass kActivationClasses[] = {
#define ACTIVATION(Kind, ...) {.kind = ActKind::Kind},
#define ACTIVATION_ALIAS(Class, Kind, Alpha, Beta)                             \
  {.kind = ActKind::Kind, .aliasName = #Class, .alpha = Alpha, .beta = Beta},
#include "compiler/ir/Activations.def"
};

/// The IR mnemonic of an activation kind (`relu`, ...).
inline std::string_view actName(ActKind kind) {
  return activationInfo(kind).irName;
}

} // namespace seqc::ir

#endif // SEQC_IR_ACTIVATIONS_H
