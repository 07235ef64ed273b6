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

// Leverage z-scores of tokens [begin, end) per KV head (spec §2.22): pre-RoPE keys recovered by
// rotating the snapshot's keys back; the sketch Phi [d, k] per head is the documented seeded draw
// (press/gaussian.h started at kSketchSeed + 0x9E3779B97F4A7C15 * layer, heads in order, Phi row-major,
// each draw / sqrt(k)), the only thing taken from the library. [n_heads_kv][end - begin]
RefScores ref_leverage(const LayerSnapshot& s, const ModelConfig& c, int64_t begin, int64_t end, int64_t k);
// Non-causal chunked attention z-scores of tokens [begin, end) (spec §2.22, kvpress's padding quirks).
RefScores ref_non_causal(const LayerSnapshot& s, const ModelConfig& c, int64_t begin, int64_t end, int64_t chunk);
// Compactor: beta * leverage + non-causal over the middle, ends padded with the max.
RefScores ref_compactor(const LayerSnapshot& s, const ModelConfig& c, int64_t sink_start, int64_t sink_end,
                        int64_t chunk, int64_t k, double beta);

}  // namespace kvpress::testing
