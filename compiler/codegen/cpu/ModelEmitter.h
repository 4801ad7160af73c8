//===- ModelEmitter.h - Fused IR to LLVM IR ---------------------*- C++ -*-===//
//
// Part of seqc. Private to compiler/codegen/cpu: the class that builds one
// model's LLVM IR. Its members are defined by job: ModelEmitter.cpp (shared
// loop and memory helpers, fused stages, the entry points), DenseEmitter.cpp
// (packed weights and microkernels), NarrowDenseEmitter.cpp (layers with
// few outputs), RowOpEmitter.cpp (row-wise ops) and TinyEmitter.cpp (tiny
// networks as straight-line code).
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_CODEGEN_CPU_MODELEMITTER_H
#define SEQC_CODEGEN_CPU_MODELEMITTER_H

#include "compiler/codegen/cpu/CpuBackend.h"
#include "compiler/codegen/cpu/Internal.h"
#include "compiler/codegen/cpu/Plan.h"
#include "compiler/codegen/cpu/WeightsBlob.h"

#include "llvm/IR/Constants.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/Module.h"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace seqc::codegen::cpu {

/// The body of an emitted loop: gets the induction variable and the
/// carried values, returns the carried values of the next iteration.
using LoopBody = std::function<std::vector<llvm::Value *>(
    llvm::Value *iv, const std::vector<llvm::Value *> &carried)>;

/// Builds the LLVM IR of one model into a module (see emitModel).
class ModelEmitter {
public:
  ModelEmitter(const ir::Model &model, const std::string &prefix,
               const KernelConfig &cfg, llvm::LLVMContext &ctx,
               llvm::Module &mod, bool exportSymbols, bool profile,
               WeightsBlob *blob)
      : model(model), prefix(prefix), cfg(cfg), ctx(ctx), mod(mod), b(ctx),
        math(b, cfg.fastMath), exportSymbols(exportSymbols), profile(profile),
        blob(blob) {
    f32 = b.getFloatTy();
    f64 = b.getDoubleTy();
    i64 = b.getInt64Ty();
    i32 = b.getInt32Ty();
    ptrTy = llvm::PointerType::getUnqual(ctx);
    voidTy = b.getVoidTy();
    vecTy = llvm::FixedVectorType::get(f32, cfg.vectorWidth);
    taskTy = llvm::FunctionType::get(voidTy, {ptrTy, i64, i64}, false);
    // {src, dst, rows, scratch 0, scratch 1, source cold}: stages read the
    // first three, the fused stage the scratch buffers too, Dense stages
    // whether their source is cold (kColdSourceBytes); with external
    // weights a seventh, the weights.
    std::vector<llvm::Type *> fields = {ptrTy, ptrTy, i64, ptrTy, ptrTy, i64};
    if (blob)
      fields.push_back(ptrTy);
    ctxTy = llvm::StructType::get(ctx, fields);
  }

  /// Emits the model; returns the stages PREFIX_run goes through.
  std::vector<StageInfo> emit();

private:
  struct Stage {
    llvm::Function *fn = nullptr;
    /// Work items = ceil(batch / rowsPerItem) * itemsPerRowBlock; with
    /// rowAlign > 0, rowsPerItem is the largest row block and the blocks are
    /// evened out at run time (see rowBlockRows).
    uint64_t rowsPerItem = 1;
    uint64_t rowAlign = 0;
    uint64_t itemsPerRowBlock = 1;
    /// Work items when the batch is one row (0: as itemsPerRowBlock).
    uint64_t itemsForOneRow = 0;
    /// Buffers: 0 = input, 1 = output, 2/3 = scratch buffers 0/1.
    int src = 0;
    int dst = 1;
    /// Rough multiply-adds per row, to keep small stages off the pool.
    uint64_t workPerRow = 1;
    /// Row strides (floats) of src and dst.
    uint64_t srcStride = 0, dstStride = 0;
    /// A fused stage: row blocks of fusedBlockRows(rows, rowsPerItem).
    bool fusedRows = false;
  };

  /// Fields of the stage context (ctxTy) past src, dst and rows.
  static constexpr unsigned kCtxSourceCold = 5, kCtxWeights = 6;
  /// 1 when a pass over `rows` rows of `stride` floats reads them from
  /// memory (more than kColdSourceBytes), else 0: the stage context's
  /// source cold field.
  llvm::Value *sourceCold(llvm::Value *rows, uint64_t stride) {
    return b.CreateZExt(b.CreateICmpUGT(b.CreateMul(rows, c64(stride * 4)),
                                        c64(kColdSourceBytes)),
                        i64);
  }

  /// Rows per item of a fused stage: at most `maxRows`, but small enough
  /// that a small batch still makes about 8 items to share out (multiples
  /// of 12 rows, i.e. of every microkernel height).
  llvm::Value *fusedBlockRows(llvm::Value *rows, uint64_t maxRows) {
    llvm::Value *share = b.CreateUDiv(b.CreateAdd(rows, c64(7)), c64(8));
    llvm::Value *aligned = b.CreateMul(
        b.CreateUDiv(b.CreateAdd(share, c64(11)), c64(12)), c64(12));
    // Never 0 (a divisor in stageItems), even for rows == 0.
    aligned = b.CreateBinaryIntrinsic(llvm::Intrinsic::umax, aligned, c64(12));
    return b.CreateBinaryIntrinsic(llvm::Intrinsic::umin, aligned,
                                   c64(maxRows));
  }

  /// Work items of `st` for a batch of `rows` rows.
  llvm::Value *stageItems(const Stage &st, llvm::Value *rows) {
    llvm::Value *blockRows =
        st.fusedRows  ? fusedBlockRows(rows, st.rowsPerItem)
        : st.rowAlign ? rowBlockRows(rows, st.rowsPerItem, st.rowAlign)
                      : c64(st.rowsPerItem);
    llvm::Value *blocks = b.CreateUDiv(
        b.CreateAdd(rows, b.CreateSub(blockRows, c64(1))), blockRows);
    llvm::Value *items = b.CreateMul(blocks, c64(st.itemsPerRowBlock));
    if (!st.itemsForOneRow)
      return items;
    return b.CreateSelect(b.CreateICmpEQ(rows, c64(1)), c64(st.itemsForOneRow),
                          items);
  }

  /// Networks whose packed weights total at most this many bytes run as one
  /// fused stage (emitFusedStage), their weights staying in L2.
  static constexpr uint64_t kFuseMaxWeightBytes = 256 << 10;
  /// Bytes of one row block's input plus output activations in a fused
  /// stage: they stay in L2 between layers.
  static constexpr uint64_t kFuseBlockBytes = 128 << 10;
  Stage emitFusedStage(const std::vector<Stage> &stages, uint64_t maxRows);

  /// Below this many multiply-adds (about 5 us of work on one core) a stage
  /// runs on the calling thread. Above it sharing pays even when a worker is
  /// slow to wake, since the pool's caller then claims the items itself and
  /// does not wait for it (2 threads on mnist at batch 1: 42 -> 24 us; at
  /// 2^21, the bound before the pool handed work out dynamically, its layers
  /// all ran serially).
  static constexpr uint64_t kMinParallelWork = 1u << 18;

  /// A stage's task function `void(ctx, begin, end)` with its entry block
  /// open and the input, output and row count loaded from the context.
  struct Task {
    llvm::Function *fn;
    llvm::Value *begin, *end, *in, *out, *rows;
  };
  Task beginTask(const std::string &name);
  /// The rows [first, last) of items [begin, end) of `rowsPerItem` rows.
  std::pair<llvm::Value *, llvm::Value *> itemRows(const Task &task,
                                                   uint64_t rowsPerItem);
  /// Closes \p task's function and returns its stage, `rowsPerItem` rows
  /// per work item.
  Stage endTask(const Task &task, uint64_t rowsPerItem);

  llvm::Function *newFunction(llvm::FunctionType *ty, const std::string &name,
                              bool exported);
  /// Rows per block when `rows` rows are cut into blocks of at most
  /// `maxRows` (a multiple of `align`) of nearly equal size, each a multiple
  /// of `align`: so no thread is left with a short last block while
  /// another still has a full one.
  llvm::Value *rowBlockRows(llvm::Value *rows, uint64_t maxRows,
                            uint64_t align) {
    llvm::Value *blocks = b.CreateBinaryIntrinsic(
        llvm::Intrinsic::umax,
        b.CreateUDiv(b.CreateAdd(rows, c64(maxRows - 1)), c64(maxRows)),
        c64(1));
    llvm::Value *even =
        b.CreateUDiv(b.CreateAdd(rows, b.CreateSub(blocks, c64(1))), blocks);
    llvm::Value *aligned =
        b.CreateMul(b.CreateUDiv(b.CreateAdd(even, c64(align - 1)), c64(align)),
                    c64(align));
    return b.CreateBinaryIntrinsic(llvm::Intrinsic::umin, aligned,
                                   c64(maxRows));
  }
  std::vector<llvm::Value *> emitLoop(llvm::Value *begin, llvm::Value *end,
                                      llvm::Value *step,
                                      std::vector<llvm::Value *> init,
                                      const LoopBody &body);
  void emitForEach(llvm::Value *begin, llvm::Value *end, llvm::Value *step,
                   const std::function<void(llvm::Value *)> &body) {
    emitLoop(begin, end, step, {},
             [&](llvm::Value *iv, const std::vector<llvm::Value *> &) {
               body(iv);
               return std::vector<llvm::Value *>{};
             });
  }
  llvm::Value *c64(uint64_t v) { return llvm::ConstantInt::get(i64, v); }
  llvm::Value *gepF(llvm::Value *base, llvm::Value *index) {
    return b.CreateInBoundsGEP(f32, base, index);
  }
  /// A read-only array of \p count parameters, zeroed and then filled by
  /// \p fill: a private constant, or with external weights an array of
  /// the blob (filled in place) and a placeholder for it (see
  /// externalizeArrays). \p layout describes how the data is arranged
  /// beyond its size (it goes into the weights fingerprint).
  llvm::GlobalVariable *
  parameterArray(uint64_t count, const std::string &name,
                 const std::string &layout,
                 const std::function<void(float *)> &fill);
  /// parameterArray() with a copy of \p data.
  llvm::GlobalVariable *constantArray(const std::vector<float> &data,
                                      const std::string &name);
  llvm::GlobalVariable *constantArrayD(const std::vector<double> &data,
                                       const std::string &name);
  llvm::GlobalVariable *privateConstant(llvm::Constant *init,
                                        const std::string &name);
  /// External weights: a stand-in for the array at \p offset of the blob.
  llvm::GlobalVariable *placeholder(const std::string &name, uint64_t offset);
  /// External weights: rewrites every use of a placeholder array as an
  /// offset from the weights pointer of the function it is in (the
  /// context's sixth field in a task function, the argument in the entry
  /// points), then deletes the placeholders.
  void externalizeArrays();
  /// The weights pointer in \p fn (loaded on entry, once).
  llvm::Value *weightsPointerIn(llvm::Function *fn);
  const std::vector<float> *paramData(ir::ParamId id) const {
    return id == ir::kNoParam ? nullptr : &model.params[id].data.data;
  }
  llvm::Value *maskFor(unsigned lanes, uint64_t valid);
  llvm::Value *loadRowVec(llvm::Value *row, llvm::Value *col, llvm::Value *mask,
                          llvm::Value *passThru);
  void storeRowVec(llvm::Value *v, llvm::Value *row, llvm::Value *col,
                   llvm::Value *mask);
  std::vector<llvm::Value *>
  rowLoop(uint64_t features, std::vector<llvm::Value *> init,
          const std::function<std::vector<llvm::Value *>(
              llvm::Value *col, llvm::Value *mask,
              const std::vector<llvm::Value *> &)> &body);

  /// Models with more Dense layers than this are emitted compactly: the
  /// microkernels are shared by every layer that can use them, and neither
  /// they nor the stage functions are inlined. Inlined, every layer brings
  /// its own dozen kernels, unrolled for its width, into one function (the
  /// fused stage's), and compile time grows faster than the layer count:
  /// 25 x Linear(8, 8) + ReLU took 14 s, 200 x Linear(32, 32) + ReLU 38 s,
  /// 1000 x Linear(8, 8) + ReLU more than 300 s (0.7, 7 and 25 s compact).
  /// Compact code runs as fast at batch 64 and more, but the calls cost
  /// batch 1 of narrow layers about 30 ns a layer (16 x Linear(64, 64) +
  /// ReLU: 3.8 us against 3.2 us, best of 7), so up to this many layers the
  /// code is what it always was (16 x Linear(64, 64) + Sigmoid, the slowest
  /// measured, compiles in 9 s).
  static constexpr unsigned kInlineDenseLayers = 16;
  /// Set by emit() from kInlineDenseLayers.
  bool compactCode = false;
  /// Compact mode's shared microkernels, by what their code depends on.
  std::map<std::string, llvm::Function *> sharedKernels;
  /// Compact mode: the layerSignature()s (with k and strides) of the layers
  /// whose kernels are specialised like inlined ones: those that at least
  /// two layers share, at most kMaxSpecialised of them (the most used), so
  /// that the unrolled code stays bounded however many distinct layers
  /// there are.
  std::set<std::string> specialisedLayers;
  static constexpr size_t kMaxSpecialised = 16;
  /// What the code of a Dense layer's kernels depends on besides the tile:
  /// panel shape, \p k, the row strides (0: passed at run time), bias,
  /// activation, prefetching.
  static std::string layerSignature(const ir::Op &op, const DensePlan &plan,
                                    uint64_t k, uint64_t lda, uint64_t ldc);

  // Dense layers.
  /// A Dense layer's parameter arrays: its weights packed as plan.weights
  /// lays them out, its bias (null: none) padded to plan.biasLength.
  struct DenseParams {
    llvm::GlobalVariable *weight = nullptr, *bias = nullptr;
  };
  DenseParams denseParams(const ir::Op &op, const DensePlan &plan,
                          unsigned opIndex);
  /// The microkernel for an mr x (pg * nr) tile of layer \p op, whose
  /// input and output rows are \p lda and \p ldc floats apart: its own, or
  /// in compact mode a shared one. With \p prefetchRows it also prefetches
  /// the rows of a later tile (a cold source, kColdSourceBytes).
  llvm::Function *emitMicrokernel(const ir::Op &op, const DensePlan &plan,
                                  unsigned mr, unsigned pg, unsigned opIndex,
                                  uint64_t lda, uint64_t ldc,
                                  bool prefetchRows);
  /// Emits that kernel's code into a new function \p name of type \p ft;
  /// with \p strides, lda and ldc (and kc, for one k block) are constants
  /// instead of the arguments.
  llvm::Function *
  buildMicrokernel(const ir::Op &op, const DensePlan &plan, unsigned mr,
                   unsigned pg, llvm::FunctionType *ft, const std::string &name,
                   bool prefetch, bool prefetchRows,
                   std::optional<std::pair<uint64_t, uint64_t>> strides);
  /// `lda`/`ldc`: row strides (floats) of the layer's input and output.
  Stage emitDenseStage(const ir::Op &op, unsigned opIndex, uint64_t lda,
                       uint64_t ldc);
  /// A layer with few outputs (plan.dotRows > 0) as dot products, k
  /// across the lanes (NarrowDenseEmitter.cpp).
  Stage emitNarrowDenseStage(const ir::Op &op, const DensePlan &plan,
                             unsigned opIndex, uint64_t lda, uint64_t ldc);
  /// One k block of that layer: [k0, k0 + plan.dotKc), whether it is the
  /// first (the output holds nothing yet) and the last (bias, activation).
  struct DotBlock {
    llvm::Value *k0, *first, *last;
  };
  /// Rows [m, m + rows) of that layer: \p rows x n accumulators over k
  /// (over \p block only, if given, added to the output's partial sums),
  /// reduced across lanes, bias, activation, stored; each k-step also
  /// prefetches the rows \p prefetchRows on (0: none).
  void emitDotTile(const ir::Op &op, const DensePlan &plan, unsigned rows,
                   llvm::Value *m, llvm::Value *in, llvm::Value *out,
                   uint64_t lda, uint64_t ldc, llvm::Value *weights,
                   llvm::Value *bias, uint64_t prefetchRows,
                   const DotBlock *block);
  /// Lane s of the result is the sum of the lanes of vecs[s] (at most
  /// vectorWidth of them; null ones are absent, their lanes undefined).
  llvm::Value *sumEachAcrossLanes(std::vector<llvm::Value *> vecs);
  // Row-wise ops on [rows, F] buffers.
  Stage emitRowStage(const ir::Op &op, unsigned opIndex, bool inPlaceNorm,
                     uint64_t inStride, uint64_t outStride);
  void emitRowOp(const ir::Op &op, unsigned opIndex, llvm::Value *inRow,
                 llvm::Value *outRow, bool inPlaceNorm);
  /// An affine or layer_norm row: x * scale + shift, with layer_norm's x
  /// normalised first; in double, as the reference computes it.
  void emitRowAffine(const ir::Op &op, unsigned opIndex, llvm::Value *inRow,
                     llvm::Value *outRow, uint64_t features);
  /// layer_norm's statistics of a row: its mean and 1 / sqrt(var + eps),
  /// each splat across a vector of doubles.
  std::pair<llvm::Value *, llvm::Value *>
  emitRowMoments(llvm::Value *inRow, uint64_t features, double eps);
  void emitRowSoftmax(llvm::Value *inRow, llvm::Value *outRow,
                      uint64_t features, bool logForm);
  // Tiny networks: the whole chain, SIMD across rows.
  Stage emitTinyStage();
  std::vector<llvm::Value *> emitTinyChain(std::vector<llvm::Value *> feats);
  /// External weights: the blob arrays of op i's parameters on the tiny
  /// path (null members: none, or embedded weights).
  struct TinyParams {
    llvm::GlobalVariable *weight = nullptr, *bias = nullptr;
  };
  std::vector<TinyParams> tinyParams;
  /// Fills tinyParams (placing the arrays in the blob).
  void placeTinyParams();
  /// A parameter of the tiny chain as a \p ty (float/double, scalar or
  /// vector): the immediate \p value, or element \p index of \p array
  /// loaded and broadcast.
  llvm::Value *tinyParam(llvm::Type *ty, double value,
                         llvm::GlobalVariable *array, uint64_t index);
  std::vector<llvm::Value *> tinySoftmax(std::vector<llvm::Value *> feats,
                                         bool logForm);
  /// Dense op \p op of the tiny chain on \p feats (one value per feature),
  /// its softmax included.
  std::vector<llvm::Value *> tinyDense(const ir::Op &op, const TinyParams &tp,
                                       const std::vector<llvm::Value *> &feats);
  /// An affine or layer_norm op of the tiny chain, in double.
  std::vector<llvm::Value *> tinyAffine(const ir::Op &op, const TinyParams &tp,
                                        std::vector<llvm::Value *> feats);

  void emitScratchBytes(const ModelPlan &plan);
  void emitRun(const ModelPlan &plan, const std::vector<Stage> &stages);
  /// External weights: calls \p check(bad, kRunBadWeights) for each test of
  /// \p weights (and of \p bytes, its size, if given); \p check branches
  /// away when `bad` is true.
  void emitWeightsChecks(llvm::Value *weights, llvm::Value *bytes,
                         const std::function<void(llvm::Value *, int)> &check);
  /// Profiling builds: `if (hook) hook(user, mark)` through the globals
  /// PREFIX_profile_hook and PREFIX_profile_user.
  void emitProfileMark(uint32_t mark);

  const ir::Model &model;
  std::string prefix;
  const KernelConfig &cfg;
  llvm::LLVMContext &ctx;
  llvm::Module &mod;
  llvm::IRBuilder<> b;
  MathEmitter math;
  llvm::Type *f32, *f64, *i64, *i32, *ptrTy, *voidTy;
  llvm::FixedVectorType *vecTy;
  llvm::FunctionType *taskTy;
  llvm::StructType *ctxTy;
  llvm::Function *scratchFn = nullptr;
  bool exportSymbols;
  bool profile;
  llvm::GlobalVariable *profileHook = nullptr, *profileUser = nullptr;
  /// External weights: the blob the parameter arrays go to (else null),
  /// the placeholders with their offsets, and each function's weights
  /// pointer.
  WeightsBlob *blob;
  struct ExternalArray {
    llvm::GlobalVariable *placeholder;
    uint64_t offset;
    std::string name;
  };
  std::vector<ExternalArray> externalArrays;
  std::map<llvm::Function *, llvm::Value *> weightsPointers;
};

} // namespace seqc::codegen::cpu

#endif // SEQC_CODEGEN_CPU_MODELEMITTER_H
