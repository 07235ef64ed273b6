// ObservedAttentionPress (H2O, Zhang et al. 2023, "Heavy-Hitter Oracle"): the attention each entry
// received from all context queries, divided by the number of queries that could see it
// (spec §2.7). kvpress needs eager attention for this; we recompute the probabilities row by row
// from the pass's queries, so no T x T matrix is ever held.
#include <algorithm>

#include "cache/kv_cache.h"
#include "model/attention.h"
#include "press/press_args.h"
#include "press/score_utils.h"
#include "runtime/thread_pool.h"

namespace kvpress {

class ObservedAttentionPress final : public ScorerPress {
 public:
  ObservedAttentionPress() : ScorerPress(0.0) {}
  std::string name() const override { return "observed_attention"; }

  void score(const LayerPrefill& layer, HeadScores& scores) override {
    const auto& c = layer.model.config();
    const int64_t H = c.n_heads, d = c.head_dim, G = c.group_size(), T = layer.n_tokens;
    const int64_t S = uniform_head_length(layer.cache, layer.layer, "observed_attention");
    std::vector<float> per_head((size_t)(H * S));
    std::vector<std::vector<float>> scratch((size_t)layer.pool.n_threads());
    layer.pool.parallel_for(H, 1, [&](int64_t begin, int64_t end, int thread) {
      auto& probs = scratch[thread];
      probs.resize((size_t)S);
      std::vector<double> sum((size_t)S);
      std::vector<int64_t> seen((size_t)S);
      for (int64_t h = begin; h < end; ++h) {
        std::fill(sum.begin(), sum.end(), 0.0);
        std::fill(seen.begin(), seen.end(), 0);
        const int32_t* pos = layer.cache.positions(layer.layer, h / G);
        for (int64_t t = 0; t < T; ++t) {
          attention_probs(layer.query(t) + h * d, layer.positions[t], layer.cache, layer.layer, h / G,
                          probs.data());
          for (int64_t j = 0; j < S; ++j) {
            sum[j] += probs[j];
            seen[j] += pos[j] <= layer.positions[t];
          }
        }
        // In a prefill from position 0, entry j is seen by S - j queries (kvpress's divisor).
        for (int64_t j = 0; j < S; ++j) per_head[h * S + j] = seen[j] ? (float)(sum[j] / (double)seen[j]) : 0.0f;
      }
    });
    scores.resize(c.n_heads_kv, S);
    scores.values = group_mean(per_head, H, c.n_heads_kv, S);
  }
};

template <>
std::unique_ptr<Press> create_press<ObservedAttentionPress>(PressArgs& args) {
  if (args.describing()) return nullptr;
  return std::make_unique<ObservedAttentionPress>();
}

}  // namespace kvpress
