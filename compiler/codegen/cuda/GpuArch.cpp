//===- GpuArch.cpp - GPU architectures the CUDA backend targets -----------===//
//
// Part of seqc. Naming and parsing of `--gpu-arch` values, and the shared
// memory per block the kernels may plan for.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cuda/GpuArch.h"

#include <fmt/format.h>

#include <algorithm>

namespace seqc::cuda {

std::string GpuArch::smName() const {
  return fmt::format("sm_{}{}", number(), archSpecific ? "a" : "");
}

std::string GpuArch::computeName() const {
  return fmt::format("compute_{}{}", number(), archSpecific ? "a" : "");
}

uint32_t GpuArch::maxSharedBytes() const {
  // Opt-in maximum per block. Kernels compiled for one architecture also
  // run (through PTX) on newer GPUs, some of which (sm_86, sm_89, sm_120)
  // allow only 99 KiB, so the budget never exceeds that.
  const uint32_t portable = 101376;
  switch (number()) {
  case 75:
    return 65536;
  default:
    return portable;
  }
}

std::optional<GpuArch> parseGpuArch(const std::string &text) {
  std::string digits = text;
  if (digits.rfind("sm_", 0) == 0 || digits.rfind("compute_", 0) == 0)
    digits = digits.substr(digits.find('_') + 1);
  GpuArch arch;
  if (!digits.empty() && (digits.back() == 'a' || digits.back() == 'f')) {
    arch.archSpecific = true;
    digits.pop_back();
  }
  if (digits.size() < 2 || digits.size() > 3 ||
      !std::all_of(digits.begin(), digits.end(),
                   [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  int value = std::stoi(digits);
  arch.major = value / 10;
  arch.minor = value % 10;
  if (arch.major < 3)
    return std::nullopt;
  return arch;
}

} // namespace seqc::cuda
