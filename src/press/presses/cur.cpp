// CURPress (Sengupta et al. 2025, "Value-Guided KV Compression for LLMs via Approximated CUR
// Decomposition", CurDKV): approximate leverage scores of keys and values from their squared norms,
// optionally after a random projection and normalised within local windows, combined per
// leverage_type and normalised over the sequence; the first num_sinks tokens get 1 (spec §2.22).
#include <algorithm>
#include <vector>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "press/gaussian.h"
#include "press/press_args.h"
#include "press/score_utils.h"

namespace kvpress {

class CurPress final : public ScorerPress {
 public:
  enum class Leverage { Key, Value, KvAvg, KvProduct };
  struct Options {
    int64_t num_sinks = 4;
    std::string leverage_type = "kv_product";
    bool use_random_leverage = false;
    bool use_local_approximation = true;
    int64_t local_window_size = 16;
  };
  static constexpr int64_t kProjection = 20;  // kvpress's r: columns of the random projection

  explicit CurPress(const Options& o) : ScorerPress(0.0), o_(o), gauss_(kSketchSeed) {
    leverage_ = o.leverage_type == "key"     ? Leverage::Key
                : o.leverage_type == "value" ? Leverage::Value
                : o.leverage_type == "kv_avg" ? Leverage::KvAvg
                                              : Leverage::KvProduct;
  }
  ObservationNeeds needs() const override { return {0, false}; }  // the cache only
  void reset() override { gauss_.reseed(kSketchSeed); }
  std::string name() const override {
    return "cur:num_sinks=" + std::to_string(o_.num_sinks) + ",leverage_type=" + o_.leverage_type +
           ",use_random_leverage=" + (o_.use_random_leverage ? "true" : "false") +
           ",use_local_approximation=" + (o_.use_local_approximation ? "true" : "false") +
           ",local_window_size=" + std::to_string(o_.local_window_size);
  }

  void score(const LayerPrefill& layer, HeadScores& scores) override {
    const KvCache& cache = layer.cache;
    const int64_t d = cache.head_dim();
    const std::vector<int64_t> lengths = head_lengths(cache, layer.layer);  // heads are scored alone
    const int64_t S_max = *std::max_element(lengths.begin(), lengths.end());
    // One projection G ~ N(0, 1/r) [d, r] per call, shared by every head (kvpress draws it fresh;
    // ours continues a seeded sequence).
    std::vector<double> G;
    if (o_.use_random_leverage) {
      G.resize((size_t)(d * kProjection));
      for (double& g : G) g = gauss_.next() / std::sqrt((double)kProjection);
    }
    scores.resize(lengths);
    std::vector<float> rows((size_t)(S_max * d));
    std::vector<double> k2((size_t)S_max), v2((size_t)S_max), s((size_t)S_max);
    for (int64_t h = 0; h < cache.n_heads_kv(); ++h) {
      const int64_t S = lengths[h];
      cache.keys(layer.layer, h).read(0, S, rows.data());
      squared_norms(rows.data(), S, d, G, k2.data());
      cache.values(layer.layer, h).read(0, S, rows.data());
      squared_norms(rows.data(), S, d, G, v2.data());
      if (o_.use_local_approximation) {
        local_normalise(k2.data(), S);
        local_normalise(v2.data(), S);
      }
      double total = 0;
      for (int64_t j = 0; j < S; ++j) {
        switch (leverage_) {
          case Leverage::Key: s[j] = k2[j]; break;
          case Leverage::Value: s[j] = v2[j]; break;
          case Leverage::KvAvg: s[j] = (k2[j] + v2[j]) / 2.0; break;
          case Leverage::KvProduct: s[j] = k2[j] * v2[j]; break;
        }
        total += s[j];
      }
      for (int64_t j = 0; j < S; ++j) scores.head(h)[j] = j < o_.num_sinks ? 1.0f : (float)(s[j] / total);
    }
  }

 private:
  // ||x||^2 of each row, or ||x G||^2 with the projection.
  static void squared_norms(const float* rows, int64_t S, int64_t d, const std::vector<double>& G, double* out) {
    for (int64_t j = 0; j < S; ++j) {
      const float* x = rows + j * d;
      double sum = 0;
      if (G.empty()) {
        for (int64_t i = 0; i < d; ++i) sum += (double)x[i] * x[i];
      } else {
        for (int64_t c = 0; c < kProjection; ++c) {
          double y = 0;
          for (int64_t i = 0; i < d; ++i) y += (double)x[i] * G[i * kProjection + c];
          sum += y * y;
        }
      }
      out[j] = sum;
    }
  }
  // Each window of local_window_size consecutive entries divided by its sum (the last window is
  // zero-padded in kvpress, which does not change its sum).
  void local_normalise(double* x, int64_t S) const {
    const int64_t w = o_.local_window_size;
    for (int64_t begin = 0; begin < S; begin += w) {
      const int64_t end = std::min(S, begin + w);
      double sum = 0;
      for (int64_t j = begin; j < end; ++j) sum += x[j];
      for (int64_t j = begin; j < end; ++j) x[j] /= sum;
    }
  }

  Options o_;
  Leverage leverage_;
  GaussianDraws gauss_;
};

template <>
std::unique_ptr<Press> create_press<CurPress>(PressArgs& args) {
  CurPress::Options o;
  o.num_sinks = args.integer("num_sinks", o.num_sinks, 0, 1 << 30);
  o.leverage_type = args.choice("leverage_type", o.leverage_type, {"key", "value", "kv_avg", "kv_product"});
  o.use_random_leverage = args.boolean("use_random_leverage", o.use_random_leverage);
  o.use_local_approximation = args.boolean("use_local_approximation", o.use_local_approximation);
  o.local_window_size = args.integer("local_window_size", o.local_window_size, 1, 1 << 30);
  if (args.describing()) return nullptr;
  return std::make_unique<CurPress>(o);
}

}  // namespace kvpress
