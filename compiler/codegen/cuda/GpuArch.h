//===- GpuArch.h - GPU architectures the CUDA backend targets ---*- C++ -*-===//
//
// Part of seqc. An NVIDIA architecture (`sm_80`, `sm_90a`) as NVRTC names
// it, and the per-block shared-memory budget the kernels are sized for.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_CODEGEN_CUDA_GPUARCH_H
#define SEQC_CODEGEN_CUDA_GPUARCH_H

#include <cstdint>
#include <optional>
#include <string>

namespace seqc::cuda {

/// A GPU architecture: `sm_80` is {8, 0, false}, `sm_90a` {9, 0, true}.
struct GpuArch {
  int major = 8;
  int minor = 0;
  bool archSpecific = false;

  int number() const { return major * 10 + minor; }
  /// `sm_80`.
  std::string smName() const;
  /// `compute_80`.
  std::string computeName() const;
  /// Largest dynamic shared memory one block may use on this architecture.
  uint32_t maxSharedBytes() const;
};

/// Parses `sm_80`, `sm_90a`, `80`; nullopt when malformed.
std::optional<GpuArch> parseGpuArch(const std::string &text);

} // namespace seqc::cuda

#endif // SEQC_CODEGEN_CUDA_GPUARCH_H
