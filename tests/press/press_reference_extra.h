// Independent re-derivations of the presses that run extra passes or look at the whole context
// (spec §2.11 SimLayerKV, §2.21 KVzip, §2.22 KVCompose, §2.12 DuoAttention on the fly), with plain
// loops in double from snapshots of what the passes saw. They share no code with src/press.
#pragma once
#include <cstdint>
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

}  // namespace kvpress::testing
