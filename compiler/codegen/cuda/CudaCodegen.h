//===- CudaCodegen.h - Fused IR to CUDA C++ kernels -------------*- C++ -*-===//
//
// Part of seqc. Turns a fused model (Dense, Act, Softmax, LogSoftmax,
// LayerNorm, Affine) into a self-contained CUDA C++ source, the packed
// parameters the kernels read, and a launch plan the runtime
// (runtime/seqc_cuda_runtime.h) replays as one CUDA graph. Two strategies:
//
//  * Fused: one persistent kernel for the whole network when every width is
//    at most 128 and the weights fit in shared memory. fp32 keeps R rows of
//    activations in shared memory; bf16/f16 keeps 16 rows per warp in mma
//    accumulator registers across layers (the tiny-cuda-nn idea).
//  * Layered: per Dense layer a 128x128-tiled GEMM (fp32 FMA, or tensor
//    cores for bf16/f16) with bias and activation in the epilogue, plus a
//    skinny kernel for batches of at most 64; row operations (LayerNorm,
//    softmax, ...) get one small kernel per run of them.
//
// The choice, every kernel's shape and the parameter layout are a CudaPlan
// (CudaPlan.h), decided before any text is written.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_CODEGEN_CUDA_CUDACODEGEN_H
#define SEQC_CODEGEN_CUDA_CUDACODEGEN_H

#include "compiler/codegen/cuda/CudaPlan.h"
#include "compiler/ir/IR.h"

#include <cstdint>
#include <string>
#include <vector>

namespace seqc::cuda {

/// One kernel launch (mirrors seqc_cuda_launch), as a PlannedKernel
/// prescribes it.
struct KernelLaunch {
  std::string kernel;
  uint32_t threads = 0;
  uint32_t sharedBytes = 0;
  uint32_t rowsPerBlock = 1;
  uint32_t gridY = 1;
  uint32_t blocksPerSm = 0;
  int32_t input = 0;
  int32_t output = 1;
  uint64_t minBatch = 0;
  uint64_t maxBatch = UINT64_MAX;
};

/// What emitCudaProgram produces.
struct CudaProgram {
  std::string modelName;
  /// Complete CUDA C++ source (prelude + kernels).
  std::string source;
  std::vector<KernelLaunch> launches;
  /// Packed parameters, 256-byte aligned sections.
  std::vector<uint8_t> params;
  uint64_t scratchFloatsPerRow = 0;
  uint64_t inFeatures = 0;
  uint64_t outFeatures = 0;
  Strategy strategy = Strategy::Fused;
  Precision precision = Precision::F32;
  GpuArch arch;
  bool fastMath = false;
};

/// Plans \p model (planCudaProgram) and emits the kernels, parameters and
/// launches the plan describes. Returns false and sets \p error when the
/// model is not in fused form with every parameter bound, uses something the
/// CUDA backend does not support, or a forced strategy does not fit.
bool emitCudaProgram(const ir::Model &model, const CudaOptions &options,
                     CudaProgram &program, std::string &error);

/// The device helper library pasted at the top of every source.
const char *cudaPrelude();

} // namespace seqc::cuda

#endif // SEQC_CODEGEN_CUDA_CUDACODEGEN_H
