//===- Activations.cpp - The element-wise activations ---------------------===//

#include "compiler/ir/Activations.h"

#include <fmt/format.h>

#include <vector>

namespace seqc::ir {

std::string Activation::str() const {
  const ActivationInfo &info = activationInfo(kind);
  std::vector<std::string> shown;
  for (const ActParam &param : info.params) {
    if (!param.isUsed())
      continue;
    if (info.irShowsKeywords)
      shown.push_back(fmt::format("{}={}", param.keyword, param.get(*this)));
    else
      shown.push_back(fmt::format("{}", param.get(*this)));
  }
  if (shown.empty())
    return std::string(info.irName);
  return fmt::format("{}({})", info.irName, fmt::join(shown, ", "));
}

} // namespace seqc::ir
