// RoPE: theta_i = pos * scale / (base^(2i/d) * factor_i); angles in double for accuracy at long positions.
#include "model/rope.h"

#include <cmath>

#include "core/error.h"

namespace kvpress {

Rope::Rope(const ModelConfig& c, const std::vector<float>& freq_factors)
    : head_dim_(c.head_dim), style_(c.rope_style), inv_freq_((size_t)(c.head_dim / 2)) {
  KV_CHECK(freq_factors.empty() || (int64_t)freq_factors.size() == c.head_dim / 2);
  for (int64_t i = 0; i < c.head_dim / 2; ++i) {
    double f = std::pow((double)c.rope_base, -2.0 * (double)i / (double)c.head_dim) * c.rope_scale;
    if (!freq_factors.empty()) f /= freq_factors[i];
    inv_freq_[i] = f;
  }
}

void Rope::apply(float* x, int64_t n_heads, int32_t pos) const {
  const int64_t half = head_dim_ / 2;
  for (int64_t i = 0; i < half; ++i) {
    const double theta = (double)pos * inv_freq_[i];
    const float c = (float)std::cos(theta), s = (float)std::sin(theta);
    const int64_t a = pair_first(i), b = pair_second(i);
    for (int64_t h = 0; h < n_heads; ++h) {
      float* v = x + h * head_dim_;
      const float x0 = v[a], x1 = v[b];
      v[a] = x0 * c - x1 * s;
      v[b] = x0 * s + x1 * c;
    }
  }
}

}  // namespace kvpress
