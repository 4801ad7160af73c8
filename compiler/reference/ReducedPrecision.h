//===- ReducedPrecision.h - Dense products in each precision ----*- C++ -*-===//
//
// Part of seqc. The reference interpreter's simulation of `--precision`:
// the products x W^T of a Dense layer, before its bias, computed with the
// roundings the precision specifies (docs/cpu-backend.md, "Reduced
// precision") and everything else in double, so that the generated code of
// each mode can be checked as tightly as f32's.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_REFERENCE_REDUCEDPRECISION_H
#define SEQC_REFERENCE_REDUCEDPRECISION_H

#include "compiler/codegen/common/Precision.h"
#include "compiler/reference/Interpreter.h"

namespace seqc::reference {

/// x [rows, k] times W^T (W is [n, k], PyTorch's layout) in \p precision:
///  - f32: in double;
///  - bf16: x (as float) and W rounded to bf16, products summed in double;
///  - int8: W as int8 with a scale per output (symmetricScales), each row
///    of x quantised (codegen::quantizeRow), the int8 products summed
///    exactly, times both scales; a row with NaN or an infinity gives NaN;
///  - int8w: W as int8 times its scale, x as is.
/// f16 is the CUDA backend's and is not simulated (asserts).
Matrix denseProducts(const Matrix &x, const float *w, int64_t n, int64_t k,
                     codegen::Precision precision);

} // namespace seqc::reference

#endif // SEQC_REFERENCE_REDUCEDPRECISION_H
