// KeyDiffPress (Park et al. 2025, "KeyDiff: Key Similarity-Based KV Cache Eviction"): keys pointing
// the way most keys point are redundant, so the score is minus the cosine to the mean unit key
// (spec §2.17).
#include <cmath>
#include <vector>

#include "cache/kv_cache.h"
#include "press/press_args.h"
#include "press/score_utils.h"

namespace kvpress {

class KeyDiffPress final : public ScorerPress {
 public:
  KeyDiffPress() : ScorerPress(0.0) {}
  ObservationNeeds needs() const override { return {0, false}; }  // the cache only
  std::string name() const override { return "keydiff"; }

  void score(const LayerPrefill& layer, HeadScores& scores) override {
    const KvCache& cache = layer.cache;
    const int64_t d = cache.head_dim();
    const int64_t S = uniform_head_length(cache, layer.layer, "keydiff");
    scores.resize(cache.n_heads_kv(), S);
    std::vector<float> keys((size_t)(S * d));
    std::vector<double> norm((size_t)S), anchor((size_t)d);
    for (int64_t h = 0; h < scores.n_heads_kv; ++h) {
      cache.keys(layer.layer, h).read(0, S, keys.data());
      std::fill(anchor.begin(), anchor.end(), 0.0);
      for (int64_t j = 0; j < S; ++j) {
        double sq = 0;
        for (int64_t i = 0; i < d; ++i) sq += (double)keys[j * d + i] * keys[j * d + i];
        norm[j] = std::sqrt(sq);
        const double unit = 1.0 / std::max(norm[j], 1e-12);  // F.normalize: x / max(||x||, 1e-12)
        for (int64_t i = 0; i < d; ++i) anchor[i] += keys[j * d + i] * unit;
      }
      double anchor_norm = 0;
      for (int64_t i = 0; i < d; ++i) {
        anchor[i] /= (double)S;
        anchor_norm += anchor[i] * anchor[i];
      }
      anchor_norm = std::sqrt(anchor_norm);
      for (int64_t j = 0; j < S; ++j) {
        double dot = 0;
        for (int64_t i = 0; i < d; ++i) dot += keys[j * d + i] * anchor[i];
        // F.cosine_similarity: x.y / max(||x|| ||y||, 1e-8).
        scores.head(h)[j] = -(float)(dot / std::max(norm[j] * anchor_norm, 1e-8));
      }
    }
  }
};

template <>
std::unique_ptr<Press> create_press<KeyDiffPress>(PressArgs& args) {
  if (args.describing()) return nullptr;
  return std::make_unique<KeyDiffPress>();
}

}  // namespace kvpress
