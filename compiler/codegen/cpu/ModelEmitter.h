//===- ModelEmitter.h - Fused IR to LLVM IR ---------------------*- C++ -*-===//
//
// Part of seqc. Private to compiler/codegen/cpu: the class that builds one
// model's LLVM IR, following its plan (Plan.h). Its members are defined by
// job: ModelEmitter.cpp (shared loop and memory helpers, the stage
// dispatcher, fused stages, the entry points), DenseEmitter.cpp
// (microkernels and the Dense stage's loop nest), NarrowDenseEmitter.cpp
// (layers with few outputs), RowOpEmitter.cpp (row-wise ops) and
// TinyEmitter.cpp (tiny networks as straight-line code).
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

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
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
      : model(model), prefix(prefix), cfg(cfg), ctx(ctx), mod(mod),
        builder(ctx), math(builder, cfg.fastMath), exportSymbols(exportSymbols),
        profile(profile), blob(blob) {
    f32 = builder.getFloatTy();
    f64 = builder.getDoubleTy();
    i64 = builder.getInt64Ty();
    i32 = builder.getInt32Ty();
    ptrTy = llvm::PointerType::getUnqual(ctx);
    voidTy = builder.getVoidTy();
    vecTy = llvm::FixedVectorType::get(f32, cfg.vectorWidth);
    taskTy = llvm::FunctionType::get(voidTy, {ptrTy, i64, i64}, false);
    // The stage context (CtxField): stages read the first three fields,
    // the fused stage the scratch buffers too, Dense stages whether their
    // source is cold; with external weights a seventh, the weights.
    std::vector<llvm::Type *> fields = {ptrTy, ptrTy, i64, ptrTy, ptrTy, i64};
    if (blob)
      fields.push_back(ptrTy);
    ctxTy = llvm::StructType::get(ctx, fields);
  }

  /// Emits the model; returns the stages PREFIX_run goes through.
  std::vector<StageInfo> emit();

private:
  /// The fields of the stage context (ctxTy), in order: what PREFIX_run
  /// (or a fused stage) passes each task function.
  enum CtxField : unsigned {
    kCtxSrc,        ///< the stage's source rows
    kCtxDst,        ///< its destination rows
    kCtxRows,       ///< how many rows
    kCtxScratch0,   ///< scratch buffer 0, for a fused stage
    kCtxScratch1,   ///< scratch buffer 1, for a fused stage
    kCtxSourceCold, ///< 1 when the source is read from memory
    kCtxWeights,    ///< external weights: the blob
  };

  /// Emits the task function of stage \p st (a fused stage's inner ones
  /// first).
  llvm::Function *emitStage(const StagePlan &st);

  /// 1 when a pass over `rows` rows of `stride` floats reads them from
  /// memory (more than kColdSourceBytes), else 0: the stage context's
  /// source cold field.
  llvm::Value *sourceCold(llvm::Value *rows, uint64_t stride);
  /// The source cold field of stage \p st for a batch of \p rows rows.
  llvm::Value *stageSourceCold(const StagePlan &st, llvm::Value *rows);
  /// Rows per item of a fused stage: at most `maxRows`, but small enough
  /// that a small batch still makes about kFusedShareItems items to share
  /// out (multiples of kMaxTileRows).
  llvm::Value *fusedBlockRows(llvm::Value *rows, uint64_t maxRows);
  /// Work items of `st` for a batch of `rows` rows.
  llvm::Value *stageItems(const StagePlan &st, llvm::Value *rows);
  /// A fused stage: each item takes a row block through every stage of
  /// \p fused, whose task functions are \p inner.
  llvm::Function *emitFusedStage(const StagePlan &fused,
                                 const std::vector<llvm::Function *> &inner);

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
  /// Closes \p task's function and returns it.
  llvm::Function *endTask(const Task &task);

  llvm::Function *newFunction(llvm::FunctionType *ty, const std::string &name,
                              bool exported);
  /// Rows per block when `rows` rows are cut into blocks of at most
  /// `maxRows` (a multiple of `align`) of nearly equal size, each a multiple
  /// of `align`: so no thread is left with a short last block while
  /// another still has a full one.
  llvm::Value *rowBlockRows(llvm::Value *rows, uint64_t maxRows,
                            uint64_t align);
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
    return builder.CreateInBoundsGEP(f32, base, index);
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
  /// parameterArray() of \p bytes bytes (packed weights of other element
  /// types than float), filled by \p fill.
  llvm::GlobalVariable *parameterBytes(uint64_t bytes, const std::string &name,
                                       const std::string &layout,
                                       const std::function<void(void *)> &fill);
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

  /// Compact code (ModelPlan::compactCode): the microkernels are shared by
  /// every layer that can use them, and neither they nor the stage
  /// functions are inlined.
  bool compactCode = false;
  /// Compact mode's shared microkernels, by what their code depends on.
  std::map<std::string, llvm::Function *> sharedKernels;

  // Dense layers.
  /// A Dense layer's parameter arrays: its weights packed as plan.weights
  /// lays them out, its bias (null: none) padded to plan.biasLength; with
  /// int8 and int8w the bias (zeros where the layer has none) is followed by
  /// the weights' scales, padded the same way (so a kernel finds a panel's
  /// scales biasLength floats after its bias).
  struct DenseParams {
    llvm::GlobalVariable *weight = nullptr, *bias = nullptr;
  };
  DenseParams denseParams(const ir::Op &op, const DensePlan &plan,
                          unsigned opIndex);
  /// Reduced precision (cfg.precision): the packed weights' element type
  /// and bytes, an element of them, a vector of vectorWidth of them
  /// widened to floats (int8: to int32s, multiplied as integers), and a
  /// value's rounding to bf16 (RNE, NaN kept
  /// quiet; float, scalar or vector), as Precision.h specifies.
  llvm::Type *weightTy();
  unsigned weightBytes() const;
  llvm::Value *gepW(llvm::Value *base, llvm::Value *index);
  llvm::Value *loadWeightVec(llvm::Value *ptr, llvm::Align align);
  llvm::Value *roundToBf16(llvm::Value *x);
  /// Whether the Dense layers' scales follow their biases (int8, int8w;
  /// DenseParams).
  bool hasWeightScales() const {
    return cfg.precision == Precision::Int8 ||
           cfg.precision == Precision::Int8W;
  }

  // int8's dynamic quantisation of a layer's inputs (QuantEmitter.cpp), as
  // quantizeRow in Precision.h computes it.
  /// How a row (or each lane's row, for vectors) is quantised, from the
  /// largest |x| of its values and whether any is NaN or infinite: the
  /// factor that maps them to [-127, 127] (0 for a zero or non-finite
  /// row) and the row's scale (NaN for a non-finite one).
  struct RowQuant {
    llvm::Value *inv, *scale;
  };
  RowQuant rowQuant(llvm::Value *amax, llvm::Value *nonFinite);
  /// x * inv clamped to [-127, 127] and rounded to nearest even, NaN as 0
  /// (float, scalar or vector): an int8 value, still as a float.
  llvm::Value *quantizeToGrid(llvm::Value *x, llvm::Value *inv);
  /// Quantises \p count rows of \p src (\p lda floats apart) from row
  /// \p m0 on into \p dst, as DensePlan::quantStride describes its rows.
  void emitQuantizeRows(const DensePlan &plan, llvm::Value *src, uint64_t lda,
                        llvm::Value *m0, llvm::Value *count, llvm::Value *dst);
  /// The locality hints of llvm.prefetch: into L1, or into L2 only.
  enum PrefetchLevel : int { kPrefetchToL2 = 2, kPrefetchToL1 = 3 };
  /// `llvm.prefetch` of \p address, for reading or writing, into the
  /// cache level \p locality.
  void emitPrefetch(llvm::Value *address, bool forWrite,
                    PrefetchLevel locality);
  /// The microkernel for an mr x (pg * nr) tile of layer \p op, whose
  /// input and output rows are \p lda and \p ldc floats apart: its own, or
  /// in compact mode a shared one (with k and the strides as constants if
  /// \p specialised). With \p prefetchRows it also prefetches the rows of
  /// a later tile (a cold source, kColdSourceBytes).
  llvm::Function *emitMicrokernel(const ir::Op &op, const DensePlan &plan,
                                  unsigned mr, unsigned pg, unsigned opIndex,
                                  uint64_t lda, uint64_t ldc, bool specialised,
                                  bool prefetchRows);
  /// Emits that kernel's code into a new function \p name of type \p ft;
  /// with \p strides, lda and ldc (and kc, for one k block) are constants
  /// instead of the arguments.
  llvm::Function *
  buildMicrokernel(const ir::Op &op, const DensePlan &plan, unsigned mr,
                   unsigned pg, llvm::FunctionType *ft, const std::string &name,
                   bool prefetchRows,
                   std::optional<std::pair<uint64_t, uint64_t>> strides);
  // The parts of a microkernel (DenseEmitter.cpp).
  struct Microkernel;
  /// Which lanes of the tile's vector \p v hold outputs (the last panel).
  llvm::Value *tileColumnMask(const Microkernel &uk, unsigned v);
  /// Row \p m, vector \p v of the tile in the output.
  llvm::Value *tilePointer(const Microkernel &uk, unsigned m, unsigned v);
  void emitNextTilePrefetch(const Microkernel &uk);
  std::vector<llvm::Value *> emitInitialAccumulators(const Microkernel &uk);
  /// int8: the tile's exact int32 sums over k (one block), as floats
  /// times each row's scale.
  std::vector<llvm::Value *> emitInt8Sums(Microkernel &uk);
  /// k-step \p k into accumulator set \p set.
  void emitKStep(const Microkernel &uk, llvm::Value *k, unsigned set,
                 std::vector<llvm::Value *> &acc);
  /// int8's k-step on grouped weights (Int8Dot Pairs or Quads): k group
  /// \p g by pmaddwd or vpdpbusd.
  void emitGroupedKStep(const Microkernel &uk, llvm::Value *g, unsigned set,
                        std::vector<llvm::Value *> &acc);
  /// int8's k-step: the rows' int8 inputs times the weights \p bv (int32
  /// vectors) into accumulator set \p set.
  void emitInt8KStep(const Microkernel &uk, llvm::Value *k, unsigned set,
                     const std::vector<llvm::Value *> &bv,
                     std::vector<llvm::Value *> &acc);
  std::vector<llvm::Value *> emitKLoop(const Microkernel &uk,
                                       std::vector<llvm::Value *> accs);
  void emitTileEpilogue(const Microkernel &uk,
                        const std::vector<llvm::Value *> &accs);
  /// Stores the tile (\p masked: the last panel's columns only); with
  /// \p isLast, then applies the activation where it is true.
  void emitTileStore(const Microkernel &uk,
                     const std::vector<llvm::Value *> &out, bool masked,
                     llvm::Value *isLast);
  /// Dense stage \p st (op \p op): on the panel path here, with few
  /// outputs as dot products (emitNarrowDenseStage).
  llvm::Function *emitDenseStage(const ir::Op &op, unsigned opIndex,
                                 const StagePlan &st);
  // The loop levels of a Dense stage (DenseEmitter.cpp).
  struct DenseStage;
  struct DenseItem;
  struct DenseKBlock;
  void emitDenseItem(const DenseStage &ds, llvm::Value *item,
                     llvm::Value *mcRows, llvm::Value *rowBlocks,
                     llvm::Value *perGroup);
  void emitDenseKBlock(const DenseStage &ds, const DenseItem &it,
                       llvm::Value *kc0);
  void emitDensePanel(const DenseStage &ds, const DenseItem &it,
                      const DenseKBlock &kb, llvm::Value *p);
  /// Full tile \p t of panel \p p; \p next is the micro-panel its
  /// prefetches fetch, \p cNextPanel the next panel's first tile.
  void emitFullTile(const DenseStage &ds, const DenseItem &it,
                    const DenseKBlock &kb, llvm::Value *p, llvm::Value *t,
                    llvm::Value *next, llvm::Value *cNextPanel);
  void emitGemvRow(const DenseStage &ds, const DenseItem &it,
                   const DenseKBlock &kb);
  /// Whether panel \p p is the last of the item's group.
  llvm::Value *isLastPanel(const DenseItem &it, llvm::Value *p);
  /// Row \p m of the source from the k block on.
  llvm::Value *denseRowPtr(const DenseStage &ds, const DenseKBlock &kb,
                           llvm::Value *m);
  /// The micro-panel that follows (p, kc0) in the item's order.
  llvm::Value *nextMicroPanel(const DenseStage &ds, const DenseItem &it,
                              const DenseKBlock &kb, llvm::Value *p);
  /// The part of \p next that tile \p t prefetches.
  llvm::Value *tilePrefetch(const DenseKBlock &kb, llvm::Value *next,
                            llvm::Value *t);
  /// Calls kernel \p fn on rows [m, m + its mr) and the panels from \p p
  /// on; null \p pf: the kernel's own weight stream, null \p cNext or
  /// \p aheadRows: the tile itself.
  void callDenseKernel(const DenseStage &ds, const DenseKBlock &kb,
                       llvm::Function *fn, llvm::Value *p, llvm::Value *m,
                       llvm::Value *pf, llvm::Value *pfStride,
                       llvm::Value *cNext = nullptr,
                       llvm::Value *aheadRows = nullptr);
  /// A switch on \p v with cases [first, count), each running \p body;
  /// other values do nothing.
  void emitSwitch(llvm::Value *v, unsigned first, unsigned count,
                  const std::function<void(unsigned)> &body);
  /// A layer with few outputs (plan.dotRows > 0) as dot products, k
  /// across the lanes (NarrowDenseEmitter.cpp); `lda`/`ldc`: row strides
  /// (floats) of the layer's input and output.
  llvm::Function *emitNarrowDenseStage(const ir::Op &op, const DensePlan &plan,
                                       unsigned opIndex, uint64_t lda,
                                       uint64_t ldc);
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
  /// The parts of a dot-product tile (NarrowDenseEmitter.cpp).
  struct DotTile;
  /// One vector of k of every row of the tile (\p mask: the valid lanes
  /// of a last, partial one) into the accumulators.
  std::vector<llvm::Value *> emitDotStep(const DotTile &t, llvm::Value *kk,
                                         llvm::Value *mask,
                                         std::vector<llvm::Value *> acc);
  /// The accumulators added across lanes and stored, per row.
  void emitDotOutputs(const DotTile &t, const std::vector<llvm::Value *> &accs);
  /// Runs \p then in a block of its own where \p cond holds (inline if
  /// \p cond is null) and returns \p values, merged with what \p then
  /// made of them.
  std::vector<llvm::Value *>
  emitIf(llvm::Value *cond, std::vector<llvm::Value *> values,
         const std::function<
             std::vector<llvm::Value *>(std::vector<llvm::Value *>)> &then);
  /// Lane s of the result is the sum of the lanes of vecs[s] (at most
  /// vectorWidth of them; null ones are absent, their lanes undefined).
  llvm::Value *sumEachAcrossLanes(std::vector<llvm::Value *> vecs);
  // Row-wise ops on [rows, F] buffers.
  /// A row-wise op, or (StageKind::RowNorm) the softmax that ends a Dense
  /// op, in place.
  llvm::Function *emitRowStage(const ir::Op &op, unsigned opIndex,
                               const StagePlan &st);
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
  llvm::Function *emitTinyStage(const StagePlan &st);
  std::vector<llvm::Value *> emitTinyChain(std::vector<llvm::Value *> feats);
  /// External weights: the blob arrays of op i's parameters on the tiny
  /// path (null members: none, or embedded weights).
  struct TinyParams {
    llvm::GlobalVariable *weight = nullptr, *bias = nullptr, *scale = nullptr;
  };
  /// Op \p op's weights as the tiny chain multiplies them: as trained,
  /// rounded to bf16, or int8's and int8w's integers (whose scales
  /// \p scales receives, one per output; empty otherwise).
  std::vector<float> tinyWeights(const ir::Op &op, std::vector<float> &scales);
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

  /// The bytes of one scratch buffer for \p rows rows (a multiple of
  /// kScratchAlign).
  llvm::Value *scratchBufferBytes(const MemoryPlan &plan, llvm::Value *rows);
  void emitScratchBytes(const MemoryPlan &plan);
  /// What PREFIX_run_parallel's calls of the stages share: its arguments,
  /// the run's buffers (in Buffer order), the stage context, and whether
  /// no parallel-for was given.
  struct RunState {
    llvm::Value *in, *out, *rows, *parallelFor, *pool;
    std::array<llvm::Value *, 4> bufs;
    llvm::Value *ctx, *serial;
  };
  llvm::Function *emitRunParallel(const MemoryPlan &plan,
                                  const std::vector<StagePlan> &stages,
                                  const std::vector<llvm::Function *> &fns);
  /// Stage \p st's context, and a serial call of its task function \p fn
  /// or one through the parallel-for.
  void emitStageCall(const StagePlan &st, llvm::Function *fn,
                     const RunState &run);
  /// External weights: PREFIX_check_weights.
  void emitCheckWeights();
  /// PREFIX_run_parallel calling the task functions \p fns of \p stages
  /// in turn, PREFIX_run, and with external weights PREFIX_check_weights.
  void emitRun(const MemoryPlan &plan, const std::vector<StagePlan> &stages,
               const std::vector<llvm::Function *> &fns);
  /// External weights: calls \p check(bad, kRunBadWeights) for each test of
  /// \p weights (and of \p bytes, its size, if given); \p check branches
  /// away when `bad` is true.
  void emitWeightsChecks(llvm::Value *weights, llvm::Value *bytes,
                         const std::function<void(llvm::Value *, int)> &check);
  /// Profiling builds: the globals PREFIX_profile_hook and
  /// PREFIX_profile_user, and `if (hook) hook(user, mark)` through them.
  void emitProfileGlobals();
  void emitProfileMark(uint32_t mark);

  const ir::Model &model;
  std::string prefix;
  const KernelConfig &cfg;
  llvm::LLVMContext &ctx;
  llvm::Module &mod;
  llvm::IRBuilder<> builder;
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
