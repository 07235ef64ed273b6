// Benchmarks' stand-in for a long prefill: a cache holding what a press at some ratio would leave of a
// context, with random keys and values (decoding reads every entry whatever its value).
#pragma once
#include <cstdint>

#include "cache/kv_cache.h"

namespace kvpress {

// Appends n_kept entries per head to every layer of an empty `cache`: uniform random keys and values in
// [-1, 1), original positions spread evenly over 0..n_context-1. Throws Error unless 0 < n_kept <= n_context.
void fill_random(KvCache& cache, int64_t n_context, int64_t n_kept, uint64_t seed);

}  // namespace kvpress
