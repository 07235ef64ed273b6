// TOVAPress (Oren et al. 2024, "Transformers are Multi-State RNNs"): the attention of the last
// token, averaged over every query head, so all KV heads keep the same positions (spec §2.6).
#include "cache/kv_cache.h"
#include "core/error.h"
#include "press/press_args.h"
#include "press/score_utils.h"

namespace kvpress {

class TovaPress final : public ScorerPress {
 public:
  TovaPress() : ScorerPress(0.0) {}
  ObservationNeeds needs() const override { return {1, false}; }
  std::string name() const override { return "tova"; }

  void score(const LayerPrefill& layer, HeadScores& scores) override {
    const auto& c = layer.model.config();
    const int64_t S = uniform_head_length(layer.cache, layer.layer, "tova");
    if (layer.n_tokens < 2 || S < 2)
      fail("press 'tova' needs at least 2 context tokens (layer ", layer.layer, " holds ", S, ")");
    const std::vector<float> attn = window_attention_mean(layer, 1);  // [n_heads, S]
    const int64_t n = S - 1;
    std::vector<float> s((size_t)n);
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0;
      for (int64_t h = 0; h < c.n_heads; ++h) sum += attn[h * S + j];
      s[j] = (float)(sum / (double)c.n_heads);  // mean over ALL heads, not per group
    }
    const float protect = protection_score(s);  // the last token is always kept
    scores.resize(c.n_heads_kv, S);
    for (int64_t g = 0; g < c.n_heads_kv; ++g)
      for (int64_t j = 0; j < S; ++j) scores.head(g)[j] = j < n ? s[j] : protect;
  }
};

template <>
std::unique_ptr<Press> create_press<TovaPress>(PressArgs& args) {
  if (args.describing()) return nullptr;
  return std::make_unique<TovaPress>();
}

}  // namespace kvpress
