// Pieces both decode attention layouts share (x86/simd_attend.h, x86/simd_attend_lanes.h): the
// exponential of the online softmax and the value accumulation of a block.
// Same inclusion rules as x86/simd_kernels.h (per-ISA files only, V in an anonymous namespace).
#pragma once
#include <cstdint>

namespace kvpress::kernels::simd {

// exp(x) for x <= 0, 0 below -87 (so exp(-inf) = 0): 2^n * exp(r), n = round(x / ln 2), r by a
// Cody-Waite split of ln 2, exp(r) by its degree-7 Taylor polynomial; relative error ~2e-7.
template <class V>
inline typename V::F exp_nonpositive(typename V::F x) {
  using F = typename V::F;
  const F xc = V::max(x, V::set1(-87.0f));
  const F t = V::add(V::mul(xc, V::set1(1.44269504088896341f)), V::set1(12582912.0f));  // 1.5 * 2^23 + n
  const F n = V::sub(t, V::set1(12582912.0f));
  const F r = V::sub(V::sub(xc, V::mul(n, V::set1(0.693359375f))), V::mul(n, V::set1(-2.12194440e-4f)));
  F p = V::set1(1.0f / 5040.0f);
  for (float c : {1.0f / 720.0f, 1.0f / 120.0f, 1.0f / 24.0f, 1.0f / 6.0f, 0.5f, 1.0f, 1.0f})
    p = V::fmadd(p, r, V::set1(c));
  // t's low mantissa bits hold n + 2^22 (n in [-126, 0]): 2^n's exponent field is n + 127.
  const F two_n = V::as_f(V::sll(V::add_i(V::as_i(t), 127 - 0x4B400000), 23));
  return V::zero_below(x, -87.0f, V::mul(p, two_n));
}

// acc rows r < M: acc = acc * corr[r * c_row] + sum_j S[j * s_key + r * s_row] * v_j, CW vectors of
// dimensions at a time, the rows' accumulators held in registers across the block; value_vec(j, i)
// gives the vector of v_j's dimensions [i, i + lanes) as f32.
template <class V, int M, int CW, class ValueVec>
inline void attend_values(const float* S, int64_t s_key, int64_t s_row, const float* corr, int64_t c_row,
                          ValueVec value_vec, int64_t d, int64_t bk, float* acc, int64_t ld_acc) {
  using F = typename V::F;
  constexpr int L = V::kLanes;
  int64_t c = 0;
  const auto run = [&]<int W>() {
    F a[M][W];
    for (int r = 0; r < M; ++r)
      for (int w = 0; w < W; ++w) a[r][w] = V::mul(V::load(acc + r * ld_acc + c + w * L), V::set1(corr[r * c_row]));
    for (int64_t j = 0; j < bk; ++j) {
      F v[W];
      for (int w = 0; w < W; ++w) v[w] = value_vec(j, c + w * L);
      for (int r = 0; r < M; ++r) {
        const F p = V::set1(S[j * s_key + r * s_row]);
        for (int w = 0; w < W; ++w) a[r][w] = V::fmadd(p, v[w], a[r][w]);
      }
    }
    for (int r = 0; r < M; ++r)
      for (int w = 0; w < W; ++w) V::store(acc + r * ld_acc + c + w * L, a[r][w]);
  };
  for (; c + CW * L <= d; c += CW * L) run.template operator()<CW>();
  for (; c < d; c += L) run.template operator()<1>();
}

}  // namespace kvpress::kernels::simd
