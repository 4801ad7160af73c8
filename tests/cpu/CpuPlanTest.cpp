//===- CpuPlanTest.cpp - The CPU backend's plan, before any LLVM IR -------===//
//
// How Dense layers are blocked (panel groups, k blocks, dot products) for
// SSE, AVX2 and AVX-512 shapes; the printed plan of a few networks (tiny,
// fused, separate stages, compact code), which is what the emitters follow;
// and the plan's stages against those a JIT-compiled model goes through.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cpu/CpuBackend.h"
#include "compiler/codegen/cpu/Plan.h"
#include "tests/cpu/TestModels.h"

#include <doctest/doctest.h>

#include <memory>
#include <set>
#include <sstream>

using namespace seqc;
using namespace seqc::codegen::cpu;
using seqc::codegen::WeightLayout;

namespace {

KernelConfig avx512() {
  KernelConfig cfg;
  cfg.vectorWidth = 16;
  cfg.vectorRegs = 32;
  cfg.wideVectors = true;
  cfg.cpu = "x86-64-v4";
  return cfg;
}

ir::Activation act(ir::ActKind kind) { return {kind, 0, 0}; }

/// The lines of \p text that start with \p prefix.
std::vector<std::string> linesStarting(const std::string &text,
                                       const std::string &prefix) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(prefix, 0) == 0)
      lines.push_back(line);
  return lines;
}

} // namespace

TEST_CASE("dense plans cut every layer into whole groups of panels") {
  // SSE, AVX2 and AVX-512 shapes; layers from tiny to streaming.
  const std::pair<unsigned, unsigned> shapes[] = {{4, 16}, {8, 16}, {16, 32}};
  const std::pair<int64_t, int64_t> layers[] = {
      {3, 1},       {64, 128},    {512, 10},     {784, 512},
      {2048, 2048}, {2048, 9304}, {16384, 9304}, {429, 16384}};
  for (auto [width, regs] : shapes)
    for (auto [in, out] : layers) {
      KernelConfig cfg;
      cfg.vectorWidth = width;
      cfg.vectorRegs = regs;
      cfg.wideVectors = width == 16;
      ir::Op op;
      op.kind = ir::OpKind::Dense;
      op.inFeatures = in;
      op.outFeatures = out;
      DensePlan p = planDense(op, cfg);
      INFO(width << " lanes, Linear(" << in << ", " << out << ")");
      CHECK(p.panels * p.nr >= uint64_t(out));
      if (!p.dotRows) {
        CHECK(p.weights == WeightLayout::panelsOf(out, in, p.nr));
        CHECK(p.biasLength == p.panels * p.nr);
      }
      CHECK(p.streamsWeights == (p.weights.bytes() > kStreamingWeightBytes));
      for (auto [perGroup, groups] :
           {std::pair(p.panelsPerGroup, p.groups),
            std::pair(p.rowPanelsPerGroup, p.rowGroups)}) {
        CHECK(groups * perGroup >= p.panels);
        CHECK((groups - 1) * perGroup < p.panels);
      }
      CHECK(p.groups <= 8);
      // k blocks keep the weight micro-panel near 32 KiB (L1), except that
      // AVX-512 takes up to kSingleBlockK inputs in one block.
      if (cfg.wideVectors && p.k <= kSingleBlockK)
        CHECK(p.kc == p.k);
      else
        CHECK(p.kc * p.nr * 4 <= 48 * 1024);
      // A one-row batch's groups hold whole single-row runs.
      CHECK((p.rowPanelsPerGroup % p.gemvPanels == 0 ||
             p.rowPanelsPerGroup == p.panels));
      if (p.streamsWeights) {
        // Streaming weights: 128 bytes a k-step per single-row kernel, and
        // up to 16 groups for a one-row batch.
        CHECK(p.gemvPanels * p.nr * 4 <= std::max(128u, p.nr * 4));
        CHECK(p.rowGroups <= 16);
        CHECK(p.rowGroups >= std::min<uint64_t>(p.groups, p.panels));
      } else {
        CHECK(p.rowGroups == p.groups);
        CHECK(p.rowPanelsPerGroup == p.panelsPerGroup);
      }
    }
  KernelConfig avx512;
  avx512.vectorWidth = 16;
  avx512.vectorRegs = 32;
  avx512.wideVectors = true;
  ir::Op op;
  op.kind = ir::OpKind::Dense;
  op.inFeatures = op.outFeatures = 2048;
  DensePlan p = planDense(op, avx512);
  CHECK(p.gemvPanels == 1);
  CHECK(p.groups == 8);
  CHECK(p.rowGroups == 16);
  CHECK(p.kc == 2048);
  op.inFeatures = 2049;
  CHECK(planDense(op, avx512).kc == 228); // 9 equal blocks of at most 256
  op.inFeatures = 64;
  op.outFeatures = 128;
  p = planDense(op, avx512);
  CHECK(p.gemvPanels == 4);
}

TEST_CASE("layers with few outputs are planned as dot products") {
  KernelConfig avx512, avx2, sse;
  avx512.vectorWidth = 16;
  avx512.vectorRegs = 32;
  avx512.wideVectors = true;
  avx2.vectorWidth = 8;
  avx2.vectorRegs = 16;
  sse.vectorWidth = 4;
  sse.vectorRegs = 16;
  struct Case {
    const KernelConfig *cfg;
    int64_t in, out;
    unsigned rows; // 0: the panel path
  };
  const Case cases[] = {
      {&avx512, 128, 10, 2},   // digits: 10 of 16 lanes
      {&avx512, 512, 10, 2},   // mnist
      {&avx512, 129, 10, 2},   // k padded to 144
      {&avx512, 32, 10, 2},    // two vectors of k
      {&avx512, 16, 10, 0},    // one: the reduction costs as much
      {&avx512, 128, 14, 1},   // 14 x 9 steps < 128
      {&avx512, 128, 15, 0},   // 15 x 9 > 128
      {&avx512, 128, 16, 0},   // full panels
      {&avx512, 256, 1, 8},    // 8 rows for 8 chains
      {&avx512, 256, 3, 3},    //
      {&avx512, 256, 24, 1},   // 24 accumulators
      {&avx512, 256, 25, 0},   // too many
      {&avx512, 1024, 10, 2},  // 40 KiB: 2 k blocks of 512
      {&avx512, 4096, 10, 2},  // 160 KiB: 6 k blocks of 688
      {&avx512, 16384, 1, 8},  // 64 KiB from L2, 8 rows a vector, 1 block
      {&avx512, 200000, 1, 0}, // streams
      {&avx2, 128, 10, 1},     // 12 accumulators at most
      {&avx2, 128, 7, 1},      // 7 x 17 < 128 (measured: a tie)
      {&avx2, 128, 6, 2},      //
      {&avx2, 128, 13, 0},     // too many
      {&sse, 128, 2, 4},       //
      {&sse, 128, 4, 0},       // full
  };
  for (const Case &c : cases) {
    ir::Op op;
    op.kind = ir::OpKind::Dense;
    op.inFeatures = c.in;
    op.outFeatures = c.out;
    DensePlan p = planDense(op, *c.cfg);
    unsigned vw = c.cfg->vectorWidth;
    INFO(vw << " lanes, Linear(" << c.in << ", " << c.out << ")");
    CHECK(p.dotRows == c.rows);
    if (!p.dotRows)
      continue;
    CHECK(p.weights.kPadded == (uint64_t(c.in) + vw - 1) / vw * vw);
    // k blocks: whole vectors, in L1 unless 4-row tiles read them from L2.
    CHECK(p.dotKc % vw == 0);
    CHECK(p.dotKc <= p.weights.kPadded);
    if (p.dotRows < 4)
      CHECK(uint64_t(c.out) * p.dotKc * 4 <= kDotMaxWeightBytes);
    else
      CHECK(p.dotKc == p.weights.kPadded);
    CHECK(p.dotRows * uint64_t(c.out) <= c.cfg->vectorRegs * 3 / 4);
    CHECK(p.dotBlockRows % p.dotRows == 0);
    CHECK(p.dotBlockRows >= p.dotRows);
    CHECK(!p.streamsWeights);
    CHECK(p.weights.bytes() == uint64_t(c.out) * p.weights.kPadded * 4);
    CHECK(p.weights ==
          WeightLayout::rowsOf(c.out, c.in, p.weights.kPadded, c.out));
    CHECK(p.biasLength == (uint64_t(c.out) + vw - 1) / vw * vw);
  }
}

TEST_CASE("the plan of a tiny network is one straight-line stage") {
  test::ModelBuilder mb(2, 1);
  mb.model.name = "lecture";
  mb.dense(3, act(ir::ActKind::None));
  mb.dense(2, act(ir::ActKind::ReLU));
  mb.dense(1, act(ir::ActKind::Sigmoid), false);
  CHECK(printPlan(mb.model, planModel(mb.model, avx512())) ==
        "plan of 'lecture' for cpu 'x86-64-v4': 16 floats per vector, 32 "
        "vector registers\n"
        "scratch: none; code: tiny (straight-line, rows in lanes)\n"
        "stage 0: tiny ops 0-2: input (stride 2) -> output (stride 1); "
        "items: 1024 rows; parallel from 13108 rows\n");
}

TEST_CASE("the plan of a small network fuses its stages") {
  // Weights in L2: one fused stage over row blocks, its stages inside; the
  // 10-output head as dot products, its log_softmax a stage of its own.
  test::ModelBuilder mb(64, 2);
  mb.model.name = "digits";
  mb.dense(64, act(ir::ActKind::ReLU));
  mb.layerNorm(true);
  mb.dense(10, act(ir::ActKind::None), true, ir::RowNorm::LogSoftmax);
  CHECK(printPlan(mb.model, planModel(mb.model, avx512())) ==
        "plan of 'digits' for cpu 'x86-64-v4': 16 floats per vector, 32 "
        "vector registers\n"
        "scratch: 2 buffers of batch x 64 floats; code: inlined kernels\n"
        "stage 0: fused ops 0-2: input (stride 64) -> output (stride 10); "
        "items: row blocks of at most 252 rows (about batch / 8); parallel "
        "from 45 rows\n"
        "  stage 0.0: dense op 0 (dense 64 -> 64, relu): input (stride 64) "
        "-> scratch0 (stride 64); items: row blocks of at most 240 rows "
        "(multiples of 12); parallel from 64 rows; tiles 12x32, k blocks of "
        "64, 2 panels in groups of 2, one row across 2 panels; weights 2 "
        "panels x 64 x 32 (16384 bytes); cold source above 16384 rows\n"
        "  stage 0.1: rows op 1 (layer_norm 64 -> 64): scratch0 (stride 64) "
        "-> scratch1 (stride 64); items: 256 rows; parallel from 256 rows\n"
        "  stage 0.2: dense op 2 (dense 64 -> 10, log_softmax): scratch1 "
        "(stride 64) -> output (stride 10); items: row blocks of at most 104 "
        "rows (multiples of 2); parallel from 410 rows; dot products, tiles "
        "of 2 rows, k blocks of 64; weights 10 rows x 64 (2560 bytes)\n"
        "  stage 0.3: rownorm op 2 (dense 64 -> 10, log_softmax): output "
        "(stride 10) -> output (stride 10); items: 1638 rows; parallel from "
        "1639 rows\n");
}

TEST_CASE("the plan of a wide network keeps its stages apart") {
  // 6 MiB of weights: stages of their own, the first streaming its weights
  // (16 groups for one row), scratch rows padded to an odd number of
  // lines, the head's 80 KiB of weights in k blocks that fit L1.
  test::ModelBuilder mb(784, 3);
  mb.model.name = "wide";
  mb.dense(2048, act(ir::ActKind::GELU));
  mb.act(act(ir::ActKind::Tanh));
  mb.dense(10, act(ir::ActKind::None), false, ir::RowNorm::Softmax);
  CHECK(printPlan(mb.model, planModel(mb.model, avx512())) ==
        "plan of 'wide' for cpu 'x86-64-v4': 16 floats per vector, 32 vector "
        "registers\n"
        "scratch: 2 buffers of batch x 2064 floats; code: inlined kernels\n"
        "stage 0: dense op 0 (dense 784 -> 2048, gelu): input (stride 784) "
        "-> scratch0 (stride 2064); items: row blocks of at most 72 rows "
        "(multiples of 12) x 8 panel groups (16 for one row); parallel from "
        "1 rows; tiles 12x32, k blocks of 784, 64 panels in groups of 8, one "
        "row across 1 panels; weights 64 panels x 784 x 32 (6422528 bytes, "
        "streamed); cold source above 1337 rows\n"
        "stage 1: rows op 1 (act 2048 -> 2048, tanh): scratch0 (stride 2064) "
        "-> scratch1 (stride 2064); items: 8 rows; parallel from 8 rows\n"
        "stage 2: dense op 2 (dense 2048 -> 10, softmax, no bias): scratch1 "
        "(stride 2064) -> output (stride 10); items: row blocks of at most 64 "
        "rows (multiples of 2); parallel from 13 rows; dot products, tiles "
        "of 2 rows, k blocks of 688; weights 10 rows x 2048 (81920 bytes); "
        "cold source above 508 rows\n"
        "stage 3: rownorm op 2 (dense 2048 -> 10, softmax, no bias): output "
        "(stride 10) -> output (stride 10); items: 1638 rows; parallel from "
        "1639 rows\n");
}

TEST_CASE("the plan of a deep network specialises the layers it shares") {
  // 18 Dense layers: compact code. Layers 1-16 come in three shapes with
  // the same strides, each used at least five times, so their kernels are
  // specialised; the first and the last (the model's own strides) are
  // alone in theirs.
  test::ModelBuilder mb(24, 4);
  mb.model.name = "deep";
  for (int i = 0; i < 18; ++i)
    mb.dense(i % 3 ? 24 : 32, act(ir::ActKind::ReLU));
  ModelPlan plan = planModel(mb.model, avx512());
  CHECK(plan.compactCode);
  REQUIRE(plan.stages.size() == 1);
  CHECK(plan.stages[0].kind == StageKind::Fused);
  const std::vector<StagePlan> &inner = plan.stages[0].inner;
  REQUIRE(inner.size() == 18);
  for (size_t i = 0; i < inner.size(); ++i)
    CHECK(inner[i].specialised == (i != 0 && i != 17));
  std::string text = printPlan(mb.model, plan);
  CHECK(linesStarting(text, "scratch:") ==
        std::vector<std::string>{"scratch: 2 buffers of batch x 32 floats; "
                                 "code: compact (shared kernels)"});
  CHECK(linesStarting(text, "  stage 0.16:") ==
        std::vector<std::string>{
            "  stage 0.16: dense op 16 (dense 32 -> 24, relu): scratch1 "
            "(stride 32) -> scratch0 (stride 32); items: row blocks of at "
            "most 240 rows (multiples of 12); parallel from 342 rows; tiles "
            "12x32, k blocks of 32, 1 panels in groups of 1, one row across "
            "1 panels; weights 1 panels x 32 x 32 (4096 bytes); "
            "specialised"});
  // At most kMaxSpecialised signatures, the most used first.
  test::ModelBuilder many(8, 5);
  for (int i = 0; i < 40; ++i)
    many.dense(8 + i % 20, act(ir::ActKind::ReLU));
  plan = planModel(many.model, avx512());
  std::set<std::string> signatures;
  for (const StagePlan &st : plan.stages[0].inner)
    if (st.specialised)
      signatures.insert(denseSignature(many.model.ops[st.firstOp], st.dense,
                                       st.dense.k, st.srcStride, st.dstStride));
  CHECK(signatures.size() == kMaxSpecialised);
}

TEST_CASE("the plan names each variant of a CPU list") {
  test::ModelBuilder mb(300, 4);
  mb.model.name = "multi";
  mb.dense(600, act(ir::ActKind::ReLU));
  CpuTargetOptions opts;
  opts.cpu = "x86-64-v3,x86-64-v4";
  std::string text, error;
  REQUIRE(describePlan(mb.model, opts, text, error));
  CHECK(linesStarting(text, "plan of") ==
        std::vector<std::string>{
            "plan of 'multi' for cpu 'x86-64-v3': 8 floats per vector, 16 "
            "vector registers",
            "plan of 'multi' for cpu 'x86-64-v4': 16 floats per vector, 32 "
            "vector registers"});
  // 6x16 tiles on AVX2, 12x32 on AVX-512.
  std::vector<std::string> stages = linesStarting(text, "stage 0: dense");
  REQUIRE(stages.size() == 2);
  CHECK(stages[0].find("tiles 6x16") != std::string::npos);
  CHECK(stages[1].find("tiles 12x32") != std::string::npos);
  // Unfused models are refused, as by the code generator.
  test::ModelBuilder bn(4, 5);
  bn.batchNorm(true);
  CHECK_FALSE(describePlan(bn.model, opts, text, error));
  CHECK(error.find("not in fused form") != std::string::npos);
}

TEST_CASE("the JIT goes through the stages the plan lists") {
  // The host's plan, as describePlan prints it, against the stages the
  // JIT-compiled code reports: one line per stage, kind and ops.
  auto stageLine = [](const StageInfo &info, size_t i) {
    const char *kinds[] = {"dense", "rows", "rownorm", "fused", "tiny"};
    std::string ops = info.firstOp == info.lastOp
                          ? "op " + std::to_string(info.firstOp)
                          : "ops " + std::to_string(info.firstOp) + "-" +
                                std::to_string(info.lastOp);
    return "stage " + std::to_string(i) + ": " +
           kinds[static_cast<int>(info.kind)] + " " + ops;
  };
  std::vector<test::ModelBuilder> models;
  models.emplace_back(2, 1);
  models.back().dense(3, act(ir::ActKind::ReLU));
  models.emplace_back(64, 2);
  models.back().dense(64, act(ir::ActKind::ReLU));
  models.back().dense(10, act(ir::ActKind::None), true, ir::RowNorm::Softmax);
  models.emplace_back(600, 3);
  models.back().dense(700, act(ir::ActKind::Tanh));
  models.back().affine(true);
  models.back().dense(300, act(ir::ActKind::None), true, ir::RowNorm::Softmax);
  for (test::ModelBuilder &mb : models) {
    CpuTargetOptions opts;
    std::string text, error;
    REQUIRE(describePlan(mb.model, opts, text, error));
    std::unique_ptr<JitModel> jit = JitModel::create(mb.model, opts, error);
    REQUIRE(jit);
    std::vector<std::string> planned = linesStarting(text, "stage ");
    REQUIRE(planned.size() == jit->stages().size());
    for (size_t i = 0; i < planned.size(); ++i) {
      std::string want = stageLine(jit->stages()[i], i);
      CHECK(planned[i].substr(0, want.size()) == want);
    }
  }
}
