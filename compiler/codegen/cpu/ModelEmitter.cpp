//===- ModelEmitter.cpp - Fused IR to LLVM IR -----------------------------===//
//
// Part of seqc. Builds one LLVM module per model, as its plan (Plan.h)
// lists it: one task function per stage (a Dense layer, a row-wise op, the
// whole network when it is tiny, or the whole chain one row block at a time
// when its weights fit in L2), and the exported PREFIX_run /
// PREFIX_run_parallel / PREFIX_scratch_bytes. This file holds the emitter's
// shared helpers, the stage dispatcher, the fused stages and the entry
// points; see docs/cpu-backend.md for the contract and the design.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cpu/ModelEmitter.h"

#include "compiler/support/Limits.h"

#include "llvm/IR/ReplaceConstant.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>

using namespace llvm;

namespace seqc::codegen::cpu {

Function *ModelEmitter::newFunction(FunctionType *ty, const std::string &name,
                                    bool exported) {
  Function *f =
      Function::Create(ty,
                       exported && exportSymbols ? GlobalValue::ExternalLinkage
                                                 : GlobalValue::InternalLinkage,
                       name, mod);
  f->addFnAttr(Attribute::NoUnwind);
  if (!cfg.cpu.empty())
    f->addFnAttr("target-cpu", cfg.cpu);
  if (!cfg.features.empty())
    f->addFnAttr("target-features", cfg.features);
  if (cfg.wideVectors) {
    f->addFnAttr("prefer-vector-width", "512");
    f->addFnAttr("min-legal-vector-width", "512");
  }
  return f;
}

Value *ModelEmitter::sourceCold(Value *rows, uint64_t stride) {
  return builder.CreateZExt(
      builder.CreateICmpUGT(builder.CreateMul(rows, c64(stride * 4)),
                            c64(kColdSourceBytes)),
      i64);
}

Value *ModelEmitter::stageSourceCold(const StagePlan &st, Value *rows) {
  return st.coldCheck ? sourceCold(rows, st.srcStride) : c64(0);
}

Value *ModelEmitter::fusedBlockRows(Value *rows, uint64_t maxRows) {
  Value *share =
      builder.CreateUDiv(builder.CreateAdd(rows, c64(kFusedShareItems - 1)),
                         c64(kFusedShareItems));
  Value *aligned = builder.CreateMul(
      builder.CreateUDiv(builder.CreateAdd(share, c64(kMaxTileRows - 1)),
                         c64(kMaxTileRows)),
      c64(kMaxTileRows));
  // Never 0 (a divisor in stageItems), even for rows == 0.
  aligned = builder.CreateBinaryIntrinsic(Intrinsic::umax, aligned,
                                          c64(kMaxTileRows));
  return builder.CreateBinaryIntrinsic(Intrinsic::umin, aligned, c64(maxRows));
}

Value *ModelEmitter::rowBlockRows(Value *rows, uint64_t maxRows,
                                  uint64_t align) {
  Value *blocks = builder.CreateBinaryIntrinsic(
      Intrinsic::umax,
      builder.CreateUDiv(builder.CreateAdd(rows, c64(maxRows - 1)),
                         c64(maxRows)),
      c64(1));
  Value *even = builder.CreateUDiv(
      builder.CreateAdd(rows, builder.CreateSub(blocks, c64(1))), blocks);
  Value *aligned = builder.CreateMul(
      builder.CreateUDiv(builder.CreateAdd(even, c64(align - 1)), c64(align)),
      c64(align));
  return builder.CreateBinaryIntrinsic(Intrinsic::umin, aligned, c64(maxRows));
}

Value *ModelEmitter::stageItems(const StagePlan &st, Value *rows) {
  Value *blockRows =
      st.kind == StageKind::Fused ? fusedBlockRows(rows, st.rowsPerItem)
      : st.rowAlign ? rowBlockRows(rows, st.rowsPerItem, st.rowAlign)
                    : c64(st.rowsPerItem);
  Value *blocks = builder.CreateUDiv(
      builder.CreateAdd(rows, builder.CreateSub(blockRows, c64(1))), blockRows);
  Value *items = builder.CreateMul(blocks, c64(st.itemsPerRowBlock));
  if (!st.itemsForOneRow)
    return items;
  return builder.CreateSelect(builder.CreateICmpEQ(rows, c64(1)),
                              c64(st.itemsForOneRow), items);
}

std::vector<Value *> ModelEmitter::emitLoop(Value *begin, Value *end,
                                            Value *step,
                                            std::vector<Value *> init,
                                            const LoopBody &body) {
  Function *fn = builder.GetInsertBlock()->getParent();
  BasicBlock *pre = builder.GetInsertBlock();
  BasicBlock *loop = BasicBlock::Create(ctx, "loop", fn);
  BasicBlock *exit = BasicBlock::Create(ctx, "loop.exit", fn);
  builder.CreateCondBr(builder.CreateICmpSLT(begin, end), loop, exit);
  builder.SetInsertPoint(loop);
  PHINode *iv = builder.CreatePHI(i64, 2, "iv");
  iv->addIncoming(begin, pre);
  std::vector<PHINode *> phis;
  std::vector<Value *> carried;
  for (Value *v : init) {
    PHINode *phi = builder.CreatePHI(v->getType(), 2);
    phi->addIncoming(v, pre);
    phis.push_back(phi);
    carried.push_back(phi);
  }
  std::vector<Value *> next = body(iv, carried);
  BasicBlock *latch = builder.GetInsertBlock();
  Value *ivNext = builder.CreateAdd(iv, step);
  iv->addIncoming(ivNext, latch);
  for (size_t i = 0; i < phis.size(); ++i)
    phis[i]->addIncoming(next[i], latch);
  builder.CreateCondBr(builder.CreateICmpSLT(ivNext, end), loop, exit);
  builder.SetInsertPoint(exit);
  std::vector<Value *> result;
  for (size_t i = 0; i < init.size(); ++i) {
    PHINode *phi = builder.CreatePHI(init[i]->getType(), 2);
    phi->addIncoming(init[i], pre);
    phi->addIncoming(next[i], latch);
    result.push_back(phi);
  }
  return result;
}

GlobalVariable *
ModelEmitter::parameterArray(uint64_t count, const std::string &name,
                             const std::string &layout,
                             const std::function<void(float *)> &fill) {
  if (blob) {
    // Filled in place: the blob holds the only copy.
    uint64_t offset;
    char *data = blob->append(
        count * sizeof(float),
        fmt::format("{}.{} f32[{}]{}", prefix, name, count, layout), offset);
    fill(reinterpret_cast<float *>(data));
    return placeholder(name, offset);
  }
  std::vector<float> data(count, 0.0f);
  fill(data.data());
  return privateConstant(ConstantDataArray::get(ctx, ArrayRef<float>(data)),
                         name);
}

GlobalVariable *
ModelEmitter::parameterBytes(uint64_t bytes, const std::string &name,
                             const std::string &layout,
                             const std::function<void(void *)> &fill) {
  if (blob) {
    uint64_t offset;
    char *data = blob->append(
        bytes, fmt::format("{}.{} u8[{}]{}", prefix, name, bytes, layout),
        offset);
    fill(data);
    return placeholder(name, offset);
  }
  std::vector<uint8_t> data(bytes, 0);
  fill(data.data());
  return privateConstant(ConstantDataArray::get(ctx, ArrayRef<uint8_t>(data)),
                         name);
}

GlobalVariable *ModelEmitter::constantArray(const std::vector<float> &data,
                                            const std::string &name) {
  return parameterArray(data.size(), name, "", [&](float *dst) {
    std::copy(data.begin(), data.end(), dst);
  });
}

GlobalVariable *ModelEmitter::constantArrayD(const std::vector<double> &data,
                                             const std::string &name) {
  if (blob)
    return placeholder(
        name,
        blob->add(data.data(), data.size() * sizeof(double),
                  fmt::format("{}.{} f64[{}]", prefix, name, data.size())));
  return privateConstant(ConstantDataArray::get(ctx, ArrayRef<double>(data)),
                         name);
}

GlobalVariable *ModelEmitter::privateConstant(Constant *init,
                                              const std::string &name) {
  auto *gv = new GlobalVariable(mod, init->getType(), /*isConstant=*/true,
                                GlobalValue::PrivateLinkage, init,
                                prefix + "." + name);
  gv->setAlignment(Align(64));
  gv->setUnnamedAddr(GlobalValue::UnnamedAddr::Global);
  return gv;
}

GlobalVariable *ModelEmitter::placeholder(const std::string &name,
                                          uint64_t offset) {
  // Its uses are rewritten by externalizeArrays().
  auto *gv = new GlobalVariable(mod, builder.getInt8Ty(), /*isConstant=*/true,
                                GlobalValue::ExternalLinkage, nullptr,
                                prefix + ".external." + name);
  externalArrays.push_back({gv, offset, prefix + "." + name});
  return gv;
}

Value *ModelEmitter::weightsPointerIn(Function *fn) {
  Value *&p = weightsPointers[fn];
  if (!p) {
    // Every function that reads parameters is a stage's task function,
    // whose context carries the weights pointer (the entry points have
    // theirs registered as arguments).
    assert(fn->getFunctionType() == taskTy &&
           "parameters read outside a task function");
    IRBuilder<> at(&*fn->getEntryBlock().getFirstInsertionPt());
    p = at.CreateLoad(ptrTy,
                      at.CreateStructGEP(ctxTy, fn->getArg(0), kCtxWeights),
                      "weights");
  }
  return p;
}

void ModelEmitter::externalizeArrays() {
  for (auto &[gv, offset, name] : externalArrays) {
    // Constant expressions (a GEP with constant indices) become
    // instructions, so that every use is in a function.
    convertUsersOfConstantsToInstructions({gv});
    std::map<Function *, Value *> arrayIn;
    for (Use &use : make_early_inc_range(gv->uses())) {
      auto *inst = cast<Instruction>(use.getUser());
      Function *fn = inst->getFunction();
      Value *&p = arrayIn[fn];
      if (!p) {
        Value *base = weightsPointerIn(fn);
        auto *load = dyn_cast<Instruction>(base);
        IRBuilder<> at(load ? load->getNextNode()
                            : &*fn->getEntryBlock().getFirstInsertionPt());
        p = at.CreateInBoundsGEP(builder.getInt8Ty(), base, c64(offset), name);
      }
      use.set(p);
    }
    gv->eraseFromParent();
  }
  externalArrays.clear();
}

Value *ModelEmitter::maskFor(unsigned lanes, uint64_t valid) {
  std::vector<Constant *> bits;
  for (unsigned i = 0; i < lanes; ++i)
    bits.push_back(ConstantInt::getBool(ctx, i < valid));
  return ConstantVector::get(bits);
}

Value *ModelEmitter::loadRowVec(Value *row, Value *col, Value *mask,
                                Value *passThru) {
  Value *p = gepF(row, col);
  if (!mask)
    return builder.CreateAlignedLoad(vecTy, p, Align(4));
  return builder.CreateMaskedLoad(vecTy, p, Align(4), mask, passThru);
}

void ModelEmitter::storeRowVec(Value *v, Value *row, Value *col, Value *mask) {
  Value *p = gepF(row, col);
  if (!mask)
    builder.CreateAlignedStore(v, p, Align(4));
  else
    builder.CreateMaskedStore(v, p, Align(4), mask);
}

std::vector<Value *> ModelEmitter::rowLoop(
    uint64_t features, std::vector<Value *> init,
    const std::function<std::vector<Value *>(
        Value *, Value *, const std::vector<Value *> &)> &body) {
  unsigned vw = cfg.vectorWidth;
  uint64_t full = features / vw * vw;
  std::vector<Value *> state = std::move(init);
  if (full == vw) {
    state = body(c64(0), nullptr, state);
  } else if (full > 0) {
    state = emitLoop(c64(0), c64(full), c64(vw), state,
                     [&](Value *col, const std::vector<Value *> &carried) {
                       return body(col, nullptr, carried);
                     });
  }
  if (features % vw)
    state = body(c64(full), maskFor(vw, features % vw), state);
  return state;
}

//===----------------------------------------------------------------------===//
// Fused stages: the whole chain, one row block at a time.
//===----------------------------------------------------------------------===//

ModelEmitter::Task ModelEmitter::beginTask(const std::string &name) {
  Task t;
  t.fn = newFunction(taskTy, name, false);
  if (compactCode)
    t.fn->addFnAttr(Attribute::NoInline);
  auto args = t.fn->arg_begin();
  Value *ctxArg = &*args++;
  t.begin = &*args++;
  t.end = &*args++;
  builder.SetInsertPoint(BasicBlock::Create(ctx, "entry", t.fn));
  t.in = builder.CreateLoad(ptrTy,
                            builder.CreateStructGEP(ctxTy, ctxArg, kCtxSrc));
  t.out = builder.CreateLoad(ptrTy,
                             builder.CreateStructGEP(ctxTy, ctxArg, kCtxDst));
  t.rows =
      builder.CreateLoad(i64, builder.CreateStructGEP(ctxTy, ctxArg, kCtxRows));
  return t;
}

std::pair<Value *, Value *> ModelEmitter::itemRows(const Task &task,
                                                   uint64_t rowsPerItem) {
  Value *first = builder.CreateMul(task.begin, c64(rowsPerItem));
  Value *last = builder.CreateBinaryIntrinsic(
      Intrinsic::umin, builder.CreateMul(task.end, c64(rowsPerItem)),
      task.rows);
  return {first, last};
}

Function *ModelEmitter::endTask(const Task &task) {
  builder.CreateRetVoid();
  return task.fn;
}

Function *ModelEmitter::emitFusedStage(const StagePlan &fused,
                                       const std::vector<Function *> &inner) {
  Function *f = newFunction(taskTy, prefix + ".fused", false);
  auto args = f->arg_begin();
  Value *ctxArg = &*args++, *begin = &*args++, *end = &*args++;
  builder.SetInsertPoint(BasicBlock::Create(ctx, "entry", f));
  Value *local = builder.CreateAlloca(ctxTy);
  // The run's buffers, in the order of Buffer.
  Value *bufs[4];
  const unsigned bufferFields[4] = {kCtxSrc, kCtxDst, kCtxScratch0,
                                    kCtxScratch1};
  for (unsigned i = 0; i < 4; ++i)
    bufs[i] = builder.CreateLoad(
        ptrTy, builder.CreateStructGEP(ctxTy, ctxArg, bufferFields[i]));
  Value *rows =
      builder.CreateLoad(i64, builder.CreateStructGEP(ctxTy, ctxArg, kCtxRows));
  Value *blockRows = fusedBlockRows(rows, fused.rowsPerItem);
  if (blob)
    builder.CreateStore(weightsPointerIn(f),
                        builder.CreateStructGEP(ctxTy, local, kCtxWeights));
  emitForEach(begin, end, c64(1), [&](Value *item) {
    Value *r0 = builder.CreateMul(item, blockRows);
    Value *n = builder.CreateBinaryIntrinsic(Intrinsic::umin, blockRows,
                                             builder.CreateSub(rows, r0));
    // Each stage on rows [r0, r0 + n) of its buffers, on this thread. The
    // first reads the model's input, which the blocks stream through once
    // (cold when large); the others read the block just written.
    for (size_t j = 0; j < fused.inner.size(); ++j) {
      const StagePlan &st = fused.inner[j];
      Value *cold = stageSourceCold(st, rows);
      builder.CreateStore(
          cold, builder.CreateStructGEP(ctxTy, local, kCtxSourceCold));
      builder.CreateStore(gepF(bufs[static_cast<unsigned>(st.src)],
                               builder.CreateMul(r0, c64(st.srcStride))),
                          builder.CreateStructGEP(ctxTy, local, kCtxSrc));
      builder.CreateStore(gepF(bufs[static_cast<unsigned>(st.dst)],
                               builder.CreateMul(r0, c64(st.dstStride))),
                          builder.CreateStructGEP(ctxTy, local, kCtxDst));
      builder.CreateStore(n, builder.CreateStructGEP(ctxTy, local, kCtxRows));
      builder.CreateCall(taskTy, inner[j], {local, c64(0), stageItems(st, n)});
    }
  });
  builder.CreateRetVoid();
  return f;
}

//===----------------------------------------------------------------------===//
// Exported entry points.
//===----------------------------------------------------------------------===//

Value *ModelEmitter::scratchBufferBytes(const MemoryPlan &plan, Value *rows) {
  return builder.CreateAnd(
      builder.CreateAdd(builder.CreateMul(rows, c64(plan.scratchFeatures * 4)),
                        c64(kScratchAlign - 1)),
      c64(~(kScratchAlign - 1)));
}

void ModelEmitter::emitScratchBytes(const MemoryPlan &plan) {
  FunctionType *ft = FunctionType::get(i64, {i64}, false);
  scratchFn = newFunction(ft, prefix + "_scratch_bytes", true);
  Value *rows = &*scratchFn->arg_begin();
  builder.SetInsertPoint(BasicBlock::Create(ctx, "entry", scratchFn));
  if (plan.scratchBuffers == 0) {
    builder.CreateRet(c64(0));
    return;
  }
  // 0 for batch 0, SIZE_MAX above the batch limit, else the alignment
  // slack plus the buffers (scratchBytes in CpuHeader.cpp).
  Value *per = scratchBufferBytes(plan, rows);
  Value *total = builder.CreateAdd(
      c64(kScratchAlign), builder.CreateMul(per, c64(plan.scratchBuffers)));
  total =
      builder.CreateSelect(builder.CreateICmpUGT(rows, c64(limits::kMaxBatch)),
                           c64(~uint64_t(0)), total);
  total =
      builder.CreateSelect(builder.CreateICmpEQ(rows, c64(0)), c64(0), total);
  builder.CreateRet(total);
}

void ModelEmitter::emitRun(const MemoryPlan &plan,
                           const std::vector<StagePlan> &stages,
                           const std::vector<Function *> &fns) {
  Function *parallel = emitRunParallel(plan, stages, fns);
  // int PREFIX_run([weights,] in, out, batch, scratch): serial.
  ArrayRef<Type *> params = parallel->getFunctionType()->params();
  Function *run =
      newFunction(FunctionType::get(i32, params.drop_back(2), false),
                  prefix + "_run", true);
  builder.SetInsertPoint(BasicBlock::Create(ctx, "entry", run));
  std::vector<Value *> callArgs;
  for (Argument &arg : run->args())
    callArgs.push_back(&arg);
  Value *nullPtr = ConstantPointerNull::get(cast<PointerType>(ptrTy));
  callArgs.push_back(nullPtr);
  callArgs.push_back(nullPtr);
  builder.CreateRet(builder.CreateCall(parallel, callArgs));
  if (blob)
    emitCheckWeights();
}

Function *ModelEmitter::emitRunParallel(const MemoryPlan &plan,
                                        const std::vector<StagePlan> &stages,
                                        const std::vector<Function *> &fns) {
  // int PREFIX_run_parallel([weights,] in, out, batch, scratch,
  //                         parallel_for, pool)
  std::vector<Type *> params = {ptrTy, ptrTy, i64, ptrTy, ptrTy, ptrTy};
  if (blob)
    params.insert(params.begin(), ptrTy);
  FunctionType *ft = FunctionType::get(i32, params, false);
  Function *f = newFunction(ft, prefix + "_run_parallel", true);
  auto args = f->arg_begin();
  Value *weights = blob ? &*args++ : nullptr;
  RunState run;
  run.in = &*args++;
  run.out = &*args++;
  run.rows = &*args++;
  Value *scratch = &*args++;
  run.parallelFor = &*args++;
  run.pool = &*args++;
  BasicBlock *entry = BasicBlock::Create(ctx, "entry", f);
  BasicBlock *fail = BasicBlock::Create(ctx, "fail", f);
  builder.SetInsertPoint(fail);
  PHINode *code = builder.CreatePHI(i32, 4);
  builder.CreateRet(code);
  builder.SetInsertPoint(entry);
  auto check = [&](Value *bad, int status) {
    BasicBlock *ok = BasicBlock::Create(ctx, "ok", f);
    code->addIncoming(builder.getInt32(status), builder.GetInsertBlock());
    builder.CreateCondBr(bad, fail, ok);
    builder.SetInsertPoint(ok);
  };
  if (blob) {
    // Not marked noalias: LLVM would then hoist the tiny path's weight
    // loads out of its row loops and spill them, which costs batch 1 more
    // than the reloads it saves (docs/cpu-backend.md).
    weightsPointers[f] = weights;
    emitWeightsChecks(weights, nullptr, check);
  }
  Value *rows = run.rows;
  check(builder.CreateICmpEQ(rows, c64(0)), kRunOk);
  check(builder.CreateICmpUGT(rows, c64(limits::kMaxBatch)), kRunBatchTooLarge);
  check(builder.CreateOr(builder.CreateIsNull(run.in),
                         builder.CreateIsNull(run.out)),
        kRunNullPointer);
  Value *need = builder.CreateCall(scratchFn, {rows});
  check(builder.CreateAnd(builder.CreateICmpNE(need, c64(0)),
                          builder.CreateIsNull(scratch)),
        kRunNullScratch);
  // The scratch buffers, from the caller's pointer rounded up.
  Value *addr = builder.CreatePtrToInt(scratch, i64);
  Value *pad =
      builder.CreateAnd(builder.CreateNeg(addr), c64(kScratchAlign - 1));
  Value *base = builder.CreateGEP(builder.getInt8Ty(), scratch, pad);
  Value *per = scratchBufferBytes(plan, rows);
  run.bufs = {run.in, run.out, base,
              builder.CreateGEP(builder.getInt8Ty(), base, per)};
  // In the entry block, so the frame is fixed (no dynamic stack pointer).
  {
    IRBuilderBase::InsertPointGuard guard(builder);
    builder.SetInsertPoint(entry, entry->getFirstInsertionPt());
    run.ctx = builder.CreateAlloca(ctxTy);
  }
  // The scratch buffers, for a fused stage (the same for every stage).
  builder.CreateStore(run.bufs[2],
                      builder.CreateStructGEP(ctxTy, run.ctx, kCtxScratch0));
  builder.CreateStore(run.bufs[3],
                      builder.CreateStructGEP(ctxTy, run.ctx, kCtxScratch1));
  if (blob)
    builder.CreateStore(weights,
                        builder.CreateStructGEP(ctxTy, run.ctx, kCtxWeights));
  run.serial = builder.CreateIsNull(run.parallelFor);
  if (model.ops.empty()) {
    uint64_t bytes = model.inputType().features() * 4;
    builder.CreateMemMove(run.out, Align(4), run.in, Align(4),
                          builder.CreateMul(rows, c64(bytes)));
  }
  if (profile) {
    emitProfileGlobals();
    emitProfileMark(0);
  }
  for (size_t stageIndex = 0; stageIndex < stages.size(); ++stageIndex) {
    emitStageCall(stages[stageIndex], fns[stageIndex], run);
    if (profile)
      emitProfileMark(static_cast<uint32_t>(stageIndex + 1));
  }
  builder.CreateRet(builder.getInt32(kRunOk));
  return f;
}

void ModelEmitter::emitStageCall(const StagePlan &st, Function *fn,
                                 const RunState &run) {
  Function *f = builder.GetInsertBlock()->getParent();
  Value *rows = run.rows;
  builder.CreateStore(run.bufs[static_cast<unsigned>(st.src)],
                      builder.CreateStructGEP(ctxTy, run.ctx, kCtxSrc));
  builder.CreateStore(run.bufs[static_cast<unsigned>(st.dst)],
                      builder.CreateStructGEP(ctxTy, run.ctx, kCtxDst));
  builder.CreateStore(rows, builder.CreateStructGEP(ctxTy, run.ctx, kCtxRows));
  builder.CreateStore(stageSourceCold(st, rows),
                      builder.CreateStructGEP(ctxTy, run.ctx, kCtxSourceCold));
  Value *items = stageItems(st, rows);
  BasicBlock *serialBB = BasicBlock::Create(ctx, "serial", f);
  BasicBlock *parBB = BasicBlock::Create(ctx, "parallel", f);
  BasicBlock *next = BasicBlock::Create(ctx, "next", f);
  // Serial when no hook is given or the stage is too small to share.
  Value *small = builder.CreateICmpULT(rows, c64(st.minParallelRows));
  builder.CreateCondBr(builder.CreateOr(run.serial, small), serialBB, parBB);
  builder.SetInsertPoint(serialBB);
  builder.CreateCall(taskTy, fn, {run.ctx, c64(0), items});
  builder.CreateBr(next);
  builder.SetInsertPoint(parBB);
  FunctionType *pfTy =
      FunctionType::get(voidTy, {ptrTy, i64, ptrTy, ptrTy}, false);
  builder.CreateCall(pfTy, run.parallelFor, {run.pool, items, fn, run.ctx});
  builder.CreateBr(next);
  builder.SetInsertPoint(next);
}

void ModelEmitter::emitCheckWeights() {
  // int PREFIX_check_weights(weights, bytes)
  Function *checkFn = newFunction(FunctionType::get(i32, {ptrTy, i64}, false),
                                  prefix + "_check_weights", true);
  auto ca = checkFn->arg_begin();
  Value *w = &*ca++, *bytes = &*ca++;
  BasicBlock *entry = BasicBlock::Create(ctx, "entry", checkFn);
  BasicBlock *bad = BasicBlock::Create(ctx, "bad", checkFn);
  builder.SetInsertPoint(bad);
  builder.CreateRet(builder.getInt32(kRunBadWeights));
  builder.SetInsertPoint(entry);
  emitWeightsChecks(w, bytes, [&](Value *isBad, int) {
    BasicBlock *ok = BasicBlock::Create(ctx, "ok", checkFn);
    builder.CreateCondBr(isBad, bad, ok);
    builder.SetInsertPoint(ok);
  });
  builder.CreateRet(builder.getInt32(kRunOk));
}

void ModelEmitter::emitWeightsChecks(
    Value *weights, Value *bytes,
    const std::function<void(Value *, int)> &check) {
  // Null or not 64-byte aligned, then the header: the magic, the
  // fingerprint and the size this code was compiled for (module globals
  // the backend sets once every variant is emitted).
  check(builder.CreateOr(
            builder.CreateIsNull(weights),
            builder.CreateICmpNE(
                builder.CreateAnd(builder.CreatePtrToInt(weights, i64),
                                  c64(WeightsBlob::kAlign - 1)),
                c64(0))),
        kRunBadWeights);
  Value *expectBytes =
      builder.CreateLoad(i64, mod.getOrInsertGlobal(kWeightsBytesGlobal, i64));
  if (bytes)
    check(builder.CreateICmpNE(bytes, expectBytes), kRunBadWeights);
  auto field = [&](uint64_t offset) {
    return builder.CreateAlignedLoad(i64,
                                     builder.CreateConstInBoundsGEP1_64(
                                         builder.getInt8Ty(), weights, offset),
                                     Align(8));
  };
  Value *expectPrint = builder.CreateLoad(
      i64, mod.getOrInsertGlobal(kWeightsFingerprintGlobal, i64));
  Value *wrong = builder.CreateOr(
      builder.CreateICmpNE(field(0), c64(WeightsBlob::kMagic)),
      builder.CreateOr(
          builder.CreateICmpNE(field(WeightsBlob::kFingerprintOffset),
                               expectPrint),
          builder.CreateICmpNE(field(WeightsBlob::kSizeOffset), expectBytes)));
  check(wrong, kRunBadWeights);
}

void ModelEmitter::emitProfileGlobals() {
  auto global = [&](const std::string &name) {
    return new GlobalVariable(
        mod, ptrTy, false, GlobalValue::ExternalLinkage,
        ConstantPointerNull::get(cast<PointerType>(ptrTy)), name);
  };
  profileHook = global(prefix + "_profile_hook");
  profileUser = global(prefix + "_profile_user");
}

void ModelEmitter::emitProfileMark(uint32_t mark) {
  Function *f = builder.GetInsertBlock()->getParent();
  Value *hook = builder.CreateLoad(ptrTy, profileHook);
  BasicBlock *call = BasicBlock::Create(ctx, "profile", f);
  BasicBlock *next = BasicBlock::Create(ctx, "profiled", f);
  builder.CreateCondBr(builder.CreateIsNull(hook), next, call);
  builder.SetInsertPoint(call);
  FunctionType *hookTy = FunctionType::get(voidTy, {ptrTy, i32}, false);
  builder.CreateCall(
      hookTy, hook,
      {builder.CreateLoad(ptrTy, profileUser), builder.getInt32(mark)});
  builder.CreateBr(next);
  builder.SetInsertPoint(next);
}

Function *ModelEmitter::emitStage(const StagePlan &st) {
  const ir::Op &op = model.ops[st.firstOp];
  unsigned opIndex = static_cast<unsigned>(st.firstOp);
  switch (st.kind) {
  case StageKind::Dense:
    return emitDenseStage(op, opIndex, st);
  case StageKind::RowOp:
  case StageKind::RowNorm:
    return emitRowStage(op, opIndex, st);
  case StageKind::Tiny:
    return emitTinyStage(st);
  case StageKind::Fused: {
    std::vector<Function *> inner;
    for (const StagePlan &in : st.inner)
      inner.push_back(emitStage(in));
    return emitFusedStage(st, inner);
  }
  }
  return nullptr;
}

std::vector<StageInfo> ModelEmitter::emit() {
  ModelPlan plan = planModel(model, cfg);
  compactCode = plan.compactCode;
  emitScratchBytes(plan.memory);
  std::vector<Function *> fns;
  std::vector<StageInfo> infos;
  for (const StagePlan &st : plan.stages) {
    fns.push_back(emitStage(st));
    infos.push_back({st.kind, st.firstOp, st.lastOp});
  }
  emitRun(plan.memory, plan.stages, fns);
  if (blob)
    externalizeArrays();
  return infos;
}

std::vector<StageInfo> emitModel(Module &mod, const ir::Model &model,
                                 const std::string &prefix,
                                 const KernelConfig &config, bool exportSymbols,
                                 bool profile, WeightsBlob *blob) {
  ModelEmitter emitter(model, prefix, config, mod.getContext(), mod,
                       exportSymbols, profile, blob);
  return emitter.emit();
}

} // namespace seqc::codegen::cpu
