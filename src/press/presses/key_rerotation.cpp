// KeyRerotationPress (kvpress; the re-rotation of HF's SinkCache and of FINCH, spec §2.20): after the
// inner scorer's selection, every kept key is rotated by (new - old) position so that the kept entries
// look as if they had been encoded at contiguous positions 0..n_kept-1; the cache records those new
// positions and questions start at the compressed length (rerotates_keys(), spec §1.5).
// Keys are decoded, rotated and re-encoded in the cache's storage type; values move as stored.
#include <vector>

#include "cache/kv_cache.h"
#include "press/press_args.h"
#include "press/score_utils.h"
#include "press/scorer_wrapper.h"

namespace kvpress {

class KeyRerotationPress final : public ScorerWrapper {
 public:
  explicit KeyRerotationPress(std::unique_ptr<ScorerPress> inner) : ScorerWrapper(std::move(inner)) {}

  std::string name() const override { return "key_rerotation(" + inner().name() + ")"; }
  bool rerotates_keys() const override { return true; }

  void compress(const LayerPrefill& layer) override {
    if (compression_ratio() == 0.0) return;
    HeadScores scores;
    inner().score(layer, scores);
    inner().keep_top(layer, scores);  // per head, ascending positions
    const int64_t d = layer.cache.head_dim();
    const Rope& rope = layer.model.rope();
    std::vector<float> keys;
    std::vector<int32_t> positions;
    std::vector<uint8_t> key_rows, value_rows;
    for (int64_t h = 0; h < layer.cache.n_heads_kv(); ++h) {
      const int64_t n = layer.cache.length(layer.layer, h);
      keys.resize((size_t)(n * d));
      layer.cache.keys(layer.layer, h).read(0, n, keys.data());
      const int32_t* old_positions = layer.cache.positions(layer.layer, h);
      positions.resize((size_t)n);
      // RoPE composes: rotating a key encoded at p by (i - p) gives the key encoded at i.
      for (int64_t i = 0; i < n; ++i) {
        rope.apply(keys.data() + i * d, 1, (int32_t)(i - old_positions[i]));
        positions[i] = (int32_t)i;
      }
      layer.cache.write_keys(layer.layer, h, 0, n, keys.data());
      // The entries now sit at positions 0..n-1 (attention is causal by stored position).
      const KvRows k = layer.cache.keys(layer.layer, h), v = layer.cache.values(layer.layer, h);
      key_rows.assign(k.data, k.data + n * k.row_bytes);
      value_rows.assign(v.data, v.data + n * v.row_bytes);
      layer.cache.assign_encoded(layer.layer, h, n, key_rows.data(), value_rows.data(),
                                 reinterpret_cast<const uint8_t*>(positions.data()));
    }
  }
};

template <>
std::unique_ptr<Press> create_press<KeyRerotationPress>(PressArgs& args) {
  auto inner = take_scorer(args);
  if (args.describing()) return nullptr;
  return std::make_unique<KeyRerotationPress>(std::move(inner));
}

}  // namespace kvpress
