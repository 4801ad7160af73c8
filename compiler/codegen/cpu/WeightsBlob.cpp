//===- WeightsBlob.cpp - The contents of an external weights file ---------===//
//
// Part of seqc. See WeightsBlob.h.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cpu/WeightsBlob.h"

#include <fmt/format.h>

#include <cassert>
#include <cstring>

namespace seqc::codegen::cpu {

namespace {

/// FNV-1a, 64 bits.
uint64_t fnv1a(const std::string &text) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

uint64_t alignUp(uint64_t v) {
  return (v + WeightsBlob::kAlign - 1) / WeightsBlob::kAlign *
         WeightsBlob::kAlign;
}

/// Zeros for the gaps between arrays (each shorter than 64 bytes).
constexpr char kZeros[WeightsBlob::kAlign] = {};

} // namespace

WeightsBlob::WeightsBlob() = default;

char *WeightsBlob::append(uint64_t bytes, const std::string &what,
                          uint64_t &offset) {
  assert(!isSealed && "adding to a sealed weights blob");
  offset = alignUp(end);
  // Value-initialised: zeros, so that padding inside an array is 0.
  arrays.push_back({offset, bytes, std::make_unique<char[]>(bytes)});
  end = offset + bytes;
  layout += fmt::format("{} @{} +{}\n", what, offset, bytes);
  return arrays.back().data.get();
}

uint64_t WeightsBlob::add(const void *src, uint64_t bytes,
                          const std::string &what) {
  uint64_t offset;
  char *dst = append(bytes, what, offset);
  if (bytes)
    std::memcpy(dst, src, bytes);
  return offset;
}

uint64_t WeightsBlob::size() const { return alignUp(end); }

void WeightsBlob::seal(const std::string &identity) {
  assert(!isSealed && "weights blob sealed twice");
  // Never 0, so that a zeroed buffer does not pass for any model's.
  print = fnv1a(identity + "\n" + layout) | 1;
  uint64_t fields[3] = {kMagic, print, size()};
  static_assert(kFingerprintOffset == 8 && kSizeOffset == 16);
  // Host byte order: the backend refuses external weights for targets
  // whose byte order differs.
  std::memcpy(header.data(), fields, sizeof fields);
  isSealed = true;
}

std::vector<std::string_view> WeightsBlob::pieces() const {
  std::vector<std::string_view> out;
  out.emplace_back(header.data(), header.size());
  uint64_t at = kHeaderBytes;
  for (const Array &a : arrays) {
    out.emplace_back(kZeros, a.offset - at);
    out.emplace_back(a.data.get(), a.bytes);
    at = a.offset + a.bytes;
  }
  out.emplace_back(kZeros, size() - at);
  return out;
}

void WeightsBlob::moveTo(char *dst) {
  std::memcpy(dst, header.data(), header.size());
  uint64_t at = kHeaderBytes;
  for (Array &a : arrays) {
    std::memset(dst + at, 0, a.offset - at);
    if (a.bytes)
      std::memcpy(dst + a.offset, a.data.get(), a.bytes);
    a.data.reset();
    at = a.offset + a.bytes;
  }
  std::memset(dst + at, 0, size() - at);
  arrays.clear();
}

std::string WeightsBlob::str() const {
  std::string out;
  out.reserve(size());
  for (std::string_view piece : pieces())
    out.append(piece);
  return out;
}

} // namespace seqc::codegen::cpu
