// BlockPress (kvpress; the block-wise prompt processing of KeyDiff, Park et al. 2025, spec §2.22):
// simulates a streaming top-k. The first n_kept entries are kept, then each following block of
// block_size entries joins the kept ones and the inner scorer keeps the best n_kept of them, block after
// block. It equals the global top-k when a score does not depend on the other entries (knorm), and
// differs when it does (keydiff's anchor is the mean of the candidates).
// The inner scorer sees each candidate set as a pass of its own (its entries only); scorers that read
// queries or hidden states of the pass are refused (kvpress hands them per-head gathered hidden states).
#include <algorithm>
#include <numeric>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "press/press_args.h"
#include "press/score_utils.h"
#include "press/scorer_wrapper.h"

namespace kvpress {

class BlockPress final : public ScorerWrapper {
 public:
  BlockPress(std::unique_ptr<ScorerPress> inner, int64_t block_size)
      : ScorerWrapper(std::move(inner)), block_size_(block_size) {}

  std::string name() const override {
    return "block(" + inner().name() + "):block_size=" + std::to_string(block_size_);
  }

  void compress(const LayerPrefill& layer) override {
    if (compression_ratio() == 0.0) return;
    const int64_t S = uniform_head_length(layer.cache, layer.layer, "block");
    const int64_t Hkv = layer.cache.n_heads_kv();
    const int64_t n_kept = inner().kept_entries(layer, S);
    const int64_t block = std::min(block_size_, S);
    std::vector<std::vector<int64_t>> kept((size_t)Hkv, std::vector<int64_t>((size_t)n_kept));
    for (auto& k : kept) std::iota(k.begin(), k.end(), 0);
    for (int64_t begin = n_kept; begin < S; begin += block) {
      const int64_t end = std::min(begin + block, S);
      std::vector<std::vector<int64_t>> candidates = kept;  // ascending: the block follows every kept entry
      for (auto& c : candidates)
        for (int64_t j = begin; j < end; ++j) c.push_back(j);
      const SubPass piece(layer, candidates, nullptr, -1, inner());
      HeadScores scores;
      inner().score(piece.prefill(), scores);
      const int64_t n = (int64_t)candidates[0].size();
      for (int64_t h = 0; h < Hkv; ++h) {
        const auto best = top_indices(scores.head(h), n, n_kept);
        for (size_t i = 0; i < best.size(); ++i) kept[h][i] = candidates[h][best[i]];
      }
    }
    for (int64_t h = 0; h < Hkv; ++h) layer.cache.keep(layer.layer, h, kept[h]);
  }

 private:
  int64_t block_size_;
};

template <>
std::unique_ptr<Press> create_press<BlockPress>(PressArgs& args) {
  const int64_t block_size = args.integer("block_size", 128, 1, 1 << 30);
  auto inner = take_scorer(args);
  if (args.describing()) return nullptr;
  const ObservationNeeds n = inner->needs();
  if (n.query_rows > 0 || n.hidden_normed)
    fail("press 'block' scores each candidate set from the cache alone, but '", inner->name(),
         "' reads the pass's queries or hidden states; use a cache-only scorer such as keydiff or knorm");
  return std::make_unique<BlockPress>(std::move(inner), block_size);
}

}  // namespace kvpress
