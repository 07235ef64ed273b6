// ExpectedAttentionPress (Devoto et al. 2025, "Expected Attention: KV Cache Compression by Estimating
// Attention from Future Queries Distribution", kvpress's flagship): model future queries as a
// Gaussian from the context's pre-RoPE query statistics, rotated by the RoPE averaged over the next
// n_future_positions positions, and score each key by the attention it would receive (spec §2.3):
//   z = <mu', k>/sqrt(d) + k^T Sigma' k / (2d),  a = softmax(z),  score = (mean_group(a) + eps) * ||v||.
#include <algorithm>
#include <cmath>
#include <limits>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "kernels/kernels.h"
#include "press/press_args.h"
#include "press/query_stats.h"
#include "press/query_stats_file.h"
#include "press/score_utils.h"

namespace kvpress {

class ExpectedAttentionPress : public ScorerPress {
 public:
  struct Options {
    int64_t n_future_positions = 512;
    int64_t n_sink = 4;
    bool use_covariance = true;
    bool use_vnorm = true;
    double epsilon = 0.0;
    // ExpectedAttentionStatsPress: the query mean and covariance come from stats_file (query_stats_file.h)
    // instead of the context's queries.
    bool from_stats_file = false;
    std::string stats_file;
  };
  explicit ExpectedAttentionPress(const Options& o) : ScorerPress(0.0), o_(o) {}

  // Only the query statistics, gathered chunk by chunk: the pass keeps no queries for this press.
  ObservationNeeds needs() const override { return {0, false}; }
  void observe(const LayerChunk& chunk) override {
    if (o_.from_stats_file) return;  // pre-computed statistics
    if (chunk.first == 0) stats_.start(chunk.layer, chunk.model.config(), o_.use_covariance);
    const int64_t skip = std::max<int64_t>(0, o_.n_sink - chunk.first);  // sinks are not queries here
    if (skip < chunk.n) stats_.add(chunk.queries_pre_rope + skip * stats_.row_size(), chunk.n - skip, chunk.pool);
  }

  std::string name() const override {
    std::string head = o_.from_stats_file ? "expected_attention_with_stats:" : "expected_attention_press:";
    if (!o_.stats_file.empty()) head += "stats_file=" + o_.stats_file + ",";
    return head + "n_future_positions=" + std::to_string(o_.n_future_positions) +
           ",n_sink=" + std::to_string(o_.n_sink) + ",use_covariance=" + (o_.use_covariance ? "true" : "false") +
           ",use_vnorm=" + (o_.use_vnorm ? "true" : "false") + ",epsilon=" + format_number(o_.epsilon);
  }

  void reset() override { stats_ = {}; }

  void score(const LayerPrefill& layer, HeadScores& scores) override {
    const auto& c = layer.model.config();
    const int64_t H = c.n_heads, Hkv = c.n_heads_kv, d = c.head_dim, G = c.group_size();
    const int64_t T = layer.n_tokens, n_sink = o_.n_sink;
    // Heads may differ in length (inside adakv, after an earlier compression): each is scored alone.
    const std::vector<int64_t> lengths = head_lengths(layer.cache, layer.layer);
    const int64_t S = *std::max_element(lengths.begin(), lengths.end());
    const int64_t S_min = *std::min_element(lengths.begin(), lengths.end());
    if (S_min <= n_sink || T <= n_sink)
      fail("press 'expected_attention_press' needs more context tokens than n_sink=", n_sink, " (layer ",
           layer.layer, " has ", T, " tokens, ", S_min, " cache entries)");
    const int64_t N = T - n_sink, n = S - n_sink;

    const QueryStatsFile* file = !o_.from_stats_file ? nullptr : &loaded_stats(c);
    if (!file && (stats_.layer != layer.layer || stats_.count != N))
      fail("press 'expected_attention_press': no query statistics for layer ", layer.layer,
           " (the prefill must pass its chunks to the press)");
    // kvpress averages the rotation over positions q_len .. q_len + n_future - 1.
    const MeanRotation rot(layer.model.rope(), T, o_.n_future_positions);

    std::vector<float> attn((size_t)(H * n), 0.0f);  // softmax over the non-sink keys, per query head
    std::vector<double> mu((size_t)d), sigma((size_t)(d * d)), z((size_t)n);
    std::vector<float> keys_f32((size_t)(n * d)), values_f32;  // one KV head's stored rows, decoded
    std::vector<float> sigma_f((size_t)(d * d)), key_sigma;
    const float inv_sqrt_d = 1.0f / std::sqrt((float)d);
    for (int64_t h = 0; h < H; ++h) {
      // Mean and biased covariance of this head's queries, from the shifted moments.
      if (file) {  // kvpress: the stored statistics, rotated by the mean RoPE of this pass's future positions
        const size_t at = (size_t)((layer.layer * H + h) * d);
        for (int64_t i = 0; i < d; ++i) mu[i] = file->mean[at + i];
        if (o_.use_covariance)
          for (int64_t i = 0; i < d * d; ++i) sigma[i] = file->cov[at * d + i];
      } else {
        stats_.moments(h, mu.data(), o_.use_covariance ? sigma.data() : nullptr);
      }
      if (o_.use_covariance) {
        // Sigma' = R Sigma R^T: rotate every column, then every row.
        for (int64_t col = 0; col < d; ++col) rot.apply(&sigma[col], d);
        for (int64_t row = 0; row < d; ++row) rot.apply(&sigma[row * d], 1);
        for (int64_t i = 0; i < d * d; ++i) sigma_f[i] = (float)sigma[i];
      }
      rot.apply(mu.data(), 1);  // mu' = R mu

      // Logits of the non-sink keys of this head's KV head (decoded once per KV head).
      const int64_t n_h = lengths[h / G] - n_sink;
      if (h % G == 0) layer.cache.keys(layer.layer, h / G).read(n_sink, n_h, keys_f32.data());
      const float* keys = keys_f32.data();
      if (o_.use_covariance) {
        key_sigma.resize((size_t)(n * d));  // [n, d]: Sigma' k_j
        kernels::matmul(f32_matrix(sigma_f.data(), d, d), keys, n_h, d, key_sigma.data(), d, layer.pool);
      }
      double max_z = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < n_h; ++j) {
        const float* k = keys + j * d;
        double lin = 0, quad = 0;
        for (int64_t i = 0; i < d; ++i) lin += mu[i] * k[i];
        if (o_.use_covariance)
          for (int64_t i = 0; i < d; ++i) quad += (double)k[i] * key_sigma[j * d + i];
        const double v = lin * inv_sqrt_d + quad / (2.0 * (double)d);
        z[j] = v;
        max_z = std::max(max_z, v);
      }
      double sum = 0;
      for (int64_t j = 0; j < n_h; ++j) sum += std::exp(z[j] - max_z);
      for (int64_t j = 0; j < n_h; ++j) attn[h * n + j] = (float)(std::exp(z[j] - max_z) / sum);
    }

    std::vector<float> s = group_mean(attn, H, Hkv, n);  // [Hkv, n]
    if (o_.use_vnorm) {
      values_f32.resize((size_t)(n * d));
      for (int64_t g = 0; g < Hkv; ++g) {
        const int64_t n_g = lengths[g] - n_sink;
        layer.cache.values(layer.layer, g).read(n_sink, n_g, values_f32.data());
        const float* values = values_f32.data();
        for (int64_t j = 0; j < n_g; ++j) {
          double norm = 0;
          for (int64_t i = 0; i < d; ++i) norm += (double)values[j * d + i] * values[j * d + i];
          s[g * n + j] = (float)(((double)s[g * n + j] + o_.epsilon) * std::sqrt(norm));
        }
      }
    }
    const float protect = protection_score(s);  // sinks always kept
    scores.resize(lengths);
    for (int64_t g = 0; g < Hkv; ++g)
      for (int64_t j = 0; j < lengths[g]; ++j) scores.head(g)[j] = j < n_sink ? protect : s[g * n + j - n_sink];
  }

 private:
  // The stats file, read once and checked against the model.
  const QueryStatsFile& loaded_stats(const ModelConfig& c) {
    if (o_.stats_file.empty())
      fail("press 'expected_attention_with_stats' needs stats_file=PATH, a file written by `kvpress query-stats` ",
           "(e.g. expected_attention_with_stats:stats_file=stats.bin)");
    if (!file_stats_) {
      auto s = std::make_shared<QueryStatsFile>(read_query_stats_file(o_.stats_file));
      file_stats_ = std::move(s);
    }
    const QueryStatsFile& s = *file_stats_;
    if (s.n_layers != c.n_layers || s.n_heads != c.n_heads || s.head_dim != c.head_dim)
      fail(o_.stats_file, ": query statistics of ", s.n_layers, " layers x ", s.n_heads, " heads x head_dim ", s.head_dim,
           " (model '", s.model_name, "'), but this model has ", c.n_layers, " x ", c.n_heads, " x ", c.head_dim);
    return s;
  }

  Options o_;
  QueryStats stats_;
  std::shared_ptr<const QueryStatsFile> file_stats_;
};

// ExpectedAttentionStatsPress (spec §2.22): ExpectedAttention with the query statistics of a calibration
// set read from stats_file (written by `kvpress query-stats`) instead of the context's own queries.
class ExpectedAttentionStatsPress final : public ExpectedAttentionPress {
 public:
  using ExpectedAttentionPress::ExpectedAttentionPress;
};

template <>
std::unique_ptr<Press> create_press<ExpectedAttentionPress>(PressArgs& args) {
  ExpectedAttentionPress::Options o;
  o.n_future_positions = args.integer("n_future_positions", o.n_future_positions, 1, 1 << 24);
  o.n_sink = args.integer("n_sink", o.n_sink, 0, 1 << 30);
  o.use_covariance = args.boolean("use_covariance", o.use_covariance);
  o.use_vnorm = args.boolean("use_vnorm", o.use_vnorm);
  o.epsilon = args.real("epsilon", o.epsilon, 0.0, 1e6);
  if (args.describing()) return nullptr;
  return std::make_unique<ExpectedAttentionPress>(o);
}

template <>
std::unique_ptr<Press> create_press<ExpectedAttentionStatsPress>(PressArgs& args) {
  ExpectedAttentionPress::Options o;
  o.from_stats_file = true;
  // A path as a parameter value: the specification grammar allows any characters but spaces , ( ) : =.
  o.stats_file = args.text("stats_file", "");
  o.n_future_positions = args.integer("n_future_positions", o.n_future_positions, 1, 1 << 24);
  o.n_sink = args.integer("n_sink", o.n_sink, 0, 1 << 30);
  o.use_covariance = args.boolean("use_covariance", o.use_covariance);
  o.use_vnorm = args.boolean("use_vnorm", o.use_vnorm);
  o.epsilon = args.real("epsilon", o.epsilon, 0.0, 1e6);
  if (args.describing()) return nullptr;
  // The file is read (and checked against the model) when the press first compresses.
  return std::make_unique<ExpectedAttentionStatsPress>(o);
}

}  // namespace kvpress
