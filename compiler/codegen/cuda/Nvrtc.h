//===- Nvrtc.h - Compile CUDA C++ to CUBIN and PTX with NVRTC ---*- C++ -*-===//
//
// Part of seqc. One NVRTC compile yields the CUBIN for the chosen sm_XX and
// the PTX the driver can JIT for newer GPUs. Results are cached in memory
// and, when a cache directory is given, on disk, keyed by a hash of the
// source, the options and the NVRTC version.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_CODEGEN_CUDA_NVRTC_H
#define SEQC_CODEGEN_CUDA_NVRTC_H

#include "compiler/codegen/cuda/CudaCodegen.h"

#include <string>
#include <vector>

namespace seqc::cuda {

struct NvrtcOptions {
  GpuArch arch;
  bool fastMath = false;
  /// Also produce PTX (default); CUBIN is always produced.
  bool wantPtx = true;
  /// Directory of the on-disk cache (ObjectCache entries: checksummed,
  /// written atomically, bounded by SEQC_CACHE_MAX_MB); empty disables it.
  std::string cacheDir;
  /// Name NVRTC shows in its diagnostics.
  std::string sourceName = "model.cu";
};

struct NvrtcOutput {
  std::string cubin;
  std::string ptx;
  /// NVRTC's log (warnings), possibly empty.
  std::string log;
  bool fromCache = false;
};

/// Compiles \p source. On failure returns false and sets \p error to a
/// message that includes NVRTC's log.
bool compileCuda(const std::string &source, const NvrtcOptions &options,
                 NvrtcOutput &output, std::string &error);

/// `13.0`.
std::string nvrtcVersionString();

/// The architectures this NVRTC can target, e.g. {75, 80, 86, ...}.
std::vector<int> nvrtcSupportedArchs();

/// The default on-disk cache: $SEQC_CUDA_CACHE_DIR, else
/// $XDG_CACHE_HOME/seqc/cuda, else $HOME/.cache/seqc/cuda; empty when none
/// applies or SEQC_CUDA_CACHE_DIR is "off".
std::string defaultCudaCacheDir();

} // namespace seqc::cuda

#endif // SEQC_CODEGEN_CUDA_NVRTC_H
