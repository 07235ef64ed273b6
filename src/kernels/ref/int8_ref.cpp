// Scalar reference of the int8 path: the rounding of activations written out as kernels.h states it,
// and the dot product taken on the exactly dequantized weights in double precision, so that the SIMD
// kernels (integer sums of stored codes) are checked against the formula, not against themselves.
#include <cmath>
#include <vector>

#include "core/error.h"
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

}  // namespace ref
}  // namespace kvpress::kernels
