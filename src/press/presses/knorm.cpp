// KnormPress (Devoto et al. 2024, "A Simple and Effective L2 Norm-Based Strategy for KV Cache
// Compression"): keys with a small L2 norm attract more attention, so keep those (spec §2.1).
#include <cmath>
#include <vector>

#include "cache/kv_cache.h"
#include "press/press_args.h"
#include "press/score_utils.h"

namespace kvpress {

class KnormPress final : public ScorerPress {
 public:
  KnormPress() : ScorerPress(0.0) {}
  ObservationNeeds needs() const override { return {0, false}; }  // the cache only
  std::string name() const override { return "knorm"; }

  void score(const LayerPrefill& layer, HeadScores& scores) override {
    const KvCache& cache = layer.cache;
    const int64_t d = cache.head_dim();
    scores.resize(cache.n_heads_kv(), uniform_head_length(cache, layer.layer, "knorm"));
    // score = -||k|| of the stored key (post-RoPE; RoPE preserves norms).
    std::vector<float> scratch((size_t)d);
    for (int64_t h = 0; h < scores.n_heads_kv; ++h) {
      const KvRows keys = cache.keys(layer.layer, h);
      for (int64_t j = 0; j < scores.n_tokens; ++j) {
        const float* k = keys.row_f32(j, scratch.data());
        double sum = 0;
        for (int64_t i = 0; i < d; ++i) sum += (double)k[i] * k[i];
        scores.head(h)[j] = -(float)std::sqrt(sum);
      }
    }
  }
};

template <>
std::unique_ptr<Press> create_press<KnormPress>(PressArgs& args) {
  if (args.describing()) return nullptr;
  return std::make_unique<KnormPress>();
}

}  // namespace kvpress
