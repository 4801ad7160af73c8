//===- Limits.h - Hard limits on what seqc accepts --------------*- C++ -*-===//
//
// Part of seqc. Every input is treated as hostile; these bounds keep memory,
// time and recursion finite. They are documented in docs/limits.md.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_SUPPORT_LIMITS_H
#define SEQC_SUPPORT_LIMITS_H

#include <cstdint>

namespace seqc::limits {

/// Largest size of a .nn file.
inline constexpr uint64_t kMaxSourceBytes = 16ull << 20;
/// Deepest nesting of brackets and calls in a .nn file.
inline constexpr unsigned kMaxNestingDepth = 64;
/// Deepest chain of model references (Net uses Body uses Block ...).
inline constexpr unsigned kMaxModelDepth = 64;
/// Most layers in one model after nested Sequentials are flattened.
inline constexpr uint64_t kMaxLayers = 4096;
/// Largest feature size of any layer.
inline constexpr int64_t kMaxFeatures = 1ll << 24;
/// Most parameters (elements) in one model: 4 Gi floats = 16 GiB.
inline constexpr uint64_t kMaxParamElements = 1ull << 32;
/// Largest safetensors JSON header (the format's own loader uses 100 MB).
inline constexpr uint64_t kMaxSafetensorsHeader = 100'000'000;
/// Most elements in one inline weight literal.
inline constexpr uint64_t kMaxLiteralElements = 1ull << 22;
/// Most expression nodes a .nn file's evaluation may evaluate in list
/// comprehensions or copy (list repeats, uses of names).
inline constexpr uint64_t kMaxEvalSteps = 1ull << 22;
/// Most layer calls a .nn file's evaluation may make (comprehensions
/// included); each makes a module.
inline constexpr uint64_t kMaxLayerCalls = 65536;
/// Largest batch accepted by `seqc run` and the generated code.
inline constexpr uint64_t kMaxBatch = 1ull << 31;

} // namespace seqc::limits

#endif // SEQC_SUPPORT_LIMITS_H
