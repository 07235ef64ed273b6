// PyramidKVPress (Cai et al. 2024, "PyramidKV: Dynamic KV Cache Compression based on Pyramidal
// Information Funneling"): SnapKV's scores with a budget that shrinks linearly from the first layer
// to the last, so lower layers keep more entries; the mean budget over layers is about S(1 - r)
// (spec §2.9). The budget formula is KVCache-Factory's, always applying the compression ratio.
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "press/press_args.h"
#include "press/press_registry.h"
#include "press/score_utils.h"

namespace kvpress {

class PyramidKvPress final : public ScorerPress {
 public:
  PyramidKvPress(int64_t window_size, int64_t kernel_size, int64_t beta)
      : ScorerPress(0.0),
        window_size_(window_size),
        kernel_size_(kernel_size),
        beta_(beta),
        // The scores are SnapKV's exactly: the registry's snapkv with the same window and kernel.
        snapkv_(make_press("snapkv:window_size=" + std::to_string(window_size) +
                               ",kernel_size=" + std::to_string(kernel_size),
                           0.0)) {}

  std::string name() const override {
    return "pyramidkv:window_size=" + std::to_string(window_size_) + ",kernel_size=" + std::to_string(kernel_size_) +
           ",beta=" + std::to_string(beta_);
  }
  ObservationNeeds needs() const override { return snapkv_->needs(); }

  void score(const LayerPrefill& layer, HeadScores& scores) override {
    if (layer.n_tokens <= window_size_)
      fail("press 'pyramidkv' needs more than window_size=", window_size_, " context tokens (got ", layer.n_tokens,
           " in layer ", layer.layer, "); use a smaller window_size");
    snapkv_->scorer()->score(layer, scores);
  }

  bool keeps_ratio_budget() const override { return false; }

  // kvpress's get_layer_budget (spec §2.9), in double as Python computes it; round() is Python's
  // round-half-to-even (std::nearbyint under the default rounding mode).
  int64_t layer_budget(const LayerPrefill& layer, int64_t n_tokens) const override {
    const double S = (double)n_tokens, w = (double)window_size_, kept = S * (1.0 - compression_ratio());
    const double max_capacity = w + kept;
    double min_num = (max_capacity - w) / (double)beta_;
    double max_num = (max_capacity - w) * 2.0 - min_num;
    if (max_num >= S - w) {
      max_num = S - w;
      min_num = (max_capacity - w) * 2.0 - max_num;
    }
    double budget = 0;
    const int64_t n_layers = layer.model.config().n_layers;
    if (!(S >= max_num && max_num >= min_num && min_num >= w)) {
      budget = std::nearbyint(kept);  // kvpress's fallback: round, not int
    } else if (n_layers == 1) {
      budget = std::nearbyint(max_num);  // kvpress divides by L - 1 = 0 here; the one layer gets the top
    } else {
      const double step = (max_num - min_num) / (double)(n_layers - 1);
      budget = std::nearbyint(max_num - (double)layer.layer * step);
    }
    return std::clamp<int64_t>((int64_t)budget, 0, n_tokens);
  }

 private:
  int64_t window_size_;
  int64_t kernel_size_;
  int64_t beta_;
  std::unique_ptr<Press> snapkv_;
};

template <>
std::unique_ptr<Press> create_press<PyramidKvPress>(PressArgs& args) {
  const int64_t window_size = args.integer("window_size", 64, 1, 1 << 30);
  const int64_t kernel_size = args.integer("kernel_size", 5, 1, 1 << 20);
  const int64_t beta = args.integer("beta", 20, 1, 1 << 30);  // kvpress asserts beta >= 1
  if (args.describing()) return nullptr;
  if (kernel_size % 2 == 0) fail("press 'pyramidkv': kernel_size must be odd, got ", kernel_size);
  return std::make_unique<PyramidKvPress>(window_size, kernel_size, beta);
}

}  // namespace kvpress
