//===- JitCache.h - What the JIT keeps in the object cache ------*- C++ -*-===//
//
// Part of seqc. The JIT's entries in the persistent object cache
// (support/ObjectCache.h, docs/cache.md): the key that names a model's
// compiled code, and the entry that lets JitModel::create skip building and
// compiling it (the object file, the stages of PREFIX_run and, for external
// weights, the blob the code reads).
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_CODEGEN_CPU_JITCACHE_H
#define SEQC_CODEGEN_CPU_JITCACHE_H

#include "compiler/codegen/cpu/CpuBackend.h"
#include "compiler/support/Sha256.h"

#include <string>
#include <string_view>
#include <vector>

namespace seqc::codegen::cpu {

/// The key of the code the JIT compiles for \p model with \p opts on the
/// resolved target (\p triple, \p cpu, \p features): a SHA-256 of the
/// cache format, seqc's build id and LLVM's (version and library), the
/// target, every option that reaches the code, the fused model (its IR
/// text and every op field, floats by their bits) and every weight's bytes.
Sha256Digest jitCacheKey(const ir::Model &model, const CpuTargetOptions &opts,
                         const std::string &triple, const std::string &cpu,
                         const std::vector<std::string> &features);

/// One cached JIT compilation.
struct JitCacheEntry {
  std::string object;
  std::vector<StageInfo> stages;
  /// External weights: the contents of PREFIX.weights; else empty.
  std::string weights;
};

/// The entry as the cache's payload.
std::string packJitEntry(const JitCacheEntry &entry);
/// Parses a payload packJitEntry made; false when it is not one.
bool unpackJitEntry(std::string_view payload, JitCacheEntry &entry);

} // namespace seqc::codegen::cpu

#endif // SEQC_CODEGEN_CPU_JITCACHE_H
