// ThinKPress (Xu et al. 2024, "ThinK: Thinner Key Cache by Query-Driven Pruning"): prunes key
// channels, not tokens. A channel's importance is the mean squared window query (averaged over the
// GQA group) times the mean squared key; the int(head_dim * key_channel_compression_ratio) least
// important channels of each KV head are dropped from the context's keys (spec §2.10).
//
// kvpress only zeroes those channels (no memory gain). Here the cache really stores the context's keys
// at their kept channels (KvCache::prune_key_channels) and attention gathers the query to them, which
// gives the same q.k as the zeroed channels; keys appended later (question, answer) are stored whole,
// as kvpress leaves them.
#include <algorithm>
#include <numeric>
#include <optional>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "press/press_args.h"
#include "press/score_utils.h"

namespace kvpress {

class ThinKPress final : public Press {
 public:
  // fixed_key_ratio: the key_channel_compression_ratio parameter; without it the ratio the press is
  // given (set_compression_ratio, e.g. --compression-ratio) is the key channel ratio, as kvpress's
  // evaluation sets ThinK's key_channel_compression_ratio from its own option.
  ThinKPress(std::optional<double> fixed_key_ratio, int64_t window_size)
      : fixed_key_ratio_(fixed_key_ratio), key_ratio_(fixed_key_ratio.value_or(0.0)), window_size_(window_size) {}

  std::string name() const override {
    std::string s = "think:";
    if (fixed_key_ratio_) s += "key_channel_compression_ratio=" + format_number(*fixed_key_ratio_) + ",";
    return s + "window_size=" + std::to_string(window_size_);
  }
  // kvpress: compression_ratio = key_channel_compression_ratio / 2 (half of each entry is its key).
  double compression_ratio() const override { return key_ratio_ / 2.0; }
  void set_compression_ratio(double ratio) override {
    validate_compression_ratio(ratio);
    if (!fixed_key_ratio_) key_ratio_ = ratio;
  }
  double key_channel_compression_ratio() const { return key_ratio_; }
  ObservationNeeds needs() const override { return {window_size_, false}; }

  void compress(const LayerPrefill& layer) override {
    if (key_ratio_ == 0.0) return;
    const auto& c = layer.model.config();
    const int64_t d = c.head_dim, H = c.n_heads, Hkv = c.n_heads_kv, G = c.group_size();
    const int64_t n_pruned = (int64_t)((double)d * key_ratio_);  // Python int(): truncation
    if (n_pruned == 0) return;
    // kvpress slices hidden_states[:, -window_size:]: the whole pass when it is shorter.
    const int64_t w = std::min(window_size_, layer.n_tokens);
    if (w < 1) fail("press 'think' needs at least one context token in layer ", layer.layer);
    // Mean squared post-RoPE window query per channel, averaged over each group's heads. [Hkv, d]
    std::vector<double> query_sq((size_t)(Hkv * d), 0.0);
    for (int64_t t = layer.n_tokens - w; t < layer.n_tokens; ++t) {
      const float* q = layer.query(t);
      for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < d; ++i) query_sq[(h / G) * d + i] += (double)q[h * d + i] * q[h * d + i];
    }
    std::vector<float> keys;
    std::vector<int32_t> order((size_t)d), kept;
    std::vector<double> score((size_t)d);
    for (int64_t g = 0; g < Hkv; ++g) {
      const int64_t S = layer.cache.length(layer.layer, g);
      if (S == 0) continue;
      keys.resize((size_t)(S * d));
      layer.cache.keys(layer.layer, g).read(0, S, keys.data());
      for (int64_t i = 0; i < d; ++i) {
        double key_sq = 0;
        for (int64_t j = 0; j < S; ++j) key_sq += (double)keys[j * d + i] * keys[j * d + i];
        score[i] = query_sq[g * d + i] / (double)(w * G) * (key_sq / (double)S);
      }
      // The n_pruned lowest scores are pruned; ties: the lower channel first (torch's topk leaves it open).
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return score[a] < score[b]; });
      kept.assign(order.begin() + n_pruned, order.end());
      std::sort(kept.begin(), kept.end());
      layer.cache.prune_key_channels(layer.layer, g, kept);
    }
  }

 private:
  std::optional<double> fixed_key_ratio_;
  double key_ratio_;
  int64_t window_size_;
};

template <>
std::unique_ptr<Press> create_press<ThinKPress>(PressArgs& args) {
  // Below 1: at least one channel of each key is kept.
  const std::optional<double> key_ratio = args.optional_real("key_channel_compression_ratio", 0.0, 0.999999);
  const int64_t window_size = args.integer("window_size", 32, 1, 1 << 30);
  if (args.describing()) return nullptr;
  return std::make_unique<ThinKPress>(key_ratio, window_size);
}

}  // namespace kvpress
