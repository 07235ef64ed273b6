// ChunkKVPress (Liu et al. 2025, "ChunkKV: Semantic-Preserving KV Cache Compression for Efficient
// Long-Context LLM Inference", spec §2.19): whole chunks of chunk_length consecutive tokens are kept or
// dropped together, chosen by the inner scorer's scores summed over KV heads and averaged over the
// chunk; every head keeps the same positions.
#include <algorithm>
#include <numeric>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "press/press_args.h"
#include "press/score_utils.h"
#include "press/scorer_wrapper.h"

namespace kvpress {

class ChunkKvPress final : public ScorerWrapper {
 public:
  ChunkKvPress(std::unique_ptr<ScorerPress> inner, int64_t chunk_length)
      : ScorerWrapper(std::move(inner)), chunk_length_(chunk_length) {}

  std::string name() const override {
    return "chunkkv(" + inner().name() + "):chunk_length=" + std::to_string(chunk_length_);
  }

  void compress(const LayerPrefill& layer) override {
    if (compression_ratio() == 0.0) return;
    const int64_t S = uniform_head_length(layer.cache, layer.layer, "chunkkv");
    const int64_t n_full = S / chunk_length_, rest = S % chunk_length_;
    // Shorter than one chunk: kvpress hands the layer to the inner press as it is.
    if (n_full == 0) return inner().compress(layer);
    HeadScores scores;
    inner().score(layer, scores);
    const int64_t n_chunks = n_full + (rest > 0 ? 1 : 0);
    std::vector<float> chunk_score((size_t)n_chunks);
    for (int64_t c = 0; c < n_chunks; ++c) {
      const int64_t begin = c * chunk_length_, end = std::min(S, begin + chunk_length_);
      double sum = 0;
      for (int64_t j = begin; j < end; ++j)
        for (int64_t h = 0; h < scores.n_heads_kv; ++h) sum += scores.head(h)[j];
      chunk_score[c] = (float)(sum / (double)(end - begin));
    }
    const int64_t n_kept = std::max<int64_t>(1, kept_count(n_chunks, compression_ratio()));
    std::vector<int64_t> kept;
    for (int64_t c : top_indices(chunk_score.data(), n_chunks, n_kept))
      for (int64_t j = c * chunk_length_; j < std::min(S, (c + 1) * chunk_length_); ++j) kept.push_back(j);
    for (int64_t h = 0; h < layer.cache.n_heads_kv(); ++h) layer.cache.keep(layer.layer, h, kept);
  }

 private:
  int64_t chunk_length_;
};

template <>
std::unique_ptr<Press> create_press<ChunkKvPress>(PressArgs& args) {
  const int64_t chunk_length = args.integer("chunk_length", 20, 1, 1 << 30);
  // kvpress's evaluation registry name "chunkkv" is ChunkKVPress(SnapKVPress()): without an inner
  // press, snapkv with its defaults.
  auto inner = take_scorer(args, "snapkv");
  if (args.describing()) return nullptr;
  return std::make_unique<ChunkKvPress>(std::move(inner), chunk_length);
}

}  // namespace kvpress
