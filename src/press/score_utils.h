// Pieces shared by the presses: top-k selection, "max+1" protection, window attention, names.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "model/model.h"

namespace kvpress {

class KvCache;

// Indices of the n_keep highest of scores[0..n) in ascending index order. Ties are broken by lower
// index (= lower position, the cache is kept in position order); NaN ranks below everything.
std::vector<int64_t> top_indices(const float* scores, int64_t n, int64_t n_keep);

// A strict total order on scores used for every selection: a before b iff a ranks higher.
bool ranks_higher(float score_a, int64_t index_a, float score_b, int64_t index_b);

// kvpress's "pad with max+1" (spec §0): a value strictly above every score (the next float above
// max when max + 1 rounds back to max). Empty or all-NaN input gives 1.
float protection_score(std::span<const float> scores);

// Number of entries every KV head of `layer` holds; throws Error naming `press` when the heads
// differ (a uniform scorer cannot follow a head-wise press).
int64_t uniform_head_length(const KvCache& cache, int64_t layer, const std::string& press);

// Entries of every KV head of `layer` (they differ after a head-wise press such as adakv).
std::vector<int64_t> head_lengths(const KvCache& cache, int64_t layer);

// Mean over the last n_window queries of the pass of their softmax attention over each KV head's
// entries (causal by position; softmax over all entries, as kvpress's window attention).
// Returns [n_heads, S] where S is the longest head's length (a query head of a shorter KV head has
// zeros past its entries); parallel over query heads.
std::vector<float> window_attention_mean(const LayerPrefill& layer, int64_t n_window);

// Averages [n_heads, n] rows over each GQA group into [n_heads_kv, n] (query head h -> KV head h / G).
std::vector<float> group_mean(const std::vector<float>& per_head, int64_t n_heads, int64_t n_heads_kv, int64_t n);

// Shortest decimal text that reads back to the same double (parameter values in press names).
std::string format_number(double v);

}  // namespace kvpress
