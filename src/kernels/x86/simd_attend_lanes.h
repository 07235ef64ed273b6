// attend_rows with keys in lanes, for f16 / bf16 keys and 16-lane vectors (the AVX-512 set). Each
// block of 16 keys is transposed in L1 to [head_dim][16] halves, so that
//  A. scores: one FMA advances one query row by one dimension for all 16 keys (q broadcast from
//     memory): m * d / 16 FMAs per key, no lane idle whatever m is, no fold;
//  B. softmax: one exp per query row and 16 keys (x86/simd_attend.h's layout takes one per key);
//  C. values: attend_values (x86/simd_attend_common.h), the probabilities read as [row][16 keys] and
//     half-precision value rows widened as they are read.
// Measured on Qwen2.5-0.5B's shape (m = 7, d = 64) at 16k entries: docs/performance.md.
// Same inclusion rules as x86/simd_kernels.h (per-ISA files only, V in an anonymous namespace).
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>

#include "kernels/kernels.h"
#include "kernels/x86/simd_attend_common.h"
#include "kernels/x86/simd_kernels.h"

namespace kvpress::kernels::simd {

// kt[i * 16 + j] = row j's half i, rows 16 at `rows`, `stride` bytes apart, i < d (d % 16 == 0).
// Per 16 x 16 tile of halves: three rounds of unpacks (16, 32, 64 bits) transpose each 128-bit lane's
// 8 x 8 sub-tile, a fourth pairs the lanes of rows 0-7 with those of rows 8-15.
inline void transpose_halves_16(const uint8_t* rows, int64_t stride, int64_t d, uint16_t* kt) {
  for (int64_t c = 0; c < d; c += 16) {
    __m256i a[16], b[16], t[16];
    for (int j = 0; j < 16; ++j) a[j] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows + j * stride + 2 * c));
    for (int k = 0; k < 8; ++k) {  // b[2k + h]: rows 2k, 2k+1 interleaved, words 4h..4h+3 of each lane
      b[2 * k] = _mm256_unpacklo_epi16(a[2 * k], a[2 * k + 1]);
      b[2 * k + 1] = _mm256_unpackhi_epi16(a[2 * k], a[2 * k + 1]);
    }
    for (int g = 0; g < 4; ++g) {  // t[4g + s]: rows 4g..4g+3 at words 2s, 2s+1 of each lane
      t[4 * g] = _mm256_unpacklo_epi32(b[4 * g], b[4 * g + 2]);
      t[4 * g + 1] = _mm256_unpackhi_epi32(b[4 * g], b[4 * g + 2]);
      t[4 * g + 2] = _mm256_unpacklo_epi32(b[4 * g + 1], b[4 * g + 3]);
      t[4 * g + 3] = _mm256_unpackhi_epi32(b[4 * g + 1], b[4 * g + 3]);
    }
    for (int h = 0; h < 2; ++h)  // a[8h + w]: rows 8h..8h+7 at word w of each lane
      for (int s = 0; s < 4; ++s) {
        a[8 * h + 2 * s] = _mm256_unpacklo_epi64(t[8 * h + s], t[8 * h + 4 + s]);
        a[8 * h + 2 * s + 1] = _mm256_unpackhi_epi64(t[8 * h + s], t[8 * h + 4 + s]);
      }
    auto* out = reinterpret_cast<__m256i*>(kt + c * 16);
    for (int w = 0; w < 8; ++w) {
      _mm256_storeu_si256(out + w, _mm256_permute2x128_si256(a[w], a[8 + w], 0x20));
      _mm256_storeu_si256(out + 8 + w, _mm256_permute2x128_si256(a[w], a[8 + w], 0x31));
    }
  }
}

template <class V, int M, bool kBf16>
void attend_rows_lanes(const float* q, const MatrixView& keys, const MatrixView& values, int64_t begin, int64_t n,
                       float* acc, int64_t ld_acc, float* row_max, float* row_sum) {
  using F = typename V::F;
  constexpr int L = 16;
  static_assert(V::kLanes == L && M <= 8);
  // M x CW accumulators and CW value vectors in registers; the probabilities are broadcast from memory.
  constexpr int CW = M * 4 + 4 <= V::kRegs ? 4 : M * 2 + 3 <= V::kRegs ? 2 : 1;
  const int64_t d = keys.n_cols;  // d % 16 == 0, d <= 256
  alignas(64) uint16_t kt[256 * L], tail[256 * L];
  alignas(64) float vbuf[256 * L], p[M * L], sums[M * L], mx[L], corr[L];
  std::fill(mx, mx + L, 0.0f);  // lanes >= M: exp(0 - 0), unused
  for (int r = 0; r < M; ++r) {
    mx[r] = row_max[r];
    std::fill(sums + r * L, sums + (r + 1) * L, 0.0f);
    sums[r * L] = row_sum[r];
  }
  // Rows kAhead blocks ahead are prefetched into L2: the rows of a block are about a page, which the
  // hardware's stream prefetchers do not cross; at 16k entries this read 1.3-1.4x faster than
  // prefetching the next block into L1 (bench_attention, cold).
  constexpr int64_t kAhead = 4;
  const auto prefetch = [](const MatrixView& rows, int64_t first, int64_t count) {
    const char* ptr = reinterpret_cast<const char*>(rows.row(first));
    for (int64_t off = 0; off < count * rows.row_bytes; off += 64) __builtin_prefetch(ptr + off, 0, 1);
  };
  for (int64_t k0 = begin; k0 < begin + n; k0 += L) {
    const int64_t bk = std::min<int64_t>(L, begin + n - k0);
    const int64_t ahead = k0 + kAhead * L, n_next = std::min<int64_t>(L, begin + n - ahead);
    if (n_next > 0) {
      prefetch(keys, ahead, n_next);
      prefetch(values, ahead, n_next);
    }
    if (bk == L) {
      transpose_halves_16(keys.row(k0), keys.row_bytes, d, kt);
    } else {  // the last block: its rows padded with zeros
      std::fill(tail, tail + L * d, uint16_t{0});
      for (int64_t j = 0; j < bk; ++j) std::memcpy(tail + j * d, keys.row(k0 + j), (size_t)(2 * d));
      transpose_halves_16(reinterpret_cast<const uint8_t*>(tail), 2 * d, d, kt);
    }
    // A. Two accumulators per row, so that the FMA latency chain does not bound small groups.
    F s[M], s2[M];
    for (int r = 0; r < M; ++r) s[r] = s2[r] = V::zero();
    for (int64_t i = 0; i < d; i += 2) {
      const F k_even = load_half_vec<V, kBf16>(kt + i * L), k_odd = load_half_vec<V, kBf16>(kt + (i + 1) * L);
      for (int r = 0; r < M; ++r) {
        s[r] = V::fmadd(V::set1(q[r * d + i]), k_even, s[r]);
        s2[r] = V::fmadd(V::set1(q[r * d + i + 1]), k_odd, s2[r]);
      }
    }
    // B. Online softmax per row over the block (lanes past bk: -inf, weight 0).
    alignas(64) float new_mx[L];
    std::copy(mx, mx + L, new_mx);
    for (int r = 0; r < M; ++r) {
      s[r] = V::keep_first(V::add(s[r], s2[r]), (int)bk, -std::numeric_limits<float>::infinity());
      new_mx[r] = std::max(mx[r], V::hmax(s[r]));
    }
    V::store(corr, exp_nonpositive<V>(V::sub(V::load(mx), V::load(new_mx))));  // -inf - finite: 0
    std::copy(new_mx, new_mx + L, mx);
    for (int r = 0; r < M; ++r) {
      const F e = exp_nonpositive<V>(V::sub(s[r], V::set1(mx[r])));
      V::store(p + r * L, e);
      V::store(sums + r * L, V::fmadd(V::load(sums + r * L), V::set1(corr[r]), e));
    }
    // C. Values: half-precision rows widened as they are read, other types decoded into L1 first.
    const auto values_by = [&](auto value_vec) {
      attend_values<V, M, CW>(p, 1, L, corr, 1, value_vec, d, bk, acc, ld_acc);
    };
    const auto halves = [&](int64_t j) { return reinterpret_cast<const uint16_t*>(values.row(k0 + j)); };
    if (values.type == GgmlType::F16) {
      values_by([&](int64_t j, int64_t i) { return load_half_vec<V, false>(halves(j) + i); });
    } else if (values.type == GgmlType::BF16) {
      values_by([&](int64_t j, int64_t i) { return load_half_vec<V, true>(halves(j) + i); });
    } else {
      const float* vb = reinterpret_cast<const float*>(values.row(k0));
      if (values.type != GgmlType::F32) {
        dequantize_row<V>(values.type, values.row(k0), vbuf, bk * values.n_cols);  // one encoded run
        vb = vbuf;
      }
      values_by([&](int64_t j, int64_t i) { return V::load(vb + j * d + i); });
    }
  }
  for (int r = 0; r < M; ++r) {
    row_max[r] = mx[r];
    row_sum[r] = V::hsum(V::load(sums + r * L));
  }
}

// Dispatches m (1..8) to attend_rows_lanes<m>.
template <class V, bool kBf16, int M = 8>
void attend_rows_lanes_for_m(int64_t m, const float* q, const MatrixView& keys, const MatrixView& values,
                             int64_t begin, int64_t n, float* acc, int64_t ld_acc, float* row_max, float* row_sum) {
  if (m == M) return attend_rows_lanes<V, M, kBf16>(q, keys, values, begin, n, acc, ld_acc, row_max, row_sum);
  if constexpr (M > 1)
    attend_rows_lanes_for_m<V, kBf16, M - 1>(m, q, keys, values, begin, n, acc, ld_acc, row_max, row_sum);
}

}  // namespace kvpress::kernels::simd
