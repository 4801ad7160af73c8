//===- libxsmm_mlp.cpp - Benchmark peer: libxsmm JIT kernels --------------===//
//
// Part of seqc's benchmark harness. libxsmm (1.17) JIT-generates small-GEMM
// kernels; each layer is tiled into blocks of at most 64 outputs x 64 batch
// rows, each block pre-filled with the bias, accumulated over K in chunks of
// at most 256 by a dispatched kernel (beta = 1), then passed through the
// activation while it is still in cache. All kernels are dispatched (JIT)
// and weights transposed ahead of time; tiles are spread over OpenMP threads.
//
// libxsmm is column-major: Y[B][out] row-major is C (out x B, ldc = out),
// A is W^T stored as Wt[in][out] (out x in, lda = out), B is X[B][in]
// (in x B, ldb = in).
//
//===----------------------------------------------------------------------===//

#include "PeerHarness.h"

#include <libxsmm.h>

#include <string>
#include <vector>

namespace {

constexpr int64_t kBlockM = 64, kBlockN = 64, kBlockK = 256;

struct Tile {
  int64_t m0, mb, n0, nb;
};

struct LayerPlan {
  const peer::Layer *layer = nullptr;
  std::vector<float> wt; ///< [in][out]
  std::vector<Tile> tiles;
  int64_t kChunks = 0;
  /// The kernel of every (tile, K chunk), tile-major, dispatched ahead.
  std::vector<libxsmm_smmfunction> tileKernels;
};

libxsmm_smmfunction dispatch(int64_t m, int64_t n, int64_t k, int64_t lda,
                             int64_t ldb, int64_t ldc) {
  libxsmm_blasint lm = m, ln = n, lk = k, la = lda, lb = ldb, lc = ldc;
  float alpha = 1.0f, beta = 1.0f;
  int flags = LIBXSMM_GEMM_FLAG_NONE;
  libxsmm_smmfunction fn = libxsmm_smmdispatch(lm, ln, lk, &la, &lb, &lc,
                                               &alpha, &beta, &flags, nullptr);
  if (!fn)
    peer::fail("libxsmm could not JIT a " + std::to_string(m) + "x" +
               std::to_string(n) + "x" + std::to_string(k) + " kernel");
  return fn;
}

LayerPlan plan(const peer::Layer &layer, int64_t batch) {
  LayerPlan p;
  p.layer = &layer;
  p.wt.resize(size_t(layer.in * layer.out));
  for (int64_t o = 0; o < layer.out; ++o)
    for (int64_t i = 0; i < layer.in; ++i)
      p.wt[i * layer.out + o] = layer.weight[o * layer.in + i];
  for (int64_t n0 = 0; n0 < batch; n0 += kBlockN)
    for (int64_t m0 = 0; m0 < layer.out; m0 += kBlockM)
      p.tiles.push_back({m0, std::min(kBlockM, layer.out - m0), n0,
                         std::min(kBlockN, batch - n0)});
  p.kChunks = (layer.in + kBlockK - 1) / kBlockK;
  for (const Tile &t : p.tiles)
    for (int64_t k0 = 0; k0 < layer.in; k0 += kBlockK)
      // libxsmm caches kernels by shape: one JIT per distinct block.
      p.tileKernels.push_back(dispatch(t.mb, t.nb,
                                       std::min(kBlockK, layer.in - k0),
                                       layer.out, layer.in, layer.out));
  return p;
}

/// One tile: bias, the K chunks, then the activation while it is in cache.
void runTile(const LayerPlan &p, size_t ti, const float *x, float *y) {
  const peer::Layer &layer = *p.layer;
  const Tile &t = p.tiles[ti];
  for (int64_t j = 0; j < t.nb; ++j) {
    float *c = y + (t.n0 + j) * layer.out + t.m0;
    for (int64_t i = 0; i < t.mb; ++i)
      c[i] = layer.bias[t.m0 + i];
  }
  const libxsmm_smmfunction *fn = &p.tileKernels[ti * size_t(p.kChunks)];
  for (int64_t k0 = 0, kc = 0; k0 < layer.in; k0 += kBlockK, ++kc)
    fn[kc](p.wt.data() + k0 * layer.out + t.m0, x + t.n0 * layer.in + k0,
           y + t.n0 * layer.out + t.m0);
  if (layer.act == peer::Act::None)
    return;
  for (int64_t j = 0; j < t.nb; ++j) {
    float *c = y + (t.n0 + j) * layer.out + t.m0;
    switch (layer.act) {
    case peer::Act::ReLU:
#pragma omp simd
      for (int64_t i = 0; i < t.mb; ++i)
        c[i] = std::max(c[i], 0.0f);
      break;
    case peer::Act::Sigmoid:
#pragma omp simd
      for (int64_t i = 0; i < t.mb; ++i)
        c[i] = 1.0f / (1.0f + std::exp(-c[i]));
      break;
    case peer::Act::Tanh:
#pragma omp simd
      for (int64_t i = 0; i < t.mb; ++i)
        c[i] = std::tanh(c[i]);
      break;
    case peer::Act::None:
      break;
    }
  }
}

void runLayer(const LayerPlan &p, const float *x, float *y, int threads) {
  size_t count = p.tiles.size();
  // No OpenMP region on one thread or one tile: entering one (even with a
  // false `if` clause) costs more than a tiny layer.
  if (threads == 1 || count == 1) {
    for (size_t ti = 0; ti < count; ++ti)
      runTile(p, ti, x, y);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t ti = 0; ti < count; ++ti)
    runTile(p, ti, x, y);
}

} // namespace

int main(int argc, char **argv) {
  peer::Options opts = peer::parseOptions(argc, argv);
  libxsmm_init();
  int64_t inFeatures = opts.layers.front().in;
  int64_t maxBatch =
      *std::max_element(opts.batches.begin(), opts.batches.end());
  std::vector<float> input = peer::makeInput(maxBatch, inFeatures);
  std::vector<std::vector<float>> outputs;
  for (const peer::Layer &layer : opts.layers)
    outputs.emplace_back(size_t(maxBatch * layer.out));
  std::string info = "libxsmm " LIBXSMM_VERSION " (" +
                     std::string(libxsmm_get_target_arch()) + ")";

  for (int64_t batch : opts.batches) {
    std::vector<LayerPlan> plans;
    for (const peer::Layer &layer : opts.layers)
      plans.push_back(plan(layer, batch));
    auto run = [&] {
      const float *x = input.data();
      for (size_t l = 0; l < plans.size(); ++l) {
        runLayer(plans[l], x, outputs[l].data(), opts.threads);
        x = outputs[l].data();
      }
    };
    run();
    double error = peer::checkRows(opts.layers, input.data(),
                                   outputs.back().data(), batch);
    peer::Timing timing = peer::timeRuns(run, opts.repeat);
    peer::report("libxsmm", info, batch, opts.threads, timing, error);
  }
  libxsmm_finalize();
  return 0;
}
