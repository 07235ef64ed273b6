// CriticalKVPress and CriticalAdaKVPress (Feng et al. 2025, "Identify Critical KV Cache in LLM Inference
// from an Output Perturbation Perspective", spec §2.14-2.15): the inner scorer's scores re-weighted by
// how much each value moves the attention output, ||v . Wo_h||_1 averaged over the GQA group, after a
// first stage that keeps the inner scorer's own best first_stage_ratio of the budget. Both live in one
// file, as in kvpress (criticalkv_press.py), because they share that norm.
// CriticalAdaKV distributes the budget over heads as AdaKV does; kvpress only masks, we compact each
// head for real (head_selection.h, as adakv.cpp).
#include <algorithm>
#include <cmath>
#include <limits>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "kernels/kernels.h"
#include "press/head_selection.h"
#include "press/press_args.h"
#include "press/score_utils.h"
#include "press/scorer_wrapper.h"
#include "runtime/thread_pool.h"

namespace kvpress {
namespace {

constexpr float kForced = std::numeric_limits<float>::max();  // kvpress's finfo.max

// n[h][j] = mean over the query heads q of KV head h of sum_e |(v_j . Wo_q)[e]|, where Wo_q holds the
// columns q*d .. q*d+d-1 of the layer's output projection [n_embd, n_heads*d] (dequantized once here).
// Entries with forced[h][j] set are already kept whatever their norm: they are skipped (norm 0), which
// saves a quarter or more of the work at the usual ratios. Work items are (query head, block of
// needed values): each projects its block with one gemm of Wo_q [n_embd, d] by the block's values
// transposed, and sums the absolute values of each column.
std::vector<std::vector<double>> value_output_norms(const LayerPrefill& layer, const std::vector<int64_t>& lengths,
                                                    const std::vector<std::vector<char>>& forced) {
  const auto& c = layer.model.config();
  const int64_t D = c.n_embd, d = c.head_dim, H = c.n_heads, G = c.group_size(), HD = H * d;
  const int64_t Hkv = (int64_t)lengths.size();
  KV_CHECK(Hkv * G == H && (int64_t)forced.size() == Hkv);
  const kernels::MatrixView& wo = layer.model.weights().layers[(size_t)layer.layer].wo;
  KV_CHECK(wo.n_rows == D && wo.n_cols == HD);
  const kernels::KernelSet& ks = kernels::active_kernels();
  thread_local std::vector<float> wo_buffer;  // this thread's, kept across layers (no page faults per layer)
  wo_buffer.resize((size_t)(D * HD));
  float* const wo_f32 = wo_buffer.data();  // the pool's threads read it through this pointer
  // On this thread: a cheap stage, where waiting for a busy pool would cost more.
  [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) ks.dequantize_row(wo.type, wo.row(r), wo_f32 + r * HD, HD);
  }(0, D);
  // The entries whose norm is needed, per KV head, ascending.
  std::vector<std::vector<int64_t>> needed((size_t)Hkv);
  for (int64_t g = 0; g < Hkv; ++g)
    for (int64_t j = 0; j < lengths[g]; ++j)
      if (!forced[g][j]) needed[g].push_back(j);
  constexpr int64_t kRows = 256;  // values per item, a multiple of kernels::kGemmTokenPad
  struct Item {
    int64_t q, i0;  // query head, first index into needed[q / G]
  };
  std::vector<Item> items;
  for (int64_t q = 0; q < H; ++q)
    for (int64_t i0 = 0; i0 < (int64_t)needed[q / G].size(); i0 += kRows) items.push_back({q, i0});
  std::vector<std::vector<double>> l1((size_t)H);  // [H][length of the head's KV head]
  for (int64_t q = 0; q < H; ++q) l1[q].assign((size_t)lengths[q / G], 0.0);
  struct Scratch {
    std::vector<float> rows, rows_t, projected;
  };
  layer.pool.parallel_for((int64_t)items.size(), 1, [&](int64_t begin, int64_t end, int) {
    thread_local Scratch sc;  // pool workers live as long as the pool: allocated once
    sc.rows.resize((size_t)(kRows * d));
    sc.rows_t.resize((size_t)(d * kRows));  // the block's values transposed, as the gemm reads them
    constexpr int64_t kSlice = 16;  // output rows per gemm
    sc.projected.resize((size_t)(kSlice * kRows));  // [kSlice, kRows]: column t is a slice of Wo_q v_(j0 + t)
    double acc[kRows];
    for (int64_t it = begin; it < end; ++it) {
      const auto [q, i0] = items[it];
      const int64_t g = q / G;
      const std::vector<int64_t>& idx = needed[g];
      const int64_t m = std::min(kRows, (int64_t)idx.size() - i0);
      const int64_t ldb = (m + kernels::kGemmTokenPad - 1) / kernels::kGemmTokenPad * kernels::kGemmTokenPad;
      const KvRows values = layer.cache.values(layer.layer, g);
      for (int64_t t = 0; t < m;) {  // runs of consecutive entries in one read each
        int64_t run = 1;
        while (t + run < m && idx[i0 + t + run] == idx[i0 + t] + run) ++run;
        values.read(idx[i0 + t], run, &sc.rows[(size_t)(t * d)]);
        t += run;
      }
      for (int64_t i = 0; i < d; ++i) {
        float* dst = &sc.rows_t[(size_t)(i * ldb)];
        for (int64_t t = 0; t < m; ++t) dst[t] = sc.rows[t * d + i];
        std::fill(dst + m, dst + ldb, 0.0f);
      }
      // Output rows e in slices, so that each slice's projection is summed while it is still in L1.
      std::fill(acc, acc + m, 0.0);
      for (int64_t e0 = 0; e0 < D; e0 += kSlice) {
        const int64_t me = std::min(kSlice, D - e0);
        ks.gemm_f32(wo_f32 + e0 * HD + q * d, HD, me, sc.rows_t.data(), ldb, m, sc.projected.data(), ldb, d, false);
        for (int64_t e = 0; e < me; ++e)
          for (int64_t t = 0; t < m; ++t) acc[t] += std::fabs((double)sc.projected[e * ldb + t]);
      }
      for (int64_t t = 0; t < m; ++t) l1[q][(size_t)idx[i0 + t]] = acc[t];
    }
  });
  std::vector<std::vector<double>> norms((size_t)Hkv);
  for (int64_t g = 0; g < Hkv; ++g) {
    norms[g].assign((size_t)lengths[g], 0.0);
    for (int64_t k = 0; k < G; ++k)
      for (int64_t j = 0; j < lengths[g]; ++j) norms[g][j] += l1[g * G + k][j] / (double)G;
  }
  return norms;
}

// Scores of every head set to (s + eps) * norm, in float as kvpress (in the model's dtype): forced
// entries (finfo.max) may become +inf there, which still ranks above everything; here they stay at
// finfo.max (their norm was not computed).
void reweight(HeadScores& scores, const std::vector<std::vector<double>>& norms,
              const std::vector<std::vector<char>>& forced, double epsilon) {
  for (int64_t h = 0; h < scores.n_heads_kv; ++h)
    for (int64_t j = 0; j < scores.length(h); ++j)
      scores.head(h)[j] = forced[h][j] ? kForced : (scores.head(h)[j] + (float)epsilon) * (float)norms[h][j];
}

// The entries already at finfo.max.
std::vector<std::vector<char>> forced_entries(const HeadScores& scores) {
  std::vector<std::vector<char>> forced((size_t)scores.n_heads_kv);
  for (int64_t h = 0; h < scores.n_heads_kv; ++h) {
    forced[h].resize((size_t)scores.length(h));
    for (int64_t j = 0; j < scores.length(h); ++j) forced[h][j] = scores.head(h)[j] == kForced;
  }
  return forced;
}

void force_top(HeadScores& scores, int64_t h, int64_t n) {
  for (int64_t j : top_indices(scores.head(h), scores.length(h), std::min(n, scores.length(h))))
    scores.head(h)[j] = kForced;
}

struct CriticalOptions {
  double epsilon = 1e-4;
  double first_stage_ratio = 0.5;
};

CriticalOptions read_options(PressArgs& args) {
  CriticalOptions o;
  o.epsilon = args.real("epsilon", o.epsilon, 0.0, 1e6);
  o.first_stage_ratio = args.real("first_stage_ratio", o.first_stage_ratio, 0.0, 1.0);
  return o;
}

std::string option_text(const CriticalOptions& o) {
  return "epsilon=" + format_number(o.epsilon) + ",first_stage_ratio=" + format_number(o.first_stage_ratio);
}

}  // namespace

// A scorer itself (kvpress: CriticalKVPress(ScorerPress)), so it also works inside adakv, chunkkv, ...
class CriticalKvPress final : public ScorerPress {
 public:
  CriticalKvPress(std::unique_ptr<ScorerPress> inner, const CriticalOptions& o)
      : ScorerPress(0.0), inner_(std::move(inner)), o_(o) {}

  std::string name() const override { return "criticalkv(" + inner_->name() + "):" + option_text(o_); }
  void set_compression_ratio(double ratio) override {
    ScorerPress::set_compression_ratio(ratio);
    inner_->set_compression_ratio(ratio);
  }
  void reset() override { inner_->reset(); }
  ObservationNeeds needs() const override { return inner_->needs(); }
  void observe(const LayerChunk& chunk) override { inner_->observe(chunk); }

  void score(const LayerPrefill& layer, HeadScores& scores) override {
    inner_->score(layer, scores);
    // Stage 1: the inner scorer's top int((1 - r) * S * first_stage_ratio) entries of each head.
    std::vector<std::vector<char>> first((size_t)scores.n_heads_kv);
    for (int64_t h = 0; h < scores.n_heads_kv; ++h) {
      const double S = (double)(scores.length(h) + layer.evicted);
      const int64_t b1 = (int64_t)((1.0 - compression_ratio()) * S * o_.first_stage_ratio);
      first[h].assign((size_t)scores.length(h), 0);
      for (int64_t j : top_indices(scores.head(h), scores.length(h), std::min(b1, scores.length(h)))) first[h][j] = 1;
    }
    // Stage 2: re-weight by the value's effect on the output; the stage-1 entries stay on top.
    reweight(scores, value_output_norms(layer, scores.lengths, first), first, o_.epsilon);
  }

 private:
  std::unique_ptr<ScorerPress> inner_;
  CriticalOptions o_;
};

class CriticalAdaKvPress final : public ScorerWrapper {
 public:
  CriticalAdaKvPress(std::unique_ptr<ScorerPress> inner, double alpha_safeguard, const CriticalOptions& o)
      : ScorerWrapper(std::move(inner)), alpha_safeguard_(alpha_safeguard), o_(o) {}

  std::string name() const override {
    return "critical_adakv(" + inner().name() + "):alpha_safeguard=" + format_number(alpha_safeguard_) + "," +
           option_text(o_);
  }

  void compress(const LayerPrefill& layer) override {
    if (compression_ratio() == 0.0) return;
    HeadScores scores;
    inner().score(layer, scores);
    const int64_t Hkv = scores.n_heads_kv;
    int64_t total = 0;
    for (int64_t h = 0; h < Hkv; ++h) total += scores.length(h);
    const int64_t n_kept = inner().kept_entries(layer, total / Hkv);
    const int64_t n_safe = (int64_t)((double)n_kept * alpha_safeguard_);
    for (int64_t h = 0; h < Hkv; ++h) force_top(scores, h, n_safe);  // AdaKV's safeguard
    // Head budgets: how many of the layer's Hkv * n_kept best entries fall in each head.
    const auto budget_sets = top_over_heads(scores, Hkv * n_kept);
    // Stage 1: each head's own best int(budget * first_stage_ratio) entries.
    for (int64_t h = 0; h < Hkv; ++h)
      force_top(scores, h, (int64_t)((double)budget_sets[h].size() * o_.first_stage_ratio));
    // Stage 2: re-weighted scores, each head's best `budget` entries forced.
    const auto forced = forced_entries(scores);
    reweight(scores, value_output_norms(layer, scores.lengths, forced), forced, o_.epsilon);
    for (int64_t h = 0; h < Hkv; ++h) force_top(scores, h, (int64_t)budget_sets[h].size());
    // kvpress masks the Hkv * (S - n_kept) lowest over the layer: we keep the Hkv * n_kept best.
    keep_per_head(layer, top_over_heads(scores, Hkv * n_kept));
  }

 private:
  double alpha_safeguard_;
  CriticalOptions o_;
};

template <>
std::unique_ptr<Press> create_press<CriticalKvPress>(PressArgs& args) {
  const CriticalOptions o = read_options(args);
  auto inner = take_scorer(args);
  if (args.describing()) return nullptr;
  return std::make_unique<CriticalKvPress>(std::move(inner), o);
}

template <>
std::unique_ptr<Press> create_press<CriticalAdaKvPress>(PressArgs& args) {
  const double alpha = args.real("alpha_safeguard", 0.20, 0.0, 1.0);
  const CriticalOptions o = read_options(args);
  auto inner = take_scorer(args);
  if (args.describing()) return nullptr;
  return std::make_unique<CriticalAdaKvPress>(std::move(inner), alpha, o);
}

}  // namespace kvpress
