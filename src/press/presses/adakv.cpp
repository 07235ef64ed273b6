// AdaKVPress (Feng et al. 2024, "Ada-KV: Optimizing KV Cache Eviction by Adaptive Budget Allocation"):
// the inner scorer's scores compete across all KV heads of a layer, so important heads keep more
// entries; every head keeps at least n_safe = int(n_kept * alpha_safeguard) (spec §2.4).
// kvpress only masks the dropped entries (no memory gain); we compact every head for real, so heads
// end with different lengths and the layer holds exactly n_heads_kv * n_kept entries.
#include <algorithm>
#include <limits>
#include <numeric>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "press/head_selection.h"
#include "press/press_args.h"
#include "press/score_utils.h"

namespace kvpress {

class AdaKvPress final : public Press {
 public:
  AdaKvPress(std::unique_ptr<ScorerPress> scorer, double alpha_safeguard)
      : scorer_(std::move(scorer)), alpha_safeguard_(alpha_safeguard) {}

  std::string name() const override {
    return "adakv(" + scorer_->name() + "):alpha_safeguard=" + format_number(alpha_safeguard_);
  }
  double compression_ratio() const override { return scorer_->compression_ratio(); }
  void set_compression_ratio(double ratio) override { scorer_->set_compression_ratio(ratio); }
  void reset() override { scorer_->reset(); }
  ObservationNeeds needs() const override { return scorer_->needs(); }
  void observe(const LayerChunk& chunk) override { scorer_->observe(chunk); }
  ScorerPress* scorer() override { return scorer_.get(); }

  void compress(const LayerPrefill& layer) override {
    if (compression_ratio() == 0.0) return;
    HeadScores scores;
    scorer_->score(layer, scores);
    const int64_t Hkv = scores.n_heads_kv;
    KV_CHECK(Hkv == layer.cache.n_heads_kv());
    // Heads of different lengths (a decoding press re-compressing an AdaKV cache): the budget is that
    // of the mean head, as kvpress's masked cache has one length for all heads.
    int64_t total = 0;
    for (int64_t h = 0; h < Hkv; ++h) total += scores.length(h);
    const int64_t n_kept = scorer_->kept_entries(layer, total / Hkv);
    const int64_t n_safe = (int64_t)((double)n_kept * alpha_safeguard_);
    // Safeguard: each head's n_safe best entries get the largest finite score.
    for (int64_t h = 0; h < Hkv; ++h)
      for (int64_t j : top_indices(scores.head(h), scores.length(h), std::min(n_safe, scores.length(h))))
        scores.head(h)[j] = std::numeric_limits<float>::max();

    // Keep the Hkv * n_kept best (head, position) pairs of the layer (kvpress drops the
    // Hkv * (S - n_kept) worst).
    keep_per_head(layer, top_over_heads(scores, Hkv * n_kept));
  }

 private:
  std::unique_ptr<ScorerPress> scorer_;
  double alpha_safeguard_;
};

template <>
std::unique_ptr<Press> create_press<AdaKvPress>(PressArgs& args) {
  const double alpha = args.real("alpha_safeguard", 0.20, 0.0, 1.0);
  auto inner = args.take_inner(1, 1);
  if (args.describing()) return nullptr;
  auto* scorer = dynamic_cast<ScorerPress*>(inner.front().get());
  if (!scorer)
    fail("press 'adakv' needs a scorer press inside (e.g. adakv(snapkv)); '", inner.front()->name(),
         "' is not one");
  inner.front().release();
  return std::make_unique<AdaKvPress>(std::unique_ptr<ScorerPress>(scorer), alpha);
}

}  // namespace kvpress
