//===- Options.cpp - Command-line options of the seqc driver --------------===//

#include "compiler/driver/Options.h"

#include "compiler/support/Limits.h"

#include <fmt/core.h>

#include <charconv>
#include <cstdio>
#include <functional>
#include <string_view>

namespace seqc::driver {

const char *usageText() {
  return R"(usage: seqc <command> MODEL.nn [options]

commands:
  check    parse, load and validate weights, shape-check
  ir       print the IR (after the whole pipeline, or --stop-after=PASS)
  run      run the model on an input file and print or save the output
  emit     print generated code (--target cpu|cuda, --format llvm|asm|cuda|ptx)
  compile  write PREFIX.h and PREFIX.o for an app (-o DIR/PREFIX)
  bench    time the compiled model (--batch 1,64,1024)

common options:
  --model NAME          the model to use when the file defines several (default: the last)
  --weights FILE        safetensors weights; overrides the file's load_state_dict
  --init-seed N         PyTorch-style random initialisation instead of weights
  --print-after-all     print the IR after every pass
  --print-after=PASS    print the IR after PASS (shape-check, canonicalize, fuse)

run:
  --input X.npy|X.csv   float32 [batch, features] input
  --output Y.npy        write the output instead of printing it
  --backend ref|cpu|cuda
  --layers              print every layer's output (HiddenLayer1, ...)
  --stop-after=PASS     (ref backend) interpret the IR after PASS instead of
                        the shape-checked IR
  --threads N

emit / compile:
  --target cpu|cuda  --format FMT  -o PATH  --name PREFIX  --cpu CPU
  --target-triple T  --gpu-arch sm_XX  --precision f32|bf16|f16
  --static-lib
  --fast-math           (also run, bench) cpu: sigmoid, tanh, SiLU and GELU in
                        float, within 6 ulp instead of 1; cuda: NVRTC's
                        --use_fast_math
  --external-weights    (cpu) write the packed weights to PREFIX.weights,
                        which the app loads and passes to PREFIX_run,
                        instead of embedding them in the object

bench (latency, GFLOP/s and share of the measured FP32 peak; docs/performance.md):
  --batch LIST          batch sizes to time (default 1,64,1024)
  --backend cpu|cuda|ref  (ref: the float64 interpreter, a sanity check only)
  --threads N  --cpu CPU  --json (one object per batch)  --repeat N (samples)
  --layers              (cpu) also time every stage of the generated code in
                        the running model: where the time goes
  --no-huge-pages       (cpu) keep the JIT's packed weights in 4 KiB pages
                        instead of moving them into 2 MiB pages
)";
}

namespace {

using Setter = std::function<bool(DriverOptions &, std::string_view)>;

struct OptionSpec {
  std::string_view name;
  bool takesValue;
  std::string_view commands; ///< space-separated list, or "*" for all
  Setter set;
};

bool parseUnsigned(std::string_view text, uint64_t &out) {
  if (text.empty())
    return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

bool setString(std::string &field, std::string_view value) {
  field = std::string(value);
  return true;
}

const std::vector<OptionSpec> &optionTable() {
  static const std::vector<OptionSpec> table = {
      {"--model", true, "*",
       [](DriverOptions &o, std::string_view v) {
         return setString(o.modelName, v);
       }},
      {"--weights", true, "*",
       [](DriverOptions &o, std::string_view v) {
         o.weights = std::string(v);
         return true;
       }},
      {"--init-seed", true, "*",
       [](DriverOptions &o, std::string_view v) {
         uint64_t seed;
         if (!parseUnsigned(v, seed))
           return false;
         o.initSeed = seed;
         return true;
       }},
      {"--print-after-all", false, "*",
       [](DriverOptions &o, std::string_view) {
         o.printAfterAll = true;
         return true;
       }},
      {"--print-after", true, "*",
       [](DriverOptions &o, std::string_view v) {
         o.printAfter.emplace_back(v);
         return true;
       }},
      {"--stop-after", true, "ir run",
       [](DriverOptions &o, std::string_view v) {
         return setString(o.stopAfter, v);
       }},
      {"--input", true, "run",
       [](DriverOptions &o, std::string_view v) {
         return setString(o.input, v);
       }},
      {"--output", true, "run emit compile",
       [](DriverOptions &o, std::string_view v) {
         return setString(o.output, v);
       }},
      {"-o", true, "run emit compile",
       [](DriverOptions &o, std::string_view v) {
         return setString(o.output, v);
       }},
      {"--backend", true, "run bench",
       [](DriverOptions &o, std::string_view v) {
         if (v != "ref" && v != "cpu" && v != "cuda")
           return false;
         return setString(o.backend, v);
       }},
      {"--layers", false, "run bench",
       [](DriverOptions &o, std::string_view) {
         o.layers = true;
         return true;
       }},
      {"--target", true, "emit compile",
       [](DriverOptions &o, std::string_view v) {
         if (v != "cpu" && v != "cuda")
           return false;
         return setString(o.target, v);
       }},
      {"--format", true, "emit",
       [](DriverOptions &o, std::string_view v) {
         return setString(o.format, v);
       }},
      {"--name", true, "compile",
       [](DriverOptions &o, std::string_view v) {
         return setString(o.name, v);
       }},
      {"--cpu", true, "run emit compile bench",
       [](DriverOptions &o, std::string_view v) {
         return setString(o.cpu, v);
       }},
      {"--target-triple", true, "emit compile",
       [](DriverOptions &o, std::string_view v) {
         return setString(o.targetTriple, v);
       }},
      {"--gpu-arch", true, "run emit compile bench",
       [](DriverOptions &o, std::string_view v) {
         return setString(o.gpuArch, v);
       }},
      {"--precision", true, "run emit compile bench",
       [](DriverOptions &o, std::string_view v) {
         if (v != "f32" && v != "bf16" && v != "f16")
           return false;
         return setString(o.precision, v);
       }},
      {"--fast-math", false, "run emit compile bench",
       [](DriverOptions &o, std::string_view) {
         o.fastMath = true;
         return true;
       }},
      {"--external-weights", false, "run emit compile bench",
       [](DriverOptions &o, std::string_view) {
         o.externalWeights = true;
         return true;
       }},
      {"--no-huge-pages", false, "bench",
       [](DriverOptions &o, std::string_view) {
         o.hugePages = false;
         return true;
       }},
      {"--static-lib", false, "compile",
       [](DriverOptions &o, std::string_view) {
         o.staticLib = true;
         return true;
       }},
      {"--threads", true, "run bench",
       [](DriverOptions &o, std::string_view v) {
         uint64_t n;
         if (!parseUnsigned(v, n) || n == 0 || n > 1024)
           return false;
         o.threads = static_cast<unsigned>(n);
         return true;
       }},
      {"--batch", true, "bench",
       [](DriverOptions &o, std::string_view v) {
         o.batches.clear();
         while (!v.empty()) {
           size_t comma = v.find(',');
           uint64_t n;
           if (!parseUnsigned(v.substr(0, comma), n) || n > limits::kMaxBatch)
             return false;
           o.batches.push_back(n);
           v = comma == std::string_view::npos ? std::string_view()
                                               : v.substr(comma + 1);
         }
         return !o.batches.empty();
       }},
      {"--json", false, "bench",
       [](DriverOptions &o, std::string_view) {
         o.json = true;
         return true;
       }},
      {"--repeat", true, "bench",
       [](DriverOptions &o, std::string_view v) {
         uint64_t n;
         if (!parseUnsigned(v, n) || n > 1000000)
           return false;
         o.repeat = static_cast<unsigned>(n);
         return true;
       }},
  };
  return table;
}

bool allowedIn(const OptionSpec &spec, std::string_view command) {
  if (spec.commands == "*")
    return true;
  std::string_view list = spec.commands;
  while (!list.empty()) {
    size_t space = list.find(' ');
    if (list.substr(0, space) == command)
      return true;
    list = space == std::string_view::npos ? std::string_view()
                                           : list.substr(space + 1);
  }
  return false;
}

} // namespace

std::optional<DriverOptions> parseOptions(int argc, char **argv,
                                          bool &exitNow) {
  exitNow = false;
  DriverOptions opts;
  if (argc < 2) {
    std::fputs(usageText(), stderr);
    return std::nullopt;
  }
  std::string_view command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(usageText(), stdout);
    exitNow = true;
    return std::nullopt;
  }
  if (command == "--version") {
    std::puts("seqc 0.1.0");
    exitNow = true;
    return std::nullopt;
  }
  static constexpr std::string_view kCommands[] = {"check", "ir",      "run",
                                                   "emit",  "compile", "bench"};
  bool known = false;
  for (std::string_view c : kCommands)
    known |= c == command;
  if (!known) {
    fmt::print(stderr, "seqc: error: unknown command '{}' (try seqc --help)\n",
               command);
    return std::nullopt;
  }
  opts.command = std::string(command);

  for (int i = 2; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(usageText(), stdout);
      exitNow = true;
      return std::nullopt;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      opts.positional.emplace_back(arg);
      continue;
    }
    std::string_view name = arg, value;
    bool hasInlineValue = false;
    if (size_t eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      hasInlineValue = true;
    }
    const OptionSpec *spec = nullptr;
    for (const OptionSpec &candidate : optionTable())
      if (candidate.name == name)
        spec = &candidate;
    if (!spec) {
      fmt::print(stderr, "seqc: error: unknown option '{}'\n", name);
      return std::nullopt;
    }
    if (!allowedIn(*spec, command)) {
      fmt::print(stderr,
                 "seqc: error: option '{}' does not apply to 'seqc {}'\n", name,
                 command);
      return std::nullopt;
    }
    if (spec->takesValue && !hasInlineValue) {
      if (i + 1 >= argc) {
        fmt::print(stderr, "seqc: error: option '{}' needs a value\n", name);
        return std::nullopt;
      }
      value = argv[++i];
    } else if (!spec->takesValue && hasInlineValue) {
      fmt::print(stderr, "seqc: error: option '{}' takes no value\n", name);
      return std::nullopt;
    }
    if (!spec->set(opts, value)) {
      fmt::print(stderr, "seqc: error: invalid value '{}' for option '{}'\n",
                 value, name);
      return std::nullopt;
    }
  }
  if (opts.positional.size() != 1) {
    fmt::print(stderr,
               "seqc: error: 'seqc {}' needs exactly one MODEL.nn "
               "file (got {})\n",
               command, opts.positional.size());
    return std::nullopt;
  }
  if (opts.weights && opts.initSeed) {
    fmt::print(stderr,
               "seqc: error: --weights and --init-seed cannot be combined\n");
    return std::nullopt;
  }
  return opts;
}

} // namespace seqc::driver
