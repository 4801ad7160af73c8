//===- ModelEmitter.cpp - Fused IR to LLVM IR -----------------------------===//
//
// Part of seqc. Builds one LLVM module per model: one task function per
// stage (a Dense layer, a row-wise op, the whole network when it is tiny,
// or the whole chain one row block at a time when its weights fit in L2),
// and the exported PREFIX_run / PREFIX_run_parallel / PREFIX_scratch_bytes.
// This file holds the emitter's shared helpers, the fused stages and the
// entry points; see docs/cpu-backend.md for the contract and the design.
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

std::vector<Value *> ModelEmitter::emitLoop(Value *begin, Value *end,
                                            Value *step,
                                            std::vector<Value *> init,
                                            const LoopBody &body) {
  Function *fn = b.GetInsertBlock()->getParent();
  BasicBlock *pre = b.GetInsertBlock();
  BasicBlock *loop = BasicBlock::Create(ctx, "loop", fn);
  BasicBlock *exit = BasicBlock::Create(ctx, "loop.exit", fn);
  b.CreateCondBr(b.CreateICmpSLT(begin, end), loop, exit);
  b.SetInsertPoint(loop);
  PHINode *iv = b.CreatePHI(i64, 2, "iv");
  iv->addIncoming(begin, pre);
  std::vector<PHINode *> phis;
  std::vector<Value *> carried;
  for (Value *v : init) {
    PHINode *phi = b.CreatePHI(v->getType(), 2);
    phi->addIncoming(v, pre);
    phis.push_back(phi);
    carried.push_back(phi);
  }
  std::vector<Value *> next = body(iv, carried);
  BasicBlock *latch = b.GetInsertBlock();
  Value *ivNext = b.CreateAdd(iv, step);
  iv->addIncoming(ivNext, latch);
  for (size_t i = 0; i < phis.size(); ++i)
    phis[i]->addIncoming(next[i], latch);
  b.CreateCondBr(b.CreateICmpSLT(ivNext, end), loop, exit);
  b.SetInsertPoint(exit);
  std::vector<Value *> result;
  for (size_t i = 0; i < init.size(); ++i) {
    PHINode *phi = b.CreatePHI(init[i]->getType(), 2);
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
  auto *gv = new GlobalVariable(mod, b.getInt8Ty(), /*isConstant=*/true,
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
        p = at.CreateInBoundsGEP(b.getInt8Ty(), base, c64(offset), name);
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
    return b.CreateAlignedLoad(vecTy, p, Align(4));
  return b.CreateMaskedLoad(vecTy, p, Align(4), mask, passThru);
}

void ModelEmitter::storeRowVec(Value *v, Value *row, Value *col, Value *mask) {
  Value *p = gepF(row, col);
  if (!mask)
    b.CreateAlignedStore(v, p, Align(4));
  else
    b.CreateMaskedStore(v, p, Align(4), mask);
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
  b.SetInsertPoint(BasicBlock::Create(ctx, "entry", t.fn));
  t.in = b.CreateLoad(ptrTy, b.CreateStructGEP(ctxTy, ctxArg, 0));
  t.out = b.CreateLoad(ptrTy, b.CreateStructGEP(ctxTy, ctxArg, 1));
  t.rows = b.CreateLoad(i64, b.CreateStructGEP(ctxTy, ctxArg, 2));
  return t;
}

std::pair<Value *, Value *> ModelEmitter::itemRows(const Task &task,
                                                   uint64_t rowsPerItem) {
  Value *first = b.CreateMul(task.begin, c64(rowsPerItem));
  Value *last = b.CreateBinaryIntrinsic(
      Intrinsic::umin, b.CreateMul(task.end, c64(rowsPerItem)), task.rows);
  return {first, last};
}

ModelEmitter::Stage ModelEmitter::endTask(const Task &task,
                                          uint64_t rowsPerItem) {
  b.CreateRetVoid();
  Stage st;
  st.fn = task.fn;
  st.rowsPerItem = rowsPerItem;
  return st;
}

ModelEmitter::Stage
ModelEmitter::emitFusedStage(const std::vector<Stage> &stages,
                             uint64_t maxRows) {
  Function *f = newFunction(taskTy, prefix + ".fused", false);
  auto args = f->arg_begin();
  Value *ctxArg = &*args++, *begin = &*args++, *end = &*args++;
  b.SetInsertPoint(BasicBlock::Create(ctx, "entry", f));
  Value *local = b.CreateAlloca(ctxTy);
  Value *bufs[4];
  for (unsigned i = 0; i < 4; ++i)
    bufs[i] = b.CreateLoad(ptrTy,
                           b.CreateStructGEP(ctxTy, ctxArg, i < 2 ? i : i + 1));
  Value *rows = b.CreateLoad(i64, b.CreateStructGEP(ctxTy, ctxArg, 2));
  Value *blockRows = fusedBlockRows(rows, maxRows);
  if (blob)
    b.CreateStore(weightsPointerIn(f),
                  b.CreateStructGEP(ctxTy, local, kCtxWeights));
  emitForEach(begin, end, c64(1), [&](Value *item) {
    Value *r0 = b.CreateMul(item, blockRows);
    Value *n = b.CreateBinaryIntrinsic(Intrinsic::umin, blockRows,
                                       b.CreateSub(rows, r0));
    // Each stage on rows [r0, r0 + n) of its buffers, on this thread. The
    // first reads the model's input, which the blocks stream through once
    // (cold when large); the others read the block just written.
    for (const Stage &st : stages) {
      Value *cold = &st == &stages.front() ? sourceCold(rows, st.srcStride)
                                           : static_cast<Value *>(c64(0));
      b.CreateStore(cold, b.CreateStructGEP(ctxTy, local, kCtxSourceCold));
      b.CreateStore(gepF(bufs[st.src], b.CreateMul(r0, c64(st.srcStride))),
                    b.CreateStructGEP(ctxTy, local, 0));
      b.CreateStore(gepF(bufs[st.dst], b.CreateMul(r0, c64(st.dstStride))),
                    b.CreateStructGEP(ctxTy, local, 1));
      b.CreateStore(n, b.CreateStructGEP(ctxTy, local, 2));
      b.CreateCall(taskTy, st.fn, {local, c64(0), stageItems(st, n)});
    }
  });
  b.CreateRetVoid();
  Stage fused;
  fused.fn = f;
  fused.rowsPerItem = maxRows;
  fused.fusedRows = true;
  fused.src = 0;
  fused.dst = 1;
  fused.srcStride = stages.front().srcStride;
  fused.workPerRow = 0;
  for (const Stage &st : stages)
    fused.workPerRow += st.workPerRow;
  return fused;
}

//===----------------------------------------------------------------------===//
// Exported entry points.
//===----------------------------------------------------------------------===//

void ModelEmitter::emitScratchBytes(const ModelPlan &plan) {
  FunctionType *ft = FunctionType::get(i64, {i64}, false);
  scratchFn = newFunction(ft, prefix + "_scratch_bytes", true);
  Value *rows = &*scratchFn->arg_begin();
  b.SetInsertPoint(BasicBlock::Create(ctx, "entry", scratchFn));
  if (plan.scratchBuffers == 0) {
    b.CreateRet(c64(0));
    return;
  }
  // 0 for batch 0, SIZE_MAX above the batch limit, else
  // 64 + buffers * roundup(batch * maxFeatures * 4, 64).
  Value *per = b.CreateAnd(
      b.CreateAdd(b.CreateMul(rows, c64(plan.scratchFeatures * 4)), c64(63)),
      c64(~uint64_t(63)));
  Value *total =
      b.CreateAdd(c64(64), b.CreateMul(per, c64(plan.scratchBuffers)));
  total = b.CreateSelect(b.CreateICmpUGT(rows, c64(limits::kMaxBatch)),
                         c64(~uint64_t(0)), total);
  total = b.CreateSelect(b.CreateICmpEQ(rows, c64(0)), c64(0), total);
  b.CreateRet(total);
}

void ModelEmitter::emitRun(const ModelPlan &plan,
                           const std::vector<Stage> &stages) {
  // int PREFIX_run_parallel([weights,] in, out, batch, scratch,
  //                         parallel_for, pool)
  std::vector<Type *> params = {ptrTy, ptrTy, i64, ptrTy, ptrTy, ptrTy};
  if (blob)
    params.insert(params.begin(), ptrTy);
  FunctionType *ft = FunctionType::get(i32, params, false);
  Function *f = newFunction(ft, prefix + "_run_parallel", true);
  auto args = f->arg_begin();
  Value *weights = blob ? &*args++ : nullptr;
  Value *in = &*args++, *out = &*args++, *rows = &*args++;
  Value *scratch = &*args++, *pf = &*args++, *pool = &*args++;
  BasicBlock *entry = BasicBlock::Create(ctx, "entry", f);
  BasicBlock *fail = BasicBlock::Create(ctx, "fail", f);
  b.SetInsertPoint(fail);
  PHINode *code = b.CreatePHI(i32, 4);
  b.CreateRet(code);
  b.SetInsertPoint(entry);
  auto check = [&](Value *bad, int status) {
    BasicBlock *ok = BasicBlock::Create(ctx, "ok", f);
    code->addIncoming(b.getInt32(status), b.GetInsertBlock());
    b.CreateCondBr(bad, fail, ok);
    b.SetInsertPoint(ok);
  };
  if (blob) {
    // Not marked noalias: LLVM would then hoist the tiny path's weight
    // loads out of its row loops and spill them (17 for the lecture's
    // net), which costs batch 1 more (lecture 19-26 ns against 11.5-22 ns,
    // 5 interleaved runs) than the reloads it saves.
    weightsPointers[f] = weights;
    emitWeightsChecks(weights, nullptr, check);
  }
  check(b.CreateICmpEQ(rows, c64(0)), kRunOk);
  check(b.CreateICmpUGT(rows, c64(limits::kMaxBatch)), kRunBatchTooLarge);
  check(b.CreateOr(b.CreateIsNull(in), b.CreateIsNull(out)), kRunNullPointer);
  Value *need = b.CreateCall(scratchFn, {rows});
  check(b.CreateAnd(b.CreateICmpNE(need, c64(0)), b.CreateIsNull(scratch)),
        kRunNullScratch);
  // Align the scratch buffer to 64 bytes.
  Value *addr = b.CreatePtrToInt(scratch, i64);
  Value *pad = b.CreateAnd(b.CreateNeg(addr), c64(63));
  Value *base = b.CreateGEP(b.getInt8Ty(), scratch, pad);
  Value *per = b.CreateAnd(
      b.CreateAdd(b.CreateMul(rows, c64(plan.scratchFeatures * 4)), c64(63)),
      c64(~uint64_t(63)));
  Value *bufs[4] = {in, out, base, b.CreateGEP(b.getInt8Ty(), base, per)};
  // In the entry block, so the frame is fixed (no dynamic stack pointer).
  Value *ctxPtr;
  {
    IRBuilderBase::InsertPointGuard guard(b);
    b.SetInsertPoint(entry, entry->getFirstInsertionPt());
    ctxPtr = b.CreateAlloca(ctxTy);
  }
  // The scratch buffers, for a fused stage (the same for every stage).
  b.CreateStore(bufs[2], b.CreateStructGEP(ctxTy, ctxPtr, 3));
  b.CreateStore(bufs[3], b.CreateStructGEP(ctxTy, ctxPtr, 4));
  if (blob)
    b.CreateStore(weights, b.CreateStructGEP(ctxTy, ctxPtr, kCtxWeights));
  Value *serial = b.CreateIsNull(pf);
  if (model.ops.empty()) {
    uint64_t bytes = model.inputType().features() * 4;
    b.CreateMemMove(out, Align(4), in, Align(4), b.CreateMul(rows, c64(bytes)));
  }
  if (profile) {
    auto global = [&](const std::string &name) {
      return new GlobalVariable(
          mod, ptrTy, false, GlobalValue::ExternalLinkage,
          ConstantPointerNull::get(cast<PointerType>(ptrTy)), name);
    };
    profileHook = global(prefix + "_profile_hook");
    profileUser = global(prefix + "_profile_user");
    emitProfileMark(0);
  }
  for (size_t stageIndex = 0; stageIndex < stages.size(); ++stageIndex) {
    const Stage &st = stages[stageIndex];
    b.CreateStore(bufs[st.src], b.CreateStructGEP(ctxTy, ctxPtr, 0));
    b.CreateStore(bufs[st.dst], b.CreateStructGEP(ctxTy, ctxPtr, 1));
    b.CreateStore(rows, b.CreateStructGEP(ctxTy, ctxPtr, 2));
    b.CreateStore(sourceCold(rows, st.srcStride),
                  b.CreateStructGEP(ctxTy, ctxPtr, kCtxSourceCold));
    Value *items = stageItems(st, rows);
    BasicBlock *serialBB = BasicBlock::Create(ctx, "serial", f);
    BasicBlock *parBB = BasicBlock::Create(ctx, "parallel", f);
    BasicBlock *next = BasicBlock::Create(ctx, "next", f);
    // Serial when no hook is given or the stage is too small to share.
    uint64_t minRows = (kMinParallelWork + st.workPerRow - 1) /
                       std::max<uint64_t>(st.workPerRow, 1);
    Value *small = b.CreateICmpULT(rows, c64(minRows));
    b.CreateCondBr(b.CreateOr(serial, small), serialBB, parBB);
    b.SetInsertPoint(serialBB);
    b.CreateCall(taskTy, st.fn, {ctxPtr, c64(0), items});
    b.CreateBr(next);
    b.SetInsertPoint(parBB);
    FunctionType *pfTy =
        FunctionType::get(voidTy, {ptrTy, i64, ptrTy, ptrTy}, false);
    b.CreateCall(pfTy, pf, {pool, items, st.fn, ctxPtr});
    b.CreateBr(next);
    b.SetInsertPoint(next);
    if (profile)
      emitProfileMark(static_cast<uint32_t>(stageIndex + 1));
  }
  b.CreateRet(b.getInt32(kRunOk));

  // int PREFIX_run([weights,] in, out, batch, scratch): serial.
  params.resize(params.size() - 2);
  Function *run =
      newFunction(FunctionType::get(i32, params, false), prefix + "_run", true);
  b.SetInsertPoint(BasicBlock::Create(ctx, "entry", run));
  std::vector<Value *> callArgs;
  for (Argument &arg : run->args())
    callArgs.push_back(&arg);
  Value *nullPtr = ConstantPointerNull::get(cast<PointerType>(ptrTy));
  callArgs.push_back(nullPtr);
  callArgs.push_back(nullPtr);
  b.CreateRet(b.CreateCall(f, callArgs));

  if (blob) {
    // int PREFIX_check_weights(weights, bytes)
    Function *checkFn = newFunction(FunctionType::get(i32, {ptrTy, i64}, false),
                                    prefix + "_check_weights", true);
    auto ca = checkFn->arg_begin();
    Value *w = &*ca++, *bytes = &*ca++;
    BasicBlock *entry = BasicBlock::Create(ctx, "entry", checkFn);
    BasicBlock *bad = BasicBlock::Create(ctx, "bad", checkFn);
    b.SetInsertPoint(bad);
    b.CreateRet(b.getInt32(kRunBadWeights));
    b.SetInsertPoint(entry);
    emitWeightsChecks(w, bytes, [&](Value *isBad, int) {
      BasicBlock *ok = BasicBlock::Create(ctx, "ok", checkFn);
      b.CreateCondBr(isBad, bad, ok);
      b.SetInsertPoint(ok);
    });
    b.CreateRet(b.getInt32(kRunOk));
  }
}

void ModelEmitter::emitWeightsChecks(
    Value *weights, Value *bytes,
    const std::function<void(Value *, int)> &check) {
  // Null or not 64-byte aligned, then the header: the magic, the
  // fingerprint and the size this code was compiled for (module globals
  // the backend sets once every variant is emitted).
  check(b.CreateOr(b.CreateIsNull(weights),
                   b.CreateICmpNE(b.CreateAnd(b.CreatePtrToInt(weights, i64),
                                              c64(WeightsBlob::kAlign - 1)),
                                  c64(0))),
        kRunBadWeights);
  Value *expectBytes =
      b.CreateLoad(i64, mod.getOrInsertGlobal(kWeightsBytesGlobal, i64));
  if (bytes)
    check(b.CreateICmpNE(bytes, expectBytes), kRunBadWeights);
  auto field = [&](uint64_t offset) {
    return b.CreateAlignedLoad(
        i64, b.CreateConstInBoundsGEP1_64(b.getInt8Ty(), weights, offset),
        Align(8));
  };
  Value *expectPrint =
      b.CreateLoad(i64, mod.getOrInsertGlobal(kWeightsFingerprintGlobal, i64));
  Value *wrong = b.CreateOr(
      b.CreateICmpNE(field(0), c64(WeightsBlob::kMagic)),
      b.CreateOr(
          b.CreateICmpNE(field(WeightsBlob::kFingerprintOffset), expectPrint),
          b.CreateICmpNE(field(WeightsBlob::kSizeOffset), expectBytes)));
  check(wrong, kRunBadWeights);
}

void ModelEmitter::emitProfileMark(uint32_t mark) {
  Function *f = b.GetInsertBlock()->getParent();
  Value *hook = b.CreateLoad(ptrTy, profileHook);
  BasicBlock *call = BasicBlock::Create(ctx, "profile", f);
  BasicBlock *next = BasicBlock::Create(ctx, "profiled", f);
  b.CreateCondBr(b.CreateIsNull(hook), next, call);
  b.SetInsertPoint(call);
  FunctionType *hookTy = FunctionType::get(voidTy, {ptrTy, i32}, false);
  b.CreateCall(hookTy, hook,
               {b.CreateLoad(ptrTy, profileUser), b.getInt32(mark)});
  b.CreateBr(next);
  b.SetInsertPoint(next);
}

std::vector<StageInfo> ModelEmitter::emit() {
  ModelPlan plan = planModel(model);
  emitScratchBytes(plan);
  std::vector<Stage> stages;
  std::vector<StageInfo> infos;
  size_t numOps = model.ops.size();
  auto dstOf = [&](size_t i) -> int {
    return i + 1 == numOps ? 1
                           : (plan.scratchBuffers == 1 ? 2 : 2 + int(i % 2));
  };
  if (plan.tiny) {
    if (numOps > 0) {
      Stage st = emitTinyStage();
      st.src = 0;
      st.dst = 1;
      st.workPerRow = 0;
      for (const ir::Op &op : model.ops)
        st.workPerRow += static_cast<uint64_t>(op.inFeatures) * op.outFeatures +
                         model.values[op.result].type.features();
      stages.push_back(st);
      infos.push_back({StageKind::Tiny, 0, numOps - 1});
    }
  } else {
    auto isDense = [](const ir::Op &op) {
      return op.kind == ir::OpKind::Dense;
    };
    compactCode = std::count_if(model.ops.begin(), model.ops.end(), isDense) >
                  kInlineDenseLayers;
    // A network whose weights fit in L2 goes through the whole chain one
    // row block at a time (emitFusedStage): the activations then stay in
    // cache between layers instead of streaming [batch, F] buffers through
    // memory. Row blocks of different layers then use a scratch buffer at
    // the same time, so its rows have one stride, the widest intermediate,
    // rather than each layer's own width.
    uint64_t weightBytes = 0, maxWidth = model.inputType().features();
    size_t stageCount = 0;
    for (const ir::Op &op : model.ops) {
      if (isDense(op))
        weightBytes += planDense(op, cfg).weights.bytes();
      maxWidth =
          std::max<uint64_t>(maxWidth, model.values[op.result].type.features());
      stageCount +=
          1 + (op.kind == ir::OpKind::Dense && op.rowNorm != ir::RowNorm::None);
    }
    bool fuse = stageCount > 1 && weightBytes <= kFuseMaxWeightBytes;
    auto strideOf = [&](int buffer, uint64_t width) {
      if (buffer < 2)
        return width;
      return fuse ? plan.scratchFeatures : scratchStride(width);
    };
    // The row strides of op i's input and output buffers.
    auto stridesOf = [&](size_t i) {
      const ir::Op &op = model.ops[i];
      return std::make_pair(
          strideOf(i == 0 ? 0 : dstOf(i - 1),
                   model.values[op.input].type.features()),
          strideOf(dstOf(i), model.values[op.result].type.features()));
    };
    if (compactCode) {
      // Which layers get specialised kernels: those whose signature at
      // least two share, the most used first (ties: the first seen).
      std::map<std::string, size_t> uses;
      std::vector<std::string> firstSeen;
      for (size_t i = 0; i < numOps; ++i) {
        const ir::Op &op = model.ops[i];
        if (!isDense(op))
          continue;
        DensePlan pl = planDense(op, cfg);
        auto [lda, ldc] = stridesOf(i);
        std::string sig = layerSignature(op, pl, pl.k, lda, ldc);
        if (++uses[sig] == 1)
          firstSeen.push_back(sig);
      }
      std::stable_sort(firstSeen.begin(), firstSeen.end(),
                       [&](const std::string &x, const std::string &y) {
                         return uses[x] > uses[y];
                       });
      for (const std::string &sig : firstSeen)
        if (uses[sig] >= 2 && specialisedLayers.size() < kMaxSpecialised)
          specialisedLayers.insert(sig);
    }
    for (size_t i = 0; i < numOps; ++i) {
      const ir::Op &op = model.ops[i];
      int src = i == 0 ? 0 : dstOf(i - 1);
      int dst = dstOf(i);
      uint64_t inWidth = model.values[op.input].type.features();
      uint64_t width = model.values[op.result].type.features();
      auto [srcStride, dstStride] = stridesOf(i);
      Stage st = isDense(op) ? emitDenseStage(op, static_cast<unsigned>(i),
                                              srcStride, dstStride)
                             : emitRowStage(op, static_cast<unsigned>(i), false,
                                            srcStride, dstStride);
      st.src = src;
      st.dst = dst;
      st.srcStride = srcStride;
      st.dstStride = dstStride;
      st.workPerRow = isDense(op) ? inWidth * width : width * 16;
      stages.push_back(st);
      infos.push_back(
          {isDense(op) ? StageKind::Dense : StageKind::RowOp, i, i});
      if (op.kind == ir::OpKind::Dense && op.rowNorm != ir::RowNorm::None) {
        Stage norm = emitRowStage(op, static_cast<unsigned>(i), true, dstStride,
                                  dstStride);
        norm.src = dst;
        norm.dst = dst;
        norm.workPerRow = width * 16;
        norm.srcStride = norm.dstStride = dstStride;
        stages.push_back(norm);
        infos.push_back({StageKind::RowNorm, i, i});
      }
    }
    if (fuse) {
      uint64_t rows = std::clamp<uint64_t>(
          kFuseBlockBytes / (8 * std::max<uint64_t>(maxWidth, 1)) / 12 * 12, 12,
          1020);
      stages = {emitFusedStage(stages, rows)};
      infos = {{StageKind::Fused, 0, numOps - 1}};
    }
  }
  emitRun(plan, stages);
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
