// Progress of a long prefill, reported after every layer (prefill is layer-major, see docs/architecture.md).
#pragma once
#include <cstdint>
#include <functional>

namespace kvpress {

struct PrefillProgress {
  int64_t n_tokens = 0;     // tokens of the context
  int64_t layers_done = 0;  // layers every token of the current pass has gone through
  int64_t n_layers = 0;
  double elapsed_ms = 0;    // since the prefill started
  // A chunked prefill reads the context in passes: this one is tokens [pass_begin, pass_end)
  // (pass_end 0: one pass over the whole context).
  int64_t pass_begin = 0;
  int64_t pass_end = 0;

  // Fraction of the prefill's work done, in [0, 1].
  double fraction() const {
    if (n_layers <= 0 || n_tokens <= 0) return 1.0;
    const double layer_frac = (double)layers_done / (double)n_layers;
    if (pass_end <= 0) return layer_frac;
    return ((double)pass_begin + (double)(pass_end - pass_begin) * layer_frac) / (double)n_tokens;
  }
  bool done() const { return layers_done >= n_layers && (pass_end <= 0 || pass_end >= n_tokens); }
};

// Called on the thread running the prefill; must be cheap (it runs between layers).
using PrefillProgressFn = std::function<void(const PrefillProgress&)>;

}  // namespace kvpress
