//===- WeightPacking.h - Weight layouts and element types -------*- C++ -*-===//
//
// Part of seqc. How a Dense layer's weight matrix W [n, k] (PyTorch's Linear
// layout: row o holds output o's k inputs) is laid out for a kernel: one
// description (element type, panel width, k grouping, padding), one function
// that packs W into it, the padding of per-output vectors such as biases,
// and the element conversions f32 -> bf16/f16 (round to nearest even) and
// f32 -> int8 (symmetric, a scale per output channel). Needs neither LLVM
// nor CUDA, so every backend can share it.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_CODEGEN_COMMON_WEIGHTPACKING_H
#define SEQC_CODEGEN_COMMON_WEIGHTPACKING_H

#include <cstdint>
#include <string>
#include <vector>

namespace seqc::codegen {

/// `value` rounded up to a multiple of `multiple` (> 0).
inline uint64_t roundUp(uint64_t value, uint64_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

/// What one packed weight is stored as.
enum class ElementType : uint8_t {
  F32,  ///< float, as trained
  BF16, ///< bfloat16, rounded to nearest even
  F16,  ///< IEEE half, rounded to nearest even
  I8,   ///< int8, W[o, kk] / scale[o] rounded to nearest even
};

/// Bytes of one element (4, 2, 2, 1).
unsigned elementBytes(ElementType type);
/// `f32`, `bf16`, `f16`, `i8`.
const char *elementName(ElementType type);

/// Where each element of W [n, k] is stored. Outputs are interleaved in
/// panels of `panelWidth`; within a panel, k advances in groups of `kGroup`
/// consecutive inputs, each output's group contiguous:
///
///   index(o, kk) = (o / panelWidth) * kPadded * panelWidth
///                + (kk / kGroup) * panelWidth * kGroup
///                + (o % panelWidth) * kGroup + kk % kGroup
///
/// - Panels of nr outputs with kGroup 1 are the CPU's broadcast-FMA layout,
///   packed[p][kk][j] = W[p * nr + j][kk]: one vector load per k-step.
/// - Panels of width 1 are rows: W with each row padded to kPadded (the
///   CPU's dot products, k across the lanes, and the CUDA kernels' tiles).
/// - kGroup 4 with I8 is what VNNI's vpdpbusd reads (4 products of one
///   output summed per 32-bit lane); kGroup 2 with BF16 is vdpbf16ps's.
/// Everything past W (inputs from k to kPadded, outputs from n to
/// panels * panelWidth) is zero.
struct WeightLayout {
  ElementType element = ElementType::F32;
  uint64_t n = 0;          ///< outputs (rows of W)
  uint64_t k = 0;          ///< inputs (columns of W)
  uint64_t panelWidth = 1; ///< outputs per panel
  uint64_t kGroup = 1;     ///< consecutive inputs of one output together
  uint64_t kPadded = 0;    ///< k padded: a multiple of kGroup, >= k
  uint64_t panels = 0;     ///< at least ceil(n / panelWidth)

  /// Panels of \p width outputs, k padded to whole groups only.
  static WeightLayout panelsOf(uint64_t n, uint64_t k, uint64_t width,
                               ElementType element = ElementType::F32,
                               uint64_t kGroup = 1);
  /// \p rows rows (>= n) of \p rowLength elements (>= k).
  static WeightLayout rowsOf(uint64_t n, uint64_t k, uint64_t rowLength,
                             uint64_t rows,
                             ElementType element = ElementType::F32);

  /// Index (in elements) of W[o][kk].
  uint64_t index(uint64_t o, uint64_t kk) const {
    return (o / panelWidth) * kPadded * panelWidth +
           (kk / kGroup) * panelWidth * kGroup + (o % panelWidth) * kGroup +
           kk % kGroup;
  }
  uint64_t elements() const { return panels * panelWidth * kPadded; }
  uint64_t bytes() const { return elements() * elementBytes(element); }
  /// `16 panels x 784 x 32`, or for rows `10 rows x 528`; other element
  /// types and k groups are named after it (`, bf16`, `, k groups of 4`).
  /// Part of the external weights' fingerprint, so it names everything the
  /// arrangement depends on.
  std::string str() const;
  bool operator==(const WeightLayout &other) const = default;
};

/// Packs \p weights (`layout.n` rows of `layout.k` floats) into \p out,
/// `layout.bytes()` bytes, zeros in the padding. I8 takes \p scales, one
/// per output (symmetricScales); the other types ignore them.
void packWeights(const float *weights, const WeightLayout &layout, void *out,
                 const float *scales = nullptr);

/// The int8 scale of each output channel: max |W[o, :]| / 127, so that
/// the row's largest weight maps to +-127; 1 for a row of zeros. NaN
/// weights are ignored (and pack as 0).
std::vector<float> symmetricScales(const float *weights, uint64_t n,
                                   uint64_t k);

/// \p values followed by \p fill up to \p length elements: a bias padded to
/// whole panels or vectors, whose padding the kernels load but never store.
template <typename T>
std::vector<T> padTo(const std::vector<T> &values, uint64_t length,
                     T fill = T()) {
  std::vector<T> out(values.begin(), values.end());
  if (out.size() < length)
    out.resize(length, fill);
  return out;
}

/// float -> bf16 / f16 bit patterns, round to nearest even, NaN kept
/// quiet; and back (exact).
uint16_t floatToBf16(float value);
uint16_t floatToF16(float value);
float bf16ToFloat(uint16_t bits);
float f16ToFloat(uint16_t bits);
/// value / scale rounded to nearest even and clamped to [-127, 127]; NaN
/// gives 0.
int8_t floatToI8(float value, float scale);

} // namespace seqc::codegen

#endif // SEQC_CODEGEN_COMMON_WEIGHTPACKING_H
