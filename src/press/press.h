// Press interfaces: a press prunes a layer's KV cache right after the layer attended over the context.
// Thread-safety: a press object is used by one pipeline run at a time.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "model/model.h"

namespace kvpress {

class ScorerPress;

// What a press acting once the whole context is in the cache sees (presses that run extra forward
// passes over the context, spec §2.21 KVzip, §2.22 KVCompose): every layer holds the context's
// entries (positions 0..ids.size()-1) as the per-layer compress() calls left them.
struct ContextPrefill {
  const Model& model;
  KvCache& cache;
  ThreadPool& pool;
  std::span<const int32_t> ids;  // the context's token ids, in position order
};

class Press {
 public:
  virtual ~Press() = default;
  // Canonical specification string with every parameter, e.g. "snapkv:window_size=64,kernel_size=5";
  // make_press(name(), ratio) builds an equivalent press.
  virtual std::string name() const = 0;
  // Fraction of KV pairs removed, in [0, 1). Wrappers proxy to their inner press.
  virtual double compression_ratio() const = 0;
  virtual void set_compression_ratio(double ratio) = 0;
  // Prunes (compacts) layer.cache for layer.layer. Called once per layer at prefill, with the
  // cache of that layer holding exactly the context's T entries per head.
  virtual void compress(const LayerPrefill& layer) = 0;
  // True for presses that re-rotate kept keys to positions 0..n_kept-1 (questions then start at
  // the compressed length, spec §1.5).
  virtual bool rerotates_keys() const { return false; }
  // True for presses whose window is the question of a query-aware prompt (FinchPress, spec §2.13):
  // the question is then tokenized on its own after the context, its length reaches the press as
  // LayerPrefill::question_tokens, and the pass keeps the queries of those tokens.
  virtual bool reads_question_window() const { return false; }
  // Called before a new context is compressed (resets per-context state such as RNG draws).
  virtual void reset() {}
  // What compress() reads of the prefill besides the cache (the pass keeps nothing else): by
  // default everything, so a press that does not say is always correct.
  virtual ObservationNeeds needs() const { return {}; }
  // Each chunk of a layer's tokens, after its attention and before compress() of that layer
  // (presses that accumulate statistics over every query of the context).
  virtual void observe(const LayerChunk&) {}
  // The scorer whose scores this press selects by (itself for a scorer, the inner one for adakv),
  // for wrappers that select by scores themselves (CAM); null when there is none.
  virtual ScorerPress* scorer() { return nullptr; }
  // Once after the last pass of the prefill (after the last chunk of a chunked prefill, after every
  // layer's compress()): presses that need the whole context first and may run forward passes of
  // their own on the cache (they leave it holding only context entries).
  virtual void after_prefill(const ContextPrefill&) {}
  // True for presses whose work is in after_prefill (their per-layer compress() does nothing), so
  // wrappers that call compress() per layer (composed, decoding presses) refuse them.
  virtual bool acts_after_prefill() const { return false; }

  // Decoding-time compression (spec §4): passes after the prefill (the question, each generated token).
  // A press acts at prefill (compress/observe above), while decoding (the hooks below), or both.
  virtual bool acts_on_prefill() const { return true; }
  virtual bool acts_on_decoding() const { return false; }
  // What compress_decoding() reads of a decoding pass, as needs() for the prefill.
  virtual ObservationNeeds decoding_needs() const { return {0, false}; }
  // Each chunk of a decoding pass's layer, then the layer itself (its cache holds every entry so far).
  virtual void observe_decoding(const LayerChunk&) {}
  virtual void compress_decoding(const LayerPrefill&) {}
};

// A press whose work is all in after_prefill (KVzip, KVCompose, DuoAttention): the prefill itself is
// left whole, the ratio is its own.
class AfterPrefillPress : public Press {
 public:
  double compression_ratio() const override { return compression_ratio_; }
  void set_compression_ratio(double ratio) override;
  ObservationNeeds needs() const override { return {0, false}; }
  void compress(const LayerPrefill&) override {}
  bool acts_after_prefill() const override { return true; }

 protected:
  // Throws unless every head still holds the whole context (nothing compressed it before this press).
  void require_whole_context(const ContextPrefill& context) const;
  double compression_ratio_ = 0.0;
};

// Needs of presses applied together: the union.
ObservationNeeds combined_needs(const ObservationNeeds& a, const ObservationNeeds& b);

// Scores per (KV head, position) of one layer: higher = keep. [n_heads_kv, n_tokens]
// Heads may hold different numbers of entries (after AdaKV): head h scores lengths[h] entries, its
// row padded with NaN (ranked below everything) up to n_tokens, the longest head.
struct HeadScores {
  int64_t n_heads_kv = 0;
  int64_t n_tokens = 0;
  std::vector<float> values;
  std::vector<int64_t> lengths;  // [n_heads_kv]
  void resize(int64_t heads, int64_t tokens) {
    n_heads_kv = heads;
    n_tokens = tokens;
    values.assign((size_t)(heads * tokens), 0.0f);
    lengths.assign((size_t)heads, tokens);
  }
  void resize(const std::vector<int64_t>& head_lengths);
  int64_t length(int64_t h) const { return lengths[(size_t)h]; }
  bool uniform() const;
  float* head(int64_t h) { return values.data() + h * n_tokens; }
  const float* head(int64_t h) const { return values.data() + h * n_tokens; }
};

// A press that scores every entry; the framework keeps n_kept = int(S * (1 - ratio)) per head
// (spec §1.4, truncation of a double), ties broken by lower position, kept entries in position order.
class ScorerPress : public Press {
 public:
  explicit ScorerPress(double compression_ratio);
  double compression_ratio() const override { return compression_ratio_; }
  void set_compression_ratio(double ratio) override;
  void compress(const LayerPrefill& layer) override;
  ScorerPress* scorer() override { return this; }
  // Fills scores for every KV head and context position of layer.layer.
  virtual void score(const LayerPrefill& layer, HeadScores& scores) = 0;
  // The selection step of compress(): keeps the kept_entries best-scored entries of every head.
  void keep_top(const LayerPrefill& layer, const HeadScores& scores) const;
  // Entries a head of n_entries keeps: layer_budget() of the entries it would hold had earlier
  // chunks of a chunked prefill not been compressed (n_entries + layer.evicted), at most n_entries.
  int64_t kept_entries(const LayerPrefill& layer, int64_t n_entries) const;
  // Entries a head of layer.layer keeps out of n_tokens: kept_count(n_tokens, ratio) (spec §1.4);
  // presses with a per-layer budget (pyramidkv) override it. Not called at ratio 0.
  virtual int64_t layer_budget(const LayerPrefill& layer, int64_t n_tokens) const;
  // False when layer_budget is not kept_count (pyramidkv): decoding wrappers, which pick the ratio
  // that leaves exactly target_size entries, refuse such a base.
  virtual bool keeps_ratio_budget() const { return true; }

 private:
  double compression_ratio_;
};

// n_kept of spec §0: (int64)((double)S * (1.0 - ratio)).
int64_t kept_count(int64_t n_tokens, double compression_ratio);
// Throws Error unless ratio is in [0, 1).
void validate_compression_ratio(double ratio);

}  // namespace kvpress
