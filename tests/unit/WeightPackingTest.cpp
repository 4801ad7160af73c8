//===- WeightPackingTest.cpp - Weight layouts and element conversions -----===//
//
// Small weights packed into each kind of layout, checked against layouts
// written out by hand; the index formula against a brute-force walk; the
// bf16/f16/int8 conversions at their rounding ties and special values.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/common/WeightPacking.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <set>

using namespace seqc::codegen;

namespace {

/// packWeights into a new buffer of `Element`s.
template <typename Element>
std::vector<Element> pack(const std::vector<float> &w,
                          const WeightLayout &layout,
                          const std::vector<float> &scales = {}) {
  REQUIRE(layout.bytes() == layout.elements() * sizeof(Element));
  std::vector<Element> out(layout.elements(), Element(99));
  packWeights(w.data(), layout, out.data(),
              scales.empty() ? nullptr : scales.data());
  return out;
}

} // namespace

TEST_CASE("panels interleave the outputs of each k-step") {
  // W [3, 2] in panels of 2 outputs: packed[p][kk][j] = W[2p + j][kk], the
  // second panel's missing output zero.
  std::vector<float> w = {1, 2, 3, 4, 5, 6};
  WeightLayout layout = WeightLayout::panelsOf(3, 2, 2);
  CHECK(layout.panels == 2);
  CHECK(layout.kPadded == 2);
  CHECK(layout.str() == "2 panels x 2 x 2");
  CHECK(pack<float>(w, layout) ==
        std::vector<float>{1, 3, 2, 4, /**/ 5, 0, 6, 0});
}

TEST_CASE("rows are W padded to their length, and then to their count") {
  std::vector<float> w = {1, 2, 3, 4, 5, 6};
  WeightLayout layout = WeightLayout::rowsOf(2, 3, 4, 3);
  CHECK(layout.panelWidth == 1);
  CHECK(layout.str() == "3 rows x 4");
  CHECK(pack<float>(w, layout) ==
        std::vector<float>{1, 2, 3, 0, 4, 5, 6, 0, 0, 0, 0, 0});
}

TEST_CASE("int8 panels in k groups of 4, as VNNI reads them") {
  // Row 0 at scale 1, row 1 at scale 2; halves round to even, -150 clamps.
  std::vector<float> w = {127, -3, 2.5f, -2.5f, 1.4f, //
                          1,   3,  -300, 5,     -7};
  WeightLayout layout = WeightLayout::panelsOf(2, 5, 2, ElementType::I8, 4);
  CHECK(layout.kPadded == 8);
  CHECK(layout.panels == 1);
  CHECK(layout.bytes() == 16);
  CHECK(layout.str() == "1 panels x 8 x 2, i8, k groups of 4");
  // Group 0: output 0's k 0-3, output 1's k 0-3; group 1: k 4 and zeros.
  CHECK(pack<int8_t>(w, layout, {1.0f, 2.0f}) ==
        std::vector<int8_t>{127, -3, 2, -2, 0, 2, -127, 2, //
                            1, 0, 0, 0, -4, 0, 0, 0});
}

TEST_CASE("bf16 panels in k pairs") {
  std::vector<float> w = {1.0f, -2.0f, 1.00390625f};
  WeightLayout layout = WeightLayout::panelsOf(1, 3, 2, ElementType::BF16, 2);
  CHECK(layout.str() == "1 panels x 4 x 2, bf16, k groups of 2");
  // 1.00390625 is halfway between 1 and the next bf16: even, so 1.
  CHECK(pack<uint16_t>(w, layout) ==
        std::vector<uint16_t>{0x3f80, 0xc000, 0, 0, 0x3f80, 0, 0, 0});
}

TEST_CASE("f16 rows") {
  std::vector<float> w = {1.0f, 65504.0f, -INFINITY, 5.9604645e-8f};
  WeightLayout layout = WeightLayout::rowsOf(2, 2, 2, 2, ElementType::F16);
  CHECK(layout.str() == "2 rows x 2, f16");
  CHECK(pack<uint16_t>(w, layout) ==
        std::vector<uint16_t>{0x3c00, 0x7bff, 0xfc00, 0x0001});
}

TEST_CASE("every element of W has its own place, inside the layout") {
  for (ElementType type : {ElementType::F32, ElementType::I8})
    for (uint64_t width : {1u, 3u, 16u})
      for (uint64_t group : {1u, 2u, 4u})
        for (auto [n, k] :
             {std::pair<uint64_t, uint64_t>{1, 1}, {5, 7}, {17, 4}, {16, 9}}) {
          WeightLayout layout =
              WeightLayout::panelsOf(n, k, width, type, group);
          INFO(layout.str() << " for W [" << n << ", " << k << "]");
          std::set<uint64_t> seen;
          for (uint64_t o = 0; o < n; ++o)
            for (uint64_t kk = 0; kk < k; ++kk) {
              uint64_t at = layout.index(o, kk);
              CHECK(at < layout.elements());
              CHECK(seen.insert(at).second);
            }
          // Packing W = 1..n*k puts each value at its index, zeros elsewhere.
          std::vector<float> w(n * k);
          for (uint64_t i = 0; i < w.size(); ++i)
            w[i] = static_cast<float>(i % 100 + 1);
          std::vector<float> unit(n, 1.0f);
          std::vector<int8_t> q;
          std::vector<float> f;
          if (type == ElementType::I8)
            q = pack<int8_t>(w, layout, unit);
          else
            f = pack<float>(w, layout);
          for (uint64_t at = 0; at < layout.elements(); ++at) {
            float got = type == ElementType::I8 ? q[at] : f[at];
            if (!seen.count(at))
              CHECK(got == 0.0f);
          }
          for (uint64_t o = 0; o < n; ++o)
            for (uint64_t kk = 0; kk < k; ++kk) {
              uint64_t at = layout.index(o, kk);
              float got = type == ElementType::I8 ? q[at] : f[at];
              CHECK(got == w[o * k + kk]);
            }
        }
}

TEST_CASE("symmetric int8 scales map each row's largest weight to 127") {
  std::vector<float> w = {0, 0, 1, -254, NAN, 63.5f};
  CHECK(symmetricScales(w.data(), 3, 2) == std::vector<float>{1, 2, 0.5f});
  CHECK(floatToI8(NAN, 1.0f) == 0);
  CHECK(floatToI8(INFINITY, 1.0f) == 127);
  CHECK(floatToI8(-1000.0f, 2.0f) == -127);
  CHECK(floatToI8(-0.5f, 1.0f) == 0);
  CHECK(floatToI8(1.5f, 1.0f) == 2);
}

TEST_CASE("biases are padded with the fill value") {
  CHECK(padTo(std::vector<float>{1, 2, 3}, 5) ==
        std::vector<float>{1, 2, 3, 0, 0});
  CHECK(padTo(std::vector<double>{}, 2, 1.0) == std::vector<double>{1, 1});
  CHECK(padTo(std::vector<float>{1, 2}, 2) == std::vector<float>{1, 2});
  CHECK(roundUp(10, 16) == 16);
  CHECK(roundUp(32, 16) == 32);
}

TEST_CASE("bf16 and f16 round to nearest even and keep NaN") {
  CHECK(floatToBf16(1.0f) == 0x3f80);
  CHECK(floatToBf16(-2.0f) == 0xc000);
  CHECK(floatToBf16(1.01171875f) == 0x3f82); // halfway: up to even
  CHECK(std::isnan(bf16ToFloat(floatToBf16(NAN))));
  CHECK(bf16ToFloat(floatToBf16(INFINITY)) == INFINITY);
  CHECK(floatToF16(65520.0f) == 0x7c00);              // rounds to infinity
  CHECK(floatToF16(1.0f + 1.0f / 2048.0f) == 0x3c00); // tie to even
  CHECK(floatToF16(3.0f * 5.9604645e-8f / 2.0f) == 0x0002); // subnormal tie
  CHECK(std::isnan(f16ToFloat(floatToF16(NAN))));
  for (float v : {0.5f, -3.25f, 1024.0f, 6.1035156e-5f, 5.9604645e-8f})
    CHECK(f16ToFloat(floatToF16(v)) == v);
  CHECK(std::signbit(f16ToFloat(floatToF16(-0.0f))));
}
