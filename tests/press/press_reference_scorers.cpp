// Reference scores in double for the scorer presses of spec §2.9, §2.18 and §2.22, written from the
// spec's text (not from src/press).
#include "press_reference_scorers.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "press/gaussian.h"

namespace kvpress::testing {
namespace {

// Python's round(): to nearest, ties to even.
double round_half_even(double x) {
  const double f = std::floor(x), diff = x - f;
  if (diff > 0.5) return f + 1;
  if (diff < 0.5) return f;
  return std::fmod(f, 2.0) == 0.0 ? f : f + 1;
}

// Our GGUF RoPE layouts: llama rotates (2i, 2i+1), qwen2/qwen3 rotate (i, i + d/2).
struct Layout {
  int64_t d, half;
  bool adjacent;
  std::vector<double> theta;
  explicit Layout(const ModelConfig& c) : d(c.head_dim), half(c.head_dim / 2), adjacent(c.arch == "llama") {
    for (int64_t i = 0; i < half; ++i) theta.push_back(std::pow((double)c.rope_base, -2.0 * (double)i / (double)d));
  }
  int64_t first(int64_t i) const { return adjacent ? 2 * i : i; }
  int64_t second(int64_t i) const { return adjacent ? 2 * i + 1 : i + half; }
  // Rotates x (our layout) by angle pos * theta.
  std::vector<double> rotate(const float* x, double pos) const {
    std::vector<double> v(x, x + d);
    for (int64_t i = 0; i < half; ++i) {
      const double a = pos * theta[i], x0 = v[first(i)], x1 = v[second(i)];
      v[first(i)] = std::cos(a) * x0 - std::sin(a) * x1;
      v[second(i)] = std::sin(a) * x0 + std::cos(a) * x1;
    }
    return v;
  }
  // To HF half-split order: hf[i] = x[first(i)], hf[i + d/2] = x[second(i)].
  template <class T>
  std::vector<double> to_hf(const T* x) const {
    std::vector<double> v((size_t)d);
    for (int64_t i = 0; i < half; ++i) {
      v[i] = x[first(i)];
      v[i + half] = x[second(i)];
    }
    return v;
  }
};

// Solves A x = b (Gaussian elimination with partial pivoting, in double).
std::vector<double> solve(std::vector<double> A, std::vector<double> b) {
  const int64_t n = (int64_t)b.size();
  for (int64_t col = 0; col < n; ++col) {
    int64_t piv = col;
    for (int64_t r = col + 1; r < n; ++r)
      if (std::fabs(A[r * n + col]) > std::fabs(A[piv * n + col])) piv = r;
    for (int64_t k = 0; k < n; ++k) std::swap(A[col * n + k], A[piv * n + k]);
    std::swap(b[col], b[piv]);
    for (int64_t r = col + 1; r < n; ++r) {
      const double f = A[r * n + col] / A[col * n + col];
      for (int64_t k = col; k < n; ++k) A[r * n + k] -= f * A[col * n + k];
      b[r] -= f * b[col];
    }
  }
  std::vector<double> x((size_t)n);
  for (int64_t r = n - 1; r >= 0; --r) {
    double v = b[r];
    for (int64_t k = r + 1; k < n; ++k) v -= A[r * n + k] * x[k];
    x[r] = v / A[r * n + r];
  }
  return x;
}

// z-score over every value of every head, unbiased std floored at 1e-6.
void zscore_all(RefScores& r) {
  double n = 0, mean = 0, sq = 0;
  for (const auto& row : r)
    for (double v : row) mean += v, n += 1;
  mean /= n;
  for (const auto& row : r)
    for (double v : row) sq += (v - mean) * (v - mean);
  const double sd = std::max(std::sqrt(sq / (n - 1)), 1e-6);
  for (auto& row : r)
    for (double& v : row) v = (v - mean) / sd;
}

}  // namespace

int64_t ref_pyramidkv_budget(int64_t S_tokens, double ratio, int64_t layer, int64_t n_layers, int64_t window_size,
                             int64_t beta) {
  const double S = (double)S_tokens, w = (double)window_size;
  const double M = w + S * (1.0 - ratio);
  double lo = (M - w) / (double)beta, hi = 2.0 * (M - w) - lo;
  if (hi >= S - w) {
    hi = S - w;
    lo = 2.0 * (M - w) - hi;
  }
  if (!(S >= hi && hi >= lo && lo >= w)) return (int64_t)round_half_even(S * (1.0 - ratio));
  const double step = (hi - lo) / (double)(n_layers - 1);
  return (int64_t)round_half_even(hi - (double)layer * step);
}

RefScores ref_lagkv(const LayerSnapshot& s, int64_t n_sink, int64_t lag, bool cross_scoring) {
  RefScores out;
  for (size_t h = 0; h < s.keys.size(); ++h) {
    const int64_t S = s.length((int64_t)h), d = (int64_t)s.keys[h].size() / S;
    std::vector<double> row((size_t)S, 1.0);
    if (S < n_sink + 2 * lag) {
      for (int64_t i = 0; n_sink + i < S; ++i) row[n_sink + i] = (double)i / (double)(S - n_sink);
      out.push_back(row);
      continue;
    }
    const int64_t m = (S - n_sink) / lag;  // full partitions; the last one (and the rest) stays at 1
    for (int64_t p = 0; p + 1 < m; ++p) {
      const int64_t first = n_sink + p * lag, ref_first = first + lag;
      std::vector<double> f((size_t)lag, 0.0);
      for (const auto* x : {&s.keys[h], &s.values[h]}) {
        std::vector<double> sigma((size_t)lag);
        for (int64_t t = 0; t < lag; ++t) {
          std::vector<double> z((size_t)d);
          for (int64_t c = 0; c < d; ++c) {
            double mn = INFINITY, mx = -INFINITY;
            for (int64_t r = ref_first; r < ref_first + lag; ++r) {
              mn = std::min(mn, (double)(*x)[r * d + c]);
              mx = std::max(mx, (double)(*x)[r * d + c]);
            }
            z[c] = ((*x)[(first + t) * d + c] - mn) / (mx - mn);
          }
          double mean = 0, var = 0;
          for (double v : z) mean += v / (double)d;
          for (double v : z) var += (v - mean) * (v - mean) / (double)(d - 1);
          sigma[t] = std::sqrt(var);
        }
        double total = 0;
        for (double v : sigma) total += std::exp(v);
        for (int64_t t = 0; t < lag; ++t) f[t] += std::exp(sigma[t]) / total / 2.0;  // (f(K) + f(V)) / 2
      }
      for (int64_t t = 0; t < lag; ++t) {
        if (cross_scoring) {
          row[first + t] = f[t];
          continue;
        }
        int64_t rank = 0;  // how many tokens of the partition score lower
        for (int64_t u = 0; u < lag; ++u) rank += f[u] < f[t] || (f[u] == f[t] && u < t);
        row[first + t] = (double)rank / (double)lag;
      }
    }
    out.push_back(row);
  }
  return out;
}

RefScores ref_cur(const LayerSnapshot& s, int64_t num_sinks, const std::string& type, int64_t w) {
  RefScores out;
  for (size_t h = 0; h < s.keys.size(); ++h) {
    const int64_t S = s.length((int64_t)h), d = (int64_t)s.keys[h].size() / S;
    auto sq = [&](const std::vector<float>& x) {
      std::vector<double> n((size_t)S, 0.0);
      for (int64_t j = 0; j < S; ++j)
        for (int64_t i = 0; i < d; ++i) n[j] += (double)x[j * d + i] * x[j * d + i];
      if (w > 0) {
        // Zero-pad to a multiple of w, then each window divided by its sum.
        const int64_t padded = (S + w - 1) / w * w;
        n.resize((size_t)padded, 0.0);
        for (int64_t b = 0; b < padded; b += w) {
          double sum = 0;
          for (int64_t j = b; j < b + w; ++j) sum += n[j];
          for (int64_t j = b; j < b + w; ++j) n[j] /= sum;
        }
        n.resize((size_t)S);
      }
      return n;
    };
    const auto k2 = sq(s.keys[h]), v2 = sq(s.values[h]);
    std::vector<double> row((size_t)S);
    for (int64_t j = 0; j < S; ++j)
      row[j] = type == "key" ? k2[j] : type == "value" ? v2[j] : type == "kv_avg" ? (k2[j] + v2[j]) / 2 : k2[j] * v2[j];
    double total = 0;
    for (double v : row) total += v;
    for (int64_t j = 0; j < S; ++j) row[j] = j < num_sinks ? 1.0 : row[j] / total;
    out.push_back(row);
  }
  return out;
}

RefScores ref_cap(const LayerSnapshot& s, const ModelConfig& c, double tau, int64_t n_future, int64_t n_sink,
                  double epsilon) {
  const Layout lay(c);
  const int64_t H = c.n_heads, Hkv = c.n_heads_kv, G = H / Hkv, d = c.head_dim, half = d / 2;
  const int64_t T = s.n_tokens, S = s.length(0), n = S - n_sink;
  // R = mean over p = T .. T + n_future - 1 of diag(cos_p) + diag(sin_p) P, P = [[0, -I], [I, 0]].
  std::vector<double> R((size_t)(d * d), 0.0);
  for (int64_t p = T; p < T + n_future; ++p)
    for (int64_t i = 0; i < d; ++i) {
      const double a = (double)p * lay.theta[i % half];
      R[i * d + i] += std::cos(a) / (double)n_future;
      if (i < half) R[i * d + i + half] -= std::sin(a) / (double)n_future;
      else R[i * d + i - half] += std::sin(a) / (double)n_future;
    }
  RefScores out((size_t)Hkv, std::vector<double>((size_t)S, 0.0));
  for (int64_t h = 0; h < H; ++h) {
    const int64_t g = h / G;
    // anchor = mean over t >= n_sink of R q_t (pre-RoPE queries in HF layout).
    std::vector<double> anchor((size_t)d, 0.0);
    for (int64_t t = n_sink; t < T; ++t) {
      const auto q = lay.to_hf(lay.rotate(&s.queries[(t * H + h) * d], -(double)s.positions[t]).data());
      for (int64_t i = 0; i < d; ++i)
        for (int64_t k = 0; k < d; ++k) anchor[i] += R[i * d + k] * q[k] / (double)(T - n_sink);
    }
    double an = 0;
    for (double v : anchor) an += v * v;
    an = std::sqrt(an);
    std::vector<double> w((size_t)n);
    std::vector<std::vector<double>> v((size_t)n);
    double wmax = -INFINITY;
    for (int64_t j = 0; j < n; ++j) {
      const auto k = lay.to_hf(&s.keys[g][(n_sink + j) * d]);
      v[j] = lay.to_hf(&s.values[g][(n_sink + j) * d]);
      double dot = 0, kn = 0;
      for (int64_t i = 0; i < d; ++i) {
        dot += anchor[i] * k[i];
        kn += k[i] * k[i];
      }
      w[j] = tau * std::min(1.0, std::max(-1.0, dot / an / std::sqrt(kn)));
      wmax = std::max(wmax, w[j]);
    }
    for (auto& x : w) x = std::exp(x - wmax);
    std::vector<double> A((size_t)(d * d), 0.0);
    for (int64_t i = 0; i < d; ++i) A[i * d + i] = 1.0;
    for (int64_t j = 0; j < n; ++j)
      for (int64_t a = 0; a < d; ++a)
        for (int64_t b = 0; b < d; ++b) A[a * d + b] += (w[j] + epsilon) * v[j][a] * v[j][b];
    for (int64_t j = 0; j < n; ++j) {
      const auto x = solve(A, v[j]);
      double lev = 0;
      for (int64_t i = 0; i < d; ++i) lev += v[j][i] * x[i];
      out[g][n_sink + j] += w[j] * lev / (double)G;
    }
  }
  double m = -INFINITY;
  for (const auto& row : out)
    for (int64_t j = n_sink; j < S; ++j) m = std::max(m, row[j]);
  for (auto& row : out)
    for (int64_t j = 0; j < n_sink; ++j) row[j] = m + 1;
  return out;
}

RefScores ref_leverage(const LayerSnapshot& s, const ModelConfig& c, int64_t begin, int64_t end, int64_t k) {
  const Layout lay(c);
  const int64_t Hkv = c.n_heads_kv, d = c.head_dim, n = end - begin;
  GaussianDraws gauss(kSketchSeed + 0x9E3779B97F4A7C15ull * (uint64_t)s.layer);
  RefScores out;
  for (int64_t h = 0; h < Hkv; ++h) {
    std::vector<double> phi((size_t)(d * k));
    for (double& v : phi) v = gauss.next() / std::sqrt((double)k);
    std::vector<std::vector<double>> key;
    std::vector<double> mean((size_t)d, 0.0);
    for (int64_t t = begin; t < end; ++t) {
      key.push_back(lay.rotate(&s.keys[h][t * d], -(double)s.key_positions[h][t]));
      for (int64_t i = 0; i < d; ++i) mean[i] += key.back()[i] / (double)n;
    }
    std::vector<std::vector<double>> X((size_t)n, std::vector<double>((size_t)k, 0.0));
    for (int64_t t = 0; t < n; ++t)
      for (int64_t j = 0; j < k; ++j)
        for (int64_t i = 0; i < d; ++i) X[t][j] += (key[t][i] - mean[i]) * phi[i * k + j];
    std::vector<double> M((size_t)(k * k), 0.0);
    for (int64_t a = 0; a < k; ++a) {
      M[a * k + a] = 1e-2;
      for (int64_t b = 0; b < k; ++b)
        for (int64_t t = 0; t < n; ++t) M[a * k + b] += X[t][a] * X[t][b];
    }
    std::vector<double> row((size_t)n);
    for (int64_t t = 0; t < n; ++t) {
      const auto y = solve(M, X[t]);
      double lev = 0;
      for (int64_t j = 0; j < k; ++j) lev += X[t][j] * y[j];
      row[t] = std::max(lev, 0.0);
    }
    out.push_back(row);
  }
  zscore_all(out);
  return out;
}

RefScores ref_non_causal(const LayerSnapshot& s, const ModelConfig& c, int64_t begin, int64_t end, int64_t chunk) {
  const int64_t H = c.n_heads, Hkv = c.n_heads_kv, G = H / Hkv, d = c.head_dim, n = end - begin;
  const int64_t n_pad = (n + chunk - 1) / chunk * chunk;
  RefScores out((size_t)Hkv, std::vector<double>((size_t)n, 0.0));
  for (int64_t h = 0; h < H; ++h) {
    const int64_t g = h / G;
    std::vector<double> mass((size_t)n, 0.0);
    for (int64_t c0 = 0; c0 < n_pad; c0 += chunk) {
      const bool last = c0 + chunk == n_pad;
      for (int64_t i = c0; i < c0 + chunk; ++i) {
        std::vector<double> logit((size_t)chunk, 0.0);
        for (int64_t j = c0; j < c0 + chunk; ++j) {
          double dot = 0;  // zero rows past n
          if (i < n && j < n)
            for (int64_t e = 0; e < d; ++e) dot += (double)s.queries[((begin + i) * H + h) * d + e] * s.keys[g][(begin + j) * d + e];
          if (last && i >= n) dot = 0;      // padded query rows
          if (last && j >= n) dot = -1e-9;  // padded key columns
          logit[j - c0] = dot;
        }
        const double mx = *std::max_element(logit.begin(), logit.end());
        double sum = 0;
        for (double v : logit) sum += std::exp(v - mx);
        for (int64_t j = c0; j < std::min(n, c0 + chunk); ++j) mass[j] += std::exp(logit[j - c0] - mx) / sum;
      }
    }
    for (int64_t t = 0; t < n; ++t) {
      double vn = 0;
      for (int64_t e = 0; e < d; ++e) vn += (double)s.values[g][(begin + t) * d + e] * s.values[g][(begin + t) * d + e];
      out[g][t] += mass[t] / (double)G * std::sqrt(vn);
    }
  }
  RefScores pooled = out;
  for (int64_t g = 0; g < Hkv; ++g)
    for (int64_t t = 0; t < n; ++t)
      pooled[g][t] = ((t > 0 ? out[g][t - 1] : 0.0) + out[g][t] + (t + 1 < n ? out[g][t + 1] : 0.0)) / 3.0;
  zscore_all(pooled);
  return pooled;
}

RefScores ref_compactor(const LayerSnapshot& s, const ModelConfig& c, int64_t sink_start, int64_t sink_end,
                        int64_t chunk, int64_t k, double beta) {
  const int64_t S = s.length(0);
  const int64_t l = std::min(sink_start, S), r = std::min(sink_end, std::max<int64_t>(0, S - l));
  const RefScores lev = ref_leverage(s, c, l, S - r, k), nc = ref_non_causal(s, c, l, S - r, chunk);
  RefScores out((size_t)c.n_heads_kv, std::vector<double>((size_t)S, 0.0));
  double mx = -INFINITY;
  for (int64_t g = 0; g < c.n_heads_kv; ++g)
    for (int64_t t = l; t < S - r; ++t) mx = std::max(mx, out[g][t] = beta * lev[g][t - l] + nc[g][t - l]);
  for (auto& row : out)
    for (int64_t t = 0; t < S; ++t)
      if (t < l || t >= S - r) row[t] = mx;
  return out;
}

}  // namespace kvpress::testing
