//===- count_correct.cpp - Count correct classifications ------------------===//
//
// Part of seqc's tests (app.example). Usage:
//
//   count_correct SCORES.npy SAMPLES.csv
//
// SCORES.npy is `[rows, classes]` (as `seqc run --output` writes it, read at
// float64 precision); SAMPLES.csv has the label in its first column (a
// header row and `#` comment lines are fine). Prints `correct: N of M`, where
// a row is correct when its largest score (the first one on ties, like
// torch.argmax) is at the label's index. Exits 2 on unreadable files or
// mismatched shapes.
//
//===----------------------------------------------------------------------===//

#include "compiler/support/Diagnostics.h"
#include "compiler/support/SourceManager.h"
#include "frontend/Csv.h"
#include "frontend/Npy.h"

#include <fmt/format.h>

#include <cmath>

using namespace seqc;

int main(int argc, char **argv) {
  if (argc != 3) {
    fmt::print(stderr, "usage: count_correct SCORES.npy SAMPLES.csv\n");
    return 2;
  }
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  std::optional<NpyArray> scores = readNpyDouble(argv[1], diag);
  std::optional<Tensor> samples = readCsv(argv[2], sourceMgr, diag);
  if (!scores || !samples)
    return 2;
  int64_t rows = scores->shape[0], classes = scores->shape[1];
  if (samples->shape.size() != 2 || samples->shape[0] != rows || classes == 0) {
    fmt::print(stderr,
               "count_correct: error: {} scores for {} samples ({} classes)\n",
               rows, samples->shape.empty() ? 0 : samples->shape[0], classes);
    return 2;
  }
  int64_t cols = samples->shape[1], correct = 0;
  for (int64_t r = 0; r < rows; ++r) {
    float label = samples->data[r * cols];
    if (!(label >= 0) || label >= classes || std::floor(label) != label) {
      fmt::print(stderr, "count_correct: error: row {}: bad label {}\n", r,
                 label);
      return 2;
    }
    const double *row = &scores->data[r * classes];
    int64_t best = 0;
    for (int64_t c = 1; c < classes; ++c)
      if (row[c] > row[best])
        best = c;
    correct += best == static_cast<int64_t>(label);
  }
  fmt::print("correct: {} of {}\n", correct, rows);
  return 0;
}
