//===- Options.cpp - Command-line options of the seqc driver --------------===//
//
// Part of seqc. Three tables say everything about the command line: the
// choices of each enum option (with their spellings), the commands, and the
// options (with the commands they apply to and their help). Parsing and the
// usage text both read them, so adding an option is adding one row.
//
//===----------------------------------------------------------------------===//

#include "compiler/driver/Options.h"

#include "compiler/support/Limits.h"

#include <fmt/format.h>

#include <charconv>
#include <cstdio>
#include <type_traits>

namespace seqc::driver {

namespace {

//===----------------------------------------------------------------------===//
// Choices
//===----------------------------------------------------------------------===//

/// One value of an enum option and how the command line spells it.
template <typename E> struct Choice {
  std::string_view spelling;
  E value;
  /// One line for the usage text (the commands only).
  std::string_view help = {};
};

constexpr Choice<Command> kCommands[] = {
    {"check", Command::Check,
     "validate weights, shape-check, print compile's footprint"},
    {"ir", Command::Ir,
     "print the IR (after the whole pipeline, or --stop-after=PASS)"},
    {"run", Command::Run,
     "run the model on an input file and print or save the output"},
    {"emit", Command::Emit,
     "print generated code (--target cpu|cuda, --format llvm|asm|cuda|ptx)"},
    {"compile", Command::Compile,
     "write PREFIX.h and PREFIX.o (-o DIR/PREFIX), print the footprint"},
    {"bench", Command::Bench, "time the compiled model (--batch 1,64,1024)"},
    {"view", Command::View,
     "draw the layers in --target's kernels (-o net.dot|svg|html)"},
};
constexpr Choice<Backend> kBackends[] = {
    {"ref", Backend::Ref}, {"cpu", Backend::Cpu}, {"cuda", Backend::Cuda}};
constexpr Choice<Target> kTargets[] = {{"cpu", Target::Cpu},
                                       {"cuda", Target::Cuda}};
constexpr Choice<EmitFormat> kFormats[] = {{"llvm", EmitFormat::Llvm},
                                           {"asm", EmitFormat::Asm},
                                           {"cuda", EmitFormat::Cuda},
                                           {"ptx", EmitFormat::Ptx}};
constexpr Choice<ProfileFormat> kProfileFormats[] = {
    {"html", ProfileFormat::Html}, {"svg", ProfileFormat::Svg}};
constexpr Choice<Precision> kPrecisions[] = {{"f32", Precision::F32},
                                             {"bf16", Precision::BF16},
                                             {"f16", Precision::F16},
                                             {"int8", Precision::Int8},
                                             {"int8w", Precision::Int8W}};

template <typename E, size_t N>
std::optional<E> parseChoice(const Choice<E> (&table)[N],
                             std::string_view text) {
  for (const Choice<E> &choice : table)
    if (choice.spelling == text)
      return choice.value;
  return std::nullopt;
}

template <typename E, size_t N>
std::string_view spellingIn(const Choice<E> (&table)[N], E value) {
  for (const Choice<E> &choice : table)
    if (choice.value == value)
      return choice.spelling;
  return "?";
}

/// `ref|cpu|cuda`: the usage text's value of an enum option.
template <const auto &Table> std::string joinedSpellings() {
  std::string out;
  for (const auto &choice : Table)
    out += (out.empty() ? "" : "|") + std::string(choice.spelling);
  return out;
}

/// --format's values: emit's, then bench's.
std::string formatSpellings() {
  return joinedSpellings<kFormats>() + "|" + joinedSpellings<kProfileFormats>();
}

//===----------------------------------------------------------------------===//
// The option table
//===----------------------------------------------------------------------===//

/// The options as they are read, and the --format text, which can be
/// checked only once --target (given before or after it) is known; bench
/// reads it from a table of its own.
struct ParseState {
  DriverOptions opts;
  std::optional<std::string_view> formatText;
};

/// Stores an option's value; false when the value is invalid.
using Setter = bool (*)(ParseState &, std::string_view);

/// A set of commands, one bit each.
using CommandSet = unsigned;
constexpr CommandSet kAllCommands = ~0u;
template <typename... C> constexpr CommandSet only(C... commands) {
  return ((1u << unsigned(commands)) | ...);
}

/// The usage text's sections, in order.
enum class Section { Common, Ir, Run, EmitCompile, Bench };
constexpr Choice<Section> kSections[] = {
    {"common options", Section::Common},
    {"ir", Section::Ir},
    {"run", Section::Run},
    {"emit / compile", Section::EmitCompile},
    {"bench (latency, GFLOP/s, share of the measured FP32 peak; "
     "docs/performance.md)",
     Section::Bench},
};

struct OptionSpec {
  std::string_view name;
  /// What the usage text shows after the name: ` NAME`, or `=PASS` for a
  /// value written inline. Empty for a flag and for an enum option.
  std::string_view metavar;
  /// An enum option's spellings, `a|b|c`, shown as its metavar.
  std::string (*choices)();
  CommandSet commands;
  Section section;
  /// The usage text's description; '\n' starts another line.
  std::string_view help;
  Setter set;

  bool takesValue() const { return !metavar.empty() || choices; }
};

bool parseUnsigned(std::string_view text, uint64_t &out) {
  if (text.empty())
    return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

template <auto Field> bool setTrue(ParseState &state, std::string_view) {
  state.opts.*Field = true;
  return true;
}

template <auto Field> bool setFalse(ParseState &state, std::string_view) {
  state.opts.*Field = false;
  return true;
}

template <auto Field> bool setText(ParseState &state, std::string_view value) {
  state.opts.*Field = std::string(value);
  return true;
}

template <auto Field, const auto &Table>
bool setChoice(ParseState &state, std::string_view value) {
  std::optional choice = parseChoice(Table, value);
  if (!choice)
    return false;
  state.opts.*Field = *choice;
  return true;
}

/// The type an option's value is stored as: T for a field of T or of
/// std::optional<T>.
template <typename T> struct StoredAs { using type = T; };
template <typename T> struct StoredAs<std::optional<T>> { using type = T; };

/// An unsigned option in [Min, Max].
template <auto Field, uint64_t Min, uint64_t Max>
bool setUnsigned(ParseState &state, std::string_view value) {
  uint64_t n;
  if (!parseUnsigned(value, n) || n < Min || n > Max)
    return false;
  using FieldType = std::remove_reference_t<decltype(state.opts.*Field)>;
  state.opts.*Field = static_cast<typename StoredAs<FieldType>::type>(n);
  return true;
}

bool setFormat(ParseState &state, std::string_view value) {
  state.formatText = value;
  return true;
}

bool addPrintAfter(ParseState &state, std::string_view value) {
  state.opts.printAfter.emplace_back(value);
  return true;
}

bool setBatches(ParseState &state, std::string_view value) {
  std::vector<uint64_t> &batches = state.opts.batches;
  batches.clear();
  while (!value.empty()) {
    size_t comma = value.find(',');
    uint64_t n;
    if (!parseUnsigned(value.substr(0, comma), n) || n > limits::kMaxBatch)
      return false;
    batches.push_back(n);
    value = comma == std::string_view::npos ? std::string_view()
                                            : value.substr(comma + 1);
  }
  return !batches.empty();
}

using Opts = DriverOptions;
using enum Command;
constexpr CommandSet kRunEmitCompileBench = only(Run, Emit, Compile, Bench);
/// Options that shape the code, which `seqc ir --print-plan` and `seqc view`
/// also read.
constexpr CommandSet kPlanRunEmitCompileBench =
    kRunEmitCompileBench | only(Ir, View);
/// Options that shape the CPU code, which `seqc check` compiles in memory
/// for its footprint.
constexpr CommandSet kCheckToo = only(Check);

/// Every option, in the order of the usage text. A new option is a field
/// of DriverOptions and one row here: its spelling, value, commands,
/// section, help and setter.
constexpr OptionSpec kOptions[] = {
    {"--model", " NAME", nullptr, kAllCommands, Section::Common,
     "the model to use when the file defines several\n(default: the last)",
     setText<&Opts::modelName>},
    {"--weights", " FILE", nullptr, kAllCommands, Section::Common,
     "weights (torch.save .pt/.pth/.bin or .safetensors);\noverrides the "
     "file's load_state_dict",
     setText<&Opts::weights>},
    {"--weights-prefix", " P", nullptr, kAllCommands, Section::Common,
     "take only the tensors of --weights whose keys start\nwith P, without "
     "it (e.g. model.)",
     setText<&Opts::weightsPrefix>},
    {"--init-seed", " N", nullptr, kAllCommands, Section::Common,
     "PyTorch-style random initialisation instead of weights",
     setUnsigned<&Opts::initSeed, 0, UINT64_MAX>},
    {"--print-after-all", "", nullptr, kAllCommands, Section::Common,
     "print the IR after every pass", setTrue<&Opts::printAfterAll>},
    {"--print-after", "=PASS", nullptr, kAllCommands, Section::Common,
     "print the IR after PASS (shape-check, canonicalize,\nfuse)",
     addPrintAfter},
    {"--stop-after", "=PASS", nullptr, only(Ir, Run), Section::Ir,
     "stop the pipeline after PASS; run (ref backend):\ninterpret that IR "
     "instead of the shape-checked IR",
     setText<&Opts::stopAfter>},
    {"--print-plan", "", nullptr, only(Ir), Section::Ir,
     "print the plan --target's backend makes of the fused\nIR (stages, "
     "buffers, work items, blocking; cpu: one\nper CPU of --cpu) instead of "
     "the IR",
     setTrue<&Opts::printPlan>},
    {"--input", " X.npy|X.csv", nullptr, only(Run), Section::Run,
     "float32 [batch, features] input", setText<&Opts::input>},
    {"--output", " Y.npy", nullptr, only(Run, Emit, Compile), Section::Run,
     "write the output to a file instead of printing it;\nemit, compile: "
     "the same as -o",
     setText<&Opts::output>},
    {"--backend", "", joinedSpellings<kBackends>, only(Run, Bench),
     Section::Run,
     "(also bench) the float64 reference interpreter, the\nLLVM CPU JIT "
     "(the default) or CUDA; bench's ref is a\nsanity check only",
     setChoice<&Opts::backend, kBackends>},
    {"--layers", "", nullptr, only(Run, Bench), Section::Run,
     "print every layer's output (HiddenLayer1, ...); bench\n(cpu): time "
     "every stage of the generated code in the\nrunning model: where the "
     "time goes",
     setTrue<&Opts::layers>},
    {"--no-cache", "", nullptr, only(Run, Bench), Section::Run,
     "(also bench) cpu: compile without the persistent\nobject cache "
     "(docs/cache.md)",
     setFalse<&Opts::cache>},
    {"--threads", " N", nullptr, only(Run, Bench), Section::Run,
     "(also bench) threads for the CPU code (default 1)",
     setUnsigned<&Opts::threads, 1, 1024>},
    {"--target", "", joinedSpellings<kTargets>, only(Ir, Emit, Compile, View),
     Section::EmitCompile,
     "(also ir --print-plan, view) the code to generate or\nplan (default: "
     "cpu)",
     setChoice<&Opts::target, kTargets>},
    {"--format", "", formatSpellings, only(Emit, Bench), Section::EmitCompile,
     "(emit) llvm or asm for cpu (default llvm), cuda or ptx\nfor cuda "
     "(default cuda); bench --layers: draw the\nprofile of the largest "
     "batch to -o: html, one page\nwith the picture, bars and a roofline; "
     "svg, the\npicture with bars, and the roofline beside it\n"
     "(-o p.svg: p.roofline.svg)",
     setFormat},
    {"-o", " PATH", nullptr, only(Run, Emit, Compile, View, Bench),
     Section::EmitCompile,
     "emit: the output file (default: stdout); compile:\nDIR/PREFIX of the "
     "files to write; view: net.dot,\nnet.svg or net.html (- for DOT on "
     "stdout); bench:\nthe file --format draws",
     setText<&Opts::output>},
    {"--name", " PREFIX", nullptr, only(Compile), Section::EmitCompile,
     "the prefix of the C symbols (default: PREFIX of -o)",
     setText<&Opts::name>},
    {"--cpu", " CPU", nullptr, kPlanRunEmitCompileBench | kCheckToo,
     Section::EmitCompile,
     "(also ir, run, bench, view, check) native (the\ndefault), "
     "x86-64-v2|v3|v4 or an LLVM CPU name;\na comma-separated list puts one "
     "variant each in\nthe object, picked at load time",
     setText<&Opts::cpu>},
    {"--target-triple", " T", nullptr, only(Ir, Emit, Compile, View, Check),
     Section::EmitCompile, "cross-compile for T (aarch64-linux-gnu)",
     setText<&Opts::targetTriple>},
    {"--gpu-arch", " sm_XX", nullptr, kPlanRunEmitCompileBench,
     Section::EmitCompile,
     "(also ir, run, bench, view) the GPU architecture\n(default sm_80; run, "
     "bench: "
     "the GPU at hand)",
     setText<&Opts::gpuArch>},
    {"--precision", "", joinedSpellings<kPrecisions>,
     kPlanRunEmitCompileBench | kCheckToo, Section::EmitCompile,
     "(also ir, run, bench, view, check) default f32; cpu\nand ref: bf16, int8 "
     "(weights and inputs), int8w (weights\nonly); cuda: bf16 and f16 on "
     "tensor cores",
     setChoice<&Opts::precision, kPrecisions>},
    {"--static-lib", "", nullptr, only(Compile), Section::EmitCompile,
     "(cpu) also write PREFIX.a", setTrue<&Opts::staticLib>},
    {"--fast-math", "", nullptr, kRunEmitCompileBench | kCheckToo,
     Section::EmitCompile,
     "(also run, bench, check) cpu: sigmoid, tanh, SiLU and\nGELU in float, "
     "within 6 ulp instead of 1; cuda:\nNVRTC's --use_fast_math",
     setTrue<&Opts::fastMath>},
    {"--external-weights", "", nullptr, kRunEmitCompileBench | kCheckToo,
     Section::EmitCompile,
     "(cpu; also check) write the packed weights to\nPREFIX.weights, which "
     "the app loads and passes to\nPREFIX_run, instead of embedding them in "
     "the object",
     setTrue<&Opts::externalWeights>},
    {"--batch", " LIST", nullptr, only(Bench), Section::Bench,
     "batch sizes to time (default 1,64,1024)", setBatches},
    {"--json", "", nullptr, only(Bench), Section::Bench,
     "one JSON object per batch (and per stage with --layers)",
     setTrue<&Opts::json>},
    {"--repeat", " N", nullptr, only(Bench), Section::Bench,
     "samples per batch (default: as many as fill about 1 s)",
     setUnsigned<&Opts::repeat, 0, 1000000>},
    {"--no-huge-pages", "", nullptr, only(Bench), Section::Bench,
     "(cpu) keep the JIT's packed weights in 4 KiB pages\ninstead of moving "
     "them into 2 MiB pages",
     setFalse<&Opts::hugePages>},
};

const OptionSpec *findOption(std::string_view name) {
  for (const OptionSpec &spec : kOptions)
    if (spec.name == name)
      return &spec;
  return nullptr;
}

bool allowedIn(const OptionSpec &spec, Command command) {
  return spec.commands & only(command);
}

//===----------------------------------------------------------------------===//
// Usage text
//===----------------------------------------------------------------------===//

/// Column where descriptions start.
constexpr size_t kHelpColumn = 24;

/// `  --name VALUE        help`, the help's further lines indented to
/// kHelpColumn; the help starts a line of its own after a long name.
std::string usageLine(const OptionSpec &spec) {
  std::string line = "  " + std::string(spec.name);
  if (spec.choices)
    line += " " + spec.choices();
  else if (!spec.metavar.empty())
    line += spec.metavar;
  line += line.size() < kHelpColumn
              ? std::string(kHelpColumn - line.size(), ' ')
              : "\n" + std::string(kHelpColumn, ' ');
  for (char c : spec.help)
    line +=
        c == '\n' ? "\n" + std::string(kHelpColumn, ' ') : std::string(1, c);
  return line + "\n";
}

//===----------------------------------------------------------------------===//
// Parsing
//===----------------------------------------------------------------------===//

/// What argv[1] asks for: a command, or help or the version (\p exitNow),
/// or nothing after reporting a usage error.
std::optional<Command> parseCommand(int argc, char **argv, bool &exitNow) {
  if (argc < 2) {
    std::fputs(usageText().c_str(), stderr);
    return std::nullopt;
  }
  std::string_view command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(usageText().c_str(), stdout);
    exitNow = true;
    return std::nullopt;
  }
  if (command == "--version") {
    std::puts("seqc 0.1.0");
    exitNow = true;
    return std::nullopt;
  }
  std::optional<Command> known = parseChoice(kCommands, command);
  if (!known)
    fmt::print(stderr, "seqc: error: unknown command '{}' (try seqc --help)\n",
               command);
  return known;
}

/// Reads the option at argv[i] (and its value, advancing \p i). Returns
/// false after reporting a usage error.
bool parseOption(ParseState &state, int argc, char **argv, int &i) {
  std::string_view arg = argv[i], name = arg, value;
  bool hasInlineValue = false;
  if (size_t eq = arg.find('='); eq != std::string_view::npos) {
    name = arg.substr(0, eq);
    value = arg.substr(eq + 1);
    hasInlineValue = true;
  }
  const OptionSpec *spec = findOption(name);
  if (!spec) {
    fmt::print(stderr, "seqc: error: unknown option '{}'\n", name);
    return false;
  }
  Command command = state.opts.command;
  if (!allowedIn(*spec, command)) {
    fmt::print(stderr, "seqc: error: option '{}' does not apply to 'seqc {}'\n",
               name, spelling(command));
    return false;
  }
  if (spec->takesValue() && !hasInlineValue) {
    if (i + 1 >= argc) {
      fmt::print(stderr, "seqc: error: option '{}' needs a value\n", name);
      return false;
    }
    value = argv[++i];
  } else if (!spec->takesValue() && hasInlineValue) {
    fmt::print(stderr, "seqc: error: option '{}' takes no value\n", name);
    return false;
  }
  if (!spec->set(state, value)) {
    fmt::print(stderr, "seqc: error: invalid value '{}' for option '{}'\n",
               value, name);
    return false;
  }
  return true;
}

/// bench's --format must name a picture of the profile.
bool resolveProfileFormat(ParseState &state) {
  std::optional<ProfileFormat> format =
      parseChoice(kProfileFormats, *state.formatText);
  if (format) {
    state.opts.profileFormat = format;
    return true;
  }
  fmt::print(stderr,
             "seqc: error: --format {} is not a picture 'seqc bench' draws "
             "(use html or svg)\n",
             *state.formatText);
  return false;
}

/// --format must name an output of --target (emit) or a picture (bench).
bool resolveFormat(ParseState &state) {
  if (!state.formatText)
    return true;
  if (state.opts.command == Command::Bench)
    return resolveProfileFormat(state);
  Target target = state.opts.target;
  std::optional<EmitFormat> format = parseChoice(kFormats, *state.formatText);
  if (format && targetOf(*format) == target) {
    state.opts.format = format;
    return true;
  }
  std::vector<std::string_view> valid;
  for (const Choice<EmitFormat> &choice : kFormats)
    if (targetOf(choice.value) == target)
      valid.push_back(choice.spelling);
  fmt::print(stderr,
             "seqc: error: --format {} is not a {} output format (use {})\n",
             *state.formatText, target == Target::Cpu ? "CPU" : "CUDA",
             fmt::join(valid, " or "));
  return false;
}

/// The checks that need every option: one model file, no conflicts.
bool checkComplete(ParseState &state) {
  const DriverOptions &opts = state.opts;
  if (opts.positional.size() != 1) {
    fmt::print(stderr,
               "seqc: error: 'seqc {}' needs exactly one MODEL.nn "
               "file (got {})\n",
               spelling(opts.command), opts.positional.size());
    return false;
  }
  if (opts.weights && opts.initSeed) {
    fmt::print(stderr,
               "seqc: error: --weights and --init-seed cannot be combined\n");
    return false;
  }
  return resolveFormat(state);
}

} // namespace

std::string_view spelling(Command command) {
  return spellingIn(kCommands, command);
}
std::string_view spelling(Backend backend) {
  return spellingIn(kBackends, backend);
}
std::string_view spelling(Target target) {
  return spellingIn(kTargets, target);
}
std::string_view spelling(EmitFormat format) {
  return spellingIn(kFormats, format);
}
std::string_view spelling(ProfileFormat format) {
  return spellingIn(kProfileFormats, format);
}
std::string_view spelling(Precision precision) {
  return spellingIn(kPrecisions, precision);
}

Target targetOf(EmitFormat format) {
  return format == EmitFormat::Llvm || format == EmitFormat::Asm ? Target::Cpu
                                                                 : Target::Cuda;
}

std::string usageText() {
  std::string text = "usage: seqc <command> MODEL.nn [options]\n\ncommands:\n";
  for (const Choice<Command> &command : kCommands)
    text += fmt::format("  {:<8} {}\n", command.spelling, command.help);
  for (const Choice<Section> &section : kSections) {
    text += fmt::format("\n{}:\n", section.spelling);
    for (const OptionSpec &spec : kOptions)
      if (spec.section == section.value)
        text += usageLine(spec);
  }
  // The codes every command returns (Commands.h).
  text += "\nexit status:\n"
          "  0  success\n"
          "  1  a user or input error: a bad model, weights or input file, or "
          "a bad\n"
          "     option (the diagnostics say which)\n"
          "  2  an environment failure: an output that cannot be written, "
          "no CUDA\n"
          "     driver or GPU, NVRTC failing, a backend or reader this seqc "
          "was built\n"
          "     without (bench: out of memory)\n";
  return text;
}

std::optional<DriverOptions> parseOptions(int argc, char **argv,
                                          bool &exitNow) {
  exitNow = false;
  std::optional<Command> command = parseCommand(argc, argv, exitNow);
  if (!command)
    return std::nullopt;
  ParseState state;
  state.opts.command = *command;
  for (int i = 2; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(usageText().c_str(), stdout);
      exitNow = true;
      return std::nullopt;
    }
    if (arg.size() < 2 || arg[0] != '-')
      state.opts.positional.emplace_back(arg);
    else if (!parseOption(state, argc, argv, i))
      return std::nullopt;
  }
  if (!checkComplete(state))
    return std::nullopt;
  return std::move(state.opts);
}

} // namespace seqc::driver
