// CompactorPress (Chari & Van Durme 2025, "Compactor: Calibrated Query-Agnostic KV Cache Compression
// with Approximate Leverage Scores"): blend = beta * leverage + non-causal attention, both z-scored
// over the middle of the context [sink_size_start, S - sink_size_end); the ends get the blend's
// maximum (kvpress pads with max, not max+1, so they tie with the best middle token; ties go to the
// lower position). beta = blending, or the compression ratio when blending is none (spec §2.22).
// Single-shot prefill only.
#include <algorithm>
#include <optional>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "press/compactor_scores.h"
#include "press/press_args.h"
#include "press/score_utils.h"

namespace kvpress {

class CompactorPress final : public ScorerPress {
 public:
  struct Options {
    int64_t sink_size_start = 8;
    int64_t sink_size_end = 4;
    int64_t chunk_size = 256;
    int64_t sketch_dimension = 48;
    std::optional<double> blending;
  };
  explicit CompactorPress(const Options& o) : ScorerPress(0.0), o_(o) {}
  std::string name() const override {
    return "compactor:sink_size_start=" + std::to_string(o_.sink_size_start) +
           ",sink_size_end=" + std::to_string(o_.sink_size_end) + ",chunk_size=" + std::to_string(o_.chunk_size) +
           ",sketch_dimension=" + std::to_string(o_.sketch_dimension) +
           ",blending=" + (o_.blending ? format_number(*o_.blending) : std::string("none"));
  }
  // Hidden states (pre-RoPE keys) and post-RoPE queries of every token.
  ObservationNeeds needs() const override { return {ObservationNeeds::kAll, true}; }

  void score(const LayerPrefill& layer, HeadScores& scores) override {
    const int64_t S = single_pass_length(layer, "compactor");
    const int64_t left = std::min(o_.sink_size_start, S);
    const int64_t right = std::min(o_.sink_size_end, std::max<int64_t>(0, S - left));
    const int64_t begin = left, end = S - right, n = end - begin;
    if (n < 2)
      fail("press 'compactor' needs at least 2 context tokens between the sink_size_start=", o_.sink_size_start,
           " first and the sink_size_end=", o_.sink_size_end, " last ones (layer ", layer.layer, " has ", S, ")");
    const std::vector<double> lev = leverage_zscores(layer, begin, end, o_.sketch_dimension, "compactor");
    const std::vector<double> attn = non_causal_zscores(layer, begin, end, o_.chunk_size, "compactor");
    const double beta = o_.blending.value_or(compression_ratio());
    const int64_t Hkv = layer.cache.n_heads_kv();
    std::vector<float> blend((size_t)(Hkv * n));
    for (size_t i = 0; i < blend.size(); ++i) blend[i] = (float)(beta * lev[i] + attn[i]);
    const float top = *std::max_element(blend.begin(), blend.end());
    scores.resize(Hkv, S);
    for (int64_t h = 0; h < Hkv; ++h)
      for (int64_t j = 0; j < S; ++j) scores.head(h)[j] = j < begin || j >= end ? top : blend[h * n + j - begin];
  }

 private:
  Options o_;
};

template <>
std::unique_ptr<Press> create_press<CompactorPress>(PressArgs& args) {
  CompactorPress::Options o;
  o.sink_size_start = args.integer("sink_size_start", o.sink_size_start, 0, 1 << 30);
  o.sink_size_end = args.integer("sink_size_end", o.sink_size_end, 0, 1 << 30);
  o.chunk_size = args.integer("chunk_size", o.chunk_size, 1, 1 << 16);
  o.sketch_dimension = args.integer("sketch_dimension", o.sketch_dimension, 1, 1 << 16);
  o.blending = args.optional_real("blending", -1e6, 1e6);
  if (args.describing()) return nullptr;
  return std::make_unique<CompactorPress>(o);
}

}  // namespace kvpress
