// The int8 prefill tile (KernelSet::gemm_q8) for AVX-512 VNNI: a register tile of RM weight rows x
// RN vectors of 16 tokens. Per 4 elements, one vpdpbusd multiplies a broadcast dword of a row's codes
// (signed) with the 16 tokens' packed activation bytes (x + 128, unsigned) into 16 int32 lanes; after
// each 32-element block the lanes, less 128 x the block's code sum, are converted once and scaled by
// the row's d times each token's d. 64 multiply-adds per instruction against 16 for an f32 FMA.
// Include only from kernels_avx512.cpp (internal linkage, as simd_int8.h).
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/kernels.h"

namespace kvpress::kernels::simd {
namespace {

template <int RM, int RN>
inline void gemm_q8_tile(const int8_t* w, int64_t lda, const float* wd, const int32_t* wsum, int64_t ldd,
                         const uint8_t* xp, const float* xd, int64_t ldb, float* c, int64_t ldc, int64_t k,
                         bool accumulate) {
  __m512 acc[RM][RN];
  for (int r = 0; r < RM; ++r)
    for (int j = 0; j < RN; ++j) acc[r][j] = accumulate ? _mm512_loadu_ps(c + r * ldc + 16 * j) : _mm512_setzero_ps();
  for (int64_t b = 0; b < k / kQ8Block; ++b) {
    __m512i dot[RM][RN];
    for (int r = 0; r < RM; ++r)
      for (int j = 0; j < RN; ++j) dot[r][j] = _mm512_setzero_si512();
#pragma GCC unroll 8
    for (int s = 0; s < 8; ++s) {
      const uint8_t* xs = xp + ((8 * b + s) * ldb) * 4;
      __m512i x[RN];
      for (int j = 0; j < RN; ++j) x[j] = _mm512_loadu_si512(xs + 64 * j);
      for (int r = 0; r < RM; ++r) {
        int32_t word;
        std::memcpy(&word, w + r * lda + kQ8Block * b + 4 * s, 4);
        const __m512i wv = _mm512_set1_epi32(word);
        for (int j = 0; j < RN; ++j) dot[r][j] = _mm512_dpbusd_epi32(dot[r][j], x[j], wv);
      }
    }
    for (int r = 0; r < RM; ++r) {
      const __m512i bias = _mm512_set1_epi32(128 * wsum[r * ldd + b]);
      const __m512 dw = _mm512_set1_ps(wd[r * ldd + b]);
      for (int j = 0; j < RN; ++j) {
        const __m512 scale = _mm512_mul_ps(dw, _mm512_loadu_ps(xd + b * ldb + 16 * j));
        acc[r][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(dot[r][j], bias)), scale, acc[r][j]);
      }
    }
  }
  for (int r = 0; r < RM; ++r)
    for (int j = 0; j < RN; ++j) _mm512_storeu_ps(c + r * ldc + 16 * j, acc[r][j]);
}

// Row tails by a smaller RM; tokens in whole vectors (ldb, ldc padded), pairs then a single one.
template <int RM>
inline void gemm_q8_rows(const int8_t* w, int64_t lda, const float* wd, const int32_t* wsum, int64_t ldd,
                         const uint8_t* xp, const float* xd, int64_t ldb, int64_t n_vec, float* c, int64_t ldc,
                         int64_t k, bool accumulate) {
  int64_t v = 0;
  for (; v + 2 <= n_vec; v += 2)
    gemm_q8_tile<RM, 2>(w, lda, wd, wsum, ldd, xp + 64 * v, xd + 16 * v, ldb, c + 16 * v, ldc, k, accumulate);
  if (v < n_vec)
    gemm_q8_tile<RM, 1>(w, lda, wd, wsum, ldd, xp + 64 * v, xd + 16 * v, ldb, c + 16 * v, ldc, k, accumulate);
}

void gemm_q8(const int8_t* w, int64_t lda, const float* wd, const int32_t* wsum, int64_t ldd, int64_t m,
             const uint8_t* xp, const float* xd, int64_t ldb, int64_t n_tok, float* c, int64_t ldc, int64_t k,
             bool accumulate) {
  constexpr int kRows = 4;
  const int64_t n_vec = (n_tok + kQ8TokenPad - 1) / kQ8TokenPad;
  int64_t r = 0;
  for (; r + kRows <= m; r += kRows)
    gemm_q8_rows<kRows>(w + r * lda, lda, wd + r * ldd, wsum + r * ldd, ldd, xp, xd, ldb, n_vec, c + r * ldc, ldc, k,
                        accumulate);
  for (; r < m; ++r)
    gemm_q8_rows<1>(w + r * lda, lda, wd + r * ldd, wsum + r * ldd, ldd, xp, xd, ldb, n_vec, c + r * ldc, ldc, k,
                    accumulate);
}

}  // namespace
}  // namespace kvpress::kernels::simd
