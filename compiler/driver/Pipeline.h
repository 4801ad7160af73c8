//===- Pipeline.h - From a .nn file to checked and fused IR -----*- C++ -*-===//
//
// Part of seqc. The stages every subcommand shares: parse the file, lower
// the chosen model, bind its weights, shape-check, then (for backends)
// canonicalise and fuse.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_DRIVER_PIPELINE_H
#define SEQC_DRIVER_PIPELINE_H

#include "compiler/driver/Options.h"
#include "compiler/ir/IR.h"
#include "compiler/support/Diagnostics.h"

#include <memory>
#include <string>

namespace seqc::driver {

/// Parses opts.positional[0], lowers the model opts.modelName (default: the
/// last in the file), binds weights (inline literals, the file's
/// load_state_dict, --weights or --init-seed) and runs the shape-check pass,
/// printing IR as --print-after(-all) asks. Returns nullptr after reporting
/// diagnostics.
std::unique_ptr<ir::Model> loadCheckedModel(const DriverOptions &opts,
                                            SourceManager &sourceMgr,
                                            DiagnosticEngine &diag);

/// Runs the optimisation passes (canonicalize, fuse) on a checked model,
/// stopping after \p stopAfter when it is not empty. Returns false after
/// reporting diagnostics. The result is what the backends consume: ops are
/// Dense, Act, Softmax, LogSoftmax, LayerNorm and Affine only.
bool optimizeModel(ir::Model &model, const DriverOptions &opts,
                   DiagnosticEngine &diag, const std::string &stopAfter = "");

/// loadCheckedModel followed by optimizeModel.
std::unique_ptr<ir::Model> loadOptimizedModel(const DriverOptions &opts,
                                              SourceManager &sourceMgr,
                                              DiagnosticEngine &diag);

} // namespace seqc::driver

#endif // SEQC_DRIVER_PIPELINE_H
