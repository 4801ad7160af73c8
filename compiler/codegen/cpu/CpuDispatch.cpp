//===- CpuDispatch.cpp - CPUID dispatch of multiversioned objects ---------===//
//
// Part of seqc. The exported entry points of an object compiled for several
// x86-64 CPUs: GNU ifuncs whose resolver reads CPUID and XGETBV and picks the
// last variant the CPU supports.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cpu/Internal.h"

#include "llvm/IR/Constants.h"
#include "llvm/IR/GlobalIFunc.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/InlineAsm.h"

using namespace llvm;

namespace seqc::codegen::cpu {

namespace {

/// Where CPUID reports a feature: leaf (1, 7 or 0x80000001), register
/// (1 = ebx, 2 = ecx) and bit; `osState` is the XCR0 mask the OS must enable.
struct FeatureBit {
  const char *name;
  unsigned leaf;
  unsigned reg;
  unsigned bit;
  uint32_t osState;
};

constexpr FeatureBit kFeatureBits[] = {
    {"sse3", 1, 2, 0, 0},
    {"ssse3", 1, 2, 9, 0},
    {"fma", 1, 2, 12, 0x6},
    {"cx16", 1, 2, 13, 0},
    {"sse4.1", 1, 2, 19, 0},
    {"sse4.2", 1, 2, 20, 0},
    {"movbe", 1, 2, 22, 0},
    {"popcnt", 1, 2, 23, 0},
    {"xsave", 1, 2, 26, 0},
    {"avx", 1, 2, 28, 0x6},
    {"f16c", 1, 2, 29, 0x6},
    {"bmi", 7, 1, 3, 0},
    {"avx2", 7, 1, 5, 0x6},
    {"bmi2", 7, 1, 8, 0},
    {"avx512f", 7, 1, 16, 0xe6},
    {"avx512dq", 7, 1, 17, 0xe6},
    {"avx512cd", 7, 1, 28, 0xe6},
    {"avx512bw", 7, 1, 30, 0xe6},
    {"avx512vl", 7, 1, 31, 0xe6},
    {"avx512vnni", 7, 2, 11, 0xe6},
    {"lzcnt", 0x80000001u, 2, 5, 0},
};

} // namespace

const std::vector<std::string> &dispatchableX86Features() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const FeatureBit &f : kFeatureBits)
      v.push_back(f.name);
    return v;
  }();
  return names;
}

namespace {

/// What a resolver read from the CPU: the ebx (reg 1) and ecx (reg 2) of
/// CPUID leaves 1, 7 and 0x80000001 (regs[0..2][reg], 0 where the CPU has
/// no such leaf), and XCR0 (0 where the OS has not enabled XSAVE).
struct CpuState {
  Value *regs[3][3];
  Value *xcr0;
};

/// Reads the CPU in the new blocks of \p resolver; leaves the builder at
/// the end of the last.
CpuState emitReadCpu(IRBuilder<> &builder, Function *resolver) {
  LLVMContext &ctx = resolver->getContext();
  Type *i32 = builder.getInt32Ty();
  StructType *cpuidTy = StructType::get(ctx, {i32, i32, i32, i32});
  InlineAsm *cpuidAsm = InlineAsm::get(
      FunctionType::get(cpuidTy, {i32, i32}, false), "cpuid",
      "={ax},={bx},={cx},={dx},{ax},{cx},~{dirflag},~{fpsr},~{flags}",
      /*hasSideEffects=*/true);
  InlineAsm *xgetbvAsm = InlineAsm::get(
      FunctionType::get(StructType::get(ctx, {i32, i32}), {i32}, false),
      ".byte 0x0f, 0x01, 0xd0", "={ax},={dx},{cx},~{dirflag},~{fpsr},~{flags}",
      true);
  BasicBlock *entryBB = BasicBlock::Create(ctx, "entry", resolver);
  BasicBlock *xsaveBB = BasicBlock::Create(ctx, "xgetbv", resolver);
  BasicBlock *pickBB = BasicBlock::Create(ctx, "pick", resolver);
  builder.SetInsertPoint(entryBB);
  auto cpuid = [&](uint32_t leaf) {
    return builder.CreateCall(cpuidAsm,
                              {builder.getInt32(leaf), builder.getInt32(0)});
  };
  Value *maxLeaf = builder.CreateExtractValue(cpuid(0), 0);
  Value *leaf1 = cpuid(1);
  Value *leaf7 = cpuid(7);
  Value *maxExt = builder.CreateExtractValue(cpuid(0x80000000u), 0);
  Value *ext = cpuid(0x80000001u);
  Value *zero = builder.getInt32(0);
  CpuState cpu;
  for (unsigned r = 1; r <= 2; ++r) {
    cpu.regs[0][r] = builder.CreateExtractValue(leaf1, r);
    cpu.regs[1][r] = builder.CreateSelect(
        builder.CreateICmpUGE(maxLeaf, builder.getInt32(7)),
        builder.CreateExtractValue(leaf7, r), zero);
    cpu.regs[2][r] = builder.CreateSelect(
        builder.CreateICmpUGE(maxExt, builder.getInt32(0x80000001u)),
        builder.CreateExtractValue(ext, r), zero);
  }
  Value *osxsave = builder.CreateICmpNE(
      builder.CreateAnd(cpu.regs[0][2], builder.getInt32(1u << 27)), zero);
  builder.CreateCondBr(osxsave, xsaveBB, pickBB);
  builder.SetInsertPoint(xsaveBB);
  Value *xcr0Read = builder.CreateExtractValue(
      builder.CreateCall(xgetbvAsm, {builder.getInt32(0)}), 0);
  builder.CreateBr(pickBB);
  builder.SetInsertPoint(pickBB);
  PHINode *xcr0 = builder.CreatePHI(i32, 2);
  xcr0->addIncoming(zero, entryBB);
  xcr0->addIncoming(xcr0Read, xsaveBB);
  cpu.xcr0 = xcr0;
  return cpu;
}

/// Whether the CPU has every feature of \p variant (and the OS saves the
/// registers of those that need it).
Value *emitSupports(IRBuilder<> &builder, const CpuState &cpu,
                    const CpuVariant &variant) {
  Value *zero = builder.getInt32(0);
  Value *ok = builder.getTrue();
  for (const std::string &name : variant.features)
    for (const FeatureBit &f : kFeatureBits) {
      if (name != f.name)
        continue;
      unsigned which = f.leaf == 1 ? 0 : f.leaf == 7 ? 1 : 2;
      Value *bit =
          builder.CreateICmpNE(builder.CreateAnd(cpu.regs[which][f.reg],
                                                 builder.getInt32(1u << f.bit)),
                               zero);
      ok = builder.CreateAnd(ok, bit);
      if (f.osState)
        ok = builder.CreateAnd(
            ok, builder.CreateICmpEQ(
                    builder.CreateAnd(cpu.xcr0, builder.getInt32(f.osState)),
                    builder.getInt32(f.osState)));
    }
  return ok;
}

} // namespace

/// For each entry point, an ifunc whose resolver reads the CPU once and
/// picks the last variant it supports (the variants' select chain is built
/// first to last), or a stub returning kRunUnsupportedCpu. scratch_bytes
/// and check_weights do not depend on the ISA: they forward to the first
/// variant.
void emitCpuDispatch(Module &mod, const std::string &prefix,
                     const std::vector<CpuVariant> &variants,
                     bool externalWeights) {
  LLVMContext &ctx = mod.getContext();
  IRBuilder<> builder(ctx);
  Type *i32 = builder.getInt32Ty(), *i64 = builder.getInt64Ty();
  Type *ptrTy = PointerType::getUnqual(ctx);
  auto internal = [&](FunctionType *ty, const std::string &name) {
    Function *f = Function::Create(ty, GlobalValue::InternalLinkage, name, mod);
    f->addFnAttr(Attribute::NoUnwind);
    return f;
  };
  auto forward = [&](FunctionType *ty, const std::string &suffix) {
    Function *fn = Function::Create(ty, GlobalValue::ExternalLinkage,
                                    prefix + suffix, mod);
    fn->addFnAttr(Attribute::NoUnwind);
    builder.SetInsertPoint(BasicBlock::Create(ctx, "entry", fn));
    std::vector<Value *> args;
    for (Argument &arg : fn->args())
      args.push_back(&arg);
    builder.CreateRet(builder.CreateCall(
        mod.getFunction(variants.front().symbolPrefix + suffix), args));
  };
  forward(FunctionType::get(i64, {i64}, false), "_scratch_bytes");
  if (externalWeights)
    forward(FunctionType::get(i32, {ptrTy, i64}, false), "_check_weights");

  for (const char *entry : {"_run", "_run_parallel"}) {
    bool parallel = std::string(entry) == "_run_parallel";
    std::vector<Type *> params = {ptrTy, ptrTy, i64, ptrTy};
    if (parallel)
      params.insert(params.end(), {ptrTy, ptrTy});
    if (externalWeights)
      params.insert(params.begin(), ptrTy);
    FunctionType *fnTy = FunctionType::get(i32, params, false);
    Function *stub = internal(fnTy, prefix + ".unsupported" + entry);
    builder.SetInsertPoint(BasicBlock::Create(ctx, "entry", stub));
    builder.CreateRet(builder.getInt32(kRunUnsupportedCpu));

    Function *resolver = internal(FunctionType::get(ptrTy, {}, false),
                                  prefix + ".resolve" + entry);
    CpuState cpu = emitReadCpu(builder, resolver);
    Value *chosen = stub;
    for (const CpuVariant &v : variants) {
      Value *ok = emitSupports(builder, cpu, v);
      Function *impl = mod.getFunction(v.symbolPrefix + entry);
      chosen = builder.CreateSelect(ok, impl, chosen);
    }
    builder.CreateRet(chosen);
    GlobalIFunc::create(fnTy, 0, GlobalValue::ExternalLinkage, prefix + entry,
                        resolver, &mod);
  }
}

} // namespace seqc::codegen::cpu
