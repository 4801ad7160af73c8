//===- CudaTarget.cpp - seqc emit/compile/run for --target cuda -----------===//
//
// Part of seqc. The driver's side of the CUDA backend: option handling, the
// emit and compile commands, and the executor behind `--backend cuda`.
//
//===----------------------------------------------------------------------===//

#ifdef SEQC_HAVE_CUDA

#include "compiler/codegen/cuda/CudaCodegen.h"
#include "compiler/codegen/cuda/CudaJit.h"
#include "compiler/codegen/cuda/CudaObject.h"
#include "compiler/codegen/cuda/Nvrtc.h"
#include "compiler/driver/Targets.h"
#include "compiler/support/FileIO.h"
#include "runtime/seqc_cuda_runtime.h"

#include <fmt/format.h>

#include <cassert>
#include <cstdio>
#include <cstdlib>

namespace seqc::driver {

namespace {

/// Reads --gpu-arch, --precision, --fast-math and SEQC_CUDA_STRATEGY.
/// \p defaultArch is used when --gpu-arch is absent.
bool cudaOptionsFrom(const DriverOptions &opts, const std::string &defaultArch,
                     cuda::CudaOptions &out, DiagnosticEngine &diag) {
  const std::string archText =
      opts.gpuArch.empty() ? defaultArch : opts.gpuArch;
  std::optional<cuda::GpuArch> arch = cuda::parseGpuArch(archText);
  if (!arch) {
    diag.error(fmt::format("unknown --gpu-arch '{}' (expected sm_80, sm_86, "
                           "sm_89, sm_90, ...)",
                           archText));
    return false;
  }
  out.arch = *arch;
  Precision precision = opts.precision.value_or(Precision::F32);
  std::optional<cuda::Precision> onCuda =
      cuda::parsePrecision(codegen::precisionName(precision));
  if (!onCuda) {
    diag.error(fmt::format("--precision {} is not supported by the CUDA "
                           "backend (f32, bf16 or f16)",
                           spelling(precision)));
    return false;
  }
  out.precision = *onCuda;
  out.fastMath = opts.fastMath;
  out.strategy = cuda::Strategy::Auto;
  if (const char *s = std::getenv("SEQC_CUDA_STRATEGY"); s && *s) {
    std::string value = s;
    if (value == "fused")
      out.strategy = cuda::Strategy::Fused;
    else if (value == "layered")
      out.strategy = cuda::Strategy::Layered;
    else if (value != "auto") {
      diag.error(fmt::format("SEQC_CUDA_STRATEGY is '{}'; expected auto, "
                             "fused or layered",
                             value));
      return false;
    }
  }
  return true;
}

/// Emits and (when \p compile) NVRTC-compiles \p model.
bool buildCuda(const ir::Model &model, const cuda::CudaOptions &options,
               bool compile, const std::string &cacheDir,
               cuda::CudaProgram &program, cuda::NvrtcOutput &compiled,
               DiagnosticEngine &diag) {
  std::string error;
  if (!cuda::emitCudaProgram(model, options, program, error)) {
    diag.error(fmt::format("cannot generate CUDA for model '{}': {}",
                           model.name, error));
    return false;
  }
  if (!compile)
    return true;
  cuda::NvrtcOptions nvrtc;
  nvrtc.arch = options.arch;
  nvrtc.fastMath = options.fastMath;
  nvrtc.cacheDir = cacheDir;
  nvrtc.sourceName = model.name + ".cu";
  if (!cuda::compileCuda(program.source, nvrtc, compiled, error)) {
    diag.environmentError(error);
    return false;
  }
  return true;
}

std::string baseName(const std::string &path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

class CudaExecutor : public Executor {
public:
  explicit CudaExecutor(std::unique_ptr<cuda::CudaJitModel> model)
      : model(std::move(model)) {}

  bool run(const float *input, float *output, uint64_t batch,
           DiagnosticEngine &diag) override {
    if (model->runHost(input, output, batch) != SEQC_CUDA_OK) {
      diag.environmentError(fmt::format("CUDA: {}", seqc_cuda_last_error()));
      return false;
    }
    return true;
  }

  /// The CUBIN loaded plus the packed parameters copied to the device.
  uint64_t artifactBytes() const override {
    return model->cubinBytes() + model->program().params.size();
  }

private:
  std::unique_ptr<cuda::CudaJitModel> model;
};

} // namespace

int emitCuda(const ir::Model &fused, const DriverOptions &opts,
             DiagnosticEngine &diag) {
  EmitFormat format = opts.format.value_or(EmitFormat::Cuda);
  assert(targetOf(format) == Target::Cuda && "the parser checks --format");
  cuda::CudaOptions options;
  if (!cudaOptionsFrom(opts, "sm_80", options, diag))
    return 1;
  cuda::CudaProgram program;
  cuda::NvrtcOutput compiled;
  bool ptx = format == EmitFormat::Ptx;
  if (!buildCuda(fused, options, ptx, "", program, compiled, diag))
    return 1;
  return writeOutput(opts, ptx ? compiled.ptx : program.source, diag);
}

int printCudaPlan(const ir::Model &fused, const DriverOptions &opts,
                  DiagnosticEngine &diag) {
  cuda::CudaOptions options;
  if (!cudaOptionsFrom(opts, "sm_80", options, diag))
    return 1;
  cuda::CudaPlan plan;
  std::string error;
  if (!cuda::planCudaProgram(fused, options, plan, error)) {
    diag.error(error);
    return 1;
  }
  fmt::print("{}", plan.str());
  return 0;
}

namespace {

/// `seqc_l0_gemm (tiled GEMM, batch >= 9)`: a kernel and when it runs.
std::string kernelText(const cuda::PlannedKernel &kernel) {
  std::string batches;
  if (kernel.minBatch > 0 && kernel.maxBatch != UINT64_MAX)
    batches = fmt::format(", batch {}-{}", kernel.minBatch, kernel.maxBatch);
  else if (kernel.minBatch > 0)
    batches = fmt::format(", batch >= {}", kernel.minBatch);
  else if (kernel.maxBatch != UINT64_MAX)
    batches = fmt::format(", batch <= {}", kernel.maxBatch);
  return fmt::format("{} ({}{})", kernel.name,
                     cuda::kernelKindName(kernel.kind), batches);
}

/// The kernels of \p indices, one per line.
std::string kernelLines(const cuda::CudaPlan &plan,
                        const std::vector<size_t> &indices) {
  std::vector<std::string> lines;
  for (size_t k : indices)
    lines.push_back(kernelText(plan.kernels[k]));
  return fmt::format("{}", fmt::join(lines, "\n"));
}

} // namespace

bool cudaViewGroups(const ir::Model &fused, const DriverOptions &opts,
                    std::vector<view::Group> &groups, view::ViewTarget &target,
                    DiagnosticEngine &diag) {
  cuda::CudaOptions options;
  if (!cudaOptionsFrom(opts, "sm_80", options, diag))
    return false;
  cuda::CudaPlan plan;
  std::string error;
  if (!cuda::planCudaProgram(fused, options, plan, error)) {
    diag.error(error);
    return false;
  }
  groups.clear();
  if (plan.strategy == cuda::Strategy::Fused) {
    // Every kernel of the fused strategy runs the whole network.
    std::vector<size_t> kernels(plan.kernels.size()), ops(fused.ops.size());
    for (size_t k = 0; k < kernels.size(); ++k)
      kernels[k] = k;
    for (size_t i = 0; i < ops.size(); ++i)
      ops[i] = i;
    groups.push_back({kernelLines(plan, kernels), ops});
  }
  for (size_t si = 0; si < plan.steps.size(); ++si) {
    const cuda::LayeredStep &step = plan.steps[si];
    if (step.stages.empty()) // the copy of a model that is the identity
      continue;
    // The in-place softmax after a Dense layer belongs to its group.
    if (step.kind == cuda::StepKind::InPlaceRowNorm && !groups.empty()) {
      groups.back().label += "\n" + kernelLines(plan, step.kernels);
      continue;
    }
    groups.push_back({fmt::format("step {}: {}", groups.size(),
                                  kernelLines(plan, step.kernels)),
                      step.stages});
  }
  target.description =
      fmt::format("cuda {}, {}, {} strategy", plan.arch.smName(),
                  spelling(cuda::commonPrecision(plan.precision)),
                  cuda::strategyName(plan.strategy));
  target.linearWeightBytes = plan.precision == cuda::Precision::F32 ? 4 : 2;
  return true;
}

int compileCuda(const ir::Model &fused, const DriverOptions &opts,
                DiagnosticEngine &diag) {
  if (opts.staticLib) {
    diag.error("--static-lib is not supported with --target cuda; link "
               "PREFIX.o with libseqc_runtime.a");
    return 1;
  }
  std::string base = opts.output;
  for (const char *ext : {".o", ".h"})
    if (base.size() > 2 && base.compare(base.size() - 2, 2, ext) == 0)
      base.resize(base.size() - 2);
  const std::string prefix = opts.name.empty() ? baseName(base) : opts.name;
  if (!cuda::isValidPrefix(prefix)) {
    diag.error(fmt::format("'{}' cannot prefix C symbols; name the model "
                           "with --name IDENTIFIER",
                           prefix));
    return 1;
  }
  cuda::CudaOptions options;
  if (!cudaOptionsFrom(opts, "sm_80", options, diag))
    return 1;
  cuda::CudaProgram program;
  cuda::NvrtcOutput compiled;
  if (!buildCuda(fused, options, true, "", program, compiled, diag))
    return 1;
  std::string error;
  if (!cuda::writeCudaArtifacts(program, compiled, base, prefix, error)) {
    diag.error(error);
    return 2;
  }
  return 0;
}

std::unique_ptr<Executor> createCudaExecutor(const ir::Model &fused,
                                             const DriverOptions &opts,
                                             DiagnosticEngine &diag) {
  // Fail fast (before compiling) without a GPU, and compile for the GPU at
  // hand unless --gpu-arch says otherwise.
  int arch = 0;
  if (seqc_cuda_device_arch(0, &arch) != SEQC_CUDA_OK) {
    diag.environmentError(fmt::format("CUDA: {}", seqc_cuda_last_error()));
    return nullptr;
  }
  cuda::CudaOptions options;
  if (!cudaOptionsFrom(opts, fmt::format("sm_{}", arch), options, diag))
    return nullptr;
  cuda::CudaProgram program;
  cuda::NvrtcOutput compiled;
  if (!buildCuda(fused, options, true, cuda::defaultCudaCacheDir(), program,
                 compiled, diag))
    return nullptr;
  std::string error;
  std::unique_ptr<cuda::CudaJitModel> model = cuda::CudaJitModel::create(
      std::move(program), std::move(compiled), 0, error);
  if (!model) {
    diag.environmentError(fmt::format("CUDA: {}", error));
    return nullptr;
  }
  return std::make_unique<CudaExecutor>(std::move(model));
}

} // namespace seqc::driver

#endif // SEQC_HAVE_CUDA
