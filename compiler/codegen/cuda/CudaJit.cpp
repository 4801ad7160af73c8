//===- CudaJit.cpp - Run an emitted CUDA program in-process ---------------===//

#include "compiler/codegen/cuda/CudaJit.h"

namespace seqc::cuda {

std::unique_ptr<CudaJitModel>
CudaJitModel::create(CudaProgram program, NvrtcOutput compiled, int device,
                     std::string &error, int *status) {
  std::unique_ptr<CudaJitModel> jit(new CudaJitModel());
  jit->prog = std::move(program);
  jit->compiled = std::move(compiled);
  for (const KernelLaunch &l : jit->prog.launches)
    jit->launches.push_back({l.kernel.c_str(), l.threads, l.sharedBytes,
                             l.rowsPerBlock, l.gridY, l.blocksPerSm, l.input,
                             l.output, l.minBatch, l.maxBatch});
  seqc_cuda_model_desc &d = jit->desc;
  d.abi_version = SEQC_CUDA_ABI_VERSION;
  d.name = jit->prog.modelName.c_str();
  d.in_features = jit->prog.inFeatures;
  d.out_features = jit->prog.outFeatures;
  d.cubin = jit->compiled.cubin.empty() ? nullptr : jit->compiled.cubin.data();
  d.cubin_size = jit->compiled.cubin.size();
  d.cubin_arch = static_cast<uint32_t>(jit->prog.arch.number());
  d.ptx = jit->compiled.ptx.empty() ? nullptr : jit->compiled.ptx.c_str();
  d.params = jit->prog.params.empty() ? nullptr : jit->prog.params.data();
  d.params_size = jit->prog.params.size();
  d.scratch_floats_per_row = jit->prog.scratchFloatsPerRow;
  d.num_launches = static_cast<uint32_t>(jit->launches.size());
  d.launches = jit->launches.data();
  int code = seqc_cuda_model_create(&d, device, &jit->model);
  if (status)
    *status = code;
  if (code != SEQC_CUDA_OK) {
    error = seqc_cuda_last_error();
    return nullptr;
  }
  return jit;
}

CudaJitModel::~CudaJitModel() { seqc_cuda_model_destroy(model); }

int CudaJitModel::runHost(const float *input, float *output, uint64_t batch) {
  return seqc_cuda_model_run_host(model, input, output, batch);
}

int CudaJitModel::runDevice(const float *input, float *output, uint64_t batch,
                            void *stream) {
  return seqc_cuda_model_run(model, input, output, batch, stream);
}

int CudaJitModel::synchronize() { return seqc_cuda_model_synchronize(model); }

int CudaJitModel::benchmark(uint64_t batch, uint32_t iterations, bool waitEach,
                            double &seconds) {
  return seqc_cuda_model_benchmark(model, batch, iterations, waitEach ? 1 : 0,
                                   &seconds);
}

} // namespace seqc::cuda
