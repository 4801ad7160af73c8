//===- onednn_mlp.cpp - Benchmark peer: oneDNN matmul per layer -----------===//
//
// Part of seqc's benchmark harness. One oneDNN matmul primitive per layer
// with the bias and the activation fused (post-ops); weights are reordered
// ahead of time into the layout the primitive asks for (format_tag::any),
// and all buffers are allocated and all primitives created before timing.
// oneDNN threads through OpenMP: --threads sets omp_set_num_threads.
//
// --precision picks the number format; the network takes f32 in and gives
// f32 out in every one, so what converts the input is part of the timed run:
//   f32   f32 everywhere.
//   bf16  bf16 weights (rounded by the weight reorder) and activations, f32
//         accumulation, f32 bias. The f32 input is reordered to bf16; inner
//         layers write bf16 (the next layer reads bf16 anyway, so an f32
//         destination would only add a reorder), the last one f32.
//   int8  PyTorch's dynamic quantisation: s8 weights with a symmetric scale
//         per output channel (max |w| / 127), and each layer's f32 input
//         quantised to u8 with a per-tensor scale and zero point computed
//         from the data at run time (min/max including 0, as PyTorch's
//         choose_qparams). f32 destination.
//
// oneDNN 2.x int8 matmul semantics (checked on 2.6): the bias is added to
// the s32 accumulator *before* the output scales, and output scales given
// at run time (DNNL_RUNTIME_F32_VAL) drop the primitive from the brgemm
// kernels to gemm:jit. So the per-channel weight scales are constant output
// scales, the per-run activation scale is a binary_mul post-op with a 1x1
// tensor, and the f32 bias a binary_add post-op:
//   dst = act(s_w[n] * sum_k (q_x[m,k] - zp) * q_w[k,n] * s_x + bias[n]).
// The input zero point is a run-time zero-point attribute.
//
//===----------------------------------------------------------------------===//

#include "PeerHarness.h"

#include <dnnl.hpp>
#include <omp.h>

#include <string>
#include <unordered_map>
#include <vector>

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

using Args = std::unordered_map<int, memory>;

/// Inputs of at least this many floats are quantised on all threads (about
/// 64 KiB per thread at 2 threads, well above an OpenMP region's cost).
constexpr int64_t kParallelQuantizeMin = 32768;

/// A network built for one batch: the work of one timed run, its output,
/// and the implementation names oneDNN chose.
struct Network {
  std::vector<std::function<void()>> steps;
  const float *output = nullptr;
  std::vector<std::string> kernels;
};

/// The per-tensor asymmetric u8 quantisation of one layer's input.
struct Quantized {
  memory values;    ///< u8 [batch, in]
  memory zeroPoint; ///< s32 [1]
  memory scale;     ///< f32 [1, 1]: the binary_mul post-op's operand
};

algorithm eltwiseFor(peer::Act act) {
  switch (act) {
  case peer::Act::ReLU:
    return algorithm::eltwise_relu;
  case peer::Act::Sigmoid:
    return algorithm::eltwise_logistic;
  case peer::Act::Tanh:
    return algorithm::eltwise_tanh;
  case peer::Act::None:
    break;
  }
  return algorithm::undef;
}

void appendActivation(post_ops &ops, peer::Act act) {
  if (act != peer::Act::None)
    ops.append_eltwise(1.0f, eltwiseFor(act), 0.0f, 0.0f);
}

/// The layer's weights in \p type, reordered into the layout \p pd chose.
/// \p user is PyTorch's weight[out][in], i.e. the {in, out} matrix in `ba`.
memory packWeights(const matmul::primitive_desc &pd, const peer::Layer &layer,
                   dt type, void *user, const engine &eng, stream &strm) {
  memory userWeights({{layer.in, layer.out}, type, tag::ba}, eng, user);
  memory weights(pd.weights_desc(), eng);
  reorder(userWeights, weights).execute(strm, userWeights, weights);
  strm.wait();
  return weights;
}

std::function<void()> executeStep(const primitive &prim, stream &strm,
                                  Args args) {
  return [prim, &strm, args] { prim.execute(strm, args); };
}

/// f32 or bf16 (\p type): for bf16 the input is reordered to bf16 first,
/// inner layers write bf16 and the weight reorder rounds the weights.
Network buildFloat(peer::Options &opts, const memory &src, int64_t batch,
                   dt type, const engine &eng, stream &strm) {
  Network net;
  memory in = src;
  if (type != dt::f32) {
    in = memory({{batch, opts.layers.front().in}, type, tag::ab}, eng);
    net.steps.push_back(executeStep(reorder(src, in), strm,
                                    {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, in}}));
  }
  for (size_t l = 0; l < opts.layers.size(); ++l) {
    peer::Layer &layer = opts.layers[l];
    bool last = l + 1 == opts.layers.size();
    memory::desc srcMd({batch, layer.in}, type, tag::ab);
    memory::desc wAny({layer.in, layer.out}, type, tag::any);
    memory::desc biasMd({1, layer.out}, dt::f32, tag::ab);
    memory::desc dstMd({batch, layer.out}, last ? dt::f32 : type, tag::ab);
    primitive_attr attr;
    post_ops ops;
    appendActivation(ops, layer.act);
    attr.set_post_ops(ops);
    matmul::primitive_desc pd(matmul::desc(srcMd, wAny, biasMd, dstMd), attr,
                              eng);
    memory weights =
        packWeights(pd, layer, dt::f32, layer.weight.data(), eng, strm);
    memory bias(biasMd, eng, layer.bias.data());
    memory dst(dstMd, eng);
    net.kernels.push_back(pd.impl_info_str());
    net.steps.push_back(executeStep(matmul(pd), strm,
                                    {{DNNL_ARG_SRC, in},
                                     {DNNL_ARG_WEIGHTS, weights},
                                     {DNNL_ARG_BIAS, bias},
                                     {DNNL_ARG_DST, dst}}));
    in = dst;
  }
  net.output = static_cast<const float *>(in.get_data_handle());
  return net;
}

/// Symmetric per-output-channel s8 weights: q = rne(w / s), s = max |w| / 127.
/// Returns the scales; \p q is PyTorch's [out][in] layout.
std::vector<float> quantizeWeights(const peer::Layer &layer,
                                   std::vector<int8_t> &q) {
  std::vector<float> scales(size_t(layer.out));
  q.resize(layer.weight.size());
  for (int64_t o = 0; o < layer.out; ++o) {
    const float *row = layer.weight.data() + o * layer.in;
    float amax = 0.0f;
    for (int64_t i = 0; i < layer.in; ++i)
      amax = std::max(amax, std::abs(row[i]));
    float scale = amax > 0.0f ? amax / 127.0f : 1.0f;
    scales[o] = scale;
    for (int64_t i = 0; i < layer.in; ++i)
      q[o * layer.in + i] = int8_t(std::nearbyint(row[i] / scale));
  }
  return scales;
}

/// The range of \p n floats, extended to hold 0.
void rangeWithZero(const float *__restrict x, int64_t n, float &lo, float &hi) {
  float l = 0.0f, h = 0.0f;
#pragma omp simd reduction(min : l) reduction(max : h)
  for (int64_t i = 0; i < n; ++i) {
    l = std::min(l, x[i]);
    h = std::max(h, x[i]);
  }
  lo = l;
  hi = h;
}

/// q = clamp(rne(x * inv) + zp, 0, 255) for \p n floats.
void quantizeRange(const float *__restrict x, uint8_t *__restrict q, int64_t n,
                   float inv, float zp) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    // rint (not nearbyint) so that GCC vectorises it; both round to even.
    float v = std::rint(x[i] * inv) + zp;
    q[i] = uint8_t(int32_t(std::min(std::max(v, 0.0f), 255.0f)));
  }
}

/// Quantises \p n floats to u8 with a per-tensor scale and zero point from
/// their range (extended to hold 0), as PyTorch's dynamic quantisation:
/// scale = (max - min) / 255, zp = rne(-min / scale), q = rne(x / scale) + zp
/// clamped to [0, 255]. Writes the zero point and the scale for the matmul.
/// Both passes split [0, n) into one slice per thread.
void quantizeInput(const float *x, int64_t n, int threads, uint8_t *q,
                   int32_t *zeroPoint, float *scale) {
  // No OpenMP region on one thread or a small input: entering one costs more
  // than the two passes over a few thousand floats.
  if (n < kParallelQuantizeMin)
    threads = 1;
  float lo = 0.0f, hi = 0.0f;
  int64_t slice = (n + threads - 1) / threads;
  auto sliceBegin = [&](int t) { return std::min(n, slice * t); };
  auto sliceSize = [&](int t) {
    return std::min(n, slice * (t + 1)) - sliceBegin(t);
  };
  if (threads == 1) {
    rangeWithZero(x, n, lo, hi);
  } else {
    // main() set OpenMP's thread count to `threads`.
#pragma omp parallel for reduction(min : lo) reduction(max : hi)
    for (int t = 0; t < threads; ++t) {
      float l, h;
      rangeWithZero(x + sliceBegin(t), sliceSize(t), l, h);
      lo = std::min(lo, l);
      hi = std::max(hi, h);
    }
  }
  float s = (hi - lo) / 255.0f;
  if (!(s > 0.0f) || !std::isfinite(1.0f / s))
    s = 0.1f; // PyTorch's choice for an all-zero (or degenerate) tensor
  float inv = 1.0f / s;
  float zp = std::clamp(std::nearbyint(-lo * inv), 0.0f, 255.0f);
  if (threads == 1) {
    quantizeRange(x, q, n, inv, zp);
  } else {
#pragma omp parallel for
    for (int t = 0; t < threads; ++t)
      quantizeRange(x + sliceBegin(t), q + sliceBegin(t), sliceSize(t), inv,
                    zp);
  }
  *zeroPoint = int32_t(zp);
  *scale = s;
}

Network buildInt8(peer::Options &opts, const memory &src, int64_t batch,
                  const engine &eng, stream &strm) {
  Network net;
  memory in = src;
  for (peer::Layer &layer : opts.layers) {
    memory::desc srcMd({batch, layer.in}, dt::u8, tag::ab);
    memory::desc wAny({layer.in, layer.out}, dt::s8, tag::any);
    memory::desc rowMd({1, layer.out}, dt::f32, tag::ab);
    memory::desc scalarMd({1, 1}, dt::f32, tag::ab);
    memory::desc dstMd({batch, layer.out}, dt::f32, tag::ab);
    std::vector<int8_t> qWeights;
    std::vector<float> wScales = quantizeWeights(layer, qWeights);
    primitive_attr attr;
    attr.set_output_scales(1 << 1, wScales);
    attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
    post_ops ops;
    ops.append_binary(algorithm::binary_mul, scalarMd); // the input's scale
    ops.append_binary(algorithm::binary_add, rowMd);    // the bias
    appendActivation(ops, layer.act);
    attr.set_post_ops(ops);
    matmul::primitive_desc pd(matmul::desc(srcMd, wAny, dstMd), attr, eng);
    memory weights = packWeights(pd, layer, dt::s8, qWeights.data(), eng, strm);
    Quantized q{memory(srcMd, eng), memory({{1}, dt::s32, tag::a}, eng),
                memory(scalarMd, eng)};
    memory bias(rowMd, eng, layer.bias.data());
    memory dst(dstMd, eng);
    net.kernels.push_back(pd.impl_info_str());
    int64_t count = batch * layer.in;
    int threads = opts.threads;
    net.steps.push_back([in, q, count, threads] {
      quantizeInput(static_cast<const float *>(in.get_data_handle()), count,
                    threads, static_cast<uint8_t *>(q.values.get_data_handle()),
                    static_cast<int32_t *>(q.zeroPoint.get_data_handle()),
                    static_cast<float *>(q.scale.get_data_handle()));
    });
    net.steps.push_back(executeStep(
        matmul(pd), strm,
        {{DNNL_ARG_SRC, q.values},
         {DNNL_ARG_WEIGHTS, weights},
         {DNNL_ARG_DST, dst},
         {DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, q.zeroPoint},
         {DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, q.scale},
         {DNNL_ARG_ATTR_MULTIPLE_POST_OP(1) | DNNL_ARG_SRC_1, bias}}));
    in = dst;
  }
  net.output = static_cast<const float *>(in.get_data_handle());
  return net;
}

/// "oneDNN 2.6 bf16 (...): name/name", the distinct implementation names.
std::string describe(const peer::Options &opts, const Network &net) {
  std::string info = "oneDNN " + std::to_string(dnnl_version()->major) + "." +
                     std::to_string(dnnl_version()->minor);
  switch (opts.precision) {
  case peer::Precision::BF16:
    info += " bf16 (input reordered to bf16, bf16 between layers, f32 bias "
            "and output)";
    break;
  case peer::Precision::Int8:
    info += " int8 (u8 input with a per-tensor scale and zero point computed "
            "per run, s8 weights scaled per output channel, f32 bias and "
            "output)";
    break;
  case peer::Precision::F32:
  case peer::Precision::Int8W:
    break;
  }
  info += ": ";
  std::vector<std::string> names;
  for (const std::string &name : net.kernels)
    if (std::find(names.begin(), names.end(), name) == names.end())
      names.push_back(name);
  for (size_t i = 0; i < names.size(); ++i)
    info += (i ? "/" : "") + names[i];
  return info;
}

} // namespace

int main(int argc, char **argv) {
  peer::Options opts = peer::parseOptions(argc, argv);
  // Weight-only int8 (s8 weights decompressed into f32 math) needs oneDNN 3.x.
  peer::requirePrecision(
      opts, "onednn",
      {peer::Precision::F32, peer::Precision::BF16, peer::Precision::Int8});
  omp_set_num_threads(opts.threads);
  engine eng(engine::kind::cpu, 0);
  stream strm(eng);
  int64_t inFeatures = opts.layers.front().in;
  int64_t maxBatch =
      *std::max_element(opts.batches.begin(), opts.batches.end());
  std::vector<float> input = peer::makeInput(maxBatch, inFeatures);

  for (int64_t batch : opts.batches) {
    memory src({{batch, inFeatures}, dt::f32, tag::ab}, eng, input.data());
    Network net =
        opts.precision == peer::Precision::Int8
            ? buildInt8(opts, src, batch, eng, strm)
            : buildFloat(opts, src, batch,
                         opts.precision == peer::Precision::BF16 ? dt::bf16
                                                                 : dt::f32,
                         eng, strm);
    auto run = [&] {
      for (const std::function<void()> &step : net.steps)
        step();
      strm.wait();
    };
    run();
    peer::Accuracy accuracy =
        peer::checkRows(opts.layers, input.data(), net.output, batch);
    peer::Timing timing = peer::timeRuns(run, opts.repeat);
    peer::report("onednn", describe(opts, net), opts, batch, timing, accuracy);
  }
  return 0;
}
