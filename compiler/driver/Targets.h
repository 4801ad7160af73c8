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

#include "compiler/bench/StageProfile.h"
#include "compiler/driver/Options.h"
#include "compiler/ir/IR.h"
#include "compiler/support/Diagnostics.h"
#include "compiler/view/GraphView.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

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
  /// True when the code was loaded from the persistent object cache rather
  /// than compiled (the CPU JIT; docs/cache.md).
  virtual bool fromCache() const { return false; }
  /// Bytes of the packed weights the executor keeps in 2 MiB pages (the CPU
  /// JIT: docs/performance.md, "Weights in huge pages"); nullopt for
  /// backends that do not place them.
  virtual std::optional<uint64_t> hugePageBytes() const { return std::nullopt; }
  /// A profiling executor (createExecutor with `profile`): the stages it
  /// times, in order. Empty for others.
  virtual std::vector<bench::ProfiledStage> profiledStages() const {
    return {};
  }
  /// Seconds each stage took, summed over the runs since the last call;
  /// then starts again from zero.
  virtual std::vector<double> takeStageSeconds() { return {}; }
};

/// Whether this build of seqc has \p target's code generator; reports
/// (how to configure one that has) when it does not.
bool targetBuilt(Target target, DiagnosticEngine &diag);

/// False (after reporting) when --external-weights is given for a backend
/// or target other than the CPU's.
bool externalWeightsAllowed(const DriverOptions &opts, Backend backend,
                            DiagnosticEngine &diag);
bool externalWeightsAllowed(const DriverOptions &opts, Target target,
                            DiagnosticEngine &diag);

/// The float64 reference interpreter behind the Executor interface, for
/// `seqc bench --backend ref`: it converts the rows to double and back,
/// which is part of what it times. \p precision other than f32 simulates
/// that precision's Dense layers (reference/ReducedPrecision.h).
std::unique_ptr<Executor> createReferenceExecutor(const ir::Model &model,
                                                  Precision precision);

/// The precision the reference simulates for --precision: f32 unless
/// given; nullopt after reporting f16, which only CUDA computes in.
std::optional<Precision> referencePrecision(const DriverOptions &opts,
                                            DiagnosticEngine &diag);

#ifdef SEQC_HAVE_LLVM
/// JIT-compiles \p fused for this host. Returns nullptr after reporting.
/// With \p profile, a build that times its stages (profiledStages).
std::unique_ptr<Executor> createCpuExecutor(const ir::Model &fused,
                                            const DriverOptions &opts,
                                            DiagnosticEngine &diag,
                                            bool profile = false);
/// `seqc emit --target cpu`: returns the exit code.
int emitCpu(const ir::Model &fused, const DriverOptions &opts,
            DiagnosticEngine &diag);
/// `seqc ir --print-plan --target cpu`: returns the exit code.
int printCpuPlan(const ir::Model &fused, const DriverOptions &opts,
                 DiagnosticEngine &diag);
/// `seqc view --target cpu`: the stages of the plan as groups of fused ops,
/// and what they are planned for (`cpu x86-64-v4, f32`). Returns false
/// after reporting.
bool cpuViewGroups(const ir::Model &fused, const DriverOptions &opts,
                   std::vector<view::Group> &groups, view::ViewTarget &target,
                   DiagnosticEngine &diag);
/// `seqc compile --target cpu`: returns the exit code.
int compileCpu(const ir::Model &fused, const DriverOptions &opts,
               DiagnosticEngine &diag);
/// `seqc check`: the footprint of the object `seqc compile` would write for
/// \p fused (compiled in memory; nothing is written), as compile prints
/// it, with what it was compiled for: `(cpu x86-64-v3, f32) code ...`.
/// Returns false after reporting.
bool cpuFootprintLine(const ir::Model &fused, const DriverOptions &opts,
                      std::string &line, DiagnosticEngine &diag);
#endif

#ifdef SEQC_HAVE_CUDA
std::unique_ptr<Executor> createCudaExecutor(const ir::Model &fused,
                                             const DriverOptions &opts,
                                             DiagnosticEngine &diag);
int emitCuda(const ir::Model &fused, const DriverOptions &opts,
             DiagnosticEngine &diag);
int compileCuda(const ir::Model &fused, const DriverOptions &opts,
                DiagnosticEngine &diag);
/// `seqc ir --print-plan --target cuda`: returns the exit code.
int printCudaPlan(const ir::Model &fused, const DriverOptions &opts,
                  DiagnosticEngine &diag);
/// `seqc view --target cuda`: the plan's kernels (fused strategy) or steps
/// (layered) as groups of fused ops, and what they are planned for. Returns
/// false after reporting.
bool cudaViewGroups(const ir::Model &fused, const DriverOptions &opts,
                    std::vector<view::Group> &groups, view::ViewTarget &target,
                    DiagnosticEngine &diag);
#endif

/// Writes \p text to opts.output, atomically, or to stdout when it is empty
/// or `-`; refuses to overwrite the model file. Returns the exit code.
int writeOutput(const DriverOptions &opts, const std::string &text,
                DiagnosticEngine &diag);

/// Creates the executor for \p backend, or reports that this build of seqc
/// lacks it. \p profile asks for one that times its stages (the CPU
/// backend only). Returns nullptr after reporting.
std::unique_ptr<Executor> createExecutor(const ir::Model &fused,
                                         Backend backend,
                                         const DriverOptions &opts,
                                         DiagnosticEngine &diag,
                                         bool profile = false);

} // namespace seqc::driver

#endif // SEQC_DRIVER_TARGETS_H
