#include "pipeline/prefill.h"

#include <chrono>
#include <numeric>
#include <vector>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "model/model.h"
#include "press/press.h"
#include "press/press_prefill.h"

namespace kvpress {

PrefillOutcome prefill_context(const Model& model, KvCache& cache, ThreadPool& pool, std::span<const int32_t> ids,
                               PressPrefill& hooks, const PrefillProgressFn& on_progress, int64_t chunk_tokens) {
  using Clock = std::chrono::steady_clock;
  if (ids.empty()) fail("the context is empty");
  if (chunk_tokens < 0) fail("the prefill chunk must be >= 0 tokens (0: the whole context at once), got ", chunk_tokens);
  const int64_t T = (int64_t)ids.size();
  const int64_t C = chunk_tokens > 0 && chunk_tokens < T ? chunk_tokens : T;
  const auto t0 = Clock::now();
  const auto ms_since_start = [&] { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); };
  int64_t pass_begin = 0, pass_end = 0;
  const LayerObserver caller_after = hooks.after_compress;
  if (on_progress)
    hooks.after_compress = [&](const LayerPrefill& layer) {
      if (caller_after) caller_after(layer);
      on_progress({T, layer.layer + 1, model.config().n_layers, ms_since_start(), pass_begin, C < T ? pass_end : 0});
    };
  ForwardOptions fwd;
  fwd.logits = LogitsMode::None;
  hooks.attach(fwd);
  Press* press = hooks.press();
  const int64_t window = hooks.window_tokens();  // the question stays in the last pass too
  const bool rerotates = press && press->rerotates_keys();
  for (pass_begin = 0; pass_begin < T; pass_begin = pass_end) {
    pass_end = T - (pass_begin + C) <= window ? T : pass_begin + C;
    // After a re-rotating press the kept keys sit at 0..n_kept-1 and the next tokens follow them.
    const int32_t first_pos = rerotates ? (int32_t)cache.length(0, 0) : (int32_t)pass_begin;
    std::vector<int32_t> positions((size_t)(pass_end - pass_begin));
    std::iota(positions.begin(), positions.end(), first_pos);
    fwd.context_before = pass_begin;
    fwd.question_tokens = pass_end == T ? hooks.question_tokens : 0;
    model.forward(ids.subspan((size_t)pass_begin, (size_t)(pass_end - pass_begin)), positions, cache, pool, fwd);
  }
  hooks.after_compress = caller_after;
  hooks.finish(model, cache, pool, ids);  // presses acting on the whole context (kvzip, kvcompose)
  return {ms_since_start(), hooks.press_ms(), rerotates ? (int32_t)cache.length(0, 0) : (int32_t)T};
}

}  // namespace kvpress
