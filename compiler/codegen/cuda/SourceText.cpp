//===- SourceText.cpp - CUDA source text shared by the emitters -----------===//
//
// Part of seqc. Float literals, the activation functors (one struct per
// distinct activation, instantiated into the prelude's templates), the
// kernels' parameter lists, typed views of the parameter blob, and small
// render helpers for fragments every emitter writes.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cuda/Internal.h"

#include <fmt/format.h>

#include <cmath>

namespace seqc::cuda {

namespace {

/// The CUDA expression of activation \p act applied to `x`.
std::string activationBody(const ir::Activation &act) {
  using ir::ActKind;
  const std::string alpha = floatLiteral(act.alpha);
  const std::string beta = floatLiteral(act.beta);
  switch (act.kind) {
  case ActKind::None:
    return "x";
  case ActKind::ReLU:
    return "(x > 0.0f || isnan(x)) ? x : 0.0f";
  case ActKind::Sigmoid:
    return "1.0f / (1.0f + expf(-x))";
  case ActKind::Tanh:
    return "tanhf(x)";
  case ActKind::GELU:
    return "0.5f * x * (1.0f + erff(x * 0.707106781f))";
  case ActKind::GELUTanh:
    return "0.5f * x * (1.0f + tanhf(0.797884561f * (x + 0.044715f * x * x * "
           "x)))";
  case ActKind::SiLU:
    return "x * (1.0f / (1.0f + expf(-x)))";
  case ActKind::LeakyReLU:
    return fmt::format("x > 0.0f ? x : x * {}", alpha);
  case ActKind::ELU:
    return fmt::format("x > 0.0f ? x : {} * expm1f(x)", alpha);
  case ActKind::Softplus:
    // alpha is the threshold, beta the scale (PyTorch's beta, threshold).
    return fmt::format("{0} * x > {1} ? x : log1pf(expf({0} * x)) / {0}", beta,
                       alpha);
  case ActKind::Hardtanh:
    return fmt::format("isnan(x) ? x : (x < {0} ? {0} : (x > {1} ? {1} : x))",
                       alpha, beta);
  case ActKind::Hardsigmoid:
    return "seqc_clamp6(x + 3.0f) / 6.0f";
  case ActKind::Hardswish:
    return "x * seqc_clamp6(x + 3.0f) / 6.0f";
  case ActKind::Mish:
    return "x * tanhf(log1pf(expf(x)))";
  }
  return "x";
}

std::string identifierFrom(std::string text) {
  for (char &c : text)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9')))
      c = '_';
  return text;
}

} // namespace

std::string floatLiteral(double value) {
  if (std::isnan(value))
    return "__int_as_float(0x7fc00000)";
  if (std::isinf(value))
    return value > 0 ? "SEQC_INFINITY" : "(-SEQC_INFINITY)";
  float f = static_cast<float>(value);
  if (std::isinf(f))
    return f > 0 ? "SEQC_INFINITY" : "(-SEQC_INFINITY)";
  std::string text = fmt::format("{:.9g}", f);
  if (text.find_first_of(".eE") == std::string::npos)
    text += ".0";
  return text + "f";
}

std::string ActivationTable::use(const ir::Activation &act) {
  if (act.isNone())
    return "seqc_act_none()";
  std::string key = act.str();
  auto it = names.find(key);
  if (it != names.end())
    return it->second + "()";
  std::string name =
      "seqc_act_" + identifierFrom(std::string(ir::actName(act.kind)));
  if (used.count(name))
    name += fmt::format("_{}", names.size());
  used[name] = true;
  names[key] = name;
  definitions +=
      fmt::format("/// {}\nstruct {} {{\n  __device__ __forceinline__ float "
                  "operator()(float x) const {{\n    return {};\n  }}\n}};\n\n",
                  key, name, activationBody(act));
  return name + "()";
}

const char *const kKernelParams =
    "(const float *__restrict__ x, float *__restrict__ y,\n"
    "    const unsigned char *__restrict__ params, long long batch)";
const char *const kKernelParamsAliased =
    "(const float *x, float *y,\n"
    "    const unsigned char *__restrict__ params, long long batch)";

std::string ptr(const char *type, uint64_t offset) {
  return fmt::format("reinterpret_cast<const {} *>(params + {}ull)", type,
                     offset);
}

const char *cppBool(bool value) { return value ? "true" : "false"; }

std::string launchBounds(const KernelShape &shape) {
  return fmt::format("__launch_bounds__({})", shape.threads);
}

std::string paramOrNull(const char *prefix, size_t index, bool present) {
  return present ? fmt::format("{}{}", prefix, index) : "nullptr";
}

} // namespace seqc::cuda
