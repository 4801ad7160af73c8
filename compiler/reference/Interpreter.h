//===- Interpreter.h - The float64 reference backend ------------*- C++ -*-===//
//
// Part of seqc. Interprets any stage of the IR (before or after
// canonicalisation and fusion) in double precision. It is the oracle every
// other backend is tested against, and it follows PyTorch's definitions of
// each layer, including how NaN and infinities propagate.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_REFERENCE_INTERPRETER_H
#define SEQC_REFERENCE_INTERPRETER_H

#include "compiler/codegen/common/Precision.h"
#include "compiler/ir/IR.h"

#include <cstdint>
#include <vector>

namespace seqc::reference {

/// A row-major `[rows, cols]` matrix of doubles.
struct Matrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<double> data;

  Matrix() = default;
  Matrix(int64_t rows, int64_t cols)
      : rows(rows), cols(cols), data(static_cast<size_t>(rows * cols), 0.0) {}
  double &at(int64_t r, int64_t c) { return data[r * cols + c]; }
  double at(int64_t r, int64_t c) const { return data[r * cols + c]; }
};

/// Evaluates one activation in double precision, PyTorch's definition.
double evalActivation(const ir::Activation &act, double x);

/// Runs \p model on \p input (`[batch, inputFeatures]`). The model must
/// verify and have every parameter bound. When \p layerOutputs is given, it
/// receives the output of every op in order. \p precision other than f32
/// simulates the roundings of that precision in the Dense and Linear ops
/// (ReducedPrecision.h; not f16); everything else stays in double.
Matrix run(const ir::Model &model, const Matrix &input,
           std::vector<Matrix> *layerOutputs = nullptr,
           codegen::Precision precision = codegen::Precision::F32);

} // namespace seqc::reference

#endif // SEQC_REFERENCE_INTERPRETER_H
