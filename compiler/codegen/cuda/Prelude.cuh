//===-- seqc prelude: device helpers (self-contained, no includes) -------===//

#ifndef SEQC_HOST_EMULATION
#define SEQC_INFINITY __int_as_float(0x7f800000)

/// The dynamic shared memory of the block.
__device__ __forceinline__ unsigned char *seqc_shared_memory() {
  extern __shared__ __align__(16) unsigned char seqc_smem[];
  return seqc_smem;
}

/// Two floats rounded to nearest-even into a bf16x2 / f16x2 register; `lo`
/// goes to the low half (the lower column of an mma fragment).
template <bool BF16>
__device__ __forceinline__ unsigned seqc_pack2(float lo, float hi) {
  unsigned r;
  if constexpr (BF16)
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
  else
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}

/// One 16-bit float (bit pattern) widened to float.
template <bool BF16>
__device__ __forceinline__ float seqc_widen(unsigned short v) {
  if constexpr (BF16)
    return __uint_as_float(((unsigned)v) << 16);
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(v));
  return f;
}

/// d += a * b on tensor cores: a 16x16 (row-major) times b 16x8
/// (column-major) with fp32 accumulation, m16n8k16.
template <bool BF16>
__device__ __forceinline__ void seqc_mma(float (&d)[4], const unsigned (&a)[4],
                                         unsigned b0, unsigned b1) {
  if constexpr (BF16)
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                 "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0),
                   "r"(b1));
  else
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
                 "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0),
                   "r"(b1));
}

/// Four 8x8 matrices of 16-bit elements from shared memory: lane l passes
/// the address of row (l % 8) of matrix (l / 8) and receives, in r[i], the
/// two elements (row l / 4, columns 2 (l % 4) and 2 (l % 4) + 1) of matrix i.
__device__ __forceinline__ void seqc_ldmatrix_x4(unsigned (&r)[4],
                                                 const unsigned short *p) {
  unsigned address = (unsigned)__cvta_generic_to_shared(p);
  asm volatile(
      "ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
      : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
      : "r"(address));
}
#endif // SEQC_HOST_EMULATION

/// Max as std::max(a, b) spells it (a < b ? b : a), so NaN handling matches
/// the reference interpreter.
__device__ __forceinline__ float seqc_max(float a, float b) {
  return a < b ? b : a;
}

__device__ __forceinline__ float seqc_warp_sum(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1)
    v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

__device__ __forceinline__ float seqc_warp_max(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1)
    v = seqc_max(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

/// Sum and max over the four lanes of a quad (the lanes holding one row of
/// an mma fragment).
__device__ __forceinline__ float seqc_quad_sum(float v) {
  v += __shfl_xor_sync(0xffffffffu, v, 1);
  v += __shfl_xor_sync(0xffffffffu, v, 2);
  return v;
}

__device__ __forceinline__ float seqc_quad_max(float v) {
  v = seqc_max(v, __shfl_xor_sync(0xffffffffu, v, 1));
  v = seqc_max(v, __shfl_xor_sync(0xffffffffu, v, 2));
  return v;
}

/// The identity activation.
struct seqc_act_none {
  __device__ __forceinline__ float operator()(float v) const { return v; }
};

//===-- Row operations: one warp owns one row of N features --------------===//

/// out = softmax(in) (or log_softmax) over the row; in may equal out.
template <int N, bool LOG>
__device__ __forceinline__ void seqc_row_softmax(const float *in, float *out,
                                                 int lane) {
  float m = -SEQC_INFINITY;
  for (int c = lane; c < N; c += 32)
    m = seqc_max(m, in[c]);
  m = seqc_warp_max(m);
  float s = 0.0f;
  for (int c = lane; c < N; c += 32)
    s += expf(in[c] - m);
  s = seqc_warp_sum(s);
  const float logS = logf(s);
  for (int c = lane; c < N; c += 32)
    out[c] = LOG ? (in[c] - m) - logS : expf(in[c] - m) / s;
}

/// out = LayerNorm(in) * w + b over the row (biased variance, two passes).
template <int N, bool WEIGHT, bool BIAS>
__device__ __forceinline__ void
seqc_row_layernorm(const float *in, float *out, const float *w,
                   const float *b, float eps, int lane) {
  float s = 0.0f;
  for (int c = lane; c < N; c += 32)
    s += in[c];
  const float mean = seqc_warp_sum(s) / (float)N;
  float v = 0.0f;
  for (int c = lane; c < N; c += 32) {
    const float d = in[c] - mean;
    v += d * d;
  }
  const float inv = 1.0f / sqrtf(seqc_warp_sum(v) / (float)N + eps);
  for (int c = lane; c < N; c += 32) {
    float r = (in[c] - mean) * inv;
    if (WEIGHT)
      r *= w[c];
    if (BIAS)
      r += b[c];
    out[c] = r;
  }
}

/// out = in * scale + shift per feature.
template <int N, bool SHIFT>
__device__ __forceinline__ void seqc_row_affine(const float *in, float *out,
                                                const float *scale,
                                                const float *shift, int lane) {
  for (int c = lane; c < N; c += 32)
    out[c] = SHIFT ? in[c] * scale[c] + shift[c] : in[c] * scale[c];
}

/// out = act(in) over the row.
template <int N, class Act>
__device__ __forceinline__ void seqc_row_act(const float *in, float *out,
                                             Act act, int lane) {
  for (int c = lane; c < N; c += 32)
    out[c] = act(in[c]);
}

/// Copies a row and writes zeros into the padding columns N..LD-1.
template <int N, int LD>
__device__ __forceinline__ void seqc_row_copy(const float *in, float *out,
                                              int lane) {
  for (int c = lane; c < LD; c += 32)
    out[c] = c < N ? in[c] : 0.0f;
}

//===-- Fused whole-network kernel, fp32 ---------------------------------===//
// A block owns R rows at a time, held in shared memory with a leading
// dimension LD (odd, so rows start in different banks); weights are in
// shared memory for the whole kernel.

/// Loads R rows of K features (zeros past the batch) into buf.
template <int R, int K, int LD>
__device__ __forceinline__ void seqc_block_load_rows(float *buf,
                                                     const float *x,
                                                     long long row0,
                                                     long long batch) {
  for (int i = threadIdx.x; i < R * K; i += blockDim.x) {
    const int r = i / K, c = i - r * K;
    const long long row = row0 + r;
    buf[r * LD + c] = row < batch ? x[row * K + c] : 0.0f;
  }
}

/// Stores the rows of buf that exist to y.
template <int R, int N, int LD>
__device__ __forceinline__ void seqc_block_store_rows(const float *buf,
                                                      float *y,
                                                      long long row0,
                                                      long long batch) {
  for (int i = threadIdx.x; i < R * N; i += blockDim.x) {
    const int r = i / N, c = i - r * N;
    const long long row = row0 + r;
    if (row < batch)
      y[row * N + c] = buf[r * LD + c];
  }
}

/// out[R][N] = act(in[R][K] * W^T + b). wt is W transposed, [K][NP] with
/// NP = NC * RN zero-padded columns; each thread computes RM rows x RN
/// columns (columns cg, cg + NC, ... so that neighbouring threads read
/// neighbouring weights).
template <int R, int K, int N, int NP, int LDI, int LDO, int RM, int RN,
          bool BIAS, class Act>
__device__ __forceinline__ void
seqc_block_dense_f32(const float *in, float *out, const float *wt,
                     const float *bias, Act act) {
  constexpr int NC = NP / RN;
  constexpr int RG = R / RM;
  for (int task = threadIdx.x; task < RG * NC; task += blockDim.x) {
    const int rg = task / NC, cg = task - rg * NC;
    const float *a = in + rg * RM * LDI;
    float acc[RM][RN];
#pragma unroll
    for (int j = 0; j < RN; ++j) {
      const float b = BIAS ? bias[cg + j * NC] : 0.0f;
#pragma unroll
      for (int i = 0; i < RM; ++i)
        acc[i][j] = b;
    }
#pragma unroll 4
    for (int k = 0; k < K; ++k) {
      float av[RM], wv[RN];
#pragma unroll
      for (int i = 0; i < RM; ++i)
        av[i] = a[i * LDI + k];
#pragma unroll
      for (int j = 0; j < RN; ++j)
        wv[j] = wt[k * NP + cg + j * NC];
#pragma unroll
      for (int i = 0; i < RM; ++i)
#pragma unroll
        for (int j = 0; j < RN; ++j)
          acc[i][j] = fmaf(av[i], wv[j], acc[i][j]);
    }
#pragma unroll
    for (int i = 0; i < RM; ++i)
#pragma unroll
      for (int j = 0; j < RN; ++j) {
        const int c = cg + j * NC;
        if (c < N)
          out[(rg * RM + i) * LDO + c] = act(acc[i][j]);
      }
  }
}

/// In-place row operations over the block's R rows, one warp per row.
template <int R, int N, int LD, bool LOG>
__device__ __forceinline__ void seqc_block_softmax(float *buf) {
  const int lane = threadIdx.x & 31;
  for (int r = threadIdx.x >> 5; r < R; r += blockDim.x >> 5)
    seqc_row_softmax<N, LOG>(buf + r * LD, buf + r * LD, lane);
}

template <int R, int N, int LD, bool WEIGHT, bool BIAS>
__device__ __forceinline__ void seqc_block_layernorm(float *buf,
                                                     const float *w,
                                                     const float *b,
                                                     float eps) {
  const int lane = threadIdx.x & 31;
  for (int r = threadIdx.x >> 5; r < R; r += blockDim.x >> 5)
    seqc_row_layernorm<N, WEIGHT, BIAS>(buf + r * LD, buf + r * LD, w, b, eps,
                                        lane);
}

template <int R, int N, int LD, bool SHIFT>
__device__ __forceinline__ void
seqc_block_affine(float *buf, const float *scale, const float *shift) {
  for (int i = threadIdx.x; i < R * N; i += blockDim.x) {
    const int r = i / N, c = i - r * N;
    const float v = buf[r * LD + c] * scale[c];
    buf[r * LD + c] = SHIFT ? v + shift[c] : v;
  }
}

template <int R, int N, int LD, class Act>
__device__ __forceinline__ void seqc_block_act(float *buf, Act act) {
  for (int i = threadIdx.x; i < R * N; i += blockDim.x) {
    const int r = i / N, c = i - r * N;
    buf[r * LD + c] = act(buf[r * LD + c]);
  }
}

//===-- Fused whole-network kernel, tensor cores -------------------------===//
// A warp owns 16 rows. Activations stay in registers in the layout of an
// m16n8 accumulator: h[t][0..3] of lane (g = lane / 4, q = lane % 4) holds
// rows g and g + 8, columns 8t + 2q and 8t + 2q + 1. That layout is, pair by
// pair, the A operand of the next layer's mma, so layers chain without
// touching memory. Weights are [NP][LDW] 16-bit in shared memory.

/// Loads 16 rows of K features into fragments (zeros past K and the batch).
template <int K, int KP>
__device__ __forceinline__ void seqc_warp_load_rows(float (&h)[KP / 8][4],
                                                    const float *x,
                                                    long long row0,
                                                    long long batch,
                                                    int lane) {
  const int g = lane >> 2, q = lane & 3;
  const long long r0 = row0 + g, r1 = row0 + g + 8;
#pragma unroll
  for (int t = 0; t < KP / 8; ++t)
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int c = t * 8 + 2 * q + e;
      h[t][e] = (r0 < batch && c < K) ? x[r0 * K + c] : 0.0f;
      h[t][2 + e] = (r1 < batch && c < K) ? x[r1 * K + c] : 0.0f;
    }
}

/// Stores the fragments' rows that exist (N columns) to y.
template <int N, int NP>
__device__ __forceinline__ void seqc_warp_store_rows(const float (&h)[NP / 8][4],
                                                     float *y, long long row0,
                                                     long long batch,
                                                     int lane) {
  const int g = lane >> 2, q = lane & 3;
  const long long r0 = row0 + g, r1 = row0 + g + 8;
#pragma unroll
  for (int t = 0; t < NP / 8; ++t)
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int c = t * 8 + 2 * q + e;
      if (c < N && r0 < batch)
        y[r0 * N + c] = h[t][e];
      if (c < N && r1 < batch)
        y[r1 * N + c] = h[t][2 + e];
    }
}

/// acc = h * W^T for 16 rows: K valid input columns (the rest are treated
/// as 0 even if they hold act(0) or NaN), NP outputs.
template <int K, int KP, int NP, int LDW, bool BF16>
__device__ __forceinline__ void
seqc_warp_dense_mma(const float (&h)[KP / 8][4], float (&acc)[NP / 8][4],
                    const unsigned short *w, int lane) {
  const int g = lane >> 2, q = lane & 3;
  unsigned a[KP / 16][4];
#pragma unroll
  for (int j = 0; j < KP / 16; ++j) {
    const int c0 = j * 16 + 2 * q, c1 = c0 + 8;
    a[j][0] = seqc_pack2<BF16>(c0 < K ? h[2 * j][0] : 0.0f,
                               c0 + 1 < K ? h[2 * j][1] : 0.0f);
    a[j][1] = seqc_pack2<BF16>(c0 < K ? h[2 * j][2] : 0.0f,
                               c0 + 1 < K ? h[2 * j][3] : 0.0f);
    a[j][2] = seqc_pack2<BF16>(c1 < K ? h[2 * j + 1][0] : 0.0f,
                               c1 + 1 < K ? h[2 * j + 1][1] : 0.0f);
    a[j][3] = seqc_pack2<BF16>(c1 < K ? h[2 * j + 1][2] : 0.0f,
                               c1 + 1 < K ? h[2 * j + 1][3] : 0.0f);
  }
#pragma unroll
  for (int t = 0; t < NP / 8; ++t)
    acc[t][0] = acc[t][1] = acc[t][2] = acc[t][3] = 0.0f;
#pragma unroll
  for (int j = 0; j < KP / 16; ++j)
#pragma unroll
    for (int t = 0; t < NP / 8; ++t) {
      const unsigned *wp = reinterpret_cast<const unsigned *>(
          w + (t * 8 + g) * LDW + j * 16 + 2 * q);
      seqc_mma<BF16>(acc[t], a[j], wp[0], wp[4]);
    }
}

/// h = act(h + b) on the N valid columns.
template <int N, int NP, bool BIAS, class Act>
__device__ __forceinline__ void seqc_frag_bias_act(float (&h)[NP / 8][4],
                                                   const float *bias, Act act,
                                                   int lane) {
  const int q = lane & 3;
#pragma unroll
  for (int t = 0; t < NP / 8; ++t)
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int c = t * 8 + 2 * q + e;
      if (c < N) {
        const float b = BIAS ? bias[c] : 0.0f;
        h[t][e] = act(h[t][e] + b);
        h[t][2 + e] = act(h[t][2 + e] + b);
      }
    }
}

/// h = h * scale + shift on the N valid columns.
template <int N, int NP, bool SHIFT>
__device__ __forceinline__ void seqc_frag_affine(float (&h)[NP / 8][4],
                                                 const float *scale,
                                                 const float *shift,
                                                 int lane) {
  const int q = lane & 3;
#pragma unroll
  for (int t = 0; t < NP / 8; ++t)
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int c = t * 8 + 2 * q + e;
      if (c < N) {
        h[t][e] = h[t][e] * scale[c] + (SHIFT ? shift[c] : 0.0f);
        h[t][2 + e] = h[t][2 + e] * scale[c] + (SHIFT ? shift[c] : 0.0f);
      }
    }
}

/// Softmax / log-softmax of both rows a lane holds, over N columns.
template <int N, int NP, bool LOG>
__device__ __forceinline__ void seqc_frag_softmax(float (&h)[NP / 8][4],
                                                  int lane) {
  const int q = lane & 3;
  float m0 = -SEQC_INFINITY, m1 = -SEQC_INFINITY;
#pragma unroll
  for (int t = 0; t < NP / 8; ++t)
#pragma unroll
    for (int e = 0; e < 2; ++e)
      if (t * 8 + 2 * q + e < N) {
        m0 = seqc_max(m0, h[t][e]);
        m1 = seqc_max(m1, h[t][2 + e]);
      }
  m0 = seqc_quad_max(m0);
  m1 = seqc_quad_max(m1);
  float s0 = 0.0f, s1 = 0.0f;
#pragma unroll
  for (int t = 0; t < NP / 8; ++t)
#pragma unroll
    for (int e = 0; e < 2; ++e)
      if (t * 8 + 2 * q + e < N) {
        s0 += expf(h[t][e] - m0);
        s1 += expf(h[t][2 + e] - m1);
      }
  s0 = seqc_quad_sum(s0);
  s1 = seqc_quad_sum(s1);
  const float l0 = logf(s0), l1 = logf(s1);
#pragma unroll
  for (int t = 0; t < NP / 8; ++t)
#pragma unroll
    for (int e = 0; e < 2; ++e)
      if (t * 8 + 2 * q + e < N) {
        h[t][e] = LOG ? (h[t][e] - m0) - l0 : expf(h[t][e] - m0) / s0;
        h[t][2 + e] = LOG ? (h[t][2 + e] - m1) - l1 : expf(h[t][2 + e] - m1) / s1;
      }
}

/// LayerNorm of both rows a lane holds, over N columns.
template <int N, int NP, bool WEIGHT, bool BIAS>
__device__ __forceinline__ void
seqc_frag_layernorm(float (&h)[NP / 8][4], const float *w, const float *b,
                    float eps, int lane) {
  const int q = lane & 3;
  float s0 = 0.0f, s1 = 0.0f;
#pragma unroll
  for (int t = 0; t < NP / 8; ++t)
#pragma unroll
    for (int e = 0; e < 2; ++e)
      if (t * 8 + 2 * q + e < N) {
        s0 += h[t][e];
        s1 += h[t][2 + e];
      }
  const float mean0 = seqc_quad_sum(s0) / (float)N;
  const float mean1 = seqc_quad_sum(s1) / (float)N;
  float v0 = 0.0f, v1 = 0.0f;
#pragma unroll
  for (int t = 0; t < NP / 8; ++t)
#pragma unroll
    for (int e = 0; e < 2; ++e)
      if (t * 8 + 2 * q + e < N) {
        const float d0 = h[t][e] - mean0, d1 = h[t][2 + e] - mean1;
        v0 += d0 * d0;
        v1 += d1 * d1;
      }
  const float inv0 = 1.0f / sqrtf(seqc_quad_sum(v0) / (float)N + eps);
  const float inv1 = 1.0f / sqrtf(seqc_quad_sum(v1) / (float)N + eps);
#pragma unroll
  for (int t = 0; t < NP / 8; ++t)
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int c = t * 8 + 2 * q + e;
      if (c < N) {
        float r0 = (h[t][e] - mean0) * inv0, r1 = (h[t][2 + e] - mean1) * inv1;
        if (WEIGHT) {
          r0 *= w[c];
          r1 *= w[c];
        }
        if (BIAS) {
          r0 += b[c];
          r1 += b[c];
        }
        h[t][e] = r0;
        h[t][2 + e] = r1;
      }
    }
}

//===-- Per-layer kernels for wide layers --------------------------------===//
// Activations between layers are fp32 [batch, LD] buffers whose padding
// columns hold zeros. XMODE says how the layer reads its input:
// 0 = 16-byte vectors, no column guard (a padded buffer, or LDX % 4 == 0
// with K == LDX); 1 = one float at a time, guarded by K.

/// Four input floats at column k of row `row` (zeros past K or the batch).
template <int K, int LDX, int XMODE>
__device__ __forceinline__ float4 seqc_load_x4(const float *x, long long row,
                                               long long batch, int k) {
  if (row >= batch)
    return make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  const float *p = x + row * LDX + k;
  if constexpr (XMODE == 0)
    return k < LDX ? *reinterpret_cast<const float4 *>(p)
                   : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  return make_float4(k < K ? p[0] : 0.0f, k + 1 < K ? p[1] : 0.0f,
                     k + 2 < K ? p[2] : 0.0f, k + 3 < K ? p[3] : 0.0f);
}

/// Epilogue store of 2 or 4 neighbouring outputs, zeros in padding columns.
template <int N, int LDY, int V, bool BIAS, class Act>
__device__ __forceinline__ void seqc_store_out(float *y, long long row, int c,
                                               const float *acc,
                                               const float *bias, Act act) {
  float v[V];
#pragma unroll
  for (int e = 0; e < V; ++e)
    v[e] = c + e < N ? act(acc[e] + (BIAS ? bias[c + e] : 0.0f)) : 0.0f;
  float *p = y + row * LDY + c;
  if constexpr (LDY % V == 0 && V == 4) {
    if (c < LDY)
      *reinterpret_cast<float4 *>(p) = make_float4(v[0], v[1], v[2], v[3]);
  } else if constexpr (LDY % V == 0 && V == 2) {
    if (c < LDY)
      *reinterpret_cast<float2 *>(p) = make_float2(v[0], v[1]);
  } else {
#pragma unroll
    for (int e = 0; e < V; ++e)
      if (c + e < LDY)
        p[e] = v[e];
  }
}

/// y = act(x W^T + b), fp32 FMA. A block of 256 threads computes a 128x128
/// tile (each thread 8x8: rows 4ty..4ty+3 and 64+4ty.., columns likewise),
/// stepping K by 8 through double-buffered shared memory. w is [NP][KP].
template <int K, int KP, int LDX, int XMODE, int N, int LDY, bool BIAS,
          class Act>
__device__ __forceinline__ void seqc_gemm_f32(const float *x, float *y,
                                              const float *w,
                                              const float *bias,
                                              long long batch, Act act) {
  constexpr int LDS = 128 + 4;
  float *as = reinterpret_cast<float *>(seqc_shared_memory()); // [2][8][LDS]
  float *bs = as + 2 * 8 * LDS;                                // [2][8][LDS]
  const int tid = threadIdx.x, ty = tid >> 4, tx = tid & 15;
  const long long m0 = (long long)blockIdx.x * 128;
  const int n0 = blockIdx.y * 128;
  // Loader: thread tid brings row tid/2, columns (tid%2)*4 .. +3 of a step.
  const int lr = tid >> 1, lk = (tid & 1) * 4;
  const float *wrow = w + (long long)(n0 + lr) * KP + lk;
  float4 ra, rb;
  auto load = [&](int k0) {
    ra = seqc_load_x4<K, LDX, XMODE>(x, m0 + lr, batch, k0 + lk);
    rb = *reinterpret_cast<const float4 *>(wrow + k0);
  };
  auto store = [&](int buf) {
    float *a = as + buf * 8 * LDS, *b = bs + buf * 8 * LDS;
    a[(lk + 0) * LDS + lr] = ra.x;
    a[(lk + 1) * LDS + lr] = ra.y;
    a[(lk + 2) * LDS + lr] = ra.z;
    a[(lk + 3) * LDS + lr] = ra.w;
    b[(lk + 0) * LDS + lr] = rb.x;
    b[(lk + 1) * LDS + lr] = rb.y;
    b[(lk + 2) * LDS + lr] = rb.z;
    b[(lk + 3) * LDS + lr] = rb.w;
  };
  float acc[8][8];
#pragma unroll
  for (int i = 0; i < 8; ++i)
#pragma unroll
    for (int j = 0; j < 8; ++j)
      acc[i][j] = 0.0f;
  constexpr int steps = KP / 8;
  load(0);
  store(0);
  __syncthreads();
  for (int s = 0; s < steps; ++s) {
    const int cur = s & 1;
    if (s + 1 < steps)
      load((s + 1) * 8);
    const float *a = as + cur * 8 * LDS, *b = bs + cur * 8 * LDS;
#pragma unroll
    for (int kk = 0; kk < 8; ++kk) {
      const float4 a0 = *reinterpret_cast<const float4 *>(a + kk * LDS + 4 * ty);
      const float4 a1 =
          *reinterpret_cast<const float4 *>(a + kk * LDS + 64 + 4 * ty);
      const float4 b0 = *reinterpret_cast<const float4 *>(b + kk * LDS + 4 * tx);
      const float4 b1 =
          *reinterpret_cast<const float4 *>(b + kk * LDS + 64 + 4 * tx);
      const float av[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
      const float bv[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j)
          acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
    if (s + 1 < steps)
      store(cur ^ 1);
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const long long row = m0 + (i < 4 ? 4 * ty + i : 64 + 4 * ty + i - 4);
    if (row >= batch)
      continue;
    seqc_store_out<N, LDY, 4, BIAS>(y, row, n0 + 4 * tx, acc[i], bias, act);
    seqc_store_out<N, LDY, 4, BIAS>(y, row, n0 + 64 + 4 * tx, acc[i] + 4, bias,
                                    act);
  }
}

/// y = act(x W^T + b) on tensor cores (bf16 or f16 weights and inputs,
/// fp32 accumulation). A block of 256 threads (8 warps as 2 x 4, each 64x32)
/// computes a 128x128 tile, stepping K by 32 through double-buffered shared
/// memory (rows padded to 40 elements: conflict-free ldmatrix). w is
/// [NP][KP] 16-bit.
template <int K, int KP, int LDX, int XMODE, int N, int LDY, bool BIAS,
          bool BF16, class Act>
__device__ __forceinline__ void seqc_gemm_mma(const float *x, float *y,
                                              const unsigned short *w,
                                              const float *bias,
                                              long long batch, Act act) {
  constexpr int LDS = 32 + 8;
  unsigned short *as =
      reinterpret_cast<unsigned short *>(seqc_shared_memory()); // [2][128][LDS]
  unsigned short *bs = as + 2 * 128 * LDS;                      // [2][128][LDS]
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int wm = warp >> 2, wn = warp & 3, g = lane >> 2, q = lane & 3;
  const long long m0 = (long long)blockIdx.x * 128;
  const int n0 = blockIdx.y * 128;
  // Loader: thread tid brings row tid/2, columns (tid%2)*16 .. +15 of a step.
  const int lr = tid >> 1, lk = (tid & 1) * 16;
  const unsigned short *wrow = w + (long long)(n0 + lr) * KP + lk;
  unsigned ra[8];
  uint4 rb0, rb1;
  auto load = [&](int k0) {
#pragma unroll
    for (int v = 0; v < 4; ++v) {
      const float4 f = seqc_load_x4<K, LDX, XMODE>(x, m0 + lr, batch,
                                                   k0 + lk + 4 * v);
      ra[2 * v] = seqc_pack2<BF16>(f.x, f.y);
      ra[2 * v + 1] = seqc_pack2<BF16>(f.z, f.w);
    }
    rb0 = *reinterpret_cast<const uint4 *>(wrow + k0);
    rb1 = *reinterpret_cast<const uint4 *>(wrow + k0 + 8);
  };
  auto store = [&](int buf) {
    unsigned short *a = as + (buf * 128 + lr) * LDS + lk;
    unsigned short *b = bs + (buf * 128 + lr) * LDS + lk;
    reinterpret_cast<uint4 *>(a)[0] = make_uint4(ra[0], ra[1], ra[2], ra[3]);
    reinterpret_cast<uint4 *>(a)[1] = make_uint4(ra[4], ra[5], ra[6], ra[7]);
    reinterpret_cast<uint4 *>(b)[0] = rb0;
    reinterpret_cast<uint4 *>(b)[1] = rb1;
  };
  float acc[4][4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
      acc[i][j][0] = acc[i][j][1] = acc[i][j][2] = acc[i][j][3] = 0.0f;
  constexpr int steps = KP / 32;
  load(0);
  store(0);
  __syncthreads();
  for (int s = 0; s < steps; ++s) {
    const int cur = s & 1;
    if (s + 1 < steps)
      load((s + 1) * 32);
    const unsigned short *a = as + cur * 128 * LDS;
    const unsigned short *b = bs + cur * 128 * LDS;
#pragma unroll
    for (int ks = 0; ks < 2; ++ks) {
      unsigned af[4][4], bf[2][4];
#pragma unroll
      for (int i = 0; i < 4; ++i)
        seqc_ldmatrix_x4(af[i], a + (wm * 64 + i * 16 + (lane & 15)) * LDS +
                                    ks * 16 + (lane >> 4) * 8);
#pragma unroll
      for (int j = 0; j < 2; ++j)
        seqc_ldmatrix_x4(bf[j], b + (wn * 32 + j * 16 + (lane & 7) +
                                     ((lane >> 4) << 3)) * LDS +
                                    ks * 16 + ((lane >> 3) & 1) * 8);
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j)
          seqc_mma<BF16>(acc[i][j], af[i], bf[j >> 1][(j & 1) * 2],
                         bf[j >> 1][(j & 1) * 2 + 1]);
    }
    if (s + 1 < steps)
      store(cur ^ 1);
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const long long r0 = m0 + wm * 64 + i * 16 + g;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int c = n0 + wn * 32 + j * 8 + 2 * q;
      if (r0 < batch)
        seqc_store_out<N, LDY, 2, BIAS>(y, r0, c, acc[i][j], bias, act);
      if (r0 + 8 < batch)
        seqc_store_out<N, LDY, 2, BIAS>(y, r0 + 8, c, acc[i][j] + 2, bias, act);
    }
  }
}

/// Weight element loads for the skinny kernel: V consecutive weights.
template <int WT, int V>
__device__ __forceinline__ void seqc_load_w(float (&out)[V], const void *w,
                                            long long index) {
  if constexpr (WT == 0) {
    const float4 *p =
        reinterpret_cast<const float4 *>(static_cast<const float *>(w) + index);
#pragma unroll
    for (int v = 0; v < V / 4; ++v) {
      const float4 f = p[v];
      out[4 * v] = f.x;
      out[4 * v + 1] = f.y;
      out[4 * v + 2] = f.z;
      out[4 * v + 3] = f.w;
    }
  } else {
    const unsigned short *p = static_cast<const unsigned short *>(w) + index;
    const uint4 u = *reinterpret_cast<const uint4 *>(p);
    const unsigned words[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
    for (int v = 0; v < V / 2; ++v) {
      out[2 * v] = seqc_widen<WT == 1>((unsigned short)(words[v] & 0xffffu));
      out[2 * v + 1] = seqc_widen<WT == 1>((unsigned short)(words[v] >> 16));
    }
  }
}

/// y = act(x W^T + b) for small batches, 16 rows per block in x (memory
/// bound: every weight is read once per 16 rows). A warp computes two output
/// columns for its block's rows; a block of 4 warps covers 8 columns. WT: 0
/// fp32, 1 bf16, 2 f16 weights.
template <int K, int KP, int LDX, int XMODE, int N, int LDY, bool BIAS, int WT,
          class Act>
__device__ __forceinline__ void seqc_gemv(const float *x, float *y,
                                          const void *w, const float *bias,
                                          long long batch, Act act) {
  constexpr int V = WT == 0 ? 4 : 8; // weights per lane per step
  const long long r0 = (long long)blockIdx.x * 16;
  x += r0 * LDX;
  y += r0 * LDY;
  batch -= r0;
  const int lane = threadIdx.x & 31;
  const int n = (blockIdx.y * 4 + (threadIdx.x >> 5)) * 2;
  const int rows = batch < 16 ? (int)batch : 16;
  float acc[2][16];
#pragma unroll
  for (int r = 0; r < 16; ++r)
    acc[0][r] = acc[1][r] = 0.0f;
  for (int k = lane * V; k < KP; k += 32 * V) {
    float w0[V], w1[V];
    seqc_load_w<WT, V>(w0, w, (long long)n * KP + k);
    seqc_load_w<WT, V>(w1, w, (long long)(n + 1) * KP + k);
#pragma unroll
    for (int r = 0; r < 16; ++r) {
      if (r < rows) {
#pragma unroll
        for (int v = 0; v < V / 4; ++v) {
          const float4 xv = seqc_load_x4<K, LDX, XMODE>(x, r, batch, k + 4 * v);
          acc[0][r] += xv.x * w0[4 * v] + xv.y * w0[4 * v + 1] +
                       xv.z * w0[4 * v + 2] + xv.w * w0[4 * v + 3];
          acc[1][r] += xv.x * w1[4 * v] + xv.y * w1[4 * v + 1] +
                       xv.z * w1[4 * v + 2] + xv.w * w1[4 * v + 3];
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < 16; ++r) {
    if (r < rows) {
      const float s0 = seqc_warp_sum(acc[0][r]);
      const float s1 = seqc_warp_sum(acc[1][r]);
      if (lane == 0) {
        const float pair[2] = {s0, s1};
#pragma unroll
        for (int e = 0; e < 2; ++e)
          if (n + e < LDY)
            y[(long long)r * LDY + n + e] =
                n + e < N ? act(pair[e] + (BIAS ? bias[n + e] : 0.0f)) : 0.0f;
      }
    }
  }
}

//===-- End of prelude; the model's kernels follow -----------------------===//
