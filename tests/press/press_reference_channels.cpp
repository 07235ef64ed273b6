// ThinK's channel selection written out from spec §2.10 (kvpress think_press.py), in double.
#include "press_reference_channels.h"

#include <algorithm>
#include <cmath>

namespace kvpress::testing {

std::vector<std::vector<int32_t>> ref_think_kept_channels(const LayerSnapshot& s, const ModelConfig& c,
                                                          double key_channel_ratio, int64_t window_size) {
  const int64_t d = c.head_dim, H = c.n_heads, Hkv = c.n_heads_kv, G = H / Hkv, T = s.n_tokens;
  const int64_t w = std::min(window_size, T);
  const int64_t n_pruned = (int64_t)((double)d * key_channel_ratio);
  std::vector<std::vector<int32_t>> kept((size_t)Hkv);
  for (int64_t g = 0; g < Hkv; ++g) {
    // queries_norm: (q^2).mean over the window, then over the group's heads.
    std::vector<double> qn((size_t)d, 0.0);
    for (int64_t k = 0; k < G; ++k) {
      const int64_t h = g * G + k;
      for (int64_t i = 0; i < d; ++i) {
        double m = 0;
        for (int64_t t = T - w; t < T; ++t) {
          const double q = s.queries[(t * H + h) * d + i];
          m += q * q;
        }
        qn[i] += m / (double)w / (double)G;
      }
    }
    // keys_norm: (k^2).mean over the sequence.
    const int64_t S = s.length(g);
    std::vector<std::pair<double, int32_t>> score;
    for (int64_t i = 0; i < d; ++i) {
      double kn = 0;
      for (int64_t j = 0; j < S; ++j) {
        const double k = s.keys[g][j * d + i];
        kn += k * k;
      }
      score.emplace_back(qn[i] * (kn / (double)S), (int32_t)i);
    }
    std::sort(score.begin(), score.end());  // ascending score, then channel
    for (int64_t i = n_pruned; i < d; ++i) kept[g].push_back(score[i].second);
    std::sort(kept[g].begin(), kept[g].end());
  }
  return kept;
}

}  // namespace kvpress::testing

namespace kvpress::testing {

std::vector<std::vector<double>> ref_finch_scores(const LayerSnapshot& s, const ModelConfig& c, int64_t w,
                                                  bool normalize) {
  const int64_t d = c.head_dim, H = c.n_heads, Hkv = c.n_heads_kv, G = H / Hkv, T = s.n_tokens;
  const int64_t S = s.length(0), n = S - w;
  std::vector<std::vector<double>> out((size_t)Hkv, std::vector<double>((size_t)S, 0.0));
  double max_score = -INFINITY;
  for (int64_t g = 0; g < Hkv; ++g) {
    for (int64_t k = 0; k < G; ++k) {
      const int64_t h = g * G + k;
      for (int64_t i = 0; i < w; ++i) {
        const int64_t t = T - w + i;
        std::vector<double> logit((size_t)S, -INFINITY);
        double mx = -INFINITY;
        for (int64_t j = 0; j < S; ++j) {
          if (s.key_positions[g][j] > s.positions[t]) continue;
          double dot = 0;
          for (int64_t e = 0; e < d; ++e) dot += (double)s.queries[(t * H + h) * d + e] * s.keys[g][j * d + e];
          logit[j] = dot / std::sqrt((double)d);
          mx = std::max(mx, logit[j]);
        }
        double z = 0;
        for (int64_t j = 0; j < S; ++j) z += std::isinf(logit[j]) ? 0.0 : std::exp(logit[j] - mx);
        const double scale = normalize ? (double)(S - w + i) : 1.0;
        for (int64_t j = 0; j < n; ++j)
          if (!std::isinf(logit[j])) out[g][j] += std::exp(logit[j] - mx) / z * scale / (double)w / (double)G;
      }
    }
    for (int64_t j = 0; j < n; ++j) max_score = std::max(max_score, out[g][j]);
  }
  for (auto& row : out)
    for (int64_t j = n; j < S; ++j) row[j] = max_score + 1;
  return out;
}

void ref_rotate(std::vector<double>& key, const ModelConfig& c, int64_t delta) {
  const int64_t d = c.head_dim, half = d / 2;
  const bool adjacent = c.arch == "llama";
  for (int64_t i = 0; i < half; ++i) {
    const double angle = (double)delta * std::pow((double)c.rope_base, -2.0 * (double)i / (double)d);
    const int64_t a = adjacent ? 2 * i : i, b = adjacent ? 2 * i + 1 : i + half;
    const double x0 = key[a], x1 = key[b];
    key[a] = x0 * std::cos(angle) - x1 * std::sin(angle);
    key[b] = x0 * std::sin(angle) + x1 * std::cos(angle);
  }
}

}  // namespace kvpress::testing
