//===- CpuTarget.cpp - seqc emit/compile/run for --target cpu -------------===//
//
// Part of seqc. The driver's side of the LLVM CPU backend: option handling,
// `seqc emit --target cpu`, `seqc compile --target cpu` (PREFIX.h, PREFIX.o
// and optionally PREFIX.a and PREFIX.weights, written atomically) and the JIT
// executor behind `seqc run --backend cpu`, which uses the runtime's thread
// pool for --threads N.
//
//===----------------------------------------------------------------------===//

#ifdef SEQC_HAVE_LLVM

#include "compiler/bench/ModelCost.h"
#include "compiler/codegen/common/Precision.h"
#include "compiler/codegen/common/WeightPacking.h"
#include "compiler/codegen/cpu/CpuBackend.h"
#include "compiler/codegen/cpu/WeightsBlob.h"
#include "compiler/driver/Targets.h"
#include "compiler/support/FileIO.h"
#include "compiler/support/ObjectCache.h"
#include "runtime/ThreadPool.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace seqc::driver {

namespace {

namespace cpu = seqc::codegen::cpu;

std::string fileName(const std::string &path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

cpu::CpuTargetOptions targetOptions(const DriverOptions &opts,
                                    const std::string &prefix) {
  cpu::CpuTargetOptions t;
  t.cpu = opts.cpu;
  t.triple = opts.targetTriple;
  t.prefix = prefix;
  t.fastMath = opts.fastMath;
  t.precision = opts.precision.value_or(Precision::F32);
  t.externalWeights = opts.externalWeights;
  // Only worth its one-off cost over many calls: `seqc bench`.
  t.hugePages = opts.hugePages && opts.command == Command::Bench;
  // The JIT's object cache (docs/cache.md); emit and compile never read it.
  if (opts.cache && opts.command == Command::Run) {
    t.cacheDir = ObjectCache::defaultDirectory();
    t.cacheMaxBytes = ObjectCache::defaultMaxBytes();
  } else if (opts.cache && opts.command == Command::Bench) {
    t.cacheDir = opts.benchCacheDir;
  }
  return t;
}

/// The object cache's one note: why it could not store the code (the run
/// goes on without it). With SEQC_CACHE_VERBOSE=1, also whether it hit.
void reportCache(const cpu::JitModel &jit, const cpu::CpuTargetOptions &target,
                 DiagnosticEngine &diag) {
  if (!jit.cacheNote().empty())
    diag.report(Severity::Note,
                jit.cacheNote() + "; the code was compiled but not cached");
  const char *verbose = std::getenv("SEQC_CACHE_VERBOSE");
  if (verbose && std::string_view(verbose) == "1")
    diag.report(Severity::Note,
                fmt::format("compile cache {} ({})",
                            outcomeName(jit.cacheOutcome()),
                            target.cacheDir.empty() ? "no directory"
                                                    : target.cacheDir));
}

/// True (after reporting) when \p path is one of the command's inputs.
bool isInputFile(const DriverOptions &opts, const std::string &path,
                 DiagnosticEngine &diag) {
  std::vector<std::string> inputs = opts.positional;
  if (opts.weights)
    inputs.push_back(*opts.weights);
  for (const std::string &in : inputs)
    if (isSameFile(path, in)) {
      diag.error(
          fmt::format("refusing to overwrite the input file '{}'", path));
      return true;
    }
  return false;
}

/// The CPU backend computes in f32, bf16, int8 or int8w; f16 is CUDA's.
bool precisionOnCpu(const DriverOptions &opts, DiagnosticEngine &diag) {
  if (!opts.precision || *opts.precision != Precision::F16)
    return true;
  diag.error("--precision f16 is not supported by the CPU backend (f32, "
             "bf16, int8 or int8w)");
  return false;
}

bench::StageKind stageKind(cpu::StageKind kind) {
  switch (kind) {
  case cpu::StageKind::Dense:
    return bench::StageKind::Dense;
  case cpu::StageKind::RowOp:
    return bench::StageKind::RowOp;
  case cpu::StageKind::RowNorm:
    return bench::StageKind::RowNorm;
  case cpu::StageKind::Fused:
    return bench::StageKind::Fused;
  case cpu::StageKind::Tiny:
    break;
  }
  return bench::StageKind::Tiny;
}

class CpuExecutor : public Executor {
public:
  CpuExecutor(std::unique_ptr<cpu::JitModel> jit, seqc_thread_pool *pool)
      : jit(std::move(jit)), pool(pool) {
    size_t stages = this->jit->stages().size();
    if (this->jit->setProfileHook(&CpuExecutor::mark, this)) {
      stamps.resize(stages + 1);
      stageSeconds.assign(stages, 0.0);
      clockSeconds = clockReadSeconds();
    }
  }
  ~CpuExecutor() override { seqc_thread_pool_destroy(pool); }

  uint64_t artifactBytes() const override {
    // With external weights, the code plus PREFIX.weights.
    return jit->objectBytes() + jit->weightsBytes();
  }

  bool fromCache() const override {
    return jit->cacheOutcome() == ObjectCache::Outcome::Hit;
  }
  std::optional<uint64_t> hugePageBytes() const override {
    return jit->hugePageBytes();
  }

  std::vector<bench::ProfiledStage> profiledStages() const override {
    std::vector<bench::ProfiledStage> out;
    if (stamps.empty())
      return out;
    for (const cpu::StageInfo &info : jit->stages()) {
      bench::ProfiledStage stage;
      stage.kind = stageKind(info.kind);
      stage.firstOp = info.firstOp;
      stage.lastOp = info.lastOp;
      out.push_back(std::move(stage));
    }
    return out;
  }

  std::vector<double> takeStageSeconds() override {
    std::vector<double> out = stageSeconds;
    std::fill(stageSeconds.begin(), stageSeconds.end(), 0.0);
    return out;
  }

  bool run(const float *input, float *output, uint64_t batch,
           DiagnosticEngine &diag) override {
    // Sized once per batch size, as an app would (repeated runs of one
    // batch, as in `seqc bench`, then cost nothing but the model).
    if (batch != scratchBatch) {
      size_t bytes = jit->scratchBytes(batch);
      if (bytes == SIZE_MAX) {
        diag.error(fmt::format("batch of {} rows is too large", batch));
        return false;
      }
      if (scratch.size() < bytes)
        scratch.resize(bytes);
      scratchBatch = batch;
    }
    int status = pool ? jit->runParallel(input, output, batch, scratch.data(),
                                         seqc_parallel_for, pool)
                      : jit->run(input, output, batch, scratch.data());
    if (status != cpu::kRunOk) {
      diag.error(
          fmt::format("the compiled model failed with status {}", status));
      return false;
    }
    // Batch 0 returns before the first mark.
    for (size_t i = 0; batch > 0 && i < stageSeconds.size(); ++i)
      stageSeconds[i] += std::max(
          0.0,
          std::chrono::duration<double>(stamps[i + 1] - stamps[i]).count() -
              clockSeconds);
    return true;
  }

private:
  using Clock = std::chrono::steady_clock;
  /// The profile hook: the generated code calls it on the running thread
  /// before its first stage (mark 0) and after stage i (mark i + 1).
  static void mark(void *self, uint32_t mark) {
    auto *executor = static_cast<CpuExecutor *>(self);
    assert(mark < executor->stamps.size() && "mark beyond the last stage");
    executor->stamps[mark] = Clock::now();
  }

  /// The least time between two back-to-back clock reads: what an interval
  /// between two marks holds besides the stage, subtracted from each.
  static double clockReadSeconds() {
    Clock::duration least = Clock::duration::max();
    for (int i = 0; i < 1000; ++i) {
      Clock::time_point a = Clock::now();
      Clock::time_point b = Clock::now();
      least = std::min(least, b - a);
    }
    return std::chrono::duration<double>(least).count();
  }

  std::unique_ptr<cpu::JitModel> jit;
  seqc_thread_pool *pool;
  /// Profiling builds: the marks of the last run, and each stage's seconds
  /// summed since takeStageSeconds; both empty otherwise.
  std::vector<Clock::time_point> stamps;
  std::vector<double> stageSeconds;
  double clockSeconds = 0.0;
  std::vector<unsigned char> scratch;
  uint64_t scratchBatch = ~uint64_t(0);
};

} // namespace

int emitCpu(const ir::Model &fused, const DriverOptions &opts,
            DiagnosticEngine &diag) {
  EmitFormat format = opts.format.value_or(EmitFormat::Llvm);
  assert(targetOf(format) == Target::Cpu && "the parser checks --format");
  if (!precisionOnCpu(opts, diag))
    return 1;
  std::string prefix = opts.name.empty() ? fused.name : opts.name;
  if (!cpu::isValidPrefix(prefix)) {
    if (!opts.name.empty()) {
      diag.error(fmt::format("'{}' cannot prefix C symbols; use --name "
                             "IDENTIFIER",
                             prefix));
      return 1;
    }
    prefix = "model";
  }
  std::string text, error;
  cpu::WeightsBlob weights;
  if (!cpu::generate(fused, targetOptions(opts, prefix),
                     format == EmitFormat::Asm ? cpu::OutputKind::Assembly
                                               : cpu::OutputKind::LLVMIR,
                     text, error, opts.externalWeights ? &weights : nullptr)) {
    diag.error(error);
    return 1;
  }
  if (opts.output.empty() || opts.output == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }
  if (isInputFile(opts, opts.output, diag))
    return 1;
  if (!writeFileAtomic(opts.output, text, error)) {
    diag.error(error);
    return 2;
  }
  return 0;
}

int printCpuPlan(const ir::Model &fused, const DriverOptions &opts,
                 DiagnosticEngine &diag) {
  if (!precisionOnCpu(opts, diag))
    return 1;
  std::string text, error;
  if (!cpu::describePlan(fused, targetOptions(opts, "model"), text, error)) {
    diag.error(error);
    return 1;
  }
  fmt::print("{}", text);
  return 0;
}

bool cpuViewGroups(const ir::Model &fused, const DriverOptions &opts,
                   std::vector<view::Group> &groups, view::ViewTarget &target,
                   DiagnosticEngine &diag) {
  if (!precisionOnCpu(opts, diag))
    return false;
  std::vector<cpu::StageSummary> stages;
  std::string cpuName, error;
  if (!cpu::summarizePlan(fused, targetOptions(opts, "model"), stages, cpuName,
                          error)) {
    diag.error(error);
    return false;
  }
  groups.clear();
  for (const cpu::StageSummary &stage : stages) {
    view::Group group{stage.label, {}};
    for (size_t op = stage.firstOp; op <= stage.lastOp; ++op)
      group.fusedOps.push_back(op);
    groups.push_back(std::move(group));
  }
  Precision precision = opts.precision.value_or(Precision::F32);
  target.description = fmt::format(
      "cpu {}{}, {}, {} stage{}", cpuName,
      opts.targetTriple.empty() ? "" : " (" + opts.targetTriple + ")",
      spelling(precision), stages.size(), stages.size() == 1 ? "" : "s");
  target.linearWeightBytes =
      codegen::elementBytes(codegen::weightElement(precision));
  return true;
}

namespace {

/// The footprint in one line (`seqc compile` and `seqc check`).
std::string footprintText(const ir::Model &fused,
                          const cpu::Footprint &footprint) {
  std::string stack =
      footprint.stackUnknown.empty()
          ? fmt::format("stack {} bytes (work item {})", footprint.stackBytes,
                        footprint.taskStackBytes)
          : fmt::format("stack unknown ({})", footprint.stackUnknown);
  return fmt::format("code {} bytes, weights {} bytes, scratch {} bytes, {}, "
                     "{} FLOPs/sample",
                     footprint.codeBytes, footprint.weightsBytes,
                     cpu::scratchFormula(fused), stack,
                     footprint.flopsPerSample);
}

} // namespace

bool cpuFootprintLine(const ir::Model &fused, const DriverOptions &opts,
                      std::string &line, DiagnosticEngine &diag) {
  if (!precisionOnCpu(opts, diag))
    return false;
  cpu::CpuTargetOptions target = targetOptions(
      opts, cpu::isValidPrefix(fused.name) ? fused.name : "model");
  std::string object, error;
  cpu::WeightsBlob weights;
  cpu::Footprint footprint;
  if (!cpu::generate(fused, target, cpu::OutputKind::Object, object, error,
                     opts.externalWeights ? &weights : nullptr, &footprint)) {
    diag.error(error);
    return false;
  }
  footprint.flopsPerSample = bench::flopsPerSample(fused);
  line =
      fmt::format("(cpu {}{}, {}) {}", opts.cpu.empty() ? "native" : opts.cpu,
                  opts.targetTriple.empty() ? "" : " " + opts.targetTriple,
                  spelling(target.precision), footprintText(fused, footprint));
  return true;
}

int compileCpu(const ir::Model &fused, const DriverOptions &opts,
               DiagnosticEngine &diag) {
  if (!precisionOnCpu(opts, diag))
    return 1;
  std::string base = opts.output;
  for (const char *ext : {".o", ".h", ".a"})
    if (base.size() > 2 && base.compare(base.size() - 2, 2, ext) == 0)
      base.resize(base.size() - 2);
  const std::string prefix = opts.name.empty() ? fileName(base) : opts.name;
  if (!cpu::isValidPrefix(prefix)) {
    diag.error(fmt::format("'{}' cannot prefix C symbols; name the model with "
                           "--name IDENTIFIER",
                           prefix));
    return 1;
  }
  std::vector<std::string> paths = {base + ".o", base + ".h"};
  if (opts.staticLib)
    paths.push_back(base + ".a");
  if (opts.externalWeights)
    paths.push_back(base + ".weights");
  for (const std::string &path : paths)
    if (isInputFile(opts, path, diag))
      return 1;
  cpu::CpuTargetOptions target = targetOptions(opts, prefix);
  std::string object, error;
  cpu::WeightsBlob weights;
  cpu::WeightsBlob *blob = opts.externalWeights ? &weights : nullptr;
  // The object goes straight to its file, except when the archive needs it
  // in memory too.
  AtomicFile objectFile;
  cpu::Footprint footprint;
  if (!opts.staticLib) {
    bool writeFailed = false;
    if (!objectFile.open(base + ".o", error) ||
        !cpu::generateObjectFile(fused, target, objectFile.fd(), base + ".o",
                                 error, writeFailed, blob, &footprint)) {
      diag.error(error);
      return objectFile.fd() < 0 || writeFailed ? 2 : 1;
    }
  } else if (!cpu::generate(fused, target, cpu::OutputKind::Object, object,
                            error, blob, &footprint)) {
    diag.error(error);
    return 1;
  }
  // Written after the object: its footprint macros are the object's.
  footprint.flopsPerSample = bench::flopsPerSample(fused);
  std::string header =
      cpu::generateHeader(fused, target, weights.size(), &footprint);
  std::string archive;
  if (opts.staticLib &&
      !cpu::makeStaticLibrary(object, fileName(base) + ".o", archive, error)) {
    diag.error(error);
    return 2;
  }
  if ((opts.staticLib ? !writeFileAtomic(base + ".o", object, error)
                      : !objectFile.commit(error)) ||
      !writeFileAtomic(base + ".h", header, error) ||
      (opts.staticLib && !writeFileAtomic(base + ".a", archive, error)) ||
      (opts.externalWeights &&
       !writeFileAtomic(base + ".weights", weights.pieces(), error))) {
    diag.error(error);
    return 2;
  }
  fmt::print("{}.o: {}\n", base, footprintText(fused, footprint));
  return 0;
}

std::unique_ptr<Executor> createCpuExecutor(const ir::Model &fused,
                                            const DriverOptions &opts,
                                            DiagnosticEngine &diag,
                                            bool profile) {
  if (!precisionOnCpu(opts, diag))
    return nullptr;
  std::string error;
  cpu::CpuTargetOptions target = targetOptions(opts, "seqc_model");
  target.profile = profile;
  std::unique_ptr<cpu::JitModel> jit =
      cpu::JitModel::create(fused, target, error);
  if (!jit) {
    diag.error(error);
    return nullptr;
  }
  reportCache(*jit, target, diag);
  seqc_thread_pool *pool = nullptr;
  if (opts.threads > 1) {
    pool = seqc_thread_pool_create(opts.threads);
    if (!pool) {
      diag.error(fmt::format("cannot start {} threads", opts.threads));
      return nullptr;
    }
  }
  return std::make_unique<CpuExecutor>(std::move(jit), pool);
}

} // namespace seqc::driver

#endif // SEQC_HAVE_LLVM
