// Causal attention of new queries over a layer's KV cache, whose heads may hold different numbers
// of entries. An entry is visible to a query iff its position <= the query's position.
#pragma once
#include <cstdint>

namespace kvpress {

class KvCache;
class ThreadPool;

struct AttentionShape {
  int64_t n_heads;
  int64_t n_heads_kv;
  int64_t head_dim;
};

// q: [n_tokens, n_heads * head_dim] (post-RoPE); q_pos: [n_tokens]; out: [n_tokens, n_heads * head_dim].
void attention(const float* q, const int32_t* q_pos, int64_t n_tokens, const KvCache& cache, int64_t layer,
               const AttentionShape& shape, float* out, ThreadPool& pool);

// Softmax attention probabilities of one query vector against one KV head's entries (causal by
// position), written to probs[0..length). Used by attention-based presses. Returns length.
int64_t attention_probs(const float* q, int32_t q_pos, const KvCache& cache, int64_t layer, int64_t head_kv,
                        float* probs);

// attention_probs for n_rows query vectors at once: row r is q + r * q_stride at position q_pos[r],
// its probabilities go to probs + r * ld_probs (ld_probs >= the head's length). The same values to
// float rounding, but the head's keys are decoded once, the scores come from the kernels' gemm and the
// softmax is vectorised. Single-threaded (callers spread heads over their pool). Returns the length.
int64_t attention_probs_rows(const float* q, int64_t q_stride, const int32_t* q_pos, int64_t n_rows,
                             const KvCache& cache, int64_t layer, int64_t head_kv, float* probs, int64_t ld_probs);

}  // namespace kvpress
