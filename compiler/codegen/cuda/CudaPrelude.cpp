//===- CudaPrelude.cpp - Device helpers every emitted kernel uses ---------===//
//
// Part of seqc. Prelude.cuh is pasted at the top of every CUDA source seqc
// emits; CMake embeds it here as a string literal (Prelude.inc.in). It needs
// no header (NVRTC is run without include paths): 16-bit floats are raw
// `unsigned short` bit patterns converted with PTX `cvt`, and tensor cores
// are reached with inline PTX `mma.sync` and `ldmatrix`.
//
// The helpers that use inline PTX or CUDA-only spellings sit inside
// `#ifndef SEQC_HOST_EMULATION`, so the same source also compiles as host
// C++ against tests/cuda/HostEmulation.h, which runs the kernels thread by
// thread on the CPU (the tests use it to check every kernel's numerics on a
// machine without a GPU).
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cuda/CudaCodegen.h"

namespace seqc::cuda {

const char *cudaPrelude() {
  return
#include "Prelude.inc"
      ;
}

} // namespace seqc::cuda
