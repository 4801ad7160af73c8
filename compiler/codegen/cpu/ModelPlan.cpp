//===- ModelPlan.cpp - Memory and stages of a model -----------------------===//
//
// Part of seqc. The plan of a fused model for a target, before any LLVM IR
// exists: its scratch memory, its stages in order with their buffers, row
// strides and work items, whether the chain runs as one fused stage, and
// which layers compact code specialises; and the plan as text.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cpu/Plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

namespace seqc::codegen::cpu {

namespace {

uint64_t widthOf(const ir::Model &model, int32_t value) {
  return static_cast<uint64_t>(model.values[value].type.features());
}

bool isDense(const ir::Op &op) { return op.kind == ir::OpKind::Dense; }

/// The work a row-wise op is counted as, per feature, against a Dense
/// layer's multiply-add per weight (most take a few double operations).
constexpr uint64_t kRowOpWorkPerFeature = 16;

} // namespace

MemoryPlan planMemory(const ir::Model &model) {
  MemoryPlan plan;
  bool small = true;
  uint64_t weights = 0;
  for (const ir::Value &v : model.values)
    small = small && v.type.features() <= kTinyMaxWidth;
  for (const ir::Op &op : model.ops)
    if (isDense(op))
      weights += static_cast<uint64_t>(op.inFeatures * op.outFeatures);
  plan.tiny = small && weights <= kTinyMaxWeights;
  if (plan.tiny || model.ops.size() < 2)
    return plan;
  plan.scratchBuffers = model.ops.size() == 2 ? 1 : 2;
  for (size_t i = 0; i + 1 < model.ops.size(); ++i)
    plan.scratchFeatures =
        std::max<uint64_t>(plan.scratchFeatures,
                           scratchStride(widthOf(model, model.ops[i].result)));
  return plan;
}

namespace {

/// Plans the stages of a model that is not tiny:
///  1. Whether the chain runs as one fused stage: more than one stage, and
///     packed weights that fit in L2 (fusesIntoOneStage).
///  2. A stage per op, and one more for a softmax that ends a Dense op; op
///     i reads what op i - 1 wrote and writes the output (the last op) or
///     the scratch buffers in turn (layerStages). A fused chain's row
///     blocks use the scratch buffers at once, so their rows then all have
///     the widest intermediate's stride.
///  3. Compact code: which Dense layers get specialised kernels
///     (markSpecialised).
///  4. Fused: the stages become the inner stages of one (fusedStage).
class StagePlanner {
public:
  StagePlanner(const ir::Model &model, const KernelConfig &cfg,
               const MemoryPlan &memory)
      : model(model), cfg(cfg), memory(memory) {}

  std::vector<StagePlan> plan(bool compactCode) {
    fuse = fusesIntoOneStage();
    std::vector<StagePlan> stages = layerStages();
    if (compactCode)
      markSpecialised(stages);
    if (fuse)
      return {fusedStage(std::move(stages))};
    return stages;
  }

private:
  bool fusesIntoOneStage() const {
    uint64_t weightBytes = 0;
    size_t stageCount = 0;
    for (size_t i = 0; i < model.ops.size(); ++i) {
      const ir::Op &op = model.ops[i];
      if (isDense(op))
        weightBytes += densePlanOf(i).weights.bytes();
      stageCount += 1 + (isDense(op) && op.rowNorm != ir::RowNorm::None);
    }
    return stageCount > 1 && weightBytes <= kFuseMaxWeightBytes;
  }

  /// The buffer op i writes.
  Buffer destinationOf(size_t i) const {
    if (i + 1 == model.ops.size())
      return Buffer::Output;
    if (memory.scratchBuffers == 1)
      return Buffer::Scratch0;
    return i % 2 ? Buffer::Scratch1 : Buffer::Scratch0;
  }
  Buffer sourceOf(size_t i) const {
    return i == 0 ? Buffer::Input : destinationOf(i - 1);
  }
  uint64_t strideOf(Buffer buffer, uint64_t width) const {
    if (buffer == Buffer::Input || buffer == Buffer::Output)
      return width;
    return fuse ? memory.scratchFeatures : scratchStride(width);
  }

  std::vector<StagePlan> layerStages() const {
    std::vector<StagePlan> stages;
    for (size_t i = 0; i < model.ops.size(); ++i) {
      const ir::Op &op = model.ops[i];
      StagePlan st;
      st.firstOp = st.lastOp = i;
      st.src = sourceOf(i);
      st.dst = destinationOf(i);
      st.srcStride = strideOf(st.src, widthOf(model, op.input));
      st.dstStride = strideOf(st.dst, widthOf(model, op.result));
      if (isDense(op))
        planDenseStage(i, st);
      else
        planRowStage(op, StageKind::RowOp, st);
      stages.push_back(st);
      if (isDense(op) && op.rowNorm != ir::RowNorm::None) {
        // The softmax, in place on the rows just written.
        StagePlan norm;
        norm.firstOp = norm.lastOp = i;
        norm.src = norm.dst = st.dst;
        norm.srcStride = norm.dstStride = st.dstStride;
        planRowStage(op, StageKind::RowNorm, norm);
        stages.push_back(norm);
      }
    }
    return stages;
  }

  /// Dense op i's blocking, which depends on what feeds it (int8 takes
  /// pmaddubsw after a ReLU).
  DensePlan densePlanOf(size_t i) const {
    return planDense(model.ops[i], cfg, inputNeverNegative(model, i, cfg));
  }

  void planDenseStage(size_t i, StagePlan &st) const {
    const ir::Op &op = model.ops[i];
    st.kind = StageKind::Dense;
    st.dense = densePlanOf(i);
    const DensePlan &pl = st.dense;
    if (pl.dotRows) {
      st.rowsPerItem = pl.dotBlockRows;
      st.rowAlign = pl.dotRows;
    } else {
      // Row blocks times groups of panels.
      st.rowsPerItem = pl.mc;
      st.rowAlign = pl.mr;
      st.itemsPerRowBlock = pl.groups;
      if (pl.rowGroups != pl.groups)
        st.itemsForOneRow = pl.rowGroups;
    }
    setWork(st, widthOf(model, op.input) * widthOf(model, op.result));
  }

  void planRowStage(const ir::Op &op, StageKind kind, StagePlan &st) const {
    uint64_t width = widthOf(model, op.result);
    st.kind = kind;
    st.rowsPerItem =
        std::max<uint64_t>(1, kRowItemFloats / std::max<uint64_t>(width, 1));
    setWork(st, width * kRowOpWorkPerFeature);
  }

  static void setWork(StagePlan &st, uint64_t workPerRow) {
    st.workPerRow = workPerRow;
    st.minParallelRows =
        (kMinParallelWork + workPerRow - 1) / std::max<uint64_t>(workPerRow, 1);
  }

  /// Specialises the kernels of the layers whose signature (with k and the
  /// row strides) at least two share, the most used first (ties: the
  /// first seen), at most kMaxSpecialised signatures.
  void markSpecialised(std::vector<StagePlan> &stages) const {
    auto signature = [&](const StagePlan &st) {
      return denseSignature(model.ops[st.firstOp], st.dense, st.dense.k,
                            st.srcStride, st.dstStride);
    };
    std::map<std::string, size_t> uses;
    std::vector<std::string> firstSeen;
    for (const StagePlan &st : stages)
      if (st.kind == StageKind::Dense && ++uses[signature(st)] == 1)
        firstSeen.push_back(signature(st));
    std::stable_sort(firstSeen.begin(), firstSeen.end(),
                     [&](const std::string &x, const std::string &y) {
                       return uses[x] > uses[y];
                     });
    std::set<std::string> chosen;
    for (const std::string &sig : firstSeen)
      if (uses[sig] >= 2 && chosen.size() < kMaxSpecialised)
        chosen.insert(sig);
    for (StagePlan &st : stages)
      st.specialised =
          st.kind == StageKind::Dense && chosen.count(signature(st));
  }

  /// The whole chain, one row block at a time: a block's activations (at
  /// most kFuseBlockBytes for the widest layer's input and output) stay in
  /// cache between layers. Only the first stage may read a cold source.
  StagePlan fusedStage(std::vector<StagePlan> stages) const {
    uint64_t maxWidth = widthOf(model, model.inputValue());
    for (const ir::Op &op : model.ops)
      maxWidth = std::max(maxWidth, widthOf(model, op.result));
    StagePlan fused;
    fused.kind = StageKind::Fused;
    fused.firstOp = 0;
    fused.lastOp = model.ops.size() - 1;
    // A row of the widest layer's input and output: 8 bytes a feature.
    fused.rowsPerItem = std::clamp<uint64_t>(
        kFuseBlockBytes / (8 * std::max<uint64_t>(maxWidth, 1)) / kMaxTileRows *
            kMaxTileRows,
        kMaxTileRows, kMaxBlockRows);
    fused.srcStride = stages.front().srcStride;
    fused.dstStride = stages.back().dstStride;
    uint64_t work = 0;
    for (size_t j = 0; j < stages.size(); ++j) {
      work += stages[j].workPerRow;
      stages[j].coldCheck = j == 0;
    }
    setWork(fused, work);
    fused.inner = std::move(stages);
    return fused;
  }

  const ir::Model &model;
  const KernelConfig &cfg;
  const MemoryPlan &memory;
  bool fuse = false;
};

/// The tiny network: every op in one straight-line stage.
StagePlan tinyStage(const ir::Model &model) {
  StagePlan st;
  st.kind = StageKind::Tiny;
  st.lastOp = model.ops.size() - 1;
  st.srcStride = widthOf(model, model.inputValue());
  st.dstStride = widthOf(model, model.outputValue());
  st.rowsPerItem = kTinyRowsPerItem;
  // Its context's cold flag is never read.
  st.coldCheck = false;
  st.workPerRow = 0;
  for (const ir::Op &op : model.ops)
    st.workPerRow += static_cast<uint64_t>(op.inFeatures) * op.outFeatures +
                     widthOf(model, op.result);
  st.minParallelRows = (kMinParallelWork + st.workPerRow - 1) /
                       std::max<uint64_t>(st.workPerRow, 1);
  return st;
}

} // namespace

ModelPlan planModel(const ir::Model &model, const KernelConfig &cfg) {
  ModelPlan plan;
  plan.config = cfg;
  plan.memory = planMemory(model);
  if (model.ops.empty())
    return plan;
  if (plan.memory.tiny) {
    plan.stages.push_back(tinyStage(model));
    return plan;
  }
  plan.compactCode = std::count_if(model.ops.begin(), model.ops.end(),
                                   isDense) > kInlineDenseLayers;
  plan.stages = StagePlanner(model, cfg, plan.memory).plan(plan.compactCode);
  return plan;
}

std::string denseSignature(const ir::Op &op, const DensePlan &pl, uint64_t k,
                           uint64_t lda, uint64_t ldc) {
  // int8's form of the dot products (weights' k groups, inputs' bytes)
  // differs between layers of one model (UnsignedQuads after a ReLU).
  return fmt::format("n{}/{}:k{}:s{}/{}:b{}:a{}/{:a}/{:a}:p{}:d{}", pl.nr,
                     pl.nrVecs, k, lda, ldc, op.bias != ir::kNoParam,
                     int(op.act.kind), op.act.alpha, op.act.beta,
                     pl.streamsWeights, int(pl.int8Dot));
}

std::string describeOp(const ir::Model &model, const ir::Op &op) {
  std::string text =
      fmt::format("{} {} -> {}", ir::opName(op.kind), widthOf(model, op.input),
                  widthOf(model, op.result));
  if ((isDense(op) || op.kind == ir::OpKind::Act) && !op.act.isNone())
    text += ", " + op.act.str();
  if (isDense(op) && op.rowNorm == ir::RowNorm::Softmax)
    text += ", softmax";
  if (isDense(op) && op.rowNorm == ir::RowNorm::LogSoftmax)
    text += ", log_softmax";
  if (isDense(op) && op.bias == ir::kNoParam)
    text += ", no bias";
  return text;
}

//===----------------------------------------------------------------------===//
// The plan as text
//===----------------------------------------------------------------------===//

namespace {

const char *bufferName(Buffer buffer) {
  switch (buffer) {
  case Buffer::Input:
    return "input";
  case Buffer::Output:
    return "output";
  case Buffer::Scratch0:
    return "scratch0";
  case Buffer::Scratch1:
    return "scratch1";
  }
  return "?";
}

const char *kindName(StageKind kind) {
  switch (kind) {
  case StageKind::Dense:
    return "dense";
  case StageKind::RowOp:
    return "rows";
  case StageKind::RowNorm:
    return "rownorm";
  case StageKind::Fused:
    return "fused";
  case StageKind::Tiny:
    return "tiny";
  }
  return "?";
}

/// How a stage's batch is cut into work items.
std::string describeItems(const StagePlan &st) {
  std::string text;
  if (st.kind == StageKind::Fused)
    text = fmt::format("row blocks of at most {} rows (about batch / {})",
                       st.rowsPerItem, kFusedShareItems);
  else if (st.rowAlign)
    text = fmt::format("row blocks of at most {} rows (multiples of {})",
                       st.rowsPerItem, st.rowAlign);
  else
    text = fmt::format("{} rows", st.rowsPerItem);
  if (st.itemsPerRowBlock > 1)
    text += fmt::format(" x {} panel groups", st.itemsPerRowBlock);
  if (st.itemsForOneRow)
    text += fmt::format(" ({} for one row)", st.itemsForOneRow);
  return text;
}

/// How a Dense layer is blocked and packed.
std::string describeDense(const StagePlan &st) {
  const DensePlan &pl = st.dense;
  std::string text;
  if (pl.dotRows)
    text = fmt::format("dot products, tiles of {} rows, k blocks of {}",
                       pl.dotRows, pl.dotKc);
  else
    text = fmt::format("tiles {}x{}, k blocks of {}, {} panels in groups of "
                       "{}, one row across {} panels",
                       pl.mr, pl.nr, pl.kc, pl.panels, pl.panelsPerGroup,
                       pl.gemvPanels);
  text +=
      fmt::format("; weights {} ({} bytes{})", pl.weights.str(),
                  pl.weights.bytes(), pl.streamsWeights ? ", streamed" : "");
  if (st.coldCheck) {
    uint64_t rowBytes = std::max<uint64_t>(st.srcStride * 4, 1);
    text +=
        fmt::format("; cold source above {} rows", kColdSourceBytes / rowBytes);
  }
  if (st.specialised)
    text += "; specialised";
  return text;
}

std::string describeStage(const ir::Model &model, const StagePlan &st,
                          const std::string &label) {
  std::string ops = st.firstOp == st.lastOp
                        ? fmt::format("op {} ({})", st.firstOp,
                                      describeOp(model, model.ops[st.firstOp]))
                        : fmt::format("ops {}-{}", st.firstOp, st.lastOp);
  std::string text = fmt::format(
      "stage {}: {} {}: {} (stride {}) -> {} (stride {}); items: {}; "
      "parallel from {} rows",
      label, kindName(st.kind), ops, bufferName(st.src), st.srcStride,
      bufferName(st.dst), st.dstStride, describeItems(st), st.minParallelRows);
  if (st.kind == StageKind::Dense)
    text += "; " + describeDense(st);
  text += "\n";
  for (size_t j = 0; j < st.inner.size(); ++j)
    text += "  " +
            describeStage(model, st.inner[j], fmt::format("{}.{}", label, j));
  return text;
}

/// A stage's ops and blocking in a few words, for a picture.
std::string shortStage(const ir::Model &model, const StagePlan &st) {
  const ir::Op &op = model.ops[st.firstOp];
  if (st.kind == StageKind::RowNorm)
    return fmt::format("{} of its {} outputs, in place",
                       op.rowNorm == ir::RowNorm::Softmax ? "softmax"
                                                          : "log_softmax",
                       op.outFeatures);
  std::string text = describeOp(model, op);
  if (st.kind != StageKind::Dense)
    return text;
  const DensePlan &pl = st.dense;
  if (pl.dotRows)
    return text + fmt::format(" (dot products, tiles of {} rows{})", pl.dotRows,
                              pl.streamsWeights ? ", streamed" : "");
  return text + fmt::format(" (tiles {}x{}{})", pl.mr, pl.nr,
                            pl.streamsWeights ? ", weights streamed" : "");
}

} // namespace

std::string summarizeStage(const ir::Model &model, const StagePlan &st,
                           size_t index) {
  switch (st.kind) {
  case StageKind::Tiny:
    return fmt::format("stage {}: tiny: straight-line code, rows in SIMD "
                       "lanes",
                       index);
  case StageKind::Fused: {
    std::string text =
        fmt::format("fused stage {}: row blocks of at most {} rows through",
                    index, st.rowsPerItem);
    for (const StagePlan &inner : st.inner)
      text += "\n" + shortStage(model, inner);
    return text;
  }
  case StageKind::RowOp:
    return fmt::format("stage {}: row op {}", index, shortStage(model, st));
  case StageKind::Dense:
  case StageKind::RowNorm:
    break;
  }
  return fmt::format("stage {}: {}", index, shortStage(model, st));
}

std::string printPlan(const ir::Model &model, const ModelPlan &plan) {
  const KernelConfig &cfg = plan.config;
  std::string text = fmt::format(
      "plan of '{}' for cpu '{}': {} floats per vector, {} vector "
      "registers{}{}\n",
      model.name, cfg.cpu, cfg.vectorWidth, cfg.vectorRegs,
      cfg.fastMath ? ", fast math" : "",
      cfg.precision == Precision::F32
          ? std::string()
          : fmt::format(", {} Dense layers", precisionName(cfg.precision)));
  const MemoryPlan &memory = plan.memory;
  std::string code = memory.tiny        ? "tiny (straight-line, rows in lanes)"
                     : plan.compactCode ? "compact (shared kernels)"
                                        : "inlined kernels";
  if (memory.scratchBuffers == 0)
    text += fmt::format("scratch: none; code: {}\n", code);
  else
    text += fmt::format("scratch: {} buffers of batch x {} floats; code: {}\n",
                        memory.scratchBuffers, memory.scratchFeatures, code);
  if (plan.stages.empty())
    text += "no stages: the output is a copy of the input\n";
  for (size_t i = 0; i < plan.stages.size(); ++i)
    text += describeStage(model, plan.stages[i], std::to_string(i));
  return text;
}

} // namespace seqc::codegen::cpu
