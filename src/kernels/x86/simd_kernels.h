// Width-generic SIMD row kernels (dequantize_row, dot_row, dot_f32, axpy_f32, gemm_f32) on top of
// the block decoders of x86/simd_decode.h; same inclusion rules (per-ISA files only, V in an
// anonymous namespace).
#pragma once
#include <cstdint>
#include <utility>

#include "core/error.h"
#include "core/ggml_type.h"
#include "kernels/kernels.h"
#include "kernels/x86/simd_decode.h"

namespace kvpress::kernels::simd {

// Calls decode(block, sink) for every block of a row of the given block type.
template <class V, class Block, class Decode>
inline void dequantize_blocks(const void* src, float* dst, int64_t n, int block_len, Decode decode) {
  const auto* b = static_cast<const Block*>(src);
  for (int64_t i = 0; i < n / block_len; ++i) {
    float* out = dst + i * block_len;
    decode(b[i], [out](int off, typename V::F v) { V::store(out + off, v); });
  }
}

// Fused decode + FMA. Two blocks are in flight with four accumulators each, so that the FMA latency
// chain does not bound the loop (offsets are compile-time constants once the decoders unroll).
template <class V, class Block, class Decode>
inline float dot_blocks(const void* row, const float* x, int64_t n, int block_len, Decode decode) {
  using F = typename V::F;
  const auto* b = static_cast<const Block*>(row);
  const int64_t nb = n / block_len;
  F acc[8];
  for (auto& a : acc) a = V::zero();
  int64_t i = 0;
  for (; i + 2 <= nb; i += 2) {
    const float* x0 = x + i * block_len;
    const float* x1 = x0 + block_len;
    decode(b[i], [&](int off, F v) {
      F& a = acc[(off / V::kLanes) & 3];
      a = V::fmadd(v, V::load(x0 + off), a);
    });
    decode(b[i + 1], [&](int off, F v) {
      F& a = acc[4 + ((off / V::kLanes) & 3)];
      a = V::fmadd(v, V::load(x1 + off), a);
    });
  }
  if (i < nb) {
    const float* x0 = x + i * block_len;
    decode(b[i], [&](int off, F v) {
      F& a = acc[(off / V::kLanes) & 3];
      a = V::fmadd(v, V::load(x0 + off), a);
    });
  }
  const F s = V::add(V::add(V::add(acc[0], acc[1]), V::add(acc[2], acc[3])),
                     V::add(V::add(acc[4], acc[5]), V::add(acc[6], acc[7])));
  return V::hsum(s);
}

template <class V>
float dot_f32(const float* a, const float* b, int64_t n) {
  constexpr int L = V::kLanes;
  auto s0 = V::zero(), s1 = V::zero(), s2 = V::zero(), s3 = V::zero();
  int64_t i = 0;
  for (; i + 4 * L <= n; i += 4 * L) {
    s0 = V::fmadd(V::load(a + i), V::load(b + i), s0);
    s1 = V::fmadd(V::load(a + i + L), V::load(b + i + L), s1);
    s2 = V::fmadd(V::load(a + i + 2 * L), V::load(b + i + 2 * L), s2);
    s3 = V::fmadd(V::load(a + i + 3 * L), V::load(b + i + 3 * L), s3);
  }
  for (; i + L <= n; i += L) s0 = V::fmadd(V::load(a + i), V::load(b + i), s0);
  float sum = V::hsum(V::add(V::add(s0, s1), V::add(s2, s3)));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

template <class V>
void axpy_f32(float a, const float* x, float* y, int64_t n) {
  constexpr int L = V::kLanes;
  const auto va = V::set1(a);
  int64_t i = 0;
  for (; i + 2 * L <= n; i += 2 * L) {
    V::store(y + i, V::fmadd(va, V::load(x + i), V::load(y + i)));
    V::store(y + i + L, V::fmadd(va, V::load(x + i + L), V::load(y + i + L)));
  }
  for (; i + L <= n; i += L) V::store(y + i, V::fmadd(va, V::load(x + i), V::load(y + i)));
  for (; i < n; ++i) y[i] += a * x[i];
}

// 16-bit float rows: whole vectors, then an exact scalar tail.
template <class V, bool kBf16>
inline typename V::F load_half_vec(const uint16_t* p) {
  if constexpr (kBf16) return V::load_bf16(p);
  else return V::load_f16(p);
}

template <class V, bool kBf16>
inline float half_to_f32(uint16_t h) {
  if constexpr (kBf16) {
    const uint32_t bits = (uint32_t)h << 16;
    float f;
    __builtin_memcpy(&f, &bits, 4);
    return f;
  } else {
    return V::h2f(h);
  }
}

template <class V, bool kBf16>
void dequantize_halves(const void* src, float* dst, int64_t n) {
  const auto* p = static_cast<const uint16_t*>(src);
  int64_t i = 0;
  for (; i + V::kLanes <= n; i += V::kLanes) V::store(dst + i, load_half_vec<V, kBf16>(p + i));
  for (; i < n; ++i) dst[i] = half_to_f32<V, kBf16>(p[i]);
}

template <class V, bool kBf16>
float dot_halves(const void* row, const float* x, int64_t n) {
  constexpr int L = V::kLanes;
  const auto* p = static_cast<const uint16_t*>(row);
  auto s0 = V::zero(), s1 = V::zero(), s2 = V::zero(), s3 = V::zero();
  int64_t i = 0;
  for (; i + 4 * L <= n; i += 4 * L) {
    s0 = V::fmadd(load_half_vec<V, kBf16>(p + i), V::load(x + i), s0);
    s1 = V::fmadd(load_half_vec<V, kBf16>(p + i + L), V::load(x + i + L), s1);
    s2 = V::fmadd(load_half_vec<V, kBf16>(p + i + 2 * L), V::load(x + i + 2 * L), s2);
    s3 = V::fmadd(load_half_vec<V, kBf16>(p + i + 3 * L), V::load(x + i + 3 * L), s3);
  }
  for (; i + L <= n; i += L) s0 = V::fmadd(load_half_vec<V, kBf16>(p + i), V::load(x + i), s0);
  float sum = V::hsum(V::add(V::add(s0, s1), V::add(s2, s3)));
  for (; i < n; ++i) sum += half_to_f32<V, kBf16>(p[i]) * x[i];
  return sum;
}

// A generic lambda decoder(block, sink) for one of the decode_* templates above.
#define KVPRESS_SIMD_DECODER(V, fn_name) [](const auto& blk, auto&& sink) { fn_name<V>(blk, sink); }

template <class V>
void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n) {
  switch (type) {
    case GgmlType::F32: {
      const auto* s = static_cast<const float*>(src);
      int64_t i = 0;
      for (; i + V::kLanes <= n; i += V::kLanes) V::store(dst + i, V::load(s + i));
      for (; i < n; ++i) dst[i] = s[i];
      return;
    }
    case GgmlType::F16: return dequantize_halves<V, false>(src, dst, n);
    case GgmlType::BF16: return dequantize_halves<V, true>(src, dst, n);
    case GgmlType::Q4_0: return dequantize_blocks<V, BlockQ4_0>(src, dst, n, kQK, KVPRESS_SIMD_DECODER(V, decode_q4_0));
    case GgmlType::Q4_1: return dequantize_blocks<V, BlockQ4_1>(src, dst, n, kQK, KVPRESS_SIMD_DECODER(V, decode_q4_1));
    case GgmlType::Q5_0: return dequantize_blocks<V, BlockQ5_0>(src, dst, n, kQK, KVPRESS_SIMD_DECODER(V, decode_q5_0));
    case GgmlType::Q5_1: return dequantize_blocks<V, BlockQ5_1>(src, dst, n, kQK, KVPRESS_SIMD_DECODER(V, decode_q5_1));
    case GgmlType::Q8_0: return dequantize_blocks<V, BlockQ8_0>(src, dst, n, kQK, KVPRESS_SIMD_DECODER(V, decode_q8_0));
    case GgmlType::Q2_K: return dequantize_blocks<V, BlockQ2_K>(src, dst, n, kQKK, KVPRESS_SIMD_DECODER(V, decode_q2_k));
    case GgmlType::Q3_K: return dequantize_blocks<V, BlockQ3_K>(src, dst, n, kQKK, KVPRESS_SIMD_DECODER(V, decode_q3_k));
    case GgmlType::Q4_K: return dequantize_blocks<V, BlockQ4_K>(src, dst, n, kQKK, KVPRESS_SIMD_DECODER(V, decode_q4_k));
    case GgmlType::Q5_K: return dequantize_blocks<V, BlockQ5_K>(src, dst, n, kQKK, KVPRESS_SIMD_DECODER(V, decode_q5_k));
    case GgmlType::Q6_K: return dequantize_blocks<V, BlockQ6_K>(src, dst, n, kQKK, KVPRESS_SIMD_DECODER(V, decode_q6_k));
    default: break;
  }
  KV_CHECK(false && "dequantize_row: unsupported weight type");  // callers validate types first
}

template <class V>
float dot_row(GgmlType type, const void* row, const float* x, int64_t n) {
  switch (type) {
    case GgmlType::F32: return dot_f32<V>(static_cast<const float*>(row), x, n);
    case GgmlType::F16: return dot_halves<V, false>(row, x, n);
    case GgmlType::BF16: return dot_halves<V, true>(row, x, n);
    case GgmlType::Q4_0: return dot_blocks<V, BlockQ4_0>(row, x, n, kQK, KVPRESS_SIMD_DECODER(V, decode_q4_0));
    case GgmlType::Q4_1: return dot_blocks<V, BlockQ4_1>(row, x, n, kQK, KVPRESS_SIMD_DECODER(V, decode_q4_1));
    case GgmlType::Q5_0: return dot_blocks<V, BlockQ5_0>(row, x, n, kQK, KVPRESS_SIMD_DECODER(V, decode_q5_0));
    case GgmlType::Q5_1: return dot_blocks<V, BlockQ5_1>(row, x, n, kQK, KVPRESS_SIMD_DECODER(V, decode_q5_1));
    case GgmlType::Q8_0: return dot_blocks<V, BlockQ8_0>(row, x, n, kQK, KVPRESS_SIMD_DECODER(V, decode_q8_0));
    case GgmlType::Q2_K: return dot_blocks<V, BlockQ2_K>(row, x, n, kQKK, KVPRESS_SIMD_DECODER(V, decode_q2_k));
    case GgmlType::Q3_K: return dot_blocks<V, BlockQ3_K>(row, x, n, kQKK, KVPRESS_SIMD_DECODER(V, decode_q3_k));
    case GgmlType::Q4_K: return dot_blocks<V, BlockQ4_K>(row, x, n, kQKK, KVPRESS_SIMD_DECODER(V, decode_q4_k));
    case GgmlType::Q5_K: return dot_blocks<V, BlockQ5_K>(row, x, n, kQKK, KVPRESS_SIMD_DECODER(V, decode_q5_k));
    case GgmlType::Q6_K: return dot_blocks<V, BlockQ6_K>(row, x, n, kQKK, KVPRESS_SIMD_DECODER(V, decode_q6_k));
    default: break;
  }
  KV_CHECK(false && "dot_row: unsupported weight type");
  __builtin_unreachable();
}

#undef KVPRESS_SIMD_DECODER

// Prefill micro-kernel: MR rows x NV vectors of tokens, accumulators in registers for the whole k
// run. Activations come transposed (bt[i * ldb + t]) so one vector load serves kLanes tokens and
// each weight is a broadcast; every output is a plain sequential FMA chain over i.
template <class V, int MR, int NV>
void gemm_tile(const float* a, int64_t lda, const float* bt, int64_t ldb, float* c, int64_t ldc, int64_t k,
               bool accumulate) {
  using F = typename V::F;
  constexpr int L = V::kLanes;
  F acc[MR][NV];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = accumulate ? V::load(c + r * ldc + v * L) : V::zero();
  const float* rows[MR];
  for (int r = 0; r < MR; ++r) rows[r] = a + r * lda;
  for (int64_t i = 0; i < k; ++i) {
    F bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = V::load(bt + i * ldb + v * L);
    for (int r = 0; r < MR; ++r) {
      const F w = V::set1(rows[r][i]);
      for (int v = 0; v < NV; ++v) acc[r][v] = V::fmadd(w, bv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) V::store(c + r * ldc + v * L, acc[r][v]);
}

using GemmTileFn = void (*)(const float*, int64_t, const float*, int64_t, float*, int64_t, int64_t, bool);

template <class V, int NV, int... R>
constexpr GemmTileFn gemm_tile_for_rows(int rows, std::integer_sequence<int, R...>) {
  constexpr GemmTileFn table[] = {&gemm_tile<V, R + 1, NV>...};
  return table[rows - 1];
}

template <class V>
void gemm_f32(const float* a, int64_t lda, int64_t m, const float* bt, int64_t ldb, int64_t n_tok, float* c,
              int64_t ldc, int64_t k, bool accumulate) {
  constexpr int kRows = V::kGemmRows;
  constexpr int kWide = V::kGemmVecs * V::kLanes;
  static_assert(kGemmTokenPad % V::kLanes == 0);
  const int64_t n_pad = (n_tok + kGemmTokenPad - 1) / kGemmTokenPad * kGemmTokenPad;
  using Seq = std::make_integer_sequence<int, kRows>;
  for (int64_t t0 = 0; t0 < n_pad; t0 += kWide) {
    const bool full = t0 + kWide <= n_pad;  // otherwise a narrower tile of the remaining vectors
    for (int64_t r0 = 0; r0 < m; r0 += kRows) {
      const int rows = (int)(m - r0 < kRows ? m - r0 : kRows);
      const GemmTileFn tile = full ? gemm_tile_for_rows<V, V::kGemmVecs>(rows, Seq{})
                                   : gemm_tile_for_rows<V, V::kGemmTailVecs>(rows, Seq{});
      tile(a + r0 * lda, lda, bt + t0, ldb, c + r0 * ldc + t0, ldc, k, accumulate);
    }
  }
}

// dot_rows_f32 with P dimensions per query in each vector: lane l holds query l / P, dimension
// i + l % P, so m <= kLanes / P queries fill the lanes and one FMA per key advances P dimensions.
// The P partial sums of a query are added at the end. Eight keys are in flight: two FMA pipes times
// four cycles of FMA latency.
template <class V, int P>
void dot_rows_packed(const float* q, int64_t m, const float* k, int64_t n, int64_t d, float* out, int64_t ldo) {
  constexpr int L = V::kLanes;
  constexpr int kKeys = 8;
  using F = typename V::F;
  const int64_t n_steps = d / P;
  alignas(64) float packed[256 * L / P];  // [n_steps, L]; callers keep d <= 256
  for (int64_t s = 0; s < n_steps; ++s)
    for (int l = 0; l < L; ++l) packed[s * L + l] = l / P < m ? q[(l / P) * d + s * P + l % P] : 0.0f;
  alignas(64) float lanes[kKeys][L];
  auto finish = [&](int64_t j, const float* acc) {
    for (int64_t r = 0; r < m; ++r) {
      float sum = 0.0f;
      for (int t = 0; t < P; ++t) sum += acc[r * P + t];
      out[r * ldo + j] = sum;
    }
  };
  int64_t j = 0;
  for (; j + kKeys <= n; j += kKeys) {
    F acc[kKeys];
    for (auto& a : acc) a = V::zero();
    for (int64_t s = 0; s < n_steps; ++s) {
      const F qv = V::load(packed + s * L);
      for (int u = 0; u < kKeys; ++u) acc[u] = V::fmadd(V::template broadcast_group<P>(k + (j + u) * d + s * P), qv, acc[u]);
    }
    for (int u = 0; u < kKeys; ++u) {
      V::store(lanes[u], acc[u]);
      finish(j + u, lanes[u]);
    }
  }
  for (; j < n; ++j) {
    F acc = V::zero();
    for (int64_t s = 0; s < n_steps; ++s)
      acc = V::fmadd(V::template broadcast_group<P>(k + j * d + s * P), V::load(packed + s * L), acc);
    V::store(lanes[0], acc);
    finish(j, lanes[0]);
  }
}

template <class V>
void dot_rows_f32(const float* q, int64_t m, const float* k, int64_t n, int64_t d, float* out, int64_t ldo) {
  constexpr int L = V::kLanes;
  // Dimensions per query and vector: as many as the lanes the queries leave (a power of two
  // dividing d); rows beyond one vector, or heads wider than 256, take one dot product per pair.
  int p = 1;
  while (p < L && m * p * 2 <= L && d % (p * 2) == 0) p *= 2;
  if (m > L || d > 256) {
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = 0; j < n; ++j) out[r * ldo + j] = dot_f32<V>(q + r * d, k + j * d, d);
    return;
  }
  switch (p) {
    case 1: return dot_rows_packed<V, 1>(q, m, k, n, d, out, ldo);
    case 2: return dot_rows_packed<V, 2>(q, m, k, n, d, out, ldo);
    case 4: return dot_rows_packed<V, 4>(q, m, k, n, d, out, ldo);
    default: break;
  }
  if constexpr (L >= 8)
    if (p == 8) return dot_rows_packed<V, 8>(q, m, k, n, d, out, ldo);
  if constexpr (L >= 16)
    if (p == 16) return dot_rows_packed<V, 16>(q, m, k, n, d, out, ldo);
}

}  // namespace kvpress::kernels::simd
