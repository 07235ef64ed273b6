// ThinK's channel selection written out from spec §2.10 (kvpress think_press.py), in double.
#include "press_reference_channels.h"

#include <algorithm>

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
