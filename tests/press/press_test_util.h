// Test helpers for presses: prefill with snapshots of what each press saw, kept-set checks, and a
// masked-attention reference (kvpress's fake keys, spec §1.6) to compare compacted caches against.
#pragma once
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "cache/kv_cache.h"
#include "model/model.h"
#include "press/press.h"
#include "runtime/thread_pool.h"

namespace kvpress::testing {

// Copies of what a press sees for one layer, taken before the press runs.
struct LayerSnapshot {
  int64_t layer = 0;
  int64_t n_tokens = 0;
  std::vector<float> hidden_normed;  // [T, n_embd]
  std::vector<float> queries;        // [T, n_heads * head_dim], post-RoPE
  std::vector<int32_t> positions;    // [T]
  std::vector<std::vector<float>> keys, values;  // per KV head [S, head_dim]
  std::vector<std::vector<int32_t>> key_positions;
  int64_t length(int64_t head) const { return (int64_t)key_positions[head].size(); }
};

struct PrefillRun {
  KvCache cache;
  std::vector<LayerSnapshot> snapshots;  // one per layer
  std::vector<float> last_logits;        // logits of the last context token
};

// Prefills `ids` at positions 0..T-1 with `press` (may be null) observing every layer. `on_layer`
// (optional) runs after the snapshot and before the press (e.g. to call score()). question_tokens: the
// last ids are a query-aware question of that many tokens (the window of finch).
PrefillRun prefill(const Model& model, const std::vector<int32_t>& ids, Press* press, ThreadPool& pool,
                   const std::function<void(const LayerPrefill&)>& on_layer = {}, const KvTypes& kv_types = {},
                   int64_t question_tokens = 0);

// Kept original positions of one (layer, head) of a cache.
std::vector<int32_t> kept_positions(const KvCache& cache, int64_t layer, int64_t head);

// Checks that `kept` (positions, ascending) is a top-n_kept selection of `reference` (indexed by
// position): count, uniqueness, order, and no dropped entry scoring more than tol above a kept one.
// Returns the smallest margin (min kept - max dropped), to show selections are not near-ties.
double expect_top_selection(const std::vector<double>& reference, const std::vector<int32_t>& kept, int64_t n_kept,
                            double tol, const std::string& where);

// Logits [n_questions, n_vocab] of `question` fed at positions start.. on a copy of `cache`.
std::vector<float> decode_logits(const Model& model, const KvCache& cache, const std::vector<int32_t>& question,
                                 int32_t start, ThreadPool& pool);

// The same on the uncompressed cache `full` with every entry that `compressed` dropped replaced by
// kvpress's fake key k = -c * y / |y|^2 (y has <q, y> > 0 for every query of its group), iterated
// layer by layer until the queries the fake keys were built for are the ones of the masked run.
// Fails the test (ADD_FAILURE) if no such y exists or the final queries do not all satisfy it.
std::vector<float> masked_decode_logits(const Model& model, const KvCache& full, const KvCache& compressed,
                                        const std::vector<int32_t>& question, int32_t start, ThreadPool& pool);

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b);

}  // namespace kvpress::testing
