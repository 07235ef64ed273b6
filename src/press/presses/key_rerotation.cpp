// KeyRerotationPress (kvpress; the re-rotation of HF's SinkCache and of FINCH, spec §2.20): after the
// inner scorer's selection, every kept key is rotated by (new - old) position so that the kept entries
// look as if they had been encoded at contiguous positions 0..n_kept-1; the cache records those new
// positions and questions start at the compressed length (rerotates_keys(), spec §1.5).
// Keys are decoded, rotated and re-encoded in the cache's storage type; values move as stored.
#include "press/press_args.h"
#include "press/rerotate.h"
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
    // RoPE composes: rotating a key encoded at p by (i - p) gives the key encoded at i; the entries
    // then sit at positions 0..n-1 (the helper FinchPress shares).
    rerotate_to_contiguous(layer);
  }
};

template <>
std::unique_ptr<Press> create_press<KeyRerotationPress>(PressArgs& args) {
  auto inner = take_scorer(args);
  if (args.describing()) return nullptr;
  return std::make_unique<KeyRerotationPress>(std::move(inner));
}

}  // namespace kvpress
