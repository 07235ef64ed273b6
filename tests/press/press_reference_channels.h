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
