// Plain double-loop re-derivations for press_scores_extra_test.cpp (see press_reference_extra.h).
#include "press_reference_extra.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <tuple>

namespace kvpress::testing {

std::vector<RefScores> ref_kvzip_scores(const std::vector<RefRepeatPass>& passes, const ModelConfig& c, int64_t N,
                                        int64_t n_sink, bool plus,
                                        const std::vector<std::vector<std::vector<double>>>& wo) {
  const int64_t L = c.n_layers, H = c.n_heads, Hkv = c.n_heads_kv, G = H / Hkv, d = c.head_dim, D = c.n_embd;
  std::vector<RefScores> out((size_t)L, RefScores((size_t)Hkv, std::vector<double>((size_t)N, 0.0)));
  for (auto& layer : out)
    for (auto& row : layer)
      for (int64_t j = 0; j < std::min(n_sink, N); ++j) row[(size_t)j] = 1.0;
  for (const auto& pass : passes)
    for (int64_t l = 0; l < L; ++l) {
      const LayerSnapshot& s = pass.layers[(size_t)l];
      const int64_t Tr = s.n_tokens, sk = std::min(n_sink, pass.st);
      // Sub-key cache indices: sinks, the chunk, the repeat tokens.
      std::vector<int64_t> cols;
      for (int64_t j = 0; j < sk; ++j) cols.push_back(j);
      for (int64_t j = pass.st; j < pass.en; ++j) cols.push_back(j);
      for (int64_t j = 0; j < Tr; ++j) cols.push_back(N + j);
      const int64_t n_cols = (int64_t)cols.size(), n_chunk = pass.en - pass.st;
      for (int64_t h = 0; h < H; ++h) {
        const int64_t kv = h / G;
        // ||Wo_h v_s|| for the chunk's values.
        std::vector<double> wov((size_t)n_chunk, 1.0);
        if (plus)
          for (int64_t cidx = 0; cidx < n_chunk; ++cidx) {
            const float* v = &s.values[(size_t)kv][(size_t)((pass.st + cidx) * d)];
            double n2 = 0;
            for (int64_t o = 0; o < D; ++o) {
              double y = 0;
              for (int64_t e = 0; e < d; ++e) y += wo[(size_t)l][(size_t)o][(size_t)(h * d + e)] * v[e];
              n2 += y * y;
            }
            wov[(size_t)cidx] = std::sqrt(n2);
          }
        for (int64_t t = 0; t < Tr; ++t) {
          const float* q = &s.queries[(size_t)((t * H + h) * d)];
          std::vector<double> logit((size_t)n_cols, -INFINITY);
          double m = -INFINITY;
          for (int64_t k = 0; k < n_cols; ++k) {
            if (k >= sk + n_chunk && k - (sk + n_chunk) > t) continue;  // causal among repeat keys
            const float* key = &s.keys[(size_t)kv][(size_t)(cols[(size_t)k] * d)];
            double dot = 0;
            for (int64_t e = 0; e < d; ++e) dot += (double)q[e] * key[e];
            logit[(size_t)k] = dot / std::sqrt((double)d);
            m = std::max(m, logit[(size_t)k]);
          }
          double z = 0;
          for (double x : logit) z += std::isinf(x) ? 0.0 : std::exp(x - m);
          double inv_h = 1.0;
          if (plus) {
            double n2 = 0;
            for (int64_t e = 0; e < D; ++e) n2 += (double)s.hidden_normed[(size_t)(t * D + e)] * s.hidden_normed[(size_t)(t * D + e)];
            inv_h = 1.0 / std::sqrt(n2);
          }
          for (int64_t cidx = 0; cidx < n_chunk; ++cidx) {
            const double a = std::exp(logit[(size_t)(sk + cidx)] - m) / z * inv_h * wov[(size_t)cidx];
            double& dst = out[(size_t)l][(size_t)kv][(size_t)(pass.st + cidx)];
            // The first query head of a group and the first query overwrite (score_val[st:en] = max).
            dst = (t == 0 && h % G == 0) ? a : std::max(dst, a);
          }
        }
      }
    }
  return out;
}

std::vector<std::vector<std::vector<bool>>> ref_kvzip_pruned(const std::vector<RefScores>& scores, double ratio,
                                                             bool layerwise) {
  const size_t L = scores.size(), Hkv = scores[0].size(), N = scores[0][0].size();
  std::vector<std::vector<std::vector<bool>>> pruned(L, std::vector<std::vector<bool>>(Hkv, std::vector<bool>(N, false)));
  // (score, -position, -layer, -head): sorting ascending puts the entry pruned first in front (ties:
  // the lower position, then the lower layer, then the lower head is kept).
  using Entry = std::tuple<double, int64_t, int64_t, int64_t>;
  auto prune = [&](size_t l0, size_t l1, int64_t n) {
    std::vector<Entry> all;
    for (size_t l = l0; l < l1; ++l)
      for (size_t h = 0; h < Hkv; ++h)
        for (size_t j = 0; j < N; ++j) all.emplace_back(scores[l][h][j], -(int64_t)j, -(int64_t)l, -(int64_t)h);
    std::sort(all.begin(), all.end());
    for (int64_t i = 0; i < n; ++i) {
      const auto& [score, neg_pos, neg_layer, neg_head] = all[(size_t)i];
      pruned[(size_t)-neg_layer][(size_t)-neg_head][(size_t)-neg_pos] = true;
    }
  };
  if (layerwise) {
    for (size_t l = 0; l < L; ++l) prune(l, l + 1, (int64_t)((double)(Hkv * N) * ratio));
  } else {
    prune(0, L, (int64_t)((double)(L * Hkv * N) * ratio));
  }
  return pruned;
}

double ref_simlayerkv_share(const LayerSnapshot& s, const ModelConfig& c, int64_t n_last, int64_t n_recent,
                            int64_t n_initial) {
  const int64_t H = c.n_heads, G = c.n_heads / c.n_heads_kv, d = c.head_dim, S = s.length(0), T = s.n_tokens;
  std::vector<double> a((size_t)(S - n_last), 0.0);
  for (int64_t h = 0; h < H; ++h)
    for (int64_t t = T - n_last; t < T; ++t) {
      const float* q = &s.queries[(size_t)((t * H + h) * d)];
      std::vector<double> logit((size_t)S, -INFINITY);
      double m = -INFINITY;
      for (int64_t j = 0; j < S; ++j) {
        if (s.key_positions[(size_t)(h / G)][(size_t)j] > s.positions[(size_t)t]) continue;
        double dot = 0;
        for (int64_t e = 0; e < d; ++e) dot += (double)q[e] * s.keys[(size_t)(h / G)][(size_t)(j * d + e)];
        logit[(size_t)j] = dot / std::sqrt((double)d);
        m = std::max(m, logit[(size_t)j]);
      }
      double z = 0;
      for (double x : logit) z += std::isinf(x) ? 0.0 : std::exp(x - m);
      for (int64_t j = 0; j < S - n_last; ++j)
        a[(size_t)j] += (std::isinf(logit[(size_t)j]) ? 0.0 : std::exp(logit[(size_t)j] - m) / z) / (double)(H * n_last);
    }
  double share = 0;
  for (int64_t j = 0; j < n_initial; ++j) share += a[(size_t)j];
  for (int64_t j = S - n_last - n_recent; j < S - n_last; ++j) share += a[(size_t)j];
  return share;
}

std::vector<RefScores> ref_kvcompose_scores(const std::vector<LayerSnapshot>& refed, const ModelConfig& c, int64_t N,
                                            const RefKvCompose& o) {
  const int64_t L = c.n_layers, H = c.n_heads, Hkv = c.n_heads_kv, G = H / Hkv, d = c.head_dim;
  std::vector<RefScores> out((size_t)L);
  for (int64_t l = 0; l < L; ++l) {
    const LayerSnapshot& s = refed[(size_t)l];
    const int64_t T = s.n_tokens, S = (int64_t)s.keys[0].size() / d;
    RefScores task((size_t)H, std::vector<double>((size_t)N, o.agg_task == "max" ? -INFINITY : 0.0));
    for (int64_t h = 0; h < H; ++h)
      for (int64_t t = 0; t < T; ++t) {
        const float* q = &s.queries[(size_t)((t * H + h) * d)];
        std::vector<double> logit((size_t)S, -INFINITY);
        double m = -INFINITY;
        for (int64_t j = 0; j < S; ++j) {
          if (j > N + t) continue;  // causal: the context and the re-fed tokens up to this one
          double dot = 0;
          for (int64_t e = 0; e < d; ++e) dot += (double)q[e] * s.keys[(size_t)(h / G)][(size_t)(j * d + e)];
          logit[(size_t)j] = dot / std::sqrt((double)d);
          m = std::max(m, logit[(size_t)j]);
        }
        double z = 0;
        for (double x : logit) z += std::isinf(x) ? 0.0 : std::exp(x - m);
        for (int64_t j = 0; j < N; ++j) {
          const double p = std::exp(logit[(size_t)j] - m) / z;
          double& dst = task[(size_t)h][(size_t)j];
          dst = o.agg_task == "max" ? std::max(dst, p) : dst + p / (double)T;
        }
      }
    RefScores sc((size_t)Hkv, std::vector<double>((size_t)N, 0.0));
    for (int64_t j = 0; j < Hkv; ++j)
      for (int64_t n = 0; n < N; ++n) {
        double a = o.agg_group == "max" ? -INFINITY : 0.0;
        for (int64_t g = 0; g < G; ++g) {
          const double v = task[(size_t)(j * G + g)][(size_t)n];
          a = o.agg_group == "max" ? std::max(a, v) : a + v / (double)G;
        }
        if (o.add_v_norm) {
          double n2 = 0;
          for (int64_t e = 0; e < d; ++e) n2 += std::pow((double)s.values[(size_t)j][(size_t)(n * d + e)], 2);
          a *= std::sqrt(n2);
        }
        sc[(size_t)j][(size_t)n] = a;
      }
    if (o.add_mean_across_heads)
      for (int64_t n = 0; n < N; ++n) {
        double mean = 0;
        for (int64_t j = 0; j < Hkv; ++j) mean += sc[(size_t)j][(size_t)n] / (double)Hkv;
        for (int64_t j = 0; j < Hkv; ++j) sc[(size_t)j][(size_t)n] += mean;
      }
    out[(size_t)l] = sc;
  }
  return out;
}

std::vector<std::vector<int64_t>> ref_kvcompose_counts(const std::vector<RefScores>& scores, const RefKvCompose& o,
                                                       double ratio) {
  const size_t L = scores.size(), Hkv = scores[0].size(), N = scores[0][0].size();
  const size_t lb = std::min<size_t>((size_t)o.keep_token_lower_bound, N);
  std::vector<std::vector<std::vector<double>>> sorted(L);
  for (size_t l = 0; l < L; ++l)
    for (size_t j = 0; j < Hkv; ++j) {
      auto r = scores[l][j];
      std::sort(r.rbegin(), r.rend());
      sorted[l].push_back(r);
    }
  // Rows of composites, then the top entries by (value desc, rank asc, row asc).
  std::vector<std::vector<double>> rows;
  if (o.structured) {
    for (size_t l = 0; l < L; ++l) {
      std::vector<double> comp(N, o.agg_head == "max" ? -INFINITY : 0.0);
      for (size_t j = 0; j < Hkv; ++j)
        for (size_t r = 0; r < N; ++r)
          comp[r] = o.agg_head == "max" ? std::max(comp[r], sorted[l][j][r]) : comp[r] + sorted[l][j][r] / (double)Hkv;
      for (size_t r = 0; r < lb; ++r) comp[r] += 1e9;
      rows.push_back(comp);
    }
    for (size_t r = 0; r < N; ++r)
      for (size_t l = 1; l < L; ++l) rows[0][r] = std::max(rows[0][r], rows[l][r]);
  } else {
    for (size_t l = 0; l < L; ++l)
      for (size_t j = 0; j < Hkv; ++j) {
        auto r = sorted[l][j];
        for (size_t k = 0; k < lb; ++k) r[k] += 1e9;
        rows.push_back(r);
      }
  }
  std::vector<std::tuple<double, size_t, size_t>> all;  // (-value, rank, row)
  for (size_t i = 0; i < rows.size(); ++i)
    for (size_t r = 0; r < N; ++r) all.emplace_back(-rows[i][r], r, i);
  std::sort(all.begin(), all.end());
  const int64_t n_kept = (int64_t)((double)all.size() * (1.0 - ratio));
  std::vector<int64_t> per_row(rows.size(), 0);
  for (int64_t i = 0; i < n_kept; ++i) ++per_row[std::get<2>(all[(size_t)i])];
  std::vector<std::vector<int64_t>> counts(L, std::vector<int64_t>(Hkv, 0));
  for (size_t l = 0; l < L; ++l)
    for (size_t j = 0; j < Hkv; ++j) counts[l][j] = o.structured ? per_row[l] : per_row[l * Hkv + j];
  return counts;
}

namespace {
// RoPE at `pos` of one head vector, in double.
std::vector<double> rotate(const double* x, int64_t d, int64_t pos, const ModelConfig& c) {
  std::vector<double> y(x, x + d);
  for (int64_t i = 0; i < d / 2; ++i) {
    const int64_t a = c.arch == "llama" ? 2 * i : i, b = c.arch == "llama" ? 2 * i + 1 : i + d / 2;
    const double theta = (double)pos * std::pow((double)c.rope_base, -2.0 * (double)i / (double)d);
    y[(size_t)a] = x[a] * std::cos(theta) - x[b] * std::sin(theta);
    y[(size_t)b] = x[a] * std::sin(theta) + x[b] * std::cos(theta);
  }
  return y;
}
}  // namespace

std::vector<double> ref_duo_head_area(const std::vector<double>& q_mean, const std::vector<double>& k_mean,
                                      const ModelConfig& c, int64_t q_len) {
  const int64_t H = c.n_heads, Hkv = c.n_heads_kv, G = H / Hkv, d = c.head_dim;
  std::vector<double> out((size_t)Hkv, 0.0);
  for (int64_t h = 0; h < H; ++h) {
    const auto q = rotate(&q_mean[(size_t)(h * d)], d, q_len - 1, c);
    std::vector<double> logit((size_t)q_len);
    for (int64_t p = 0; p < q_len; ++p) {
      const auto k = rotate(&k_mean[(size_t)((h / G) * d)], d, p, c);
      double dot = 0;
      for (int64_t e = 0; e < d; ++e) dot += q[(size_t)e] * k[(size_t)e];
      logit[(size_t)p] = dot / std::sqrt((double)d);
    }
    const double m = *std::max_element(logit.begin(), logit.end());
    double z = 0;
    for (double x : logit) z += std::exp(x - m);
    double cum = 0, area = 0;
    for (int64_t p = 0; p < q_len; ++p) {
      cum += std::exp(logit[(size_t)p] - m) / z;
      area += cum;
    }
    out[(size_t)(h / G)] += area / (double)q_len / (double)G;
  }
  return out;
}

}  // namespace kvpress::testing
