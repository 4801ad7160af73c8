//===- Lowering.h - From module objects to the IR ---------------*- C++ -*-===//
#ifndef SEQC_FRONTEND_LOWERING_H
#define SEQC_FRONTEND_LOWERING_H

#include "frontend/Module.h"

#include "compiler/ir/IR.h"

#include <memory>
#include <string>

namespace seqc::frontend {

/// Flattens \p root (a Sequential or a single layer) into a chain of IR ops
/// in execution order. Parameters are named by their state_dict keys and
/// carry the module's current values. Value types are left unknown: the
/// shape-check pass infers them.
std::unique_ptr<ir::Model> lowerModule(const std::string &name,
                                       const Module &root);

} // namespace seqc::frontend

#endif // SEQC_FRONTEND_LOWERING_H
