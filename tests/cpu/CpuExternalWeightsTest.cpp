//===- CpuExternalWeightsTest.cpp - Parameters in PREFIX.weights ----------===//
//
// Models compiled with external weights (CpuTargetOptions::externalWeights):
// the code holds no parameters and the blob all of them, in the documented
// format; the fingerprint follows the layout, not the values, so retrained
// weights fit the same object; deep (compact), wide (cache-blocked,
// streaming) and multiversioned models match the reference. Random networks
// are in CpuDifferentialTest, the C ABI (error codes, mapping the file with
// the runtime) in CpuAotTest.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cpu/CpuBackend.h"
#include "compiler/codegen/cpu/Plan.h"
#include "compiler/codegen/cpu/WeightsBlob.h"
#include "tests/cpu/JitChecks.h"
#include "tests/cpu/TestModels.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <random>

using namespace seqc;
using namespace seqc::codegen::cpu;
using test::checkBatch;
using test::compile;

namespace {

std::string generateExternal(const ir::Model &model, std::string &blob,
                             OutputKind kind = OutputKind::Object,
                             const std::string &cpu = "") {
  return test::generateExternal(model, "net", cpu, kind, blob);
}

} // namespace

namespace {

uint64_t field(const std::string &blob, uint64_t offset) {
  uint64_t v;
  REQUIRE(blob.size() >= offset + 8);
  std::memcpy(&v, blob.data() + offset, 8);
  return v;
}

/// 20 -> 40 GELU -> LayerNorm -> 7 log-softmax.
test::ModelBuilder smallModel(uint32_t seed,
                              ir::ActKind act = ir::ActKind::GELU) {
  test::ModelBuilder mb(20, seed);
  mb.dense(40, {act, 0, 0});
  mb.layerNorm(true);
  mb.dense(7, {}, true, ir::RowNorm::LogSoftmax);
  return mb;
}

} // namespace

TEST_CASE("external weights: the code holds no parameters, the blob all") {
  test::ModelBuilder mb = smallModel(3);
  std::string blob;
  std::string ir = generateExternal(mb.model, blob, OutputKind::LLVMIR);
  // No parameter constants or placeholders left in the module; the entry
  // points take the weights first and the check is exported.
  CHECK(ir.find("@net.dense0.weight") == std::string::npos);
  CHECK(ir.find(".external.") == std::string::npos);
  CHECK(ir.find("x float] [") == std::string::npos);
  CHECK(ir.find("x double] [") == std::string::npos);
  CHECK(ir.find("%net.dense0.weight = getelementptr inbounds i8, ptr "
                "%weights, i64 64") != std::string::npos);
  CHECK(ir.find("i32 @net_check_weights(ptr %0, i64 %1)") != std::string::npos);
  CHECK(ir.find("i32 @net_run(ptr %0, ptr %1, ptr %2, i64 %3, ptr %4)") !=
        std::string::npos);

  // The header: magic, fingerprint, size; then the arrays, 64-byte aligned.
  REQUIRE(blob.size() % 64 == 0);
  CHECK(blob.compare(0, 8, "SEQCWTS1") == 0);
  CHECK(field(blob, 0) == WeightsBlob::kMagic);
  CHECK(field(blob, WeightsBlob::kFingerprintOffset) != 0);
  CHECK(field(blob, WeightsBlob::kSizeOffset) == blob.size());
  for (uint64_t i = 24; i < 64; ++i)
    CHECK(blob[i] == 0);
  // The first array is layer 0's packed weights: W[0][0] first, then
  // W[1][0] (panels hold nr outputs per k step).
  const std::vector<float> &w =
      mb.model.params[mb.model.ops[0].weight].data.data;
  float first[2];
  std::memcpy(first, blob.data() + 64, sizeof first);
  CHECK(first[0] == w[0]);
  CHECK(first[1] == w[20]);
  // Every parameter is there: 20 x 40 + 40, the LayerNorm's two vectors of
  // 40 (as double), 40 x 7 + 7, each array padded to its panels/lines.
  CHECK(blob.size() >= 64 + (20 * 40 + 40 + 40 * 7 + 7) * 4 + 2 * 40 * 8);

  // The JIT passes its own copy, 64-byte aligned.
  std::unique_ptr<JitModel> jit = compile(mb.model, "", false, true);
  REQUIRE(jit->weightsData());
  CHECK(reinterpret_cast<uintptr_t>(jit->weightsData()) % 64 == 0);
  CHECK(jit->weightsBytes() == blob.size());
  CHECK(std::memcmp(jit->weightsData(), blob.data(), blob.size()) == 0);
  std::unique_ptr<JitModel> embedded = compile(mb.model);
  CHECK(embedded->weightsData() == nullptr);
  CHECK(embedded->weightsBytes() == 0);
}

TEST_CASE("external weights: retrained weights fit the same object") {
  // Same model and target, other values: the same object, the same
  // fingerprint, other arrays.
  std::string blobA, blobB, blobC, blobD;
  std::string objA = generateExternal(smallModel(1).model, blobA);
  std::string objB = generateExternal(smallModel(2).model, blobB);
  CHECK(objA == objB);
  REQUIRE(blobA.size() == blobB.size());
  CHECK(blobA.compare(0, 64, blobB, 0, 64) == 0);
  CHECK(blobA != blobB);
  // Another activation is another model: its fingerprint differs.
  generateExternal(smallModel(1, ir::ActKind::Tanh).model, blobC);
  CHECK(field(blobC, WeightsBlob::kFingerprintOffset) !=
        field(blobA, WeightsBlob::kFingerprintOffset));
#if defined(__x86_64__)
  // Another ISA packs other panels: so does the fingerprint.
  std::string blobV2, blobV4;
  generateExternal(smallModel(1).model, blobV2, OutputKind::Object,
                   "x86-64-v2");
  generateExternal(smallModel(1).model, blobV4, OutputKind::Object,
                   "x86-64-v4");
  CHECK(field(blobV2, WeightsBlob::kFingerprintOffset) !=
        field(blobV4, WeightsBlob::kFingerprintOffset));
  // A multiversioned object's blob holds every variant's arrays.
  generateExternal(smallModel(1).model, blobD, OutputKind::Object,
                   "x86-64-v2,x86-64-v4");
  CHECK(blobD.size() > blobV4.size());
#endif
}

TEST_CASE("external weights: deep, wide and multiversioned models") {
  std::mt19937 rng(12);
  // More than 16 Dense layers (compact code), a fused chain.
  test::ModelBuilder deep(33, 4);
  for (int d = 0; d < 18; ++d)
    deep.dense(d % 3 ? 33 : 8, {ir::ActKind::ReLU, 0, 0}, d % 4 != 0);
  deep.dense(5, {}, true, ir::RowNorm::Softmax);
  std::unique_ptr<JitModel> jit = compile(deep.model, "", false, true);
  for (uint64_t batch : {1u, 13u, 300u})
    checkBatch(deep.model, *jit, batch, rng, static_cast<int>(batch % 3));
  // Layers that stream their weights and take k blocks, unfused.
  test::ModelBuilder wide(1500, 11);
  wide.dense(300, {ir::ActKind::GELU, 0, 0});
  wide.dense(2100, {ir::ActKind::Tanh, 0, 0}, false);
  wide.affine(true);
  wide.dense(70, {}, true, ir::RowNorm::LogSoftmax);
  jit = compile(wide.model, "", false, true);
  for (uint64_t batch : {1u, 37u, 300u})
    for (int mode = 0; mode < 3; ++mode)
      checkBatch(wide.model, *jit, batch, rng, mode);
#if defined(__x86_64__)
  test::ModelBuilder mv = smallModel(9);
  jit = compile(mv.model, "x86-64-v2,x86-64-v3,x86-64-v4", false, true);
  for (uint64_t batch : {1u, 29u})
    checkBatch(mv.model, *jit, batch, rng, 0);
#endif
}

TEST_CASE("external weights: tiny networks load their parameters") {
  // Straight-line code whose weights are immediates when embedded: here
  // every one is loaded from the blob (and broadcast across the rows).
  std::mt19937 rng(5);
  // A BatchNorm first: canonicalized into the affine op 0 (the Dense ops
  // after it are fused already, so it does not fold into them).
  test::ModelBuilder mb(3, 8);
  mb.batchNorm(true);
  mb.dense(4, {ir::ActKind::Tanh, 0, 0});
  mb.layerNorm(true);
  mb.affine(true);
  mb.dense(2, {}, true, ir::RowNorm::Softmax);
  // BatchNorm becomes an affine op with its statistics folded in.
  test::runPasses(mb.model);
  REQUIRE(mb.model.ops.size() == 5);
  REQUIRE(mb.model.ops[0].kind == ir::OpKind::Affine);
  REQUIRE(planMemory(mb.model).tiny);
  std::string blob;
  std::string ir = generateExternal(mb.model, blob, OutputKind::LLVMIR);
  CHECK(ir.find("%net.op1.weight = getelementptr inbounds i8, ptr "
                "%weights") != std::string::npos);
  CHECK(ir.find("%net.op0.scale = getelementptr inbounds i8, ptr "
                "%weights") != std::string::npos);
  // 10 arrays, each within one 64-byte line: the two Dense layers' weights
  // (3 x 4, 4 x 2 floats) and biases, and the two per-feature vectors of
  // doubles of each of the folded BatchNorm, the LayerNorm and the Affine.
  CHECK(blob.size() == 64 + 10 * 64);
  std::unique_ptr<JitModel> jit = compile(mb.model, "", false, true);
  for (uint64_t batch : {1u, 7u, 8u, 13u, 2000u})
    checkBatch(mb.model, *jit, batch, rng, static_cast<int>(batch % 3));
}

TEST_CASE("external weights: a target of the other byte order is refused") {
  CpuTargetOptions opts;
  opts.prefix = "net";
  opts.triple = "powerpc64-linux-gnu";
  opts.externalWeights = true;
  std::string out, error;
  WeightsBlob blob;
  CHECK_FALSE(generate(smallModel(1).model, opts, OutputKind::Object, out,
                       error, &blob));
  CHECK(error.find("byte order") != std::string::npos);
  // Embedded weights are fine there.
  opts.externalWeights = false;
  CHECK(generate(smallModel(1).model, opts, OutputKind::Object, out, error));
}
