//===- CudaPlanTest.cpp - The CUDA plan, printed and followed -------------===//
//
// Part of seqc's tests. No GPU and no NVRTC needed: the printed plan of a
// fused and a layered network; the emitted launches and `__launch_bounds__`
// are the plan's kernel shapes for every test network, strategy and
// precision; the parameter blob holds each planned array where the plan
// says; a model that is not in fused form is refused until the passes ran.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cuda/CudaPlan.h"
#include "compiler/codegen/cuda/CudaCodegen.h"
#include "tests/cuda/CudaTestNetworks.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cstring>

using namespace seqc;

namespace {

const test::CudaTestNetwork &network(const std::string &name) {
  const test::CudaTestNetwork *net = test::findCudaTestNetwork(name);
  REQUIRE_MESSAGE(net, "no network ", name);
  return *net;
}

/// The printed plan, after a newline (so that the expected texts below
/// start on a line of their own).
std::string planText(const ir::Model &model, cuda::CudaOptions options) {
  cuda::CudaPlan plan;
  std::string error;
  REQUIRE_MESSAGE(cuda::planCudaProgram(model, options, plan, error), error);
  return "\n" + plan.str();
}

} // namespace

TEST_CASE("the printed plan of a fused network") {
  cuda::CudaOptions options;
  CHECK(planText(network("digits").model, options) ==
        R"(
CUDA plan for model 'digits': fused, f32, sm_80
  why: every width is at most 128 and the fp32 kernel with 32 rows per block needs 71472 of the 101376 bytes of shared memory of sm_80
  parameters 38448 bytes, scratch 0 floats per row
  kernel seqc_fused (fused fp32): x -> y, grid (min(ceil(batch/32), 3 per SM), 1), 256 threads, 32 rows per block, 71472 B shared
    stage 0: dense 64 -> 128, relu; K 64, N 128, 2x8 outputs per thread; W^T [64][128] f32 at 0; bias [128] at 32768
    stage 1: dense 128 -> 10, log_softmax; K 128, N 10, 1x1 outputs per thread; W^T [128][10] f32 at 33280; bias [10] at 38400
)");
}

TEST_CASE("the printed plan of a layered network") {
  cuda::CudaOptions options;
  options.precision = cuda::Precision::BF16;
  CHECK(planText(network("mnist").model, options) ==
        R"(
CUDA plan for model 'mnist': layered, bf16, sm_80
  why: the fused strategy does not fit: its widest layer has 784 features (the fused kernel takes at most 128)
  parameters 1479168 bytes, scratch 512 floats per row
  step 0: x (row stride 784) -> scratch0 (row stride 512)
    kernel seqc_l0_gemv (small-batch GEMV): x -> scratch0, batch 1..64, grid (ceil(batch/16), 64), 128 threads, 16 rows per block, 0 B shared
    kernel seqc_l0_gemm (tiled GEMM): x -> scratch0, batch >= 65, grid (ceil(batch/128), 4), 256 threads, 128 rows per block, 40960 B shared
      stage 0: dense 784 -> 512, relu; K 800, N 512; W [512][800] bf16 at 0; bias [512] at 819200
  step 1: scratch0 (row stride 512) -> scratch1 (row stride 512)
    kernel seqc_l1_gemv (small-batch GEMV): scratch0 -> scratch1, batch 1..64, grid (ceil(batch/16), 64), 128 threads, 16 rows per block, 0 B shared
    kernel seqc_l1_gemm (tiled GEMM): scratch0 -> scratch1, batch >= 65, grid (ceil(batch/128), 4), 256 threads, 128 rows per block, 40960 B shared
      stage 1: dense 512 -> 512, relu; K 512, N 512; W [512][512] bf16 at 821248; bias [512] at 1345536
  step 2: scratch1 (row stride 512) -> y (row stride 10)
    kernel seqc_l2_gemv (small-batch GEMV): scratch1 -> y, batch 1..64, grid (ceil(batch/16), 2), 128 threads, 16 rows per block, 0 B shared
    kernel seqc_l2_gemm (tiled GEMM): scratch1 -> y, batch >= 65, grid (ceil(batch/128), 1), 256 threads, 128 rows per block, 40960 B shared
      stage 2: dense 512 -> 10; K 512, N 128; W [128][512] bf16 at 1347584; bias [128] at 1478656
)");
  options.strategy = cuda::Strategy::Layered;
  CHECK(planText(network("rowops").model, options) ==
        R"(
CUDA plan for model 'rowops': layered, bf16, sm_80
  why: the layered strategy was asked for
  parameters 42752 bytes, scratch 64 floats per row
  step 0: x (row stride 40) -> scratch0 (row stride 64)
    kernel seqc_l0_gemv (small-batch GEMV): x -> scratch0, batch 1..64, grid (ceil(batch/16), 8), 128 threads, 16 rows per block, 0 B shared
    kernel seqc_l0_gemm (tiled GEMM): x -> scratch0, batch >= 65, grid (ceil(batch/128), 1), 256 threads, 128 rows per block, 40960 B shared
      stage 0: dense 40 -> 48, gelu; K 64, N 128; W [128][64] bf16 at 0; bias [128] at 16384
  step 1: scratch0 (row stride 64) -> scratch1 (row stride 64)
    kernel seqc_l1_rows (row operations): scratch0 -> scratch1, grid (ceil(batch/8), 1), 256 threads, 8 rows per block, 0 B shared
      stage 1: layer_norm; weight [48] at 17088; bias [48] at 16896
  step 2: scratch1 (row stride 64) -> scratch0 (row stride 32)
    kernel seqc_l2_gemv (small-batch GEMV): scratch1 -> scratch0, batch 1..64, grid (ceil(batch/16), 4), 128 threads, 16 rows per block, 0 B shared
    kernel seqc_l2_gemm (tiled GEMM): scratch1 -> scratch0, batch >= 65, grid (ceil(batch/128), 1), 256 threads, 128 rows per block, 40960 B shared
      stage 2: dense 48 -> 20, tanh, no bias; K 64, N 128; W [128][64] bf16 at 17408
  step 3: scratch0 (row stride 32) -> scratch1 (row stride 32)
    kernel seqc_l3_rows (row operations): scratch0 -> scratch1, grid (ceil(batch/8), 1), 256 threads, 8 rows per block, 0 B shared
      stage 3: affine; weight [20] at 33872; bias [20] at 33792
      stage 4: activation silu
      stage 5: layer_norm
      stage 6: affine; weight [20] at 33952
  step 4: scratch1 (row stride 32) -> y (row stride 12)
    kernel seqc_l4_gemv (small-batch GEMV): scratch1 -> y, batch 1..64, grid (ceil(batch/16), 2), 128 threads, 16 rows per block, 0 B shared
    kernel seqc_l4_gemm (tiled GEMM): scratch1 -> y, batch >= 65, grid (ceil(batch/128), 1), 256 threads, 128 rows per block, 40960 B shared
      stage 7: dense 20 -> 12, softmax; K 32, N 128; W [128][32] bf16 at 34048; bias [128] at 42240
  step 5: y (row stride 12) -> y (row stride 12)
    kernel seqc_l5_rows (row operations): y -> y, grid (ceil(batch/8), 1), 256 threads, 8 rows per block, 0 B shared
      row norm of stage 7, in place
)");
}

TEST_CASE("launches and launch bounds are the plan's kernel shapes") {
  for (bool large : {false, true})
    for (const test::CudaTestNetwork &net : test::cudaTestNetworks(large)) {
      if (large && net.emulate)
        continue;
      for (cuda::Strategy strategy :
           {cuda::Strategy::Auto, cuda::Strategy::Fused,
            cuda::Strategy::Layered})
        for (cuda::Precision precision :
             {cuda::Precision::F32, cuda::Precision::BF16,
              cuda::Precision::F16}) {
          cuda::CudaOptions options;
          options.strategy = strategy;
          options.precision = precision;
          INFO(net.name, " ", cuda::strategyName(strategy), " ",
               cuda::precisionName(precision));
          cuda::CudaPlan plan;
          cuda::CudaProgram program;
          std::string planError, emitError;
          const bool planned =
              cuda::planCudaProgram(net.model, options, plan, planError);
          REQUIRE(planned == cuda::emitCudaProgram(net.model, options, program,
                                                   emitError));
          CHECK(planError == emitError);
          if (!planned)
            continue;
          CHECK(program.strategy == plan.strategy);
          CHECK(program.params.size() == plan.paramBytes);
          CHECK(program.scratchFloatsPerRow == plan.scratchFloatsPerRow);
          REQUIRE(program.launches.size() == plan.kernels.size());
          for (size_t k = 0; k < plan.kernels.size(); ++k) {
            const cuda::PlannedKernel &p = plan.kernels[k];
            const cuda::KernelLaunch &l = program.launches[k];
            CHECK(l.kernel == p.name);
            CHECK(l.threads == p.shape.threads);
            CHECK(l.rowsPerBlock == p.shape.rowsPerBlock);
            CHECK(l.sharedBytes == p.shape.sharedBytes);
            CHECK(l.gridY == p.shape.gridY);
            CHECK(l.blocksPerSm == p.shape.blocksPerSm);
            CHECK(l.input == static_cast<int32_t>(p.input));
            CHECK(l.output == static_cast<int32_t>(p.output));
            CHECK(l.minBatch == p.minBatch);
            CHECK(l.maxBatch == p.maxBatch);
            // The kernel's definition states the threads it is launched with.
            CHECK(program.source.find(fmt::format(
                      "__global__ void __launch_bounds__({})\n{}(",
                      p.shape.threads, p.name)) != std::string::npos);
          }
          // Arrays lie inside the blob, in order, without overlapping.
          uint64_t end = 0;
          for (const cuda::PlannedArray &a : plan.arrays) {
            CHECK(a.offset >= end);
            CHECK(a.offset % 16 == 0);
            end = a.offset + a.bytes();
          }
          CHECK(end <= plan.paramBytes);
        }
    }
}

TEST_CASE("planned arrays hold the weights where the plan says") {
  const ir::Model &model = network("lecture").model;
  const std::vector<float> &w0 = model.params[model.ops[0].weight].data.data;
  const std::vector<float> &b2 = model.params[model.ops[2].bias].data.data;
  for (cuda::Strategy strategy :
       {cuda::Strategy::Fused, cuda::Strategy::Layered}) {
    cuda::CudaOptions options;
    options.strategy = strategy;
    cuda::CudaPlan plan;
    cuda::CudaProgram program;
    std::string error;
    REQUIRE(cuda::planCudaProgram(model, options, plan, error));
    REQUIRE(cuda::emitCudaProgram(model, options, program, error));
    auto at = [&](const cuda::PlannedArray *a, int64_t row, int64_t column) {
      REQUIRE(a);
      float value;
      std::memcpy(&value,
                  program.params.data() + a->offset +
                      4 * (row * a->columns + column),
                  4);
      return value;
    };
    // Layer 0 is 2 -> 3: W[2][1] is W^T[1][2] in the fused layout.
    const cuda::PlannedArray *w = plan.array(0, cuda::ArrayRole::Weight);
    if (strategy == cuda::Strategy::Fused) {
      CHECK(w->layout == cuda::ArrayLayout::TransposedF32);
      CHECK(at(w, 1, 2) == w0[2 * 2 + 1]);
    } else {
      CHECK(w->layout == cuda::ArrayLayout::RowsF32);
      CHECK(at(w, 2, 1) == w0[2 * 2 + 1]);
    }
    const cuda::PlannedArray *b = plan.array(2, cuda::ArrayRole::Bias);
    CHECK(b->layout == cuda::ArrayLayout::PaddedBias);
    CHECK(at(b, 0, 0) == b2[0]);
    if (b->columns > 1)
      CHECK(at(b, 0, b->columns - 1) == 0.0f); // padding
  }
}

TEST_CASE("a model that is not in fused form is refused until the passes") {
  test::ModelBuilder b(6, 3);
  b.batchNorm(true);
  b.dense(4, test::act(ir::ActKind::ReLU));
  cuda::CudaOptions options;
  cuda::CudaProgram program;
  std::string error;
  CHECK_FALSE(cuda::emitCudaProgram(b.model, options, program, error));
  CHECK(error == "the model is not in fused form (run the passes first): op "
                 "0 (batch_norm) is not in fused form (dense, act, softmax, "
                 "log_softmax, layer_norm or affine)");
  test::runPasses(b.model);
  error.clear();
  CHECK(cuda::emitCudaProgram(b.model, options, program, error));
  CHECK(error.empty());
}

TEST_CASE("strategy names round-trip") {
  for (cuda::Strategy strategy :
       {cuda::Strategy::Auto, cuda::Strategy::Fused, cuda::Strategy::Layered})
    CHECK(cuda::parseStrategy(cuda::strategyName(strategy)) == strategy);
  CHECK_FALSE(cuda::parseStrategy("tiled"));
}
