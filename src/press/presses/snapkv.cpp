// SnapKVPress (Li et al. 2024, "SnapKV: LLM Knows What You are Looking for Before Generation"):
// the attention the last window_size queries pay to earlier entries, smoothed by an average pool;
// the window itself is always kept (spec §2.2).
#include <algorithm>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "press/press_args.h"
#include "press/score_utils.h"

namespace kvpress {

class SnapKvPress final : public ScorerPress {
 public:
  SnapKvPress(int64_t window_size, int64_t kernel_size)
      : ScorerPress(0.0), window_size_(window_size), kernel_size_(kernel_size) {}
  std::string name() const override {
    return "snapkv:window_size=" + std::to_string(window_size_) + ",kernel_size=" + std::to_string(kernel_size_);
  }

  ObservationNeeds needs() const override { return {window_size_, false}; }

  void score(const LayerPrefill& layer, HeadScores& scores) override {
    const auto& c = layer.model.config();
    const int64_t w = window_size_;
    // Heads may differ in length (inside adakv, after an earlier compression): each is scored alone.
    const std::vector<int64_t> lengths = head_lengths(layer.cache, layer.layer);
    const int64_t S_min = *std::min_element(lengths.begin(), lengths.end());
    if (layer.n_tokens <= w || S_min <= w)
      fail("press 'snapkv' needs more than window_size=", w, " context tokens (got ", layer.n_tokens,
           " tokens, ", S_min, " cache entries in layer ", layer.layer, "); use a smaller window_size");
    // Window attention: softmax over all S entries (causal), mean over the w queries, then the
    // window's own columns are dropped.
    const std::vector<float> attn = window_attention_mean(layer, w);  // [n_heads, S_max]
    const int64_t S = *std::max_element(lengths.begin(), lengths.end()), n = S - w;
    const int64_t H = c.n_heads, G = c.group_size(), pad = kernel_size_ / 2;
    // avg_pool1d(kernel, stride 1, zero padding kernel/2): the divisor is always kernel_size.
    std::vector<float> pooled((size_t)(H * n), 0.0f);
    for (int64_t h = 0; h < H; ++h) {
      const int64_t n_h = lengths[h / G] - w;
      for (int64_t j = 0; j < n_h; ++j) {
        double sum = 0;
        for (int64_t k = j - pad; k <= j + pad; ++k)
          if (k >= 0 && k < n_h) sum += attn[h * S + k];
        pooled[h * n + j] = (float)(sum / (double)kernel_size_);
      }
    }
    const std::vector<float> s = group_mean(pooled, H, c.n_heads_kv, n);  // [n_heads_kv, n]
    const float protect = protection_score(s);
    scores.resize(lengths);
    for (int64_t g = 0; g < c.n_heads_kv; ++g)
      for (int64_t j = 0; j < lengths[g]; ++j) scores.head(g)[j] = j < lengths[g] - w ? s[g * n + j] : protect;
  }

 private:
  int64_t window_size_;
  int64_t kernel_size_;
};

template <>
std::unique_ptr<Press> create_press<SnapKvPress>(PressArgs& args) {
  const int64_t window_size = args.integer("window_size", 64, 1, 1 << 30);
  const int64_t kernel_size = args.integer("kernel_size", 5, 1, 1 << 20);
  if (args.describing()) return nullptr;
  // An even kernel would make avg_pool1d's output one longer than its input (kvpress then fails).
  if (kernel_size % 2 == 0) fail("press 'snapkv': kernel_size must be odd, got ", kernel_size);
  return std::make_unique<SnapKvPress>(window_size, kernel_size);
}

}  // namespace kvpress
