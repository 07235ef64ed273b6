// Head-adaptive selection (AdaKV, spec §2.4; CriticalAdaKV, §2.15): the best entries of a layer over
// all its KV heads jointly, and the per-head compaction that keeps them (memory really freed).
#pragma once
#include <cstdint>
#include <vector>

#include "press/press.h"

namespace kvpress {

// The n_total best (head, entry) pairs of `scores` over every head together; per head, the kept entry
// indices in ascending order (heads end with different counts). Ties: lower position first, then
// lower head; NaN ranks last; a head's padding past its length is never kept.
std::vector<std::vector<int64_t>> top_over_heads(const HeadScores& scores, int64_t n_total);

// Keeps entries kept[h] (ascending) of every head h of layer.layer.
void keep_per_head(const LayerPrefill& layer, const std::vector<std::vector<int64_t>>& kept);

}  // namespace kvpress
