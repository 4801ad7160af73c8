//===- TensorPrinter.cpp - PyTorch-style printing of results --------------===//

#include "compiler/driver/TensorPrinter.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace seqc::driver {

static std::string formatValue(double v, bool scientific) {
  if (std::isnan(v))
    return "nan";
  if (std::isinf(v))
    return v > 0 ? "inf" : "-inf";
  return scientific ? fmt::format("{:.4e}", v) : fmt::format("{:.4f}", v);
}

std::string formatMatrix(const std::vector<double> &data, int64_t rows,
                         int64_t cols) {
  double maxAbs = 0.0, minAbs = INFINITY;
  for (double v : data) {
    if (!std::isfinite(v) || v == 0.0)
      continue;
    maxAbs = std::max(maxAbs, std::fabs(v));
    minAbs = std::min(minAbs, std::fabs(v));
  }
  // PyTorch switches to scientific notation for large ranges or extremes.
  bool scientific = maxAbs >= 1e8 || (minAbs < 1e-4 && maxAbs > 0.0) ||
                    (maxAbs > 0.0 && maxAbs / minAbs > 1000.0 && minAbs < 0.01);
  std::vector<std::string> cells(data.size());
  size_t width = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    cells[i] = formatValue(data[i], scientific);
    width = std::max(width, cells[i].size());
  }
  std::string out = "tensor([";
  for (int64_t r = 0; r < rows; ++r) {
    if (r)
      out += ",\n        ";
    out += '[';
    for (int64_t c = 0; c < cols; ++c) {
      if (c)
        out += ", ";
      const std::string &cell = cells[r * cols + c];
      out.append(width - cell.size(), ' ');
      out += cell;
    }
    out += ']';
  }
  return out + "])\n";
}

} // namespace seqc::driver
