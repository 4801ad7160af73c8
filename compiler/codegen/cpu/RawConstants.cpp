//===- RawConstants.cpp - Weight arrays as raw bytes for the assembler ----===//
//
// Part of seqc. Before machine code is emitted, the optimised module's
// constant arrays (the packed weights, biases, batch-norm scales) are
// re-initialised as byte strings of the same contents (the constant arrays
// of a parameter are the weights, biases and per-feature scales).
//
// Why: LLVM's AsmPrinter emits a `[N x float]` initializer one element at a
// time (an APFloat, a DataLayout query and an MCStreamer call per float),
// but an `[N x i8]` one with a single emitBytes, which more than halves the
// time to write a large model's object (docs/cpu-backend.md). The bytes are
// the same, so the object is too. `seqc emit --format llvm|asm` keeps the
// readable float arrays: this step runs only for objects and the JIT.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cpu/Internal.h"

#include "llvm/IR/Constants.h"
#include "llvm/IR/GlobalVariable.h"
#include "llvm/Support/SwapByteOrder.h"

#include <vector>

using namespace llvm;

namespace seqc::codegen::cpu {

void rawConstantInitializers(Module &mod) {
  // getRawDataValues() is in the host's byte order: only when the target
  // has the same can those bytes be reused as they are.
  if (mod.getDataLayout().isBigEndian() != sys::IsBigEndianHost)
    return;
  std::vector<GlobalVariable *> arrays;
  for (GlobalVariable &gv : mod.globals()) {
    if (!gv.isConstant() || !gv.hasInitializer() || !gv.hasLocalLinkage())
      continue;
    auto *data = dyn_cast<ConstantDataArray>(gv.getInitializer());
    if (data && !data->getElementType()->isIntegerTy(8))
      arrays.push_back(&gv);
  }
  for (GlobalVariable *gv : arrays) {
    // The context keys its data arrays by their bytes, so the byte array
    // shares the float array's storage: this copies nothing.
    auto *data = cast<ConstantDataArray>(gv->getInitializer());
    Constant *bytes = ConstantDataArray::getString(
        mod.getContext(), data->getRawDataValues(), /*AddNull=*/false);
    auto *raw = new GlobalVariable(
        mod, bytes->getType(), /*isConstant=*/true, gv->getLinkage(), bytes, "",
        gv, gv->getThreadLocalMode(), gv->getAddressSpace());
    raw->setAlignment(gv->getAlign());
    raw->setSection(gv->getSection());
    // Not unnamed_addr: an unnamed_addr byte array that happens to end in
    // one zero byte would be placed in a mergeable C-string section.
    raw->setUnnamedAddr(GlobalValue::UnnamedAddr::None);
    raw->takeName(gv);
    gv->replaceAllUsesWith(raw);
    gv->eraseFromParent();
  }
}

} // namespace seqc::codegen::cpu
