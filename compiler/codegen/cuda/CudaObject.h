//===- CudaObject.h - PREFIX.h + PREFIX.o for CUDA models -------*- C++ -*-===//
//
// Part of seqc. `seqc compile --target cuda` output: a C header declaring
// PREFIX_create / PREFIX_run / PREFIX_run_host / PREFIX_destroy, and an
// object holding the CUBIN, the PTX, the packed parameters and those entry
// points (which call the seqc runtime, runtime/seqc_cuda_runtime.h). The
// object is made without LLVM: a small C file whose blobs come in through
// the assembler's .incbin, compiled by the host C compiler ($CC or cc).
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_CODEGEN_CUDA_CUDAOBJECT_H
#define SEQC_CODEGEN_CUDA_CUDAOBJECT_H

#include "compiler/codegen/cuda/CudaCodegen.h"
#include "compiler/codegen/cuda/Nvrtc.h"

#include <string>

namespace seqc::cuda {

/// True when \p prefix is a C identifier usable as a symbol prefix.
bool isValidPrefix(const std::string &prefix);

/// The text of PREFIX.h.
std::string cudaHeaderText(const CudaProgram &program,
                           const std::string &prefix);

/// The C source of PREFIX.o; blobs are read from \p blobDir
/// (params.bin, kernels.cubin, kernels.ptx).
std::string cudaObjectSourceText(const CudaProgram &program,
                                 const NvrtcOutput &compiled,
                                 const std::string &prefix,
                                 const std::string &blobDir);

/// Writes `<base>.h` and `<base>.o` (base = DIR/PREFIX). Each file is
/// written atomically; on failure neither is left behind and \p error says
/// why.
bool writeCudaArtifacts(const CudaProgram &program, const NvrtcOutput &compiled,
                        const std::string &base, const std::string &prefix,
                        std::string &error);

} // namespace seqc::cuda

#endif // SEQC_CODEGEN_CUDA_CUDAOBJECT_H
