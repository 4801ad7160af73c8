//===- TensorPrinter.h - PyTorch-style printing of results ------*- C++ -*-===//
#ifndef SEQC_DRIVER_TENSORPRINTER_H
#define SEQC_DRIVER_TENSORPRINTER_H

#include <cstdint>
#include <string>
#include <vector>

namespace seqc::driver {

/// Formats a row-major `[rows, cols]` matrix the way PyTorch prints a
/// tensor: `tensor([[-1.2635, -2.4348], ...])`, four decimals, switching to
/// scientific notation when magnitudes span too much.
std::string formatMatrix(const std::vector<double> &data, int64_t rows,
                         int64_t cols);

} // namespace seqc::driver

#endif // SEQC_DRIVER_TENSORPRINTER_H
