//===- Options.h - Command-line options of the seqc driver ------*- C++ -*-===//
//
// Part of seqc. One options struct for every subcommand; each subcommand
// says which options it accepts, and the parser rejects the others.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_DRIVER_OPTIONS_H
#define SEQC_DRIVER_OPTIONS_H

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace seqc::driver {

/// Everything the command line can say. Fields are filled by parseOptions.
struct DriverOptions {
  std::string command;                 ///< check, ir, run, emit, compile, bench
  std::vector<std::string> positional; ///< MODEL.nn
  std::string modelName;               ///< --model NAME
  std::optional<std::string> weights;  ///< --weights FILE
  std::optional<uint64_t> initSeed;    ///< --init-seed N
  std::string input;                   ///< --input X.npy|X.csv
  std::string output;                  ///< --output Y.npy / -o PATH
  std::string backend;                 ///< --backend ref|cpu|cuda
  bool layers = false;                 ///< --layers
  bool printAfterAll = false;          ///< --print-after-all
  std::vector<std::string> printAfter; ///< --print-after=NAME (repeatable)
  std::string stopAfter;               ///< --stop-after=NAME (ir)
  std::string target;                  ///< --target cpu|cuda
  std::string format;                  ///< --format llvm|asm|cuda|ptx
  std::string name;                    ///< --name PREFIX
  std::string cpu;                     ///< --cpu native|x86-64-v3|...
  std::string targetTriple;            ///< --target-triple
  std::string gpuArch;                 ///< --gpu-arch sm_80
  std::string precision;               ///< --precision f32|bf16|f16
  bool fastMath = false;               ///< --fast-math
  bool staticLib = false;              ///< --static-lib
  bool externalWeights = false;        ///< --external-weights
  bool hugePages = true;               ///< off: --no-huge-pages (bench)
  unsigned threads = 1;                ///< --threads N
  std::vector<uint64_t> batches;       ///< --batch 1,64,1024
  bool json = false;                   ///< --json
  unsigned repeat = 0;                 ///< --repeat N (bench; 0 = automatic)
};

/// Parses argv. On a usage error prints a message to stderr and returns
/// nullopt (the caller exits with code 1). `--help` prints usage and sets
/// \p exitNow.
std::optional<DriverOptions> parseOptions(int argc, char **argv, bool &exitNow);

/// The usage text.
const char *usageText();

} // namespace seqc::driver

#endif // SEQC_DRIVER_OPTIONS_H
