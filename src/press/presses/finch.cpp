// FinchPress (Corallo & Papotti 2024, "FINCH: Prompt-guided Key-Value Cache Compression"): SnapKV-like,
// with the question of a query-aware prompt as the observation window, each window row's attention
// multiplied by the number of keys it could see before averaging, no pooling, optional chunk-wise
// selection, and the kept keys re-rotated to positions 0..n_kept-1 (spec §2.13).
//
// kvpress finds the question through a delimiter token (<|finch_sep|>, added to the tokenizer and
// removed in an embedding hook). Here the session tokenizes the question on its own after the context
// (what the delimiter makes the tokenizer do) and tells the press its length (LayerPrefill::
// question_tokens), so no token is added to the vocabulary: same ids, same window, same positions.
#include <algorithm>
#include <optional>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "model/attention.h"
#include "press/press_args.h"
#include "press/rerotate.h"
#include "press/score_utils.h"
#include "runtime/thread_pool.h"

namespace kvpress {

// A Base press as in kvpress (not a ScorerPress): its selection (chunks) and re-rotation are its own.
class FinchPress final : public Press {
 public:
  FinchPress(std::optional<uint64_t> chunk_length, bool normalize_scores, bool rerotate_keys)
      : chunk_length_(chunk_length), normalize_scores_(normalize_scores), rerotate_keys_(rerotate_keys) {}

  double compression_ratio() const override { return compression_ratio_; }
  void set_compression_ratio(double ratio) override {
    validate_compression_ratio(ratio);
    compression_ratio_ = ratio;
  }

  std::string name() const override {
    return std::string("finch:chunk_length=") + (chunk_length_ ? std::to_string(*chunk_length_) : "none") +
           ",normalize_scores=" + (normalize_scores_ ? "true" : "false") +
           ",rerotate_keys=" + (rerotate_keys_ ? "true" : "false");
  }
  bool rerotates_keys() const override { return rerotate_keys_; }
  bool reads_question_window() const override { return true; }
  // The question's queries: the prefill keeps them because reads_question_window() (PressPrefill).
  ObservationNeeds needs() const override { return {0, false}; }

  // Scores per KV head and entry (higher = keep), the question's entries protected with max + 1.
  void score(const LayerPrefill& layer, HeadScores& scores) const {
    const auto& c = layer.model.config();
    const int64_t w = window(layer);
    const int64_t S = uniform_head_length(layer.cache, layer.layer, "finch");
    if (S <= w) fail("press 'finch' needs context entries before the question (", S, " entries, a ", w, "-token question)");
    const int64_t H = c.n_heads, d = c.head_dim, G = c.group_size(), T = layer.n_tokens, n = S - w;
    // Window attention (softmax over all S entries, causal), row i scaled by S - w + i when normalizing
    // (kvpress multiplies by arange(k_len - w, k_len)), then the mean over the window rows.
    std::vector<float> per_head((size_t)(H * n), 0.0f);
    layer.pool.parallel_for(H, 1, [&](int64_t begin, int64_t end, int) {
      std::vector<float> probs((size_t)S);
      std::vector<double> sum((size_t)n);
      for (int64_t h = begin; h < end; ++h) {
        std::fill(sum.begin(), sum.end(), 0.0);
        for (int64_t i = 0; i < w; ++i) {
          const int64_t t = T - w + i;
          attention_probs(layer.query(t) + h * d, layer.positions[t], layer.cache, layer.layer, h / G, probs.data());
          const double scale = normalize_scores_ ? (double)(S - w + i) : 1.0;
          for (int64_t j = 0; j < n; ++j) sum[j] += (double)probs[j] * scale;
        }
        for (int64_t j = 0; j < n; ++j) per_head[h * n + j] = (float)(sum[j] / (double)w);
      }
    });
    const std::vector<float> s = group_mean(per_head, H, c.n_heads_kv, n);  // no pooling
    const float protect = protection_score(s);  // the window (question) is always kept
    scores.resize(c.n_heads_kv, S);
    for (int64_t g = 0; g < c.n_heads_kv; ++g)
      for (int64_t j = 0; j < S; ++j) scores.head(g)[j] = j < n ? s[g * n + j] : protect;
  }

  void compress(const LayerPrefill& layer) override {
    if (compression_ratio_ == 0.0) return;
    HeadScores scores;
    score(layer, scores);
    const int64_t S = scores.n_tokens;
    const double r = compression_ratio_;
    // No chunks: n_kept = int(S (1 - r)) per head. Chunks: each chunk of the score vector keeps
    // max(1, int(len (1 - r))) of its entries.
    const int64_t L = chunk_length_ ? (int64_t)*chunk_length_ : S;
    if (chunk_length_ && !((double)L > (double)window(layer) / (1.0 - r)))
      fail("press 'finch': chunk_length=", L, " must exceed the window (", window(layer),
           " question tokens) / (1 - compression ratio ", r, ")");
    for (int64_t h = 0; h < scores.n_heads_kv; ++h) {
      std::vector<int64_t> kept;
      for (int64_t begin = 0; begin < S; begin += L) {
        const int64_t len = std::min(L, S - begin);
        const int64_t n_keep = chunk_length_ ? std::max<int64_t>(1, kept_count(len, r)) : kept_count(len, r);
        for (int64_t j : top_indices(scores.head(h) + begin, len, n_keep)) kept.push_back(begin + j);
      }
      layer.cache.keep(layer.layer, h, kept);
    }
    if (rerotate_keys_) rerotate_to_contiguous(layer);
  }

 private:
  int64_t window(const LayerPrefill& layer) const {
    const int64_t w = layer.question_tokens;
    if (w <= 0)
      fail("press 'finch' compresses the context with the question as its window: give the question with the "
           "context, in one prefill pass (query-aware: kvpress answer/eval --query-aware, AnswerOptions::query_aware; "
           "no prefill chunk)");
    if (w >= layer.n_tokens)
      fail("press 'finch' needs context tokens before the ", w, "-token question in the pass (", layer.n_tokens,
           " tokens)");
    return w;
  }

  double compression_ratio_ = 0.0;
  std::optional<uint64_t> chunk_length_;
  bool normalize_scores_;
  bool rerotate_keys_;
};

template <>
std::unique_ptr<Press> create_press<FinchPress>(PressArgs& args) {
  const std::optional<uint64_t> chunk_length = args.optional_unsigned("chunk_length");
  const bool normalize_scores = args.boolean("normalize_scores", true);
  const bool rerotate_keys = args.boolean("rerotate_keys", true);
  if (args.describing()) return nullptr;
  if (chunk_length && *chunk_length == 0) fail("press 'finch': chunk_length must be positive or none");
  return std::make_unique<FinchPress>(chunk_length, normalize_scores, rerotate_keys);
}

}  // namespace kvpress
