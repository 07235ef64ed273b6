// The joint top-k over a layer's KV heads that AdaKV-style presses select with.
#include "press/head_selection.h"

#include <algorithm>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "press/score_utils.h"

namespace kvpress {

std::vector<std::vector<int64_t>> top_over_heads(const HeadScores& scores, int64_t n_total) {
  const int64_t Hkv = scores.n_heads_kv, S = scores.n_tokens;
  std::vector<int64_t> flat;
  for (int64_t h = 0; h < Hkv; ++h)
    for (int64_t j = 0; j < scores.length(h); ++j) flat.push_back(h * S + j);
  n_total = std::clamp<int64_t>(n_total, 0, (int64_t)flat.size());
  auto higher = [&](int64_t x, int64_t y) {
    const int64_t rank_x = (x % S) * Hkv + x / S, rank_y = (y % S) * Hkv + y / S;  // position-major tie order
    return ranks_higher(scores.values[x], rank_x, scores.values[y], rank_y);
  };
  if (n_total < (int64_t)flat.size()) std::nth_element(flat.begin(), flat.begin() + n_total, flat.end(), higher);
  flat.resize((size_t)n_total);
  std::sort(flat.begin(), flat.end());  // head-major, ascending positions within a head
  std::vector<std::vector<int64_t>> kept((size_t)Hkv);
  for (int64_t x : flat) kept[x / S].push_back(x % S);
  return kept;
}

void keep_per_head(const LayerPrefill& layer, const std::vector<std::vector<int64_t>>& kept) {
  KV_CHECK((int64_t)kept.size() == layer.cache.n_heads_kv());
  for (int64_t h = 0; h < layer.cache.n_heads_kv(); ++h) layer.cache.keep(layer.layer, h, kept[h]);
}

}  // namespace kvpress
