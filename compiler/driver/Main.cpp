//===- Main.cpp - The seqc command line -----------------------------------===//

#include "compiler/driver/Commands.h"
#include "compiler/driver/Options.h"

int main(int argc, char **argv) {
  using namespace seqc::driver;
  bool exitNow = false;
  std::optional<DriverOptions> opts = parseOptions(argc, argv, exitNow);
  if (!opts)
    return exitNow ? 0 : 1;
  switch (opts->command) {
  case Command::Check:
    return runCheckCommand(*opts);
  case Command::Ir:
    return runIrCommand(*opts);
  case Command::Run:
    return runRunCommand(*opts);
  case Command::Emit:
    return runEmitCommand(*opts);
  case Command::Compile:
    return runCompileCommand(*opts);
  case Command::View:
    return runViewCommand(*opts);
  case Command::Bench:
    break;
  }
  return runBenchCommand(*opts);
}
