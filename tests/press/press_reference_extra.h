// Independent re-derivations of the presses that run extra passes or look at the whole context
// (spec §2.11 SimLayerKV, §2.21 KVzip, §2.22 KVCompose, §2.12 DuoAttention on the fly), with plain
// loops in double from snapshots of what the passes saw. They share no code with src/press.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/model_config.h"
#include "press_reference.h"
#include "press_test_util.h"

namespace kvpress::testing {

// One repeat pass of KVzip: the chunk [st, en) of the context it repeats, and per layer the snapshot
// of the pass (queries of every repeat token, the cache: N context entries then the repeat entries).
struct RefRepeatPass {
  int64_t st = 0, en = 0;
  std::vector<LayerSnapshot> layers;
};

// KVzip scores [L][Hkv][N] (spec §2.21 steps 3-4): 0 everywhere, 1 on the first n_sink positions, then
// each pass writes, for its chunk, the max over repeat queries and group heads of the softmax over
// sinks ++ chunk ++ repeat keys (causal among the repeat keys). plus: KVzip+ (rows / ||h||, columns
// * ||Wo_h v||) with wo[l] the layer's output projection [n_embd][n_heads * head_dim].
std::vector<RefScores> ref_kvzip_scores(const std::vector<RefRepeatPass>& passes, const ModelConfig& c, int64_t N,
                                        int64_t n_sink, bool plus,
                                        const std::vector<std::vector<std::vector<double>>>& wo);

// KVzip's budget (step 5): whether each entry [L][Hkv][N] is pruned: the int(L*Hkv*N*ratio) globally
// lowest (layerwise: int(Hkv*N*ratio) lowest per layer). Ties: lower position kept.
std::vector<std::vector<std::vector<bool>>> ref_kvzip_pruned(const std::vector<RefScores>& scores, double ratio,
                                                             bool layerwise);

// SimLayerKV's lazy-layer test (spec §2.11): the mean over query heads and the last n_last queries of
// their softmax over all S keys (causal), restricted to the S - n_last non-window columns; returns the
// share on the first n_initial plus the last n_recent of those columns.
double ref_simlayerkv_share(const LayerSnapshot& s, const ModelConfig& c, int64_t n_last, int64_t n_recent,
                            int64_t n_initial);

// KVCompose (spec §2.22). Scores [L][Hkv][N] from the snapshots of the re-fed pass (the context again
// at positions N..2N-1; cache: N context entries then the re-fed ones): per query head the softmax of
// each re-fed query over the keys it sees, agg_task ("max"/"mean") over the queries on the N context
// columns, agg_group over the group, times ||v|| (add_v_norm, the context's values), plus the mean over
// KV heads (add_mean_across_heads).
struct RefKvCompose {
  bool structured = true;
  std::string agg_task = "max", agg_group = "mean", agg_head = "mean";
  bool add_v_norm = false, add_mean_across_heads = true;
  int64_t keep_token_lower_bound = 0;
};
std::vector<RefScores> ref_kvcompose_scores(const std::vector<LayerSnapshot>& refed, const ModelConfig& c, int64_t N,
                                            const RefKvCompose& o);
// Entries each (layer, KV head) keeps [L][Hkv]: composites of descending-sorted scores (structured:
// agg_head over a layer's heads, layer 0 the max over layers; +1e9 on the first keep_token_lower_bound
// ranks), the global top int(numel * (1 - ratio)) counted per row.
std::vector<std::vector<int64_t>> ref_kvcompose_counts(const std::vector<RefScores>& scores, const RefKvCompose& o,
                                                       double ratio);

// DuoAttention on the fly (spec §2.12), one calibration text's contribution for one layer: q_mean
// [n_heads * head_dim] and k_mean [n_heads_kv * head_dim] (pre-RoPE means over the text's tokens) are
// rotated to positions q_len-1 (query) and 0..q_len-1 (keys) in the arch's RoPE layout (llama: adjacent
// pairs, qwen: halves; base c.rope_base); the last query's softmax over the q_len keys, cumulated and
// averaged over positions, then averaged over the group: [n_heads_kv].
std::vector<double> ref_duo_head_area(const std::vector<double>& q_mean, const std::vector<double>& k_mean,
                                      const ModelConfig& c, int64_t q_len);

}  // namespace kvpress::testing
