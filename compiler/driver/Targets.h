//===- Targets.h - Hooks from the driver into the code generators -*- C++ -*-=//
//
// Part of seqc. The driver reaches each backend only through these
// functions, so it builds (and reports a clean error) when a backend is
// switched off. CpuTarget.cpp implements the CPU ones when SEQC_HAVE_LLVM is
// defined, CudaTarget.cpp the CUDA ones when SEQC_HAVE_CUDA is.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_DRIVER_TARGETS_H
#define SEQC_DRIVER_TARGETS_H

#include "compiler/driver/Options.h"
#include "compiler/ir/IR.h"
#include "compiler/support/Diagnostics.h"

#include <cstdint>
#include <memory>

namespace seqc::driver {

/// Runs a fused model on float32 rows, for `seqc run` and `seqc bench`.
class Executor {
public:
  virtual ~Executor() = default;
  /// Computes `output[batch, outFeatures]` from `input[batch, inFeatures]`.
  /// Returns false after reporting a diagnostic.
  virtual bool run(const float *input, float *output, uint64_t batch,
                   DiagnosticEngine &diag) = 0;
  /// Bytes of what the backend generated for this model (machine code plus
  /// packed weights; the CUBIN), for `seqc bench`; 0 when not known.
  virtual uint64_t artifactBytes() const { return 0; }
};

#ifdef SEQC_HAVE_LLVM
/// JIT-compiles \p fused for this host. Returns nullptr after reporting.
std::unique_ptr<Executor> createCpuExecutor(const ir::Model &fused,
                                            const DriverOptions &opts,
                                            DiagnosticEngine &diag);
/// `seqc emit --target cpu`: returns the exit code.
int emitCpu(const ir::Model &fused, const DriverOptions &opts,
            DiagnosticEngine &diag);
/// `seqc compile --target cpu`: returns the exit code.
int compileCpu(const ir::Model &fused, const DriverOptions &opts,
               DiagnosticEngine &diag);
#endif

#ifdef SEQC_HAVE_CUDA
std::unique_ptr<Executor> createCudaExecutor(const ir::Model &fused,
                                             const DriverOptions &opts,
                                             DiagnosticEngine &diag);
int emitCuda(const ir::Model &fused, const DriverOptions &opts,
             DiagnosticEngine &diag);
int compileCuda(const ir::Model &fused, const DriverOptions &opts,
                DiagnosticEngine &diag);
#endif

/// Creates the executor for opts.backend ("cpu" or "cuda"), or reports that
/// this build of seqc lacks it. Returns nullptr after reporting.
std::unique_ptr<Executor> createExecutor(const ir::Model &fused,
                                         const DriverOptions &opts,
                                         DiagnosticEngine &diag);

} // namespace seqc::driver

#endif // SEQC_DRIVER_TARGETS_H
