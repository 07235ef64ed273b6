// Rotary position embeddings for the two layouts of the Llama family.
#pragma once
#include <cstdint>
#include <vector>

#include "model/model_config.h"

namespace kvpress {

class Rope {
 public:
  // freq_factors: optional per-frequency divisors (Llama 3.1 `rope_freqs`), size head_dim/2.
  Rope(const ModelConfig& config, const std::vector<float>& freq_factors);

  // Rotates n_heads consecutive head vectors (each head_dim floats) in place for position `pos`.
  void apply(float* x, int64_t n_heads, int32_t pos) const;
  // Angular frequency of pair i (radians per position), scaling and factors included.
  const std::vector<double>& inv_freq() const { return inv_freq_; }
  RopeStyle style() const { return style_; }
  int64_t head_dim() const { return head_dim_; }
  // Element indices of the two components of rotated pair i.
  int64_t pair_first(int64_t i) const { return style_ == RopeStyle::Adjacent ? 2 * i : i; }
  int64_t pair_second(int64_t i) const { return style_ == RopeStyle::Adjacent ? 2 * i + 1 : i + head_dim_ / 2; }

 private:
  int64_t head_dim_;
  RopeStyle style_;
  std::vector<double> inv_freq_;  // [head_dim/2]
};

}  // namespace kvpress
