// Scalar reference of the int8 path: the rounding of activations written out as kernels.h states it,
// and the dot product taken on the exactly dequantized weights in double precision, so that the SIMD
// kernels (integer sums of stored codes) are checked against the formula, not against themselves.
#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/half.h"
#include "kernels/kernel_sets.h"

namespace kvpress::kernels {

bool has_int8_dot(GgmlType type) {
  switch (type) {
    case GgmlType::Q4_0: case GgmlType::Q4_1: case GgmlType::Q5_0: case GgmlType::Q5_1: case GgmlType::Q8_0:
    case GgmlType::Q2_K: case GgmlType::Q3_K: case GgmlType::Q4_K: case GgmlType::Q5_K: case GgmlType::Q6_K:
      return true;
    default:
      return false;
  }
}

bool has_int8_gemm(GgmlType type) {
  return type == GgmlType::Q4_0 || type == GgmlType::Q5_0 || type == GgmlType::Q8_0;
}

namespace ref {

void quantize_activations(const float* x, int64_t n, int8_t* qs, float* d, float* ds16) {
  KV_CHECK(n % kQ8Block == 0);
  for (int64_t b = 0; b < n / kQ8Block; ++b) {
    const float* xb = x + b * kQ8Block;
    float amax = 0.0f;
    for (int64_t i = 0; i < kQ8Block; ++i) amax = std::max(amax, std::fabs(xb[i]));
    const float db = amax / 127.0f;
    const float inv = db > 0.0f ? 1.0f / db : 0.0f;
    d[b] = db;
    for (int64_t h = 0; h < 2; ++h) {
      int sum = 0;
      for (int64_t i = 16 * h; i < 16 * h + 16; ++i) {
        const int q = (int)std::nearbyint(xb[i] * inv);
        qs[b * kQ8Block + i] = (int8_t)q;
        sum += q;
      }
      ds16[2 * b + h] = db * (float)sum;
    }
  }
}

float dot_row_q8(GgmlType type, const void* row, const Q8Activations& x, int64_t n) {
  KV_CHECK(has_int8_dot(type));
  std::vector<float> w((size_t)n);
  dequantize_row(type, row, w.data(), n);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += (double)w[(size_t)i] * ((double)x.d[i / kQ8Block] * (double)x.qs[i]);
  return (float)sum;
}

// The codes straight from the formula value = d * code: code = value / d, exact for these formats.
void decode_s8(GgmlType type, const void* src, int64_t n, int8_t* out, float* d, int32_t* sum) {
  KV_CHECK(has_int8_gemm(type) && n % kQ8Block == 0);
  const int64_t block_bytes = traits_of(type).block_bytes;
  std::vector<float> w(kQ8Block);
  for (int64_t b = 0; b < n / kQ8Block; ++b) {
    const auto* blk = static_cast<const uint8_t*>(src) + b * block_bytes;
    dequantize_row(type, blk, w.data(), kQ8Block);
    uint16_t h;
    std::memcpy(&h, blk, 2);  // every one of these formats starts with its f16 scale
    d[b] = f16_to_f32(h);
    int32_t s = 0;
    for (int64_t i = 0; i < kQ8Block; ++i) {
      const int code = d[b] != 0.0f ? (int)std::lround(w[(size_t)i] / d[b]) : 0;
      out[b * kQ8Block + i] = (int8_t)code;
      s += code;
    }
    sum[b] = s;
  }
}

void gemm_q8(const int8_t* w, int64_t lda, const float* wd, const int32_t* wsum, int64_t ldd, int64_t m,
             const uint8_t* xp, const float* xd, int64_t ldb, int64_t n_tok, float* c, int64_t ldc, int64_t k,
             bool accumulate) {
  for (int64_t r = 0; r < m; ++r)
    for (int64_t t = 0; t < n_tok; ++t) {
      double acc = accumulate ? c[r * ldc + t] : 0.0;
      for (int64_t b = 0; b < k / kQ8Block; ++b) {
        int64_t dot = 0;
        for (int64_t i = kQ8Block * b; i < kQ8Block * (b + 1); ++i)
          dot += (int64_t)w[r * lda + i] * ((int64_t)xp[((i / 4) * ldb + t) * 4 + i % 4] - 128);
        acc += (double)wd[r * ldd + b] * (double)xd[b * ldb + t] * (double)dot;
      }
      c[r * ldc + t] = (float)acc;
    }
  (void)wsum;  // the reference subtracts the +128 directly
}

}  // namespace ref
}  // namespace kvpress::kernels
