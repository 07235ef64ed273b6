// LagKVPress (Liang et al. 2025, "LagKV: Lag-Relative Information of the KV Cache Tells Which Tokens
// Are Important"): attention-free. The context after the sinks is cut into partitions of lag_size;
// a token of partition p is scored by how much its key and value, scaled to the per-channel min/max
// of partition p + 1, spread over the channels (spec §2.18). The sinks and the last full partition
// with the remainder are always kept.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "cache/kv_cache.h"
#include "press/press_args.h"
#include "press/score_utils.h"

namespace kvpress {
namespace {

// Softmax over the lag tokens of one partition of the standard deviation (unbiased, over channels)
// of each token's rows scaled to the next partition's per-channel range. rows: [S, d] of one head.
// A channel constant over the reference partition divides by zero (kvpress's behaviour: inf/NaN).
void lag_softmax(const float* rows, int64_t d, int64_t begin, int64_t lag, double* out) {
  std::vector<double> lo((size_t)d, INFINITY), hi((size_t)d, -INFINITY);
  for (int64_t t = begin + lag; t < begin + 2 * lag; ++t)
    for (int64_t i = 0; i < d; ++i) {
      lo[i] = std::min(lo[i], (double)rows[t * d + i]);
      hi[i] = std::max(hi[i], (double)rows[t * d + i]);
    }
  std::vector<double> x((size_t)d);
  double max_sigma = -INFINITY;
  for (int64_t k = 0; k < lag; ++k) {
    const float* row = rows + (begin + k) * d;
    double mean = 0;
    for (int64_t i = 0; i < d; ++i) mean += (x[i] = ((double)row[i] - lo[i]) / (hi[i] - lo[i]));
    mean /= (double)d;
    double sq = 0;
    for (int64_t i = 0; i < d; ++i) sq += (x[i] - mean) * (x[i] - mean);
    out[k] = std::sqrt(sq / (double)(d - 1));
    max_sigma = std::max(max_sigma, out[k]);
  }
  double sum = 0;
  for (int64_t k = 0; k < lag; ++k) sum += (out[k] = std::exp(out[k] - max_sigma));
  for (int64_t k = 0; k < lag; ++k) out[k] /= sum;
}

}  // namespace

class LagKvPress final : public ScorerPress {
 public:
  LagKvPress(int64_t n_sink, int64_t lag_size, bool cross_scoring)
      : ScorerPress(0.0), n_sink_(n_sink), lag_(lag_size), cross_scoring_(cross_scoring) {}
  ObservationNeeds needs() const override { return {0, false}; }  // the cache only
  std::string name() const override {
    return "lagkv:n_sink=" + std::to_string(n_sink_) + ",lag_size=" + std::to_string(lag_) +
           ",cross_scoring=" + (cross_scoring_ ? "true" : "false");
  }

  void score(const LayerPrefill& layer, HeadScores& scores) override {
    const KvCache& cache = layer.cache;
    const int64_t S = uniform_head_length(cache, layer.layer, "lagkv"), d = cache.head_dim();
    scores.resize(cache.n_heads_kv(), S);
    if (S < n_sink_ + 2 * lag_) {
      // Too short for two partitions: sinks at 1, then increasing with position (recency order).
      for (int64_t h = 0; h < scores.n_heads_kv; ++h)
        for (int64_t j = 0; j < S; ++j)
          scores.head(h)[j] = j < n_sink_ ? 1.0f : (float)(j - n_sink_) / (float)(S - n_sink_);
      return;
    }
    const int64_t end = n_sink_ + (S - n_sink_) / lag_ * lag_;
    const int64_t n_scored = end - lag_;  // partitions 0 .. m-2 have a reference after them
    std::vector<float> keys((size_t)(S * d)), values((size_t)(S * d));
    std::vector<double> fk((size_t)lag_), fv((size_t)lag_), s((size_t)lag_);
    std::vector<int64_t> order((size_t)lag_);
    for (int64_t h = 0; h < scores.n_heads_kv; ++h) {
      cache.keys(layer.layer, h).read(0, S, keys.data());
      cache.values(layer.layer, h).read(0, S, values.data());
      float* out = scores.head(h);
      std::fill(out, out + S, 1.0f);  // sinks and the tail
      for (int64_t begin = n_sink_; begin < n_scored; begin += lag_) {
        lag_softmax(keys.data(), d, begin, lag_, fk.data());
        lag_softmax(values.data(), d, begin, lag_, fv.data());
        for (int64_t k = 0; k < lag_; ++k) s[k] = (fk[k] + fv[k]) / 2.0;
        if (cross_scoring_) {
          for (int64_t k = 0; k < lag_; ++k) out[begin + k] = (float)s[k];
          continue;
        }
        // Rank within the partition (argsort of argsort, ascending) / lag: torch sorts NaN last
        // (largest); ties go to the lower index.
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
          if (std::isnan(s[a]) || std::isnan(s[b])) return !std::isnan(s[a]) && std::isnan(s[b]);
          return s[a] < s[b];
        });
        for (int64_t r = 0; r < lag_; ++r) out[begin + order[r]] = (float)r / (float)lag_;
      }
    }
  }

 private:
  int64_t n_sink_;
  int64_t lag_;
  bool cross_scoring_;
};

template <>
std::unique_ptr<Press> create_press<LagKvPress>(PressArgs& args) {
  const int64_t n_sink = args.integer("n_sink", 4, 0, 1 << 30);
  const int64_t lag_size = args.integer("lag_size", 128, 1, 1 << 30);
  const bool cross_scoring = args.boolean("cross_scoring", false);
  if (args.describing()) return nullptr;
  return std::make_unique<LagKvPress>(n_sink, lag_size, cross_scoring);
}

}  // namespace kvpress
