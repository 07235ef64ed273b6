// MergingPress (kvpress's merge-on-evict wrapper, after Token Merging, Bolya et al. 2023, and D2O, Wan
// et al. 2024; spec §2.22): the inner scorer picks the kept entries as usual, then the value of every
// evicted entry is folded into the kept entry whose key is most cosine-similar, weighted by the
// similarity and by the evicted value's share of the two value norms:
//   w_e = max(sim, 0) * ok_e * |v_e| / (|v_e| + |v_t| + 1e-6),   v_t <- (v_t + sum_e w_e v_e) / (1 + sum_e w_e)
// Keys are never changed (RoPE stays exact); merged value rows are re-encoded in the cache's type.
#include <algorithm>
#include <cmath>
#include <limits>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "press/press_args.h"
#include "press/score_utils.h"
#include "press/scorer_wrapper.h"

namespace kvpress {
namespace {

constexpr double kEps = 1e-6;  // kvpress's _EPS (norm clamp and weight denominator)

std::vector<double> row_norms(const std::vector<float>& rows, int64_t n, int64_t d) {
  std::vector<double> out((size_t)n);
  for (int64_t j = 0; j < n; ++j) {
    double s = 0;
    for (int64_t i = 0; i < d; ++i) s += (double)rows[j * d + i] * rows[j * d + i];
    out[j] = std::sqrt(s);
  }
  return out;
}

// torch.quantile(x, q) with linear interpolation, including its lerp (a -inf neighbour gives NaN).
double quantile(std::vector<double> x, double q) {
  std::sort(x.begin(), x.end());
  const double rank = q * (double)(x.size() - 1);
  const size_t lo = (size_t)std::floor(rank), hi = (size_t)std::ceil(rank);
  const double w = rank - (double)lo, a = x[lo], b = x[hi];
  return w < 0.5 ? a + w * (b - a) : b - (b - a) * (1.0 - w);
}

}  // namespace

class MergingPress final : public ScorerWrapper {
 public:
  MergingPress(std::unique_ptr<ScorerPress> inner, double similarity_threshold, double merge_fraction)
      : ScorerWrapper(std::move(inner)), threshold_(similarity_threshold), merge_fraction_(merge_fraction) {}

  std::string name() const override {
    return "merging(" + inner().name() + "):similarity_threshold=" + format_number(threshold_) +
           ",merge_fraction=" + format_number(merge_fraction_);
  }

  void compress(const LayerPrefill& layer) override {
    if (compression_ratio() == 0.0) return;
    const int64_t S = uniform_head_length(layer.cache, layer.layer, "merging");
    HeadScores scores;
    inner().score(layer, scores);
    const int64_t n_kept = inner().kept_entries(layer, S), d = layer.cache.head_dim();
    std::vector<float> keys((size_t)(S * d)), values((size_t)(S * d));
    for (int64_t h = 0; h < layer.cache.n_heads_kv(); ++h) {
      const std::vector<int64_t> kept = top_indices(scores.head(h), S, n_kept);
      if (n_kept == 0 || n_kept == S) {
        layer.cache.keep(layer.layer, h, kept);
        continue;
      }
      layer.cache.keys(layer.layer, h).read(0, S, keys.data());
      layer.cache.values(layer.layer, h).read(0, S, values.data());
      std::vector<float> merged = merge(keys, values, kept, S, d);
      layer.cache.keep(layer.layer, h, kept);
      if (!merged.empty()) layer.cache.write_values(layer.layer, h, 0, n_kept, merged.data());
    }
  }

 private:
  // The kept entries' values [n_kept, d] after merging, or empty when no evicted entry merges.
  std::vector<float> merge(const std::vector<float>& keys, const std::vector<float>& values,
                           const std::vector<int64_t>& kept, int64_t S, int64_t d) const {
    const int64_t n_kept = (int64_t)kept.size();
    std::vector<bool> is_kept((size_t)S, false);
    for (int64_t j : kept) is_kept[j] = true;
    std::vector<int64_t> evicted;
    for (int64_t j = 0; j < S; ++j)
      if (!is_kept[j]) evicted.push_back(j);
    const std::vector<double> key_norm = row_norms(keys, S, d), value_norm = row_norms(values, S, d);
    // Nearest kept key by cosine similarity (fp32 in kvpress; double here), the first on ties.
    std::vector<double> sim(evicted.size(), -std::numeric_limits<double>::infinity());
    std::vector<int64_t> target(evicted.size(), 0);
    for (size_t e = 0; e < evicted.size(); ++e) {
      const float* ke = &keys[evicted[e] * d];
      const double ne = std::max(key_norm[evicted[e]], kEps);
      for (int64_t t = 0; t < n_kept; ++t) {
        const float* kt = &keys[kept[t] * d];
        double dot = 0;
        for (int64_t i = 0; i < d; ++i) dot += (double)ke[i] * kt[i];
        const double s = dot / (ne * std::max(key_norm[kept[t]], kEps));
        if (s > sim[e]) {
          sim[e] = s;
          target[e] = t;
        }
      }
    }
    std::vector<bool> ok(evicted.size());
    bool any = false;
    for (size_t e = 0; e < evicted.size(); ++e) any |= (ok[e] = sim[e] >= threshold_);
    if (merge_fraction_ < 1.0 && any) {
      // Only the top merge_fraction by similarity; failed ones sink to -inf before the quantile.
      std::vector<double> gated(evicted.size());
      for (size_t e = 0; e < evicted.size(); ++e) gated[e] = ok[e] ? sim[e] : -std::numeric_limits<double>::infinity();
      const double cut = quantile(gated, 1.0 - merge_fraction_);
      for (size_t e = 0; e < evicted.size(); ++e) ok[e] = ok[e] && sim[e] >= cut;
    }
    std::vector<double> accum((size_t)(n_kept * d), 0.0), weight((size_t)n_kept, 0.0);
    for (size_t e = 0; e < evicted.size(); ++e) {
      if (!ok[e]) continue;
      const int64_t t = target[e];
      const double ve = value_norm[evicted[e]], vt = value_norm[kept[t]];
      const double w = std::max(sim[e], 0.0) * ve / (ve + vt + kEps);
      for (int64_t i = 0; i < d; ++i) accum[t * d + i] += w * values[evicted[e] * d + i];
      weight[t] += w;
    }
    if (std::none_of(weight.begin(), weight.end(), [](double w) { return w > 0; })) return {};
    std::vector<float> out((size_t)(n_kept * d));
    for (int64_t t = 0; t < n_kept; ++t)
      for (int64_t i = 0; i < d; ++i) {
        const double v = values[kept[t] * d + i];
        out[t * d + i] = weight[t] > 0 ? (float)((v + accum[t * d + i]) / (1.0 + weight[t])) : (float)v;
      }
    return out;
  }

  double threshold_;
  double merge_fraction_;
};

template <>
std::unique_ptr<Press> create_press<MergingPress>(PressArgs& args) {
  const double threshold = args.real("similarity_threshold", 0.0, 0.0, 1.0);
  const double fraction = args.real("merge_fraction", 1.0, 0.0, 1.0);
  auto inner = take_scorer(args);
  if (args.describing()) return nullptr;
  if (!(fraction > 0.0)) fail("press 'merging': merge_fraction must be in (0, 1], got ", format_number(fraction));
  return std::make_unique<MergingPress>(std::move(inner), threshold, fraction);
}

}  // namespace kvpress
