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

#include <cassert>
#include <cmath>

namespace seqc::cuda {

namespace {

/// A formula constant as the kernels spell it: nine significant digits of
/// the double, then `f`.
std::string constantLiteral(double value) {
  return fmt::format("{:.9g}f", value);
}

/// The CUDA expression of activation \p act applied to `x`: its table
/// entry's text with each `{name}` replaced by the parameter of that keyword
/// (a float literal) or the formula constant of that name.
std::string activationBody(const ir::Activation &act) {
  const ir::ActivationInfo &info = ir::activationInfo(act.kind);
  auto lookup = [&](std::string_view name) -> std::string {
    for (const ir::ActParam &param : info.params)
      if (param.isUsed() && param.keyword == name)
        return floatLiteral(param.get(act));
    for (const ir::ActConstant &constant : ir::kActConstants)
      if (constant.name == name)
        return constantLiteral(constant.value);
    assert(false && "unknown name in an activation's CUDA expression");
    return std::string(name);
  };
  std::string body;
  std::string_view text = info.cuda;
  for (size_t open; (open = text.find('{')) != std::string_view::npos;) {
    size_t close = text.find('}', open);
    body += text.substr(0, open);
    body += lookup(text.substr(open + 1, close - open - 1));
    text.remove_prefix(close + 1);
  }
  return body + std::string(text);
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
