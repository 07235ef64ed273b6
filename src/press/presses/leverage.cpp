// LeverageScorePress (Chari & Van Durme 2025, "Compactor: Calibrated Query-Agnostic KV Cache
// Compression with Approximate Leverage Scores"): keys that are statistical outliers of the layer's
// pre-RoPE key geometry (high approximate leverage under a Gaussian sketch) are kept; scores are
// z-scored over the layer (spec §2.22). Single-shot prefill only, as in kvpress.
#include "cache/kv_cache.h"
#include "core/error.h"
#include "press/compactor_scores.h"
#include "press/press_args.h"

namespace kvpress {

class LeverageScorePress final : public ScorerPress {
 public:
  explicit LeverageScorePress(int64_t sketch_dimension) : ScorerPress(0.0), sketch_dimension_(sketch_dimension) {}
  std::string name() const override { return "leverage:sketch_dimension=" + std::to_string(sketch_dimension_); }
  ObservationNeeds needs() const override { return {0, true}; }  // the attention input of every token

  void score(const LayerPrefill& layer, HeadScores& scores) override {
    const int64_t S = single_pass_length(layer, "leverage");
    const std::vector<double> z = leverage_zscores(layer, 0, S, sketch_dimension_, "leverage");
    scores.resize(layer.cache.n_heads_kv(), S);
    for (size_t i = 0; i < z.size(); ++i) scores.values[i] = (float)z[i];
  }

 private:
  int64_t sketch_dimension_;
};

template <>
std::unique_ptr<Press> create_press<LeverageScorePress>(PressArgs& args) {
  const int64_t k = args.integer("sketch_dimension", 48, 1, 1 << 16);
  if (args.describing()) return nullptr;
  return std::make_unique<LeverageScorePress>(k);
}

}  // namespace kvpress
