// PerLayerCompressionPress (kvpress, spec §2.22): the inner scorer compresses layer l at its own ratio
// compression_ratios[l] (1 removes every entry of the layer), so layers end with different lengths;
// attention reads each layer's own length (kvpress needs flash attention for that).
// The list is one spec parameter with ';' between the numbers: compression_ratios=0.1;0.5;0.9.
#include <numeric>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "press/press_args.h"
#include "press/score_utils.h"
#include "press/scorer_wrapper.h"

namespace kvpress {

class PerLayerCompressionPress final : public ScorerWrapper {
 public:
  PerLayerCompressionPress(std::unique_ptr<ScorerPress> inner, std::vector<double> ratios)
      : ScorerWrapper(std::move(inner)), ratios_(std::move(ratios)) {}

  std::string name() const override {
    std::string list;
    for (double r : ratios_) list.append(list.empty() ? "" : ";").append(format_number(r));
    return "per_layer_compression(" + inner().name() + "):compression_ratios=" + list;
  }
  // kvpress: the mean of the per-layer ratios, and read-only.
  double compression_ratio() const override {
    return std::accumulate(ratios_.begin(), ratios_.end(), 0.0) / (double)ratios_.size();
  }
  void set_compression_ratio(double ratio) override {
    validate_compression_ratio(ratio);
    if (ratio != 0.0)
      fail("press 'per_layer_compression' takes its ratios from compression_ratios=", name().substr(name().rfind('=') + 1),
           ", so a compression ratio (", format_number(ratio), ") would be ignored; give 0");
  }

  void compress(const LayerPrefill& layer) override {
    const int64_t n_layers = layer.model.config().n_layers;
    if ((int64_t)ratios_.size() != n_layers)
      fail("press 'per_layer_compression' has ", ratios_.size(), " compression_ratios for a model of ", n_layers,
           " layers (one per layer)");
    const double ratio = ratios_[(size_t)layer.layer];
    if (ratio == 0.0) return;
    if (ratio >= 1.0) {  // no entry stays (a scorer's ratio must stay below 1)
      for (int64_t h = 0; h < layer.cache.n_heads_kv(); ++h) layer.cache.keep(layer.layer, h, {});
      return;
    }
    // The inner ratio lives for this layer only (also when the inner press throws).
    inner().set_compression_ratio(ratio);
    try {
      inner().compress(layer);
    } catch (...) {
      inner().set_compression_ratio(0.0);
      throw;
    }
    inner().set_compression_ratio(0.0);
  }

 private:
  std::vector<double> ratios_;
};

template <>
std::unique_ptr<Press> create_press<PerLayerCompressionPress>(PressArgs& args) {
  std::vector<double> ratios = args.real_list("compression_ratios", 0.0, 1.0);
  auto inner = take_scorer(args);
  if (args.describing()) return nullptr;
  if (ratios.empty())
    fail("press 'per_layer_compression' needs compression_ratios=R0;R1;... (one ratio in [0, 1] per layer)");
  return std::make_unique<PerLayerCompressionPress>(std::move(inner), std::move(ratios));
}

}  // namespace kvpress
