//===- CpuBackend.h - The LLVM CPU backend, LLVM-free API -------*- C++ -*-===//
//
// Part of seqc. Turns a fused model into native code through LLVM: textual
// LLVM IR, assembly, a relocatable object (plus a static archive), or an
// in-process JIT-compiled function. The generated-code contract (symbols,
// scratch memory, error codes, the parallel-for hook) is documented in
// docs/cpu-backend.md. This header deliberately includes no LLVM header;
// everything LLVM lives behind it.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_CODEGEN_CPU_CPUBACKEND_H
#define SEQC_CODEGEN_CPU_CPUBACKEND_H

#include "compiler/codegen/common/Precision.h"
#include "compiler/ir/IR.h"
#include "compiler/support/ObjectCache.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace seqc::codegen::cpu {

/// What to generate code for.
struct CpuTargetOptions {
  /// LLVM CPU name: "" or "native" = the host, "x86-64-v3", "skylake-avx512",
  /// "generic", ...; or a comma-separated list of named x86-64 CPUs
  /// ("x86-64-v3,x86-64-v4") for one object that picks the last one the
  /// running CPU supports (CPUID, through GNU ifuncs); the JIT compiles the
  /// best one for the host.
  std::string cpu;
  /// Target triple: "" = the host; e.g. "aarch64-linux-gnu".
  std::string triple;
  /// Prefix of every exported symbol; must be a C identifier.
  std::string prefix = "model";
  /// --fast-math: sigmoid, tanh, SiLU, GELU and GELU (tanh) in float, to
  /// within 6 ulps (8 without FMA) instead of one (docs/cpu-backend.md,
  /// "Numerics").
  bool fastMath = false;
  /// --precision: what the Dense layers' weights are stored as and how
  /// their inputs are rounded (f32, bf16, int8, int8w; not f16);
  /// docs/cpu-backend.md, "Reduced precision".
  Precision precision = Precision::F32;
  /// A profiling build (`seqc bench --layers`): PREFIX_run_parallel calls a
  /// hook before its first stage and after every stage, read from two extra
  /// globals, PREFIX_profile_hook and PREFIX_profile_user (see
  /// JitModel::setProfileHook). Off, the code has no trace of it.
  bool profile = false;
  /// External weights (`seqc compile --external-weights`): the parameters
  /// are not embedded but written to a separate blob, PREFIX.weights, that
  /// the app loads (or maps) and passes to the entry points as their first
  /// argument; see docs/cpu-backend.md.
  bool externalWeights = false;
  /// The JIT: once linked, move the packed weights (embedded constants, or
  /// the external blob) into transparent huge pages where the OS allows it
  /// (docs/performance.md, "Weights in huge pages"). It pays off over many
  /// calls and costs up to about 5 ms per MB once (when the kernel must
  /// compact memory), so `seqc bench` asks for it (unless
  /// `--no-huge-pages`) and `seqc run` does not. Objects for apps are not
  /// affected.
  bool hugePages = false;
  /// The JIT's persistent object cache (docs/cache.md): the directory
  /// (empty: none, the default; the driver passes
  /// ObjectCache::defaultDirectory() unless --no-cache) and its size bound.
  /// A hit loads the cached object instead of building and compiling the
  /// model. generate() and generateObjectFile() do not use it.
  std::string cacheDir;
  uint64_t cacheMaxBytes = ObjectCache::kDefaultMaxBytes;
};

/// What one stage of PREFIX_run does: a pass over the whole batch, split
/// into work items, that computes ops [firstOp, lastOp] of the fused model.
enum class StageKind {
  Dense,   ///< one Dense/Linear op: GEMM with its fused bias and activation
  RowOp,   ///< one row-wise op (activation, softmax, LayerNorm, affine)
  RowNorm, ///< the softmax/log-softmax that ends a Dense op, in place
  Fused,   ///< every op, one row block at a time (weights fit in L2)
  Tiny,    ///< every op as straight-line code, rows in SIMD lanes
};
struct StageInfo {
  StageKind kind = StageKind::Dense;
  size_t firstOp = 0;
  size_t lastOp = 0;
};
/// The profile hook: `mark` is 0 before the first stage and i + 1 after
/// stage i, called on the thread that called PREFIX_run_parallel.
using ProfileHookFn = void (*)(void *user, uint32_t mark);

/// Error codes returned by the generated PREFIX_run functions.
enum RunStatus : int {
  kRunOk = 0,
  kRunNullPointer = -1,   ///< input or output is NULL while batch > 0
  kRunNullScratch = -2,   ///< scratch is NULL but scratch_bytes(batch) > 0
  kRunBatchTooLarge = -3, ///< batch > limits::kMaxBatch
  /// Multiversioned objects only: no variant runs on this CPU.
  kRunUnsupportedCpu = -4,
  /// External weights only: the weights pointer is NULL or not 64-byte
  /// aligned, or the buffer is not the PREFIX.weights this code was
  /// compiled with (magic, fingerprint or size differ).
  kRunBadWeights = -5,
};

/// The task and parallel-for signatures of the generated code's hook.
using TaskFn = void (*)(void *ctx, size_t begin, size_t end);
using ParallelForFn = void (*)(void *pool, size_t count, TaskFn task,
                               void *ctx);

enum class OutputKind { LLVMIR, Assembly, Object };

/// Checks that \p name can prefix C symbols.
bool isValidPrefix(const std::string &name);

class WeightsBlob;

/// What the generated code of a model occupies, measured on the object
/// LLVM wrote (docs/cpu-backend.md, "Footprint").
struct Footprint {
  /// The object's executable sections.
  uint64_t codeBytes = 0;
  /// The object's read-only data: the packed parameters (their 64-byte
  /// alignment padding included) and the constant pools, where a tiny
  /// model's straight-line code keeps its weights and every model its
  /// vector constants. With external weights, the size of PREFIX.weights.
  uint64_t weightsBytes = 0;
  /// A bound on the stack PREFIX_run and PREFIX_run_parallel use on the
  /// calling thread (not counting the caller's parallel_for hook), from
  /// the code generator's frame sizes and the module's call graph.
  uint64_t stackBytes = 0;
  /// The same for one work item (one call of a task) on a pool thread.
  uint64_t taskStackBytes = 0;
  /// Why the stack could not be bounded (an unknown callee, a frame of
  /// dynamic size); empty when stackBytes and taskStackBytes hold.
  std::string stackUnknown;
  /// FLOPs per sample as `seqc bench` counts them (bench/ModelCost.h): the
  /// driver fills it in, the backend does not count.
  uint64_t flopsPerSample = 0;
};

/// Generates \p kind for \p model into \p out. Returns false and sets
/// \p error (a message naming what failed) on failure. With
/// opts.externalWeights, \p weights (required; a new, empty blob) receives
/// the contents of PREFIX.weights (WeightsBlob.h). For an object,
/// \p footprint (if given) receives its footprint; the object is the same
/// with or without it.
bool generate(const ir::Model &model, const CpuTargetOptions &opts,
              OutputKind kind, std::string &out, std::string &error,
              WeightsBlob *weights = nullptr, Footprint *footprint = nullptr);

/// Generates an object file for \p model straight into \p fd, an open,
/// seekable file (an AtomicFile's) that \p path names in messages. The
/// object is never held in memory whole, which for large models saves
/// twice its size over generate(). Returns false and sets \p error on
/// failure; \p writeFailed tells a failure to write the file (the
/// environment's) from one to generate the code. \p footprint as for
/// generate().
bool generateObjectFile(const ir::Model &model, const CpuTargetOptions &opts,
                        int fd, const std::string &path, std::string &error,
                        bool &writeFailed, WeightsBlob *weights = nullptr,
                        Footprint *footprint = nullptr);

/// Wraps an object file in a `.a` archive whose member is \p memberName.
bool makeStaticLibrary(const std::string &object, const std::string &memberName,
                       std::string &out, std::string &error);

/// The plain C header that declares the generated symbols and documents the
/// model's shapes, scratch size and error codes. With opts.externalWeights,
/// \p weightsBytes is the size of PREFIX.weights. With \p footprint (the
/// object's, from generate() or generateObjectFile()), it also defines the
/// footprint macros PREFIX_CODE_BYTES, PREFIX_WEIGHTS_BYTES,
/// PREFIX_SCRATCH_BYTES(batch), PREFIX_STACK_BYTES,
/// PREFIX_TASK_STACK_BYTES and PREFIX_FLOPS_PER_SAMPLE.
std::string generateHeader(const ir::Model &model, const CpuTargetOptions &opts,
                           uint64_t weightsBytes = 0,
                           const Footprint *footprint = nullptr);

/// The plan of \p model for the target of \p opts (one per CPU of a list),
/// as text: the stages the code will have, their buffers, work items and
/// blocking (`seqc ir --print-plan`; the format is printPlan's, Plan.h).
/// Returns false and sets \p error when the target cannot be resolved or
/// the model is not in the fused form.
bool describePlan(const ir::Model &model, const CpuTargetOptions &opts,
                  std::string &out, std::string &error);

/// One stage of a plan as data (`seqc view` draws it around its ops).
struct StageSummary {
  StageKind kind = StageKind::Dense;
  size_t firstOp = 0, lastOp = 0;
  /// One or a few lines: `stage 0: dense 64 -> 256, gelu (tiles 12x32)`;
  /// a fused stage names its inner stages.
  std::string label;
};

/// The stages of the plan of \p model for the target of \p opts, and the
/// CPU they are planned for in \p cpuName. For a list of CPUs, the plan of
/// the last, the best one the object carries. Returns false and sets
/// \p error as describePlan does.
bool summarizePlan(const ir::Model &model, const CpuTargetOptions &opts,
                   std::vector<StageSummary> &stages, std::string &cpuName,
                   std::string &error);

/// Bytes of scratch memory the generated code needs for \p batch rows (the
/// same formula PREFIX_scratch_bytes evaluates).
uint64_t scratchBytes(const ir::Model &model, uint64_t batch);

/// That formula as text for 0 < batch <= the largest batch:
/// `64 + 2 * ((batch * 100 * 4 + 63) & ~63)`, or `0`.
std::string scratchFormula(const ir::Model &model);

/// A model compiled in-process with ORC LLJIT.
class JitModel {
public:
  /// JIT-compiles \p model for the host (opts.cpu may narrow the ISA).
  /// Returns nullptr and sets \p error on failure.
  static std::unique_ptr<JitModel> create(const ir::Model &model,
                                          const CpuTargetOptions &opts,
                                          std::string &error);
  ~JitModel();

  size_t scratchBytes(size_t batch) const;
  /// Bytes of the object code the JIT compiled and linked: the machine code
  /// plus the packed weights, about what `seqc compile` writes as PREFIX.o.
  uint64_t objectBytes() const;
  /// External weights: the blob the JIT-compiled code reads (owned by this
  /// object, 64-byte aligned, passed to every call); else null and 0.
  const void *weightsData() const;
  uint64_t weightsBytes() const;
  /// Bytes of the packed weights (embedded or external) and other
  /// constants that are in 2 MiB pages (CpuTargetOptions::hugePages); 0
  /// where the OS declined or it was turned off.
  uint64_t hugePageBytes() const;
  /// Calls PREFIX_run; returns its status.
  int run(const float *input, float *output, size_t batch, void *scratch) const;
  /// Calls PREFIX_run_parallel with the given hook (nullptr = serial).
  int runParallel(const float *input, float *output, size_t batch,
                  void *scratch, ParallelForFn parallelFor, void *pool) const;
  /// The stages PREFIX_run goes through, in order.
  const std::vector<StageInfo> &stages() const;
  /// What the object cache did for this model: Hit (the code was loaded,
  /// not compiled), Miss or Corrupt (compiled, then stored), Disabled.
  ObjectCache::Outcome cacheOutcome() const;
  /// Why the compiled code could not be stored in the cache (a directory
  /// that cannot be created or written); empty when it was or needed not.
  const std::string &cacheNote() const;
  /// Profiling builds (CpuTargetOptions::profile): routes the marks to
  /// \p hook (nullptr: none). Returns false for other builds.
  bool setProfileHook(ProfileHookFn hook, void *user);

private:
  struct Impl;
  explicit JitModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl;
};

} // namespace seqc::codegen::cpu

#endif // SEQC_CODEGEN_CPU_CPUBACKEND_H
