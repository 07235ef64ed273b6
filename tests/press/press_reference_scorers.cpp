// Reference scores in double for the scorer presses of spec §2.9, §2.18 and §2.22, written from the
// spec's text (not from src/press).
#include "press_reference_scorers.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace kvpress::testing {
namespace {

// Python's round(): to nearest, ties to even.
double round_half_even(double x) {
  const double f = std::floor(x), diff = x - f;
  if (diff > 0.5) return f + 1;
  if (diff < 0.5) return f;
  return std::fmod(f, 2.0) == 0.0 ? f : f + 1;
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

}  // namespace kvpress::testing
