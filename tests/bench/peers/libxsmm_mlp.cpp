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
// --precision bf16: libxsmm 1.17's bf16 kernels (bf16 A and B, f32 C; on
// AVX512_BF16 hosts vdpbf16ps), which take A in its "VNNI" layout: pairs of
// k, Wt2[in/2][out][2]. K is padded to even with zeros (Kp), so X is stored
// as bf16 [B][Kp]. The f32 input is rounded to bf16 in the timed run; each
// inner layer rounds its tile to bf16 into the next layer's input after the
// activation; the last layer's f32 tile is the output.
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
  std::vector<float> wt; ///< f32: [in][out]
  std::vector<Tile> tiles;
  int64_t kChunks = 0;
  /// The kernel of every (tile, K chunk), tile-major, dispatched ahead.
  std::vector<libxsmm_smmfunction> tileKernels;
  /// bf16: the weights as Wt2[kPad/2][out][2], kPad = in rounded up to even
  /// (the row stride of the layer's bf16 input), and the kernels.
  std::vector<libxsmm_bfloat16> wtPairs;
  int64_t kPad = 0;
  std::vector<libxsmm_bsmmfunction> bf16Kernels;
  /// bf16, inner layers: the next layer's bf16 input [B][next kPad].
  libxsmm_bfloat16 *next = nullptr;
  int64_t nextStride = 0;
};

/// f32 to bf16, rounding to nearest even (the inputs are finite).
inline libxsmm_bfloat16 toBf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return libxsmm_bfloat16(bits >> 16);
}

/// Rounds \p n floats to bf16.
void roundToBf16(const float *__restrict x, libxsmm_bfloat16 *__restrict y,
                 int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i)
    y[i] = toBf16(x[i]);
}

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

libxsmm_bsmmfunction dispatchBf16(int64_t m, int64_t n, int64_t k, int64_t lda,
                                  int64_t ldb, int64_t ldc) {
  libxsmm_blasint lm = m, ln = n, lk = k, la = lda, lb = ldb, lc = ldc;
  float alpha = 1.0f, beta = 1.0f;
  int flags = LIBXSMM_GEMM_FLAG_VNNI_A;
  libxsmm_bsmmfunction fn = libxsmm_bsmmdispatch(
      lm, ln, lk, &la, &lb, &lc, &alpha, &beta, &flags, nullptr);
  if (!fn)
    peer::fail("libxsmm could not JIT a bf16 " + std::to_string(m) + "x" +
               std::to_string(n) + "x" + std::to_string(k) + " kernel");
  return fn;
}

LayerPlan plan(const peer::Layer &layer, int64_t batch, bool bf16) {
  LayerPlan p;
  p.layer = &layer;
  if (bf16) {
    p.kPad = (layer.in + 1) / 2 * 2;
    p.wtPairs.assign(size_t(p.kPad * layer.out), libxsmm_bfloat16(0));
    for (int64_t o = 0; o < layer.out; ++o)
      for (int64_t i = 0; i < layer.in; ++i)
        p.wtPairs[((i / 2) * layer.out + o) * 2 + i % 2] =
            toBf16(layer.weight[o * layer.in + i]);
  } else {
    p.wt.resize(size_t(layer.in * layer.out));
    for (int64_t o = 0; o < layer.out; ++o)
      for (int64_t i = 0; i < layer.in; ++i)
        p.wt[i * layer.out + o] = layer.weight[o * layer.in + i];
  }
  for (int64_t n0 = 0; n0 < batch; n0 += kBlockN)
    for (int64_t m0 = 0; m0 < layer.out; m0 += kBlockM)
      p.tiles.push_back({m0, std::min(kBlockM, layer.out - m0), n0,
                         std::min(kBlockN, batch - n0)});
  int64_t k = bf16 ? p.kPad : layer.in;
  p.kChunks = (k + kBlockK - 1) / kBlockK;
  for (const Tile &t : p.tiles)
    for (int64_t k0 = 0; k0 < k; k0 += kBlockK) {
      // libxsmm caches kernels by shape: one JIT per distinct block.
      int64_t kb = std::min(kBlockK, k - k0);
      if (bf16)
        p.bf16Kernels.push_back(
            dispatchBf16(t.mb, t.nb, kb, layer.out, p.kPad, layer.out));
      else
        p.tileKernels.push_back(
            dispatch(t.mb, t.nb, kb, layer.out, layer.in, layer.out));
    }
  return p;
}

void fillBias(const peer::Layer &layer, const Tile &t, float *y) {
  for (int64_t j = 0; j < t.nb; ++j) {
    float *c = y + (t.n0 + j) * layer.out + t.m0;
    for (int64_t i = 0; i < t.mb; ++i)
      c[i] = layer.bias[t.m0 + i];
  }
}

/// The activation on a tile of \p y.
void activate(const peer::Layer &layer, const Tile &t, float *y) {
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

/// One tile: bias, the K chunks, then the activation while it is in cache.
void runTile(const LayerPlan &p, size_t ti, const float *x, float *y) {
  const peer::Layer &layer = *p.layer;
  const Tile &t = p.tiles[ti];
  fillBias(layer, t, y);
  const libxsmm_smmfunction *fn = &p.tileKernels[ti * size_t(p.kChunks)];
  for (int64_t k0 = 0, kc = 0; k0 < layer.in; k0 += kBlockK, ++kc)
    fn[kc](p.wt.data() + k0 * layer.out + t.m0, x + t.n0 * layer.in + k0,
           y + t.n0 * layer.out + t.m0);
  activate(layer, t, y);
}

/// A bf16 tile: bias, the K chunks, the activation, and for an inner layer
/// the tile rounded to bf16 into the next layer's input.
void runTileBf16(const LayerPlan &p, size_t ti, const libxsmm_bfloat16 *x,
                 float *y) {
  const peer::Layer &layer = *p.layer;
  const Tile &t = p.tiles[ti];
  fillBias(layer, t, y);
  const libxsmm_bsmmfunction *fn = &p.bf16Kernels[ti * size_t(p.kChunks)];
  for (int64_t k0 = 0, kc = 0; k0 < p.kPad; k0 += kBlockK, ++kc)
    fn[kc](p.wtPairs.data() + (k0 * layer.out + t.m0 * 2),
           x + t.n0 * p.kPad + k0, y + t.n0 * layer.out + t.m0);
  activate(layer, t, y);
  if (p.next)
    for (int64_t j = 0; j < t.nb; ++j)
      roundToBf16(y + (t.n0 + j) * layer.out + t.m0,
                  p.next + (t.n0 + j) * p.nextStride + t.m0, t.mb);
}

/// Runs \p tile(ti) on every tile of \p p, spread over \p threads.
template <typename TileFn>
void forTiles(const LayerPlan &p, int threads, const TileFn &tile) {
  size_t count = p.tiles.size();
  // No OpenMP region on one thread or one tile: entering one (even with a
  // false `if` clause) costs more than a tiny layer.
  if (threads == 1 || count == 1) {
    for (size_t ti = 0; ti < count; ++ti)
      tile(ti);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t ti = 0; ti < count; ++ti)
    tile(ti);
}

void runLayer(const LayerPlan &p, const float *x, float *y, int threads) {
  forTiles(p, threads, [&](size_t ti) { runTile(p, ti, x, y); });
}

/// The bf16 network: the input rounded to bf16 rows of stride kPad (the
/// padding stays zero), then the layers.
void runBf16(std::vector<LayerPlan> &plans, const std::vector<float> &input,
             int64_t batch, std::vector<libxsmm_bfloat16> &input16,
             std::vector<std::vector<float>> &outputs, int threads) {
  const LayerPlan &first = plans.front();
  int64_t in = first.layer->in;
  for (int64_t r = 0; r < batch; ++r)
    roundToBf16(input.data() + r * in, input16.data() + r * first.kPad, in);
  const libxsmm_bfloat16 *x = input16.data();
  for (size_t l = 0; l < plans.size(); ++l) {
    const LayerPlan &p = plans[l];
    float *y = outputs[l].data();
    forTiles(p, threads, [&](size_t ti) { runTileBf16(p, ti, x, y); });
    x = p.next;
  }
}

} // namespace

int main(int argc, char **argv) {
  peer::Options opts = peer::parseOptions(argc, argv);
  peer::requirePrecision(opts, "libxsmm",
                         {peer::Precision::F32, peer::Precision::BF16});
  bool bf16 = opts.precision == peer::Precision::BF16;
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
  if (bf16)
    info += " bf16 (VNNI-paired weights, input rounded to bf16, bf16 between "
            "layers, f32 bias and output)";
  // bf16: each layer's bf16 input [maxBatch][kPad], zero-filled once.
  std::vector<std::vector<libxsmm_bfloat16>> inputs16;
  if (bf16)
    for (const peer::Layer &layer : opts.layers)
      inputs16.emplace_back(size_t(maxBatch * ((layer.in + 1) / 2 * 2)),
                            libxsmm_bfloat16(0));

  for (int64_t batch : opts.batches) {
    std::vector<LayerPlan> plans;
    for (const peer::Layer &layer : opts.layers)
      plans.push_back(plan(layer, batch, bf16));
    for (size_t l = 0; bf16 && l + 1 < plans.size(); ++l) {
      plans[l].next = inputs16[l + 1].data();
      plans[l].nextStride = plans[l + 1].kPad;
    }
    auto run = [&] {
      if (bf16) {
        runBf16(plans, input, batch, inputs16.front(), outputs, opts.threads);
        return;
      }
      const float *x = input.data();
      for (size_t l = 0; l < plans.size(); ++l) {
        runLayer(plans[l], x, outputs[l].data(), opts.threads);
        x = outputs[l].data();
      }
    };
    run();
    peer::Accuracy accuracy = peer::checkRows(opts.layers, input.data(),
                                              outputs.back().data(), batch);
    peer::Timing timing = peer::timeRuns(run, opts.repeat);
    peer::report("libxsmm", info, opts, batch, timing, accuracy);
  }
  libxsmm_finalize();
  return 0;
}
