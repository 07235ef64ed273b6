// attend_rows for the SIMD sets: decode attention of a GQA group (m <= kLanes query rows) over a run
// of cached keys, in blocks of a few keys decoded into L1. Per block:
//  A. scores: lane l holds row l / P and dimensions i + l % P (as dot_rows_packed), one FMA per key
//     advances P dimensions of every row; the P partial sums are folded in-register, so the block's
//     scores land as one vector per key, every row in its own lane group;
//  B. online softmax lane-wise on those vectors (max, exp, sum of all rows at once);
//  C. values: the rows' accumulators held in registers across the block (M rows x CW vectors).
// Same inclusion rules as x86/simd_kernels.h (per-ISA files only, V in an anonymous namespace).
#pragma once
#include <algorithm>
#include <cstdint>
#include <limits>

#include "kernels/kernel_sets.h"
#include "kernels/kernels.h"
#include "kernels/x86/simd_attend_common.h"
#include "kernels/x86/simd_attend_lanes.h"
#include "kernels/x86/simd_kernels.h"

namespace kvpress::kernels::simd {

// A. S[j * L ...] = scores of keys kb[j] (j < bk) against the packed queries, folded per row group.
template <class V, int P>
inline void attend_scores(const float* packed, int64_t n_steps, const float* kb, int64_t d, int64_t bk, float* S) {
  constexpr int L = V::kLanes, kKeys = 8;
  using F = typename V::F;
  const auto fold = [](F v) {
    for (int w = 1; w < P; w *= 2) v = V::add(v, V::xor_lanes(v, w));
    return v;
  };
  int64_t j = 0;
  for (; j + kKeys <= bk; j += kKeys) {
    F acc[kKeys];
    for (auto& a : acc) a = V::zero();
    for (int64_t s = 0; s < n_steps; ++s) {
      const F qv = V::load(packed + s * L);
      for (int u = 0; u < kKeys; ++u)
        acc[u] = V::fmadd(V::template broadcast_group<P>(kb + (j + u) * d + s * P), qv, acc[u]);
    }
    for (int u = 0; u < kKeys; ++u) V::store(S + (j + u) * L, fold(acc[u]));
  }
  for (; j < bk; ++j) {
    F acc = V::zero();
    for (int64_t s = 0; s < n_steps; ++s)
      acc = V::fmadd(V::template broadcast_group<P>(kb + j * d + s * P), V::load(packed + s * L), acc);
    V::store(S + j * L, fold(acc));
  }
}

// B. Lane-wise online softmax of one block: S becomes exp(S - new max); corr = exp(old - new max).
template <class V>
inline void attend_softmax(float* S, int64_t bk, float* lane_max, float* lane_sum, float* corr) {
  using F = typename V::F;
  constexpr int L = V::kLanes;
  F mx = V::load(lane_max);
  for (int64_t j = 0; j < bk; ++j) mx = V::max(mx, V::load(S + j * L));
  F sum = V::zero();
  for (int64_t j = 0; j < bk; ++j) {
    const F e = exp_nonpositive<V>(V::sub(V::load(S + j * L), mx));
    V::store(S + j * L, e);
    sum = V::add(sum, e);
  }
  const F c = exp_nonpositive<V>(V::sub(V::load(lane_max), mx));  // -inf - finite: 0
  V::store(corr, c);
  V::store(lane_sum, V::add(V::mul(V::load(lane_sum), c), sum));
  V::store(lane_max, mx);
}

template <class V, int P, int M>
void attend_rows_fixed(const float* q, const MatrixView& keys, const MatrixView& values, int64_t begin, int64_t n,
                       float* acc, int64_t ld_acc, float* row_max, float* row_sum) {
  constexpr int L = V::kLanes;
  // Accumulators of M rows x CW vectors, the CW value vectors and a broadcast fit the registers.
  constexpr int CW = M * 4 + 5 <= V::kRegs ? 4 : M * 2 + 3 <= V::kRegs ? 2 : 1;
  // Decoded keys (and values) per block: 4 KB each, so both buffers, the scores and the rows being read
  // stay in L1 (8 KB blocks measured 1.4-1.7x slower at 16k: the streamed rows evicted them).
  constexpr int64_t kBlockFloats = 1024;
  const int64_t d = keys.n_cols, n_steps = d / P;
  const int64_t block = kBlockFloats / d;  // d <= 256: at least 4 keys, and never past the buffers
  alignas(64) float packed[256 * L / P];  // [n_steps, L]; d <= 256
  for (int64_t s = 0; s < n_steps; ++s)
    for (int l = 0; l < L; ++l) packed[s * L + l] = l / P < M ? q[(l / P) * d + s * P + l % P] : 0.0f;
  alignas(64) float lane_max[L], lane_sum[L], corr[L];
  for (int l = 0; l < L; ++l) {
    lane_max[l] = l / P < M ? row_max[l / P] : 0.0f;  // unused lanes: zero scores against a zero max
    lane_sum[l] = l / P < M ? row_sum[l / P] : 0.0f;
  }
  alignas(64) float kbuf[kBlockFloats], vbuf[kBlockFloats], S[256 * L];  // block <= 256 keys
  // The next block's rows are prefetched while this one is computed: a block of keys is about a
  // page, and the hardware's stream prefetchers stop at page boundaries.
  const auto prefetch = [&](const MatrixView& rows, int64_t first, int64_t count) {
    const char* p = reinterpret_cast<const char*>(rows.row(first));
    for (int64_t off = 0; off < count * rows.row_bytes; off += 64) __builtin_prefetch(p + off, 0, 3);
  };
  for (int64_t k0 = begin; k0 < begin + n; k0 += block) {
    const int64_t bk = std::min(block, begin + n - k0);
    const int64_t next = k0 + bk, n_next = std::min(block, begin + n - next);
    if (n_next > 0) {
      prefetch(keys, next, n_next);
      prefetch(values, next, n_next);
    }
    const auto decoded = [&](const MatrixView& rows, float* buf) -> const float* {
      if (rows.type == GgmlType::F32) return reinterpret_cast<const float*>(rows.row(k0));
      dequantize_row<V>(rows.type, rows.row(k0), buf, bk * d);  // rows [k0, k0 + bk) are one encoded run
      return buf;
    };
    const float* kb = decoded(keys, kbuf);
    const float* vb = decoded(values, vbuf);
    attend_scores<V, P>(packed, n_steps, kb, d, bk, S);
    attend_softmax<V>(S, bk, lane_max, lane_sum, corr);
    attend_values<V, M, CW>(S, L, P, corr, P, [&](int64_t j, int64_t i) { return V::load(vb + j * d + i); }, d, bk, acc,
                            ld_acc);
  }
  for (int r = 0; r < M; ++r) {
    row_max[r] = lane_max[r * P];
    row_sum[r] = lane_sum[r * P];
  }
}

// Dispatches m to attend_rows_fixed<P, m>: M runs down from L / P over the counts that pick P.
template <class V, int P, int M = V::kLanes / P>
void attend_rows_for_m(int64_t m, const float* q, const MatrixView& keys, const MatrixView& values, int64_t begin,
                       int64_t n, float* acc, int64_t ld_acc, float* row_max, float* row_sum) {
  if (m == M) return attend_rows_fixed<V, P, M>(q, keys, values, begin, n, acc, ld_acc, row_max, row_sum);
  if constexpr (M - 1 > V::kLanes / (2 * P))
    attend_rows_for_m<V, P, M - 1>(m, q, keys, values, begin, n, acc, ld_acc, row_max, row_sum);
}

template <class V>
void attend_rows(const float* q, int64_t m, const MatrixView& keys, const MatrixView& values, int64_t begin,
                 int64_t n, float* acc, int64_t ld_acc, float* row_max, float* row_sum) {
  constexpr int L = V::kLanes;
  const int64_t d = keys.n_cols;
  // Lane packing as dot_rows_f32; shapes it does not cover take the reference.
  if (m < 1 || m > L || d > 256 || d % L != 0 || n <= 0)
    return ref::attend_rows(q, m, keys, values, begin, n, acc, ld_acc, row_max, row_sum);
  // Half-precision keys, a GQA group of up to 8 rows: keys in lanes (x86/simd_attend_lanes.h).
  if constexpr (L == 16) {
    if (m <= 8 && keys.type == GgmlType::F16)
      return attend_rows_lanes_for_m<V, false>(m, q, keys, values, begin, n, acc, ld_acc, row_max, row_sum);
    if (m <= 8 && keys.type == GgmlType::BF16)
      return attend_rows_lanes_for_m<V, true>(m, q, keys, values, begin, n, acc, ld_acc, row_max, row_sum);
  }
  int p = 1;
  while (p < L && m * p * 2 <= L && d % (p * 2) == 0) p *= 2;
  // Each P serves the row counts that choose it: m in (L / 2P, L / P].
  switch (p) {
    case 1: return attend_rows_for_m<V, 1, L>(m, q, keys, values, begin, n, acc, ld_acc, row_max, row_sum);
    case 2: return attend_rows_for_m<V, 2, L / 2>(m, q, keys, values, begin, n, acc, ld_acc, row_max, row_sum);
    case 4: return attend_rows_for_m<V, 4, L / 4>(m, q, keys, values, begin, n, acc, ld_acc, row_max, row_sum);
    default: break;
  }
  if constexpr (L >= 8)
    if (p == 8) return attend_rows_for_m<V, 8, L / 8>(m, q, keys, values, begin, n, acc, ld_acc, row_max, row_sum);
  if constexpr (L >= 16)
    if (p == 16) return attend_rows_for_m<V, 16, 1>(m, q, keys, values, begin, n, acc, ld_acc, row_max, row_sum);
}

}  // namespace kvpress::kernels::simd
