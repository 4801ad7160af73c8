//===- JitCache.cpp - What the JIT keeps in the object cache --------------===//

#include "compiler/codegen/cpu/JitCache.h"

#include "compiler/ir/Printer.h"
#include "compiler/support/ByteOrder.h"
#include "compiler/support/ObjectCache.h"

#include "llvm/Config/llvm-config.h"
#include "llvm/TargetParser/Host.h"

#include <bit>
#include <cstring>

namespace seqc::codegen::cpu {

namespace {

/// Bumped whenever the key's contents or the entry's layout change.
constexpr std::string_view kJitCacheFormat = "seqc jit cache 1";

void hashText(Sha256 &h, std::string_view text) {
  h.updateU64(text.size());
  h.update(text);
}

void hashDouble(Sha256 &h, double value) {
  h.updateU64(std::bit_cast<uint64_t>(value));
}

/// The ops field by field: the IR text prints floats for people, and two
/// epsilons it prints alike must still be two keys.
void hashOps(Sha256 &h, const ir::Model &model) {
  h.updateU64(model.ops.size());
  for (const ir::Op &op : model.ops) {
    for (int64_t field :
         {int64_t(op.kind), int64_t(op.input), int64_t(op.result),
          op.inFeatures, op.outFeatures, int64_t(op.act.kind),
          int64_t(op.rowNorm), int64_t(op.weight), int64_t(op.bias),
          int64_t(op.runningMean), int64_t(op.runningVar)})
      h.updateU64(uint64_t(field));
    hashDouble(h, op.act.alpha);
    hashDouble(h, op.act.beta);
    hashDouble(h, op.eps);
  }
}

void hashParams(Sha256 &h, const ir::Model &model) {
  h.updateU64(model.params.size());
  for (const ir::Param &p : model.params) {
    hashText(h, p.name);
    h.updateU64(p.shape.size());
    for (int64_t d : p.shape)
      h.updateU64(uint64_t(d));
    h.updateU64(p.data.data.size());
    if (!p.data.data.empty())
      h.update(p.data.data.data(), p.data.data.size() * sizeof(float));
  }
}

} // namespace

Sha256Digest jitCacheKey(const ir::Model &model, const CpuTargetOptions &opts,
                         const std::string &triple, const std::string &cpu,
                         const std::vector<std::string> &features) {
  Sha256 h;
  hashText(h, kJitCacheFormat);
  hashText(h, seqcBuildId());
  hashText(h, LLVM_VERSION_STRING);
  // libLLVM is a shared library: one updated under an unchanged seqc
  // could generate other code.
  hashText(h, codeFileIdentity(
                  reinterpret_cast<const void *>(&llvm::sys::getHostCPUName)));
  hashText(h, triple);
  hashText(h, cpu);
  h.updateU64(features.size());
  for (const std::string &f : features)
    hashText(h, f);
  // Every CpuTargetOptions field that reaches the object (hugePages only
  // moves it once linked; cacheDir and cacheMaxBytes are the cache's own).
  hashText(h, opts.cpu);
  hashText(h, opts.prefix);
  h.updateU64(opts.fastMath);
  h.updateU64(static_cast<uint64_t>(opts.precision));
  h.updateU64(opts.profile);
  h.updateU64(opts.externalWeights);
  hashText(h, ir::printModel(model));
  hashOps(h, model);
  hashParams(h, model);
  return h.digest();
}

std::string packJitEntry(const JitCacheEntry &entry) {
  std::string out;
  appendLE64(out, entry.stages.size());
  for (const StageInfo &s : entry.stages) {
    appendLE64(out, uint64_t(s.kind));
    appendLE64(out, s.firstOp);
    appendLE64(out, s.lastOp);
  }
  appendLengthPrefixed(out, entry.weights);
  appendLengthPrefixed(out, entry.object);
  return out;
}

bool unpackJitEntry(std::string_view payload, JitCacheEntry &entry) {
  auto bytes = reinterpret_cast<const unsigned char *>(payload.data());
  if (payload.size() < 8)
    return false;
  uint64_t count = loadLE64(bytes);
  size_t at = 8;
  if ((payload.size() - at) / 24 < count)
    return false;
  entry.stages.clear();
  for (uint64_t i = 0; i < count; ++i, at += 24) {
    uint64_t kind = loadLE64(bytes + at);
    if (kind > uint64_t(StageKind::Tiny))
      return false;
    entry.stages.push_back({StageKind(kind), size_t(loadLE64(bytes + at + 8)),
                            size_t(loadLE64(bytes + at + 16))});
  }
  return readLengthPrefixed(payload, at, entry.weights) &&
         readLengthPrefixed(payload, at, entry.object) &&
         at == payload.size() && !entry.object.empty();
}

} // namespace seqc::codegen::cpu
