// Scalar reference of attend_rows: one key at a time, each folded into every row's online softmax
// (running max, rescaled sum and output), in f32.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/kernel_sets.h"

namespace kvpress::kernels::ref {

void attend_rows(const float* q, int64_t m, const MatrixView& keys, const MatrixView& values, int64_t begin,
                 int64_t n, float* acc, int64_t ld_acc, float* row_max, float* row_sum) {
  const int64_t d = keys.n_cols;
  std::vector<float> k((size_t)d), v((size_t)d);
  for (int64_t j = begin; j < begin + n; ++j) {
    dequantize_row(keys.type, keys.row(j), k.data(), d);
    dequantize_row(values.type, values.row(j), v.data(), d);
    for (int64_t r = 0; r < m; ++r) {
      const float s = dot_f32(q + r * d, k.data(), d);
      const float new_max = std::max(row_max[r], s);
      const float correction = row_max[r] == -std::numeric_limits<float>::infinity() ? 0.0f
                                                                                    : std::exp(row_max[r] - new_max);
      const float p = std::exp(s - new_max);
      row_sum[r] = row_sum[r] * correction + p;
      row_max[r] = new_max;
      float* a = acc + r * ld_acc;
      for (int64_t i = 0; i < d; ++i) a[i] = a[i] * correction + p * v[i];
    }
  }
}

}  // namespace kvpress::kernels::ref
