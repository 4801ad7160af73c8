//===- ModelCost.h - The work and weight bytes of a model -------*- C++ -*-===//
//
// Part of seqc. `seqc bench` turns times into rates with a model's FLOPs
// per sample and states how many bytes of weights a run reads. Only the
// matrix products are counted (2 * in * out per dense op): bias,
// activations and normalisations are small next to them, and leaving them
// out keeps the rate comparable with a GEMM library's.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_BENCH_MODELCOST_H
#define SEQC_BENCH_MODELCOST_H

#include "compiler/ir/IR.h"

#include <cstdint>

namespace seqc::bench {

/// FLOPs per sample of one op: 2 * in * out for a dense (or Linear) op, 0
/// for the rest.
uint64_t opFlops(const ir::Op &op);

/// Bytes of one op's parameters: a dense (or Linear) weight's elements take
/// \p matrixElementBytes each (2 for bf16 weights), every other element is
/// f32.
uint64_t opWeightBytes(const ir::Model &model, const ir::Op &op,
                       unsigned matrixElementBytes = sizeof(float));

/// FLOPs per sample of the whole model.
uint64_t flopsPerSample(const ir::Model &model);

/// f32 bytes of every parameter of the model.
uint64_t weightBytes(const ir::Model &model);

/// Number of dense (or Linear) ops.
unsigned denseOpCount(const ir::Model &model);

/// The largest feature count of any value: the widest row the reference
/// interpreter holds.
int64_t widestValue(const ir::Model &model);

} // namespace seqc::bench

#endif // SEQC_BENCH_MODELCOST_H
