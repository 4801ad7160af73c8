//===- Commands.h - The seqc subcommands ------------------------*- C++ -*-===//
#ifndef SEQC_DRIVER_COMMANDS_H
#define SEQC_DRIVER_COMMANDS_H

#include "compiler/driver/Options.h"

namespace seqc::driver {

/// Each returns the process exit code: 0 on success, 1 on any user or input
/// error (after printing diagnostics), 2 on an environment failure.
int runCheckCommand(const DriverOptions &opts);
int runIrCommand(const DriverOptions &opts);
int runRunCommand(const DriverOptions &opts);
int runEmitCommand(const DriverOptions &opts);
int runCompileCommand(const DriverOptions &opts);
int runBenchCommand(const DriverOptions &opts);
int runViewCommand(const DriverOptions &opts);

} // namespace seqc::driver

#endif // SEQC_DRIVER_COMMANDS_H
