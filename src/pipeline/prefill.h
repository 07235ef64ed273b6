// Prefilling a context with a press: the one loop every tool uses (answer, eval, inspect, bench).
#pragma once
#include <cstdint>
#include <span>

#include "kvpress/progress.h"

namespace kvpress {

class KvCache;
class Model;
class PressPrefill;
class ThreadPool;

struct PrefillOutcome {
  double ms = 0;             // the whole prefill, press included
  double press_ms = 0;       // inside the press
  int32_t next_position = 0;  // where the tokens after the context go (the compressed length after a
                              // press that re-rotates keys, spec §1.5)
};

// Runs `ids` at positions 0.. into `cache` (empty), with `hooks` (its press and callbacks) on every
// layer. chunk_tokens > 0: a chunked prefill, the context read that many tokens at a time and each
// layer compressed after every chunk; a rest no longer than the press's query window joins the last
// chunk, so the window always fits in a pass (docs/kv-cache.md).
PrefillOutcome prefill_context(const Model& model, KvCache& cache, ThreadPool& pool, std::span<const int32_t> ids,
                               PressPrefill& hooks, const PrefillProgressFn& on_progress = {},
                               int64_t chunk_tokens = 0);

}  // namespace kvpress
