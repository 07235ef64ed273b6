// NonCausalAttnPress (Chari & Van Durme 2025, Compactor's attention part): the attention mass each
// key receives from every query of its chunk, bidirectionally, weighted by ||v||, smoothed and
// z-scored over the layer (spec §2.22). kvpress's last-chunk padding is reproduced as written:
// padded key columns get logit -1e-9 and so still take softmax mass. Single-shot prefill only.
#include "cache/kv_cache.h"
#include "core/error.h"
#include "press/compactor_scores.h"
#include "press/press_args.h"

namespace kvpress {

class NonCausalAttnPress final : public ScorerPress {
 public:
  explicit NonCausalAttnPress(int64_t chunk_size) : ScorerPress(0.0), chunk_size_(chunk_size) {}
  std::string name() const override { return "non_causal_attention:chunk_size=" + std::to_string(chunk_size_); }
  // The post-RoPE queries of every token of the pass (kvpress recomputes them from the hidden states).
  ObservationNeeds needs() const override { return {ObservationNeeds::kAll, false}; }

  void score(const LayerPrefill& layer, HeadScores& scores) override {
    const int64_t S = single_pass_length(layer, "non_causal_attention");
    const std::vector<double> z = non_causal_zscores(layer, 0, S, chunk_size_, "non_causal_attention");
    scores.resize(layer.cache.n_heads_kv(), S);
    for (size_t i = 0; i < z.size(); ++i) scores.values[i] = (float)z[i];
  }

 private:
  int64_t chunk_size_;
};

template <>
std::unique_ptr<Press> create_press<NonCausalAttnPress>(PressArgs& args) {
  const int64_t chunk_size = args.integer("chunk_size", 256, 1, 1 << 16);
  if (args.describing()) return nullptr;
  return std::make_unique<NonCausalAttnPress>(chunk_size);
}

}  // namespace kvpress
