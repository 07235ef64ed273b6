// CAMPress (Zhang et al. 2024, "CaM: Cache Merging for Memory-efficient LLMs Inference"; kvpress, spec
// §4.4): a decoding press that, before evicting, merges the values of the best-scored evicted tokens
// into the kept tokens right after them, each merge drawn with probability (its cumulative attention
// over the mean of its window's). Every KV head keeps the same positions (scores averaged over heads).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "press/decoding_press.h"
#include "press/press_args.h"
#include "press/score_utils.h"

namespace kvpress {

class CamPress final : public DecodingPress {
 public:
  CamPress(std::unique_ptr<Press> base, const Options& o, int64_t merge_budget)
      : DecodingPress("cam", std::move(base), o), merge_budget_(merge_budget) {
    if (!base_press().scorer())
      fail("press 'cam' needs a scorer press inside (e.g. cam(knorm)); '", base_press().name(), "' is not one");
  }

  std::string name() const override { return DecodingPress::name() + ",merge_budget=" + std::to_string(merge_budget_); }

  void reset() override {
    DecodingPress::reset();
    attn_sum_.clear();
    rng_.seed(0);  // kvpress draws from torch's global generator; ours is seeded per generation
  }

 protected:
  // Running sum per KV head of the last query's attention (softmax over the head's entries, mean
  // over its query heads); entries appended since the last pass start at 0.
  void on_pass(LayerState& st, const LayerPrefill& layer) override {
    const auto& c = layer.model.config();
    const int64_t H = c.n_heads, d = c.head_dim, G = c.group_size(), Hkv = c.n_heads_kv;
    if ((int64_t)attn_sum_.size() <= layer.layer) attn_sum_.resize((size_t)layer.layer + 1);
    auto& sum = attn_sum_[(size_t)layer.layer];
    sum.resize((size_t)Hkv);
    const Buffer& pass = st.passes.back();
    const float* q = pass.post_rope.data() + (pass.rows() - 1) * H * d;
    const int64_t S = uniform_head_length(layer.cache, layer.layer, "cam");
    std::vector<float> keys((size_t)(S * d));
    std::vector<double> logits((size_t)S);
    const double scale = 1.0 / std::sqrt((double)d);
    for (int64_t g = 0; g < Hkv; ++g) {
      layer.cache.keys(layer.layer, g).read(0, S, keys.data());
      sum[g].resize((size_t)S, 0.0);
      for (int64_t h = g * G; h < (g + 1) * G; ++h) {
        double max_v = -INFINITY;
        for (int64_t j = 0; j < S; ++j) {
          double dot = 0;
          for (int64_t i = 0; i < d; ++i) dot += (double)q[h * d + i] * keys[j * d + i];
          logits[j] = dot * scale;
          max_v = std::max(max_v, logits[j]);
        }
        double z = 0;
        for (int64_t j = 0; j < S; ++j) z += std::exp(logits[j] - max_v);
        for (int64_t j = 0; j < S; ++j) sum[g][j] += std::exp(logits[j] - max_v) / z / (double)G;
      }
    }
  }

  bool triggers(const LayerState& st, const LayerPrefill& layer, int64_t entries, int64_t target) const override {
    return (st.steps >= options().compression_interval && entries > target) || layer.n_tokens >= target;
  }

  void compress_to(LayerState& st, const LayerPrefill& layer, int64_t S, int64_t target) override {
    const int64_t n_evict = S - target;
    if (n_evict <= 0) return;
    ScorerPress& scorer = *base_press().scorer();
    const Buffer rows = concatenated(st);
    observe_buffer(layer, rows);
    HeadScores scores;
    at_ratio(scorer, find_decoding_ratio(S, target), [&] { scorer.score(buffered_pass(layer, rows), scores); });
    const int64_t Hkv = scores.n_heads_kv, d = layer.cache.head_dim();
    std::vector<float> mean((size_t)S, 0.0f);
    for (int64_t j = 0; j < S; ++j) {
      double m = 0;
      for (int64_t g = 0; g < Hkv; ++g) m += scores.head(g)[j];
      mean[j] = (float)(m / (double)Hkv);
    }
    // The target best entries are kept (position order); the rest is evicted.
    const std::vector<int64_t> kept = top_indices(mean.data(), S, target);
    std::vector<char> is_kept((size_t)S, 0);
    for (int64_t j : kept) is_kept[j] = 1;
    std::vector<int64_t> evicted;
    for (int64_t j = 0; j < S; ++j)
      if (!is_kept[j]) evicted.push_back(j);
    // Merge candidates: the `steps` best-scored evicted entries, ties to the later position.
    std::vector<int64_t> candidates = evicted;
    std::stable_sort(candidates.begin(), candidates.end(), [&](int64_t a, int64_t b) {
      return mean[a] > mean[b] || (mean[a] == mean[b] && a > b);
    });
    candidates.resize((size_t)std::min<int64_t>(st.steps, (int64_t)candidates.size()));
    std::sort(candidates.begin(), candidates.end());

    auto& sum = attn_sum_[(size_t)layer.layer];
    std::vector<float> values((size_t)(S * d)), merged;
    for (int64_t g = 0; g < Hkv; ++g) {
      layer.cache.values(layer.layer, g).read(0, S, values.data());
      merged = values;  // contributions read the evicted values as they were
      std::vector<char> touched((size_t)S, 0);
      for (int64_t e : candidates) {
        // The merge window: the next merge_budget kept entries after e.
        const auto first = std::upper_bound(kept.begin(), kept.end(), e);
        const int64_t n_window = std::min<int64_t>(merge_budget_, kept.end() - first);
        double window_attn = 0;
        for (int64_t w = 0; w < n_window; ++w) window_attn += sum[g][first[w]];
        const double mean_attn = window_attn / (double)std::max<int64_t>(n_window, 1);
        double p = sum[g][e] / mean_attn;
        p = std::isnan(p) ? 0.0 : std::isinf(p) ? 1.0 : std::clamp(p, 0.0, 1.0);
        const bool merge = std::bernoulli_distribution(p)(rng_);
        if (!merge || n_window == 0) continue;
        for (int64_t w = 0; w < n_window; ++w) {
          for (int64_t i = 0; i < d; ++i) merged[first[w] * d + i] += values[e * d + i] / (float)n_window;
          touched[first[w]] = 1;
        }
      }
      // Only merged rows are re-encoded: the others keep their stored bytes.
      for (int64_t j = 0; j < S; ++j)
        if (touched[j]) layer.cache.write_values(layer.layer, g, j, 1, merged.data() + j * d);
      layer.cache.keep(layer.layer, g, kept);
      std::vector<double> kept_sum(kept.size());
      for (size_t k = 0; k < kept.size(); ++k) kept_sum[k] = sum[g][kept[k]];
      sum[g] = std::move(kept_sum);
    }
  }

 private:
  int64_t merge_budget_;
  std::vector<std::vector<std::vector<double>>> attn_sum_;  // [layer][KV head][entry]
  std::mt19937_64 rng_{0};
};

template <>
std::unique_ptr<Press> create_press<CamPress>(PressArgs& args) {
  const DecodingPress::Options o = DecodingPress::read_options(args, "cam");
  const int64_t merge_budget = args.integer("merge_budget", 32, 1, 1 << 30);
  auto inner = args.take_inner(1, 1);
  if (args.describing()) return nullptr;
  return std::make_unique<CamPress>(std::move(inner.front()), o, merge_budget);
}

}  // namespace kvpress
