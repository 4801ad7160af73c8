//===- OptionsTest.cpp - The seqc command line's options ------------------===//
//
// Every choice is parsed once into its enum, defaults stay unset where the
// command decides them, --format is checked against --target wherever it
// stands, and the usage text lists every option with its choices.
//
//===----------------------------------------------------------------------===//

#include "compiler/driver/Options.h"

#include <doctest/doctest.h>

#include <initializer_list>
#include <string>
#include <vector>

using namespace seqc::driver;

namespace {

/// parseOptions on `seqc ARGS...`.
std::optional<DriverOptions> parse(std::initializer_list<const char *> args,
                                   bool *exitNow = nullptr) {
  std::vector<std::string> storage = {"seqc"};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char *> argv;
  for (std::string &arg : storage)
    argv.push_back(arg.data());
  bool exit = false;
  std::optional<DriverOptions> opts =
      parseOptions(int(argv.size()), argv.data(), exit);
  if (exitNow)
    *exitNow = exit;
  return opts;
}

} // namespace

TEST_CASE("choices parse into their enums") {
  std::optional<DriverOptions> run =
      parse({"run", "m.nn", "--backend", "cuda", "--precision=bf16"});
  REQUIRE(run);
  CHECK(run->command == Command::Run);
  CHECK(run->backend == Backend::Cuda);
  CHECK(run->precision == Precision::BF16);

  std::optional<DriverOptions> emit =
      parse({"emit", "m.nn", "--format", "ptx", "--target", "cuda"});
  REQUIRE(emit);
  CHECK(emit->command == Command::Emit);
  CHECK(emit->target == Target::Cuda);
  CHECK(emit->format == EmitFormat::Ptx);
}

TEST_CASE("defaults the command decides stay unset") {
  std::optional<DriverOptions> bench = parse({"bench", "m.nn"});
  REQUIRE(bench);
  CHECK(bench->command == Command::Bench);
  CHECK_FALSE(bench->backend);
  CHECK_FALSE(bench->precision);
  CHECK_FALSE(bench->format);
  CHECK(bench->target == Target::Cpu);
  CHECK(bench->threads == 1);
  CHECK(bench->hugePages);
}

TEST_CASE("values are checked where they are parsed") {
  CHECK_FALSE(parse({"run", "m.nn", "--backend", "gpu"}));
  CHECK_FALSE(parse({"emit", "m.nn", "--target", "tpu"}));
  CHECK_FALSE(parse({"emit", "m.nn", "--precision", "fp8"}));
  CHECK_FALSE(parse({"bench", "m.nn", "--threads", "0"}));
  CHECK_FALSE(parse({"bench", "m.nn", "--batch", "1,,2"}));
  CHECK_FALSE(parse({"check", "m.nn", "--init-seed", "-5"}));
  std::optional<DriverOptions> batches =
      parse({"bench", "m.nn", "--batch", "1,64", "--repeat", "5", "--threads",
             "2", "--init-seed", "18446744073709551615"});
  REQUIRE(batches);
  CHECK(batches->batches == std::vector<uint64_t>{1, 64});
  CHECK(batches->repeat == 5);
  CHECK(batches->threads == 2);
  CHECK(batches->initSeed == 18446744073709551615ull);
}

TEST_CASE("bench's --format draws the profile; emit's values stay emit's") {
  std::optional<DriverOptions> bench =
      parse({"bench", "m.nn", "--layers", "--format", "html", "-o", "p.html"});
  REQUIRE(bench);
  CHECK(bench->profileFormat == ProfileFormat::Html);
  CHECK_FALSE(bench->format);
  CHECK(bench->output == "p.html");
  CHECK(parse({"bench", "m.nn", "--format=svg"})->profileFormat ==
        ProfileFormat::Svg);
  CHECK_FALSE(parse({"bench", "m.nn", "--format", "llvm"}));
  CHECK_FALSE(parse({"emit", "m.nn", "--format", "html"}));
  CHECK_FALSE(parse({"run", "m.nn", "--format", "html"}));
  CHECK(spelling(ProfileFormat::Svg) == "svg");
}

TEST_CASE("--format must be an output of --target, given before or after") {
  CHECK(parse({"emit", "m.nn", "--format", "asm"})->format == EmitFormat::Asm);
  CHECK(parse({"emit", "m.nn", "--target", "cuda"})->format == std::nullopt);
  CHECK_FALSE(parse({"emit", "m.nn", "--format", "ptx"}));
  CHECK_FALSE(parse({"emit", "m.nn", "--format", "llvm", "--target", "cuda"}));
  CHECK_FALSE(parse({"emit", "m.nn", "--target", "cpu", "--format", "bin"}));
  CHECK_FALSE(parse({"compile", "m.nn", "--format", "asm"}));
}

TEST_CASE("options apply to their commands only") {
  CHECK_FALSE(parse({"check", "m.nn", "--input", "x.csv"}));
  CHECK_FALSE(parse({"run", "m.nn", "--json"}));
  CHECK(parse({"ir", "m.nn", "--stop-after=fuse"})->stopAfter == "fuse");
  CHECK(parse({"bench", "m.nn", "--no-huge-pages"})->hugePages == false);
  CHECK_FALSE(parse({"bench", "m.nn", "--layers=yes"}));
  CHECK_FALSE(parse({"check"}));
  CHECK_FALSE(parse({"verify", "m.nn"}));
}

TEST_CASE("--help exits cleanly") {
  bool exitNow = false;
  CHECK_FALSE(parse({"--help"}, &exitNow));
  CHECK(exitNow);
  CHECK_FALSE(parse({"run", "-h"}, &exitNow));
  CHECK(exitNow);
}

TEST_CASE("the usage text ends with the exit codes") {
  std::string usage = usageText();
  size_t at = usage.find("\nexit status:\n");
  REQUIRE(at != std::string::npos);
  std::string_view codes = std::string_view(usage).substr(at);
  CHECK(codes.find("\n  0  success\n") != std::string::npos);
  CHECK(codes.find("\n  1  a user or input error") != std::string::npos);
  CHECK(codes.find("\n  2  an environment failure") != std::string::npos);
}

TEST_CASE("spellings are the command line's") {
  CHECK(spelling(Command::Compile) == "compile");
  CHECK(spelling(Backend::Ref) == "ref");
  CHECK(spelling(Target::Cuda) == "cuda");
  CHECK(spelling(EmitFormat::Llvm) == "llvm");
  CHECK(spelling(Precision::F16) == "f16");
  CHECK(targetOf(EmitFormat::Asm) == Target::Cpu);
  CHECK(targetOf(EmitFormat::Ptx) == Target::Cuda);
}

TEST_CASE("the usage text lists every command and option with its choices") {
  std::string usage = usageText();
  CHECK(usage.find("usage: seqc <command> MODEL.nn [options]\n") == 0);
  for (const char *command :
       {"\n  check    ", "\n  ir       ", "\n  run      ", "\n  emit     ",
        "\n  compile  ", "\n  bench    "})
    CHECK(usage.find(command) != std::string::npos);
  for (const char *option : {"\n  --model NAME ",
                             "\n  --weights FILE ",
                             "\n  --init-seed N ",
                             "\n  --print-after-all ",
                             "\n  --print-after=PASS ",
                             "\n  --stop-after=PASS ",
                             "\n  --input X.npy|X.csv ",
                             "\n  --output Y.npy ",
                             "\n  --backend ref|cpu|cuda\n",
                             "\n  --layers ",
                             "\n  --threads N ",
                             "\n  --target cpu|cuda ",
                             "\n  --format llvm|asm|cuda|ptx|html|svg\n",
                             "\n  -o PATH ",
                             "\n  --name PREFIX ",
                             "\n  --cpu CPU ",
                             "\n  --target-triple T ",
                             "\n  --gpu-arch sm_XX ",
                             "\n  --precision f32|bf16|f16|int8|int8w\n",
                             "\n  --static-lib ",
                             "\n  --fast-math ",
                             "\n  --external-weights ",
                             "\n  --batch LIST ",
                             "\n  --json ",
                             "\n  --repeat N ",
                             "\n  --no-huge-pages "}) {
    INFO(option);
    CHECK(usage.find(option) != std::string::npos);
  }
  // Every line fits in 80 columns.
  size_t start = 0;
  while (start < usage.size()) {
    size_t end = usage.find('\n', start);
    INFO(usage.substr(start, end - start));
    CHECK(end - start <= 80);
    start = end + 1;
  }
}
