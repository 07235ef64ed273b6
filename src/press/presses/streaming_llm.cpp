// StreamingLLMPress (Xiao et al. 2023, "Efficient Streaming Language Models with Attention Sinks"):
// keep the first n_sink tokens and the most recent ones (spec §2.5).
#include <algorithm>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "press/press_args.h"
#include "press/score_utils.h"

namespace kvpress {

class StreamingLlmPress final : public ScorerPress {
 public:
  explicit StreamingLlmPress(int64_t n_sink) : ScorerPress(0.0), n_sink_(n_sink) {}
  ObservationNeeds needs() const override { return {0, false}; }  // the cache only
  std::string name() const override { return "streaming_llm:n_sink=" + std::to_string(n_sink_); }

  void score(const LayerPrefill& layer, HeadScores& scores) override {
    const int64_t S = uniform_head_length(layer.cache, layer.layer, "streaming_llm");
    if (S <= n_sink_)
      fail("press 'streaming_llm' needs more context entries than n_sink=", n_sink_, " (layer ", layer.layer,
           " holds ", S, ")");
    scores.resize(layer.cache.n_heads_kv(), S);
    // Ones everywhere except n_pruned zeros right after the sinks: exactly n_kept ones remain, so
    // the kept set is the sinks plus the most recent tokens.
    const int64_t n_pruned = S - kept_entries(layer, S);
    const int64_t end = std::min(S, n_sink_ + n_pruned);
    for (int64_t h = 0; h < scores.n_heads_kv; ++h) {
      float* s = scores.head(h);
      for (int64_t j = 0; j < S; ++j) s[j] = (j >= n_sink_ && j < end) ? 0.0f : 1.0f;
    }
  }

 private:
  int64_t n_sink_;
};

template <>
std::unique_ptr<Press> create_press<StreamingLlmPress>(PressArgs& args) {
  const int64_t n_sink = args.integer("n_sink", 4, 0, 1 << 30);
  if (args.describing()) return nullptr;
  return std::make_unique<StreamingLlmPress>(n_sink);
}

}  // namespace kvpress
