// Progress of a long prefill, reported after every layer (prefill is layer-major, see docs/architecture.md).
#pragma once
#include <cstdint>
#include <functional>

namespace kvpress {

struct PrefillProgress {
  int64_t n_tokens = 0;     // tokens of the pass
  int64_t layers_done = 0;  // layers every token has gone through
  int64_t n_layers = 0;
  double elapsed_ms = 0;    // since the pass started
};

// Called on the thread running the prefill; must be cheap (it runs between layers).
using PrefillProgressFn = std::function<void(const PrefillProgress&)>;

}  // namespace kvpress
