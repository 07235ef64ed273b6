// Averaged RoPE rotation and chunked query moments (see query_stats.h).
#include "press/query_stats.h"

#include <algorithm>
#include <cmath>

namespace kvpress {

MeanRotation::MeanRotation(const Rope& rope, int64_t first_position, int64_t n_positions) {
  const int64_t half = rope.head_dim() / 2;
  c.assign((size_t)half, 0.0);
  s.assign((size_t)half, 0.0);
  for (int64_t i = 0; i < half; ++i) {
    a.push_back(rope.pair_first(i));
    b.push_back(rope.pair_second(i));
    for (int64_t p = first_position; p < first_position + n_positions; ++p) {
      const double theta = (double)p * rope.inv_freq()[i];
      c[i] += std::cos(theta);
      s[i] += std::sin(theta);
    }
    c[i] /= (double)n_positions;
    s[i] /= (double)n_positions;
  }
}

void MeanRotation::apply(double* x, int64_t stride) const {
  for (size_t i = 0; i < c.size(); ++i) {
    const double x0 = x[a[i] * stride], x1 = x[b[i] * stride];
    x[a[i] * stride] = c[i] * x0 - s[i] * x1;
    x[b[i] * stride] = s[i] * x0 + c[i] * x1;
  }
}

kernels::MatrixView f32_matrix(const float* data, int64_t n_rows, int64_t n_cols) {
  kernels::MatrixView m;
  m.type = GgmlType::F32;
  m.data = reinterpret_cast<const uint8_t*>(data);
  m.n_rows = n_rows;
  m.n_cols = n_cols;
  m.row_bytes = n_cols * (int64_t)sizeof(float);
  return m;
}

void QueryStats::start(int64_t layer_index, const ModelConfig& c, bool covariance) {
  layer = layer_index;
  count = 0;
  H_ = c.n_heads;
  d_ = c.head_dim;
  covariance_ = covariance;
  shift_.assign((size_t)(H_ * d_), 0.0f);
  sum_.assign((size_t)(H_ * d_), 0.0);
  m2_.assign(covariance ? (size_t)(H_ * d_ * d_) : 0, 0.0);
}

void QueryStats::add(const float* rows, int64_t n, ThreadPool& pool) {
  if (count == 0) std::copy_n(rows, H_ * d_, shift_.begin());
  std::vector<float> x((size_t)(d_ * n)), gram((size_t)(d_ * d_));
  for (int64_t h = 0; h < H_; ++h) {
    const float* shift = &shift_[h * d_];
    for (int64_t t = 0; t < n; ++t)
      for (int64_t i = 0; i < d_; ++i) {
        const float v = rows[(t * H_ + h) * d_ + i] - shift[i];
        x[i * n + t] = v;  // transposed: Gram = X^T X as a matmul of [d, n] with itself
        sum_[h * d_ + i] += v;
      }
    if (!covariance_) continue;
    kernels::matmul(f32_matrix(x.data(), d_, n), x.data(), d_, n, gram.data(), d_, pool);
    for (int64_t i = 0; i < d_ * d_; ++i) m2_[h * d_ * d_ + i] += gram[i];
  }
  count += n;
}

void QueryStats::moments(int64_t h, double* mu, double* sigma) const {
  const double N = (double)count;
  for (int64_t i = 0; i < d_; ++i) mu[i] = sum_[h * d_ + i] / N;
  if (sigma)
    for (int64_t i = 0; i < d_; ++i)
      for (int64_t j = 0; j < d_; ++j) sigma[i * d_ + j] = m2_[(h * d_ + i) * d_ + j] / N - mu[i] * mu[j];
  for (int64_t i = 0; i < d_; ++i) mu[i] += shift_[h * d_ + i];
}

}  // namespace kvpress
