//===- HostEmulation.h - Run emitted CUDA kernels on the CPU ----*- C++ -*-===//
//
// Part of seqc's tests. Included before a source emitted by the CUDA backend
// (which then skips its `#ifndef SEQC_HOST_EMULATION` helpers), it lets the
// kernels compile as host C++ and run one std::thread per CUDA thread, with
// real barriers for __syncthreads/__syncwarp and lane-exact emulation of
// __shfl_xor_sync, mma.sync m16n8k16 and ldmatrix. Slow, but it checks the
// index arithmetic, fragment layouts, padding and guards of every kernel on
// a machine without a GPU. Compile with -fno-strict-aliasing -pthread.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_TESTS_CUDA_HOSTEMULATION_H
#define SEQC_TESTS_CUDA_HOSTEMULATION_H

#define SEQC_HOST_EMULATION 1

#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <thread>
#include <vector>

#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __restrict__ __restrict
#define __align__(n) alignas(n)

using std::isnan;

struct alignas(16) float4 {
  float x, y, z, w;
};
struct alignas(8) float2 {
  float x, y;
};
struct alignas(16) uint4 {
  unsigned x, y, z, w;
};
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
};
inline float4 make_float4(float x, float y, float z, float w) {
  return {x, y, z, w};
}
inline float2 make_float2(float x, float y) { return {x, y}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) {
  return {x, y, z, w};
}
inline float __int_as_float(int v) {
  float f;
  std::memcpy(&f, &v, 4);
  return f;
}
inline float __uint_as_float(unsigned v) {
  float f;
  std::memcpy(&f, &v, 4);
  return f;
}
#define SEQC_INFINITY (std::numeric_limits<float>::infinity())

namespace seqc_emu {

/// What the lanes of one warp exchange in a collective operation.
struct LaneSlot {
  float value;
  unsigned a[4];
  unsigned b[2];
  const unsigned short *address;
};

struct Block {
  explicit Block(unsigned threads)
      : all(threads), warps(threads / 32), slots(threads) {
    for (unsigned w = 0; w < threads / 32; ++w)
      warps[w] = std::make_unique<std::barrier<>>(32);
  }
  std::barrier<> all;
  std::vector<std::unique_ptr<std::barrier<>>> warps;
  std::vector<LaneSlot> slots;
  std::vector<unsigned char> shared;
};

struct Thread {
  dim3 thread, block3, blockSize, gridSize;
  Block *block = nullptr;
  unsigned lane = 0, warp = 0;
};

inline thread_local Thread self;

inline void warpSync() { self.block->warps[self.warp]->arrive_and_wait(); }
inline LaneSlot &slot(unsigned lane) {
  return self.block->slots[self.warp * 32 + lane];
}

} // namespace seqc_emu

#define threadIdx (seqc_emu::self.thread)
#define blockIdx (seqc_emu::self.block3)
#define blockDim (seqc_emu::self.blockSize)
#define gridDim (seqc_emu::self.gridSize)

inline void __syncthreads() { seqc_emu::self.block->all.arrive_and_wait(); }
inline void __syncwarp(unsigned = 0xffffffffu) { seqc_emu::warpSync(); }

inline float __shfl_xor_sync(unsigned, float v, int offset) {
  using namespace seqc_emu;
  slot(self.lane).value = v;
  warpSync();
  float r = slot(self.lane ^ static_cast<unsigned>(offset)).value;
  warpSync();
  return r;
}

inline unsigned char *seqc_shared_memory() {
  return seqc_emu::self.block->shared.data();
}

namespace seqc_emu {
inline uint16_t toBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return 0x7fff;
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
inline uint16_t toF16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u, abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u)
    return 0x7fff;
  if (abs >= 0x477ff000u)
    return static_cast<uint16_t>(sign | 0x7c00u);
  if (abs < 0x38800000u) {
    float m;
    std::memcpy(&m, &abs, 4);
    return static_cast<uint16_t>(
        sign | static_cast<uint32_t>(std::nearbyint(m * 16777216.0f)));
  }
  uint32_t r = abs + 0xfffu + ((abs >> 13) & 1u) - (112u << 23);
  return static_cast<uint16_t>(sign | (r >> 13));
}
inline float fromBf16(uint16_t v) {
  uint32_t u = static_cast<uint32_t>(v) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline float fromF16(uint16_t v) {
  const uint32_t sign = static_cast<uint32_t>(v & 0x8000u) << 16;
  const uint32_t e = (v >> 10) & 0x1fu, m = v & 0x3ffu;
  if (e == 0) {
    float f = std::ldexp(static_cast<float>(m), -24);
    return sign ? -f : f;
  }
  uint32_t u = e == 31 ? (sign | 0x7f800000u | (m << 13))
                       : (sign | ((e + 112u) << 23) | (m << 13));
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
template <bool BF16> float widen(uint16_t v) {
  return BF16 ? fromBf16(v) : fromF16(v);
}
} // namespace seqc_emu

template <bool BF16> inline unsigned seqc_pack2(float lo, float hi) {
  using namespace seqc_emu;
  uint16_t l = BF16 ? toBf16(lo) : toF16(lo), h = BF16 ? toBf16(hi) : toF16(hi);
  return static_cast<unsigned>(l) | (static_cast<unsigned>(h) << 16);
}

template <bool BF16> inline float seqc_widen(unsigned short v) {
  return seqc_emu::widen<BF16>(v);
}

/// mma.sync.m16n8k16.row.col with fp32 accumulation, lane-exact.
template <bool BF16>
inline void seqc_mma(float (&d)[4], const unsigned (&a)[4], unsigned b0,
                     unsigned b1) {
  using namespace seqc_emu;
  LaneSlot &mine = slot(self.lane);
  std::memcpy(mine.a, a, sizeof mine.a);
  mine.b[0] = b0;
  mine.b[1] = b1;
  warpSync();
  auto elem = [](unsigned word, int half) {
    return widen<BF16>(static_cast<uint16_t>(half ? word >> 16 : word));
  };
  // A[r][k] and B[k][n] from the lanes that hold them.
  auto A = [&](int r, int k) {
    int lane = (r % 8) * 4 + (k % 8) / 2;
    int reg = (r >= 8 ? 1 : 0) + (k >= 8 ? 2 : 0);
    return elem(slot(lane).a[reg], k % 2);
  };
  auto B = [&](int k, int n) {
    int lane = n * 4 + (k % 8) / 2;
    return elem(slot(lane).b[k >= 8 ? 1 : 0], k % 2);
  };
  const int g = static_cast<int>(self.lane >> 2),
            q = static_cast<int>(self.lane & 3);
  float out[4];
  for (int i = 0; i < 4; ++i) {
    int r = g + (i >= 2 ? 8 : 0), n = 2 * q + (i & 1);
    float sum = d[i];
    for (int k = 0; k < 16; ++k)
      sum += A(r, k) * B(k, n);
    out[i] = sum;
  }
  warpSync();
  std::memcpy(d, out, sizeof out);
}

/// ldmatrix.sync.aligned.m8n8.x4.shared.b16, lane-exact.
inline void seqc_ldmatrix_x4(unsigned (&r)[4], const unsigned short *p) {
  using namespace seqc_emu;
  slot(self.lane).address = p;
  warpSync();
  for (int i = 0; i < 4; ++i) {
    const unsigned short *row = slot(i * 8 + self.lane / 4).address;
    std::memcpy(&r[i], row + 2 * (self.lane % 4), 4);
  }
  warpSync();
}

namespace seqc_emu {

using Kernel = void (*)(const float *, float *, const unsigned char *,
                        long long);

/// Runs \p kernel on a (gridX, gridY) grid of `threads`-thread blocks, one
/// block after the other. Shared memory starts filled with NaN bytes so a
/// read of something never written shows up in the results.
inline void launch(Kernel kernel, unsigned gridX, unsigned gridY,
                   unsigned threads, unsigned sharedBytes, const float *x,
                   float *y, const unsigned char *params, long long batch) {
  for (unsigned by = 0; by < gridY; ++by)
    for (unsigned bx = 0; bx < gridX; ++bx) {
      Block block(threads);
      block.shared.assign(sharedBytes + 16, 0xff);
      std::vector<std::thread> pool;
      pool.reserve(threads);
      for (unsigned t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
          self.thread = {t, 0, 0};
          self.block3 = {bx, by, 0};
          self.blockSize = {threads, 1, 1};
          self.gridSize = {gridX, gridY, 1};
          self.block = &block;
          self.lane = t % 32;
          self.warp = t / 32;
          kernel(x, y, params, batch);
          block.all.arrive_and_drop();
          block.warps[t / 32]->arrive_and_drop();
        });
      for (std::thread &th : pool)
        th.join();
    }
}

} // namespace seqc_emu

#endif // SEQC_TESTS_CUDA_HOSTEMULATION_H
