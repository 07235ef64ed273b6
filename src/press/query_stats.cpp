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
  // Heads are independent: one per work item, the Gram matrix X^T X of its shifted rows X [n, d] by the
  // kernels' gemm on this thread (X^T [d, n] times X, whose rows are already the gemm's layout).
  const auto& ks = kernels::active_kernels();
  const int64_t ld = (d_ + kernels::kGemmTokenPad - 1) / kernels::kGemmTokenPad * kernels::kGemmTokenPad;
  const auto per_heads = [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> x, xt, gram;  // kept across calls: no page faults per chunk
    if (covariance_) {
      x.assign((size_t)(n * ld), 0.0f);  // [n, ld]: padding columns zero
      xt.resize((size_t)(d_ * n));
      gram.resize((size_t)(d_ * ld));
    }
    for (int64_t h = begin; h < end; ++h) {
      const float* shift = &shift_[h * d_];
      double* sum = &sum_[h * d_];
      for (int64_t t = 0; t < n; ++t)
        for (int64_t i = 0; i < d_; ++i) {
          const float v = rows[(t * H_ + h) * d_ + i] - shift[i];
          sum[i] += v;
          if (covariance_) x[t * ld + i] = v;
        }
      if (!covariance_) continue;
      for (int64_t i = 0; i < d_; ++i)
        for (int64_t t = 0; t < n; ++t) xt[i * n + t] = x[t * ld + i];
      ks.gemm_f32(xt.data(), n, d_, x.data(), ld, d_, gram.data(), ld, n, false);
      double* m2 = &m2_[h * d_ * d_];
      for (int64_t i = 0; i < d_; ++i)
        for (int64_t k = 0; k < d_; ++k) m2[i * d_ + k] += gram[i * ld + k];
    }
  };
  // Small chunks (a few hundred thousand multiply-adds) run on this thread: waiting for a busy pool
  // would cost more than the work.
  if (covariance_ && n * H_ * d_ * d_ >= (int64_t(1) << 22))
    pool.parallel_for(H_, 1, [&](int64_t begin, int64_t end, int) { per_heads(begin, end); });
  else
    per_heads(0, H_);
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
