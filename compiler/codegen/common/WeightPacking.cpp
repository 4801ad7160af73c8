//===- WeightPacking.cpp - Weight layouts and element types ---------------===//
//
// Part of seqc. Packing W [n, k] into a WeightLayout, and the element
// conversions, with the rounding the hardware's own conversions use (round
// to nearest even).
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/common/WeightPacking.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

namespace seqc::codegen {

unsigned elementBytes(ElementType type) {
  switch (type) {
  case ElementType::F32:
    return 4;
  case ElementType::BF16:
  case ElementType::F16:
    return 2;
  case ElementType::I8:
    return 1;
  }
  return 4;
}

const char *elementName(ElementType type) {
  switch (type) {
  case ElementType::F32:
    return "f32";
  case ElementType::BF16:
    return "bf16";
  case ElementType::F16:
    return "f16";
  case ElementType::I8:
    return "i8";
  }
  return "f32";
}

WeightLayout WeightLayout::panelsOf(uint64_t n, uint64_t k, uint64_t width,
                                    ElementType element, uint64_t kGroup) {
  assert(width > 0 && kGroup > 0 && "empty panels or k groups");
  return {.element = element,
          .n = n,
          .k = k,
          .panelWidth = width,
          .kGroup = kGroup,
          .kPadded = roundUp(k, kGroup),
          .panels = (n + width - 1) / width};
}

WeightLayout WeightLayout::rowsOf(uint64_t n, uint64_t k, uint64_t rowLength,
                                  uint64_t rows, ElementType element) {
  assert(rowLength >= k && rows >= n && "rows shorter than W's");
  return {.element = element,
          .n = n,
          .k = k,
          .panelWidth = 1,
          .kGroup = 1,
          .kPadded = rowLength,
          .panels = rows};
}

std::string WeightLayout::str() const {
  std::string text =
      panelWidth == 1
          ? fmt::format("{} rows x {}", panels, kPadded)
          : fmt::format("{} panels x {} x {}", panels, kPadded, panelWidth);
  if (element != ElementType::F32)
    text += fmt::format(", {}", elementName(element));
  if (kGroup > 1)
    text += fmt::format(", k groups of {}", kGroup);
  return text;
}

namespace {

/// Writes W into `out` as `Element`s, converted by `convert(value, o)`.
/// Row by row, with the index of each row's first element computed once:
/// large models pack hundreds of millions of weights.
template <typename Element, typename Convert>
void packAs(const float *weights, const WeightLayout &layout, void *out,
            Convert convert) {
  auto *dst = static_cast<Element *>(out);
  std::fill(dst, dst + layout.elements(), Element(0));
  uint64_t step = layout.panelWidth * layout.kGroup;
  for (uint64_t o = 0; o < layout.n; ++o) {
    const float *row = weights + o * layout.k;
    Element *first = dst + layout.index(o, 0);
    if (layout.kGroup == 1) {
      for (uint64_t kk = 0; kk < layout.k; ++kk)
        first[kk * step] = convert(row[kk], o);
      continue;
    }
    for (uint64_t kk = 0; kk < layout.k; ++kk)
      first[kk / layout.kGroup * step + kk % layout.kGroup] =
          convert(row[kk], o);
  }
}

} // namespace

void packWeights(const float *weights, const WeightLayout &layout, void *out,
                 const float *scales) {
  assert(layout.kPadded >= layout.k && layout.kPadded % layout.kGroup == 0 &&
         layout.panels * layout.panelWidth >= layout.n && "not a layout of W");
  switch (layout.element) {
  case ElementType::F32:
    packAs<float>(weights, layout, out, [](float v, uint64_t) { return v; });
    return;
  case ElementType::BF16:
    packAs<uint16_t>(weights, layout, out,
                     [](float v, uint64_t) { return floatToBf16(v); });
    return;
  case ElementType::F16:
    packAs<uint16_t>(weights, layout, out,
                     [](float v, uint64_t) { return floatToF16(v); });
    return;
  case ElementType::I8:
    assert(scales && "int8 weights need their scales");
    packAs<int8_t>(weights, layout, out, [&](float v, uint64_t o) {
      return floatToI8(v, scales[o]);
    });
    return;
  }
}

std::vector<float> symmetricScales(const float *weights, uint64_t n,
                                   uint64_t k) {
  std::vector<float> scales(n);
  for (uint64_t o = 0; o < n; ++o) {
    float largest = 0.0f;
    for (uint64_t kk = 0; kk < k; ++kk)
      largest = std::fmax(largest, std::fabs(weights[o * k + kk]));
    scales[o] = largest > 0.0f ? largest / 127.0f : 1.0f;
  }
  return scales;
}

uint16_t floatToBf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return static_cast<uint16_t>((bits >> 16) | 0x40u); // quiet NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

float bf16ToFloat(uint16_t bits) {
  uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &wide, 4);
  return value;
}

uint16_t floatToF16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const uint32_t abs = bits & 0x7fffffffu;
  if (abs > 0x7f800000u)
    return static_cast<uint16_t>(sign | 0x7e00u); // NaN
  if (abs >= 0x477ff000u)
    return static_cast<uint16_t>(sign | 0x7c00u); // rounds to infinity
  if (abs < 0x38800000u) {
    // Below the smallest normal half (2^-14): a multiple of 2^-24. Scaling
    // by 2^24 is exact, and nearbyint rounds to nearest even.
    float magnitude;
    std::memcpy(&magnitude, &abs, 4);
    auto units = static_cast<uint32_t>(std::nearbyint(magnitude * 16777216.0f));
    return static_cast<uint16_t>(sign | units);
  }
  uint32_t rounded = abs + 0xfffu + ((abs >> 13) & 1u);
  rounded -= 112u << 23; // exponent bias 127 -> 15
  return static_cast<uint16_t>(sign | (rounded >> 13));
}

float f16ToFloat(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1fu;
  const uint32_t mantissa = bits & 0x3ffu;
  float value;
  if (exponent == 0) {
    value = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -value : value;
  }
  uint32_t wide;
  if (exponent == 31)
    wide = sign | 0x7f800000u | (mantissa << 13);
  else
    wide = sign | ((exponent + 112u) << 23) | (mantissa << 13);
  std::memcpy(&value, &wide, 4);
  return value;
}

int8_t floatToI8(float value, float scale) {
  float q = value / scale;
  if (std::isnan(q))
    return 0;
  // Clamped first, so that the conversion never sees an infinity.
  q = std::clamp(q, -127.0f, 127.0f);
  return static_cast<int8_t>(std::nearbyint(q));
}

} // namespace seqc::codegen
