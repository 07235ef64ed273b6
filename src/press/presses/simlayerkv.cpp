// SimLayerKVPress (Zhang et al. 2024, "SimLayerKV: A Simple Framework for Layer-Level KV Cache
// Reduction"): a layer is "lazy" when its last n_last queries pay more than lazy_threshold of their
// attention to the first n_initial and the n_recent most recent entries; a lazy layer keeps only
// those (StreamingLLM-like), any other layer keeps everything (spec §2.11). Memory is really freed.
// The press sets its own ratio per layer: it cannot be given one (kvpress raises too); the reported
// compression_ratio() is the mean over layers after a prefill.
#include <numeric>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "press/press_args.h"
#include "press/score_utils.h"

namespace kvpress {

class SimLayerKvPress final : public Press {
 public:
  SimLayerKvPress(double lazy_threshold, int64_t n_last, int64_t n_recent, int64_t n_initial)
      : lazy_threshold_(lazy_threshold), n_last_(n_last), n_recent_(n_recent), n_initial_(n_initial) {}

  std::string name() const override {
    return "simlayerkv:lazy_threshold=" + format_number(lazy_threshold_) + ",n_last=" + std::to_string(n_last_) +
           ",n_recent=" + std::to_string(n_recent_) + ",n_initial=" + std::to_string(n_initial_);
  }
  // Mean of the per-layer ratios of the last prefill (kvpress's formula, see compress); 0 before one.
  double compression_ratio() const override {
    if (layer_ratios_.empty()) return 0.0;
    return std::accumulate(layer_ratios_.begin(), layer_ratios_.end(), 0.0) / (double)layer_ratios_.size();
  }
  void set_compression_ratio(double ratio) override {
    validate_compression_ratio(ratio);
    if (ratio != 0.0)
      fail("press 'simlayerkv' decides per layer how much it removes (lazy layers keep n_initial + n_recent - n_last "
           "entries, the others all), so it takes no compression ratio (got ", format_number(ratio),
           "): give ratio 0 and set lazy_threshold in [0, 1] (1 = never compress), e.g. simlayerkv:lazy_threshold=0.9");
  }
  void reset() override { layer_ratios_.clear(); }
  ObservationNeeds needs() const override { return {n_last_, false}; }

  void compress(const LayerPrefill& layer) override {
    if (layer.layer == 0) layer_ratios_.clear();
    const int64_t S = uniform_head_length(layer.cache, layer.layer, "simlayerkv");
    const int64_t min_length = n_initial_ + n_recent_ + n_last_;
    if (lazy_threshold_ == 1.0 || S <= min_length || layer.n_tokens < n_last_) {
      layer_ratios_.push_back(0.0);
      return;
    }
    // SnapKV's window attention with w = n_last, the window's own columns dropped; mean over the
    // query heads and the window; the share on the first n_initial and last n_recent of those columns.
    const auto& c = layer.model.config();
    const std::vector<float> attn = window_attention_mean(layer, n_last_);  // [n_heads, S]
    const int64_t n = S - n_last_;
    double share = 0;
    for (int64_t h = 0; h < c.n_heads; ++h) {
      for (int64_t j = 0; j < n_initial_; ++j) share += attn[(size_t)(h * S + j)];
      for (int64_t j = n - n_recent_; j < n; ++j) share += attn[(size_t)(h * S + j)];
    }
    share /= (double)c.n_heads;
    if (!(share > lazy_threshold_)) {
      layer_ratios_.push_back(0.0);
      return;
    }
    // Lazy: the first n_initial and the last n_recent - n_last entries.
    std::vector<int64_t> kept;
    for (int64_t j = 0; j < n_initial_; ++j) kept.push_back(j);
    for (int64_t j = S - (n_recent_ - n_last_); j < S; ++j) kept.push_back(j);
    for (int64_t h = 0; h < c.n_heads_kv; ++h) layer.cache.keep(layer.layer, h, kept);
    // kvpress reports (S - n_initial - n_recent + 1) / S, exact only for n_last = 1.
    layer_ratios_.push_back((double)(S - n_initial_ - n_recent_ + 1) / (double)S);
  }

 private:
  double lazy_threshold_;
  int64_t n_last_, n_recent_, n_initial_;
  std::vector<double> layer_ratios_;
};

template <>
std::unique_ptr<Press> create_press<SimLayerKvPress>(PressArgs& args) {
  const double lazy_threshold = args.real("lazy_threshold", 1.0, 0.0, 1.0);
  const int64_t n_last = args.integer("n_last", 1, 1, 1 << 30);
  const int64_t n_recent = args.integer("n_recent", 1024, 1, 1 << 30);
  const int64_t n_initial = args.integer("n_initial", 4, 0, 1 << 30);
  if (args.describing()) return nullptr;
  // kvpress slices keys[-(n_recent - n_last):], which for n_recent == n_last is every key (kept twice).
  if (n_recent <= n_last)
    fail("press 'simlayerkv': n_recent must be greater than n_last (a lazy layer keeps the n_recent - n_last most "
         "recent entries), got n_recent=", n_recent, ", n_last=", n_last);
  return std::make_unique<SimLayerKvPress>(lazy_threshold, n_last, n_recent, n_initial);
}

}  // namespace kvpress
