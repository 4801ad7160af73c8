//===- onednn_mlp.cpp - Benchmark peer: oneDNN matmul per layer -----------===//
//
// Part of seqc's benchmark harness. One oneDNN matmul primitive per layer
// with the bias and the activation as an eltwise post-op; weights are
// reordered ahead of time into the layout the primitive asks for
// (format_tag::any), and all buffers are allocated before timing. oneDNN
// threads through OpenMP: --threads sets omp_set_num_threads.
//
//===----------------------------------------------------------------------===//

#include "PeerHarness.h"

#include <dnnl.hpp>
#include <omp.h>

#include <string>
#include <vector>

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

struct Step {
  matmul prim;
  memory weights, bias, dst;
};

} // namespace

int main(int argc, char **argv) {
  peer::Options opts = peer::parseOptions(argc, argv);
  omp_set_num_threads(opts.threads);
  engine eng(engine::kind::cpu, 0);
  stream strm(eng);
  int64_t inFeatures = opts.layers.front().in;
  int64_t maxBatch =
      *std::max_element(opts.batches.begin(), opts.batches.end());
  std::vector<float> input = peer::makeInput(maxBatch, inFeatures);

  for (int64_t batch : opts.batches) {
    memory src({{batch, inFeatures}, dt::f32, tag::ab}, eng, input.data());
    std::vector<Step> steps;
    std::string kernels;
    memory current = src;
    for (peer::Layer &layer : opts.layers) {
      memory::dims wDims = {layer.in, layer.out};
      memory::desc srcMd({batch, layer.in}, dt::f32, tag::ab);
      memory::desc wAny(wDims, dt::f32, tag::any);
      memory::desc biasMd({1, layer.out}, dt::f32, tag::ab);
      memory::desc dstMd({batch, layer.out}, dt::f32, tag::ab);
      primitive_attr attr;
      if (layer.act != peer::Act::None) {
        post_ops ops;
        algorithm alg = layer.act == peer::Act::ReLU ? algorithm::eltwise_relu
                        : layer.act == peer::Act::Sigmoid
                            ? algorithm::eltwise_logistic
                            : algorithm::eltwise_tanh;
        ops.append_eltwise(1.0f, alg, 0.0f, 0.0f);
        attr.set_post_ops(ops);
      }
      matmul::primitive_desc pd(matmul::desc(srcMd, wAny, biasMd, dstMd), attr,
                                eng);
      // PyTorch's weight[out][in] is the {in, out} matrix in `ba` order.
      memory userWeights({wDims, dt::f32, tag::ba}, eng, layer.weight.data());
      memory weights(pd.weights_desc(), eng);
      reorder(userWeights, weights).execute(strm, userWeights, weights);
      memory bias(biasMd, eng, layer.bias.data());
      memory dst(dstMd, eng);
      if (!kernels.empty())
        kernels += '+';
      kernels += pd.impl_info_str();
      steps.push_back({matmul(pd), weights, bias, dst});
    }
    strm.wait();
    auto run = [&] {
      memory in = src;
      for (Step &step : steps) {
        step.prim.execute(strm, {{DNNL_ARG_SRC, in},
                                 {DNNL_ARG_WEIGHTS, step.weights},
                                 {DNNL_ARG_BIAS, step.bias},
                                 {DNNL_ARG_DST, step.dst}});
        in = step.dst;
      }
      strm.wait();
    };
    run();
    const float *out =
        static_cast<const float *>(steps.back().dst.get_data_handle());
    double error = peer::checkRows(opts.layers, input.data(), out, batch);
    peer::Timing timing = peer::timeRuns(run, opts.repeat);
    // Keep the info short: the distinct implementation names.
    std::vector<std::string> names;
    for (const std::string &name : peer::split(kernels, '+'))
      if (std::find(names.begin(), names.end(), name) == names.end())
        names.push_back(name);
    std::string info = "oneDNN " + std::to_string(dnnl_version()->major) + "." +
                       std::to_string(dnnl_version()->minor) + ": ";
    for (size_t i = 0; i < names.size(); ++i)
      info += (i ? "/" : "") + names[i];
    peer::report("onednn", info, batch, opts.threads, timing, error);
  }
  return 0;
}
