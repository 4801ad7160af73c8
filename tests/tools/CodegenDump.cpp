//===- CodegenDump.cpp - Write every backend's output for comparison ------===//
//
// Part of seqc's tests. `codegen-dump OUTDIR [--quick]` writes what the
// code generators produce for a fixed set of models, one file each:
//  * CPU: assembly (small models) or object code (the performance suite's
//    shapes) for several CPUs, with and without --fast-math, external
//    weights and profiling, and for aarch64;
//  * CUDA: for every strategy, precision and architecture that fits, the
//    source, the launch plan, the packed parameters and the PTX.
// Refactorings that must not change generated code compare the md5 sums of
// two such directories (tests/tools/codegen-md5.sh).
//
//===----------------------------------------------------------------------===//

#include "tests/cpu/TestModels.h"
#include "tests/cuda/CudaTestNetworks.h"

#ifdef SEQC_DUMP_CPU
#include "compiler/codegen/cpu/CpuBackend.h"
#include "compiler/codegen/cpu/WeightsBlob.h"
#endif
#ifdef SEQC_DUMP_CUDA
#include "compiler/codegen/cuda/CudaCodegen.h"
#include "compiler/codegen/cuda/Nvrtc.h"
#endif

#include <fmt/format.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

using namespace seqc;

namespace {

std::string outDir;
int failures = 0;
/// --quick: the CPU variants that cover every code path, not all of them.
bool quick = false;

/// FNV-1a, 64 bits: what the large models' objects and parameters are
/// reduced to, so a dump stays small.
uint64_t fnv1a(const std::string &data) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : data)
    hash = (hash ^ c) * 0x100000001b3ull;
  return hash;
}

void writeFile(const std::string &name, const std::string &data) {
  if (data.size() > (size_t(4) << 20)) {
    std::ofstream out(outDir + "/" + name + ".fnv");
    out << fmt::format("{:016x} {} bytes\n", fnv1a(data), data.size());
    return;
  }
  std::ofstream out(outDir + "/" + name, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!out) {
    fmt::print(stderr, "cannot write {}\n", name);
    ++failures;
  }
}

ir::Activation pickAct(std::mt19937 &rng) {
  std::vector<ir::Activation> acts = test::allActivations();
  return acts[rng() % acts.size()];
}

/// Random networks of the CPU differential test's kind, plus the shapes
/// whose kernels take the rarer paths (k blocks, dot products, streaming).
std::vector<test::CudaTestNetwork> cpuNetworks() {
  std::vector<test::CudaTestNetwork> nets;
  std::mt19937 rng(20240601);
  const int64_t widths[] = {1, 2, 3, 5, 8, 9, 16, 17, 31, 33, 48, 64, 100, 129};
  for (int trial = 0; trial < 24; ++trial) {
    int64_t inF = widths[rng() % std::size(widths)];
    test::ModelBuilder mb(inF, static_cast<uint32_t>(rng()));
    int depth = 1 + static_cast<int>(rng() % 5);
    for (int d = 0; d < depth; ++d) {
      int64_t out = widths[rng() % std::size(widths)];
      bool last = d + 1 == depth;
      ir::RowNorm norm = ir::RowNorm::None;
      if (last && rng() % 3 == 0)
        norm = rng() % 2 ? ir::RowNorm::Softmax : ir::RowNorm::LogSoftmax;
      mb.dense(out, pickAct(rng), rng() % 4 != 0, norm);
      switch (rng() % 8) {
      case 0:
        mb.act(pickAct(rng));
        break;
      case 1:
        mb.layerNorm(rng() % 2);
        break;
      case 2:
        mb.affine(rng() % 2);
        break;
      case 3:
        if (last)
          mb.rowNorm(rng() % 2);
        break;
      default:
        break;
      }
    }
    mb.model.name = fmt::format("random{}", trial);
    nets.push_back({mb.model.name, std::move(mb.model), true});
  }
  auto add = [&](const std::string &name, test::ModelBuilder &mb) {
    mb.model.name = name;
    nets.push_back({name, std::move(mb.model), true});
  };
  {
    test::ModelBuilder mb(2100, 13); // k blocks on every target
    mb.dense(40, test::act(ir::ActKind::ReLU));
    mb.dense(10, test::act(ir::ActKind::None));
    add("kblocks", mb);
  }
  {
    test::ModelBuilder mb(1536, 7); // a classifier head: dot products
    mb.dense(10, test::act(ir::ActKind::None), true, ir::RowNorm::Softmax);
    add("head", mb);
  }
  {
    test::ModelBuilder mb(600, 17);
    mb.dense(300, test::act(ir::ActKind::GELU));
    mb.dense(600, test::act(ir::ActKind::Sigmoid), false);
    mb.dense(7, test::act(ir::ActKind::None));
    add("mid", mb);
  }
  {
    // More Dense layers than are inlined: the compact code path.
    test::ModelBuilder mb(24, 19);
    for (int i = 0; i < 20; ++i)
      mb.dense(i % 3 ? 24 : 32, test::act(ir::ActKind::ReLU));
    add("compact", mb);
  }
  return nets;
}

#ifdef SEQC_DUMP_CPU
void dumpCpu(const test::CudaTestNetwork &net) {
  using namespace codegen::cpu;
  struct Variant {
    const char *tag, *cpu, *triple;
    bool fast, external, profile;
  };
  const Variant variants[] = {
      {"v4", "x86-64-v4", "", false, false, false},
      {"v3", "x86-64-v3", "", false, false, false},
      {"v2", "x86-64-v2", "", false, false, false},
      {"spr", "sapphirerapids", "", false, false, false},
      {"zen4", "znver4", "", false, false, false},
      {"v4-fast", "x86-64-v4", "", true, false, false},
      {"v3-fast", "x86-64-v3", "", true, false, false},
      {"v4-ext", "x86-64-v4", "", false, true, false},
      {"v3-ext", "x86-64-v3", "", false, true, false},
      {"v4-prof", "x86-64-v4", "", false, false, true},
      {"multi", "x86-64-v3,x86-64-v4", "", false, false, false},
      {"a64", "", "aarch64-linux-gnu", false, false, false},
  };
  for (const Variant &v : variants) {
    // The performance suite's large shapes take the same paths on every
    // variant; two ISAs and external weights are enough.
    std::string tag = v.tag;
    if (!net.emulate && tag != "v4" && tag != "v3" && tag != "v4-ext")
      continue;
    if (quick && tag != "v4" && tag != "v3" && tag != "v4-fast" &&
        tag != "v4-ext" && tag != "a64")
      continue;
    CpuTargetOptions opts;
    opts.cpu = v.cpu;
    opts.triple = v.triple;
    opts.prefix = net.name;
    opts.fastMath = v.fast;
    opts.externalWeights = v.external;
    opts.profile = v.profile;
    // Multiversioned objects have no assembly text of their own.
    bool multi = std::strchr(v.cpu, ',') != nullptr;
    OutputKind kind =
        net.emulate && !multi ? OutputKind::Assembly : OutputKind::Object;
    std::string out, error;
    WeightsBlob blob;
    if (!generate(net.model, opts, kind, out, error,
                  v.external ? &blob : nullptr)) {
      writeFile(fmt::format("cpu-{}-{}.error", net.name, v.tag), error);
      continue;
    }
    writeFile(fmt::format("cpu-{}-{}.{}", net.name, v.tag,
                          kind == OutputKind::Assembly ? "s" : "o"),
              out);
    writeFile(fmt::format("cpu-{}-{}.h", net.name, v.tag),
              generateHeader(net.model, opts, v.external ? blob.size() : 0));
    if (v.external)
      writeFile(fmt::format("cpu-{}-{}.weights", net.name, v.tag), blob.str());
  }
}
#endif

#ifdef SEQC_DUMP_CUDA
void dumpCuda(const test::CudaTestNetwork &net, bool ptx) {
  using namespace cuda;
  for (Strategy strategy :
       {Strategy::Auto, Strategy::Fused, Strategy::Layered}) {
    for (Precision precision :
         {Precision::F32, Precision::BF16, Precision::F16}) {
      for (const char *archName : {"sm_80", "sm_90"}) {
        for (bool fast : {false, true}) {
          // Fast math changes only NVRTC's flags; one architecture is enough.
          if (fast && std::strcmp(archName, "sm_80") != 0)
            continue;
          CudaOptions options;
          options.arch = *parseGpuArch(archName);
          options.precision = precision;
          options.strategy = strategy;
          options.fastMath = fast;
          std::string tag = fmt::format(
              "cuda-{}-{}-{}-{}{}", net.name, strategyName(strategy),
              precisionName(precision), archName, fast ? "-fast" : "");
          CudaProgram program;
          std::string error;
          if (!emitCudaProgram(net.model, options, program, error)) {
            writeFile(tag + ".error", error);
            continue;
          }
          writeFile(tag + ".cu", program.source);
          std::string plan = fmt::format(
              "strategy {} scratch {} in {} out {}\n",
              strategyName(program.strategy), program.scratchFloatsPerRow,
              program.inFeatures, program.outFeatures);
          for (const KernelLaunch &l : program.launches)
            plan += fmt::format(
                "{} threads {} shared {} rows {} gridY {} perSm {} in {} out "
                "{} batch [{}, {}]\n",
                l.kernel, l.threads, l.sharedBytes, l.rowsPerBlock, l.gridY,
                l.blocksPerSm, l.input, l.output, l.minBatch, l.maxBatch);
          writeFile(tag + ".plan", plan);
          writeFile(tag + ".params",
                    std::string(program.params.begin(), program.params.end()));
          if (!ptx || !net.emulate)
            continue;
          NvrtcOptions nvrtc;
          nvrtc.arch = options.arch;
          nvrtc.fastMath = fast;
          NvrtcOutput compiled;
          if (!compileCuda(program.source, nvrtc, compiled, error)) {
            writeFile(tag + ".nvrtc-error", error);
            continue;
          }
          writeFile(tag + ".ptx", compiled.ptx);
        }
      }
    }
  }
}
#endif

} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    fmt::print(stderr, "usage: codegen-dump OUTDIR [--no-ptx] [--no-large] "
                       "[--quick] [--only cpu|cuda]\n");
    return 2;
  }
  outDir = argv[1];
  bool ptx = true, large = true, cpu = true, cuda = true;
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--no-ptx") == 0)
      ptx = false;
    else if (std::strcmp(argv[i], "--no-large") == 0)
      large = false;
    else if (std::strcmp(argv[i], "--quick") == 0)
      ptx = false, large = false, quick = true;
    else if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
      // One backend's files, for a quick look at a change to it alone.
      cpu = std::strcmp(argv[++i], "cpu") == 0;
      cuda = !cpu;
    }
  }
  std::vector<test::CudaTestNetwork> nets = test::cudaTestNetworks(large);
#ifdef SEQC_DUMP_CPU
  for (const test::CudaTestNetwork &net : nets)
    if (cpu)
      dumpCpu(net);
  for (const test::CudaTestNetwork &net : cpuNetworks())
    if (cpu)
      dumpCpu(net);
#endif
#ifdef SEQC_DUMP_CUDA
  for (const test::CudaTestNetwork &net : nets)
    if (cuda)
      dumpCuda(net, ptx);
#endif
  (void)ptx, (void)cpu, (void)cuda;
  return failures ? 1 : 0;
}
