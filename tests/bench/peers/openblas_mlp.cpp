//===- openblas_mlp.cpp - Benchmark peer: OpenBLAS sgemm + a loop ---------===//
//
// Part of seqc's benchmark harness. Per layer, one cblas_sgemm (row-major
// X[B,in] times W^T, W in PyTorch's [out,in] layout) followed by one loop
// that adds the bias and applies the activation (OpenMP over rows when
// --threads > 1; built with -ffast-math so glibc's vector expf is used).
// OpenBLAS's own threads: openblas_set_num_threads. The info field says
// which kernel OpenBLAS picked (openblas_get_corename), which depends on
// OPENBLAS_CORETYPE in the environment.
//
//===----------------------------------------------------------------------===//

#include "PeerHarness.h"

#include <cblas.h>

#include <string>
#include <vector>

namespace {

void biasAndActivationRow(const peer::Layer &layer, float *row) {
  const float *bias = layer.bias.data();
  int64_t n = layer.out;
  switch (layer.act) {
  case peer::Act::None:
#pragma omp simd
    for (int64_t c = 0; c < n; ++c)
      row[c] += bias[c];
    break;
  case peer::Act::ReLU:
#pragma omp simd
    for (int64_t c = 0; c < n; ++c)
      row[c] = std::max(row[c] + bias[c], 0.0f);
    break;
  case peer::Act::Sigmoid:
#pragma omp simd
    for (int64_t c = 0; c < n; ++c)
      row[c] = 1.0f / (1.0f + std::exp(-(row[c] + bias[c])));
    break;
  case peer::Act::Tanh:
#pragma omp simd
    for (int64_t c = 0; c < n; ++c)
      row[c] = std::tanh(row[c] + bias[c]);
    break;
  }
}

void biasAndActivation(const peer::Layer &layer, float *y, int64_t batch,
                       int threads) {
  // No OpenMP region for one thread or one row: entering one costs more
  // than a small row.
  if (threads == 1 || batch == 1) {
    for (int64_t r = 0; r < batch; ++r)
      biasAndActivationRow(layer, y + r * layer.out);
    return;
  }
#pragma omp parallel for num_threads(threads)
  for (int64_t r = 0; r < batch; ++r)
    biasAndActivationRow(layer, y + r * layer.out);
}

} // namespace

int main(int argc, char **argv) {
  peer::Options opts = peer::parseOptions(argc, argv);
  peer::requirePrecision(opts, "openblas", {peer::Precision::F32});
  openblas_set_num_threads(opts.threads);
  int64_t inFeatures = opts.layers.front().in;
  int64_t maxBatch =
      *std::max_element(opts.batches.begin(), opts.batches.end());
  std::vector<float> input = peer::makeInput(maxBatch, inFeatures);
  std::vector<std::vector<float>> outputs;
  for (const peer::Layer &layer : opts.layers)
    outputs.emplace_back(size_t(maxBatch * layer.out));

  const char *core = openblas_get_corename();
  std::string info = std::string("OpenBLAS ") + (core ? core : "?") + " (" +
                     openblas_get_config() + ")";
  for (char &c : info)
    if (c == '"' || c == '\\')
      c = ' ';

  for (int64_t batch : opts.batches) {
    auto run = [&] {
      const float *x = input.data();
      for (size_t l = 0; l < opts.layers.size(); ++l) {
        const peer::Layer &layer = opts.layers[l];
        float *y = outputs[l].data();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(batch),
                    int(layer.out), int(layer.in), 1.0f, x, int(layer.in),
                    layer.weight.data(), int(layer.in), 0.0f, y,
                    int(layer.out));
        biasAndActivation(layer, y, batch, opts.threads);
        x = y;
      }
    };
    run();
    peer::Accuracy accuracy = peer::checkRows(opts.layers, input.data(),
                                              outputs.back().data(), batch);
    peer::Timing timing = peer::timeRuns(run, opts.repeat);
    peer::report("openblas", info, opts, batch, timing, accuracy);
  }
  return 0;
}
