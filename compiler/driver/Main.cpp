//===- Main.cpp - The seqc command line -----------------------------------===//

#include "compiler/driver/Commands.h"
#include "compiler/driver/Options.h"

#include <string_view>

int main(int argc, char **argv) {
  using namespace seqc::driver;
  bool exitNow = false;
  std::optional<DriverOptions> opts = parseOptions(argc, argv, exitNow);
  if (!opts)
    return exitNow ? 0 : 1;
  std::string_view command = opts->command;
  if (command == "check")
    return runCheckCommand(*opts);
  if (command == "ir")
    return runIrCommand(*opts);
  if (command == "run")
    return runRunCommand(*opts);
  if (command == "emit")
    return runEmitCommand(*opts);
  if (command == "compile")
    return runCompileCommand(*opts);
  return runBenchCommand(*opts);
}
