// Independent re-derivations of kvpress's press scores (spec §2.1-2.8) with plain loops in double,
// from the snapshot of what a press saw. They share no code with src/press.
#pragma once
#include <cstdint>
#include <vector>

#include "model/model_config.h"
#include "press_test_util.h"

namespace kvpress::testing {

using RefScores = std::vector<std::vector<double>>;  // [n_heads_kv][S]

RefScores ref_knorm(const LayerSnapshot& s);
// KeyDiff (spec §2.17): -cos(k_j, mean_s k_s / |k_s|).
RefScores ref_keydiff(const LayerSnapshot& s);
RefScores ref_snapkv(const LayerSnapshot& s, const ModelConfig& c, int64_t window_size, int64_t kernel_size);
RefScores ref_tova(const LayerSnapshot& s, const ModelConfig& c);
RefScores ref_observed_attention(const LayerSnapshot& s, const ModelConfig& c);
RefScores ref_streaming_llm(int64_t n_heads_kv, int64_t S, int64_t n_sink, double ratio);

struct RefExpectedAttention {
  int64_t n_future_positions = 512;
  int64_t n_sink = 4;
  bool use_covariance = true;
  bool use_vnorm = true;
  double epsilon = 0.0;
};
// Pre-RoPE queries are recovered by rotating the snapshot's queries back by their position (the
// model's RoPE layout and base are re-derived here from config.arch and rope_base), then moved to
// HF's half-split layout where kvpress's R_p = diag(cos) + diag(sin) P is built as a full matrix.
RefScores ref_expected_attention(const LayerSnapshot& s, const ModelConfig& c, const RefExpectedAttention& o);

// AdaKV selection on reference scores: the kept positions per head (ascending), plus the scores at
// its two cut-offs (each head's n_safe-th best, and the last entry kept overall) so tests can accept
// differences that are only float-rounding ties at a cut-off.
struct AdaKvSelection {
  std::vector<std::vector<int32_t>> kept;
  std::vector<double> safe_cutoff;  // per head (+inf when n_safe == 0)
  double global_cutoff = 0;         // score (before the safeguard) of the last entry kept
};
AdaKvSelection ref_adakv_keep(const RefScores& scores, double ratio, double alpha);

// kvpress's int(S * (1 - ratio)) spelled out in double.
int64_t ref_kept_count(int64_t S, double ratio);

}  // namespace kvpress::testing
