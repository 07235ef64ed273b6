// Independent re-derivations of kvpress's wrapper presses (spec §2.14, 2.15, 2.19, 2.20, 2.22) in
// double with plain loops, on the snapshot of what a press saw. They share no code with src/press;
// inner scores come from press_reference.h.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "model/model.h"
#include "press_reference.h"

namespace kvpress::testing {

using KeptSets = std::vector<std::vector<int32_t>>;  // [n_heads_kv] ascending entry indices

// Indices of the n highest of row, ascending; ties to the lower index.
std::vector<int32_t> ref_top(const std::vector<double>& row, int64_t n);

// The layer's output projection o_proj as doubles [n_embd][n_heads * head_dim] (f32 test models).
std::vector<std::vector<double>> ref_output_weights(const Model& model, int64_t layer);
// CriticalKV's n[h][j] = mean over the query heads q of KV head h of ||v_j . Wo_q||_1, Wo_q = columns
// q*d .. q*d+d-1 of o_proj.
RefScores ref_value_output_norm(const LayerSnapshot& s, const ModelConfig& c,
                                const std::vector<std::vector<double>>& wo);
// CriticalKV (§2.14): (s + eps) * n, the top int((1-r) S fsr) inner entries of each head at +inf.
RefScores ref_criticalkv(const RefScores& inner, const RefScores& norms, double ratio, double epsilon,
                         double first_stage_ratio);
// CriticalAdaKV (§2.15): kept entries per head (joint selections break ties by position, then head).
KeptSets ref_critical_adakv_keep(const RefScores& inner, const RefScores& norms, double ratio, double alpha,
                                 double epsilon, double first_stage_ratio);
// ChunkKV (§2.19): the kept positions (the same in every head).
std::vector<int32_t> ref_chunkkv_keep(const RefScores& inner, int64_t chunk_length, double ratio);

// The snapshot restricted to entries[h] of every head; the piece's tokens are the pass's tokens
// [first, first + n) (queries and positions), or none when first < 0.
LayerSnapshot ref_piece(const LayerSnapshot& s, const std::vector<std::vector<int64_t>>& entries, int64_t first);
using RefScorer = std::function<RefScores(const LayerSnapshot&)>;
// ChunkPress (§2.22): each chunk scored alone, max(1, int(len (1-r))) kept per chunk.
KeptSets ref_chunk_keep(const LayerSnapshot& s, int64_t chunk_length, double ratio, const RefScorer& scorer);
// BlockPress (§2.22): kept = [0, n_kept); each block joins the kept entries and the top n_kept stay.
KeptSets ref_block_keep(const LayerSnapshot& s, int64_t block_size, double ratio, const RefScorer& scorer);

// KeyRerotation (§2.20): the key stored at `position` of head `head`, un-rotated from its position
// and rotated to new_position, with RoPE re-derived from the config (llama: adjacent pairs, qwen2/3:
// halves; theta_i = base^(-2i/d)). [head_dim]
std::vector<double> ref_rerotated_key(const LayerSnapshot& s, const ModelConfig& c, int64_t head, int64_t entry,
                                      int64_t new_position);

// MergingPress (§2.22): the values of head `head`'s kept entries (ascending) after every evicted
// entry's value is merged into the kept entry with the most cosine-similar key. [n_kept][head_dim]
std::vector<std::vector<double>> ref_merged_values(const LayerSnapshot& s, int64_t head,
                                                   const std::vector<int32_t>& kept, double similarity_threshold,
                                                   double merge_fraction);

}  // namespace kvpress::testing
