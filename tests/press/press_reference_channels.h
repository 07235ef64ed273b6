// Independent re-derivations for the channel and statistics presses (ThinK, spec §2.10), with plain
// loops in double on the snapshot of what a press saw. They share no code with src/press.
#pragma once
#include <cstdint>
#include <vector>

#include "model/model_config.h"
#include "press_test_util.h"

namespace kvpress::testing {

// ThinK: channel score = mean over the last min(window, T) post-RoPE queries and the group's heads
// of q_i^2, times the mean over the head's keys of k_i^2; the int(d * ratio) lowest channels (lower
// index first among equal scores) are pruned. Returns the kept channels of each KV head, ascending.
std::vector<std::vector<int32_t>> ref_think_kept_channels(const LayerSnapshot& s, const ModelConfig& c,
                                                          double key_channel_ratio, int64_t window_size);

}  // namespace kvpress::testing

namespace kvpress::testing {

// FinchPress scores (spec §2.13) from the snapshot: softmax(q.k / sqrt(d)) of the last w (question)
// queries over all S keys (causal by position); row i times (S - w + i) when normalizing; mean over
// the rows, then over the group's heads; the w window entries get max + 1. [n_heads_kv][S]
std::vector<std::vector<double>> ref_finch_scores(const LayerSnapshot& s, const ModelConfig& c, int64_t w,
                                                  bool normalize);

// key rotated in place by `delta` positions with RoPE of the tiny models (pairs (2i, 2i+1) for llama,
// (i, i + d/2) otherwise; theta_i = rope_base^(-2i/d)), in double.
void ref_rotate(std::vector<double>& key, const ModelConfig& c, int64_t delta);

}  // namespace kvpress::testing
