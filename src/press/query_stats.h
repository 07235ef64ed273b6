// Query statistics shared by the presses that model future queries (ExpectedAttention, Cap): the
// RoPE rotation averaged over future positions, and per-head moments of a layer's pre-RoPE queries
// accumulated chunk by chunk.
// Thread-safety: objects are used by one press at a time.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/kernels.h"
#include "model/model_config.h"
#include "model/rope.h"
#include "runtime/thread_pool.h"

namespace kvpress {

// The mean rotation R = mean_p R_p over positions first .. first + n - 1, one 2x2 block
// [[c, -s], [s, c]] per RoPE pair. kvpress writes R_p = diag(cos) + diag(sin) P in the half-split
// layout; acting on the pair (a, b) = (pair_first(i), pair_second(i)) it is the same block, so only
// the pair indices change. Angles in double.
struct MeanRotation {
  std::vector<double> c, s;  // [head_dim / 2]
  std::vector<int64_t> a, b;

  MeanRotation(const Rope& rope, int64_t first_position, int64_t n_positions);
  // x <- R x for a vector of head_dim values with the given stride between elements.
  void apply(double* x, int64_t stride) const;
};

// A view of n_rows x n_cols contiguous floats as a matmul weight.
kernels::MatrixView f32_matrix(const float* data, int64_t n_rows, int64_t n_cols);

// Per-head mean and covariance of a layer's pre-RoPE queries, accumulated over chunks. Moments
// are taken around a shift (the first query of each head) so that E[xx^T] - mu mu^T does not
// cancel when the mean dominates.
class QueryStats {
 public:
  int64_t layer = -1;
  int64_t count = 0;

  void start(int64_t layer_index, const ModelConfig& c, bool covariance);
  int64_t row_size() const { return H_ * d_; }
  // rows: [n, H*d].
  void add(const float* rows, int64_t n, ThreadPool& pool);
  // mu [d]; sigma [d, d] (biased, 1/N) unless null (then covariance may be off).
  void moments(int64_t h, double* mu, double* sigma) const;

 private:
  int64_t H_ = 0, d_ = 0;
  bool covariance_ = true;
  std::vector<float> shift_;
  std::vector<double> sum_, m2_;
};

}  // namespace kvpress
