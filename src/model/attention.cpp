// Attention kernel: per (query head, query) a scores row over the head's entries, softmax, then a
// weighted sum of values. Memory is O(entries) per worker, never T x T.
#include "model/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "cache/kv_cache.h"
#include "kernels/kernels.h"
#include "runtime/thread_pool.h"

namespace kvpress {
namespace {

// Fills probs with softmax(q.k_j * scale) over visible entries (masked ones get 0).
int64_t softmax_row(const float* q, int32_t q_pos, const float* keys, const int32_t* pos, int64_t n, int64_t d,
                    float scale, float* probs) {
  const auto& ks = kernels::active_kernels();
  float max_score = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < n; ++j) {
    if (pos[j] > q_pos) {
      probs[j] = -std::numeric_limits<float>::infinity();
      continue;
    }
    const float s = ks.dot_f32(q, keys + j * d, d) * scale;
    probs[j] = s;
    max_score = std::max(max_score, s);
  }
  if (max_score == -std::numeric_limits<float>::infinity()) {
    std::fill(probs, probs + n, 0.0f);
    return n;
  }
  double sum = 0;
  for (int64_t j = 0; j < n; ++j) {
    const float e = pos[j] > q_pos ? 0.0f : std::exp(probs[j] - max_score);
    probs[j] = e;
    sum += e;
  }
  const float inv = (float)(1.0 / sum);
  for (int64_t j = 0; j < n; ++j) probs[j] *= inv;
  return n;
}

}  // namespace

int64_t attention_probs(const float* q, int32_t q_pos, const KvCache& cache, int64_t layer, int64_t head_kv,
                        float* probs) {
  const int64_t d = cache.head_dim();
  const int64_t n = cache.length(layer, head_kv);
  return softmax_row(q, q_pos, cache.keys(layer, head_kv), cache.positions(layer, head_kv), n, d,
                     1.0f / std::sqrt((float)d), probs);
}

void attention(const float* q, const int32_t* q_pos, int64_t n_tokens, const KvCache& cache, int64_t layer,
               const AttentionShape& shape, float* out, ThreadPool& pool) {
  const int64_t d = shape.head_dim;
  const int64_t group = shape.n_heads / shape.n_heads_kv;
  const float scale = 1.0f / std::sqrt((float)d);
  int64_t max_len = 0;
  for (int64_t h = 0; h < shape.n_heads_kv; ++h) max_len = std::max(max_len, cache.length(layer, h));
  std::vector<std::vector<float>> scratch((size_t)pool.n_threads());
  const auto& ks = kernels::active_kernels();
  // Work items: (token, query head) pairs, contiguous by token so neighbours share cache lines.
  pool.parallel_for(n_tokens * shape.n_heads, 4, [&](int64_t begin, int64_t end, int thread) {
    auto& probs = scratch[thread];
    probs.resize((size_t)max_len);
    for (int64_t item = begin; item < end; ++item) {
      const int64_t t = item / shape.n_heads, h = item % shape.n_heads;
      const int64_t g = h / group;
      const int64_t n = cache.length(layer, g);
      const float* qv = q + (t * shape.n_heads + h) * d;
      float* o = out + (t * shape.n_heads + h) * d;
      softmax_row(qv, q_pos[t], cache.keys(layer, g), cache.positions(layer, g), n, d, scale, probs.data());
      std::fill(o, o + d, 0.0f);
      const float* values = cache.values(layer, g);
      for (int64_t j = 0; j < n; ++j)
        if (probs[j] != 0.0f) ks.axpy_f32(probs[j], values + j * d, o, d);
    }
  });
}

}  // namespace kvpress
