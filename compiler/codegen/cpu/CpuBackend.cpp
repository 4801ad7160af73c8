//===- CpuBackend.cpp - Target machines, optimisation, AOT and JIT --------===//
//
// Part of seqc. Resolves --cpu/--target-triple into an LLVM TargetMachine
// and the kernel shape it implies (KernelConfig), builds and optimises the
// model's module (LLVM's O3 pipeline, new pass manager), and turns it into
// text, an object, an archive or JIT code; or prints its plan.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cpu/CpuBackend.h"
#include "compiler/codegen/cpu/Internal.h"
#include "compiler/codegen/cpu/JitCache.h"
#include "compiler/ir/Printer.h"
#include "compiler/ir/Verifier.h"
#include "compiler/support/HugePages.h"

#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/ExecutionEngine/Orc/ObjectLinkingLayer.h"
#include "llvm/ExecutionEngine/Orc/ObjectTransformLayer.h"
#include "llvm/ExecutionEngine/Orc/ThreadSafeModule.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Verifier.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Object/ArchiveWriter.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstdlib>
#include <cstring>
#include <mutex>

using namespace llvm;

namespace seqc::codegen::cpu {

KernelConfig kernelConfigFor(const TargetMachine &tm) {
  KernelConfig cfg;
  const Triple &triple = tm.getTargetTriple();
  const MCSubtargetInfo *sti = tm.getMCSubtargetInfo();
  cfg.cpu = tm.getTargetCPU().str();
  cfg.features = tm.getTargetFeatureString().str();
  if (triple.isX86()) {
    if (sti->checkFeatures("+avx512f")) {
      cfg.vectorWidth = 16;
      cfg.vectorRegs = 32;
      cfg.wideVectors = true;
      cfg.int8Dot = sti->checkFeatures("+avx512vnni") ? Int8Dot::Quads
                    : sti->checkFeatures("+avx512bw") ? Int8Dot::Pairs
                                                      : Int8Dot::Widen;
    } else if (sti->checkFeatures("+avx")) {
      cfg.vectorWidth = 8;
      cfg.vectorRegs = 16;
      // 256-bit pmaddwd is AVX2's; AVX alone has no 256-bit integer ops.
      if (sti->checkFeatures("+avx2"))
        cfg.int8Dot = Int8Dot::Pairs;
    } else {
      cfg.vectorWidth = 4;
      cfg.vectorRegs = 16;
      cfg.int8Dot = Int8Dot::Pairs; // SSE2's pmaddwd
    }
  } else if (triple.isAArch64()) {
    cfg.vectorWidth = 4;
    cfg.vectorRegs = 32;
  } else {
    cfg.vectorWidth = 4;
    cfg.vectorRegs = 16;
  }
  cfg.maxNrVecs = 2;
  cfg.maxMr = kMaxTileRows;
  return cfg;
}

namespace {

void initializeLLVM() {
  static std::once_flag once;
  std::call_once(once, [] {
    InitializeAllTargetInfos();
    InitializeAllTargets();
    InitializeAllTargetMCs();
    InitializeAllAsmPrinters();
    InitializeAllAsmParsers();
  });
}

struct ResolvedTarget {
  std::string triple;
  std::string cpu;
  std::vector<std::string> features;
  const Target *target = nullptr;

  std::string featureString() const {
    SubtargetFeatures f;
    for (const std::string &s : features)
      f.AddFeature(s);
    return f.getString();
  }
};

bool resolveTarget(const CpuTargetOptions &opts, ResolvedTarget &out,
                   std::string &error) {
  initializeLLVM();
  std::string host = sys::getProcessTriple();
  out.triple = opts.triple.empty() ? host : Triple::normalize(opts.triple);
  Triple triple(out.triple);
  bool isHost = triple.getArch() == Triple(host).getArch() &&
                triple.getOS() == Triple(host).getOS();
  std::string lookupError;
  out.target = TargetRegistry::lookupTarget(out.triple, lookupError);
  if (!out.target) {
    error = fmt::format("unsupported target triple '{}': {}", opts.triple,
                        lookupError);
    return false;
  }
  if (opts.cpu.empty() || opts.cpu == "native") {
    if (isHost) {
      out.cpu = sys::getHostCPUName().str();
      for (const auto &feature : sys::getHostCPUFeatures())
        out.features.push_back((feature.second ? "+" : "-") +
                               feature.first().str());
    } else {
      out.cpu = "generic";
    }
  } else {
    out.cpu = opts.cpu;
  }
  std::unique_ptr<MCSubtargetInfo> sti(
      out.target->createMCSubtargetInfo(out.triple, "", ""));
  if (!sti || !sti->isCPUStringValid(out.cpu)) {
    error = fmt::format("unknown CPU '{}' for target '{}' (try native, "
                        "x86-64-v2, x86-64-v3, x86-64-v4 or an LLVM CPU name)",
                        opts.cpu, out.triple);
    return false;
  }
  return true;
}

std::unique_ptr<TargetMachine> createTargetMachine(const ResolvedTarget &rt) {
  TargetOptions options;
  return std::unique_ptr<TargetMachine>(rt.target->createTargetMachine(
      rt.triple, rt.cpu, rt.featureString(), options, Reloc::PIC_, std::nullopt,
      CodeGenOptLevel::Aggressive));
}

/// Checks what the emitter relies on: a linear chain of fused ops with
/// bound weights.
bool checkModel(const ir::Model &model, std::string &error) {
  if (model.values.empty() || !model.inputType().isKnown()) {
    error = "the model has no typed input";
    return false;
  }
  if (std::string unfused = ir::verifyFusedForm(model); !unfused.empty()) {
    error = "internal error: " + unfused + " (run canonicalize and fuse first)";
    return false;
  }
  for (size_t i = 0; i < model.ops.size(); ++i) {
    const ir::Op &op = model.ops[i];
    int32_t expectIn = i == 0 ? model.inputValue() : model.ops[i - 1].result;
    if (op.input != expectIn || op.result < 0 ||
        static_cast<size_t>(op.result) >= model.values.size()) {
      error = fmt::format("op {} does not continue the chain", i);
      return false;
    }
    for (ir::ParamId id : {op.weight, op.bias})
      if (id != ir::kNoParam &&
          (static_cast<size_t>(id) >= model.params.size() ||
           !model.params[id].isBound())) {
        error = fmt::format("op {} ({}) has an unbound parameter", i,
                            ir::opName(op.kind));
        return false;
      }
    bool needsWeight =
        op.kind == ir::OpKind::Dense || op.kind == ir::OpKind::Affine;
    if (needsWeight && op.weight == ir::kNoParam) {
      error = fmt::format("op {} ({}) has no weight", i, ir::opName(op.kind));
      return false;
    }
  }
  return true;
}

void optimizeModule(Module &mod, TargetMachine &tm) {
  LoopAnalysisManager lam;
  FunctionAnalysisManager fam;
  CGSCCAnalysisManager cgam;
  ModuleAnalysisManager mam;
  PassBuilder pb(&tm);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  ModulePassManager mpm =
      pb.buildPerModuleDefaultPipeline(OptimizationLevel::O3);
  mpm.run(mod, mam);
}

/// Splits a --cpu list ("x86-64-v3,x86-64-v4").
std::vector<std::string> splitCpus(const std::string &text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos)
      comma = text.size();
    out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

/// The target machines of a model: one, or one per variant of a CPU list.
struct Targets {
  ResolvedTarget primary;
  std::unique_ptr<TargetMachine> tm;
  std::vector<std::unique_ptr<TargetMachine>> variants;
};

bool createTargets(const CpuTargetOptions &opts, Targets &out,
                   std::string &error) {
  std::vector<std::string> cpus = splitCpus(opts.cpu);
  if (cpus.size() > 1) {
    for (const std::string &cpu : cpus) {
      CpuTargetOptions one = opts;
      one.cpu = cpu;
      ResolvedTarget rt;
      if (cpu.empty() || cpu == "native") {
        error = fmt::format("--cpu {}: a CPU list must name each CPU "
                            "(e.g. x86-64-v3,x86-64-v4)",
                            opts.cpu);
        return false;
      }
      if (!resolveTarget(one, rt, error))
        return false;
      if (Triple(rt.triple).getArch() != Triple::x86_64) {
        error = fmt::format("--cpu {}: CPU lists (multiversioning) are "
                            "supported for x86-64 only, not '{}'",
                            opts.cpu, rt.triple);
        return false;
      }
      out.variants.push_back(createTargetMachine(rt));
      if (out.variants.size() == 1)
        out.primary = rt;
    }
  } else if (!resolveTarget(opts, out.primary, error)) {
    return false;
  }
  out.tm = createTargetMachine(out.primary);
  if (!out.tm) {
    error = fmt::format("cannot create a target machine for '{}'",
                        out.primary.triple);
    return false;
  }
  return true;
}

/// Whether the CPU backend computes \p model in \p precision: not in f16
/// (CUDA's), and in int8 not a layer wider than its kernels take.
bool checkPrecision(const ir::Model &model, Precision precision,
                    std::string &error) {
  if (precision == Precision::F16) {
    error = "--precision f16: the CPU backend computes in f32, bf16, int8 "
            "and int8w (f16 is the CUDA backend's)";
    return false;
  }
  if (precision == Precision::Int8)
    for (const ir::Op &op : model.ops)
      if (op.kind == ir::OpKind::Dense &&
          uint64_t(op.inFeatures) > kInt8MaxInputs) {
        // A work item quantises a tile's rows at least on the stack.
        error = fmt::format("--precision int8: a Dense layer has {} inputs, "
                            "more than the {} the int8 kernels take (int8w "
                            "and bf16 take any)",
                            op.inFeatures, kInt8MaxInputs);
        return false;
      }
  return true;
}

/// Builds and optimises the module for \p model; \p stages (if given)
/// receives the stages of PREFIX_run.
std::unique_ptr<Module> buildModule(const ir::Model &model,
                                    const CpuTargetOptions &opts,
                                    Targets &targets, LLVMContext &ctx,
                                    std::string &error,
                                    std::vector<StageInfo> *stages = nullptr,
                                    WeightsBlob *blob = nullptr) {
  if (!isValidPrefix(opts.prefix)) {
    error = fmt::format(
        "'{}' is not a valid C identifier for the symbol prefix", opts.prefix);
    return nullptr;
  }
  if (!checkModel(model, error))
    return nullptr;
  if (!checkPrecision(model, opts.precision, error))
    return nullptr;
  TargetMachine &tm = *targets.tm;
  if (blob && tm.createDataLayout().isBigEndian() != sys::IsBigEndianHost) {
    error = fmt::format("external weights need a target with this host's "
                        "byte order, not '{}'",
                        targets.primary.triple);
    return nullptr;
  }
  auto mod = std::make_unique<Module>(opts.prefix, ctx);
  mod->setTargetTriple(tm.getTargetTriple().str());
  mod->setDataLayout(tm.createDataLayout());
  // What the code depends on besides the arrays' layout: the model (its
  // IR, which names and shapes its parameters but holds no values) and
  // the target.
  std::string identity =
      fmt::format("seqc weights v1\n{}triple {}\n", ir::printModel(model),
                  tm.getTargetTriple().str());
  if (opts.precision != Precision::F32)
    identity += fmt::format("precision {}\n", precisionName(opts.precision));
  if (targets.variants.empty()) {
    KernelConfig cfg = kernelConfigFor(tm);
    cfg.fastMath = opts.fastMath;
    cfg.precision = opts.precision;
    identity += fmt::format("cpu {} {}\n", cfg.cpu, cfg.features);
    std::vector<StageInfo> infos =
        emitModel(*mod, model, opts.prefix, cfg, true, opts.profile, blob);
    if (stages)
      *stages = std::move(infos);
  } else {
    if (opts.profile) {
      error = "a profiling build needs a single CPU, not a --cpu list";
      return nullptr;
    }
    std::vector<CpuVariant> variants;
    for (size_t i = 0; i < targets.variants.size(); ++i) {
      const TargetMachine &vtm = *targets.variants[i];
      CpuVariant v;
      v.symbolPrefix = fmt::format("{}.v{}", opts.prefix, i);
      // AVX512_VNNI only int8's kernels use, so only they check it (the
      // resolvers of other precisions stay as they were).
      for (const std::string &f : dispatchableX86Features())
        if (vtm.getMCSubtargetInfo()->checkFeatures("+" + f) &&
            (f != "avx512vnni" || opts.precision == Precision::Int8))
          v.features.push_back(f);
      KernelConfig cfg = kernelConfigFor(vtm);
      cfg.fastMath = opts.fastMath;
      cfg.precision = opts.precision;
      identity += fmt::format("cpu {} {}\n", cfg.cpu, cfg.features);
      emitModel(*mod, model, v.symbolPrefix, cfg, false, false, blob);
      variants.push_back(std::move(v));
    }
    emitCpuDispatch(*mod, opts.prefix, variants, blob != nullptr);
  }
  if (blob) {
    blob->seal(identity);
    for (auto [name, value] :
         {std::pair{kWeightsFingerprintGlobal, blob->fingerprint()},
          std::pair{kWeightsBytesGlobal, blob->size()}}) {
      auto *gv = cast<GlobalVariable>(
          mod->getOrInsertGlobal(name, Type::getInt64Ty(ctx)));
      gv->setInitializer(ConstantInt::get(Type::getInt64Ty(ctx), value));
      gv->setConstant(true);
      gv->setLinkage(GlobalValue::PrivateLinkage);
    }
  }
  std::string verifyErrors;
  raw_string_ostream os(verifyErrors);
  if (verifyModule(*mod, &os)) {
    error = "internal error: generated LLVM IR does not verify: " + os.str();
    return nullptr;
  }
  optimizeModule(*mod, tm);
  return mod;
}

} // namespace

namespace {

/// A file for the code generator's frame sizes (StackUsageOutput), removed
/// with this object.
struct StackUsageFile {
  SmallString<128> path;
  ~StackUsageFile() {
    if (!path.empty())
      sys::fs::remove(path);
  }
};

/// Builds the module for \p model and writes \p kind to \p os; the module,
/// its context and the code generator are gone when it returns. For an
/// object, \p footprint (if given) receives the stack bounds.
bool emitTo(const ir::Model &model, const CpuTargetOptions &opts,
            OutputKind kind, raw_pwrite_stream &os, std::string &error,
            WeightsBlob *weights, Footprint *footprint) {
  assert((weights != nullptr) == opts.externalWeights &&
         "external weights need somewhere to go");
  Targets targets;
  if (!createTargets(opts, targets, error))
    return false;
  TargetMachine *tm = targets.tm.get();
  const ResolvedTarget &rt = targets.primary;
  LLVMContext ctx;
  std::unique_ptr<Module> mod =
      buildModule(model, opts, targets, ctx, error, nullptr, weights);
  if (!mod)
    return false;
  if (kind == OutputKind::LLVMIR) {
    mod->print(os, nullptr);
    return true;
  }
  // Objects get the weights as bytes; assembly keeps one commented float
  // per line for people reading it.
  if (kind == OutputKind::Object)
    rawConstantInitializers(*mod);
  // The frame sizes go to a side file (as with -fstack-usage), so the
  // object is the same with or without a footprint.
  StackUsageFile stackUsage;
  if (footprint && kind == OutputKind::Object) {
    if (std::error_code ec =
            sys::fs::createTemporaryFile("seqc-stack", "su", stackUsage.path)) {
      error = "cannot create a temporary file: " + ec.message();
      return false;
    }
    tm->Options.StackUsageOutput = std::string(stackUsage.path);
  }
  {
    // The AsmPrinter writes the frame sizes out when it is destroyed with
    // the pass manager.
    legacy::PassManager pm;
    if (tm->addPassesToEmitFile(pm, os, nullptr,
                                kind == OutputKind::Object
                                    ? CodeGenFileType::ObjectFile
                                    : CodeGenFileType::AssemblyFile)) {
      error =
          fmt::format("the target '{}' cannot emit this file type", rt.triple);
      return false;
    }
    pm.run(*mod);
  }
  if (!stackUsage.path.empty()) {
    ErrorOr<std::unique_ptr<MemoryBuffer>> frames =
        MemoryBuffer::getFile(stackUsage.path, /*IsText=*/true);
    if (!frames) {
      error = fmt::format("cannot read the frame sizes from '{}': {}",
                          stackUsage.path.str(), frames.getError().message());
      return false;
    }
    // Spill slots are as wide as the widest vector register of any
    // variant (KernelConfig's floats per vector).
    uint64_t vectorBytes = 4 * kernelConfigFor(*tm).vectorWidth;
    for (const std::unique_ptr<TargetMachine> &variant : targets.variants)
      vectorBytes = std::max<uint64_t>(
          vectorBytes, 4 * kernelConfigFor(*variant).vectorWidth);
    boundStack(*mod, opts.prefix, (*frames)->getBuffer(), vectorBytes,
               *footprint);
  }
  return true;
}

/// The rest of \p footprint, once the object is \p object.
bool measureFootprint(MemoryBufferRef object, const WeightsBlob *weights,
                      Footprint &footprint, std::string &error) {
  if (!measureObject(object, footprint, error))
    return false;
  if (weights)
    footprint.weightsBytes = weights->size();
  return true;
}

} // namespace

bool generate(const ir::Model &model, const CpuTargetOptions &opts,
              OutputKind kind, std::string &out, std::string &error,
              WeightsBlob *weights, Footprint *footprint) {
  if (kind != OutputKind::Object)
    footprint = nullptr;
  SmallVector<char, 0> buffer;
  raw_svector_ostream os(buffer);
  if (!emitTo(model, opts, kind, os, error, weights, footprint))
    return false;
  out.assign(buffer.begin(), buffer.end());
  return !footprint || measureFootprint(MemoryBufferRef(out, "object"), weights,
                                        *footprint, error);
}

bool generateObjectFile(const ir::Model &model, const CpuTargetOptions &opts,
                        int fd, const std::string &path, std::string &error,
                        bool &writeFailed, WeightsBlob *weights,
                        Footprint *footprint) {
  writeFailed = false;
  raw_fd_ostream os(fd, /*shouldClose=*/false);
  bool ok =
      emitTo(model, opts, OutputKind::Object, os, error, weights, footprint);
  os.flush();
  if (os.has_error()) {
    // Cleared, or the stream's destructor would abort.
    error = fmt::format("cannot write '{}': {}", path, os.error().message());
    os.clear_error();
    writeFailed = true;
    return false;
  }
  if (!ok || !footprint)
    return ok;
  // Read back from the file: mapped, not copied.
  ErrorOr<std::unique_ptr<MemoryBuffer>> written = MemoryBuffer::getOpenFile(
      fd, path, /*FileSize=*/-1, /*RequiresNullTerminator=*/false);
  if (!written) {
    error = fmt::format("cannot read back '{}': {}", path,
                        written.getError().message());
    writeFailed = true;
    return false;
  }
  return measureFootprint((*written)->getMemBufferRef(), weights, *footprint,
                          error);
}

namespace {

/// The kernel configuration of each CPU of \p opts (one, or one per CPU of
/// a list).
bool kernelConfigs(const ir::Model &model, const CpuTargetOptions &opts,
                   std::vector<KernelConfig> &configs, std::string &error) {
  if (!checkModel(model, error))
    return false;
  Targets targets;
  if (!createTargets(opts, targets, error))
    return false;
  std::vector<const TargetMachine *> machines;
  if (targets.variants.empty())
    machines.push_back(targets.tm.get());
  for (const std::unique_ptr<TargetMachine> &variant : targets.variants)
    machines.push_back(variant.get());
  configs.clear();
  for (const TargetMachine *tm : machines) {
    configs.push_back(kernelConfigFor(*tm));
    configs.back().fastMath = opts.fastMath;
    configs.back().precision = opts.precision;
  }
  return true;
}

} // namespace

bool describePlan(const ir::Model &model, const CpuTargetOptions &opts,
                  std::string &out, std::string &error) {
  std::vector<KernelConfig> configs;
  if (!kernelConfigs(model, opts, configs, error))
    return false;
  out.clear();
  for (const KernelConfig &cfg : configs)
    out += printPlan(model, planModel(model, cfg));
  return true;
}

bool summarizePlan(const ir::Model &model, const CpuTargetOptions &opts,
                   std::vector<StageSummary> &stages, std::string &cpuName,
                   std::string &error) {
  std::vector<KernelConfig> configs;
  if (!kernelConfigs(model, opts, configs, error))
    return false;
  ModelPlan plan = planModel(model, configs.back());
  cpuName = plan.config.cpu;
  stages.clear();
  for (size_t i = 0; i < plan.stages.size(); ++i) {
    const StagePlan &st = plan.stages[i];
    stages.push_back(
        {st.kind, st.firstOp, st.lastOp, summarizeStage(model, st, i)});
  }
  return true;
}

bool makeStaticLibrary(const std::string &object, const std::string &memberName,
                       std::string &out, std::string &error) {
  std::unique_ptr<MemoryBuffer> buf =
      MemoryBuffer::getMemBuffer(StringRef(object), memberName, false);
  NewArchiveMember member(buf->getMemBufferRef());
  member.MemberName = memberName;
  std::vector<NewArchiveMember> members;
  members.push_back(std::move(member));
  Expected<std::unique_ptr<MemoryBuffer>> archive = writeArchiveToBuffer(
      members, SymtabWritingMode::NormalSymtab, object::Archive::K_GNU,
      /*Deterministic=*/true, /*Thin=*/false);
  if (!archive) {
    error = "cannot write the static library: " + toString(archive.takeError());
    return false;
  }
  out = (*archive)->getBuffer().str();
  return true;
}

//===----------------------------------------------------------------------===//
// JIT
//===----------------------------------------------------------------------===//

namespace {

/// Notes where JITLink put every read-only data section (the packed weights
/// and other constants), so that JitModel::create can move them into huge
/// pages once the code is linked.
class ReadOnlyDataRecorder : public orc::ObjectLinkingLayer::Plugin {
public:
  struct Range {
    uintptr_t begin, end;
  };
  void modifyPassConfig(orc::MaterializationResponsibility &,
                        jitlink::LinkGraph &,
                        jitlink::PassConfiguration &config) override {
    config.PostFixupPasses.push_back([this](jitlink::LinkGraph &g) {
      std::lock_guard<std::mutex> lock(mutex);
      for (jitlink::Section &sec : g.sections()) {
        if (sec.getMemProt() != orc::MemProt::Read ||
            sec.getMemLifetime() != orc::MemLifetime::Standard)
          continue;
        jitlink::SectionRange range(sec);
        if (!range.empty())
          ranges.push_back({uintptr_t(range.getStart().getValue()),
                            uintptr_t(range.getEnd().getValue())});
      }
      return Error::success();
    });
  }
  Error notifyFailed(orc::MaterializationResponsibility &) override {
    return Error::success();
  }
  Error notifyRemovingResources(orc::JITDylib &, orc::ResourceKey) override {
    return Error::success();
  }
  void notifyTransferringResources(orc::JITDylib &, orc::ResourceKey,
                                   orc::ResourceKey) override {}

  /// The ranges noted so far, sorted; sections less than a page apart (one
  /// segment, with alignment padding between them) merged into one range,
  /// so that a 2 MiB page across their boundary counts too.
  std::vector<Range> take() {
    std::lock_guard<std::mutex> lock(mutex);
    std::sort(ranges.begin(), ranges.end(),
              [](const Range &a, const Range &b) { return a.begin < b.begin; });
    std::vector<Range> merged;
    for (const Range &r : ranges) {
      if (!merged.empty() && r.begin < merged.back().end + 4096)
        merged.back().end = std::max(merged.back().end, r.end);
      else
        merged.push_back(r);
    }
    ranges.clear();
    return merged;
  }

private:
  std::mutex mutex;
  std::vector<Range> ranges;
};

} // namespace

struct JitModel::Impl {
  std::unique_ptr<orc::LLJIT> jit;
  /// Bytes of the object files the JIT linked (code + packed weights).
  std::atomic<uint64_t> objectBytes{0};
  size_t (*scratchFn)(size_t) = nullptr;
  int (*runFn)(const float *, float *, size_t, void *) = nullptr;
  int (*runParallelFn)(const float *, float *, size_t, void *, ParallelForFn,
                       void *) = nullptr;
  /// External weights: the entry points with the weights argument, and the
  /// blob they are given (64-byte aligned).
  int (*runWeightsFn)(const void *, const float *, float *, size_t,
                      void *) = nullptr;
  int (*runParallelWeightsFn)(const void *, const float *, float *, size_t,
                              void *, ParallelForFn, void *) = nullptr;
  HugePageBuffer weights;
  uint64_t weightsBytes = 0;
  /// Bytes of packed weights and other constants in 2 MiB pages.
  uint64_t hugePageBytes = 0;
  std::vector<StageInfo> stages;
  /// Profiling builds: the globals the generated code reads its hook from.
  ProfileHookFn *profileHook = nullptr;
  void **profileUser = nullptr;
  /// opts.hugePages: where the constants were linked.
  ReadOnlyDataRecorder *recorder = nullptr;
  /// What create() adds to the JIT: a built module, or a cached object.
  std::unique_ptr<LLVMContext> context;
  std::unique_ptr<Module> module;
  std::string cachedObject;
  /// The object cache: what it did, why it could not store, and (while
  /// keepObject) the object the JIT compiled, to store.
  ObjectCache::Outcome cacheOutcome = ObjectCache::Outcome::Disabled;
  std::string cacheNote;
  bool keepObject = false;
  std::string compiledObject;

  /// Builds and optimises the module for \p model, with its stages and
  /// external weights.
  bool buildModule(const ir::Model &model, const CpuTargetOptions &hostOpts,
                   Targets &targets, std::string &error);
  /// Takes the stages, weights and object of a cache hit.
  bool useCached(JitCacheEntry &entry, const CpuTargetOptions &opts,
                 std::string &error);
  /// Creates the LLJIT for the resolved target.
  bool startJit(const ResolvedTarget &rt, const CpuTargetOptions &opts,
                std::string &error);
  /// Adds the module (compiled on lookup) or the cached object.
  bool addCode(std::string &error);
  /// Stores the compiled object under \p key; a failure becomes cacheNote.
  void storeInCache(const ObjectCache &cache, const Sha256Digest &key);

  /// Finds the entry points (and a profiling build's globals) of the
  /// linked code.
  bool lookupEntryPoints(const CpuTargetOptions &opts, std::string &error);
  /// Moves the constants \p recorder saw linked, and the external weights,
  /// into 2 MiB pages (docs/performance.md, "Weights in huge pages").
  void moveToHugePages(ReadOnlyDataRecorder *recorder);
};

bool JitModel::Impl::lookupEntryPoints(const CpuTargetOptions &opts,
                                       std::string &error) {
  auto lookup = [&](const std::string &name, auto &fn) {
    Expected<orc::ExecutorAddr> addr = jit->lookup(name);
    if (!addr) {
      error =
          fmt::format("cannot JIT '{}': {}", name, toString(addr.takeError()));
      return false;
    }
    fn = addr->toPtr<std::remove_reference_t<decltype(fn)>>();
    return true;
  };
  if (!lookup(opts.prefix + "_scratch_bytes", scratchFn))
    return false;
  if (opts.externalWeights
          ? !lookup(opts.prefix + "_run", runWeightsFn) ||
                !lookup(opts.prefix + "_run_parallel", runParallelWeightsFn)
          : !lookup(opts.prefix + "_run", runFn) ||
                !lookup(opts.prefix + "_run_parallel", runParallelFn))
    return false;
  return !opts.profile || (lookup(opts.prefix + "_profile_hook", profileHook) &&
                           lookup(opts.prefix + "_profile_user", profileUser));
}

void JitModel::Impl::moveToHugePages(ReadOnlyDataRecorder *recorder) {
  // The constants sit in their read-only segment, in the 4 KiB pages
  // JITLink maps.
  if (recorder)
    for (const ReadOnlyDataRecorder::Range &r : recorder->take())
      hugePageBytes += collapseToHugePages(
          reinterpret_cast<const void *>(r.begin), r.end - r.begin);
  hugePageBytes += collapseToHugePages(weights.data(), weightsBytes);
}

namespace {

/// The dispatchable x86 features \p tm's code may use that this host
/// lacks (none off x86).
std::vector<std::string> missingHostFeatures(const TargetMachine &tm,
                                             const StringMap<bool> &host) {
  std::vector<std::string> missing;
  for (const std::string &f : dispatchableX86Features())
    if (tm.getMCSubtargetInfo()->checkFeatures("+" + f) && !host.lookup(f))
      missing.push_back(f);
  return missing;
}

/// The options with the CPU the JIT compiles for: for a list, the last CPU
/// of the list this host runs (the JIT compiles that variant only); a
/// single named CPU must run here. False, with \p error set, where none
/// does: its code would stop at the first instruction the host lacks.
bool chooseHostCpu(const CpuTargetOptions &opts, CpuTargetOptions &hostOpts,
                   std::string &error) {
  std::vector<std::string> cpus = splitCpus(opts.cpu);
  if (cpus.empty() ||
      (cpus.size() == 1 && (cpus[0].empty() || cpus[0] == "native")))
    return true;
  Targets all;
  if (!createTargets(hostOpts, all, error))
    return false;
  StringMap<bool> host = sys::getHostCPUFeatures();
  if (cpus.size() == 1) {
    std::vector<std::string> missing = missingHostFeatures(*all.tm, host);
    if (missing.empty())
      return true;
    error = fmt::format("--cpu {} needs {}, which this host lacks", opts.cpu,
                        fmt::join(missing, ", "));
    return false;
  }
  hostOpts.cpu.clear();
  for (size_t i = cpus.size(); i-- > 0;) {
    if (missingHostFeatures(*all.variants[i], host).empty()) {
      hostOpts.cpu = cpus[i];
      return true;
    }
  }
  error = fmt::format("none of the CPUs in --cpu {} can run on this host",
                      opts.cpu);
  return false;
}

} // namespace

namespace {

/// Allocates the JIT's external weights buffer: 64-byte (and for a large
/// blob 2 MiB) aligned, advised for huge pages only if they were asked for
/// (so that --no-huge-pages compares like with like). Sealed blobs are a
/// multiple of 64 bytes.
bool allocateWeights(uint64_t bytes, const CpuTargetOptions &opts,
                     HugePageBuffer &weights, std::string &error) {
  weights = HugePageBuffer(bytes, opts.hugePages);
  if (!weights.data()) {
    error = fmt::format("cannot allocate {} bytes for the weights", bytes);
    return false;
  }
  return true;
}

} // namespace

bool JitModel::Impl::buildModule(const ir::Model &model,
                                 const CpuTargetOptions &hostOpts,
                                 Targets &targets, std::string &error) {
  context = std::make_unique<LLVMContext>();
  WeightsBlob blob;
  module = cpu::buildModule(model, hostOpts, targets, *context, error, &stages,
                            hostOpts.externalWeights ? &blob : nullptr);
  if (!module)
    return false;
  rawConstantInitializers(*module);
  if (hostOpts.externalWeights) {
    weightsBytes = blob.size();
    if (!allocateWeights(weightsBytes, hostOpts, weights, error))
      return false;
    blob.moveTo(static_cast<char *>(weights.data()));
  }
  return true;
}

bool JitModel::Impl::useCached(JitCacheEntry &entry,
                               const CpuTargetOptions &opts,
                               std::string &error) {
  stages = std::move(entry.stages);
  if (opts.externalWeights) {
    weightsBytes = entry.weights.size();
    if (!allocateWeights(weightsBytes, opts, weights, error))
      return false;
    if (weightsBytes)
      std::memcpy(weights.data(), entry.weights.data(), weightsBytes);
  }
  cachedObject = std::move(entry.object);
  return true;
}

bool JitModel::Impl::startJit(const ResolvedTarget &rt,
                              const CpuTargetOptions &opts,
                              std::string &error) {
  orc::JITTargetMachineBuilder jtmb((Triple(rt.triple)));
  jtmb.setCPU(rt.cpu);
  jtmb.addFeatures(rt.features);
  jtmb.setCodeGenOptLevel(CodeGenOptLevel::Aggressive);
  Expected<std::unique_ptr<orc::LLJIT>> created =
      orc::LLJITBuilder().setJITTargetMachineBuilder(std::move(jtmb)).create();
  if (!created) {
    error = "cannot start the LLVM JIT: " + toString(created.takeError());
    return false;
  }
  jit = std::move(*created);
  if (opts.hugePages)
    if (auto *linker =
            dyn_cast<orc::ObjectLinkingLayer>(&jit->getObjLinkingLayer())) {
      auto plugin = std::make_unique<ReadOnlyDataRecorder>();
      recorder = plugin.get();
      linker->addPlugin(std::move(plugin));
    }
  // Every object passes here, compiled or cached: count it, and keep a
  // compiled one for the cache.
  jit->getObjTransformLayer().setTransform(
      [this](std::unique_ptr<MemoryBuffer> obj)
          -> Expected<std::unique_ptr<MemoryBuffer>> {
        objectBytes += obj->getBufferSize();
        if (keepObject)
          compiledObject.assign(obj->getBufferStart(), obj->getBufferSize());
        return obj;
      });
  return true;
}

bool JitModel::Impl::addCode(std::string &error) {
  Error err = Error::success();
  if (module) {
    module->setDataLayout(jit->getDataLayout());
    err = jit->addIRModule(
        orc::ThreadSafeModule(std::move(module), std::move(context)));
  } else {
    err = jit->addObjectFile(
        MemoryBuffer::getMemBufferCopy(cachedObject, "seqc-cached-object"));
    cachedObject = std::string();
  }
  if (err) {
    error = "cannot JIT the model: " + toString(std::move(err));
    return false;
  }
  return true;
}

void JitModel::Impl::storeInCache(const ObjectCache &cache,
                                  const Sha256Digest &key) {
  JitCacheEntry entry;
  entry.object = std::move(compiledObject);
  entry.stages = stages;
  if (weightsBytes)
    entry.weights.assign(static_cast<const char *>(weights.data()),
                         weightsBytes);
  // The note is all a failure costs: the code is linked already.
  if (!entry.object.empty())
    cache.store(key, packJitEntry(entry), cacheNote);
}

JitModel::JitModel(std::unique_ptr<Impl> impl) : impl(std::move(impl)) {}
JitModel::~JitModel() = default;

std::unique_ptr<JitModel> JitModel::create(const ir::Model &model,
                                           const CpuTargetOptions &opts,
                                           std::string &error) {
  if (!opts.triple.empty() &&
      Triple(Triple::normalize(opts.triple)).getArch() !=
          Triple(sys::getProcessTriple()).getArch()) {
    error = fmt::format("cannot run code for '{}' on this host", opts.triple);
    return nullptr;
  }
  CpuTargetOptions hostOpts = opts;
  hostOpts.triple.clear();
  if (!chooseHostCpu(opts, hostOpts, error))
    return nullptr;
  Targets targets;
  if (!createTargets(hostOpts, targets, error))
    return nullptr;
  const ResolvedTarget &rt = targets.primary;
  auto impl = std::make_unique<Impl>();
  // A cached entry replaces building, optimising and compiling the module.
  ObjectCache cache(opts.cacheDir, opts.cacheMaxBytes);
  Sha256Digest key{};
  JitCacheEntry cached;
  if (cache.enabled()) {
    key = jitCacheKey(model, hostOpts, rt.triple, rt.cpu, rt.features);
    std::string payload;
    impl->cacheOutcome = cache.load(key, payload);
    if (impl->cacheOutcome == ObjectCache::Outcome::Hit &&
        !unpackJitEntry(payload, cached))
      impl->cacheOutcome = ObjectCache::Outcome::Corrupt;
  }
  bool hit = impl->cacheOutcome == ObjectCache::Outcome::Hit;
  impl->keepObject = cache.enabled() && !hit;
  if (!(hit ? impl->useCached(cached, hostOpts, error)
            : impl->buildModule(model, hostOpts, targets, error)) ||
      !impl->startJit(rt, opts, error) || !impl->addCode(error) ||
      !impl->lookupEntryPoints(opts, error))
    return nullptr;
  // Everything is linked now.
  if (impl->keepObject)
    impl->storeInCache(cache, key);
  if (opts.hugePages)
    impl->moveToHugePages(impl->recorder);
  return std::unique_ptr<JitModel>(new JitModel(std::move(impl)));
}

const std::vector<StageInfo> &JitModel::stages() const { return impl->stages; }

bool JitModel::setProfileHook(ProfileHookFn hook, void *user) {
  if (!impl->profileHook)
    return false;
  *impl->profileUser = user;
  *impl->profileHook = hook;
  return true;
}

uint64_t JitModel::objectBytes() const { return impl->objectBytes.load(); }

ObjectCache::Outcome JitModel::cacheOutcome() const {
  return impl->cacheOutcome;
}

const std::string &JitModel::cacheNote() const { return impl->cacheNote; }

size_t JitModel::scratchBytes(size_t batch) const {
  return impl->scratchFn(batch);
}

const void *JitModel::weightsData() const { return impl->weights.data(); }

uint64_t JitModel::hugePageBytes() const { return impl->hugePageBytes; }

uint64_t JitModel::weightsBytes() const { return impl->weightsBytes; }

int JitModel::run(const float *input, float *output, size_t batch,
                  void *scratch) const {
  if (impl->runWeightsFn)
    return impl->runWeightsFn(impl->weights.data(), input, output, batch,
                              scratch);
  return impl->runFn(input, output, batch, scratch);
}

int JitModel::runParallel(const float *input, float *output, size_t batch,
                          void *scratch, ParallelForFn parallelFor,
                          void *pool) const {
  if (impl->runParallelWeightsFn)
    return impl->runParallelWeightsFn(impl->weights.data(), input, output,
                                      batch, scratch, parallelFor, pool);
  return impl->runParallelFn(input, output, batch, scratch, parallelFor, pool);
}

} // namespace seqc::codegen::cpu
