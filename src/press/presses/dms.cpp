// DMSPress (kvpress's dense-prefill version of Dynamic Memory Sparsification, Łańcucki et al. 2025,
// without the trained evictors; spec §2.22): the inner scorer scores each pass's new tokens once; a
// token's score waits in a buffer while the token is among the last sliding_window_size of the layer,
// and when it leaves the window the token is evicted if its score is below `threshold`. The window is
// never evicted. With decoding=true the generated tokens go through the same window.
// kvpress only masks evicted entries; we remove them from each head (heads end with different
// lengths), so the memory is returned. compression_ratio() reports the fraction removed (mean over
// layers of removed / (n_heads_kv * tokens seen)), known after a forward pass.
#include <algorithm>
#include <deque>
#include <limits>
#include <numeric>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "press/press_args.h"
#include "press/score_utils.h"
#include "press/scorer_wrapper.h"

namespace kvpress {

class DmsPress final : public ScorerWrapper {
 public:
  DmsPress(std::unique_ptr<ScorerPress> inner, double threshold, int64_t window, bool decoding)
      : ScorerWrapper(std::move(inner)), threshold_(threshold), window_(window), decoding_(decoding) {}

  std::string name() const override {
    return "dms(" + inner().name() + "):threshold=" + format_number(threshold_) +
           ",sliding_window_size=" + std::to_string(window_) + ",decoding=" + (decoding_ ? "true" : "false");
  }
  double compression_ratio() const override {
    double sum = 0;
    int64_t n = 0;
    for (const auto& s : layers_)
      if (s.seen > 0) {
        sum += (double)s.removed / (double)(s.seen * (int64_t)s.buffer.size());
        ++n;
      }
    return n ? sum / (double)n : 0.0;
  }
  void set_compression_ratio(double ratio) override {
    validate_compression_ratio(ratio);
    if (ratio != 0.0)
      fail("press 'dms' evicts by threshold=", format_number(threshold_), ", so a compression ratio (",
           format_number(ratio), ") would be ignored; give 0 (compression_ratio() reports what was removed)");
  }
  void reset() override {
    ScorerWrapper::reset();
    layers_.clear();
  }
  bool acts_on_decoding() const override { return decoding_; }
  ObservationNeeds decoding_needs() const override { return inner().needs(); }
  void observe_decoding(const LayerChunk& chunk) override { inner().observe(chunk); }

  void compress(const LayerPrefill& layer) override { process(layer); }
  void compress_decoding(const LayerPrefill& layer) override { process(layer); }

 private:
  struct LayerState {
    std::vector<std::deque<float>> buffer;  // per head: scores of its newest entries, oldest first
    int64_t seen = 0;                       // tokens of the layer so far
    int64_t removed = 0;                    // entries removed, over all heads
  };

  void process(const LayerPrefill& layer) {
    const int64_t Hkv = layer.cache.n_heads_kv(), T = layer.n_tokens;
    if ((int64_t)layers_.size() < layer.model.config().n_layers) layers_.resize((size_t)layer.model.config().n_layers);
    LayerState& state = layers_[(size_t)layer.layer];
    // A prefill on an empty layer starts afresh (kvpress resets its buffers at each prefill).
    if (layer.cache.length(layer.layer, 0) == T && layer.evicted == 0) state = LayerState{};
    state.buffer.resize((size_t)Hkv);
    // Score the pass's T new entries alone: the last T of every head (the layer itself when it holds
    // nothing else, as in a one-pass prefill).
    HeadScores scores;
    bool only_new = true;
    for (int64_t h = 0; h < Hkv; ++h) only_new = only_new && layer.cache.length(layer.layer, h) == T;
    if (only_new) {
      inner().score(layer, scores);
    } else {
      std::vector<std::vector<int64_t>> newest((size_t)Hkv);
      for (int64_t h = 0; h < Hkv; ++h) {
        newest[h].resize((size_t)T);
        std::iota(newest[h].begin(), newest[h].end(), layer.cache.length(layer.layer, h) - T);
      }
      const SubPass pass(layer, newest, inner().needs().hidden_normed ? layer.hidden_normed : nullptr, 0, inner());
      inner().score(pass.prefill(), scores);
    }
    state.seen += T;
    for (int64_t h = 0; h < Hkv; ++h) {
      auto& buffer = state.buffer[h];
      buffer.insert(buffer.end(), scores.head(h), scores.head(h) + T);
      if ((int64_t)buffer.size() <= window_) continue;
      // The oldest entries leave the window: those scoring below the threshold are removed.
      const int64_t n = layer.cache.length(layer.layer, h), leaving = (int64_t)buffer.size() - window_;
      const int64_t first = n - (int64_t)buffer.size();  // cache index of the buffer's oldest entry
      std::vector<int64_t> kept;
      kept.reserve((size_t)n);
      for (int64_t j = 0; j < n; ++j)
        if (j < first || j >= first + leaving || !(buffer[(size_t)(j - first)] < threshold_)) kept.push_back(j);
      state.removed += n - (int64_t)kept.size();
      buffer.erase(buffer.begin(), buffer.begin() + leaving);
      if ((int64_t)kept.size() < n) layer.cache.keep(layer.layer, h, kept);
    }
  }

  double threshold_;
  int64_t window_;
  bool decoding_;
  std::vector<LayerState> layers_;
};

template <>
std::unique_ptr<Press> create_press<DmsPress>(PressArgs& args) {
  const std::optional<double> threshold = args.optional_real("threshold", -1e30, 1e30);
  const int64_t window = args.integer("sliding_window_size", 128, 0, 1 << 30);
  const bool decoding = args.boolean("decoding", false);
  auto inner = take_scorer(args);
  if (args.describing()) return nullptr;
  if (!threshold)
    fail("press 'dms' needs threshold=T (entries scoring below T are evicted once they leave the sliding window)");
  return std::make_unique<DmsPress>(std::move(inner), *threshold, window, decoding);
}

}  // namespace kvpress
