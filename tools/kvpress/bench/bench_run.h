// One measurement of `kvpress bench`: a context of n_depth tokens prefilled (and compressed by a press)
// or filled synthetically, then a timed prompt (pp) or decode (tg) test, repeated; with peak memory.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kvpress/engine.h"
#include "kvpress/kv_type.h"

namespace kvpress::cli::bench {

struct RowSpec {
  KvTypes kv_types;
  std::string press = "none";  // press specification compressing the depth context
  double ratio = 0.0;
  int64_t n_depth = 0;     // context before the test (llama-bench's -d)
  int64_t n_prompt = 0;    // pp test: tokens processed in one pass after the context
  int64_t n_gen = 0;       // tg test: tokens decoded one at a time after the context
  bool synthetic = false;  // the context's cache is filled with random entries (int((1 - r) * n_depth) per
                           // head, spread over positions 0..n_depth-1) instead of prefilled
  int repetitions = 5;
  bool one_context = false;  // prefill the context once and repeat only the test on it (the cache is
                             // truncated back between repetitions); else every repetition starts afresh
  uint64_t seed = 1;
  int64_t prefill_chunk = 0;  // > 0: the context prefilled in chunks, compressed after each
};

struct RowResult {
  std::vector<double> samples_ns;  // per repetition: the timed test (pp or tg)
  double context_s = 0;            // mean time to prefill (or fill) the context, press included
  double press_ms = 0;             // mean time inside the press
  int64_t kv_bytes = 0;            // the context's cache after compression
  int64_t kv_bytes_full = 0;       // the context's cache uncompressed
  int64_t kv_bytes_end = 0;        // after the test's own tokens
  int64_t peak_rss_bytes = 0;      // peak resident memory during the row (weights included)
  bool peak_rss_of_row = false;    // false: the process's peak so far (the kernel could not reset it)
};

// Runs the row through the public API: Session::from_tokens (or from_random_cache) for the context,
// ask_tokens for the test after it, Engine::generate for a test without context.
RowResult run_row(const Engine& engine, const RowSpec& spec);

}  // namespace kvpress::cli::bench
