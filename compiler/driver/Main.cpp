//===- Main.cpp - The seqc command line -----------------------------------===//

#include "compiler/driver/Commands.h"
#include "compiler/driver/Options.h"
#include "compiler/support/Diagnostics.h"

int main(int argc, char **argv) {
  using namespace seqc::driver;
  bool exitNow = false;
  std::optional<DriverOptions> opts = parseOptions(argc, argv, exitNow);
  if (!opts)
    return exitNow ? 0 : 1;
  int status = 1;
  switch (opts->command) {
  case Command::Check:
    status = runCheckCommand(*opts);
    break;
  case Command::Ir:
    status = runIrCommand(*opts);
    break;
  case Command::Run:
    status = runRunCommand(*opts);
    break;
  case Command::Emit:
    status = runEmitCommand(*opts);
    break;
  case Command::Compile:
    status = runCompileCommand(*opts);
    break;
  case Command::View:
    status = runViewCommand(*opts);
    break;
  case Command::Bench:
    status = runBenchCommand(*opts);
    break;
  }
  // A failure the environment caused exits 2 (README, "Exit codes").
  return status == 1 && seqc::environmentFailureReported() ? 2 : status;
}
