// ScorerPress: from per-entry scores to the kept entries of every KV head (spec §1.4).
#include "press/press.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "press/score_utils.h"

namespace kvpress {

int64_t kept_count(int64_t n_tokens, double compression_ratio) {
  // Python's int(S * (1 - cr)): truncation of a double product (e.g. S=10, cr=0.9 keeps 0 because
  // 1 - 0.9 == 0.09999999999999998). Never S - S*cr and never in float.
  return (int64_t)((double)n_tokens * (1.0 - compression_ratio));
}

ObservationNeeds combined_needs(const ObservationNeeds& a, const ObservationNeeds& b) {
  return {std::max(a.query_rows, b.query_rows), a.hidden_normed || b.hidden_normed};
}

void validate_compression_ratio(double ratio) {
  if (!(ratio >= 0.0 && ratio < 1.0))
    fail("compression ratio must be in [0, 1) (the fraction of KV pairs removed), got ", std::to_string(ratio));
}

ScorerPress::ScorerPress(double compression_ratio) : compression_ratio_(0.0) {
  set_compression_ratio(compression_ratio);
}

void ScorerPress::set_compression_ratio(double ratio) {
  validate_compression_ratio(ratio);
  compression_ratio_ = ratio;
}

void ScorerPress::compress(const LayerPrefill& layer) {
  // kvpress returns before scoring when nothing is removed, so ratio 0 costs nothing.
  if (compression_ratio_ == 0.0) return;
  HeadScores scores;
  score(layer, scores);
  keep_top(layer, scores);
}

int64_t ScorerPress::kept_entries(const LayerPrefill& layer, int64_t n_entries) const {
  return std::min(n_entries, layer_budget(layer, n_entries + layer.evicted));
}

int64_t ScorerPress::layer_budget(const LayerPrefill&, int64_t n_tokens) const {
  return kept_count(n_tokens, compression_ratio_);
}

void HeadScores::resize(const std::vector<int64_t>& head_lengths) {
  n_heads_kv = (int64_t)head_lengths.size();
  n_tokens = head_lengths.empty() ? 0 : *std::max_element(head_lengths.begin(), head_lengths.end());
  values.assign((size_t)(n_heads_kv * n_tokens), std::numeric_limits<float>::quiet_NaN());
  lengths = head_lengths;
}

bool HeadScores::uniform() const {
  return std::all_of(lengths.begin(), lengths.end(), [&](int64_t n) { return n == n_tokens; });
}

void ScorerPress::keep_top(const LayerPrefill& layer, const HeadScores& scores) const {
  const int64_t n_heads_kv = layer.cache.n_heads_kv();
  KV_CHECK(scores.n_heads_kv == n_heads_kv);
  if (!scores.uniform())
    fail("press '", name(), "' keeps the same number of entries in every KV head, but the heads of layer ",
         layer.layer, " hold different numbers (after a head-wise press such as adakv); wrap it in adakv(...)");
  for (int64_t h = 0; h < n_heads_kv; ++h) KV_CHECK(layer.cache.length(layer.layer, h) == scores.n_tokens);
  const int64_t n_kept = kept_entries(layer, scores.n_tokens);
  for (int64_t h = 0; h < n_heads_kv; ++h) {
    const std::vector<int64_t> kept = top_indices(scores.head(h), scores.n_tokens, n_kept);
    layer.cache.keep(layer.layer, h, kept);
  }
}

void AfterPrefillPress::require_whole_context(const ContextPrefill& context) const {
  const int64_t N = (int64_t)context.ids.size();
  for (int64_t l = 0; l < context.cache.n_layers(); ++l)
    for (int64_t h = 0; h < context.cache.n_heads_kv(); ++h)
      if (context.cache.length(l, h) != N)
        fail("press '", name().substr(0, name().find(':')), "' needs the whole context in the cache (", N,
             " entries per head), but layer ", l, " head ", h, " holds ", context.cache.length(l, h),
             "; it cannot follow another prefill press");
}

void AfterPrefillPress::set_compression_ratio(double ratio) {
  validate_compression_ratio(ratio);
  compression_ratio_ = ratio;
}

}  // namespace kvpress
