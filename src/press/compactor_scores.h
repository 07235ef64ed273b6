// The two query-agnostic scores of Compactor (Chari & Van Durme 2025), shared by the leverage,
// non_causal_attention and compactor presses: both read every token of a single-shot prefill and
// return z-scores over a range [begin, end) of it (spec §2.22).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/model.h"

namespace kvpress {

// S of a prefill in which every KV head holds exactly the pass's T tokens; throws Error naming
// `press` otherwise (a chunked prefill, or after another press): these scores need the hidden
// states or queries of every cached token.
int64_t single_pass_length(const LayerPrefill& layer, const std::string& press);

// Approximate leverage of the pre-RoPE keys of tokens [begin, end) (recomputed from the attention
// input) under a Gaussian sketch Phi ~ N(0, 1/k) [d, k] per KV head: X = (K - mean K) Phi,
// l_s = x_s^T (X^T X + lambda I)^{-1} x_s (lambda = 1e-2, x10 on a failed Cholesky, 5 tries), then
// z-scored over every head together. The sketch is drawn from a generator seeded by the layer
// index (deterministic; kvpress draws fresh each call). Returns [n_heads_kv, end - begin].
std::vector<double> leverage_zscores(const LayerPrefill& layer, int64_t begin, int64_t end, int64_t sketch_dimension,
                                     const std::string& press);

// Non-causal chunked attention of tokens [begin, end): post-RoPE queries and keys padded with zero
// rows to a multiple of chunk_size, full attention inside each chunk without 1/sqrt(d), kvpress's
// last-chunk quirks (padded query rows get logits 0, padded key columns -1e-9, i.e. not masked),
// column sums, mean over the GQA group, times ||v||, avg_pool1d(3, padding 1, divisor 3), z-scored
// over every head together. Returns [n_heads_kv, end - begin].
std::vector<double> non_causal_zscores(const LayerPrefill& layer, int64_t begin, int64_t end, int64_t chunk_size,
                                       const std::string& press);

}  // namespace kvpress
