// Reference press scores in double, written from the spec's formulas (not from src/press).
#include "press_reference.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace kvpress::testing {
namespace {

// Softmax attention probabilities of query q over the entries of one head, causal by position.
std::vector<double> attention_row(const float* q, int32_t q_pos, const LayerSnapshot& s, int64_t head, int64_t d) {
  const int64_t S = s.length(head);
  std::vector<double> logit((size_t)S, -INFINITY);
  double max_logit = -INFINITY;
  for (int64_t j = 0; j < S; ++j) {
    if (s.key_positions[head][j] > q_pos) continue;
    double dot = 0;
    for (int64_t i = 0; i < d; ++i) dot += (double)q[i] * s.keys[head][j * d + i];
    logit[j] = dot / std::sqrt((double)d);
    max_logit = std::max(max_logit, logit[j]);
  }
  double sum = 0;
  for (auto& v : logit) sum += (v = std::isinf(v) ? 0.0 : std::exp(v - max_logit));
  for (auto& v : logit) v /= sum;
  return logit;
}

// Mean over the last w queries of the attention rows, per query head: [H][S].
std::vector<std::vector<double>> window_attention(const LayerSnapshot& s, const ModelConfig& c, int64_t w) {
  const int64_t H = c.n_heads, d = c.head_dim, G = H / c.n_heads_kv, T = s.n_tokens;
  std::vector<std::vector<double>> a((size_t)H, std::vector<double>((size_t)s.length(0), 0.0));
  for (int64_t h = 0; h < H; ++h)
    for (int64_t t = T - w; t < T; ++t) {
      const auto row = attention_row(&s.queries[(t * H + h) * d], s.positions[t], s, h / G, d);
      for (size_t j = 0; j < row.size(); ++j) a[h][j] += row[j] / (double)w;
    }
  return a;
}

double max_of(const RefScores& r) {
  double m = -INFINITY;
  for (const auto& row : r)
    for (double v : row) m = std::max(m, v);
  return m;
}

}  // namespace

int64_t ref_kept_count(int64_t S, double ratio) { return (int64_t)std::trunc((double)S * (1.0 - ratio)); }

RefScores ref_knorm(const LayerSnapshot& s) {
  RefScores out;
  for (size_t h = 0; h < s.keys.size(); ++h) {
    const int64_t S = s.length((int64_t)h), d = (int64_t)s.keys[h].size() / std::max<int64_t>(S, 1);
    std::vector<double> row((size_t)S);
    for (int64_t j = 0; j < S; ++j) {
      double sum = 0;
      for (int64_t i = 0; i < d; ++i) sum += (double)s.keys[h][j * d + i] * s.keys[h][j * d + i];
      row[j] = -std::sqrt(sum);
    }
    out.push_back(row);
  }
  return out;
}

RefScores ref_keydiff(const LayerSnapshot& s) {
  RefScores out;
  for (size_t h = 0; h < s.keys.size(); ++h) {
    const int64_t S = s.length((int64_t)h), d = (int64_t)s.keys[h].size() / std::max<int64_t>(S, 1);
    const auto norm = [&](int64_t j) {
      double sum = 0;
      for (int64_t i = 0; i < d; ++i) sum += (double)s.keys[h][j * d + i] * s.keys[h][j * d + i];
      return std::sqrt(sum);
    };
    std::vector<double> anchor((size_t)d, 0.0);
    for (int64_t j = 0; j < S; ++j)
      for (int64_t i = 0; i < d; ++i) anchor[i] += s.keys[h][j * d + i] / norm(j) / (double)S;
    double anchor_norm = 0;
    for (double a : anchor) anchor_norm += a * a;
    anchor_norm = std::sqrt(anchor_norm);
    std::vector<double> row((size_t)S);
    for (int64_t j = 0; j < S; ++j) {
      double dot = 0;
      for (int64_t i = 0; i < d; ++i) dot += s.keys[h][j * d + i] * anchor[i];
      row[j] = -dot / (norm(j) * anchor_norm);
    }
    out.push_back(row);
  }
  return out;
}

RefScores ref_snapkv(const LayerSnapshot& s, const ModelConfig& c, int64_t w, int64_t kernel) {
  const int64_t H = c.n_heads, Hkv = c.n_heads_kv, G = H / Hkv, S = s.length(0), n = S - w, pad = kernel / 2;
  const auto a = window_attention(s, c, w);
  RefScores out((size_t)Hkv, std::vector<double>((size_t)S, 0.0));
  for (int64_t h = 0; h < H; ++h)
    for (int64_t j = 0; j < n; ++j) {
      double pooled = 0;
      for (int64_t k = j - pad; k <= j + pad; ++k)
        if (k >= 0 && k < n) pooled += a[h][k];  // zero padding, window columns excluded
      out[h / G][j] += pooled / (double)kernel / (double)G;
    }
  double m = -INFINITY;
  for (const auto& row : out)
    for (int64_t j = 0; j < n; ++j) m = std::max(m, row[j]);
  for (auto& row : out)
    for (int64_t j = n; j < S; ++j) row[j] = m + 1;
  return out;
}

RefScores ref_tova(const LayerSnapshot& s, const ModelConfig& c) {
  const int64_t H = c.n_heads, S = s.length(0);
  const auto a = window_attention(s, c, 1);
  std::vector<double> row((size_t)S, 0.0);
  double m = -INFINITY;
  for (int64_t j = 0; j + 1 < S; ++j) {
    for (int64_t h = 0; h < H; ++h) row[j] += a[h][j] / (double)H;
    m = std::max(m, row[j]);
  }
  row[S - 1] = m + 1;
  return RefScores((size_t)c.n_heads_kv, row);
}

RefScores ref_observed_attention(const LayerSnapshot& s, const ModelConfig& c) {
  const int64_t H = c.n_heads, Hkv = c.n_heads_kv, G = H / Hkv, d = c.head_dim, S = s.length(0), T = s.n_tokens;
  RefScores out((size_t)Hkv, std::vector<double>((size_t)S, 0.0));
  for (int64_t h = 0; h < H; ++h) {
    std::vector<double> sum((size_t)S, 0.0);
    for (int64_t t = 0; t < T; ++t) {
      const auto row = attention_row(&s.queries[(t * H + h) * d], s.positions[t], s, h / G, d);
      for (int64_t j = 0; j < S; ++j) sum[j] += row[j];
    }
    for (int64_t j = 0; j < S; ++j) out[h / G][j] += sum[j] / (double)(S - j) / (double)G;
  }
  return out;
}

RefScores ref_streaming_llm(int64_t n_heads_kv, int64_t S, int64_t n_sink, double ratio) {
  const int64_t n_pruned = S - ref_kept_count(S, ratio);
  std::vector<double> row((size_t)S, 1.0);
  for (int64_t j = n_sink; j < std::min(S, n_sink + n_pruned); ++j) row[j] = 0.0;
  return RefScores((size_t)n_heads_kv, row);
}

RefScores ref_expected_attention(const LayerSnapshot& s, const ModelConfig& c, const RefExpectedAttention& o) {
  const int64_t H = c.n_heads, Hkv = c.n_heads_kv, G = H / Hkv, d = c.head_dim, half = d / 2;
  const int64_t T = s.n_tokens, S = s.length(0), N = T - o.n_sink, n = S - o.n_sink;
  // Our GGUF layouts: llama rotates (2i, 2i+1), qwen2/qwen3 rotate (i, i + d/2).
  const bool adjacent = c.arch == "llama";
  auto first = [&](int64_t i) { return adjacent ? 2 * i : i; };
  auto second = [&](int64_t i) { return adjacent ? 2 * i + 1 : i + half; };
  std::vector<double> theta((size_t)half);
  for (int64_t i = 0; i < half; ++i) theta[i] = std::pow((double)c.rope_base, -2.0 * (double)i / (double)d);
  // To HF half-split order: hf[i] = x[first(i)], hf[i + d/2] = x[second(i)].
  auto to_hf = [&](const auto* x) {
    std::vector<double> v((size_t)d);
    for (int64_t i = 0; i < half; ++i) {
      v[i] = x[first(i)];
      v[i + half] = x[second(i)];
    }
    return v;
  };
  // Mean rotation over future positions p = T .. T + n_future - 1, full d x d in HF layout.
  std::vector<double> R((size_t)(d * d), 0.0);
  for (int64_t p = T; p < T + o.n_future_positions; ++p)
    for (int64_t i = 0; i < d; ++i) {
      const double angle = (double)p * theta[i % half];
      R[i * d + i] += std::cos(angle);
      // P = [[0, -I], [I, 0]]: row i < d/2 has -1 at column i + d/2; row i >= d/2 has +1 at i - d/2.
      if (i < half) R[i * d + i + half] -= std::sin(angle);
      else R[i * d + i - half] += std::sin(angle);
    }
  for (auto& v : R) v /= (double)o.n_future_positions;

  std::vector<std::vector<double>> attn((size_t)H);
  for (int64_t h = 0; h < H; ++h) {
    // Pre-RoPE queries: undo the rotation of the snapshot's queries at their positions.
    std::vector<std::vector<double>> qs;
    for (int64_t t = o.n_sink; t < T; ++t) {
      std::vector<double> x(&s.queries[(t * H + h) * d], &s.queries[(t * H + h) * d] + d);
      for (int64_t i = 0; i < half; ++i) {
        const double a = -(double)s.positions[t] * theta[i];
        const double x0 = x[first(i)], x1 = x[second(i)];
        x[first(i)] = std::cos(a) * x0 - std::sin(a) * x1;
        x[second(i)] = std::sin(a) * x0 + std::cos(a) * x1;
      }
      qs.push_back(to_hf(x.data()));
    }
    std::vector<double> mu((size_t)d, 0.0), sigma((size_t)(d * d), 0.0);
    for (const auto& q : qs)
      for (int64_t i = 0; i < d; ++i) mu[i] += q[i] / (double)N;
    for (const auto& q : qs)
      for (int64_t i = 0; i < d; ++i)
        for (int64_t j = 0; j < d; ++j) sigma[i * d + j] += (q[i] - mu[i]) * (q[j] - mu[j]) / (double)N;
    std::vector<double> mu_r((size_t)d, 0.0), tmp((size_t)(d * d), 0.0), sigma_r((size_t)(d * d), 0.0);
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = 0; j < d; ++j) mu_r[i] += R[i * d + j] * mu[j];
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = 0; j < d; ++j)
        for (int64_t k = 0; k < d; ++k) tmp[i * d + j] += R[i * d + k] * sigma[k * d + j];
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = 0; j < d; ++j)
        for (int64_t k = 0; k < d; ++k) sigma_r[i * d + j] += tmp[i * d + k] * R[j * d + k];
    std::vector<double> z((size_t)n);
    double zmax = -INFINITY;
    for (int64_t j = 0; j < n; ++j) {
      const auto k = to_hf(&s.keys[h / G][(o.n_sink + j) * d]);
      double lin = 0, quad = 0;
      for (int64_t i = 0; i < d; ++i) lin += mu_r[i] * k[i];
      for (int64_t a = 0; a < d; ++a)
        for (int64_t b = 0; b < d; ++b) quad += k[a] * sigma_r[a * d + b] * k[b];
      z[j] = lin / std::sqrt((double)d) + (o.use_covariance ? quad / (2.0 * (double)d) : 0.0);
      zmax = std::max(zmax, z[j]);
    }
    double sum = 0;
    for (auto& v : z) sum += (v = std::exp(v - zmax));
    for (auto& v : z) v /= sum;
    attn[h] = z;
  }
  RefScores out((size_t)Hkv, std::vector<double>((size_t)S, 0.0));
  for (int64_t g = 0; g < Hkv; ++g) {
    for (int64_t j = 0; j < n; ++j) {
      double a = 0;
      for (int64_t k = 0; k < G; ++k) a += attn[g * G + k][j] / (double)G;
      if (o.use_vnorm) {
        double norm = 0;
        for (int64_t i = 0; i < d; ++i) {
          const double v = s.values[g][(o.n_sink + j) * d + i];
          norm += v * v;
        }
        a = (a + o.epsilon) * std::sqrt(norm);
      }
      out[g][o.n_sink + j] = a;
    }
  }
  const double m = max_of(out);  // sinks hold 0 here, below every (positive) score
  for (auto& row : out)
    for (int64_t j = 0; j < o.n_sink; ++j) row[j] = m + 1;
  return out;
}

AdaKvSelection ref_adakv_keep(const RefScores& scores, double ratio, double alpha) {
  const int64_t Hkv = (int64_t)scores.size(), S = (int64_t)scores[0].size();
  const int64_t n_kept = ref_kept_count(S, ratio), n_safe = (int64_t)std::trunc((double)n_kept * alpha);
  AdaKvSelection out;
  RefScores adj = scores;
  for (int64_t h = 0; h < Hkv; ++h) {
    std::vector<int64_t> order((size_t)S);
    for (int64_t j = 0; j < S; ++j) order[j] = j;
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return scores[h][a] > scores[h][b]; });
    for (int64_t k = 0; k < n_safe; ++k) adj[h][order[k]] = std::numeric_limits<double>::max();
    out.safe_cutoff.push_back(n_safe > 0 ? scores[h][order[n_safe - 1]] : INFINITY);
  }
  // Global top Hkv * n_kept; ties by lower position, then lower head.
  std::vector<std::pair<int64_t, int64_t>> all;  // (position, head) in tie order
  for (int64_t j = 0; j < S; ++j)
    for (int64_t h = 0; h < Hkv; ++h) all.push_back({j, h});
  std::stable_sort(all.begin(), all.end(), [&](const auto& a, const auto& b) { return adj[a.second][a.first] > adj[b.second][b.first]; });
  out.kept.resize((size_t)Hkv);
  out.global_cutoff = INFINITY;
  for (int64_t k = 0; k < Hkv * n_kept; ++k) {
    out.kept[all[k].second].push_back((int32_t)all[k].first);
    if (adj[all[k].second][all[k].first] != std::numeric_limits<double>::max())
      out.global_cutoff = scores[all[k].second][all[k].first];
  }
  for (auto& v : out.kept) std::sort(v.begin(), v.end());
  return out;
}

}  // namespace kvpress::testing
