// Sampling: softmax over temperature-scaled logits restricted to top-k, then top-p, then one draw.
#include "pipeline/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "core/error.h"

namespace kvpress {

void SamplingOptions::validate() const {
  if (!(temperature >= 0) || !std::isfinite(temperature)) fail("temperature must be >= 0, got ", temperature);
  if (top_k < 0) fail("top-k must be >= 0, got ", top_k);
  if (!(top_p > 0 && top_p <= 1)) fail("top-p must be in (0, 1], got ", top_p);
}

int32_t argmax(std::span<const float> values) {
  KV_CHECK(!values.empty());
  int32_t best = 0;
  for (size_t i = 1; i < values.size(); ++i)
    if (values[i] > values[best]) best = (int32_t)i;
  return best;
}

Sampler::Sampler(const SamplingOptions& options) : options_(options), rng_(options.seed) { options_.validate(); }

int32_t Sampler::next(std::span<const float> logits) {
  if (options_.temperature == 0.0f) return argmax(logits);
  std::vector<int32_t> ids((size_t)logits.size());
  std::iota(ids.begin(), ids.end(), 0);
  auto by_logit = [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
  size_t n = ids.size();
  if (options_.top_k > 0 && (size_t)options_.top_k < n) {
    n = (size_t)options_.top_k;
    std::partial_sort(ids.begin(), ids.begin() + n, ids.end(), by_logit);
  } else {
    std::sort(ids.begin(), ids.end(), by_logit);
  }
  std::vector<double> p(n);
  const double max_logit = logits[ids[0]];
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += p[i] = std::exp(((double)logits[ids[i]] - max_logit) / options_.temperature);
  // Smallest prefix whose mass reaches top_p (at least one token).
  double mass = 0;
  size_t kept = 0;
  while (kept < n) {
    mass += p[kept] / sum;
    ++kept;
    if (mass >= options_.top_p) break;
  }
  double kept_sum = 0;
  for (size_t i = 0; i < kept; ++i) kept_sum += p[i];
  const double u = std::uniform_real_distribution<double>(0.0, kept_sum)(rng_);
  double acc = 0;
  for (size_t i = 0; i < kept; ++i) {
    acc += p[i];
    if (u < acc) return ids[i];
  }
  return ids[kept - 1];
}

}  // namespace kvpress
