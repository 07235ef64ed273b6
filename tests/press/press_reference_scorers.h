// Independent re-derivations of the scorer presses of spec §2.9, §2.18 and §2.22 (PyramidKV, LagKV,
// CUR, Cap, Leverage, NonCausalAttn, Compactor) with plain loops in double, from the snapshot of what
// a press saw. They share no code with src/press.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/model_config.h"
#include "press_reference.h"

namespace kvpress::testing {

// PyramidKV's budget of layer `layer` of n_layers for S entries (spec §2.9, Python round = half-even).
int64_t ref_pyramidkv_budget(int64_t S, double ratio, int64_t layer, int64_t n_layers, int64_t window_size,
                             int64_t beta);

// LagKV (spec §2.18).
RefScores ref_lagkv(const LayerSnapshot& s, int64_t n_sink, int64_t lag_size, bool cross_scoring);

// CUR without the random projection (spec §2.22): leverage_type "key", "value", "kv_avg" or "kv_product";
// local_window 0 = no local approximation.
RefScores ref_cur(const LayerSnapshot& s, int64_t num_sinks, const std::string& leverage_type, int64_t local_window);

// Cap (spec §2.22). Pre-RoPE queries are recovered by rotating the snapshot's queries back (as
// ref_expected_attention); the averaged rotation is built as a full d x d matrix in HF's layout.
RefScores ref_cap(const LayerSnapshot& s, const ModelConfig& c, double tau, int64_t n_future, int64_t n_sink,
                  double epsilon);

}  // namespace kvpress::testing
