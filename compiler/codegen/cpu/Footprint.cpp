//===- Footprint.cpp - Code, weight and stack bytes of an object ----------===//
//
// Part of seqc. What `seqc compile` and `seqc check` report of generated
// code (docs/cpu-backend.md, "Footprint"): the bytes of the object's
// executable and read-only data sections, read back from the object itself,
// and a bound on the stack of its entry points, from the frame size of
// every function (the figures of -fstack-usage, which the code generator
// writes to a side file and which leave the object as it is) and the
// module's call graph.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cpu/Internal.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/BinaryFormat/ELF.h"
#include "llvm/IR/GlobalIFunc.h"
#include "llvm/IR/InstIterator.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/IntrinsicInst.h"
#include "llvm/Object/ELFObjectFile.h"
#include "llvm/Object/ObjectFile.h"
#include "llvm/TargetParser/Triple.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

using namespace llvm;

namespace seqc::codegen::cpu {

namespace {

/// Stack a call of memcpy, memset or memmove may use beyond its return
/// address. glibc's x86-64 and AArch64 versions are assembly leaves that
/// keep everything in registers, and a plain C one (musl's) keeps a few
/// words; 256 bytes covers both with room. The dynamic linker's lazy
/// binding of the first call is not counted (docs/cpu-backend.md).
constexpr uint64_t kLibcCallBytes = 256;

/// The x86-64 System V red zone: a leaf function may use 128 bytes below
/// its stack pointer, which its frame size leaves out.
constexpr uint64_t kRedZoneBytes = 128;

/// Frame bytes per function, from the StackUsageOutput text: one line
/// `MODULE:FUNCTION<tab>BYTES<tab>static|dynamic` per function (nullopt for
/// a dynamic frame, which has no bound).
StringMap<std::optional<uint64_t>> parseStackUsage(StringRef text) {
  StringMap<std::optional<uint64_t>> frames;
  SmallVector<StringRef, 0> lines;
  text.split(lines, '\n', -1, /*KeepEmpty=*/false);
  for (StringRef line : lines) {
    SmallVector<StringRef, 3> fields;
    line.split(fields, '\t');
    uint64_t bytes = 0;
    if (fields.size() != 3 || fields[1].getAsInteger(10, bytes))
      continue;
    // The module is named for the prefix, a C identifier without colons.
    StringRef name = fields[0].split(':').second;
    frames[name] = fields[2] == "static" ? std::optional(bytes) : std::nullopt;
  }
  return frames;
}

/// The stack alignment every call site keeps (the x86-64 and AArch64
/// ABIs' 16 bytes).
constexpr uint64_t kAbiStackAlign = 16;

/// The most a function's frame may exceed the size StackUsageOutput gives
/// for it. A frame that holds objects aligned beyond the ABI's 16 bytes (a
/// 64-byte aligned buffer, the spill slot of a 32- or 64-byte vector
/// register) realigns the stack pointer (`and $-ALIGN, %rsp`), which may
/// skip up to ALIGN - 8 bytes, and rounds its locals up to whole ALIGN
/// blocks past the size given, up to ALIGN - 8 bytes more (seen: a frame
/// given as 65592 bytes pushes 48 and subtracts 65600). The alignment is
/// the largest of the function's allocas and, for its spills, of the
/// module's vector registers (\p vectorBytes); none for a function
/// without a frame.
uint64_t realignSlack(const Function &f, uint64_t frame, uint64_t vectorBytes) {
  if (frame == 0)
    return 0;
  uint64_t align = std::max(kAbiStackAlign, vectorBytes);
  for (const Instruction &inst : instructions(f))
    if (const auto *alloca = dyn_cast<AllocaInst>(&inst))
      align = std::max<uint64_t>(align, alloca->getAlign().value());
  return align > kAbiStackAlign ? 2 * (align - 8) : 0;
}

bool isLibcCopy(const Function &callee) {
  switch (callee.getIntrinsicID()) {
  case Intrinsic::memcpy:
  case Intrinsic::memmove:
  case Intrinsic::memset:
    return true;
  default:
    break;
  }
  StringRef name = callee.getName();
  return name == "memcpy" || name == "memmove" || name == "memset";
}

/// The deepest call chain from a function, memoised: its frame, its return
/// address, and the deepest of its callees.
class StackWalk {
public:
  StackWalk(StringMap<std::optional<uint64_t>> frames, uint64_t slotBytes,
            uint64_t vectorBytes)
      : frames(std::move(frames)), slotBytes(slotBytes),
        vectorBytes(vectorBytes) {}

  uint64_t bound(const Function &f);
  /// Why a bound is missing; empty while every one holds.
  std::string unknown;

private:
  uint64_t callBytes(const CallBase &call);

  StringMap<std::optional<uint64_t>> frames;
  uint64_t slotBytes, vectorBytes;
  DenseMap<const Function *, uint64_t> done;
  SmallPtrSet<const Function *, 16> active;
};

uint64_t StackWalk::callBytes(const CallBase &call) {
  const Function *callee = call.getCalledFunction();
  // Indirect calls are the caller's parallel_for (and a profiling build's
  // hook): code outside the object, whose stack is its own.
  if (!callee)
    return 0;
  if (!callee->isDeclaration())
    return bound(*callee);
  if (isLibcCopy(*callee))
    return slotBytes + kLibcCallBytes;
  // Other intrinsics are lowered inline: the object calls nothing beyond
  // memcpy, memset and memmove (tests/app/check_undefined.cmake).
  if (callee->isIntrinsic())
    return 0;
  if (unknown.empty())
    unknown = fmt::format("it calls '{}'", callee->getName().str());
  return 0;
}

uint64_t StackWalk::bound(const Function &f) {
  if (auto it = done.find(&f); it != done.end())
    return it->second;
  if (!active.insert(&f).second) {
    if (unknown.empty())
      unknown = fmt::format("'{}' is recursive", f.getName().str());
    return 0;
  }
  uint64_t frame = 0;
  auto it = frames.find(f.getName());
  if (it == frames.end() || !it->second) {
    if (unknown.empty())
      unknown =
          fmt::format("the frame of '{}' has no fixed size", f.getName().str());
  } else {
    frame = *it->second + realignSlack(f, *it->second, vectorBytes);
  }
  uint64_t deepest = 0;
  for (const Instruction &inst : instructions(f))
    if (const auto *call = dyn_cast<CallBase>(&inst))
      deepest = std::max(deepest, callBytes(*call));
  active.erase(&f);
  uint64_t total = slotBytes + frame + deepest;
  done[&f] = total;
  return total;
}

/// The functions an exported symbol may run: itself, or for a GNU ifunc
/// (a multiversioned object) every function its resolver may return.
std::vector<const Function *> entryFunctions(const Module &mod,
                                             const std::string &name) {
  const GlobalValue *gv = mod.getNamedValue(name);
  if (const auto *f = dyn_cast_or_null<Function>(gv))
    return {f};
  std::vector<const Function *> out;
  if (const auto *ifunc = dyn_cast_or_null<GlobalIFunc>(gv))
    if (const Function *resolver = ifunc->getResolverFunction())
      for (const Instruction &inst : instructions(*resolver))
        for (const Value *op : inst.operands())
          if (const auto *f = dyn_cast<Function>(op->stripPointerCasts()))
            if (!f->isDeclaration())
              out.push_back(f);
  return out;
}

} // namespace

bool measureObject(MemoryBufferRef object, Footprint &out, std::string &error) {
  Expected<std::unique_ptr<object::ObjectFile>> file =
      object::ObjectFile::createObjectFile(object);
  if (!file) {
    error = "cannot read the generated object: " + toString(file.takeError());
    return false;
  }
  out.codeBytes = 0;
  out.weightsBytes = 0;
  bool elf = isa<object::ELFObjectFileBase>(**file);
  for (const object::SectionRef &section : (*file)->sections()) {
    if (section.isText()) {
      out.codeBytes += section.getSize();
      continue;
    }
    // The read-only data: the packed parameters, and the constant pools,
    // where a tiny model's straight-line code keeps its weights (and every
    // model its vector constants).
    bool weights = false;
    if (elf) {
      uint64_t flags = object::ELFSectionRef(section).getFlags();
      weights = section.isData() && (flags & ELF::SHF_ALLOC) &&
                !(flags & ELF::SHF_WRITE);
    } else if (Expected<StringRef> name = section.getName()) {
      weights = name->starts_with("__const") || name->starts_with(".rdata") ||
                name->starts_with("__literal");
    } else {
      consumeError(name.takeError());
    }
    if (weights)
      out.weightsBytes += section.getSize();
  }
  return true;
}

void boundStack(const Module &mod, const std::string &prefix,
                StringRef stackUsage, uint64_t vectorBytes, Footprint &out) {
  Triple triple(mod.getTargetTriple());
  StackWalk walk(parseStackUsage(stackUsage), triple.isArch64Bit() ? 8 : 4,
                 vectorBytes);
  uint64_t run = 0;
  for (const char *entry : {"_run", "_run_parallel"})
    for (const Function *f : entryFunctions(mod, prefix + entry))
      run = std::max(run, walk.bound(*f));
  // The tasks: what PREFIX_run_parallel hands its parallel_for.
  uint64_t task = 0;
  for (const Function &f : mod)
    for (const Instruction &inst : instructions(f))
      if (const auto *call = dyn_cast<CallBase>(&inst);
          call && !call->getCalledFunction())
        for (const Value *arg : call->args())
          if (const auto *fn = dyn_cast<Function>(arg->stripPointerCasts()))
            task = std::max(task, walk.bound(*fn));
  // Only one leaf runs at a time, so the red zone counts once.
  uint64_t redZone = triple.getArch() == Triple::x86_64 ? kRedZoneBytes : 0;
  out.stackBytes = run + redZone;
  out.taskStackBytes = task == 0 ? 0 : task + redZone;
  out.stackUnknown = walk.unknown;
}

} // namespace seqc::codegen::cpu
