// Leverage and non-causal attention z-scores (see compactor_scores.h).
#include "press/compactor_scores.h"

#include <algorithm>
#include <cmath>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "kernels/kernels.h"
#include "press/gaussian.h"
#include "press/query_stats.h"
#include "runtime/thread_pool.h"

namespace kvpress {
namespace {

// In-place Cholesky L L^T of a k x k matrix (lower triangle); false when it is not positive definite.
bool cholesky(std::vector<double>& a, int64_t k) {
  for (int64_t j = 0; j < k; ++j) {
    double diag = a[j * k + j];
    for (int64_t p = 0; p < j; ++p) diag -= a[j * k + p] * a[j * k + p];
    if (!(diag > 0)) return false;
    a[j * k + j] = std::sqrt(diag);
    for (int64_t i = j + 1; i < k; ++i) {
      double v = a[i * k + j];
      for (int64_t p = 0; p < j; ++p) v -= a[i * k + p] * a[j * k + p];
      a[i * k + j] = v / a[j * k + j];
    }
  }
  return true;
}

// (x - mean) / max(std, 1e-6) over every value, std unbiased (torch's default).
void zscore(std::vector<double>& x) {
  const double n = (double)x.size();
  double mean = 0;
  for (double v : x) mean += v;
  mean /= n;
  double sq = 0;
  for (double v : x) sq += (v - mean) * (v - mean);
  const double sd = std::max(std::sqrt(sq / (n - 1.0)), 1e-6);
  for (double& v : x) v = (v - mean) / sd;
}

void check_range(const LayerPrefill& layer, int64_t begin, int64_t end, const std::string& press) {
  if (end - begin < 2)
    fail("press '", press, "' needs at least 2 scored context tokens (layer ", layer.layer, " has ", end - begin,
         " of ", layer.n_tokens, " tokens to score)");
}

}  // namespace

int64_t single_pass_length(const LayerPrefill& layer, const std::string& press) {
  for (int64_t h = 0; h < layer.cache.n_heads_kv(); ++h)
    if (layer.cache.length(layer.layer, h) != layer.n_tokens)
      fail("press '", press, "' scores a single-shot prefill only (kvpress: prefill only): KV head ", h, " of layer ",
           layer.layer, " holds ", layer.cache.length(layer.layer, h), " entries but the pass has ", layer.n_tokens,
           " tokens (a chunked prefill, or after another press); use --prefill-chunk 0");
  return layer.n_tokens;
}

std::vector<double> leverage_zscores(const LayerPrefill& layer, int64_t begin, int64_t end, int64_t k,
                                     const std::string& press) {
  check_range(layer, begin, end, press);
  KV_CHECK(layer.hidden_normed != nullptr);
  const auto& c = layer.model.config();
  const int64_t Hkv = c.n_heads_kv, d = c.head_dim, n = end - begin, kv_dim = Hkv * d;
  std::vector<float> keys((size_t)(n * kv_dim));  // pre-RoPE [n, Hkv * d]
  layer.model.project_keys(layer.layer, layer.hidden_normed + begin * c.n_embd, n, keys.data(), layer.pool);
  // One sketch per KV head, drawn in head order from a generator seeded by the layer.
  GaussianDraws gauss(kSketchSeed + 0x9E3779B97F4A7C15ull * (uint64_t)layer.layer);
  std::vector<double> out((size_t)(Hkv * n));
  std::vector<float> phi_t((size_t)(k * d)), centred((size_t)(n * d)), x((size_t)(n * k)), xt((size_t)(k * n)),
      gram((size_t)(k * k));
  std::vector<double> mean((size_t)d);
  for (int64_t h = 0; h < Hkv; ++h) {
    for (int64_t i = 0; i < d; ++i)  // Phi [d, k] row-major, stored transposed as a matmul weight [k, d]
      for (int64_t j = 0; j < k; ++j) phi_t[j * d + i] = (float)(gauss.next() / std::sqrt((double)k));
    std::fill(mean.begin(), mean.end(), 0.0);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t i = 0; i < d; ++i) mean[i] += keys[t * kv_dim + h * d + i];
    for (int64_t i = 0; i < d; ++i) mean[i] /= (double)n;
    for (int64_t t = 0; t < n; ++t)
      for (int64_t i = 0; i < d; ++i) centred[t * d + i] = (float)(keys[t * kv_dim + h * d + i] - mean[i]);
    kernels::matmul(f32_matrix(phi_t.data(), k, d), centred.data(), n, d, x.data(), k, layer.pool);  // X [n, k]
    for (int64_t t = 0; t < n; ++t)
      for (int64_t j = 0; j < k; ++j) xt[j * n + t] = x[t * k + j];
    kernels::matmul(f32_matrix(xt.data(), k, n), xt.data(), k, n, gram.data(), k, layer.pool);  // X^T X
    // kvpress's chol_with_jitter on (G + G^T)/2: lambda = 1e-2, then x10, at most 5 tries.
    std::vector<double> L;
    double lambda = 1e-2;
    bool ok = false;
    for (int tries = 0; tries < 5 && !ok; ++tries, lambda *= 10.0) {
      L.assign((size_t)(k * k), 0.0);
      for (int64_t i = 0; i < k; ++i)
        for (int64_t j = 0; j < k; ++j)
          L[i * k + j] = 0.5 * ((double)gram[i * k + j] + gram[j * k + i]) + (i == j ? lambda : 0.0);
      ok = cholesky(L, k);
    }
    if (!ok) fail("press '", press, "': the Cholesky factorisation of the sketched key Gram matrix of layer ",
                  layer.layer, " head ", h, " failed after 5 tries (lambda up to 100)");
    // l_s = |L^{-1} x_s|^2 (forward substitution), clamped at 0.
    std::vector<double> y((size_t)k);
    for (int64_t t = 0; t < n; ++t) {
      double lev = 0;
      for (int64_t i = 0; i < k; ++i) {
        double v = x[t * k + i];
        for (int64_t p = 0; p < i; ++p) v -= L[i * k + p] * y[p];
        y[i] = v / L[i * k + i];
        lev += y[i] * y[i];
      }
      out[h * n + t] = std::max(lev, 0.0);
    }
  }
  zscore(out);
  return out;
}

std::vector<double> non_causal_zscores(const LayerPrefill& layer, int64_t begin, int64_t end, int64_t chunk,
                                       const std::string& press) {
  check_range(layer, begin, end, press);
  const auto& c = layer.model.config();
  const int64_t H = c.n_heads, Hkv = c.n_heads_kv, G = c.group_size(), d = c.head_dim, n = end - begin;
  KV_CHECK(layer.n_query_rows == layer.n_tokens);
  const int64_t n_pad = (n + chunk - 1) / chunk * chunk;
  const int64_t last_start = (n_pad - chunk);
  std::vector<double> mass((size_t)(H * n), 0.0);  // per query head: attention mass each key receives
  std::vector<float> keys((size_t)(n_pad * d), 0.0f), values((size_t)(n * d)), q((size_t)(chunk * d)),
      dots((size_t)(chunk * chunk));
  std::vector<double> probs((size_t)chunk);
  for (int64_t h = 0; h < H; ++h) {
    const int64_t g = h / G;
    if (h % G == 0) layer.cache.keys(layer.layer, g).read(begin, n, keys.data());  // zero rows after n
    for (int64_t c0 = 0; c0 < n_pad; c0 += chunk) {
      for (int64_t i = 0; i < chunk; ++i)
        for (int64_t e = 0; e < d; ++e) q[i * d + e] = c0 + i < n ? layer.query(begin + c0 + i)[h * d + e] : 0.0f;
      // dots[i * chunk + j] = <q_i, k_j> over the chunk's keys (no 1/sqrt(d) scaling).
      kernels::matmul(f32_matrix(&keys[c0 * d], chunk, d), q.data(), chunk, d, dots.data(), chunk, layer.pool);
      const bool padded = c0 == last_start && n_pad > n;
      for (int64_t i = 0; i < chunk; ++i) {
        double max_logit = -INFINITY;
        for (int64_t j = 0; j < chunk; ++j) {
          double v = dots[i * chunk + j];
          if (padded && c0 + i >= n) v = 0.0;   // padded query rows: logits 0
          if (padded && c0 + j >= n) v = -1e-9;  // padded key columns: -1e-9 (not a real mask)
          probs[j] = v;
          max_logit = std::max(max_logit, v);
        }
        double sum = 0;
        for (int64_t j = 0; j < chunk; ++j) sum += (probs[j] = std::exp(probs[j] - max_logit));
        for (int64_t j = 0; j < chunk && c0 + j < n; ++j) mass[h * n + c0 + j] += probs[j] / sum;
      }
    }
  }
  // Mean over the group, times ||v||, then avg_pool1d(3, stride 1, padding 1) with divisor 3.
  std::vector<double> s((size_t)(Hkv * n), 0.0), out((size_t)(Hkv * n));
  for (int64_t g = 0; g < Hkv; ++g) {
    layer.cache.values(layer.layer, g).read(begin, n, values.data());
    for (int64_t t = 0; t < n; ++t) {
      double a = 0, sq = 0;
      for (int64_t k = 0; k < G; ++k) a += mass[(g * G + k) * n + t];
      for (int64_t e = 0; e < d; ++e) sq += (double)values[t * d + e] * values[t * d + e];
      s[g * n + t] = a / (double)G * std::sqrt(sq);
    }
    for (int64_t t = 0; t < n; ++t) {
      double sum = s[g * n + t];
      if (t > 0) sum += s[g * n + t - 1];
      if (t + 1 < n) sum += s[g * n + t + 1];
      out[g * n + t] = sum / 3.0;
    }
  }
  zscore(out);
  return out;
}

}  // namespace kvpress
