// ChunkPress (kvpress, after FINCH, Corallo & Papotti 2024; spec §2.22): the context is cut into
// consecutive chunks of chunk_length tokens and the inner scorer compresses each chunk on its own,
// keeping max(1, int(len * (1 - ratio))) entries of every chunk, so compression is spread evenly.
// Each chunk is scored as a pass of its own: its entries, its hidden states (statistics presses get
// the chunk's pre-RoPE queries), its last queries at their own positions.
#include <algorithm>
#include <numeric>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "press/press_args.h"
#include "press/score_utils.h"
#include "press/scorer_wrapper.h"

namespace kvpress {

class ChunkPress final : public ScorerWrapper {
 public:
  ChunkPress(std::unique_ptr<ScorerPress> inner, int64_t chunk_length)
      : ScorerWrapper(std::move(inner)), chunk_length_(chunk_length) {}

  std::string name() const override {
    return "chunk(" + inner().name() + "):chunk_length=" + std::to_string(chunk_length_);
  }
  // A scorer reading the last queries needs them for every chunk, so for every token; the hidden
  // states feed statistics presses chunk by chunk (the layer-wide observation is not used).
  ObservationNeeds needs() const override {
    const ObservationNeeds n = inner().needs();
    return {n.query_rows > 0 ? ObservationNeeds::kAll : 0, true};
  }
  void observe(const LayerChunk&) override {}

  void compress(const LayerPrefill& layer) override {
    if (compression_ratio() == 0.0) return;
    const int64_t S = uniform_head_length(layer.cache, layer.layer, "chunk");
    if (S != layer.n_tokens)
      fail("press 'chunk' compresses a whole context in one pass (the layer holds ", S, " entries for ",
           layer.n_tokens, " tokens of this pass); use it without a chunked prefill");
    const int64_t Hkv = layer.cache.n_heads_kv(), n_embd = layer.model.config().n_embd;
    std::vector<std::vector<int64_t>> kept((size_t)Hkv);
    for (int64_t begin = 0; begin < S; begin += chunk_length_) {
      const int64_t len = std::min(chunk_length_, S - begin);
      std::vector<int64_t> range((size_t)len);
      std::iota(range.begin(), range.end(), begin);
      const SubPass piece(layer, std::vector<std::vector<int64_t>>((size_t)Hkv, range),
                          layer.hidden_normed + begin * n_embd, begin, inner());
      HeadScores scores;
      inner().score(piece.prefill(), scores);
      const int64_t n_kept = std::max<int64_t>(1, kept_count(len, compression_ratio()));
      for (int64_t h = 0; h < Hkv; ++h)
        for (int64_t j : top_indices(scores.head(h), len, n_kept)) kept[h].push_back(begin + j);
    }
    for (int64_t h = 0; h < Hkv; ++h) layer.cache.keep(layer.layer, h, kept[h]);
  }

 private:
  int64_t chunk_length_;
};

template <>
std::unique_ptr<Press> create_press<ChunkPress>(PressArgs& args) {
  const int64_t chunk_length = args.integer("chunk_length", 1024, 1, 1 << 30);
  auto inner = take_scorer(args);
  if (args.describing()) return nullptr;
  return std::make_unique<ChunkPress>(std::move(inner), chunk_length);
}

}  // namespace kvpress
