//===- CudaJit.h - Run an emitted CUDA program in-process -------*- C++ -*-===//
//
// Part of seqc. Holds a CudaProgram and its NVRTC output together with the
// runtime descriptor that points into them, and a runtime model created
// from it: what `seqc run/bench --backend cuda` and the GPU tests use.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_CODEGEN_CUDA_CUDAJIT_H
#define SEQC_CODEGEN_CUDA_CUDAJIT_H

#include "compiler/codegen/cuda/CudaCodegen.h"
#include "compiler/codegen/cuda/Nvrtc.h"
#include "runtime/seqc_cuda_runtime.h"

#include <memory>
#include <string>
#include <vector>

namespace seqc::cuda {

class CudaJitModel {
public:
  /// Loads \p program on \p device. On failure returns nullptr, sets
  /// \p error to the runtime's message and \p status to its code.
  static std::unique_ptr<CudaJitModel> create(CudaProgram program,
                                              NvrtcOutput compiled, int device,
                                              std::string &error,
                                              int *status = nullptr);
  ~CudaJitModel();
  CudaJitModel(const CudaJitModel &) = delete;
  CudaJitModel &operator=(const CudaJitModel &) = delete;

  /// Host pointers in and out; waits for the result.
  int runHost(const float *input, float *output, uint64_t batch);
  /// Device pointers; asynchronous on \p stream.
  int runDevice(const float *input, float *output, uint64_t batch,
                void *stream);
  int synchronize();
  /// seqc_cuda_model_benchmark: mean seconds per run.
  int benchmark(uint64_t batch, uint32_t iterations, bool waitEach,
                double &seconds);

  const CudaProgram &program() const { return prog; }
  /// Bytes of the CUBIN that was loaded.
  uint64_t cubinBytes() const { return compiled.cubin.size(); }
  seqc_cuda_model *handle() const { return model; }

private:
  CudaJitModel() = default;
  CudaProgram prog;
  NvrtcOutput compiled;
  std::vector<seqc_cuda_launch> launches;
  seqc_cuda_model_desc desc{};
  seqc_cuda_model *model = nullptr;
};

} // namespace seqc::cuda

#endif // SEQC_CODEGEN_CUDA_CUDAJIT_H
