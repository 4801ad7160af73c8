//===- Options.h - Command-line options of the seqc driver ------*- C++ -*-===//
//
// Part of seqc. One options struct for every subcommand; each subcommand
// says which options it accepts, and the parser rejects the others. Every
// choice is parsed once, here, into an enum: the commands read typed values
// and never compare spellings.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_DRIVER_OPTIONS_H
#define SEQC_DRIVER_OPTIONS_H

#include "compiler/codegen/common/Precision.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace seqc::driver {

/// The subcommands: `seqc <command>`.
enum class Command { Check, Ir, Run, Emit, Compile, Bench, View };

/// What runs the model (`--backend`): the float64 reference interpreter,
/// the LLVM CPU JIT or CUDA.
enum class Backend { Ref, Cpu, Cuda };

/// What code is generated for (`--target`).
enum class Target { Cpu, Cuda };

/// What `seqc emit` prints (`--format`): LLVM IR or assembly for the CPU,
/// CUDA C++ or PTX for CUDA.
enum class EmitFormat { Llvm, Asm, Cuda, Ptx };

/// What `seqc bench --layers` draws to -o (`--format`): one self-contained
/// page, or the picture with bars and the roofline as two SVG files.
enum class ProfileFormat { Html, Svg };

/// The arithmetic precision (`--precision`): the CPU backend and the
/// reference take f32, bf16, int8 and int8w, CUDA f32, bf16 and f16.
using Precision = codegen::Precision;

/// The command-line spellings: "ir", "ref", "cuda", "asm", "bf16".
std::string_view spelling(Command command);
std::string_view spelling(Backend backend);
std::string_view spelling(Target target);
std::string_view spelling(EmitFormat format);
std::string_view spelling(ProfileFormat format);
std::string_view spelling(Precision precision);

/// The target whose code \p format is.
Target targetOf(EmitFormat format);

/// Everything the command line can say. Fields are filled by parseOptions.
struct DriverOptions {
  Command command = Command::Check;    ///< check, ir, run, ..., view
  std::vector<std::string> positional; ///< MODEL.nn
  std::string modelName;               ///< --model NAME
  std::optional<std::string> weights;  ///< --weights FILE
  std::string weightsPrefix;           ///< --weights-prefix P
  std::optional<uint64_t> initSeed;    ///< --init-seed N
  std::string input;                   ///< --input X.npy|X.csv
  std::string output;                  ///< --output Y.npy / -o PATH
  /// --backend; unset means the command's default (run: cpu, or ref in a
  /// build without LLVM; bench: cpu).
  std::optional<Backend> backend;
  bool layers = false;                 ///< --layers
  bool printAfterAll = false;          ///< --print-after-all
  std::vector<std::string> printAfter; ///< --print-after=NAME (repeatable)
  std::string stopAfter;               ///< --stop-after=NAME (ir)
  bool printPlan = false;              ///< --print-plan (ir)
  Target target = Target::Cpu;         ///< --target cpu|cuda
  /// --format, checked against the target; unset means llvm (cpu) or
  /// cuda (cuda).
  std::optional<EmitFormat> format;
  /// bench's --format: the picture of the --layers profile, written to -o.
  std::optional<ProfileFormat> profileFormat;
  std::string name;                   ///< --name PREFIX
  std::string cpu;                    ///< --cpu native|x86-64-v3|...
  std::string targetTriple;           ///< --target-triple
  std::string gpuArch;                ///< --gpu-arch sm_80
  std::optional<Precision> precision; ///< --precision (unset: f32)
  bool fastMath = false;              ///< --fast-math
  bool staticLib = false;             ///< --static-lib
  bool externalWeights = false;       ///< --external-weights
  bool hugePages = true;              ///< off: --no-huge-pages (bench)
  bool cache = true;                  ///< off: --no-cache (run, bench)
  /// Not an option: the object cache `seqc bench` compiles through (a
  /// temporary one, so that its cold compile is cold); run uses the
  /// default directory.
  std::string benchCacheDir;
  unsigned threads = 1;          ///< --threads N
  std::vector<uint64_t> batches; ///< --batch 1,64,1024
  bool json = false;             ///< --json
  unsigned repeat = 0;           ///< --repeat N (bench; 0 = automatic)
};

/// Parses argv. On a usage error prints a message to stderr and returns
/// nullopt (the caller exits with code 1). `--help` prints usage and sets
/// \p exitNow.
std::optional<DriverOptions> parseOptions(int argc, char **argv, bool &exitNow);

/// The usage text, generated from the command and option tables.
std::string usageText();

} // namespace seqc::driver

#endif // SEQC_DRIVER_OPTIONS_H
