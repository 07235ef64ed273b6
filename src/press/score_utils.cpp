// Top-k selection, protection scores and the window attention that SnapKV and TOVA recompute.
#include "press/score_utils.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <numeric>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "model/attention.h"
#include "runtime/thread_pool.h"

namespace kvpress {

bool ranks_higher(float a, int64_t ia, float b, int64_t ib) {
  // NaN is mapped below -inf so the order stays strict and weak (std::sort requires it).
  const bool na = std::isnan(a), nb = std::isnan(b);
  if (na != nb) return nb;
  if (!na && a != b) return a > b;
  return ia < ib;
}

std::vector<int64_t> top_indices(const float* scores, int64_t n, int64_t n_keep) {
  KV_CHECK(n_keep >= 0);
  n_keep = std::min(n_keep, n);
  std::vector<int64_t> idx((size_t)n);
  std::iota(idx.begin(), idx.end(), 0);
  auto higher = [scores](int64_t a, int64_t b) { return ranks_higher(scores[a], a, scores[b], b); };
  if (n_keep < n) std::nth_element(idx.begin(), idx.begin() + n_keep, idx.end(), higher);
  idx.resize((size_t)n_keep);
  std::sort(idx.begin(), idx.end());
  return idx;
}

float protection_score(std::span<const float> scores) {
  float max_score = -std::numeric_limits<float>::infinity();
  bool any = false;
  for (float s : scores)
    if (!std::isnan(s)) {
      max_score = std::max(max_score, s);
      any = true;
    }
  if (!any || max_score == -std::numeric_limits<float>::infinity()) return 1.0f;
  const float p = max_score + 1.0f;
  // For |max| >= 2^24, max + 1 == max: step to the next float so protection stays strict.
  return p > max_score ? p : std::nextafter(max_score, std::numeric_limits<float>::infinity());
}

int64_t uniform_head_length(const KvCache& cache, int64_t layer, const std::string& press) {
  const int64_t n = cache.length(layer, 0);
  for (int64_t h = 1; h < cache.n_heads_kv(); ++h)
    if (cache.length(layer, h) != n)
      fail("press '", press, "' needs every KV head of layer ", layer, " to hold the same number of entries (head 0: ",
           n, ", head ", h, ": ", cache.length(layer, h),
           "): it cannot follow a head-wise press such as adakv, nor run in a chunked prefill after one");
  return n;
}

std::vector<int64_t> head_lengths(const KvCache& cache, int64_t layer) {
  std::vector<int64_t> n((size_t)cache.n_heads_kv());
  for (int64_t h = 0; h < cache.n_heads_kv(); ++h) n[h] = cache.length(layer, h);
  return n;
}

std::vector<float> window_attention_mean(const LayerPrefill& layer, int64_t n_window) {
  const auto& c = layer.model.config();
  const int64_t H = c.n_heads, d = c.head_dim, G = c.group_size();
  const std::vector<int64_t> lengths = head_lengths(layer.cache, layer.layer);
  const int64_t S = *std::max_element(lengths.begin(), lengths.end());
  const int64_t T = layer.n_tokens;
  KV_CHECK(n_window >= 1 && n_window <= T);
  std::vector<float> out((size_t)(H * S), 0.0f);
  // The window's query rows are consecutive rows of layer.queries ([rows, H * d]): head h's are
  // query(T - n_window) + h * d, H * d apart.
  const float* q0 = layer.query(T - n_window);
  layer.pool.parallel_for(H, 1, [&](int64_t begin, int64_t end, int) {
    // Per-thread buffers kept across calls (pool workers live as long as the pool): a fresh
    // [n_window, S] block per layer would be page-faulted in every time.
    thread_local std::vector<float> probs;
    thread_local std::vector<double> sum;
    if (probs.size() < (size_t)(n_window * S)) probs.resize((size_t)(n_window * S));
    sum.resize((size_t)S);
    for (int64_t h = begin; h < end; ++h) {
      const int64_t n = lengths[h / G];
      attention_probs_rows(q0 + h * d, H * d, layer.positions + (T - n_window), n_window, layer.cache, layer.layer,
                           h / G, probs.data(), S);
      std::fill(sum.begin(), sum.end(), 0.0);
      for (int64_t t = 0; t < n_window; ++t) {
        const float* p = probs.data() + t * S;
        for (int64_t j = 0; j < n; ++j) sum[j] += p[j];
      }
      for (int64_t j = 0; j < S; ++j) out[h * S + j] = (float)(sum[j] / (double)n_window);
    }
  });
  return out;
}

std::vector<float> group_mean(const std::vector<float>& per_head, int64_t n_heads, int64_t n_heads_kv, int64_t n) {
  KV_CHECK((int64_t)per_head.size() == n_heads * n && n_heads % n_heads_kv == 0);
  const int64_t G = n_heads / n_heads_kv;
  std::vector<float> out((size_t)(n_heads_kv * n));
  for (int64_t g = 0; g < n_heads_kv; ++g)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t k = 0; k < G; ++k) s += per_head[(g * G + k) * n + j];
      out[g * n + j] = (float)(s / (double)G);
    }
  return out;
}

std::string format_number(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

}  // namespace kvpress
