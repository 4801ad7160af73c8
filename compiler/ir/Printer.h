//===- Printer.h - Stable textual form of the IR ----------------*- C++ -*-===//
#ifndef SEQC_IR_PRINTER_H
#define SEQC_IR_PRINTER_H

#include "compiler/ir/IR.h"

#include <string>

namespace seqc::ir {

/// Prints \p model in the stable text form used by `seqc ir` and the golden
/// tests. The form does not depend on file paths or parameter values.
std::string printModel(const Model &model);

} // namespace seqc::ir

#endif // SEQC_IR_PRINTER_H
